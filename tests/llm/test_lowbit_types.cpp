// The low-bit types beyond ggml's (nf4, nf3, fp4, fp8_e4m3, fp8_e5m2, fp16, bf16) at
// the model level: LoadOptions::low_bit on the tiny Hugging Face fixtures against the
// transformers logits (tests/llm/gen_arch_golden.py), on stories260K against its
// f32 file, bigdl's own GGUF files with these types (private type ids, see
// docs/quant.md), and GGUF files whose matrices are F16 / BF16 tensors as llama.cpp
// writes them (every 2-D tensor, rows of 172 included) against the F32 file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <unistd.h>

#include "bigdl/dtype.h"
#include "bigdl/error.h"
#include "bigdl/io/gguf.h"
#include "bigdl/io/gguf_writer.h"
#include "bigdl/llm/convert.h"
#include "bigdl/llm/model.h"
#include "llm/llm_test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace bigdl;
using llm_test::load;


// The weights' rounding is what is measured, so the KV cache is f32 (the f16 default
// alone moves the logits by ~1e-3 x std).
llm_test::Opts options(const std::string& low_bit = "") {
  llm_test::Opts o;
  o.low_bit = low_bit;
  o.kv_type = "f32";
  return o;
}

using namespace llm_test;
using LowBitTypes = TmpDirTest;

struct TypeCase {
  const char* low_bit;
  io::GgufType gguf;   // the type of a converted matrix
  double hf_bound;     // max abs logit error vs transformers, x the golden std
  double stories_bound;  // max abs logit error vs the f32 model, x its std
};
// Bounds: about twice the largest measured error (docs/quant.md, "Model level"; the HF
// figure is the worst of the four fixtures).
const TypeCase kTypes[] = {
    {"nf4", io::GgufType::BIGDL_NF4, 0.6, 1.4},            // measured 0.30, 0.67
    {"nf3", io::GgufType::BIGDL_NF3, 1.4, 3.0},            // 0.69, 1.41
    {"fp4", io::GgufType::BIGDL_FP4, 0.8, 1.5},            // 0.39, 0.71
    {"fp8_e4m3", io::GgufType::BIGDL_FP8_E4M3, 0.25, 0.35},  // 0.11, 0.17
    {"fp8_e5m2", io::GgufType::BIGDL_FP8_E5M2, 0.4, 0.6},    // 0.18, 0.27
    {"fp16", io::GgufType::F16, 1.5e-3, 3e-3},             // 6e-4, 1.3e-3
    {"bf16", io::GgufType::BF16, 1e-2, 2.5e-2},            // 4.4e-3, 1.1e-2
};

// HF fixtures (48 wide): only ffn_down (64 columns) is whole blocks of 32, so it alone
// takes the type; the model stays within the type's bound of transformers, and convert
// -> reload (our GGUF with the type's id) gives the same logits bit for bit.
TEST_F(LowBitTypes, HfFixturesWithinBoundOfTransformers) {
  for (const auto& c : kTypes)
    for (const char* name : kHfFixtures) {
      const Golden g = read_golden(name);
      auto m = load(kFixtures + name, options(c.low_bit));
      const auto a = run(*m, g.prompt);
      const double err = max_diff(a, g.logits) / g.std;
      EXPECT_LE(err, c.hf_bound) << name << " " << c.low_bit;
      std::printf("[ low-bit ] %-14s %-9s max abs err %.3g x std, argmax agreement %.0f%%\n", name, c.low_bit, err,
                  100 * agreement(a, g.logits));
      llm::convert(kFixtures + name, path("q.gguf"), llm::LowBit::parse(c.low_bit));
      const io::GgufFile f = io::GgufFile::open(path("q.gguf"));
      EXPECT_EQ(f.tensor("blk.0.ffn_down.weight")->type, c.gguf) << name << " " << c.low_bit;
      EXPECT_EQ(f.tensor("blk.0.attn_q.weight")->type, io::GgufType::F32);  // 48 columns
      auto r = load(path("q.gguf"), options());
      EXPECT_EQ(max_diff(run(*r, g.prompt), a), 0.0) << name << " " << c.low_bit;
    }
}

