// bf16 autocast's kernels against scalar references: the bf16 GEMM
// (src/backend/cpu/onednn_matmul.h) equals the f32 sum of bf16-rounded products for every
// transpose, leading dimension, accumulation and thread count; linear / conv2d and their
// gradients under AutocastBf16Guard stay within bf16 rounding of f32. Native bf16 CPUs
// only; elsewhere turning autocast on must be a ValueError (checked).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "backend/cpu/onednn_infer.h"
#include "backend/cpu/onednn_matmul.h"
#include "bigdl/autograd.h"
#include "bigdl/error.h"
#include "bigdl/ops.h"
#include "bigdl/random.h"
#include "bigdl/tensor.h"
#include "test_util.h"

using namespace bigdl;

namespace {

float bf16_round(float f) { return bf16_to_float(float_to_bf16(f)); }  // nearest even, as the kernels

bool skip_without_bf16() {
  if (detail::native_bf16()) return false;
  EXPECT_THROW(set_autocast_bf16(true), ValueError);
  EXPECT_FALSE(autocast_bf16());
  return true;
}

}  // namespace

TEST(Bf16Gemm, EqualsRoundedReference) {
  if (skip_without_bf16()) GTEST_SKIP() << "no AVX-512 BF16 / AMX-BF16 on this CPU: bf16 autocast is refused (checked)";
  const int64_t n = 13, m = 21, k = 37;
  Generator g(1);
  const Tensor A = randn({n + 3, k + 5}, DType::f32, &g), B = randn({k + 5, m + 7}, DType::f32, &g);
  for (int threads : {1, 2})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (float beta : {0.f, 1.f}) {
          set_num_threads(threads);
          // Stored operands: A as [n, k] or its transpose [k, n]; leading dims wider than the rows.
          const int64_t lda = ta ? n + 3 : k + 5, ldb = tb ? k + 5 : m + 7, ldc = m + 2;
          const float* a = A.data<float>();
          const float* b = B.data<float>();
          const auto av = [&](int64_t i, int64_t j) { return ta ? a[j * lda + i] : a[i * lda + j]; };
          const auto bv = [&](int64_t i, int64_t j) { return tb ? b[j * ldb + i] : b[i * ldb + j]; };
          std::vector<float> c(size_t(n * ldc), 0.5f), ref(c);
          for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < m; ++j) {
              double s = 0;
              for (int64_t q = 0; q < k; ++q) s += double(bf16_round(av(i, q))) * bf16_round(bv(q, j));
              ref[size_t(i * ldc + j)] = float(s + beta * ref[size_t(i * ldc + j)]);
            }
          detail::bf16_gemm(n, m, k, a, lda, ta, b, ldb, tb, c.data(), ldc, beta);
          double err = 0;
          for (size_t i = 0; i < c.size(); ++i) err = std::max(err, double(std::fabs(c[i] - ref[i])));
          EXPECT_LT(err, 1e-4) << "ta " << ta << " tb " << tb << " beta " << beta << " threads " << threads;
          EXPECT_EQ(c[size_t(m)], 0.5f);  // the padding between rows of C is not touched
        }
}

TEST(Bf16Autocast, LinearAndConvGradientsNearF32) {
  if (skip_without_bf16()) GTEST_SKIP() << "no AVX-512 BF16 / AMX-BF16 on this CPU: bf16 autocast is refused (checked)";
  manual_seed(2);
  const Tensor x0 = randn({8, 3, 12, 12}), w0 = randn({6, 3, 3, 3}) * 0.3, b0 = randn({6}), lw0 = randn({5, 6 * 10 * 10}) * 0.05;
  const auto run = [&](bool bf16) {
    AutocastBf16Guard guard(bf16);
    Tensor x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_(), b = b0.clone().requires_grad_(),
           lw = lw0.clone().requires_grad_();
    Tensor y = linear(relu(conv2d(x, w, b, {1, 1}, {0, 0}, {1, 1}, 1)).reshape({8, -1}), lw, Tensor());
    sum(mul(y, y)).backward();
    return std::vector<Tensor>{y.detach(), x.grad(), w.grad(), b.grad(), lw.grad()};
  };
  const auto f32 = run(false), b16 = run(true);
  EXPECT_FALSE(autocast_bf16());  // the guard restored it
  const char* names[] = {"y", "dx", "dw", "db", "dlinear"};
  for (size_t i = 0; i < f32.size(); ++i) {
    const double e = test_util::rel_diff(b16[i], f32[i]);
    std::printf("bf16 autocast: %s max error %.2e of the largest\n", names[i], e);
    // Two layers of 8-bit mantissas, forward and backward, f32 sums; gradients through
    // the ReLU's kinks and cancelling sums move most (measured up to 4.4 %). A wrong
    // transpose or layout is O(1).
    EXPECT_LT(e, 8e-2) << names[i];
    EXPECT_GT(e, 0.0) << names[i];   // really bf16
  }
}
