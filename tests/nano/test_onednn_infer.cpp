// The inference layers on oneDNN (src/backend/cpu/onednn_infer.h) against scalar
// references computed here in double: f32 equal to the float ops, int8 equal to the exact
// int32 sum of the same quantized values, bf16 equal to the f32 sum of bf16-rounded
// values; every fused activation against Eltwise::apply; batch shards over 2 threads equal
// one shard.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/onednn_infer.h"
#include "bigdl/error.h"
#include "bigdl/random.h"
#include "bigdl/tensor.h"

using namespace bigdl;
using bigdl::detail::Eltwise;
using bigdl::detail::InferLayer;
using bigdl::detail::InferLayerSpec;
using bigdl::detail::InferPrecision;

namespace {

std::vector<float> randv(int64_t n, float lo, float hi, uint64_t seed) {
  Generator g(seed);
  const Tensor t = rand({n}, DType::f32, &g);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = lo + (hi - lo) * t.data<float>()[i];
  return v;
}

float bf16_round(float f) { return bf16_to_float(float_to_bf16(f)); }  // nearest even, as the reorder to bf16

// What the layer's kernel should compute, from the values it multiplies: f32 as given,
// bf16 rounded, int8 quantized with the layer's scales (x by spec.input_scale, w per
// output channel), then act(scale * sum + bias).
struct Reference {
  const InferLayerSpec& s;
  std::vector<double> w;  // in the kernel's number domain (quantized ints for int8)
  std::vector<float> wscale;

  // Without VNNI oneDNN's jit int8 convolutions halve the weights once more for s8 inputs
  // and double the output scale (onednn_infer.h); its reference kernel does not.
  float adj = 1.f;

  Reference(const InferLayer& layer, const std::vector<float>& wf) : s(layer.spec()), wscale(layer.weight_scales()) {
    if (s.precision == InferPrecision::int8 && s.conv && !s.input_unsigned && detail::int8_weight_max() < 127 &&
        layer.impl_info().rfind("ref", 0) != 0)
      adj = 0.5f;
    const int64_t per = int64_t(wf.size()) / s.out;
    for (size_t i = 0; i < wf.size(); ++i) {
      if (s.precision == InferPrecision::int8) w.push_back(std::nearbyint(wf[i] * ((1.f / wscale[i / size_t(per)]) * adj)));
      else if (s.precision == InferPrecision::bf16) w.push_back(bf16_round(wf[i]));
      else w.push_back(wf[i]);
    }
  }
  double xval(float x) const {
    if (s.precision == InferPrecision::bf16) return bf16_round(x);
    if (s.precision != InferPrecision::int8) return x;
    const double q = std::nearbyint(x * (1.f / s.input_scale));
    return s.input_unsigned ? std::min(255.0, std::max(0.0, q)) : std::min(127.0, std::max(-128.0, q));
  }
  float finish(double sum, int64_t o, const std::vector<float>& b) const {
    const double scale = s.precision == InferPrecision::int8 ? double(s.input_scale) * wscale[size_t(o)] / adj : 1.0;
    float y = float(scale * sum + (b.empty() ? 0.0 : b[size_t(o)]));
    s.act.apply(&y, 1);
    return y;
  }
  std::vector<float> linear(const std::vector<float>& x, int64_t n, const std::vector<float>& b) const {
    std::vector<float> y(size_t(n * s.out));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t o = 0; o < s.out; ++o) {
        double sum = 0;
        for (int64_t i = 0; i < s.in; ++i) sum += xval(x[size_t(r * s.in + i)]) * w[size_t(o * s.in + i)];
        y[size_t(r * s.out + o)] = finish(sum, o, b);
      }
    return y;
  }
  std::vector<float> conv(const std::vector<float>& x, int64_t n, int64_t h, int64_t wd, const std::vector<float>& b,
                          int64_t oh, int64_t ow) const {
    const int64_t cg = s.in / s.groups, og = s.out / s.groups;
    std::vector<float> y(size_t(n * s.out * oh * ow));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t o = 0; o < s.out; ++o)
        for (int64_t i = 0; i < oh; ++i)
          for (int64_t j = 0; j < ow; ++j) {
            double sum = 0;
            const int64_t g = o / og;
            for (int64_t c = 0; c < cg; ++c)
              for (int64_t ki = 0; ki < s.kh; ++ki)
                for (int64_t kj = 0; kj < s.kw; ++kj) {
                  const int64_t yy = i * s.sh - s.ph + ki * s.dh, xx = j * s.sw - s.pw + kj * s.dw;
                  if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
                  sum += xval(x[size_t(((r * s.in + g * cg + c) * h + yy) * wd + xx)]) *
                         w[size_t(((o * cg + c) * s.kh + ki) * s.kw + kj)];
                }
            y[size_t(((r * s.out + o) * oh + i) * ow + j)] = finish(sum, o, b);
          }
    return y;
  }
};

