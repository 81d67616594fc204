// Low-bit loading (LoadOptions::low_bit), the GGUF writer and bigdl::llm::convert.
// HF fixtures and goldens as in test_hf_golden.cpp (transformers logits, tests/llm/gen_arch_golden.py);
// stories260K (shared data) for a model whose matrices are (nearly) all quantizable.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <unistd.h>

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
using LoadOptions = llm_test::Opts;


using namespace llm_test;
using Tmp = TmpDirTest;
llm::LowBit lb(const std::string& name) { return llm::LowBit::parse(name, "convert"); }

using ConvertHf = Tmp;

// f32: the converted file reloads to exactly the HF-loaded model's logits.
TEST_F(ConvertHf, F32RoundTripIsExact) {
  for (const char* name : kHfFixtures) {
    const Golden g = read_golden(name);
    auto hf = load(kFixtures + name);
    const auto ref = run(*hf, g.prompt);
    const auto st = llm::convert(kFixtures + name, path("f32.gguf"), lb(""));
    EXPECT_GT(st.n_tensors, 0);
    EXPECT_EQ(st.bytes_out, fs::file_size(path("f32.gguf")));
    auto gg = load(path("f32.gguf"));
    EXPECT_EQ(gg->config().arch, hf->config().arch);
    EXPECT_EQ(gg->config().tied_output, hf->config().tied_output) << name;
    EXPECT_EQ(gg->n_ctx(), hf->n_ctx()) << name;
    const double d = max_diff(run(*gg, g.prompt), ref);
    EXPECT_LE(d, 1e-6) << name;
    std::printf("[ convert ] %-14s f32 round trip max abs diff %.3g\n", name, d);
    const io::GgufFile f = io::GgufFile::open(path("f32.gguf"));
    EXPECT_EQ(f.get_string("general.architecture"), hf->config().arch);
    EXPECT_EQ(f.get_string("general.name"), name);
    EXPECT_EQ(f.get_int("general.file_type"), 0);
    EXPECT_EQ(f.tensors()[0].offset % 32, 0u);
    for (const auto& t : f.tensors()) EXPECT_EQ(t.offset % 32, 0u) << t.name;
  }
}

// Measured bounds (max abs logit error vs transformers, in units of the golden std) for
// the 48-wide fixtures, where only ffn_down (64 columns) is quantizable; everything else
// stays f32 (rows not whole blocks of 32). Measured: see docs/llm.md.
struct QCase {
  const char* low_bit;
  double bound_x_std;
};
const QCase kQ[] = {{"sym_int8", 0.1}, {"sym_int4", 0.6}};

TEST_F(ConvertHf, LowBitLoadEqualsConvertAndIsBounded) {
  for (const auto& q : kQ)
    for (const char* name : kHfFixtures) {
      const Golden g = read_golden(name);
      LoadOptions lo;
      lo.low_bit = q.low_bit;
      auto at_load = load(kFixtures + name, lo);
      const auto a = run(*at_load, g.prompt);
      llm::convert(kFixtures + name, path("q.gguf"), lb(q.low_bit));
      auto reloaded = load(path("q.gguf"));
      EXPECT_EQ(max_diff(run(*reloaded, g.prompt), a), 0.0) << name << " " << q.low_bit;
      const double err = max_diff(a, g.logits) / g.std;
      const double agree = agreement(a, g.logits);
      EXPECT_LE(err, q.bound_x_std) << name << " " << q.low_bit;
      EXPECT_GT(err, 0.0) << name << " " << q.low_bit << ": nothing was quantized";
      std::printf("[ low-bit ] %-14s %-9s max abs err %.4f x std, argmax agreement %.0f%% (%zu positions)\n",
                  name, q.low_bit, err, 100 * agree, g.prompt.size());
      const io::GgufFile f = io::GgufFile::open(path("q.gguf"));
      const auto* down = f.tensor("blk.0.ffn_down.weight");
      ASSERT_NE(down, nullptr);
      EXPECT_EQ(down->type, std::string(q.low_bit) == "sym_int8" ? io::GgufType::Q8_0 : io::GgufType::Q4_0);
      EXPECT_EQ(f.tensor("blk.0.attn_q.weight")->type, io::GgufType::F32);  // 48 columns
    }
}

