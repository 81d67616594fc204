// Sentence embeddings; see include/bigdl/llm/embed.h.
#include "bigdl/llm/embed.h"

#include <cmath>

#include "bigdl/error.h"

namespace bigdl::llm {

std::string embed_pooling(const ModelConfig& c, const EmbedOptions& o) {
  std::string p = o.pooling;
  if (p.empty()) p = c.pooling != "none" ? c.pooling : c.causal ? "last" : "mean";
  BIGDL_CHECK(p == "mean" || p == "cls" || p == "last", ValueError, "embed", "unknown pooling '", p,
              "' (known: mean, cls, last)");
  return p;
}

std::vector<float> embed(Context& ctx, const Vocab& vocab, std::string_view text, const EmbedOptions& o) {
  const std::string pooling = embed_pooling(ctx.config(), o);
  const std::vector<TokenId> ids = vocab.encode(text, /*add_special=*/true, /*parse_special=*/false);
  const int64_t n = static_cast<int64_t>(ids.size());
  BIGDL_CHECK(n >= 1, ValueError, "embed", "the text gives no tokens");
  BIGDL_CHECK(n <= ctx.n_ctx(), ValueError, "embed", "text of ", n, " tokens exceeds the context length ", ctx.n_ctx());
  const int64_t E = ctx.config().n_embd;
  const float* h = ctx.forward_batch_embd(ids.data(), n, 0);
  std::vector<float> out(static_cast<size_t>(E), 0.0f);
  if (pooling == "mean") {
    std::vector<double> sum(static_cast<size_t>(E), 0.0);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < E; ++i) sum[size_t(i)] += h[t * E + i];
    for (int64_t i = 0; i < E; ++i) out[size_t(i)] = static_cast<float>(sum[size_t(i)] / double(n));
  } else {
    const int64_t row = pooling == "cls" ? 0 : n - 1;
    std::copy(h + row * E, h + (row + 1) * E, out.begin());
  }
  if (o.normalize) {
    double ss = 0;
    for (const float v : out) ss += double(v) * v;
    const double norm = std::sqrt(ss);
    if (norm > 0)
      for (float& v : out) v = static_cast<float>(v / std::max(norm, 1e-12));
  }
  return out;
}

}  // namespace bigdl::llm
