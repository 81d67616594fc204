// Continuous batching (bigdl/serve/engine.h).
#include "bigdl/serve/engine.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <span>
#include <utility>

#include "bigdl/error.h"

namespace bigdl::serve {

// ---- Handle ----

void Handle::push(Event e) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (ended_) return;
    if (e.kind != Event::Text) ended_ = true;
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

bool Handle::next(Event& out) {
  bool timed_out = false;
  return next_for(out, std::chrono::milliseconds::max(), timed_out);
}

bool Handle::next_for(Event& out, std::chrono::milliseconds timeout, bool& timed_out) {
  std::unique_lock<std::mutex> lk(mu_);
  const auto ready = [&] { return !events_.empty() || ended_; };
  timed_out = false;
  if (timeout == std::chrono::milliseconds::max()) {
    cv_.wait(lk, ready);
  } else if (!cv_.wait_for(lk, timeout, ready)) {
    timed_out = true;
    return false;
  }
  if (events_.empty()) return false;
  out = std::move(events_.front());
  events_.pop_front();
  return true;
}

void Handle::cancel() {
  std::lock_guard<std::mutex> lk(mu_);
  cancelled_ = true;
}

bool Handle::cancelled() const {
  std::lock_guard<std::mutex> lk(mu_);
  return cancelled_;
}

// ---- Engine ----

struct Engine::Slot {
  explicit Slot(llm::Context c) : ctx(std::move(c)) {}
  llm::Context ctx;
  bool busy = false;
  Pending p;
  std::unique_ptr<llm::Generation> gen;
  std::unique_ptr<llm::JsonConstraint> json;  // response_format json_object
  std::vector<float> masked;                   // its copy of the logits
  std::vector<int32_t> lp_idx;                 // logprobs_of's scratch
  std::vector<llm::TokenId> cached;            // the tokens at positions 0.. of ctx's KV cache
  int64_t fed = 0;           // prompt tokens fed
  bool decoding = false;     // the whole prompt is in the cache
  llm::TokenId next = 0;     // the token to feed (decoding)
  int64_t pos = 0;           // ... at this position
  bool got_first = false;
  double ttft_s = 0;
  std::string piece;         // text the Generation emitted during this step
};

namespace {
constexpr int64_t kPrefillChunk = 256;  // prompt tokens per sequence per step (as generate())

// log-softmax of the raw logits at `id`, and the `top` largest alternatives; idx: the
// slot's scratch (no vocab-sized allocation per token).
std::vector<TokenLogprob> logprobs_of(const float* logits, int64_t n, llm::TokenId id, int top, std::vector<int32_t>& idx) {
  float mx = logits[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - mx);
  const double lse = double(mx) + std::log(sum);
  std::vector<TokenLogprob> out{{id, float(double(logits[id]) - lse)}};
  if (top > 0) {
    idx.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) idx[size_t(i)] = int32_t(i);
    const auto k = static_cast<ptrdiff_t>(std::min<int64_t>(top, n));
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    for (ptrdiff_t i = 0; i < k; ++i) out.push_back({idx[size_t(i)], float(double(logits[idx[size_t(i)]]) - lse)});
  }
  return out;
}

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

Engine::Engine(std::shared_ptr<const llm::Model> model, const llm::Vocab& vocab, const EngineOptions& options)
    : model_(std::move(model)), vocab_(vocab), options_(options) {
  BIGDL_CHECK(options_.parallel >= 1 && options_.parallel <= 256, ValueError, "serve", "--parallel must be in [1, 256], got ",
              options_.parallel);
  BIGDL_CHECK(options_.max_queue >= 0, ValueError, "serve", "the queue length must be >= 0, got ", options_.max_queue);
  BIGDL_CHECK(model_->config().causal, ValueError, "serve", "the model is an encoder (", model_->config().arch,
              "): the engine generates text and needs a decoder model (the server answers /v1/embeddings for encoders without it)");
  n_ctx_ = options_.n_ctx > 0 ? options_.n_ctx : std::min<int64_t>(model_->config().n_ctx_train > 0 ? model_->config().n_ctx_train : 4096, 4096);
  cache_ = std::make_shared<llm::KvCache>(*model_, options_.parallel * n_ctx_, options_.kv_type);
  for (int i = 0; i < options_.parallel; ++i)
    slots_.push_back(std::make_unique<Slot>(llm::Context(model_, {.n_ctx = n_ctx_, .cache = cache_})));
  block_seen_.assign(size_t(cache_->n_blocks()), 0);
  stats_.kv_blocks_total = cache_->n_blocks();
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  Event e;
  e.kind = Event::Error;
  e.error = "the server is shutting down";
  for (auto& s : slots_)
    if (s->busy) s->p.handle->push(e);
  for (auto& p : waiting_) p.handle->push(e);
}

std::shared_ptr<Handle> Engine::submit(Request request) {
  BIGDL_CHECK(!request.prompt.empty(), ValueError, "serve", "the prompt is empty");
  BIGDL_CHECK(request.gen.max_new_tokens != 0, ValueError, "serve", "max_new_tokens is 0: nothing to generate");
  BIGDL_CHECK(int64_t(request.prompt.size()) <= n_ctx_, ValueError, "serve", "the prompt has ",
              request.prompt.size(), " tokens, more than the context length ", n_ctx_);
  // The Generation is made here, so a bad option (the sampler's ranges, an empty stop
  // string) fails the submit, not the scheduler thread; start() gives it its callback.
  auto gen = std::make_unique<llm::Generation>(vocab_, config().n_vocab, n_ctx_, request.prompt, request.gen);
  auto h = std::make_shared<Handle>();
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (draining_ || stop_) throw Draining("the server is shutting down");
    if (int64_t(waiting_.size()) >= options_.max_queue) {
      ++stats_.requests_rejected;
      throw QueueFull("the request queue is full (" + std::to_string(options_.max_queue) + " waiting)");
    }
    waiting_.push_back({std::move(request), h, Clock::now(), std::move(gen)});
    stats_.waiting = int64_t(waiting_.size());
  }
  cv_.notify_one();
  return h;
}