// stories260K (64 wide): every matrix but ffn_down (172 columns) is quantized. Reference:
// the f32 model's logits over a 64-token greedy sequence.
TEST_F(ConvertHf, Stories260KAllTypes) {
  if (!fs::exists(kStoriesF32)) GTEST_SKIP() << kStoriesF32 << " missing";
  auto f32 = load(kStoriesF32);
  std::vector<int32_t> seq = {1, 403, 407, 261, 378};
  const auto more = llm::generate_greedy(*f32, seq, 59);
  seq.insert(seq.end(), more.begin(), more.end());
  f32 = load(kStoriesF32);
  const auto ref = run(*f32, seq);
  const double sd = stddev(ref);
  // Measured max abs err x std (docs/llm.md), asserted with about 2x margin.
  const std::pair<const char*, double> cases[] = {
      {"sym_int8", 0.1}, {"sym_int5", 0.5}, {"asym_int5", 0.5}, {"sym_int4", 2.0}, {"asym_int4", 1.0}};
  for (const auto& [lbn, bound] : cases) {
    LoadOptions lo;
    lo.low_bit = lbn;
    auto q = load(kStoriesF32, lo);
    const auto a = run(*q, seq);
    const auto st = llm::convert(kStoriesF32, path("s.gguf"), llm::LowBit::parse(lbn));
    auto r = load(path("s.gguf"));
    EXPECT_EQ(max_diff(run(*r, seq), a), 0.0) << lbn;
    const double err = max_diff(a, ref) / sd;
    EXPECT_LE(err, bound) << lbn;
    std::printf("[ low-bit ] stories260K    %-9s max abs err %.4f x std, argmax agreement %.1f%% (%zu positions), "
                "%llu -> %llu bytes\n",
                lbn, err, 100 * agreement(a, ref), seq.size(), (unsigned long long)st.bytes_in,
                (unsigned long long)st.bytes_out);
    const io::GgufFile f = io::GgufFile::open(path("s.gguf"));
    EXPECT_TRUE(f.find("tokenizer.ggml.tokens") != nullptr);  // copied from the source
    EXPECT_EQ(f.get_string("bigdl.low_bit"), lbn);
  }
  // "fp32" from a quantized file dequantizes; "" keeps it as stored (no re-quantization).
  llm::convert(kStoriesF32, path("q8.gguf"), lb("sym_int8"));
  llm::convert(path("q8.gguf"), path("kept.gguf"), lb(""));
  EXPECT_EQ(fs::file_size(path("kept.gguf")), fs::file_size(path("q8.gguf")));
  llm::convert(path("q8.gguf"), path("deq.gguf"), lb("fp32"));
  EXPECT_EQ(io::GgufFile::open(path("deq.gguf")).tensor("blk.0.attn_q.weight")->type, io::GgufType::F32);
  auto q8 = load(path("q8.gguf"));
  auto deq = load(path("deq.gguf"));
  // Same weights; only q8's int8-activation gemv differs from the f32 one (measured 0.04 x std).
  EXPECT_LE(max_diff(run(*deq, seq), run(*q8, seq)), 0.1 * sd);
}

