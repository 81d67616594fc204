#include "bigdl/io/gguf.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "io_test_util.h"

namespace {

using bigdl::io::GgufFile;
using bigdl::io::GgufTensorInfo;
using bigdl::io::GgufType;
using bigdl::io::GgufValue;
using bigdl::io::GgufValueType;
using VT = GgufValueType;

std::string shared(const std::string& rel) { return std::string(BIGDL_SHARED_DATA) + "/" + rel; }
const std::string kStories = "llm/stories260K/stories260K";

// A tiny GGUF writer: metadata and tensor infos are appended as raw bytes, so tests can
// also write what a correct writer never would.
struct GgufWriter {
  uint32_t version = 3;
  uint64_t alignment = 32;
  uint64_t n_kv = 0, n_tensors = 0;
  std::vector<uint8_t> kv, infos, data;

  static void str(std::vector<uint8_t>& b, const std::string& s) {
    io_test::put64(b, s.size());
    b.insert(b.end(), s.begin(), s.end());
  }
  // Starts a kv entry and returns the buffer to append its value to.
  std::vector<uint8_t>& key(const std::string& k, VT type) {
    ++n_kv;
    str(kv, k);
    io_test::put32(kv, uint32_t(type));
    return kv;
  }
  void u32(const std::string& k, uint32_t v) { io_test::put32(key(k, VT::U32), v); }
  void string(const std::string& k, const std::string& v) { str(key(k, VT::STRING), v); }
  void f32(const std::string& k, float v) {
    uint32_t b;
    std::memcpy(&b, &v, 4);
    io_test::put32(key(k, VT::F32), b);
  }
  void strings(const std::string& k, const std::vector<std::string>& v) {
    auto& b = key(k, VT::ARRAY);
    io_test::put32(b, uint32_t(VT::STRING));
    io_test::put64(b, v.size());
    for (const auto& s : v) str(b, s);
  }
  // A tensor with ggml dims ne; its bytes (nbytes of a counter pattern) are appended to
  // the data section at the next aligned offset unless `offset` says otherwise.
  void tensor(const std::string& name, std::vector<uint64_t> ne, GgufType type, uint64_t nbytes,
              int64_t offset = -1) {
    ++n_tensors;
    str(infos, name);
    io_test::put32(infos, uint32_t(ne.size()));
    for (uint64_t d : ne) io_test::put64(infos, d);
    io_test::put32(infos, uint32_t(type));
    if (offset < 0) {
      data.resize((data.size() + alignment - 1) / alignment * alignment, 0);
      offset = int64_t(data.size());
      for (uint64_t i = 0; i < nbytes; ++i) data.push_back(uint8_t(i * 7 + n_tensors));
    }
    io_test::put64(infos, uint64_t(offset));
  }
  std::vector<uint8_t> build() const {
    std::vector<uint8_t> out = {'G', 'G', 'U', 'F'};
    io_test::put32(out, version);
    io_test::put64(out, n_tensors);
    io_test::put64(out, n_kv);
    out.insert(out.end(), kv.begin(), kv.end());
    out.insert(out.end(), infos.begin(), infos.end());
    if (n_tensors) out.resize((out.size() + alignment - 1) / alignment * alignment, 0);
    out.insert(out.end(), data.begin(), data.end());
    return out;
  }
};

// A small valid file with every value type, a nested array and three tensors.
GgufWriter sample_writer() {
  GgufWriter w;
  w.string("general.architecture", "llama");
  w.u32("llama.block_count", 2);
  w.f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  io_test::put64(w.key("big", VT::U64), 1ull << 40);
  io_test::put64(w.key("neg", VT::I64), uint64_t(-7));
  w.key("i8", VT::I8).push_back(0xFE);  // -2
  w.key("flag", VT::BOOL).push_back(1);
  {
    auto& b = w.key("f64", VT::F64);
    double d = 2.5;
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    io_test::put64(b, bits);
  }
  w.strings("tokenizer.ggml.tokens", {"<unk>", "a", ""});
  {
    auto& b = w.key("tokenizer.ggml.scores", VT::ARRAY);
    io_test::put32(b, uint32_t(VT::F32));
    io_test::put64(b, 2);
    io_test::put32(b, 0x3F800000);  // 1.0
    io_test::put32(b, 0xC0000000);  // -2.0
  }
  {
    auto& b = w.key("ids", VT::ARRAY);
    io_test::put32(b, uint32_t(VT::I16));
    io_test::put64(b, 3);
    for (uint32_t v : {1u, 0xFFFFu, 300u}) io_test::put16(b, v);
  }
  {  // [[1, 2], []] as u8 arrays
    auto& b = w.key("nested", VT::ARRAY);
    io_test::put32(b, uint32_t(VT::ARRAY));
    io_test::put64(b, 2);
    io_test::put32(b, uint32_t(VT::U8));
    io_test::put64(b, 2);
    b.push_back(1);
    b.push_back(2);
    io_test::put32(b, uint32_t(VT::U8));
    io_test::put64(b, 0);
  }
  w.tensor("emb", {8, 3}, GgufType::F32, 8 * 3 * 4);
  w.tensor("q", {64, 2}, GgufType::Q8_0, 2 * 2 * 34);
  w.tensor("h", {5}, GgufType::F16, 10);
  return w;
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    GgufFile::parse(bytes.data(), bytes.size(), "m.gguf");
  } catch (const bigdl::FormatError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<not a FormatError> ") + e.what();
  }
  return "<no error>";
}