void Engine::drain() {
  std::unique_lock<std::mutex> lk(mu_);
  draining_ = true;
  // stats_.active is set under mu_ at admission and after each step's accounting, so
  // when this returns the stats already show the last request's blocks given back.
  idle_cv_.wait(lk, [&] { return waiting_.empty() && stats_.active == 0; });
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  return stats_;
}

namespace {
// Tokens at the start of `prompt` that `cached` holds, leaving at least the last prompt
// token to feed (its logits start the answer).
int64_t reusable(const std::vector<llm::TokenId>& cached, const std::vector<llm::TokenId>& prompt) {
  const size_t n = std::min(cached.size(), prompt.size() - 1);
  size_t i = 0;
  while (i < n && cached[i] == prompt[i]) ++i;
  return int64_t(i);
}
}  // namespace

// The slot keeps its cache between requests: a prompt that starts like the slot's last
// conversation (a shared system prompt, the next turn of a chat) feeds only the rest. The
// positions past the common prefix are overwritten as the new tokens are fed.
void Engine::start(Slot& s, Pending p) {
  s.p = std::move(p);
  s.busy = true;
  s.fed = reusable(s.cached, s.p.req.prompt);
  s.cached.resize(size_t(s.fed));
  s.decoding = false;
  s.got_first = false;
  s.piece.clear();
  s.gen = std::move(s.p.gen);
  s.gen->set_callback([&s](std::string_view piece) { s.piece += piece; });
  s.json.reset();
  if (s.p.req.json_object) s.json = std::make_unique<llm::JsonConstraint>(vocab_, s.gen->options().stop_ids);
}

// Ends the slot's request with e and frees the slot; after a Done its cache stays for the
// next request's prefix, after an Error it is cleared.
void Engine::finish(Slot& s, Event e, bool failed) {
  if (e.kind != Event::Done) {
    s.ctx.clear();
    s.cached.clear();
  }
  s.p.handle->push(std::move(e));
  s.busy = false;
  s.gen.reset();
  s.json.reset();
  std::lock_guard<std::mutex> lk(mu_);
  if (failed) ++stats_.requests_failed;  // drain() is woken after the step's accounting
}

