// lstm_layer, the fused LSTM op: forward and all seven gradients against the same cell
// composed per step from primitives (the spec), a finite-difference check of the
// hand-written BPTT, and its argument errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "bigdl/autograd.h"
#include "bigdl/ops.h"
#include "bigdl/random.h"
#include "bigdl/tensor.h"

namespace bigdl {
namespace {

constexpr int kNumInputs = 7;  // x, h0, c0, w_ih, w_hh, b_ih, b_hh
const char* const kInputNames[kNumInputs] = {"x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"};

// Random f32 inputs for sizes T, B, in, H; biases left undefined when !bias.
std::vector<Tensor> make_inputs(int64_t T, int64_t B, int64_t in, int64_t H, bool bias, uint64_t seed) {
  Generator gen(seed);
  std::vector<Tensor> v = {uniform({T, B, in}, -1, 1, DType::f32, &gen),     uniform({B, H}, -1, 1, DType::f32, &gen),
                           uniform({B, H}, -1, 1, DType::f32, &gen),         uniform({4 * H, in}, -0.6, 0.6, DType::f32, &gen),
                           uniform({4 * H, H}, -0.6, 0.6, DType::f32, &gen), Tensor(),
                           Tensor()};
  if (bias) {
    v[5] = uniform({4 * H}, -0.5, 0.5, DType::f32, &gen);
    v[6] = uniform({4 * H}, -0.5, 0.5, DType::f32, &gen);
  }
  return v;
}

// Fresh leaves with the same values; input k requires grad when bit k of mask is set.
std::vector<Tensor> leaves(const std::vector<Tensor>& v, unsigned mask) {
  std::vector<Tensor> out;
  for (int k = 0; k < kNumInputs; ++k) {
    Tensor t = v[k].defined() ? v[k].detach().clone() : Tensor();
    if (t.defined() && (mask >> k & 1u)) t.requires_grad_();
    out.push_back(t);
  }
  return out;
}

Tensor fused(const std::vector<Tensor>& v) { return lstm_layer(v[0], v[1], v[2], v[3], v[4], v[5], v[6]); }

// The spec: PyTorch's LSTM cell, one step at a time, from differentiable primitives.
Tensor composed(const std::vector<Tensor>& v) {
  const Tensor &x = v[0], &w_ih = v[3], &w_hh = v[4], &b_ih = v[5], &b_hh = v[6];
  const int64_t T = x.size(0), H = w_hh.size(1);
  Tensor h = v[1], c = v[2];
  std::vector<Tensor> ys;
  for (int64_t t = 0; t < T; ++t) {
    Tensor g = add(linear(x.select(0, t), w_ih, b_ih), linear(h, w_hh, b_hh));
    Tensor i = sigmoid(g.narrow(1, 0, H)), f = sigmoid(g.narrow(1, H, H));
    Tensor gg = tanh(g.narrow(1, 2 * H, H)), o = sigmoid(g.narrow(1, 3 * H, H));
    c = add(mul(f, c), mul(i, gg));
    h = mul(o, tanh(c));
    ys.push_back(h);
  }
  ys.push_back(c);
  return stack(ys, 0);
}

std::vector<float> to_vec(const Tensor& t) {
  const Tensor c = t.detach().contiguous();
  return std::vector<float>(c.data<float>(), c.data<float>() + c.numel());
}

// |a - b| <= tol * max(1, max |b|), element by element.
void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  ASSERT_TRUE(a.defined() && b.defined()) << what;
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const std::vector<float> va = to_vec(a), vb = to_vec(b);
  double scale = 1.0;
  for (float x : vb) scale = std::max(scale, double(std::fabs(x)));
  for (size_t k = 0; k < va.size(); ++k)
    ASSERT_LE(std::fabs(double(va[k]) - double(vb[k])), tol * scale) << what << " element " << k;
}

// d sum(f(inputs) * w) / d input for the inputs in `mask` (others left undefined).
std::vector<Tensor> grads_of(Tensor (*f)(const std::vector<Tensor>&), const std::vector<Tensor>& v, unsigned mask,
                             const Tensor& w, Tensor* y_out) {
  const std::vector<Tensor> in = leaves(v, mask);
  const Tensor y = f(in);
  *y_out = y;
  std::vector<Tensor> wanted;
  std::vector<int> which;
  for (int k = 0; k < kNumInputs; ++k)
    if (in[k].defined() && in[k].requires_grad()) {
      wanted.push_back(in[k]);
      which.push_back(k);
    }
  std::vector<Tensor> out(kNumInputs);
  if (wanted.empty()) return out;
  const std::vector<Tensor> g = grad({y}, wanted, {w});
  for (size_t n = 0; n < which.size(); ++n) out[size_t(which[n])] = g[n];
  return out;
}

struct Case {
  int64_t T;
  bool bias;
  unsigned mask;  // which inputs require grad
};
void PrintTo(const Case& c, std::ostream* os) { *os << "T=" << c.T << " bias=" << c.bias << " mask=" << c.mask; }

class LstmLayerVsComposed : public ::testing::TestWithParam<Case> {};

TEST_P(LstmLayerVsComposed, ForwardAndGradients) {
  const Case cs = GetParam();
  const int64_t B = 3, in = 5, H = 6;  // H = 6: the four-wide gate loops and their tail
  const std::vector<Tensor> v = make_inputs(cs.T, B, in, H, cs.bias, 7 + uint64_t(cs.T));
  Generator gen(99);
  const Tensor w = randn({cs.T + 1, B, H}, DType::f32, &gen);  // upstream gradient over all of Y

  Tensor y_fused, y_ref;
  const std::vector<Tensor> g_fused = grads_of(fused, v, cs.mask, w, &y_fused);
  const std::vector<Tensor> g_ref = grads_of(composed, v, cs.mask, w, &y_ref);
  ASSERT_EQ(y_fused.shape(), Shape({cs.T + 1, B, H}));
  expect_close(y_fused, y_ref, 1e-5, "Y");
  {
    NoGradGuard ng;  // the no-grad path keeps only two rows of cell state
    expect_close(fused(v), y_ref, 1e-5, "Y without grad");
  }
  for (int k = 0; k < kNumInputs; ++k) {
    const bool want = v[k].defined() && (cs.mask >> k & 1u);
    EXPECT_EQ(g_fused[k].defined(), want) << kInputNames[k];
    if (want) expect_close(g_fused[k], g_ref[k], 1e-5, std::string("d") + kInputNames[k]);
  }
}

constexpr unsigned kAll = 0x7f;
constexpr unsigned kWeightsOnly = 0x18 | 0x60;  // w_ih, w_hh, b_ih, b_hh: the LSTM module in training
constexpr unsigned kMixed = 0x01 | 0x04 | 0x10 | 0x40;  // x, c0, w_hh, b_hh

INSTANTIATE_TEST_SUITE_P(Cases, LstmLayerVsComposed,
                         ::testing::Values(Case{1, true, kAll}, Case{1, false, kAll}, Case{5, true, kAll},
                                           Case{5, false, kAll}, Case{5, true, kWeightsOnly},
                                           Case{5, true, kMixed}, Case{1, false, kMixed}, Case{5, false, kWeightsOnly}),
                         [](const ::testing::TestParamInfo<Case>& p) {
                           const Case& c = p.param;
                           return "T" + std::to_string(c.T) + (c.bias ? "_bias" : "_nobias") + "_mask" +
                                  std::to_string(c.mask);
                         });

TEST(LstmLayer, NonContiguousInputs) {
  // Batch-first input seen time-major and a transposed weight view, as LSTM(batch_first) passes them.
  const std::vector<Tensor> v = make_inputs(4, 3, 5, 2, true, 3);
  std::vector<Tensor> nc = v;
  nc[0] = v[0].transpose(0, 1).contiguous().transpose(0, 1);
  nc[3] = v[3].t().contiguous().t();
  ASSERT_FALSE(nc[0].is_contiguous());
  ASSERT_FALSE(nc[3].is_contiguous());
  expect_close(fused(nc), composed(v), 1e-5, "Y");
}

TEST(LstmLayer, NoGraphWithoutGrad) {
  const std::vector<Tensor> v = make_inputs(2, 2, 3, 2, true, 5);
  EXPECT_FALSE(fused(v).requires_grad());
}

// f32 central differences of loss = sum(Y * w) (accumulated in double) for every entry of
// every input on a tiny case; eps = 1e-2 keeps f32 rounding well below the tolerance.
TEST(LstmLayer, FiniteDifferences) {
  const int64_t T = 3, B = 2, in = 3, H = 2;
  const std::vector<Tensor> v = make_inputs(T, B, in, H, true, 11);
  Generator gen(5);
  const Tensor w = randn({T + 1, B, H}, DType::f32, &gen);
  const std::vector<float> wv = to_vec(w);
  auto loss = [&](const std::vector<Tensor>& in_v) {
    NoGradGuard ng;
    const std::vector<float> y = to_vec(fused(in_v));
    double s = 0;
    for (size_t k = 0; k < y.size(); ++k) s += double(y[k]) * double(wv[k]);
    return s;
  };
  Tensor y;
  const std::vector<Tensor> g = grads_of(fused, v, kAll, w, &y);
  const double eps = 1e-2;
  for (int k = 0; k < kNumInputs; ++k) {
    const std::vector<float> an = to_vec(g[k]);
    for (int64_t e = 0; e < v[k].numel(); ++e) {
      std::vector<Tensor> p = leaves(v, 0), m = leaves(v, 0);
      p[k].data<float>()[e] += float(eps);
      m[k].data<float>()[e] -= float(eps);
      const double num = (loss(p) - loss(m)) / (2 * eps);
      EXPECT_NEAR(an[size_t(e)], num, 2e-3 * std::max(1.0, std::fabs(num))) << kInputNames[k] << " element " << e;
    }
  }
}

// Calls lstm_layer with input k of `v` replaced by `bad` and expects E naming the op.
template <typename E>
void expect_error(std::vector<Tensor> v, int k, const Tensor& bad) {
  v[size_t(k)] = bad;
  try {
    fused(v);
    ADD_FAILURE() << "no error for bad " << kInputNames[k] << " " << shape_str(bad.shape());
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find("[lstm_layer]"), std::string::npos) << e.what();
  }
}