#define EXPECT_GGUF_ERROR(bytes, fragment)                                   \
  do {                                                                       \
    const std::string msg_ = parse_error(bytes);                             \
    EXPECT_NE(msg_.find("[gguf] m.gguf: "), std::string::npos) << msg_;      \
    EXPECT_NE(msg_.find(fragment), std::string::npos) << msg_;               \
  } while (0)

TEST(GgufTypes, TableHasGgmlBlockSizes) {
  struct Row { GgufType t; int64_t block, bytes; };
  const Row rows[] = {
      {GgufType::F32, 1, 4},     {GgufType::F16, 1, 2},     {GgufType::BF16, 1, 2},
      {GgufType::Q4_0, 32, 18},  {GgufType::Q4_1, 32, 20},  {GgufType::Q5_0, 32, 22},
      {GgufType::Q5_1, 32, 24},  {GgufType::Q8_0, 32, 34},  {GgufType::Q8_1, 32, 36},
      {GgufType::Q2_K, 256, 84}, {GgufType::Q3_K, 256, 110}, {GgufType::Q4_K, 256, 144},
      {GgufType::Q5_K, 256, 176}, {GgufType::Q6_K, 256, 210}, {GgufType::Q8_K, 256, 292},
      {GgufType::IQ2_XXS, 256, 66}, {GgufType::IQ2_XS, 256, 74}, {GgufType::IQ3_XXS, 256, 98},
      {GgufType::IQ1_S, 256, 50}, {GgufType::IQ4_NL, 32, 18}, {GgufType::IQ3_S, 256, 110},
      {GgufType::IQ2_S, 256, 82}, {GgufType::IQ4_XS, 256, 136}, {GgufType::IQ1_M, 256, 56},
      {GgufType::TQ1_0, 256, 54}, {GgufType::TQ2_0, 256, 66}, {GgufType::MXFP4, 32, 17},
      {GgufType::I8, 1, 1}, {GgufType::I16, 1, 2}, {GgufType::I32, 1, 4},
      {GgufType::I64, 1, 8}, {GgufType::F64, 1, 8},
  };
  for (const Row& r : rows) {
    const auto* tt = bigdl::io::gguf_type_traits(r.t);
    ASSERT_NE(tt, nullptr) << uint32_t(r.t);
    EXPECT_EQ(tt->block_size, r.block) << tt->name;
    EXPECT_EQ(tt->block_bytes, r.bytes) << tt->name;
  }
  for (uint32_t removed : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 40u, 1000u})
    EXPECT_EQ(bigdl::io::gguf_type_traits(GgufType(removed)), nullptr) << removed;
}