void Engine::loop() {
  std::vector<llm::BatchSeq> items;
  std::vector<Slot*> owners;
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] {
        if (stop_ || !waiting_.empty()) return true;
        for (const auto& s : slots_)
          if (s->busy) return true;
        return false;
      });
      if (stop_) return;
      // Waiting requests that were cancelled or ran out of time leave the queue.
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        const bool cancelled = it->handle->cancelled(), late = Clock::now() > it->req.deadline;
        if (!cancelled && !late) {
          ++it;
          continue;
        }
        it->handle->push(Event{Event::Error, "", {}, {}, cancelled ? "cancelled" : "deadline exceeded", 0});
        cancelled ? ++stats_.requests_cancelled : ++stats_.requests_failed;
        it = waiting_.erase(it);
      }
      // Each waiting request, in order, takes the free slot whose cache shares the longest
      // prefix with its prompt; when another slot (running or idle) holds a longer one, the
      // emptiest free slot takes that prefix's blocks from it.
      while (!waiting_.empty()) {
        const std::vector<llm::TokenId>& prompt = waiting_.front().req.prompt;
        Slot *best = nullptr, *emptiest = nullptr, *source = nullptr;
        int64_t best_reuse = -1, source_reuse = -1;
        for (auto& s : slots_) {
          const int64_t r = reusable(s->cached, prompt);
          if (r > source_reuse) source = s.get(), source_reuse = r;
          if (s->busy) continue;
          if (r > best_reuse) best = s.get(), best_reuse = r;
          if (!emptiest || s->cached.size() < emptiest->cached.size()) emptiest = s.get();
        }
        if (!best) break;
        if (source_reuse > best_reuse) {
          best = emptiest;
          best->ctx.share_prefix(source->ctx, source_reuse);
          best->cached.assign(prompt.begin(), prompt.begin() + source_reuse);
          stats_.prompt_tokens_shared += source_reuse;
        }
        Pending p = std::move(waiting_.front());
        waiting_.pop_front();
        start(*best, std::move(p));
        stats_.prompt_tokens_cached += best->fed;
      }
      stats_.waiting = int64_t(waiting_.size());
      int64_t active = 0;
      for (const auto& s : slots_) active += s->busy ? 1 : 0;
      stats_.active = active;
      idle_cv_.notify_all();
    }
    // Cancelled or late running requests end here; the rest form this step's batch.
    items.clear();
    owners.clear();
    for (auto& sp : slots_) {
      Slot& s = *sp;
      if (!s.busy) continue;
      if (s.p.handle->cancelled()) {
        finish(s, Event{Event::Error, "", {}, {}, "cancelled", 0}, false);
        std::lock_guard<std::mutex> lk(mu_);
        ++stats_.requests_cancelled;
        continue;
      }
      if (Clock::now() > s.p.req.deadline) {
        finish(s, Event{Event::Error, "", {}, {}, "deadline exceeded", 0}, true);
        continue;
      }
      const auto& prompt = s.p.req.prompt;
      if (!s.decoding) {
        const int64_t n = std::min<int64_t>(kPrefillChunk, int64_t(prompt.size()) - s.fed);
        items.push_back({&s.ctx, prompt.data() + s.fed, n, s.fed, false});
      } else {
        items.push_back({&s.ctx, &s.next, 1, s.pos, false});
      }
      owners.push_back(&s);
    }
    int64_t kv_used = 0;
    if (!items.empty()) {
      const auto t0 = Clock::now();
      std::vector<const float*> logits;
      try {
        logits = llm::forward_batch(std::span<const llm::BatchSeq>(items));
      } catch (const std::exception& ex) {
        for (Slot* s : owners) finish(*s, Event{Event::Error, "", {}, {}, ex.what(), 0}, true);
        continue;
      }
      const double busy = since(t0);
      int64_t prompt_tokens = 0, generated = 0, done = 0;
      double ttft = 0;
      for (size_t i = 0; i < owners.size(); ++i) {
        Slot& s = *owners[i];
        s.cached.insert(s.cached.end(), items[i].tokens, items[i].tokens + items[i].n);
        if (!s.decoding) {
          s.fed += items[i].n;
          prompt_tokens += items[i].n;
          if (s.fed < int64_t(s.p.req.prompt.size())) continue;
          s.decoding = true;
        }
        const int64_t pos = s.gen->pos();
        std::vector<TokenLogprob> lp;
        llm::TokenId tok;
        try {
          const float* l = logits[i];
          if (s.json) {  // tokens that cannot continue the JSON object are masked out
            s.masked.assign(l, l + config().n_vocab);
            s.json->mask(s.masked.data(), config().n_vocab);
            l = s.masked.data();
          }
          tok = s.gen->step(l);
          if (s.json) s.json->accept(tok);
          if (s.p.req.top_logprobs >= 0) lp = logprobs_of(logits[i], config().n_vocab, tok, s.p.req.top_logprobs, s.lp_idx);
        } catch (const std::exception& ex) {
          finish(s, Event{Event::Error, "", {}, {}, ex.what(), 0}, true);
          continue;
        }
        ++generated;
        if (!s.got_first) {
          s.got_first = true;
          s.ttft_s = since(s.p.submitted);
        }
        if (!s.piece.empty() || !lp.empty()) {
          s.p.handle->push(Event{Event::Text, std::move(s.piece), std::move(lp), {}, "", 0});
          s.piece.clear();
        }
        if (s.gen->done()) {
          Event e{Event::Done, "", {}, std::move(s.gen->result()), "", s.ttft_s};
          ttft += s.ttft_s;
          ++done;
          finish(s, std::move(e), false);
        } else {
          s.next = tok;
          s.pos = pos;
        }
      }
      std::lock_guard<std::mutex> lk(mu_);
      stats_.busy_s += busy;
      stats_.prompt_tokens += prompt_tokens;
      stats_.generated_tokens += generated;
      stats_.requests_done += done;
      stats_.ttft_sum_s += ttft;
      ++stats_.steps;
    }
    // Distinct blocks of running sequences (a shared prefix counts once).
    for (auto& sp : slots_)
      if (sp->busy)
        for (int32_t b : sp->ctx.kv_blocks())
          if (!block_seen_[size_t(b)]) block_seen_[size_t(b)] = 1, ++kv_used;
    for (auto& sp : slots_)
      for (int32_t b : sp->ctx.kv_blocks()) block_seen_[size_t(b)] = 0;
    const int64_t kv_all = cache_->blocks_used();
    std::lock_guard<std::mutex> lk(mu_);
    stats_.kv_blocks_used = kv_used;
    stats_.kv_blocks_cached = kv_all - kv_used;
    int64_t active = 0;
    for (const auto& s : slots_) active += s->busy ? 1 : 0;
    stats_.active = active;
    idle_cv_.notify_all();
  }
}

}  // namespace bigdl::serve
