// Misuse that must end in a typed exception, never a crash.
#include <gtest/gtest.h>

#include <atomic>

#include "bigdl/ops.h"
#include "core/internal.h"

using namespace bigdl;

TEST(Robustness, UndefinedTensorThrows) {
  Tensor t;
  EXPECT_FALSE(t.defined());
  EXPECT_THROW(t.shape(), ValueError);
  EXPECT_THROW(t.numel(), ValueError);
  EXPECT_THROW(t.raw_data(), ValueError);
  EXPECT_THROW(t.grad(), ValueError);
  EXPECT_THROW(add(t, ones({2})), Error);
  EXPECT_THROW(matmul(ones({2, 2}), t), Error);
}

TEST(Robustness, ExceptionInsideParallelForReachesTheCaller) {
  const int before = get_num_threads();
  set_num_threads(2);
  std::atomic<int> ran{0};
  EXPECT_THROW(detail::parallel_for(1000, 1,
                                    [&](int64_t b, int64_t e) {
                                      ran += int(e - b);
                                      if (b == 0) throw IndexError("[test] boom");
                                    }),
               IndexError);
  // The pool still works afterwards.
  std::atomic<int64_t> total{0};
  detail::parallel_for(1000, 1, [&](int64_t b, int64_t e) { total += e - b; });
  EXPECT_EQ(total.load(), 1000);
  set_num_threads(before);
}
