// End-to-end Llama forward and greedy generation on the real stories260K model
// (/work/shared/data/llm/stories260K, see data/README.md section 1) against the golden
// file from an independent NumPy re-implementation of llama2.c's run.c.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/io/gguf_writer.h"
#include "bigdl/llm/model.h"
#include "llm/llm_test_util.h"

namespace {

using LoadOptions = llm_test::Opts;
using llm_test::load;

const std::string& kDir = llm_test::kStoriesDir;

struct Golden {
  std::vector<int32_t> ids;
  std::vector<float> logits0;
  std::vector<std::vector<std::pair<int32_t, float>>> top5;
};

const Golden& golden() {
  static const Golden g = [] {
    std::ifstream in(kDir + "stories260K.greedy-golden.json");
    EXPECT_TRUE(in.good());
    nlohmann::json j = nlohmann::json::parse(in);
    Golden r;
    r.ids = j["generated_token_ids"].get<std::vector<int32_t>>();
    r.logits0 = j["full_logits_step0"].get<std::vector<float>>();
    for (const auto& step : j["top5_logits_first_16_steps"]) {
      std::vector<std::pair<int32_t, float>> s;
      for (const auto& p : step) s.emplace_back(p[0].get<int32_t>(), p[1].get<float>());
      r.top5.push_back(s);
    }
    return r;
  }();
  return g;
}

// Number of leading positions where a and b agree.
size_t agreement(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

std::vector<int32_t> greedy_from_bos(bigdl::llm::Context& m, int64_t max_new, double* tok_per_s = nullptr) {
  auto t0 = std::chrono::steady_clock::now();
  auto ids = bigdl::llm::generate_greedy(m, {1}, max_new);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (tok_per_s) *tok_per_s = static_cast<double>(ids.size()) / s;
  return ids;
}

TEST(LlamaStories, ConfigFromMetadata) {
  auto m = load(kDir + "stories260K-f32.gguf");
  const auto& c = m->config();
  EXPECT_EQ(c.arch, "llama");
  EXPECT_EQ(c.n_vocab, 512);
  EXPECT_EQ(c.n_embd, 64);
  EXPECT_EQ(c.n_layer, 5);
  EXPECT_EQ(c.n_head, 8);
  EXPECT_EQ(c.n_head_kv, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.n_ff, 172);
  EXPECT_EQ(c.n_ctx_train, 128);  // the llama2c converter's default, not the trained 512
  EXPECT_EQ(m->n_ctx(), 128);
  EXPECT_FLOAT_EQ(c.rope_freq_base, 10000.0f);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-5f);
  EXPECT_FALSE(c.tied_output);  // the llama2c converter writes output.weight (a copy of token_embd)
}

TEST(LlamaStories, F32Step0LogitsMatchGolden) {
  const auto& g = golden();
  ASSERT_EQ(g.logits0.size(), 512u);
  // The exact f32 path, KV cache included (the default f16 cache adds 2.5e-4 x std).
  auto m = load(kDir + "stories260K-f32.gguf", LoadOptions{.kv_type = "f32"});
  const float* logits = m->forward(1, 0);
  double mean = 0, var = 0, max_diff = 0;
  for (float v : g.logits0) mean += v;
  mean /= 512;
  for (float v : g.logits0) var += (v - mean) * (v - mean);
  const double std_dev = std::sqrt(var / 512);
  for (int i = 0; i < 512; ++i) max_diff = std::max(max_diff, std::fabs(double(logits[i]) - g.logits0[i]));
  std::printf("[llm] f32 step-0 logits: max abs diff %.3g, golden std %.3g (ratio %.3g)\n", max_diff,
              std_dev, max_diff / std_dev);
  EXPECT_LE(max_diff, 1e-4 * std_dev);
}

TEST(LlamaStories, F32Top5First16StepsMatchGolden) {
  const auto& g = golden();
  auto m = load(kDir + "stories260K-f32.gguf", LoadOptions{.kv_type = "f32"});
  int32_t tok = 1;
  for (size_t step = 0; step < g.top5.size(); ++step) {
    const float* logits = m->forward(tok, static_cast<int64_t>(step));
    for (const auto& [id, want] : g.top5[step]) EXPECT_NEAR(logits[id], want, 1e-3) << "step " << step;
    tok = bigdl::llm::argmax(logits, 512);
    EXPECT_EQ(tok, g.top5[step][0].first);
  }
}

TEST(LlamaStories, F32GreedyMatchesGoldenOverFileContext) {
  // The file says context_length 128, so 128 positions: BOS + 127 fed-back tokens
  // give 128 generated tokens.
  const auto& g = golden();
  auto m = load(kDir + "stories260K-f32.gguf");
  double tps = 0;
  auto ids = greedy_from_bos(*m, 256, &tps);
  ASSERT_EQ(ids.size(), 128u);
  std::printf("[llm] f32 greedy: %zu tokens, %.0f tokens/s\n", ids.size(), tps);
  EXPECT_EQ(agreement(ids, g.ids), 128u);
}

TEST(LlamaStories, F32GreedyMatchesGoldenFull256WithTrainedContext) {
  // The checkpoint was trained at 512; widening the cache reproduces all 256 golden tokens.
  const auto& g = golden();
  auto m = load(kDir + "stories260K-f32.gguf", LoadOptions{512});
  double tps = 0;
  auto ids = greedy_from_bos(*m, 256, &tps);
  ASSERT_EQ(ids.size(), 256u);
  std::printf("[llm] f32 greedy (n_ctx 512): %zu tokens, %.0f tokens/s\n", ids.size(), tps);
  EXPECT_EQ(agreement(ids, g.ids), 256u);
}

TEST(LlamaStories, Q8_0GreedyMatchesGolden) {
  // With an f32 KV cache, so that only the weights and the int8 activations differ from
  // f32 (the default f16 cache moves a near-tie and the ids leave the golden at 71).
  const auto& g = golden();
  {
    // The file's own context: 128 positions.
    auto m = load(kDir + "stories260K-q8_0.gguf", LoadOptions{.kv_type = "f32"});
    auto ids = greedy_from_bos(*m, 256);
    const size_t n = agreement(ids, g.ids);
    std::printf("[llm] q8_0 greedy (n_ctx 128): agrees with golden for %zu of %zu tokens\n", n, ids.size());
    EXPECT_GE(n, 100u);
  }
  auto m = load(kDir + "stories260K-q8_0.gguf", LoadOptions{.n_ctx = 512, .kv_type = "f32"});
  double tps = 0;
  auto ids = greedy_from_bos(*m, 256, &tps);
  const size_t n = agreement(ids, g.ids);
  std::printf("[llm] q8_0 greedy (n_ctx 512): agrees with golden for %zu of %zu tokens, %.0f tokens/s\n",
              n, ids.size(), tps);
  EXPECT_GE(n, 100u);
}

TEST(LlamaStories, Q8_0DivergenceComesFromTheWeights) {
  // The issue asks q8_0's greedy ids to equal the f32 golden. They agree for ~114 ids and
  // then flip at a near-tie. The same q8_0 weights dequantized to f32 and run through the
  // pure f32 path (no int8 activation rounding, f32 dots) leave the golden at the very
  // same token, so the flip is the file's weight rounding and no kernel can remove it
  // (docs/llm.md, "stories260K q8_0").
  const auto& g = golden();
  auto q = load(kDir + "stories260K-q8_0.gguf", LoadOptions{512, "", "f32"});  // f32 KV cache
  auto deq = load(kDir + "stories260K-q8_0.gguf", LoadOptions{512, "fp32", "f32"});
  const size_t nq = agreement(greedy_from_bos(*q, 256), g.ids);
  const size_t nd = agreement(greedy_from_bos(*deq, 256), g.ids);
  std::printf("[llm] q8_0 int8 path agrees for %zu ids, dequantized-f32 path for %zu\n", nq, nd);
  EXPECT_EQ(nq, nd);
}

TEST(LlamaStories, Q8_0LeavesTheGoldenWhereLlamaCppDoes) {
  // The peer's answer: llama.cpp's own greedy ids for the same files (llama-cpp-python
  // 0.3.36, n_ctx 512, fixtures/llamacpp_stories/make_fixture.py). It reproduces the f32
  // golden for all 256 ids but leaves it on q8_0 at the same token as we do, so "q8_0
  // equals the f32 golden" is not something any exact Q8_0 engine can show on this file.
  std::ifstream in(std::string(BIGDL_TEST_DIR) + "/llm/fixtures/llamacpp_stories/greedy_ids.json");
  ASSERT_TRUE(in.good());
  const nlohmann::json j = nlohmann::json::parse(in);
  const auto lc_f32 = j["f32"].get<std::vector<int32_t>>();
  const auto lc_q8 = j["q8_0"].get<std::vector<int32_t>>();
  const auto& g = golden();
  EXPECT_EQ(agreement(lc_f32, g.ids), 256u);
  const size_t lc_gold = agreement(lc_q8, g.ids);
  EXPECT_EQ(lc_gold, 114u);  // the fixture as generated
  auto f = load(kDir + "stories260K-f32.gguf", LoadOptions{512});
  EXPECT_EQ(agreement(greedy_from_bos(*f, 256), lc_f32), 256u);
  auto q = load(kDir + "stories260K-q8_0.gguf", LoadOptions{.n_ctx = 512, .kv_type = "f32"});
  const auto ours = greedy_from_bos(*q, 256);
  const size_t with_lc = agreement(ours, lc_q8);
  std::printf("[llm] q8_0 greedy, 256 ids: leaves the golden at %zu (llama.cpp: %zu), equals llama.cpp's for %zu\n",
              agreement(ours, g.ids), lc_gold, with_lc);
  EXPECT_EQ(agreement(ours, g.ids), lc_gold);
  // Past 114 both runs follow their own near-ties (llama.cpp's cache is f16, its
  // activation scales fp16); they still agree well beyond the golden's divergence.
  EXPECT_GE(with_lc, 130u);
}

TEST(LlamaStories, Q8_0ArgmaxFlipsOnlyAtNearTies) {
  // Teacher-forced along the golden ids: wherever q8_0 picks a different token than
  // f32, the f32 top-2 logit gap must be below q8_0's logit error there, i.e. the flip
  // is quantization noise at a near-tie, not a wrong forward.
  const auto& g = golden();
  auto f = load(kDir + "stories260K-f32.gguf", LoadOptions{512});
  auto q = load(kDir + "stories260K-q8_0.gguf", LoadOptions{512});
  int32_t tok = 1;
  int flips = 0;
  double worst = 0;
  for (size_t p = 0; p < g.ids.size(); ++p) {
    const float* a = f->forward(tok, static_cast<int64_t>(p));
    const float* b = q->forward(tok, static_cast<int64_t>(p));
    double err = 0;
    for (int i = 0; i < 512; ++i) err = std::max(err, std::fabs(double(a[i]) - b[i]));
    worst = std::max(worst, err);
    const int32_t fa = bigdl::llm::argmax(a, 512), qa = bigdl::llm::argmax(b, 512);
    ASSERT_EQ(fa, g.ids[p]) << "f32 at position " << p;
    if (qa != fa) {
      ++flips;
      const double gap = double(a[fa]) - a[qa];
      EXPECT_LT(gap, 2 * err) << "q8_0 flip at position " << p << " with f32 gap " << gap;
    }
    tok = g.ids[p];
  }
  std::printf("[llm] q8_0 teacher-forced over 256 positions: %d argmax flips, max |logit - f32| %.3f\n",
              flips, worst);
  EXPECT_LE(flips, 5);
  EXPECT_LT(worst, 0.5);  // logits have std ~5
}

TEST(LlamaStories, Q4_0GreedyDivergesLate) {
  const auto& g = golden();
  auto m = load(kDir + "stories260K-q4_0.gguf", LoadOptions{512});
  double tps = 0;
  auto ids = greedy_from_bos(*m, 256, &tps);
  const size_t n = agreement(ids, g.ids);
  std::printf("[llm] q4_0 greedy (n_ctx 512): first divergence from f32 golden at token %zu, %.0f tokens/s\n",
              n, tps);
  // llama.cpp's own q4_0 run of this file diverges after ~20 tokens.
  EXPECT_GE(n, 10u);
}

TEST(LlamaStories, KvCacheReuseAfterRestartIsDeterministic) {
  // Re-feeding from position 0 overwrites the cache; the same tokens come out.
  auto m = load(kDir + "stories260K-f32.gguf");
  auto a = greedy_from_bos(*m, 40);
  auto b = greedy_from_bos(*m, 40);
  EXPECT_EQ(a, b);
}

TEST(LlamaStoriesErrors, PromptLongerThanContext) {
  auto m = load(kDir + "stories260K-f32.gguf");
  std::vector<int32_t> prompt(129, 1);
  try {
    bigdl::llm::generate_greedy(*m, prompt, 1);
    FAIL() << "expected ValueError";
  } catch (const bigdl::ValueError& e) {
    EXPECT_STREQ(e.what(), "[llm] prompt of 129 tokens exceeds the context length 128");
  }
}

TEST(LlamaStoriesErrors, BadTokenAndPosition) {
  auto m = load(kDir + "stories260K-f32.gguf");
  EXPECT_THROW(m->forward(512, 0), bigdl::IndexError);
  EXPECT_THROW(m->forward(-1, 0), bigdl::IndexError);
  EXPECT_THROW(m->forward(1, 128), bigdl::IndexError);
}

TEST(LlamaStoriesErrors, VocabOnlyGgufHasNoTensors) {
  const std::string path = std::string(BIGDL_SHARED_DATA) + "/tokenizers/ggml-vocab/ggml-vocab-llama-spm.gguf";
  try {
    load(path);
    FAIL() << "expected FormatError";
  } catch (const bigdl::FormatError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("ggml-vocab-llama-spm.gguf"), std::string::npos) << msg;
    EXPECT_NE(msg.find("token_embd.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
  }
}

TEST(LlamaStoriesErrors, UnsupportedArchitecture) {
  // A GGUF of an architecture we do not run (Mamba: no attention at all).
  const std::string vocab = std::string(BIGDL_SHARED_DATA) + "/tokenizers/ggml-vocab/";
  test_util::TempDir dir("unsupported_arch");
  bigdl::io::GgufWriter w;
  w.set("general.architecture", bigdl::io::gguf_string("mamba"));
  const std::string path = dir.path() + "/mamba.gguf";
  w.write(path);
  const std::string msg = test_util::error_of<bigdl::FormatError>([&] { load(path); });
  EXPECT_EQ(msg.rfind("[load_model] " + path + ": architecture 'mamba' is not supported (supported: llama, ", 0), 0u)
      << msg;
  // A vocabulary-only GPT-2 file: the architecture runs, the weights are missing.
  EXPECT_EQ(test_util::error_of<bigdl::FormatError>([&] { load(vocab + "ggml-vocab-gpt-2.gguf"); }),
            "[load_model] " + vocab + "ggml-vocab-gpt-2.gguf: tensor 'token_embd.weight' missing");
}

// A copy of the f32 GGUF with the tensor-info entry of `tensor` patched by `patch`
// (which gets a pointer to the name's first byte), written to a temp file.
std::string patched_copy(const std::string& tensor, const std::string& out_name,
                         void (*patch)(uint8_t* name)) {
  std::ifstream in(kDir + "stories260K-f32.gguf", std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto it = std::search(bytes.begin(), bytes.end(), tensor.begin(), tensor.end());
  EXPECT_NE(it, bytes.end());
  patch(&*it);
  const std::string path = (std::filesystem::temp_directory_path() / out_name).string();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return path;
}

TEST(LlamaStoriesErrors, WrongShapeNamesTheTensor) {
  // blk.0.attn_k.weight: name, u32 n_dims = 2, u64 ne0 = 64, u64 ne1 = 32 -> swap them
  // (same byte count, so the file stays valid; only the loader's shape check trips).
  const std::string path = patched_copy("blk.0.attn_k.weight", "bigdl_llm_bad_shape.gguf", [](uint8_t* p) {
    uint8_t* ne = p + std::strlen("blk.0.attn_k.weight") + 4;
    uint64_t v[2];
    std::memcpy(v, ne, 16);
    ASSERT_EQ(v[0], 64u);
    ASSERT_EQ(v[1], 32u);
    std::swap(v[0], v[1]);
    std::memcpy(ne, v, 16);
  });
  try {
    load(path);
    FAIL() << "expected ShapeError";
  } catch (const bigdl::ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'blk.0.attn_k.weight' has shape [64, 32], expected [32, 64]"),
              std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(LlamaStoriesErrors, MissingTensorNamesFileAndTensor) {
  const std::string path = patched_copy("output_norm.weight", "bigdl_llm_missing.gguf",
                                        [](uint8_t* p) { p[0] = 'X'; });
  try {
    load(path);
    FAIL() << "expected FormatError";
  } catch (const bigdl::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("bigdl_llm_missing.gguf: tensor 'output_norm.weight' missing"),
              std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(LlamaStoriesErrors, NotAGgufFile) {
  EXPECT_THROW(load(kDir + "tok512.bin"), bigdl::FormatError);
  EXPECT_THROW(load(kDir + "no-such-file.gguf"), bigdl::IOError);
}

}  // namespace