TEST(GgufStories, F32MetadataAndTensors) {
  const GgufFile f = GgufFile::open(shared(kStories + "-f32.gguf"));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  EXPECT_EQ(f.metadata().size(), 19u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_int("llama.embedding_length"), 64);
  EXPECT_EQ(f.get_int("llama.block_count"), 5);
  EXPECT_EQ(f.get_int("llama.context_length"), 128);
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");
  const auto& tokens = f.get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 512u);
  EXPECT_EQ(f.get_float_array("tokenizer.ggml.scores").size(), 512u);
  EXPECT_EQ(f.get_int_array("tokenizer.ggml.token_type").size(), 512u);
  EXPECT_EQ(f.get_int("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(f.get_int("tokenizer.ggml.eos_token_id"), 2);
  EXPECT_GT(f.get_float("llama.attention.layer_norm_rms_epsilon"), 0.0);
  EXPECT_EQ(f.find("no.such.key"), nullptr);

  ASSERT_EQ(f.tensors().size(), 48u);
  const GgufTensorInfo* emb = f.tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(emb->type, GgufType::F32);
  EXPECT_EQ(emb->nbytes, 512u * 64 * 4);
  EXPECT_EQ(emb->numel(), 512 * 64);
  EXPECT_EQ(f.tensor("nope"), nullptr);
  for (const GgufTensorInfo& t : f.tensors()) {
    EXPECT_EQ(t.offset % f.alignment(), 0u) << t.name;
    EXPECT_EQ(f.tensor(t.name), &t);
  }
}

// The GGUF was converted from llama2.c's stories260K.bin: 7 int32 header fields, then
// the fp32 token embedding table [512, 64] row-major, the same bytes.
TEST(GgufStories, TokenEmbeddingMatchesLlama2c) {
  const GgufFile f = GgufFile::open(shared(kStories + "-f32.gguf"));
  const auto bin = io_test::read_bytes(shared(kStories + ".bin"));
  ASSERT_GE(bin.size(), 28u + 512 * 64 * 4);
  const GgufTensorInfo* emb = f.tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  float first[2];
  std::memcpy(first, emb->data, sizeof first);
  EXPECT_FLOAT_EQ(first[0], -0.29474878f);
  EXPECT_FLOAT_EQ(first[1], 0.5618956f);
  EXPECT_EQ(std::memcmp(emb->data, bin.data() + 28, emb->nbytes), 0);
}

TEST(GgufStories, QuantizedFiles) {
  const GgufFile q8 = GgufFile::open(shared(kStories + "-q8_0.gguf"));
  const GgufFile q4 = GgufFile::open(shared(kStories + "-q4_0.gguf"));
  for (const GgufFile* f : {&q8, &q4}) {
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->tensors().size(), 48u);
    const GgufTensorInfo* down = f->tensor("blk.0.ffn_down.weight");
    ASSERT_NE(down, nullptr);
    EXPECT_EQ(down->type, GgufType::F32);  // rows of 172 are not whole blocks
    EXPECT_EQ(down->shape, (std::vector<int64_t>{64, 172}));
    EXPECT_EQ(down->nbytes, 64u * 172 * 4);
  }
  const GgufTensorInfo* a8 = q8.tensor("blk.0.attn_q.weight");
  ASSERT_NE(a8, nullptr);
  EXPECT_EQ(a8->type, GgufType::Q8_0);
  EXPECT_EQ(a8->shape, (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(a8->nbytes, 64u * 64 / 32 * 34);
  const GgufTensorInfo* a4 = q4.tensor("blk.0.attn_q.weight");
  ASSERT_NE(a4, nullptr);
  EXPECT_EQ(a4->type, GgufType::Q4_0);
  EXPECT_EQ(a4->nbytes, 64u * 64 / 32 * 18);
}

TEST(GgufVocab, AllVocabOnlyFilesParse) {
  const std::string dir = shared("tokenizers/ggml-vocab");
  DIR* d = ::opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".gguf") == 0) names.push_back(n);
  }
  ::closedir(d);
  ASSERT_GE(names.size(), 5u);
  for (const std::string& n : names) {
    SCOPED_TRACE(n);
    const GgufFile f = GgufFile::open(dir + "/" + n);
    EXPECT_TRUE(f.tensors().empty());
    EXPECT_GT(f.get_string_array("tokenizer.ggml.tokens").size(), 0u);
  }
  const GgufFile gpt2 = GgufFile::open(dir + "/ggml-vocab-gpt-2.gguf");
  EXPECT_EQ(gpt2.get_string_array("tokenizer.ggml.tokens").size(), 50257u);
  EXPECT_EQ(gpt2.get_string_array("tokenizer.ggml.merges").size(), 50000u);
  EXPECT_EQ(gpt2.get_string("tokenizer.ggml.model"), "gpt2");
}

