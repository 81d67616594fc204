// Bad inputs that once crashed, hung or exhausted memory, found by the libFuzzer targets
// (tests/fuzz) or by reviewing the loaders they drive. Each must now throw a bigdl::Error
// whose one-line message names the file and the field. See docs/testing.md "Fuzzing".
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/io/safetensors.h"
#include "bigdl/llm/hf.h"
#include "bigdl/llm/model.h"
#include "bigdl/llm/vocab.h"
#include "io_test_util.h"
#include "test_util.h"

namespace {

// fuzz_tokenizer_json: one token id of 2e9 made the loader allocate 2e9 token strings
// (64 GB; ASan: "allocator is out of memory trying to allocate 0xee6b28020 bytes").
TEST(FuzzRegressions, TokenizerJsonHugeSparseId) {
  io_test::TempDir dir;
  const std::string path = dir.file("tokenizer.json");
  const char* inputs[] = {
      R"({"model":{"vocab":{"a":2000000000},"merges":[]},"pre_tokenizer":{"type":"ByteLevel"}})",
      R"({"model":{"vocab":{"a":0},"merges":[]},"added_tokens":[{"id":2147483646,"content":"x"}],)"
      R"("pre_tokenizer":{"type":"ByteLevel"}})",
  };
  for (const char* json : inputs) {
    io_test::write_bytes(path, std::vector<uint8_t>(json, json + std::string(json).size()));
    const std::string msg = test_util::error_of<bigdl::FormatError>([&] { bigdl::llm::Vocab::load_tokenizer_json(path); });
    EXPECT_NE(msg.find("[vocab] " + path + ": token id "), std::string::npos) << msg;
    EXPECT_NE(msg.find(" is far beyond the "), std::string::npos) << msg;
  }
  // Dense ids with a few gaps still load.
  const std::string ok = R"({"model":{"vocab":{"a":0,"b":3},"merges":[]},"pre_tokenizer":{"type":"ByteLevel"}})";
  io_test::write_bytes(path, std::vector<uint8_t>(ok.begin(), ok.end()));
  EXPECT_EQ(bigdl::llm::Vocab::load_tokenizer_json(path).size(), 4);
}

// config.json integers written as huge floats or past INT64_MAX (found in review): the
// float-to-int cast of 1e300 was undefined behaviour, the unsigned one wrapped to a
// negative count.
TEST(FuzzRegressions, HfConfigIntegersOutOfRange) {
  io_test::TempDir dir;
  const std::vector<uint8_t> empty = bigdl::io::serialize_safetensors({});
  io_test::write_bytes(dir.file("model.safetensors"), empty);
  const std::string config = R"({"model_type": "llama", "a": 1e300, "b": -1e19, "c": 18446744073709551615,
                                 "d": 4096.0, "e": 0.5})";
  io_test::write_bytes(dir.file("config.json"), std::vector<uint8_t>(config.begin(), config.end()));
  const bigdl::llm::HfCheckpoint ck = bigdl::llm::HfCheckpoint::open(dir.path());
  for (const char* field : {"a", "b", "e"}) {
    const std::string msg = test_util::error_of<bigdl::FormatError>([&] { ck.get_int(field); });
    EXPECT_NE(msg.find("config.json: field '" + std::string(field) + "' is "), std::string::npos) << msg;
    EXPECT_NE(msg.find("expected an integer"), std::string::npos) << msg;
  }
  const std::string msg = test_util::error_of<bigdl::FormatError>([&] { ck.get_int("c"); });
  EXPECT_NE(msg.find("field 'c' is 18446744073709551615, expected an integer below 2^63"), std::string::npos) << msg;
  EXPECT_EQ(ck.get_int("d"), 4096);
}

// A context of 2^62 positions (--ctx, <arch>.context_length, max_position_embeddings)
// overflowed the RoPE table size and crashed the loader (SIGSEGV).
TEST(FuzzRegressions, ContextLengthPastTheLimit) {
  const std::string model = std::string(BIGDL_SHARED_DATA) + "/llm/stories260K/stories260K-f32.gguf";
  bigdl::llm::ContextOptions co;
  co.n_ctx = int64_t(1) << 62;
  const auto m = bigdl::llm::load_model(model);
  const std::string msg = test_util::error_of<bigdl::ValueError>([&] { bigdl::llm::Context ctx(m, co); });
  EXPECT_EQ(msg, "[context] n_ctx 4611686018427387904 exceeds the limit of 16777216 positions");
}

}  // namespace
