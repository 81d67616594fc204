// Forward values of the composite and kernel-backed ops against hand-computed
// numbers or small naive loops written here from the PyTorch definitions
// (convolution, pooling, matmul), independent of the engine's own code paths.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "bigdl/autograd.h"
#include "bigdl/ops.h"
#include "bigdl/random.h"
#include "bigdl/tensor.h"

namespace bigdl {
namespace {

Tensor f64v(std::vector<double> v, Shape s) { return from_vector(v, s, DType::f64); }
Tensor f32v(std::vector<float> v, Shape s) { return from_vector(v, s, DType::f32); }
Tensor i64v(std::vector<int64_t> v, Shape s) { return from_vector(v, s, DType::i64); }

void expect_values(const Tensor& t, const std::vector<double>& want, double tol = 0.0) {
  ASSERT_TRUE(t.defined());
  const auto got = t.to_double_vector();
  ASSERT_EQ(got.size(), want.size()) << t.to_string();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

void expect_close(const Tensor& got, const std::vector<double>& want, double tol) { expect_values(got, want, tol); }

// ------------------------------------------------------------------ matmul

std::vector<double> naive_mm(const std::vector<double>& a, const std::vector<double>& b, int64_t n, int64_t k,
                             int64_t m) {
  std::vector<double> c(size_t(n * m), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j)
      for (int64_t p = 0; p < k; ++p) c[size_t(i * m + j)] += a[size_t(i * k + p)] * b[size_t(p * m + j)];
  return c;
}

TEST(Matmul, HandValues) {
  const Tensor a = f64v({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = f64v({7, 8, 9, 10, 11, 12}, {3, 2});
  expect_values(matmul(a, b), {58, 64, 139, 154});
  expect_values(matmul(a.to(DType::f32), b.to(DType::f32)), {58, 64, 139, 154});
  EXPECT_EQ(matmul(a.to(DType::f32), b.to(DType::f32)).dtype(), DType::f32);
  EXPECT_EQ(matmul(a.to(DType::bf16), b.to(DType::bf16)).dtype(), DType::bf16);
  expect_values(matmul(a.to(DType::f16), b.to(DType::f16)), {58, 64, 139, 154});
  const Tensor v = f64v({1, 2, 3}, {3});
  EXPECT_EQ(matmul(v, f64v({4, 5, 6}, {3})).dim(), 0);
  EXPECT_EQ(matmul(v, f64v({4, 5, 6}, {3})).item(), 32);
  expect_values(matmul(a, v), {14, 32});
  expect_values(matmul(f64v({1, -1}, {2}), a), {-3, -3, -3});
  expect_values(matmul(a.t(), f64v({1, 1}, {2})), {5, 7, 9});
}

TEST(Matmul, StridedAndBatchedAgainstNaive) {
  Generator g(10);
  // Operands that are transposed, narrowed (leading dim > cols) or fully strided.
  const Tensor big = randn({7, 9}, DType::f64, &g);
  const Tensor a = big.narrow(0, 1, 4).narrow(1, 2, 5);  // [4,5], ld 9
  const Tensor bt = randn({6, 5}, DType::f64, &g).t();  // [5,6] transposed
  const Tensor c = randn({10, 12}, DType::f64, &g).narrow(0, 0, 10).t().narrow(0, 0, 6);  // [6,10] strided
  for (DType dt : {DType::f64, DType::f32}) {
    const double tol = dt == DType::f64 ? 1e-12 : 1e-5;
    const Tensor ab = matmul(a.to(dt), bt.to(dt));
    expect_close(ab, naive_mm(a.to_double_vector(), bt.to_double_vector(), 4, 5, 6), tol);
    const Tensor abc = matmul(ab, c.to(dt));
    expect_close(abc, naive_mm(ab.to_double_vector(), c.to_double_vector(), 4, 6, 10), tol * 10);
    const Tensor every_other = big.to(dt).t().narrow(0, 0, 8);  // [8, 7] from a transposed [9, 7]
    Tensor stepped = every_other.view({4, 2, 7}).select(1, 0);   // rows 0,2,4,6: stride 2 in the row dim
    expect_close(matmul(stepped, big.to(dt).narrow(1, 0, 3)),
                 naive_mm(stepped.to_double_vector(), big.narrow(1, 0, 3).to_double_vector(), 4, 7, 3), tol);
  }
  // Batched with broadcast batch dims: [2,1,3,4] x [3,4,2] -> [2,3,3,2].
  const Tensor x = randn({2, 1, 3, 4}, DType::f64, &g);
  const Tensor y = randn({3, 4, 2}, DType::f64, &g);
  const Tensor z = matmul(x, y);
  EXPECT_EQ(z.shape(), (Shape{2, 3, 3, 2}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      expect_close(z.select(0, i).select(0, j),
                   naive_mm(x.select(0, i).select(0, 0).to_double_vector(), y.select(0, j).to_double_vector(), 3, 4, 2),
                   1e-12);
  const Tensor w = bmm(randn({3, 2, 4}, DType::f32, &g), randn({3, 4, 5}, DType::f32, &g));
  EXPECT_EQ(w.shape(), (Shape{3, 2, 5}));
  // 1-D times batched: [4] x [2,4,3] -> [2,3]
  const Tensor v = randn({4}, DType::f64, &g);
  const Tensor vb = matmul(v, y.narrow(0, 0, 2).transpose(1, 2).transpose(1, 2));
  EXPECT_EQ(vb.shape(), (Shape{2, 2}));
  for (int64_t i = 0; i < 2; ++i)
    expect_close(vb.select(0, i), naive_mm(v.to_double_vector(), y.select(0, i).to_double_vector(), 1, 4, 2), 1e-12);
}

TEST(Matmul, EmptyDims) {
  // k = 0: a sum over nothing is 0 (the output buffer starts uninitialised).
  for (DType dt : {DType::f32, DType::f64}) {
    const Tensor z = matmul(full({3, 0}, 1.0, dt), full({0, 2}, 1.0, dt));
    EXPECT_EQ(z.shape(), (Shape{3, 2}));
    expect_values(z, {0, 0, 0, 0, 0, 0});
  }
  EXPECT_EQ(matmul(zeros({0, 4}), zeros({4, 5})).shape(), (Shape{0, 5}));
  EXPECT_EQ(matmul(zeros({2, 0, 4}), zeros({4, 5})).shape(), (Shape{2, 0, 5}));
  EXPECT_EQ(linear(zeros({0, 4}), zeros({3, 4}), zeros({3})).shape(), (Shape{0, 3}));
}

TEST(Linear, MatchesHandValuesOnBothPaths) {
  const Tensor x = f64v({1, 2, 3, -1, 0, 1}, {2, 3});
  const Tensor w = f64v({1, 0, 1, 2, 1, 0}, {2, 3});
  const Tensor b = f64v({10, 20}, {2});
  // x @ w^T = [[4, 4], [0, -2]]
  expect_values(linear(x, w, b), {14, 24, 10, 18});
  expect_values(linear(x, w, Tensor()), {4, 4, 0, -2});
  expect_values(linear(x.to(DType::f32), w.to(DType::f32), b.to(DType::f32)), {14, 24, 10, 18});  // fast path
  expect_values(linear(x.to(DType::f32), w.to(DType::f32), Tensor()), {4, 4, 0, -2});
  const Tensor x3 = x.to(DType::f32).view({1, 2, 3}).expand({2, 2, 3});
  const Tensor y3 = linear(x3, w.to(DType::f32), b.to(DType::f32));
  EXPECT_EQ(y3.shape(), (Shape{2, 2, 2}));
  expect_values(y3, {14, 24, 10, 18, 14, 24, 10, 18});
  expect_values(linear(f32v({1, 2, 3}, {3}), w.to(DType::f32), b.to(DType::f32)), {14, 24});
}

// ------------------------------------------------------------------ convolution

// Direct convolution from the definition (PyTorch's conv2d, cross-correlation).
std::vector<double> naive_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t sh, int64_t sw, int64_t ph,
                                 int64_t pw, int64_t dh, int64_t dw, int64_t G, Shape* out_shape) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), kh = w.size(2), kw = w.size(3);
  const int64_t OH = (H + 2 * ph - dh * (kh - 1) - 1) / sh + 1, OW = (W + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
  const auto xv = x.to_double_vector(), wv = w.to_double_vector();
  const auto bv = b.defined() ? b.to_double_vector() : std::vector<double>(size_t(O), 0.0);
  const int64_t cg = C / G, og = O / G;
  std::vector<double> out(size_t(N * O * OH * OW));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double s = bv[size_t(o)];
          const int64_t grp = o / og;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t ih = oh * sh - ph + i * dh, iw = ow * sw - pw + j * dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += xv[size_t(((n * C + grp * cg + c) * H + ih) * W + iw)] * wv[size_t(((o * cg + c) * kh + i) * kw + j)];
              }
          out[size_t(((n * O + o) * OH + oh) * OW + ow)] = s;
        }
  *out_shape = {N, O, OH, OW};
  return out;
}

TEST(Conv, TinyHandExample) {
  // 1x1x3x3 input, 2x2 kernel of ones: each output is the sum of a 2x2 window.
  const Tensor x = f32v({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  const Tensor w = ones({1, 1, 2, 2});
  expect_values(conv2d(x, w, f32v({0.5f}, {1})), {12.5, 16.5, 24.5, 28.5});
  // padding 1, stride 2: corners see one element... [1, 2+3, 4+7, 5+6+8+9]
  expect_values(conv2d(x, w, Tensor(), {2, 2}, {1, 1}), {1, 5, 11, 28});
}

TEST(Conv, MatchesNaiveDefinition) {
  struct Cfg {
    Shape x, w;
    int64_t sh, sw, ph, pw, dh, dw, G;
    bool bias;
  };
  const Cfg cfgs[] = {
      {{2, 3, 6, 5}, {4, 3, 3, 3}, 1, 1, 0, 0, 1, 1, 1, true},
      {{2, 3, 7, 6}, {4, 3, 3, 2}, 2, 1, 1, 2, 1, 1, 1, true},
      {{1, 2, 9, 9}, {3, 2, 3, 3}, 1, 2, 2, 1, 2, 3, 1, false},
      {{2, 4, 5, 5}, {6, 2, 3, 3}, 2, 2, 1, 1, 1, 1, 2, true},
      {{1, 6, 4, 4}, {6, 1, 3, 3}, 1, 1, 1, 1, 1, 1, 6, false},
      {{3, 2, 1, 8}, {2, 2, 1, 3}, 1, 3, 0, 1, 1, 1, 1, true},
  };
  Generator g(20);
  for (const Cfg& c : cfgs) {
    const Tensor x = randn(c.x, DType::f32, &g), w = randn(c.w, DType::f32, &g);
    const Tensor b = c.bias ? randn({c.w[0]}, DType::f32, &g) : Tensor();
    Shape want_shape;
    const auto want = naive_conv2d(x, w, b, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.G, &want_shape);
    const Tensor y = conv2d(x, w, b, {c.sh, c.sw}, {c.ph, c.pw}, {c.dh, c.dw}, c.G);
    EXPECT_EQ(y.shape(), want_shape);
    expect_close(y, want, 1e-4);
  }
  // conv1d is conv2d over a height-1 image.
  const Tensor x = randn({2, 4, 11}, DType::f32, &g), w = randn({6, 2, 3}, DType::f32, &g), b = randn({6}, DType::f32, &g);
  Shape s;
  const auto want = naive_conv2d(x.unsqueeze(2), w.unsqueeze(2), b, 1, 2, 0, 1, 1, 2, 2, &s);
  const Tensor y = conv1d(x, w, b, 2, 1, 2, 2);
  EXPECT_EQ(y.shape(), (Shape{s[0], s[1], s[3]}));
  expect_close(y, want, 1e-4);
}

// ------------------------------------------------------------------ pooling

TEST(Pool, MaxPoolHandAndNaive) {
  const Tensor x = f32v({1, 5, 2, 0, 3, 4, 8, 1, 7, 2, 6, 9, -1, 0, 3, 2}, {1, 1, 4, 4});
  expect_values(max_pool2d(x, {2, 2}, {2, 2}), {5, 8, 7, 9});
  // stride 0 means stride = kernel
  expect_values(max_pool2d(x, {2, 2}, {0, 0}), {5, 8, 7, 9});
  // kernel 3, stride 2, padding 1 on a 4x4: windows rows {0,1},{1,2,3} x cols {0,1},{1,2,3}
  expect_values(max_pool2d(x, {3, 3}, {2, 2}, {1, 1}), {5, 8, 7, 9});
  const Tensor neg = f32v({-5, -3, -4, -9}, {1, 2, 2});  // 3-D input, all negative: padding is not 0
  expect_values(max_pool2d(neg, {2, 2}, {1, 1}, {1, 1}), {-5, -3, -3, -4, -3, -3, -4, -4, -9});
}

TEST(Pool, AvgPoolCountIncludePad) {
  const Tensor x = f32v({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  expect_values(avg_pool2d(x, {2, 2}, {1, 1}), {3, 4, 6, 7});
  // k2 s2 p1 on 3x3: windows [-1,1) x [-1,1) etc.
  // include pad: divisor is always 4 here (windows stay inside the padded input)
  expect_values(avg_pool2d(x, {2, 2}, {2, 2}, {1, 1}, true), {1 / 4.0, 5 / 4.0, 11 / 4.0, 28 / 4.0}, 1e-6);
  // exclude pad: divide by the number of real elements
  expect_values(avg_pool2d(x, {2, 2}, {2, 2}, {1, 1}, false), {1, 2.5, 5.5, 7}, 1e-6);
  // k3 s2 p1 on 4x4. Window sums: (0,0) rows 0-1 x cols 0-1 = 0+1+4+5; (0,1) rows 0-1 x cols 1-3;
  // (1,0) rows 1-3 x cols 0-1; (1,1) rows 1-3 x cols 1-3. Including padding every window counts 9
  // cells; excluding it, the real cells only.
  const Tensor y = arange(0, 16).reshape({1, 1, 4, 4});
  const double sums[] = {10, 24, 51, 90}, exc_div[] = {4, 6, 6, 9};
  const auto inc = avg_pool2d(y, {3, 3}, {2, 2}, {1, 1}, true).to_double_vector();
  const auto exc = avg_pool2d(y, {3, 3}, {2, 2}, {1, 1}, false).to_double_vector();
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(inc[size_t(i)], sums[i] / 9, 1e-5) << i;
    EXPECT_NEAR(exc[size_t(i)], sums[i] / exc_div[i], 1e-5) << i;
  }
}

TEST(Pool, AdaptiveAvgPoolWindows) {
  // H=5 -> 2: rows [0,3) and [2,5); W=3 -> 2: cols [0,2) and [1,3).
  const Tensor x = arange(0, 15, 1, DType::f64).reshape({1, 5, 3});
  const Tensor y = adaptive_avg_pool2d(x, {2, 2});
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2}));
  EXPECT_EQ(y.dtype(), DType::f64);
  // mean of x[r][c] = 3r + c over the window = 3 * mean(r) + mean(c)
  expect_values(y, {3 * 1 + 0.5, 3 * 1 + 1.5, 3 * 3 + 0.5, 3 * 3 + 1.5}, 1e-14);
  const Tensor g = adaptive_avg_pool2d(arange(0, 24).reshape({2, 3, 4}).unsqueeze(0), {1, 1});
  EXPECT_EQ(g.shape(), (Shape{1, 2, 1, 1}));
  expect_values(g, {5.5, 17.5}, 1e-5);
  const Tensor h = adaptive_avg_pool2d(ones({1, 1, 4, 4}, DType::bf16), {2, 2});
  EXPECT_EQ(h.dtype(), DType::bf16);  // keeps the input dtype
  expect_values(h, {1, 1, 1, 1});
}

// ------------------------------------------------------------------ softmax, norms, activations

TEST(Activations, SoftmaxFamilyValues) {
  const Tensor x = f32v({1, 2, 3, 1000, 1000, 1000}, {2, 3});
  expect_values(softmax(x, 1), {0.09003057317038046, 0.24472847105479767, 0.6652409557748219, 1 / 3.0, 1 / 3.0, 1 / 3.0},
                1e-6);
  expect_values(log_softmax(x, -1),
                {-2.4076059644443806, -1.4076059644443806, -0.40760596444438063, -std::log(3.0), -std::log(3.0),
                 -std::log(3.0)},
                1e-5);
  // Along dim 0 of the transpose: the same numbers.
  expect_values(softmax(x.t(), 0).t().contiguous(), softmax(x, 1).to_double_vector(), 1e-7);
  const Tensor d = softmax(f64v({0, std::log(3.0)}, {2}), 0);
  EXPECT_EQ(d.dtype(), DType::f64);
  expect_values(d, {0.25, 0.75}, 1e-7);
  const Tensor inf = f32v({-std::numeric_limits<float>::infinity(), 0}, {2});
  expect_values(softmax(inf, 0), {0, 1});
}

TEST(Activations, PointwiseValues) {
  const std::vector<double> xs = {-1, 0, 1, 2, -3.5};
  const Tensor x = f64v(xs, {5});
  std::vector<double> ge, gt, si;
  for (double v : xs) {
    ge.push_back(0.5 * v * (1 + std::erf(v / std::sqrt(2.0))));
    gt.push_back(0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))));
    si.push_back(v / (1 + std::exp(-v)));
  }
  EXPECT_NEAR(ge[2], 0.8413447460685429, 1e-15);  // Phi(1)
  expect_values(gelu(x), ge, 1e-15);
  expect_values(gelu(x, true), gt, 1e-15);
  expect_values(silu(x), si, 1e-15);
  expect_values(leaky_relu(x, 0.1), {-0.1, 0, 1, 2, -0.35}, 1e-15);
  expect_values(elu(x, 2.0), {2 * (std::exp(-1.0) - 1), 0, 1, 2, 2 * (std::exp(-3.5) - 1)}, 1e-15);
  expect_values(elu(f64v({1000, -1000}, {2})), {1000, -1}, 0);  // no overflow in the unused branch
  expect_values(gelu(f32v({-1, 1}, {2})), {ge[0], ge[2]}, 1e-6);
  expect_values(silu(f32v({-1, 1}, {2})), {si[0], si[2]}, 1e-6);
}

