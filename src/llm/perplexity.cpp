// llama.cpp's perplexity method; see include/bigdl/llm/perplexity.h.
#include "bigdl/llm/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/llm/generate.h"

namespace bigdl::llm {

namespace {

constexpr const char* kOp = "perplexity";
// Floats of logits one forward_batch_all call may return (32 MB).
constexpr int64_t kLogitsBudget = int64_t(8) << 20;

// -log softmax(logits)[target], with the max subtracted and the sum in double.
double neg_log_prob(const float* logits, int64_t n, int32_t target) {
  float mx = logits[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, logits[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - double(mx));
  return std::log(sum) - (double(logits[target]) - double(mx));
}

}  // namespace

PerplexityResult perplexity(Context& ctx, const Vocab& vocab, std::string_view text, int64_t n_ctx,
                            int64_t max_chunks, const PerplexityCallback& callback) {
  const ModelConfig& cfg = ctx.config();
  BIGDL_CHECK(n_ctx >= 4 && n_ctx <= ctx.n_ctx(), ValueError, kOp, "context length ", n_ctx,
              " is outside [4, ", ctx.n_ctx(), "] (the context's KV cache; raise it with ContextOptions::n_ctx)");
  const bool add_bos = vocab.add_bos() && vocab.bos_id() >= 0;
  const std::vector<TokenId> tokens = encode_prompt(vocab, text);
  const int64_t n_tokens = static_cast<int64_t>(tokens.size());
  BIGDL_CHECK(n_tokens >= 2 * n_ctx, ValueError, kOp, "the text gives ", n_tokens, " tokens; a context of ", n_ctx,
              " needs at least ", 2 * n_ctx);

  int64_t n_chunks = n_tokens / n_ctx;
  if (max_chunks > 0) n_chunks = std::min(n_chunks, max_chunks);
  const int64_t first = n_ctx / 2;

  PerplexityResult r;
  r.n_tokens = n_tokens;
  double nll = 0.0, nll2 = 0.0;
  const auto t0 = std::chrono::steady_clock::now();
  // Scored positions go through forward_batch_all in batches whose logits fit kLogitsBudget.
  const int64_t batch = std::clamp<int64_t>(kLogitsBudget / cfg.n_vocab, 1, 256);
  std::vector<TokenId> feed(static_cast<size_t>(n_ctx - 1));
  for (int64_t c = 0; c < n_chunks; ++c) {
    const TokenId* chunk = tokens.data() + c * n_ctx;
    // Position n_ctx-1 is never scored (nothing follows it in the chunk), so it is not fed.
    std::copy(chunk, chunk + n_ctx - 1, feed.begin());
    if (add_bos) feed[0] = vocab.bos_id();
    ctx.forward_batch(feed.data(), first, 0);  // the unscored first half: only its K/V are needed
    for (int64_t p0 = first; p0 < n_ctx - 1; p0 += batch) {
      const int64_t n = std::min(batch, n_ctx - 1 - p0);
      const float* logits = ctx.forward_batch_all(feed.data() + p0, n, p0);
      for (int64_t j = 0; j < n; ++j) {
        const double v = neg_log_prob(logits + j * cfg.n_vocab, cfg.n_vocab, chunk[p0 + j + 1]);
        nll += v;
        nll2 += v * v;
        ++r.n_scored;
      }
    }
    r.chunks = c + 1;
    if (callback) {
      PerplexityProgress p;
      p.chunk = c + 1;
      p.n_chunks = n_chunks;
      p.ppl = std::exp(nll / double(r.n_scored));
      p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      callback(p);
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double n = double(r.n_scored);
  r.mean_nll = nll / n;
  r.ppl = std::exp(r.mean_nll);
  const double var = nll2 / n - r.mean_nll * r.mean_nll;
  r.ppl_err = (var > 0.0 && n > 1.0) ? std::sqrt(var / (n - 1.0)) * r.ppl : 0.0;
  return r;
}

PerplexityResult perplexity_file(Context& ctx, const Vocab& vocab, const std::string& path, int64_t n_ctx,
                                 int64_t max_chunks, const PerplexityCallback& callback) {
  std::ifstream in(path, std::ios::binary);
  BIGDL_CHECK(in.good(), IOError, kOp, path, ": cannot open");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BIGDL_CHECK(!in.bad(), IOError, kOp, path, ": cannot read");
  if (!text.empty() && text.back() == '\n') text.pop_back();  // as llama.cpp's -f
  return perplexity(ctx, vocab, text, n_ctx, max_chunks, callback);
}

}  // namespace bigdl::llm