// max |a - b| / max |b|
double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, double(std::fabs(a[i] - b[i])));
    den = std::max(den, double(std::fabs(b[i])));
  }
  return num / den;
}

// f32 and bf16 differ from the double reference by f32 summation order only; int8 sums
// are exact, so only the final scaling rounds.
constexpr double kTolerance = 2e-5;

void check_linear(InferLayerSpec s, int64_t n) {
  s.conv = false;
  const std::vector<float> w = randv(s.out * s.in, -0.5f, 0.5f, 1), b = randv(s.out, -1.f, 1.f, 2);
  const std::vector<float> x = randv(n * s.in, s.input_unsigned ? 0.f : -2.f, 2.f, 3);
  const InferLayer layer(s, w.data(), b.data());
  std::vector<float> y(size_t(n * s.out));
  layer.forward(x.data(), n, 1, 1, y.data());
  const std::vector<float> ref = Reference(layer, w).linear(x, n, b);
  EXPECT_LT(rel_err(y, ref), kTolerance) << infer_precision_name(s.precision) << " " << s.act.str() << " n=" << n << " "
                                           << layer.impl_info();
}

void check_conv(InferLayerSpec s, int64_t n, int64_t h, int64_t wd) {
  s.conv = true;
  const int64_t per = s.in / s.groups * s.kh * s.kw;
  const std::vector<float> w = randv(s.out * per, -0.5f, 0.5f, 4), b = randv(s.out, -1.f, 1.f, 5);
  const std::vector<float> x = randv(n * s.in * h * wd, s.input_unsigned ? 0.f : -2.f, 2.f, 6);
  const InferLayer layer(s, w.data(), b.data());
  const auto [oh, ow] = layer.out_hw(h, wd);
  std::vector<float> y(size_t(n * s.out * oh * ow));
  layer.forward(x.data(), n, h, wd, y.data());
  const std::vector<float> ref = Reference(layer, w).conv(x, n, h, wd, b, oh, ow);
  EXPECT_LT(rel_err(y, ref), kTolerance) << infer_precision_name(s.precision) << " " << s.act.str() << " groups "
                                           << s.groups << " " << layer.impl_info();
}

std::vector<InferPrecision> precisions() {
  std::vector<InferPrecision> p{InferPrecision::f32, InferPrecision::int8};
  if (detail::native_bf16()) p.push_back(InferPrecision::bf16);
  return p;
}

InferLayerSpec spec_for(InferPrecision p, bool unsigned_input) {
  InferLayerSpec s;
  s.precision = p;
  s.input_unsigned = unsigned_input;
  s.input_scale = unsigned_input ? 2.f / 255.f : 2.f / 127.f;
  return s;
}

}  // namespace

TEST(OnednnInfer, LinearMatchesReference) {
  for (InferPrecision p : precisions())
    for (bool u : {true, false})
      for (int64_t n : {1, 7, 32}) {
        InferLayerSpec s = spec_for(p, u);
        s.in = 53;
        s.out = 37;
        check_linear(s, n);
      }
}

TEST(OnednnInfer, ConvMatchesReference) {
  for (InferPrecision p : precisions())
    for (bool u : {true, false}) {
      InferLayerSpec s = spec_for(p, u);
      s.in = 3, s.out = 8, s.kh = 3, s.kw = 3, s.sh = 2, s.sw = 2, s.ph = 1, s.pw = 1;
      check_conv(s, 3, 11, 9);
      s.in = 8, s.out = 16, s.kh = 5, s.kw = 5, s.sh = 1, s.sw = 1, s.ph = 0, s.pw = 0;  // LeNet's second conv
      check_conv(s, 2, 14, 14);
      s.in = 8, s.out = 8, s.kh = 3, s.kw = 3, s.ph = 1, s.pw = 1, s.groups = 8;  // depthwise
      check_conv(s, 2, 7, 7);
      s.in = 8, s.out = 12, s.groups = 2, s.dh = 2, s.dw = 2;  // grouped, dilated
      check_conv(s, 2, 9, 9);
    }
}

TEST(OnednnInfer, FusedActivationsMatchApply) {
  for (InferPrecision p : precisions())
    for (auto k : {Eltwise::relu, Eltwise::leaky_relu, Eltwise::tanh, Eltwise::sigmoid, Eltwise::silu, Eltwise::gelu,
                   Eltwise::gelu_tanh}) {
      InferLayerSpec s = spec_for(p, false);
      s.in = 40, s.out = 24;
      s.act = {k, 0.1f};
      check_linear(s, 5);
      s.in = 4, s.out = 8, s.kh = 3, s.kw = 3;
      check_conv(s, 2, 6, 6);
    }
}