// layer_norm's inference path (f32, no autograd: one SIMD pass per row over the pool)
// against the same numbers in f64 through the op-by-op path, with and without weight and
// bias, over one and two trailing dims, with enough rows to split over threads.
TEST(Norms, LayerNormInferencePathMatchesReference) {
  Generator g(5);
  const Tensor x = add(mul(randn({300, 6, 64}, DType::f32, &g), scalar_tensor(3.0)), scalar_tensor(2.0));
  const Tensor w = randn({6, 64}, DType::f32, &g), b = randn({6, 64}, DType::f32, &g);
  for (const Shape& ns : {Shape{64}, Shape{6, 64}}) {
    const Tensor wn = w.narrow(0, 0, ns[0] == 64 ? 1 : 6).reshape(ns), bn = b.narrow(0, 0, ns[0] == 64 ? 1 : 6).reshape(ns);
    for (bool affine : {false, true}) {
      NoGradGuard ng;
      const Tensor got = layer_norm(x, ns, affine ? wn : Tensor(), affine ? bn : Tensor(), 1e-5);
      const Tensor want = layer_norm(x.to(DType::f64), ns, affine ? wn.to(DType::f64) : Tensor(),
                                     affine ? bn.to(DType::f64) : Tensor(), 1e-5);
      const Tensor diff = abs(sub(got.to(DType::f64), want)).contiguous();
      double worst = 0;
      for (int64_t i = 0; i < diff.numel(); ++i) worst = std::max(worst, diff.data<double>()[i]);
      EXPECT_LT(worst, 2e-5) << shape_str(ns) << (affine ? " affine" : "");
    }
  }
}

