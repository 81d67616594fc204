// Context: one sequence on a shared model (bigdl/llm/model.h).
#include <algorithm>

#include "bigdl/error.h"
#include "llm/model_impl.h"

namespace bigdl::llm {

using namespace detail;  // NOLINT: the detail layer's implementation

namespace {
constexpr int64_t kMaxContext = int64_t(1) << 24;
}  // namespace

struct Context::Impl {
  std::shared_ptr<const Model> model;
  int64_t n_ctx = 0;
  std::string kv_type;
  std::shared_ptr<KvPool> pool;
  std::unique_ptr<KvSeq> seq;
  std::vector<float> out;
  bool long_rope = false;
  ContextStats stats;

  const Model::Impl& m() const { return model->impl(); }

  // The checks of forward_batch* (no state changes).
  void check(const int32_t* tokens, int64_t n, int64_t pos0) const {
    const ModelConfig& c = model->config();
    BIGDL_CHECK(n >= 1 && pos0 >= 0 && pos0 <= n_ctx - n, ValueError, "llm", "batch of ", n, " tokens at position ",
                pos0, " exceeds the context length ", n_ctx);
    BIGDL_CHECK(c.causal || pos0 == 0, ValueError, "llm", "an encoder (", c.arch,
                ") takes the whole sequence in one batch at position 0, not at ", pos0);
    for (int64_t t = 0; t < n; ++t)
      BIGDL_CHECK(tokens[t] >= 0 && tokens[t] < c.n_vocab, IndexError, "llm", "token id ", tokens[t],
                  " out of range [0, ", c.n_vocab, ")");
  }
  // The checks, then the KV blocks for positions [0, pos0 + n) and the stats.
  void prepare(const int32_t* tokens, int64_t n, int64_t pos0, bool single = false) {
    check(tokens, n, pos0);
    seq->reserve(pos0 + n);
    seq->make_writable(pos0, pos0 + n);
    if (single) {
      ++stats.n_single;
    } else {
      stats.n_batch_tokens += n;
      stats.first_batch_pos = std::min(stats.first_batch_pos, pos0);
    }
  }

