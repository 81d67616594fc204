// Shared KV cache (llm::KvCache) and Context::share_prefix: contexts on one block pool,
// a prefix taken over by sharing blocks, copy on write, and the block accounting the
// server's /metrics reports. Model: stories260K q4_0 (packed weights). Each comparison
// is against a context of its own pool fed in the same batches, so logits must be equal
// bit for bit (sharing moves no arithmetic).
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/llm/model.h"
#include "llm/llm_test_util.h"

namespace {

using namespace bigdl::llm;

std::vector<int32_t> random_tokens(int64_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& x : t) x = int32_t(3 + g() % 500);
  return t;
}

std::vector<float> copy_logits(const float* p) { return std::vector<float>(p, p + 512); }

struct KvShare : ::testing::Test {
  std::shared_ptr<const Model> model = load_model(llm_test::kStoriesDir + "stories260K-q4_0.gguf");
  std::vector<int32_t> prompt = random_tokens(150, 1), other = random_tokens(36, 2);
  const int32_t next = 77;
};

TEST_F(KvShare, SharedPrefixGivesTheSameLogitsAndCopiesOnWrite) {
  auto cache = std::make_shared<KvCache>(*model, 8 * 256);
  Context a(model, {.n_ctx = 256, .cache = cache}), b(model, {.n_ctx = 256, .cache = cache});
  a.forward_batch(prompt.data(), 150, 0);
  EXPECT_EQ(a.kv_blocks_used(), 3);
  EXPECT_EQ(cache->blocks_used(), 3);

  // b takes a's first 130 positions: blocks 0 and 1 shared, block 2 (rows 128, 129) copied.
  b.share_prefix(a, 130);
  EXPECT_EQ(b.kv_blocks_used(), 3);
  EXPECT_EQ(cache->blocks_used(), 4);
  EXPECT_EQ(b.kv_blocks()[0], a.kv_blocks()[0]);
  EXPECT_EQ(b.kv_blocks()[1], a.kv_blocks()[1]);
  EXPECT_NE(b.kv_blocks()[2], a.kv_blocks()[2]);

  // a overwrites positions 64..99 (a new request after a common prefix of 64): block 1 is
  // copied for a first, so b's positions stay the old ones.
  const auto a_new = copy_logits(a.forward_batch(other.data(), 36, 64));
  EXPECT_EQ(cache->blocks_used(), 5);
  EXPECT_NE(a.kv_blocks()[1], b.kv_blocks()[1]);
  EXPECT_EQ(a.kv_blocks()[0], b.kv_blocks()[0]);  // untouched: still shared

  b.forward_batch(prompt.data() + 130, 20, 130);
  const auto b_next = copy_logits(b.forward(next, 150));

  // References: own pools, the same batches.
  Context r(model, {.n_ctx = 256});
  r.forward_batch(prompt.data(), 150, 0);
  r.forward_batch(prompt.data() + 130, 20, 130);
  EXPECT_EQ(copy_logits(r.forward(next, 150)), b_next);
  Context r2(model, {.n_ctx = 256});
  r2.forward_batch(prompt.data(), 150, 0);
  EXPECT_EQ(copy_logits(r2.forward_batch(other.data(), 36, 64)), a_new);

  // Sharing a whole prefix of full blocks copies nothing.
  Context c(model, {.n_ctx = 256, .cache = cache});
  c.share_prefix(b, 128);
  EXPECT_EQ(cache->blocks_used(), 5);
  EXPECT_EQ(copy_logits(c.forward_batch(prompt.data() + 128, 22, 128)),
            copy_logits(r.forward_batch(prompt.data() + 128, 22, 128)));
  EXPECT_EQ(cache->blocks_used(), 6);  // c's own block for positions 128..149
}

TEST_F(KvShare, BlocksReturnToThePool) {
  auto cache = std::make_shared<KvCache>(*model, 4 * 64);
  {
    Context a(model, {.n_ctx = 256, .cache = cache}), b(model, {.n_ctx = 256, .cache = cache});
    a.forward_batch(prompt.data(), 150, 0);
    b.share_prefix(a, 150);
    EXPECT_EQ(cache->blocks_used(), 4);
    a.clear();
    EXPECT_EQ(cache->blocks_used(), 3);  // b still holds the shared blocks and its copy
    // The pool is 4 blocks: a can take one; b's next write needs no new block.
    a.forward_batch(prompt.data(), 10, 0);
    b.forward(next, 150);
    EXPECT_EQ(cache->blocks_used(), 4);
    EXPECT_THROW(a.forward_batch(prompt.data(), 100, 10), bigdl::ValueError);  // pool full
  }
  EXPECT_EQ(cache->blocks_used(), 0);
}

TEST_F(KvShare, Errors) {
  auto cache = std::make_shared<KvCache>(*model, 512);
  Context a(model, {.n_ctx = 256, .cache = cache}), own(model, {.n_ctx = 256});
  a.forward_batch(prompt.data(), 100, 0);
  EXPECT_THROW(own.share_prefix(a, 10), bigdl::ValueError);  // not the same pool
  Context b(model, {.n_ctx = 64, .cache = cache});
  EXPECT_THROW(b.share_prefix(a, 100), bigdl::ValueError);   // beyond b's n_ctx
  Context c(model, {.n_ctx = 256, .cache = cache});
  EXPECT_THROW(c.share_prefix(a, 129), bigdl::ValueError);   // a's blocks hold 128 positions
  auto other = load_model(llm_test::kStoriesF32);
  EXPECT_THROW(Context(other, {.cache = cache}), bigdl::ValueError);
  EXPECT_THROW(KvCache(*model, 0), bigdl::ValueError);
  EXPECT_THROW(KvCache(*model, 64, "int4"), bigdl::ValueError);
}

}  // namespace