TEST(Norms, LayerNormAndRmsNorm) {
  const Tensor x = f64v({1, 2, 3, 4, 2, 2, 2, 2}, {2, 4});
  const double eps = 1e-5, s = 1 / std::sqrt(1.25 + eps);
  expect_values(layer_norm(x, {4}, Tensor(), Tensor(), eps), {-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s, 0, 0, 0, 0}, 1e-14);
  const Tensor w = f64v({1, 2, 3, 4}, {4}), b = f64v({0, 0, 1, 1}, {4});
  expect_values(layer_norm(x, {4}, w, b, eps),
                {-1.5 * s, -1.0 * s, 1.5 * s + 1, 6 * s + 1, 0, 0, 1, 1}, 1e-14);
  // Over the last two dims
  const Tensor y = f64v({1, 2, 3, 4}, {1, 2, 2});
  expect_values(layer_norm(y, {2, 2}, Tensor(), Tensor(), 0.0),
                {-1.5 / std::sqrt(1.25), -0.5 / std::sqrt(1.25), 0.5 / std::sqrt(1.25), 1.5 / std::sqrt(1.25)}, 1e-14);
  const double r = 1 / std::sqrt(7.5 + 1e-6);
  expect_values(rms_norm(x.narrow(0, 0, 1), {4}, Tensor()), {r, 2 * r, 3 * r, 4 * r}, 1e-14);
  expect_values(rms_norm(x.narrow(0, 0, 1), {4}, w), {r, 4 * r, 9 * r, 16 * r}, 1e-14);
  // f32 agrees
  expect_values(layer_norm(x.to(DType::f32), {4}, Tensor(), Tensor(), eps), {-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s, 0, 0, 0, 0},
                1e-6);
}