TEST(OnednnInfer, BatchShardsOverThreadsEqualOneShard) {
  for (InferPrecision p : precisions()) {
    InferLayerSpec s = spec_for(p, true);
    s.conv = true, s.in = 6, s.out = 16, s.kh = 5, s.kw = 5, s.act = {Eltwise::relu, 0.f};
    const std::vector<float> w = randv(16 * 6 * 25, -0.3f, 0.3f, 7), x = randv(9 * 6 * 14 * 14, 0.f, 2.f, 8);
    const InferLayer layer(s, w.data(), nullptr);
    std::vector<float> one(9 * 16 * 10 * 10), two(one.size());
    set_num_threads(1);
    layer.forward(x.data(), 9, 14, 14, one.data());
    set_num_threads(2);
    layer.forward(x.data(), 9, 14, 14, two.data());
    EXPECT_EQ(one, two) << infer_precision_name(p);
  }
}

TEST(OnednnInfer, NativeBf16OrSaysWhy) {
  if (!detail::native_bf16())
    GTEST_SKIP() << "this CPU has no AVX-512 BF16 / AMX-BF16 (or BIGDL_ISA caps it): bf16 layers are not built here";
  InferLayerSpec s = spec_for(InferPrecision::bf16, false);
  s.in = 64, s.out = 32;
  const std::vector<float> w = randv(64 * 32, -1.f, 1.f, 9), x = randv(64, -1.f, 1.f, 10);
  const InferLayer layer(s, w.data(), nullptr);
  std::vector<float> y(32);
  layer.forward(x.data(), 1, 1, 1, y.data());
  EXPECT_NE(layer.impl_info().find("bf16"), std::string::npos) << layer.impl_info();
}

TEST(OnednnInfer, BadSpecsAreValueErrors) {
  if (!detail::native_bf16()) {  // bf16 is refused, not emulated
    InferLayerSpec b;
    b.in = 4, b.out = 4, b.precision = InferPrecision::bf16;
    const std::vector<float> w16(16, 0.1f);
    EXPECT_THROW(InferLayer(b, w16.data(), nullptr), ValueError);
  }
  const std::vector<float> w(64, 0.1f);
  InferLayerSpec s;
  s.in = 0, s.out = 4;
  EXPECT_THROW(InferLayer(s, w.data(), nullptr), ValueError);
  s.in = 4, s.precision = InferPrecision::int8, s.input_scale = 0.f;
  EXPECT_THROW(InferLayer(s, w.data(), nullptr), ValueError);
  s.conv = true, s.in = 3, s.out = 4, s.groups = 2, s.input_scale = 1.f;
  EXPECT_THROW(InferLayer(s, w.data(), nullptr), ValueError);
}

// The dynamic int8 Linear against the same quantization done here in double: weights per
// output channel over [-int8_weight_max(), int8_weight_max()], each input row by its own
// max |x| / 127 (half away from zero), the int32 sum exact, then act(s_row * s_w * sum + b).
// Row counts cover one block, a block and a tail, and the tail alone (blocks of 64).
TEST(OnednnInfer, DynamicInt8LinearMatchesReference) {
  const int64_t in = 70, out = 40;
  const std::vector<float> w = randv(in * out, -0.5f, 0.5f, 21), b = randv(out, -1.f, 1.f, 22);
  const double qmax = detail::int8_weight_max();
  for (Eltwise act : {Eltwise{}, Eltwise{Eltwise::gelu, 0.f}}) {
    const detail::DynamicInt8Linear layer(in, out, w.data(), b.data(), act);
    for (int64_t n : {1, 64, 65, 150}) {
      const std::vector<float> x = randv(n * in, -3.f, 2.f, uint64_t(23 + n));
      std::vector<float> y(size_t(n * out)), y1(y.size());
      set_num_threads(2);
      layer.forward(x.data(), n, y.data());
      set_num_threads(1);
      layer.forward(x.data(), n, y1.data());
      set_num_threads(2);
      EXPECT_EQ(y, y1) << n << " rows: 2 threads differ from 1";
      double worst = 0;
      for (int64_t r = 0; r < n; ++r) {
        double mx = 0;
        for (int64_t k = 0; k < in; ++k) mx = std::max(mx, double(std::fabs(x[size_t(r * in + k)])));
        const float sx = mx > 0 ? float(mx) / 127.f : 1.f;
        for (int64_t o = 0; o < out; ++o) {
          double wm = 0;
          for (int64_t k = 0; k < in; ++k) wm = std::max(wm, double(std::fabs(w[size_t(o * in + k)])));
          const float sw = float(wm / qmax);
          int64_t sum = 0;
          for (int64_t k = 0; k < in; ++k) {
            const float v = x[size_t(r * in + k)] * (1.f / sx);
            const int64_t qx = int64_t(v + (v >= 0.f ? 0.5f : -0.5f));
            const int64_t qw = int64_t(std::nearbyint(w[size_t(o * in + k)] / sw));
            sum += qx * qw;
          }
          float want = float(double(sx) * double(sw) * double(sum) + b[size_t(o)]);
          act.apply(&want, 1);
          worst = std::max(worst, std::fabs(double(want) - y[size_t(r * out + o)]) / (1.0 + std::fabs(double(want))));
        }
      }
      EXPECT_LT(worst, 2e-5) << n << " rows, act " << act.str();
    }
  }
}
