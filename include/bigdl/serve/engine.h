// Continuous batching for `bigdl llm serve`: many generation requests on one model, one
// forward pass per step over every active sequence (docs/serve.md).
//
//   serve::Engine engine(model, vocab, {.parallel = 8});
//   auto h = engine.submit(req);         // throws QueueFull when the waiting queue is full
//   for (serve::Event e; h->next(e);) ... // text pieces, then one Done (or Error) event
//   h->cancel();                         // e.g. the client went away: its slot is freed
//
// A scheduler thread owns `parallel` slots, each a Context; their KV caches are blocks of
// one shared pool (llm::KvCache, room for parallel x n_ctx positions, resident as used). Each
// step it admits waiting requests into free slots, then runs ONE llm::forward_batch over
// (a) the next prompt chunk (<= 256 tokens) of every sequence still prefilling and (b) the
// last sampled token of every decoding sequence; requests join and leave at token
// boundaries. Sampling, stop strings and text streaming are llm::Generation's, so a request
// gives the tokens generate() gives alone (bit for bit for packed weights: forward_batch
// computes each sequence's rows as its own forward would).
//
// Prefix reuse: a slot keeps its KV cache after a request completes. A new request takes
// the free slot whose cache shares the longest prefix with its prompt; when another slot,
// running or idle, holds a longer one, the request's slot takes that prefix with
// Context::share_prefix (its whole blocks shared, copy on write: a system prompt is
// computed once and held once however many requests use it). Only the rest is fed. The
// result is the same (bit for bit for packed weights). A request that fails or is
// cancelled leaves its slot empty.
//
// Deadlines: a request past its deadline ends with an Error event ("deadline exceeded").
// drain(): no new requests (submit throws Draining), returns when every admitted one ended.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bigdl/llm/generate.h"
#include "bigdl/llm/json_constraint.h"
#include "bigdl/llm/model.h"
#include "bigdl/llm/vocab.h"

namespace bigdl::serve {

using Clock = std::chrono::steady_clock;

struct EngineOptions {
  int parallel = 4;           // sequences decoded together (slots)
  int64_t n_ctx = 0;          // positions per sequence; 0: min(the model's n_ctx_train, 4096)
  std::string kv_type = "f16";
  int64_t max_queue = 64;     // requests waiting for a slot; more: QueueFull
};

struct Request {
  std::vector<llm::TokenId> prompt;  // BOS included, non-empty, at most n_ctx tokens
  llm::GenerateOptions gen;          // max_new_tokens, sampler, stop ids / strings (callback: the engine's)
  int top_logprobs = -1;             // < 0: no logprobs; else the chosen token's and this many alternatives
  bool json_object = false;          // constrain the output to one JSON object (llm::JsonConstraint)
  Clock::time_point deadline = Clock::time_point::max();
};

struct TokenLogprob {
  llm::TokenId id = 0;
  float logprob = 0;  // log-softmax of the raw logits
};

struct Event {
  enum Kind { Text, Done, Error } kind = Text;
  std::string text;                     // Text: the piece that became complete
  std::vector<TokenLogprob> logprobs;   // Text with logprobs: [chosen, top...] per token in this piece
  llm::GenerateResult result;           // Done: ids, text, n_prompt, n_generated, stop_reason
  std::string error;                    // Error: one line
  double ttft_s = 0;                    // Done: submit to first token
};

class QueueFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class Draining : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One request's side of the engine: events in order, and cancellation.
class Handle {
 public:
  // Blocks until the next event (true) or until the stream has ended and every event was
  // taken (false). With a timeout: false also when none arrived in time (timed_out set).
  bool next(Event& out);
  bool next_for(Event& out, std::chrono::milliseconds timeout, bool& timed_out);
  void cancel();
  bool cancelled() const;

 private:
  friend class Engine;
  void push(Event e);
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  bool ended_ = false;
  bool cancelled_ = false;
};

struct EngineStats {
  int64_t waiting = 0, active = 0;
  int64_t requests_done = 0, requests_failed = 0, requests_cancelled = 0, requests_rejected = 0;
  int64_t prompt_tokens = 0, generated_tokens = 0, steps = 0;
  int64_t prompt_tokens_cached = 0;  // prompt tokens not fed: a slot's cache held them
  double ttft_sum_s = 0;  // over requests_done
  int64_t kv_blocks_used = 0;    // distinct KV blocks running sequences hold (shared ones once)
  int64_t kv_blocks_cached = 0;  // the pool's other blocks in use: what idle slots keep for prefix reuse
  int64_t kv_blocks_total = 0;   // blocks of the pool
  int64_t prompt_tokens_shared = 0;  // of prompt_tokens_cached, taken from another slot (share_prefix)
  double busy_s = 0;      // time spent in forward passes
};

class Engine {
 public:
  Engine(std::shared_ptr<const llm::Model> model, const llm::Vocab& vocab, const EngineOptions& options = {});
  ~Engine();  // stops the scheduler; requests still running end with an Error event
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request. Errors: QueueFull, Draining, ValueError for an empty prompt, one
  // longer than n_ctx, max_new_tokens 0, or options the sampler refuses (checked here, so
  // the HTTP layer can answer 400).
  std::shared_ptr<Handle> submit(Request request);
  // Refuses new requests from now on and waits until the admitted ones have ended.
  void drain();
  EngineStats stats() const;
  int64_t n_ctx() const { return n_ctx_; }
  const EngineOptions& options() const { return options_; }
  const llm::ModelConfig& config() const { return model_->config(); }

 private:
  struct Slot;
  struct Pending {
    Request req;
    std::shared_ptr<Handle> handle;
    Clock::time_point submitted;
    std::unique_ptr<llm::Generation> gen;  // made (and its options checked) by submit()
  };
  void loop();
  void start(Slot& s, Pending p);
  void finish(Slot& s, Event e, bool failed);

  std::shared_ptr<const llm::Model> model_;
  const llm::Vocab& vocab_;
  EngineOptions options_;
  int64_t n_ctx_ = 0;
  std::shared_ptr<llm::KvCache> cache_;  // every slot's blocks
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<char> block_seen_;         // stats: blocks counted this step
  mutable std::mutex mu_;
  std::condition_variable cv_;       // work arrived / stop
  std::condition_variable idle_cv_;  // a request ended (drain)
  std::deque<Pending> waiting_;
  bool stop_ = false, draining_ = false;
  EngineStats stats_;
  std::thread thread_;
};

}  // namespace bigdl::serve