TEST(GgufParse, SyntheticFileReadsBack) {
  const auto bytes = sample_writer().build();
  const GgufFile f = GgufFile::parse(bytes.data(), bytes.size(), "m.gguf");
  EXPECT_EQ(f.version(), 3u);
  ASSERT_EQ(f.metadata().size(), 12u);
  EXPECT_EQ(f.metadata()[0].first, "general.architecture");  // file order
  EXPECT_EQ(f.get_int("llama.block_count"), 2);
  EXPECT_FLOAT_EQ(float(f.get_float("llama.attention.layer_norm_rms_epsilon")), 1e-5f);
  EXPECT_EQ(f.get_int("big"), int64_t(1) << 40);
  EXPECT_EQ(f.get_int("neg"), -7);
  EXPECT_EQ(f.get_int("i8"), -2);
  EXPECT_TRUE(f.get_bool("flag"));
  EXPECT_EQ(f.get_float("f64"), 2.5);
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens"),
            (std::vector<std::string>{"<unk>", "a", ""}));
  EXPECT_EQ(f.get_float_array("tokenizer.ggml.scores"), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(f.get_int_array("ids"), (std::vector<int64_t>{1, -1, 300}));
  const GgufValue* nested = f.find("nested");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->type_name(), "array[array]");
  ASSERT_EQ(nested->arrays.size(), 2u);
  EXPECT_EQ(nested->arrays[0].as_int_array(), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(nested->arrays[1].as_int_array().empty());

  ASSERT_EQ(f.tensors().size(), 3u);
  const GgufTensorInfo& emb = f.tensors()[0];
  EXPECT_EQ(emb.name, "emb");
  EXPECT_EQ(emb.shape, (std::vector<int64_t>{3, 8}));
  EXPECT_EQ(emb.nbytes, 96u);
  EXPECT_EQ(emb.data, bytes.data() + f.data_offset());
  EXPECT_EQ(f.tensors()[1].offset, 96u);
  EXPECT_EQ(f.tensors()[1].nbytes, 136u);
  EXPECT_EQ(f.tensors()[1].data[0], uint8_t(2));  // the writer's pattern for tensor #2
  EXPECT_EQ(f.tensors()[2].shape, (std::vector<int64_t>{5}));
  EXPECT_EQ(f.tensors()[2].offset, 256u);
  EXPECT_EQ(f.data_offset() + 256 + 10, bytes.size());
}

TEST(GgufParse, Version2AndCustomAlignment) {
  GgufWriter w;
  w.version = 2;
  w.alignment = 64;
  w.u32("general.alignment", 64);
  w.tensor("a", {4}, GgufType::F32, 16);
  w.tensor("b", {4}, GgufType::F32, 16);
  const auto bytes = w.build();
  const GgufFile f = GgufFile::parse(bytes.data(), bytes.size(), "m.gguf");
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(f.tensors()[1].offset, 64u);
}

