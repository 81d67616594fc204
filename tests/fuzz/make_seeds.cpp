// Writes the fuzz seed corpora: small valid files, most cut from real ones in shared/data,
// so the fuzzers start from inputs that reach deep into the parsers.
//   fuzz_make_seeds <shared data dir> <tests/io/fixtures dir> <out dir>
// Out: <out>/gguf, <out>/gguf_vocab, <out>/safetensors, <out>/tokenizer_json, <out>/onnx
// (the small ONNX fixtures of tests/nano/fixtures/onnx, found beside tests/io/fixtures).
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bigdl/io/gguf.h"
#include "bigdl/io/gguf_writer.h"
#include "bigdl/io/safetensors.h"

namespace fs = std::filesystem;
using namespace bigdl::io;

namespace {

std::vector<uint8_t> read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void write_file(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

// Copies a source file's metadata (all keys, or those `keep` accepts) into w.
template <typename Keep>
void copy_metadata(const GgufFile& src, GgufWriter& w, Keep keep) {
  for (const auto& [key, value] : src.metadata())
    if (keep(key)) w.set(key, value);
}

void add_from(GgufWriter& w, const GgufFile& src, const char* name) {
  const GgufTensorInfo* t = src.tensor(name);
  if (t == nullptr) throw std::runtime_error(std::string("no tensor ") + name);
  w.add_tensor(t->name, t->shape, t->type, std::vector<uint8_t>(t->data, t->data + t->nbytes));
}

// The first n elements of a string array value.
GgufValue first_strings(const GgufValue& v, size_t n) {
  std::vector<std::string> s(v.strings.begin(), v.strings.begin() + std::min(n, v.strings.size()));
  return gguf_string_array(std::move(s));
}

void gguf_seeds(const fs::path& data, const fs::path& out, const fs::path& vocab_out) {
  const fs::path stories = data / "llm/stories260K";
  const GgufFile f32 = GgufFile::open((stories / "stories260K-f32.gguf").string());
  const GgufFile q8 = GgufFile::open((stories / "stories260K-q8_0.gguf").string());
  const GgufFile q4 = GgufFile::open((stories / "stories260K-q4_0.gguf").string());

  // 1. stories260K's metadata (SentencePiece vocab included), no tensors: ~10 KB.
  {
    GgufWriter w;
    copy_metadata(f32, w, [](const std::string&) { return true; });
    w.write((out / "stories_metadata.gguf").string());
    w.write((vocab_out / "stories_vocab.gguf").string());
  }
  // 2. The llama hyper-parameters and a few small tensors of each stored type.
  {
    GgufWriter w;
    copy_metadata(f32, w, [](const std::string& k) { return k.rfind("tokenizer.", 0) != 0; });
    w.set("general.alignment", gguf_u32(32));
    add_from(w, f32, "output_norm.weight");
    add_from(w, q8, "blk.0.attn_k.weight");
    add_from(w, q4, "blk.0.attn_v.weight");
    add_from(w, f32, "blk.0.attn_norm.weight");
    w.write((out / "stories_tensors.gguf").string());
  }
  // 3. One key of every value type (nested arrays too) and tensors of other types.
  {
    GgufWriter w;
    w.set("general.architecture", gguf_string("llama"));
    w.set("t.u8", gguf_u8(200));
    w.set("t.i8", gguf_i8(-5));
    w.set("t.u16", gguf_u16(60000));
    w.set("t.i16", gguf_i16(-300));
    w.set("t.u32", gguf_u32(4000000000u));
    w.set("t.i32", gguf_i32(-70000));
    w.set("t.u64", gguf_u64(~0ull));
    w.set("t.i64", gguf_i64(-1));
    w.set("t.f32", gguf_f32(0.5f));
    w.set("t.f64", gguf_f64(-2.25));
    w.set("t.bool", gguf_bool(true));
    w.set("t.strings", gguf_string_array({"a", "", "\xe2\x96\x81the"}));
    w.set("t.f32s", gguf_f32_array({1.0f, -0.0f, 3.5f}));
    w.set("t.i32s", gguf_i32_array({1, -2, 3}));
    w.set("t.bools", gguf_scalar_array(GgufValueType::BOOL, 3, {0, 1, 1}));
    w.set("t.nested", gguf_array_array({gguf_i32_array({1, 2}), gguf_string_array({"x"})}));
    const std::vector<uint8_t> zeros(1024, 0);
    w.add_tensor("f16", {2, 8}, GgufType::F16, zeros.data(), 32);
    w.add_tensor("bf16", {8}, GgufType::BF16, zeros.data(), 16);
    w.add_tensor("i8", {3, 1, 2, 4}, GgufType::I8, zeros.data(), 24);
    w.add_tensor("q4_K", {256}, GgufType::Q4_K, zeros.data(), 144);
    w.add_tensor("q8_0", {2, 32}, GgufType::Q8_0, zeros.data(), 68);
    w.write((out / "all_types.gguf").string());
  }
  // 4. One small tensor of each K-quant / i-quant type: pseudo-random bytes (the fuzzer
  // mutates scales and levels from there), 1 or 2 super-blocks, rows that are and (for the
  // fuzzer to cut) are not whole blocks away from the limit.
  {
    GgufWriter w;
    w.set("general.architecture", gguf_string("llama"));
    uint32_t state = 12345;
    const auto bytes = [&state](size_t n) {
      std::vector<uint8_t> b(n);
      for (auto& v : b) v = static_cast<uint8_t>((state = state * 1664525u + 1013904223u) >> 24);
      return b;
    };
    w.add_tensor("q2_K", {256}, GgufType::Q2_K, bytes(84));
    w.add_tensor("q3_K", {256}, GgufType::Q3_K, bytes(110));
    w.add_tensor("q4_K", {2, 256}, GgufType::Q4_K, bytes(288));
    w.add_tensor("q5_K", {256}, GgufType::Q5_K, bytes(176));
    w.add_tensor("q6_K", {256}, GgufType::Q6_K, bytes(210));
    w.add_tensor("q8_K", {256}, GgufType::Q8_K, bytes(292));
    w.add_tensor("iq4_nl", {2, 32}, GgufType::IQ4_NL, bytes(36));
    w.add_tensor("iq4_xs", {512}, GgufType::IQ4_XS, bytes(272));
    w.write((out / "kquants.gguf").string());
  }
  // 5. A byte-level BPE vocab: the first 300 tokens and 200 merges of GPT-2's.
  {
    const GgufFile gpt2 = GgufFile::open((data / "tokenizers/ggml-vocab/ggml-vocab-gpt-2.gguf").string());
    GgufWriter w;
    w.set("general.architecture", gguf_string("gpt2"));
    w.set("tokenizer.ggml.model", gguf_string("gpt2"));
    w.set("tokenizer.ggml.pre", gguf_string("qwen2"));
    w.set("tokenizer.ggml.tokens", first_strings(*gpt2.find("tokenizer.ggml.tokens"), 300));
    std::vector<int32_t> types(300, 1);
    types[299] = 3;  // a control token
    w.set("tokenizer.ggml.token_type", gguf_i32_array(types));
    w.set("tokenizer.ggml.merges", first_strings(*gpt2.find("tokenizer.ggml.merges"), 200));
    w.set("tokenizer.ggml.bos_token_id", gguf_u32(299));
    w.set("tokenizer.ggml.eos_token_id", gguf_u32(299));
    w.set("tokenizer.chat_template", gguf_string("{{ '<|im_start|>' }}"));
    w.write((vocab_out / "gpt2_cut.gguf").string());
  }
}

void safetensors_seeds(const fs::path& fixtures, const fs::path& out) {
  for (const char* name : {"st_all_dtypes.safetensors", "st_small.safetensors"})
    fs::copy_file(fixtures / name, out / name, fs::copy_options::overwrite_existing);
  std::vector<std::pair<std::string, RawTensor>> t(3);
  t[0].first = "scalar";
  t[0].second = {"F32", {}, std::vector<uint8_t>(4, 1)};
  t[1].first = "empty";
  t[1].second = {"BF16", {0, 3}, {}};
  t[2].first = "model.layers.0.self_attn.q_proj.weight";
  t[2].second = {"F16", {2, 3}, std::vector<uint8_t>(12, 0x3c)};
  const std::vector<uint8_t> b = serialize_safetensors(t, {{"format", "pt"}});
  write_file(out / "meta_scalar_empty.safetensors", std::string(b.begin(), b.end()));
}

// A cut of a real tokenizer.json: vocab ids below 400 and the first 150 merges, its
// pre-tokenizer, normalizer and decoder; one special added token.
void tokenizer_json_seed(const fs::path& src, const fs::path& dst) {
  const auto bytes = read_file(src);
  const nlohmann::json full = nlohmann::json::parse(bytes.begin(), bytes.end());
  nlohmann::json j = full;
  nlohmann::json vocab = nlohmann::json::object();
  for (const auto& [text, id] : full["model"]["vocab"].items())
    if (id.get<int64_t>() < 400) vocab[text] = id;
  j["model"]["vocab"] = vocab;
  nlohmann::json merges = nlohmann::json::array();
  for (size_t i = 0; i < 150 && i < full["model"]["merges"].size(); ++i) merges.push_back(full["model"]["merges"][i]);
  j["model"]["merges"] = merges;
  j["added_tokens"] = nlohmann::json::array(
      {{{"id", 400}, {"content", "<|endoftext|>"}, {"special", true}},
       {{"id", 401}, {"content", "<tool>"}, {"special", false}}});
  write_file(dst, j.dump(1));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <shared data dir> <tests/io/fixtures dir> <out dir>\n", argv[0]);
    return 2;
  }
  try {
    const fs::path data = argv[1], fixtures = argv[2], out = argv[3];
    for (const char* d : {"gguf", "gguf_vocab", "safetensors", "tokenizer_json", "onnx"})
      fs::create_directories(out / d);
    gguf_seeds(data, out / "gguf", out / "gguf_vocab");
    safetensors_seeds(fixtures, out / "safetensors");
    for (const char* name : {"mlp.onnx", "cnn.onnx", "unsupported.onnx"})
      fs::copy_file(fixtures / "../../nano/fixtures/onnx" / name, out / "onnx" / name, fs::copy_options::overwrite_existing);
    tokenizer_json_seed(data / "tokenizers/gpt2/tokenizer.json", out / "tokenizer_json/gpt2_cut.json");
    tokenizer_json_seed(data / "tokenizers/qwen3/tokenizer.json", out / "tokenizer_json/qwen3_cut.json");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_make_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