  SeqRun run(const int32_t* tokens, int64_t n, int64_t pos0, bool all, bool hidden = false) {
    const int64_t rows = all ? n : 1;
    const int64_t need = rows * (hidden ? model->config().n_embd : m().n_out);
    if (static_cast<int64_t>(out.size()) < need) out.resize(static_cast<size_t>(need));
    SeqRun r;
    r.kv = seq.get();
    r.tokens = tokens;
    r.n = n;
    r.pos0 = pos0;
    r.all_logits = all;
    r.long_rope = long_rope;
    r.hidden = hidden;
    r.out = out.data();
    return r;
  }
  const float* forward(const int32_t* tokens, int64_t n, int64_t pos0, bool all, bool single = false,
                       bool hidden = false) {
    prepare(tokens, n, pos0, single);
    const SeqRun r = run(tokens, n, pos0, all, hidden);
    m().forward(std::span<const SeqRun>(&r, 1));
    return out.data();
  }
};

Context::Context(std::shared_ptr<const Model> model, const ContextOptions& options) : impl_(std::make_unique<Impl>()) {
  BIGDL_CHECK(model != nullptr, ValueError, "context", "no model");
  Impl& x = *impl_;
  x.model = std::move(model);
  const ModelConfig& c = x.model->config();
  BIGDL_CHECK(options.n_ctx >= 0, ValueError, "context", "n_ctx ", options.n_ctx, " is negative");
  BIGDL_CHECK(options.n_ctx <= kMaxContext, ValueError, "context", "n_ctx ", options.n_ctx, " exceeds the limit of ",
              kMaxContext, " positions");
  x.n_ctx = options.n_ctx > 0 ? options.n_ctx : c.n_ctx_train;
  if (x.m().spec.pos == PosKind::learned)
    BIGDL_CHECK(x.n_ctx <= c.n_ctx_train, ValueError, "context", "n_ctx ", x.n_ctx, " exceeds the ", c.n_ctx_train,
                " positions ", c.arch, " has learned embeddings for");
  const KvType type = parse_kv_type(options.kv_type, "context");
  x.kv_type = kv_type_name(type);
  // LongRoPE: the long factors when the context is longer than the original one (llama.cpp's rule).
  x.long_rope = !x.m().inv_freq_long.empty() && double(x.n_ctx) > x.m().spec.rope_scaling.orig_ctx;
  if (options.cache) {
    BIGDL_CHECK(&options.cache->model() == x.model.get(), ValueError, "context",
                "the KV cache belongs to another model");
    x.pool = options.cache->pool();
    x.kv_type = options.cache->kv_type();
  } else {
    const int64_t blocks = (x.n_ctx + kKvBlock - 1) / kKvBlock;
    x.pool = std::make_shared<KvPool>(type, c.n_layer, c.n_head_kv * c.head_dim, blocks);
  }
  x.seq = std::make_unique<KvSeq>(x.pool, x.n_ctx);
}

KvCache::KvCache(const Model& model, int64_t n_positions, const std::string& kv_type) : model_(&model) {
  const ModelConfig& c = model.config();
  BIGDL_CHECK(n_positions >= 1 && n_positions <= int64_t(INT32_MAX) * kKvBlock, ValueError, "kv_cache", "n_positions ",
              n_positions, " is out of range");
  const KvType type = parse_kv_type(kv_type, "kv_cache");
  kv_type_ = kv_type_name(type);
  pool_ = std::make_shared<KvPool>(type, c.n_layer, c.n_head_kv * c.head_dim, (n_positions + kKvBlock - 1) / kKvBlock);
}
KvCache::~KvCache() = default;
int64_t KvCache::n_blocks() const { return pool_->n_blocks(); }
int64_t KvCache::blocks_used() const { return pool_->n_blocks() - pool_->free_blocks(); }
int64_t KvCache::bytes() const { return pool_->bytes(); }

Context::~Context() = default;
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;

const Model& Context::model() const { return *impl_->model; }
int64_t Context::n_ctx() const { return impl_->n_ctx; }
const std::string& Context::kv_type() const { return impl_->kv_type; }
int64_t Context::kv_bytes() const { return impl_->pool->bytes(); }
int64_t Context::kv_blocks_used() const { return int64_t(impl_->seq->table().size()); }
std::span<const int32_t> Context::kv_blocks() const { return impl_->seq->table(); }
void Context::share_prefix(const Context& src, int64_t n) { impl_->seq->share(*src.impl_->seq, n); }

const float* Context::forward(int32_t token, int64_t pos) {
  BIGDL_CHECK(pos >= 0 && pos < impl_->n_ctx, IndexError, "llm", "position ", pos, " out of range [0, ", impl_->n_ctx,
              ") of the context");
  return impl_->forward(&token, 1, pos, false, /*single=*/true);
}

const float* Context::forward_batch(const int32_t* tokens, int64_t n, int64_t pos0) {
  return impl_->forward(tokens, n, pos0, false);
}

const float* Context::forward_batch_all(const int32_t* tokens, int64_t n, int64_t pos0) {
  return impl_->forward(tokens, n, pos0, true);
}

const float* Context::forward_batch_embd(const int32_t* tokens, int64_t n, int64_t pos0) {
  return impl_->forward(tokens, n, pos0, true, false, /*hidden=*/true);
}

void Context::clear() { impl_->seq->truncate(0); }
const ContextStats& Context::stats() const { return impl_->stats; }
void Context::reset_stats() { impl_->stats = ContextStats{}; }

std::vector<const float*> forward_batch(std::span<const BatchSeq> items) {
  std::vector<const float*> out;
  if (items.empty()) return out;
  std::vector<SeqRun> runs;
  runs.reserve(items.size());
  // Every item is checked before any context changes, so a bad item leaves all untouched.
  const Model* model = nullptr;
  for (size_t i = 0; i < items.size(); ++i) {
    const BatchSeq& b = items[i];
    BIGDL_CHECK(b.ctx != nullptr, ValueError, "llm", "batch item ", i, " has no context");
    if (model == nullptr) model = &b.ctx->model();
    BIGDL_CHECK(&b.ctx->model() == model, ValueError, "llm", "batch item ", i, " is a context of another model");
    for (size_t j = 0; j < i; ++j)
      BIGDL_CHECK(items[j].ctx != b.ctx, ValueError, "llm", "batch items ", j, " and ", i, " are the same context");
    b.ctx->impl().check(b.tokens, b.n, b.pos0);
  }
  for (const BatchSeq& b : items) b.ctx->impl().prepare(b.tokens, b.n, b.pos0);
  for (const BatchSeq& b : items) runs.push_back(b.ctx->impl().run(b.tokens, b.n, b.pos0, b.all_logits));
  model->impl().forward(runs);
  for (const BatchSeq& b : items) out.push_back(b.ctx->impl().out.data());
  return out;
}

std::vector<int32_t> generate_greedy(Context& ctx, const std::vector<int32_t>& prompt, int64_t max_new_tokens) {
  const int64_t n_ctx = ctx.n_ctx();
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  BIGDL_CHECK(n_prompt > 0, ValueError, "llm", "the prompt is empty");
  BIGDL_CHECK(n_prompt <= n_ctx, ValueError, "llm", "prompt of ", n_prompt, " tokens exceeds the context length ",
              n_ctx);
  std::vector<int32_t> out;
  if (max_new_tokens <= 0) return out;
  const float* logits = nullptr;
  for (int64_t p = 0; p < n_prompt; ++p) logits = ctx.forward(prompt[p], p);
  int64_t pos = n_prompt;
  for (;;) {
    const int32_t next = argmax(logits, ctx.config().n_vocab);
    out.push_back(next);
    if (static_cast<int64_t>(out.size()) >= max_new_tokens || pos >= n_ctx) break;
    logits = ctx.forward(next, pos++);
  }
  return out;
}

}  // namespace bigdl::llm