TEST(GgufParse, MetadataErrorsNameTheKey) {
  const auto bytes = sample_writer().build();
  const GgufFile f = GgufFile::parse(bytes.data(), bytes.size(), "m.gguf");
  auto error = [](auto fn) {
    try {
      fn();
    } catch (const bigdl::FormatError& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  EXPECT_EQ(error([&] { f.get_int("llama.context_length"); }),
            "[gguf] m.gguf: metadata key 'llama.context_length' missing");
  EXPECT_EQ(error([&] { f.get_int("general.architecture"); }),
            "[gguf] m.gguf: metadata key 'general.architecture' has type string, expected an "
            "integer");
  EXPECT_NE(error([&] { f.get_string("llama.block_count"); }).find("has type u32"),
            std::string::npos);
  EXPECT_NE(error([&] { f.get_float("llama.block_count"); }).find("'llama.block_count'"),
            std::string::npos);
  EXPECT_NE(error([&] { f.get_string_array("tokenizer.ggml.scores"); })
                .find("has type array[f32], expected array[string]"),
            std::string::npos);
  EXPECT_NE(error([&] { f.get_float_array("ids"); }).find("array[i16]"), std::string::npos);
  EXPECT_NE(error([&] { f.get_int_array("tokenizer.ggml.tokens"); }).find("'tokenizer.ggml.tokens'"),
            std::string::npos);
  EXPECT_NE(error([&] { f.get_bool("i8"); }).find("expected bool"), std::string::npos);

  GgufValue huge;
  huge.type = VT::U64;
  huge.bits = ~uint64_t(0);
  EXPECT_THROW(huge.as_int(), bigdl::FormatError);
  EXPECT_EQ(huge.as_uint(), ~uint64_t(0));
  GgufValue huge_array;
  huge_array.type = VT::ARRAY;
  huge_array.elem_type = VT::U64;
  huge_array.count = 1;
  huge_array.raw.assign(8, 0xFF);
  EXPECT_THROW(huge_array.as_int_array(), bigdl::FormatError);
}

TEST(GgufParse, EveryPrefixThrowsFormatError) {
  const auto bytes = sample_writer().build();
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + ptrdiff_t(n));
    // A copy of exactly n bytes, so reading past it is an ASan error.
    const std::string msg = parse_error(prefix);
    ASSERT_EQ(msg.rfind("[gguf] m.gguf: ", 0), 0u) << "prefix " << n << ": " << msg;
  }
}

TEST(GgufParse, OpenErrors) {
  EXPECT_THROW(GgufFile::open("/nonexistent/x.gguf"), bigdl::IOError);
  EXPECT_THROW(GgufFile::open("/tmp"), bigdl::IOError);
  io_test::TempDir dir;
  io_test::write_bytes(dir.file("empty.gguf"), {});
  EXPECT_THROW(GgufFile::open(dir.file("empty.gguf")), bigdl::FormatError);
  io_test::write_bytes(dir.file("bad.gguf"), {'G', 'G', 'M', 'L', 0, 0, 0, 0});
  try {
    GgufFile::open(dir.file("bad.gguf"));
    ADD_FAILURE() << "no error";
  } catch (const bigdl::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("bad.gguf") + ": bad magic"), std::string::npos)
        << e.what();
  }
}

// Copies share the mapping: tensor pointers outlive the GgufFile they came from.
TEST(GgufParse, CopiesKeepTheMappingAlive) {
  io_test::TempDir dir;
  const auto bytes = sample_writer().build();
  io_test::write_bytes(dir.file("s.gguf"), bytes);
  std::vector<GgufTensorInfo> tensors;
  GgufFile copy = [&] {
    GgufFile f = GgufFile::open(dir.file("s.gguf"));
    return GgufFile(f);
  }();
  const GgufTensorInfo* q = copy.tensor("q");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(std::memcmp(q->data, bytes.data() + copy.data_offset() + q->offset, q->nbytes), 0);
}

// ---- one hand-built file per validation rule ----