// bigdl-llm's "fp8" is fp8_e5m2.
TEST(LowBitNames, Fp8IsE5m2AndNamesAreListed) {
  const Golden g = read_golden("hf_llama");
  auto ma = load(kFixtures + "hf_llama", options("fp8"));
  auto mb = load(kFixtures + "hf_llama", options("fp8_e5m2"));
  EXPECT_EQ(max_diff(run(*ma, g.prompt), run(*mb, g.prompt)), 0.0);
  const auto names = llm::LowBit::names();
  for (const char* n : {"nf4", "nf3", "fp4", "fp8_e4m3", "fp8_e5m2", "fp16", "bf16", "fp32"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  try {
    load(kFixtures + "hf_llama", options("nf2"));
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("[load_model] unknown low-bit type 'nf2' (known: sym_int4"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("nf4, nf3, fp4, fp8_e4m3, fp8_e5m2, fp16, bf16, q3_k, q4_k, q5_k, q8_k, fp32, "),
              std::string::npos)
        << e.what();
  }
}

// The f32 stories260K reference the types are measured against: BOS + "Once upon a time"
// and the model's own 59-token greedy continuation, and the f32 model's logits along it
// (a fresh model, so the cache holds only this sequence). Computed once per process.
struct StoriesReference {
  std::vector<int32_t> seq;
  std::vector<std::vector<float>> logits;
  double std = 0;
};
const StoriesReference& stories_reference() {
  static const StoriesReference r = [] {
    StoriesReference s;
    s.seq = {1, 403, 407, 261, 378};
    const auto more = llm::generate_greedy(*load(kStoriesF32, options()), s.seq, 59);
    s.seq.insert(s.seq.end(), more.begin(), more.end());
    s.logits = run(*load(kStoriesF32, options()), s.seq);
    s.std = stddev(s.logits);
    return s;
  }();
  return r;
}

// stories260K (64 wide): every matrix but ffn_down (172 columns) takes the type.
// Reference: the f32 model over a 64-token greedy sequence.
TEST_F(LowBitTypes, Stories260KAllNewTypes) {
  if (!fs::exists(kStoriesF32)) GTEST_SKIP() << kStoriesF32 << " missing";
  const StoriesReference& sr = stories_reference();
  const auto& seq = sr.seq;
  const auto& ref = sr.logits;
  const double sd = sr.std;
  for (const auto& c : kTypes) {
    auto q = load(kStoriesF32, options(c.low_bit));
    const auto a = run(*q, seq);
    const double err = max_diff(a, ref) / sd;
    EXPECT_LE(err, c.stories_bound) << c.low_bit;
    EXPECT_GT(err, 0.0) << c.low_bit << ": nothing was converted";
    // Batched prefill reads the same weights (the few-token and the tiled paths): the
    // last logits agree with token-by-token decoding up to activation rounding.
    for (int64_t n : {8, 64}) {
      auto b = load(kStoriesF32, options(c.low_bit));
      const float* l = b->forward_batch(seq.data(), n, 0);
      double d = 0;
      for (int64_t v = 0; v < b->config().n_vocab; ++v) d = std::max(d, std::fabs(double(l[v]) - a[n - 1][v]));
      EXPECT_LE(d / sd, 0.1) << c.low_bit << " forward_batch of " << n;
      std::printf("[ low-bit ] stories260K    %-9s forward_batch(%2lld) vs forward: max abs diff %.3g x std\n",
                  c.low_bit, static_cast<long long>(n), d / sd);
    }
    const auto st = llm::convert(kStoriesF32, path("s.gguf"), llm::LowBit::parse(c.low_bit));
    const io::GgufFile f = io::GgufFile::open(path("s.gguf"));
    EXPECT_EQ(f.tensor("blk.0.attn_q.weight")->type, c.gguf) << c.low_bit;
    EXPECT_EQ(f.tensor("blk.0.ffn_down.weight")->type, io::GgufType::F32) << c.low_bit;  // 172 columns
    auto r = load(path("s.gguf"), options());
    EXPECT_EQ(max_diff(run(*r, seq), a), 0.0) << c.low_bit;
    std::printf("[ low-bit ] stories260K    %-9s max abs err %.3g x std, argmax agreement %.1f%% (%zu positions), "
                "%llu bytes\n",
                c.low_bit, err, 100 * agreement(a, ref), seq.size(), (unsigned long long)st.bytes_out);
  }
}

// stories260K's f32 file rewritten as llama.cpp's convert does for --outtype f16 / bf16:
// every 2-D tensor (token_embd and ffn_down, whose rows of 172 are not whole blocks of
// 32, included) stored as F16 / BF16, norms F32.
void write_16bit_copy(const std::string& src, const std::string& dst, io::GgufType type) {
  const io::GgufFile f = io::GgufFile::open(src);
  io::GgufWriter w;
  for (const auto& [key, value] : f.metadata()) w.set(key, value);
  w.set("general.file_type", io::gguf_u32(type == io::GgufType::F16 ? 1 : 32));  // MOSTLY_F16 / MOSTLY_BF16
  for (const auto& t : f.tensors()) {
    ASSERT_EQ(t.type, io::GgufType::F32) << t.name;
    if (t.shape.size() != 2) {
      w.add_tensor(t.name, t.shape, t.type, t.data, t.nbytes);
      continue;
    }
    const int64_t n = t.numel();
    std::vector<uint8_t> bytes(static_cast<size_t>(2 * n));
    const auto* x = reinterpret_cast<const float*>(t.data);
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t h = type == io::GgufType::F16 ? float_to_half(x[i]) : float_to_bf16(x[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
    w.add_tensor(t.name, t.shape, type, std::move(bytes));
  }
  w.write(dst);
}

TEST_F(LowBitTypes, GgufF16AndBf16FilesMatchF32File) {
  if (!fs::exists(kStoriesF32)) GTEST_SKIP() << kStoriesF32 << " missing";
  const StoriesReference& sr = stories_reference();
  const auto& seq = sr.seq;
  const auto& ref = sr.logits;
  const double sd = sr.std;
  // Measured 1.5e-3 (F16) and 1.2e-2 (BF16) x std: the weights' own rounding (2^-11,
  // 2^-8 relative); asserted with about 2x margin.
  const std::pair<io::GgufType, double> cases[] = {{io::GgufType::F16, 3e-3}, {io::GgufType::BF16, 3e-2}};
  for (const auto& [type, bound] : cases) {
    const char* tname = io::gguf_type_traits(type)->name;
    write_16bit_copy(kStoriesF32, path("h.gguf"), type);
    auto m = load(path("h.gguf"), options());
    const auto a = run(*m, seq);
    const double err = max_diff(a, ref) / sd;
    EXPECT_LE(err, bound) << tname;
    EXPECT_GT(err, 0.0) << tname;
    EXPECT_EQ(agreement(a, ref), 1.0) << tname;
    std::printf("[ gguf 16-bit ] stories260K %-4s max abs err %.3g x std vs the F32 file, argmax agreement %.0f%%\n",
                tname, err, 100 * agreement(a, ref));
    // Kept as stored (""): attn_q and token_embd (rows of 64) stay 16-bit, ffn_down (rows
    // of 172, not whole blocks) was widened to f32 at load.
    llm::convert(path("h.gguf"), path("kept.gguf"), llm::LowBit{});
    const io::GgufFile k = io::GgufFile::open(path("kept.gguf"));
    EXPECT_EQ(k.tensor("blk.0.attn_q.weight")->type, type) << tname;
    EXPECT_EQ(k.tensor("token_embd.weight")->type, type) << tname;
    EXPECT_EQ(k.tensor("blk.0.ffn_down.weight")->type, io::GgufType::F32) << tname;
    auto kept = load(path("kept.gguf"), options());
    EXPECT_EQ(max_diff(run(*kept, seq), a), 0.0) << tname;
    // A quant type from a 16-bit file: dequantized exactly, then quantized.
    auto q8 = load(path("h.gguf"), options("sym_int8"));
    EXPECT_LE(max_diff(run(*q8, seq), ref) / sd, 0.2) << tname;
  }
}

// An F16 matrix whose shape does not match is still a ShapeError naming the tensor, and
// an unknown type id names the supported ones.
TEST_F(LowBitTypes, UnsupportedTypeNamesSupportedOnes) {
  if (!fs::exists(kStoriesF32)) GTEST_SKIP() << kStoriesF32 << " missing";
  const io::GgufFile f = io::GgufFile::open(kStoriesF32);
  io::GgufWriter w;
  for (const auto& [key, value] : f.metadata()) w.set(key, value);
  for (const auto& t : f.tensors()) {
    if (t.name == "blk.0.attn_q.weight") {  // as MXFP4: a type with no kernel (17 bytes / 32)
      std::vector<uint8_t> bytes(static_cast<size_t>(t.numel() / 32 * 17));
      w.add_tensor(t.name, t.shape, io::GgufType::MXFP4, std::move(bytes));
    } else {
      w.add_tensor(t.name, t.shape, t.type, t.data, t.nbytes);
    }
  }
  w.write(path("bad.gguf"));
  try {
    load(path("bad.gguf"), options());
    FAIL() << "expected DTypeError";
  } catch (const DTypeError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'blk.0.attn_q.weight' has type mxfp4; supported: f32, q4_0, q4_1, "
                                         "q5_0, q5_1, q8_0, nf4, nf3, fp4, fp8_e4m3, fp8_e5m2, f16, bf16, q2_K, q3_K, "
                                         "q4_K, q5_K, q6_K, q8_K, iq4_nl, iq4_xs"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
