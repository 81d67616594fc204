// Helpers shared by the LLM tests that compare logits against a reference: the
// transformers goldens of tests/llm/fixtures (tests/llm/gen_arch_golden.py), per-position
// logits, their max difference / argmax agreement / spread, and a per-test temp folder.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <unistd.h>

#include "bigdl/llm/model.h"
#include "test_util.h"

namespace llm_test {

inline const std::string kFixtures = std::string(BIGDL_TEST_DIR) + "/llm/fixtures/";
// The shared stories260K files (../shared/data/llm/stories260K) and the f32 one.
inline const std::string kStoriesDir = std::string(BIGDL_SHARED_DATA) + "/llm/stories260K/";
inline const std::string kStoriesF32 = kStoriesDir + "stories260K-f32.gguf";
// The transformers golden fixtures of the four architectures.
inline const char* const kHfFixtures[] = {"hf_llama", "hf_llama_tied", "hf_mistral", "hf_qwen2"};

// A real model that scripts/test.sh fetches from PyPI before ctest: $env when set, else
// ~/.cache/bigdl-cpp/<cache_rel> (where the scripts/get_*.sh put it). Tests fail, not
// skip, when it is absent.
inline std::string cached_model(const char* env, const std::string& cache_rel) {
  if (const char* p = std::getenv(env); p != nullptr && *p != '\0') return p;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/bigdl-cpp/" + cache_rel;
}
inline std::string smollm2_path() {
  return cached_model("BIGDL_SMOLLM2", "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
}
inline std::string minilm_path() { return cached_model("BIGDL_MINILM", "minilm/all-MiniLM-L6-v2"); }
#define ASSERT_CACHED_MODEL(path, script)                                                          \
  ASSERT_TRUE(std::filesystem::exists(path)) << (path) << " absent: run " script                   \
                                             << " (scripts/test.sh does before ctest)"

// A fixture's golden.json: the prompt, transformers' logits after every prompt position
// [pos][vocab], and their standard deviation (the unit of the tolerances).
struct Golden {
  std::vector<int32_t> prompt;
  std::vector<std::vector<float>> logits;
  double std = 0;
};
inline Golden read_golden(const std::string& name) {
  std::ifstream in(kFixtures + name + "/golden.json");
  const auto j = nlohmann::json::parse(in);
  return {j["prompt"].get<std::vector<int32_t>>(), j["logits"].get<std::vector<std::vector<float>>>(),
          j["logits_std"].get<double>()};
}

// A model and one context on it: what most tests need. It forwards the Context calls and
// converts to Context& where an API takes one.
struct Loaded {
  std::shared_ptr<const bigdl::llm::Model> model;
  bigdl::llm::Context ctx;
  const bigdl::llm::ModelConfig& config() const { return model->config(); }
  int64_t n_ctx() const { return ctx.n_ctx(); }
  const float* forward(int32_t token, int64_t pos) { return ctx.forward(token, pos); }
  const float* forward_batch(const int32_t* t, int64_t n, int64_t pos0) { return ctx.forward_batch(t, n, pos0); }
  const float* forward_batch_all(const int32_t* t, int64_t n, int64_t pos0) {
    return ctx.forward_batch_all(t, n, pos0);
  }
  operator bigdl::llm::Context&() { return ctx; }  // NOLINT: a test shim
};
inline Loaded open(const std::string& path, const bigdl::llm::LoadOptions& lo = {},
                   const bigdl::llm::ContextOptions& co = {}) {
  auto m = bigdl::llm::load_model(path, lo);
  bigdl::llm::Context ctx(m, co);
  return Loaded{std::move(m), std::move(ctx)};
}
// The load and context options most tests set, by the names the CLI uses.
struct Opts {
  int64_t n_ctx = 0;
  std::string low_bit;
  std::string kv_type = "f16";
};
inline std::unique_ptr<Loaded> load(const std::string& path, const Opts& o = {}) {
  bigdl::llm::LoadOptions lo;
  lo.low_bit = bigdl::llm::LowBit::parse(o.low_bit, "load_model");
  bigdl::llm::ContextOptions co;
  co.n_ctx = o.n_ctx;
  co.kv_type = o.kv_type;
  return std::make_unique<Loaded>(open(path, lo, co));
}

// Logits after every position of seq, fed token by token (forward), [pos][vocab].
inline std::vector<std::vector<float>> run(bigdl::llm::Context& c, const std::vector<int32_t>& seq) {
  std::vector<std::vector<float>> r;
  for (size_t p = 0; p < seq.size(); ++p) {
    const float* l = c.forward(seq[p], static_cast<int64_t>(p));
    r.emplace_back(l, l + c.config().n_vocab);
  }
  return r;
}
inline double max_diff(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  double d = 0;
  for (size_t p = 0; p < a.size(); ++p)
    for (size_t v = 0; v < a[p].size(); ++v) d = std::max(d, std::fabs(double(a[p][v]) - b[p][v]));
  return d;
}
// Fraction of positions where the argmax agrees.
inline double agreement(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  int same = 0;
  for (size_t p = 0; p < a.size(); ++p)
    same += bigdl::llm::argmax(a[p].data(), int64_t(a[p].size())) ==
            bigdl::llm::argmax(b[p].data(), int64_t(b[p].size()));
  return double(same) / double(a.size());
}
inline double stddev(const std::vector<std::vector<float>>& a) {
  double s = 0, s2 = 0, n = 0;
  for (const auto& r : a)
    for (float v : r) s += v, s2 += double(v) * v, n += 1;
  return std::sqrt(s2 / n - (s / n) * (s / n));
}

// A fixture whose tests get a fresh folder under the temp directory, removed afterwards.
class TmpDirTest : public ::testing::Test {
 protected:
  std::string path(const std::string& f) const { return dir_.file(f); }
  test_util::TempDir dir_{std::string("llm_") + ::testing::UnitTest::GetInstance()->current_test_info()->name()};
};

}  // namespace llm_test
