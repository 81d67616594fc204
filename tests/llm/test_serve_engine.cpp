// The continuous-batching engine of `bigdl llm serve` (bigdl/serve/engine.h), without
// HTTP (tests/python/test_serve.py drives the server itself): requests submitted together,
// more than there are slots, each give exactly generate()'s tokens and text alone; a
// shared system prompt's blocks shared across slots; the queue bound, cancellation,
// deadlines and drain.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/llm/generate.h"
#include "bigdl/llm/model.h"
#include "bigdl/llm/vocab.h"
#include "bigdl/serve/engine.h"
#include "llm/llm_test_util.h"

namespace {

namespace llm = bigdl::llm;
namespace serve = bigdl::serve;

// stories260K quantized at load to Q4_0 (packed: a batched step equals each sequence alone
// bit for bit).
struct Fixture {
  std::shared_ptr<const llm::Model> model =
      llm::load_model(llm_test::kStoriesF32, {.low_bit = llm::LowBit::parse("sym_int4")});
  llm::Vocab vocab = llm::Vocab::load(llm_test::kStoriesF32);
};

serve::Request request(const llm::Vocab& vocab, const std::string& prompt, int64_t max_new, float temperature) {
  serve::Request r;
  r.prompt = llm::encode_prompt(vocab, prompt);
  r.gen.max_new_tokens = max_new;
  r.gen.sampler.temperature = temperature;
  r.gen.sampler.seed = 7;
  return r;
}

llm::GenerateResult run(serve::Handle& h, std::string* streamed = nullptr) {
  serve::Event e;
  while (h.next(e)) {
    if (e.kind == serve::Event::Text && streamed) *streamed += e.text;
    if (e.kind == serve::Event::Done) return e.result;
    if (e.kind == serve::Event::Error) throw std::runtime_error(e.error);
  }
  throw std::runtime_error("no result");
}

TEST(ServeEngine, BatchedRequestsEqualGenerateAlone) {
  Fixture f;
  const std::vector<std::string> prompts = {"Once upon a time", "The cat", "Lily wanted", "One day, a little",
                                            "Tom and Sue", "The sun was"};
  serve::Engine engine(f.model, f.vocab, {.parallel = 3, .n_ctx = 256});
  std::vector<std::shared_ptr<serve::Handle>> hs;
  for (size_t i = 0; i < prompts.size(); ++i)  // greedy and sampled (seeded) requests
    hs.push_back(engine.submit(request(f.vocab, prompts[i], 40, i % 2 ? 0.8f : 0.0f)));
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::string streamed;
    const llm::GenerateResult got = run(*hs[i], &streamed);
    llm::Context ctx(f.model, {.n_ctx = 256});
    const serve::Request r = request(f.vocab, prompts[i], 40, i % 2 ? 0.8f : 0.0f);
    const llm::GenerateResult want = llm::generate(ctx, f.vocab, prompts[i], r.gen);
    EXPECT_EQ(got.ids, want.ids) << prompts[i];
    EXPECT_EQ(got.text, want.text);
    EXPECT_EQ(streamed, want.text);
    EXPECT_EQ(got.stop_reason, want.stop_reason);
    EXPECT_EQ(got.n_prompt, want.n_prompt);
  }
  serve::EngineStats s = engine.stats();
  EXPECT_EQ(s.requests_done, 6);
  EXPECT_EQ(s.kv_blocks_used, 0);  // no running sequence holds blocks
  EXPECT_GT(s.kv_blocks_cached, 0);  // the idle slots keep their caches for prefix reuse
  EXPECT_LT(s.steps, 6 * 41);      // sequences shared forward passes
  // The same prompt again, longer: its prefix comes from a slot's cache, the answer is
  // generate()'s on a fresh context all the same.
  const std::string again = prompts[4] + " went to the park";
  const llm::GenerateResult got = run(*engine.submit(request(f.vocab, again, 40, 0.0f)));
  llm::Context ctx(f.model, {.n_ctx = 256});
  EXPECT_EQ(got.ids, llm::generate(ctx, f.vocab, again, request(f.vocab, again, 40, 0.0f).gen).ids);
  s = engine.stats();
  EXPECT_GE(s.prompt_tokens_cached, int64_t(llm::encode_prompt(f.vocab, prompts[4]).size()) - 1);
}

