// Misuse that must end in a typed exception, never a crash.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>

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

TEST(Robustness, MaxPoolPropagatesNaNAndRoutesItsGradient) {
  // One 2x2 window per row of windows: [1, NaN; 3, 2] -> NaN; [4, 5; 6, 7] -> 7.
  Tensor x = from_vector(std::vector<float>{1, std::nanf(""), 4, 5, 3, 2, 6, 7}, {1, 1, 2, 4}).requires_grad_(true);
  Tensor y = max_pool2d(x, {2, 2}, {2, 2});
  const auto v = y.to_vector();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], 7.0f);
  sum(mul(y, from_vector(std::vector<float>{10, 20}, {1, 1, 1, 2}))).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{0, 10, 0, 0, 0, 0, 0, 20}));
}
