// conv2d through oneDNN against the im2col + OpenBLAS reference path: output, grad input,
// grad weight and grad bias on a table of geometries, for each oneDNN layout setting
// (automatic per-primitive choice, all blocked, all plain NCHW). Each tensor must agree to
// 1e-5 of its largest magnitude.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "backend/cpu/onednn_conv.h"
#include "bigdl/autograd.h"
#include "bigdl/ops.h"
#include "bigdl/random.h"
#include "bigdl/tensor.h"

namespace bigdl {
namespace {

using detail::ConvBackend;

struct Case {
  int64_t N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, G;
  bool bias;
};

std::string name(const Case& c) {
  std::ostringstream s;
  s << "N" << c.N << " C" << c.C << " " << c.H << "x" << c.W << " O" << c.O << " k" << c.kh << "x" << c.kw << " s"
    << c.sh << "," << c.sw << " p" << c.ph << "," << c.pw << " d" << c.dh << "," << c.dw << " G" << c.G
    << (c.bias ? " bias" : "");
  return s.str();
}

const std::vector<Case> kCases = {
    // N  C   H   W   O  kh kw sh sw ph pw dh dw  G  bias
    {1, 3, 11, 13, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},     // 3x3, batch 1, odd sizes
    {7, 4, 9, 10, 6, 3, 3, 2, 2, 0, 0, 1, 1, 1, true},      // stride 2, no padding
    {7, 6, 13, 11, 10, 5, 5, 1, 1, 2, 2, 1, 1, 2, true},    // 5x5, groups 2
    {7, 8, 12, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8, true},      // depthwise
    {1, 8, 15, 15, 16, 3, 3, 2, 2, 1, 1, 1, 1, 8, false},   // depthwise, multiplier 2, stride 2
    {7, 16, 9, 11, 16, 3, 3, 1, 1, 2, 2, 2, 2, 1, false},   // dilation 2
    {7, 16, 8, 8, 24, 1, 1, 1, 1, 0, 0, 1, 1, 1, true},     // pointwise (plain under automatic)
    {7, 16, 9, 9, 24, 1, 1, 2, 2, 0, 0, 1, 1, 1, false},    // 1x1 stride 2, odd size
    {7, 3, 9, 9, 16, 1, 1, 1, 1, 1, 1, 1, 1, 1, true},      // 1x1 with padding
    {7, 5, 10, 13, 7, 3, 2, 1, 2, 1, 0, 1, 1, 1, true},     // 3x2 kernel, mixed stride and padding
    {1, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1, true},     // LeNet conv1: one input channel
    {7, 2, 9, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, false},      // two input channels
    {7, 16, 16, 16, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, false},  // ResNet down-sampling block
    {7, 32, 7, 7, 32, 3, 3, 1, 1, 1, 1, 2, 1, 4, true},     // groups 4, dilation 2x1
    {1, 6, 7, 5, 4, 3, 2, 2, 1, 2, 1, 2, 1, 2, true},       // everything asymmetric
    {7, 24, 9, 9, 20, 5, 5, 2, 1, 2, 0, 1, 2, 1, true},     // 5x5, channels not a multiple of 8
};

// Restores the process-wide backend when a test ends.
class BackendGuard {
 public:
  BackendGuard() : saved_(detail::conv_backend()) {}
  ~BackendGuard() { detail::set_conv_backend(saved_); }