TEST(ServeEngine, SharedSystemPromptIsComputedOnceAndSharedAcrossSlots) {
  Fixture f;
  std::string system = "Once upon a time there was a little girl named Lily. She loved to play outside in the park.";
  system += " One day she saw a big red ball and she wanted to play with it, but it was too high for her.";
  system += " She asked her mom to help her get the ball, and her mom said yes.";
  const int64_t n_system = int64_t(llm::encode_prompt(f.vocab, system).size());
  ASSERT_GT(n_system, 64);  // at least one whole shared block
  serve::Engine engine(f.model, f.vocab, {.parallel = 4, .n_ctx = 4096});
  // The first request leaves the system prompt in slot 0's cache; a long one then takes
  // slot 0 again (its own cache) and keeps running.
  run(*engine.submit(request(f.vocab, system + " Tom", 8, 0.0f)));
  auto long_req = request(f.vocab, system + " Tom", 4000, 0.0f);  // runs until cancelled below
  long_req.gen.stop_ids = {-1};
  auto held = engine.submit(long_req);
  while (engine.stats().active == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
  // Two more: the free slots hold nothing, so each takes the prefix's blocks from a
  // running slot with share_prefix instead of computing them.
  const std::vector<std::string> tails = {" The cat", " Sue said"};
  std::vector<std::shared_ptr<serve::Handle>> hs;
  for (const auto& t : tails) hs.push_back(engine.submit(request(f.vocab, system + t, 30, 0.0f)));
  for (size_t i = 0; i < tails.size(); ++i) {
    const llm::GenerateResult got = run(*hs[i]);
    llm::Context ctx(f.model, {.n_ctx = 512});
    const std::string prompt = system + tails[i];
    EXPECT_EQ(got.ids, llm::generate(ctx, f.vocab, prompt, request(f.vocab, prompt, 30, 0.0f).gen).ids) << tails[i];
  }
  held->cancel();
  serve::Event e;
  while (held->next(e)) {
  }
  engine.drain();
  const serve::EngineStats s = engine.stats();
  EXPECT_GE(s.prompt_tokens_shared, 2 * (n_system - 1));
  EXPECT_GE(s.prompt_tokens_cached, 3 * (n_system - 1));
  EXPECT_EQ(s.kv_blocks_used, 0);
  EXPECT_EQ(s.kv_blocks_total, 4 * 4096 / 64);
  // The two idle slots that shared keep the system prompt's whole blocks in common with
  // each other (slot 0 was cancelled: its cache is cleared): fewer distinct blocks than
  // two separate copies.
  const int64_t per_slot = (n_system + 30 + 63) / 64;
  EXPECT_LT(s.kv_blocks_cached, 2 * per_slot);
}

TEST(ServeEngine, QueueBoundCancelDeadlineDrain) {
  Fixture f;
  serve::Engine engine(f.model, f.vocab, {.parallel = 1, .n_ctx = 1024, .max_queue = 1});
  // A long request (no EOS stop: it runs to 1000 tokens) holds the only slot.
  auto long_req = request(f.vocab, "Once upon a time", 1000, 0.0f);
  long_req.gen.stop_ids = {-1};
  auto a = engine.submit(long_req);
  while (engine.stats().waiting > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a took the slot
  // With one slot and one queue place, a third request at once is refused.
  std::shared_ptr<serve::Handle> b;
  int refused = 0;
  for (int i = 0; i < 3; ++i) {
    try {
      auto h = engine.submit(request(f.vocab, "The cat", 5, 0.0f));
      if (!b) b = h;
    } catch (const serve::QueueFull&) {
      ++refused;
    }
  }
  EXPECT_GE(refused, 1);
  a->cancel();
  serve::Event e;
  bool cancelled = false;
  while (a->next(e))
    if (e.kind == serve::Event::Error) cancelled = e.error == "cancelled";
  EXPECT_TRUE(cancelled);
  ASSERT_TRUE(b);
  EXPECT_NO_THROW(run(*b));
  auto late = request(f.vocab, "Lily", 200, 0.0f);
  late.deadline = serve::Clock::now();  // already past
  auto hl = engine.submit(late);
  std::string err;
  while (hl->next(e))
    if (e.kind == serve::Event::Error) err = e.error;
  EXPECT_EQ(err, "deadline exceeded");
  // Bad requests are refused at submit, with the one-line errors of generate().
  EXPECT_THROW(engine.submit(serve::Request{}), bigdl::ValueError);
  EXPECT_THROW(engine.submit(request(f.vocab, "x", 0, 0.0f)), bigdl::ValueError);
  auto bad = request(f.vocab, "x", 5, 0.5f);
  bad.gen.sampler.top_p = 2.0f;
  EXPECT_THROW(engine.submit(bad), bigdl::ValueError);
  auto running = engine.submit(request(f.vocab, "Tom", 30, 0.0f));
  engine.drain();  // waits for it
  EXPECT_NO_THROW(run(*running));
  EXPECT_THROW(engine.submit(request(f.vocab, "x", 5, 0.0f)), serve::Draining);
  EXPECT_EQ(engine.stats().kv_blocks_used, 0);
}

}  // namespace