TEST(LowBit, UnknownName) {
  LoadOptions lo;
  lo.low_bit = "int3";
  try {
    load(kFixtures + "hf_llama", lo);
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_EQ(std::string(e.what()),
              "[load_model] unknown low-bit type 'int3' (known: sym_int4, asym_int4, sym_int5, asym_int5, sym_int8, "
              "nf4, nf3, fp4, fp8_e4m3, fp8_e5m2, fp16, bf16, q3_k, q4_k, q5_k, q8_k, fp32, q2_k, q3_k_s, q3_k_m, "
              "q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k, iq4_nl, iq4_xs, q4_0, q4_1, q5_0, q5_1, q8_0)");
  }
  EXPECT_THROW(lb("q4"), ValueError);
  // 16 single types (q2_k, q6_k, iq4_nl, iq4_xs name llama.cpp's file types), fp32, 16 file types.
  EXPECT_EQ(llm::LowBit::names().size(), 33u);
  EXPECT_EQ(lb("q4_k_m").kind(), llm::LowBit::Kind::mix);
  EXPECT_EQ(lb("q6_k").kind(), llm::LowBit::Kind::mix);
  EXPECT_EQ(lb("q4_k").kind(), llm::LowBit::Kind::quant);
  EXPECT_EQ(lb("q4_k_m").bits_per_weight(), 4.5);
}

using ConvertErrors = Tmp;
TEST_F(ConvertErrors, UnwritableOutputLeavesNothing) {
  const std::string out = path("no_such_dir/x.gguf");
  EXPECT_THROW(llm::convert(kFixtures + "hf_llama", out, lb("sym_int8")), IOError);
  EXPECT_FALSE(fs::exists(out));
  EXPECT_THROW(llm::convert(kFixtures + "hf_nope", path("y.gguf"), lb("")), Error);
  EXPECT_FALSE(fs::exists(path("y.gguf")));
}

// ---- GGUF writer ----