TEST(LstmLayer, BadShapesThrow) {
  const std::vector<Tensor> v = make_inputs(2, 3, 5, 4, true, 1);
  expect_error<ShapeError>(v, 0, zeros({3, 5}));          // x not 3-D
  expect_error<ShapeError>(v, 0, zeros({2, 3, 6}));       // x features != w_ih columns
  expect_error<ShapeError>(v, 0, zeros({0, 3, 5}));       // empty sequence
  expect_error<ShapeError>(v, 1, zeros({2, 4}));          // h0 batch
  expect_error<ShapeError>(v, 2, zeros({3, 5}));          // c0 hidden
  expect_error<ShapeError>(v, 3, zeros({12, 5}));         // w_ih rows != 4H
  expect_error<ShapeError>(v, 4, zeros({16, 5}));         // w_hh not [4H, H]
  expect_error<ShapeError>(v, 4, zeros({15, 4}));         // w_hh rows
  expect_error<ShapeError>(v, 5, zeros({15}));            // b_ih
  expect_error<ShapeError>(v, 6, zeros({4, 4}));          // b_hh 2-D
  expect_error<DTypeError>(v, 0, zeros({2, 3, 5}, DType::f64));
  expect_error<DTypeError>(v, 5, zeros({16}, DType::f64));
}

}  // namespace
}  // namespace bigdl