TEST(Activations, Dropout) {
  const Tensor x = ones({100});
  EXPECT_EQ(dropout(x, 0.5, false).impl(), x.impl());
  EXPECT_EQ(dropout(x, 0.0, true).impl(), x.impl());
  expect_values(dropout(f32v({1, 2}, {2}), 1.0, true), {0, 0});
  manual_seed(9);
  const auto v = dropout(x, 0.5, true).to_vector();
  for (float e : v) EXPECT_TRUE(e == 0.0f || e == 2.0f) << e;
}

// ------------------------------------------------------------------ joining and indexing

TEST(Index, CatStackSplitChunk) {
  const Tensor a = f64v({1, 2, 3, 4}, {2, 2});
  const Tensor b = i64v({5, 6}, {2, 1});
  const Tensor c = cat({a, b}, 1);
  EXPECT_EQ(c.dtype(), DType::f64);
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  expect_values(c, {1, 2, 5, 3, 4, 6});
  expect_values(cat({a, a.t()}, 0), {1, 2, 3, 4, 1, 3, 2, 4});
  expect_values(cat({a}, 0), {1, 2, 3, 4});
  const Tensor s = stack({f64v({1, 2}, {2}), f64v({3, 4}, {2})}, 1);
  EXPECT_EQ(s.shape(), (Shape{2, 2}));
  expect_values(s, {1, 3, 2, 4});
  EXPECT_EQ(stack({a, a}, -1).shape(), (Shape{2, 2, 2}));
  const Tensor r = arange(0, 7, 1, DType::f64);
  auto parts = split(r, 3);
  ASSERT_EQ(parts.size(), 3u);
  expect_values(parts[0], {0, 1, 2});
  expect_values(parts[2], {6});
  EXPECT_EQ(parts[1].storage().get(), r.storage().get());  // views
  auto ch = chunk(arange(0, 6), 4);  // ceil(6/4) = 2 per chunk -> 3 chunks, as torch.chunk
  ASSERT_EQ(ch.size(), 3u);
  expect_values(ch[2], {4, 5});
  auto ch2 = chunk(arange(0, 10).reshape({2, 5}), 2, 1);
  ASSERT_EQ(ch2.size(), 2u);
  EXPECT_EQ(ch2[0].shape(), (Shape{2, 3}));
  expect_values(ch2[1], {3, 4, 8, 9});
}