using GgufWriterTest = Tmp;
TEST_F(GgufWriterTest, RoundTripEveryValueType) {
  io::GgufWriter w;
  w.set("u8", io::gguf_u8(250));
  w.set("i8", io::gguf_i8(-7));
  w.set("u16", io::gguf_u16(65000));
  w.set("i16", io::gguf_i16(-30000));
  w.set("u32", io::gguf_u32(4000000000u));
  w.set("i32", io::gguf_i32(-2000000000));
  w.set("u64", io::gguf_u64(18000000000000000000ull));
  w.set("i64", io::gguf_i64(-9000000000000000000ll));
  w.set("f32", io::gguf_f32(0.1f));
  w.set("f64", io::gguf_f64(-2.5e300));
  w.set("bool", io::gguf_bool(true));
  w.set("str", io::gguf_string("héllo"));
  w.set("strs", io::gguf_string_array({"a", "", "bc"}));
  w.set("f32s", io::gguf_f32_array({1.5f, -2.0f}));
  w.set("i32s", io::gguf_i32_array({3, -4, 5}));
  w.set("bools", io::gguf_scalar_array(io::GgufValueType::BOOL, 2, {1, 0}));
  w.set("nested", io::gguf_array_array({io::gguf_i32_array({1}), io::gguf_string_array({"x", "y"})}));
  w.set("u8", io::gguf_u8(251));  // set twice: the last value, first position
  const std::vector<float> t1 = {1, 2, 3, 4, 5, 6};
  w.add_tensor("t1", {2, 3}, io::GgufType::F32, t1.data(), t1.size() * 4);
  std::vector<uint8_t> q(2 * 34, 7);
  w.add_tensor("t2", {2, 32}, io::GgufType::Q8_0, q);
  w.add_tensor("t3", {5}, io::GgufType::F32, [] {
    std::vector<uint8_t> b(20, 0);
    b[0] = 42;
    return b;
  });
  EXPECT_THROW(w.add_tensor("t1", {1}, io::GgufType::F32, t1.data(), 4), ValueError);
  EXPECT_THROW(w.add_tensor("bad", {2, 33}, io::GgufType::Q8_0, q.data(), q.size()), ValueError);
  EXPECT_THROW(w.add_tensor("bad", {2, 3}, io::GgufType::F32, t1.data(), 20), ValueError);
  w.write(path("rt.gguf"));
  EXPECT_EQ(fs::file_size(path("rt.gguf")), w.file_size());

  const io::GgufFile f = io::GgufFile::open(path("rt.gguf"));
  EXPECT_EQ(f.version(), 3u);
  ASSERT_EQ(f.metadata().size(), 17u);
  EXPECT_EQ(f.metadata()[0].first, "u8");
  EXPECT_EQ(f.get_int("u8"), 251);
  EXPECT_EQ(f.find("u8")->type, io::GgufValueType::U8);
  EXPECT_EQ(f.get_int("i8"), -7);
  EXPECT_EQ(f.get_int("u16"), 65000);
  EXPECT_EQ(f.get_int("i16"), -30000);
  EXPECT_EQ(f.get_int("u32"), 4000000000ll);
  EXPECT_EQ(f.get_int("i32"), -2000000000);
  EXPECT_EQ(f.find("u64")->as_uint(), 18000000000000000000ull);
  EXPECT_EQ(f.get_int("i64"), -9000000000000000000ll);
  EXPECT_EQ(f.get_float("f32"), double(0.1f));
  EXPECT_EQ(f.find("f32")->type, io::GgufValueType::F32);
  EXPECT_EQ(f.get_float("f64"), -2.5e300);
  EXPECT_TRUE(f.get_bool("bool"));
  EXPECT_EQ(f.get_string("str"), "héllo");
  EXPECT_EQ(f.get_string_array("strs"), (std::vector<std::string>{"a", "", "bc"}));
  EXPECT_EQ(f.get_float_array("f32s"), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(f.get_int_array("i32s"), (std::vector<int64_t>{3, -4, 5}));
  EXPECT_EQ(f.find("bools")->type_name(), "array[bool]");
  EXPECT_EQ(f.find("bools")->raw, (std::vector<uint8_t>{1, 0}));
  const auto* nested = f.find("nested");
  ASSERT_EQ(nested->arrays.size(), 2u);
  EXPECT_EQ(nested->arrays[0].as_int_array(), (std::vector<int64_t>{1}));
  EXPECT_EQ(nested->arrays[1].as_string_array(), (std::vector<std::string>{"x", "y"}));

  ASSERT_EQ(f.tensors().size(), 3u);
  const auto* a = f.tensor("t1");
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::vector<float>(reinterpret_cast<const float*>(a->data), reinterpret_cast<const float*>(a->data) + 6), t1);
  const auto* b = f.tensor("t2");
  EXPECT_EQ(b->type, io::GgufType::Q8_0);
  EXPECT_EQ(std::vector<uint8_t>(b->data, b->data + b->nbytes), q);
  EXPECT_EQ(f.tensor("t3")->data[0], 42);
  for (const auto& t : f.tensors()) EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % 32, 0u) << t.name;
}

TEST_F(GgufWriterTest, FailingWriteLeavesNoFile) {
  io::GgufWriter w;
  w.set("k", io::gguf_u32(1));
  w.add_tensor("big", {1024}, io::GgufType::F32, std::vector<uint8_t>(4096, 1));
  w.add_tensor("fails", {8}, io::GgufType::F32, []() -> std::vector<uint8_t> { throw IOError("[test] disk full"); });
  EXPECT_THROW(w.write(path("a.gguf")), IOError);
  EXPECT_FALSE(fs::exists(path("a.gguf")));
  // An existing file is left as it was.
  { std::ofstream(path("b.gguf")) << "old"; }
  EXPECT_THROW(w.write(path("b.gguf")), IOError);
  std::ifstream in(path("b.gguf"));
  std::string s;
  in >> s;
  EXPECT_EQ(s, "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_.path()), fs::directory_iterator{}), 1);  // no temp files left
  // A producer giving the wrong size fails the same way.
  io::GgufWriter w2;
  w2.add_tensor("short", {8}, io::GgufType::F32, [] { return std::vector<uint8_t>(4); });
  EXPECT_THROW(w2.write(path("c.gguf")), ValueError);
  EXPECT_FALSE(fs::exists(path("c.gguf")));
}

}  // namespace