TEST(GgufBad, HeaderMagicVersionCounts) {
  auto bytes = sample_writer().build();
  auto b = bytes;
  b[3] = 'X';
  EXPECT_GGUF_ERROR(b, "bad magic: expected \"GGUF\" (47 47 55 46), found 47 47 55 58");
  for (uint32_t v : {1u, 4u, 0u}) {
    GgufWriter w = sample_writer();
    w.version = v;
    EXPECT_GGUF_ERROR(w.build(), v == 1 ? "version 1 is not supported" : "is not supported");
  }
  b = bytes;
  b[4] = 0, b[7] = 3;  // version 3 written big-endian
  EXPECT_GGUF_ERROR(b, "big-endian");
  b = bytes;
  b[8 + 7] = 0x10;  // n_tensors
  EXPECT_GGUF_ERROR(b, "tensor count");
  b = bytes;
  b[16 + 5] = 0x01;  // n_kv
  EXPECT_GGUF_ERROR(b, "metadata count");
}

TEST(GgufBad, StringsAndValues) {
  {  // string length beyond the end
    GgufWriter w;
    auto& b = w.key("s", VT::STRING);
    io_test::put64(b, 1000);
    b.insert(b.end(), 10, 'x');
    EXPECT_GGUF_ERROR(w.build(), "metadata key 's' string (1000 bytes)");
  }
  {  // key length of 2^64 - 1
    GgufWriter w;
    ++w.n_kv;
    io_test::put64(w.kv, ~uint64_t(0));
    w.kv.resize(64, 'k');
    EXPECT_GGUF_ERROR(w.build(), "truncated: metadata key #0");
  }
  {
    GgufWriter w;
    io_test::put32(w.key("t", VT(13)), 0);
    EXPECT_GGUF_ERROR(w.build(), "metadata key 't' has unknown value type 13");
  }
  {
    GgufWriter w;
    auto& b = w.key("a", VT::ARRAY);
    io_test::put32(b, 99);
    io_test::put64(b, 0);
    EXPECT_GGUF_ERROR(w.build(), "unknown array element type 99");
  }
  {  // an array count the file cannot hold
    GgufWriter w;
    auto& b = w.key("a", VT::ARRAY);
    io_test::put32(b, uint32_t(VT::U32));
    io_test::put64(b, uint64_t(1) << 62);
    EXPECT_GGUF_ERROR(w.build(), "array of 4611686018427387904 u32");
  }
  {  // arrays nested 5 deep
    GgufWriter w;
    auto& b = w.key("deep", VT::ARRAY);
    for (int i = 0; i < 5; ++i) {
      io_test::put32(b, uint32_t(VT::ARRAY));
      io_test::put64(b, 1);
    }
    io_test::put32(b, uint32_t(VT::U8));
    io_test::put64(b, 0);
    EXPECT_GGUF_ERROR(w.build(), "nests arrays deeper than 4");
  }
  {
    GgufWriter w;
    w.key("b", VT::BOOL).push_back(2);
    EXPECT_GGUF_ERROR(w.build(), "bool value 2");
  }
  {
    GgufWriter w;
    w.u32("x", 1);
    w.string("x", "again");
    EXPECT_GGUF_ERROR(w.build(), "duplicate metadata key 'x'");
  }
  for (uint32_t a : {0u, 3u, 48u}) {
    GgufWriter w;
    w.u32("general.alignment", a);
    EXPECT_GGUF_ERROR(w.build(), "is not a power of two");
  }
  {
    GgufWriter w;
    w.string("general.alignment", "32");
    EXPECT_GGUF_ERROR(w.build(), "'general.alignment' has type string, expected u32");
  }
}