 private:
  ConvBackend saved_;
};

struct Result {
  Tensor y, gx, gw, gb;
};

Result run(ConvBackend backend, const Case& c, const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& gy) {
  detail::set_conv_backend(backend);
  Tensor x = x0.clone().requires_grad_();
  Tensor w = w0.clone().requires_grad_();
  Tensor b = c.bias ? b0.clone().requires_grad_() : Tensor();
  Tensor y = conv2d(x, w, b, {c.sh, c.sw}, {c.ph, c.pw}, {c.dh, c.dw}, c.G);
  y.backward(gy);
  return {y.detach(), x.grad(), w.grad(), c.bias ? b.grad() : Tensor()};
}

// max |got - want| <= 1e-5 * max |want|
void expect_close(const Tensor& got, const Tensor& want, const char* what) {
  ASSERT_TRUE(got.defined() && want.defined()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const std::vector<double> g = got.to_double_vector(), r = want.to_double_vector();
  double max_ref = 0, max_err = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    max_ref = std::max(max_ref, std::abs(r[i]));
    max_err = std::max(max_err, std::abs(g[i] - r[i]));
  }
  EXPECT_LE(max_err, 1e-5 * max_ref) << what << ": max error " << max_err << ", max magnitude " << max_ref;
}

detail::ConvGeom geom(const Case& c) {
  detail::ConvGeom q{c.N, c.C, c.H, c.W, c.O, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.G, 0, 0};
  q.OH = (q.H + 2 * q.ph - q.dh * (q.kh - 1) - 1) / q.sh + 1;
  q.OW = (q.W + 2 * q.pw - q.dw * (q.kw - 1) - 1) / q.sw + 1;
  return q;
}

// Restores the thread count when a test ends.
class ThreadsGuard {
 public:
  ThreadsGuard() : saved_(get_num_threads()) {}
  ~ThreadsGuard() { set_num_threads(saved_); }