TEST(Index, SelectGatherScatter) {
  const Tensor x = f64v({1, 2, 3, 4, 5, 6}, {2, 3});
  expect_values(index_select(x, 1, i64v({2, 0, 2}, {3})), {3, 1, 3, 6, 4, 6});
  expect_values(index_select(x, 0, from_vector(std::vector<int64_t>{1}, {1}, DType::i32)), {4, 5, 6});
  expect_values(index_select(x.t(), 0, i64v({1}, {1})), {2, 5});
  EXPECT_EQ(index_select(x, 0, i64v({}, {0})).shape(), (Shape{0, 3}));
  expect_values(gather(x, 1, i64v({0, 0, 2, 1}, {2, 2})), {1, 1, 6, 5});
  expect_values(gather(x, 0, i64v({1, 0, 1}, {1, 3})), {4, 2, 6});
  // scatter_add: out = x; out[index[i][j]][j] += src[i][j]
  const Tensor base = zeros({3, 2}, DType::f64);
  const Tensor src = f64v({1, 2, 10, 20, 100, 200}, {3, 2});
  expect_values(scatter_add(base, 0, i64v({0, 2, 0, 0}, {2, 2}), src), {11, 20, 0, 0, 0, 2});
  expect_values(scatter_add(ones({2, 3}, DType::i64), 1, i64v({2, 2, 0, 1}, {2, 2}), i64v({5, 6, 7, 8}, {2, 2})),
                {1, 1, 12, 8, 9, 1});
  const Tensor w = f64v({0, 1, 10, 11, 20, 21}, {3, 2});
  const Tensor e = embedding(w, i64v({2, 0, 2, 1}, {2, 2}));
  EXPECT_EQ(e.shape(), (Shape{2, 2, 2}));
  expect_values(e, {20, 21, 0, 1, 20, 21, 10, 11});
  EXPECT_EQ(embedding(w, i64v({1}, {})).shape(), (Shape{2}));
  const Tensor oh = one_hot(i64v({2, 0, 1}, {3}), 4);
  EXPECT_EQ(oh.dtype(), DType::i64);
  EXPECT_EQ(oh.shape(), (Shape{3, 4}));
  expect_values(oh, {0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0});
}

TEST(Index, SumToReducesBroadcastDims) {
  const Tensor g = arange(0, 24, 1, DType::f64).reshape({2, 3, 4});
  expect_values(sum_to(g, {3, 1}), {0 + 1 + 2 + 3 + 12 + 13 + 14 + 15, 4 + 5 + 6 + 7 + 16 + 17 + 18 + 19,
                                    8 + 9 + 10 + 11 + 20 + 21 + 22 + 23});
  expect_values(sum_to(g, {4}), {60, 66, 72, 78});
  EXPECT_EQ(sum_to(g, {2, 3, 4}).impl(), g.impl());
  EXPECT_EQ(sum_to(g, {1, 3, 1}).shape(), (Shape{1, 3, 1}));
}

}  // namespace
}  // namespace bigdl