TEST(GgufBad, TensorInfos) {
  auto one = [](std::vector<uint64_t> ne, GgufType type, uint64_t nbytes) {
    GgufWriter w;
    w.tensor("t", std::move(ne), type, nbytes);
    return w.build();
  };
  EXPECT_GGUF_ERROR(one({}, GgufType::F32, 4), "tensor 't' has 0 dims");
  EXPECT_GGUF_ERROR(one({1, 1, 1, 1, 1}, GgufType::F32, 4), "tensor 't' has 5 dims");
  EXPECT_GGUF_ERROR(one({4, 0}, GgufType::F32, 0), "dim ne[1] = 0");
  EXPECT_GGUF_ERROR(one({4, ~uint64_t(0)}, GgufType::F32, 0), "dim ne[1] = -1");
  EXPECT_GGUF_ERROR(one({uint64_t(1) << 32, uint64_t(1) << 32}, GgufType::F32, 0), "overflow");
  EXPECT_GGUF_ERROR(one({4}, GgufType(4), 16), "unknown ggml type 4");
  EXPECT_GGUF_ERROR(one({4}, GgufType(1000), 16), "unknown ggml type 1000");
  EXPECT_GGUF_ERROR(one({48, 2}, GgufType::Q4_0, 4 * 18),
                    "rows of 48 elements, not a multiple of the q4_0 block size 32");
  EXPECT_GGUF_ERROR(one({64}, GgufType::Q8_0, 34),  // one block's bytes of two
                    "lies outside the data section of 34 bytes");
  {
    GgufWriter w;
    w.tensor("a", {4}, GgufType::F32, 16);
    w.tensor("a", {4}, GgufType::F32, 16);
    EXPECT_GGUF_ERROR(w.build(), "duplicate tensor name 'a'");
  }
  {
    GgufWriter w;
    w.tensor("a", {16}, GgufType::F32, 64);
    w.tensor("b", {4}, GgufType::F32, 0, 32);  // inside a
    EXPECT_GGUF_ERROR(w.build(), "tensor 'b' data [32, 48) overlaps tensor 'a' data [0, 64)");
  }
  {
    GgufWriter w;
    w.tensor("a", {4}, GgufType::F32, 16);
    w.tensor("b", {4}, GgufType::F32, 0, 8);
    EXPECT_GGUF_ERROR(w.build(), "offset 8 is not a multiple of the alignment 32");
  }
  {
    GgufWriter w;
    w.tensor("a", {4}, GgufType::F32, 16);
    w.tensor("b", {4}, GgufType::F32, 0, int64_t(1) << 40);
    EXPECT_GGUF_ERROR(w.build(), "tensor 'b' data [1099511627776, 1099511627792) lies outside");
  }
  {  // a tensor with no bytes in the file at all
    GgufWriter w;
    w.tensor("a", {4}, GgufType::F32, 0, 0);
    auto b = w.build();
    EXPECT_GGUF_ERROR(b, "lies outside the data section of 0 bytes");
  }
}

// 2000 seeded mutations of the header region (metadata and tensor infos) of a real file:
// each parse either succeeds or throws a bigdl::Error.
TEST(GgufFuzz, HeaderByteFlips) {
  const auto seed = io_test::read_bytes(shared(kStories + "-q4_0.gguf"));
  ASSERT_FALSE(seed.empty());
  const size_t header =
      GgufFile::parse(seed.data(), seed.size(), "seed").data_offset();
  std::mt19937 rng(20240607);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  std::vector<uint8_t> b = seed;
  size_t ok = 0;
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::pair<size_t, uint8_t>> saved;
    for (size_t k = 0, n = 1 + pick(4); k < n; ++k) {
      const size_t at = pick(header);
      saved.emplace_back(at, b[at]);
      static const uint8_t special[] = {0x00, 0xFF, 0x7F, 0x80, 0x01, 0x09, 0x08};
      b[at] = pick(4) == 0 ? special[pick(sizeof special)] : uint8_t(rng());
    }
    try {
      GgufFile::parse(b.data(), b.size(), "fuzz");
      ++ok;
    } catch (const bigdl::Error&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "iteration " << i << " threw a non-bigdl exception: " << e.what();
      return;
    }
    for (auto it = saved.rbegin(); it != saved.rend(); ++it) b[it->first] = it->second;
  }
  EXPECT_GT(ok, 0u);  // flips inside strings still parse
}

}  // namespace