 private:
  int saved_;
};

TEST(ConvBackends, OnednnMatchesIm2colOnGeometryTable) {
  BackendGuard backend_guard;
  ThreadsGuard threads_guard;
  Generator gen(1234);
  for (const Case& c : kCases) {
    const detail::ConvGeom q = geom(c);
    const Tensor x = randn({c.N, c.C, c.H, c.W}, DType::f32, &gen);
    const Tensor w = randn({c.O, c.C / c.G, c.kh, c.kw}, DType::f32, &gen);
    const Tensor b = randn({c.O}, DType::f32, &gen);
    const Tensor gy = randn({c.N, c.O, q.OH, q.OW}, DType::f32, &gen);
    set_num_threads(1);
    const Result ref = run(ConvBackend::im2col, c, x, w, b, gy);
    // 3 threads: batch 7 runs as shards of 3, 2 and 2 images.
    for (int threads : {1, 3}) {
      set_num_threads(threads);
      for (ConvBackend backend : {ConvBackend::automatic, ConvBackend::onednn_blocked, ConvBackend::onednn_plain}) {
        detail::set_conv_backend(backend);
        const auto prims = detail::onednn_conv(q, c.bias, true);
        ASSERT_NE(prims, nullptr) << name(c) << ": oneDNN has no implementation";
        SCOPED_TRACE(name(c) + ", " + std::to_string(threads) + " threads, backend " + std::to_string(int(backend)) +
                     ": " + detail::onednn_conv_impl_info(*prims));
        const Result got = run(backend, c, x, w, b, gy);
        expect_close(got.y, ref.y, "output");
        expect_close(got.gx, ref.gx, "grad input");
        expect_close(got.gw, ref.gw, "grad weight");
        if (c.bias) expect_close(got.gb, ref.gb, "grad bias");
      }
    }
  }
}

TEST(ConvBackends, PartialGradientsAndNonContiguousInput) {
  BackendGuard backend_guard;
  ThreadsGuard threads_guard;
  Generator gen(7);
  // x is a transposed view and gy is non-contiguous; x needs no grad, and either the bias
  // or the weight is frozen.
  const Tensor xt = randn({7, 6, 13, 11}, DType::f32, &gen).transpose(2, 3);
  const Tensor w = randn({8, 6, 3, 3}, DType::f32, &gen);
  const Tensor b = randn({8}, DType::f32, &gen);
  const Tensor gy = randn({7, 8, 7, 6}, DType::f32, &gen).transpose(2, 3);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (bool train_weight : {true, false}) {
      SCOPED_TRACE(std::to_string(threads) + " threads, " + (train_weight ? "weight" : "bias") + " trained");
      Tensor y[2], g[2];
      const ConvBackend backends[2] = {ConvBackend::im2col, ConvBackend::automatic};
      for (int i = 0; i < 2; ++i) {
        detail::set_conv_backend(backends[i]);
        Tensor wi = w.clone(), bi = b.clone();
        (train_weight ? wi : bi).requires_grad_();
        y[i] = conv2d(xt, wi, bi, {2, 2}, {1, 1});
        y[i].backward(gy);
        g[i] = train_weight ? wi.grad() : bi.grad();
      }
      expect_close(y[1], y[0], "output");
      expect_close(g[1], g[0], train_weight ? "grad weight" : "grad bias");
    }
  }
}

TEST(ConvBackends, Conv1dAndInferenceGoThroughOnednn) {
  BackendGuard guard;
  Generator gen(3);
  const Tensor x = randn({5, 4, 37}, DType::f32, &gen);
  const Tensor w = randn({6, 2, 5}, DType::f32, &gen);
  const Tensor b = randn({6}, DType::f32, &gen);
  detail::set_conv_backend(ConvBackend::im2col);
  const Tensor ref = conv1d(x, w, b, 2, 3, 2, 2);
  detail::set_conv_backend(ConvBackend::automatic);
  NoGradGuard no_grad;
  expect_close(conv1d(x, w, b, 2, 3, 2, 2), ref, "conv1d output");
}

TEST(ConvBackends, PrimitivesAreCachedPerGeometryAndThreadCount) {
  BackendGuard guard;
  detail::set_conv_backend(ConvBackend::automatic);
  const detail::ConvGeom q = geom(kCases[12]);
  const auto a = detail::onednn_conv(q, false, true);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(detail::onednn_conv(q, false, true), a);
  EXPECT_EQ(detail::onednn_conv(q, false, false), a);  // forward-only asks reuse the entry
  detail::ConvGeom q2 = q;
  q2.N += 1;
  EXPECT_NE(detail::onednn_conv(q2, false, false), a);
  // Another thread count splits the batch into another number of shards; results agree.
  const int saved = get_num_threads();
  Generator gen(11);
  const Tensor x = randn({q.N, q.C, q.H, q.W}, DType::f32, &gen);
  const Tensor w = randn({q.O, q.C, q.kh, q.kw}, DType::f32, &gen);
  const Tensor y1 = conv2d(x, w, Tensor(), {2, 2}, {1, 1});
  set_num_threads(saved == 1 ? 2 : 1);
  EXPECT_NE(detail::onednn_conv(q, false, true), a);
  const Tensor y2 = conv2d(x, w, Tensor(), {2, 2}, {1, 1});
  set_num_threads(saved);
  expect_close(y2, y1, "output with another thread count");
}

TEST(ConvBackends, AutomaticLayoutChoice) {
  BackendGuard guard;
  detail::set_conv_backend(ConvBackend::automatic);
  // 3x3 with many channels: all three primitives on blocked layouts.
  const std::string resnet = detail::onednn_conv_impl_info(*detail::onednn_conv(geom(kCases[12]), false, true));
  EXPECT_EQ(resnet.find("(plain)"), std::string::npos) << resnet;
  // pointwise: all plain NCHW.
  const std::string pointwise = detail::onednn_conv_impl_info(*detail::onednn_conv(geom(kCases[6]), true, true));
  EXPECT_EQ(pointwise.find("(blocked)"), std::string::npos) << pointwise;
  // One input channel: blocked forward, plain backward-data, weight gradient by im2col.
  const auto lenet_prims = detail::onednn_conv(geom(kCases[10]), true, true);
  const std::string lenet = detail::onednn_conv_impl_info(*lenet_prims);
  EXPECT_NE(lenet.find("fwd=jit"), std::string::npos) << lenet;
  EXPECT_NE(lenet.find("bwd_data=x64:gemm:jit(plain)"), std::string::npos) << lenet;
  EXPECT_TRUE(detail::onednn_conv_weights_by_im2col(*lenet_prims)) << lenet;
  // oneDNN's scalar reference kernels are never what runs.
  for (const Case& c : kCases) {
    const std::string info = detail::onednn_conv_impl_info(*detail::onednn_conv(geom(c), c.bias, true));
    EXPECT_EQ(info.find("ref"), std::string::npos) << name(c) << ": " << info;
  }
}

}  // namespace
}  // namespace bigdl
