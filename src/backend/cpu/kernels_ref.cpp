// Scalar reference kernels: the specification every SIMD table is tested against.
//
// Plain loops, <cmath> for the transcendental functions, double accumulators for
// reductions. Compiled for the x86-64 baseline (no ISA flags), so this table also
// serves CPUs without AVX2 and the BIGDL_ISA=scalar override.
//
// Semantics fixed here (the SIMD tables must match them):
//   relu(x)              = x <= 0 ? +0 : x        (NaN propagates, -0 -> +0)
//   relu_backward(g, x)  = x > 0 ? g : +0         (NaN x -> 0; never inf * 0)
//   max(empty)           = -inf, and NaN if any element is NaN
//   sum/dot(empty)       = 0
//   sigmoid(x)           = 1 / (1 + exp(-x)) for x >= 0, e / (1 + e) with e = exp(x)
//                          otherwise, so exp never overflows
//   f16/bf16 -> f32      exact; a NaN keeps its payload and comes back quiet
//                        (what F16C's vcvtph2ps does)
//   f32 -> f16/bf16      round to nearest even, overflow to inf, NaN stays NaN
//                        (quiet bit set, payload truncated, sign kept)
#include <cmath>
#include <cstdint>
#include <cstring>

#include "backend/cpu/kernels.h"
#include "bigdl/dtype.h"  // the one scalar f16/bf16 conversion

namespace bigdl::detail {
namespace {

void add_ref(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}
void sub_ref(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] - b[i];
}
void mul_ref(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}
void div_ref(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] / b[i];
}
void add_scalar_ref(const float* a, float s, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + s;
}
void mul_scalar_ref(const float* a, float s, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * s;
}
// Multiply then add, two roundings: the SIMD tables must not fuse this into an FMA.
void axpy_ref(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float p = alpha * x[i];
    y[i] = y[i] + p;
  }
}

void exp_ref(const float* a, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = std::exp(a[i]);
}
void log_ref(const float* a, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = std::log(a[i]);
}
void tanh_ref(const float* a, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = std::tanh(a[i]);
}
void erf_ref(const float* a, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = std::erf(a[i]);
}
void sigmoid_ref(const float* a, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = a[i];
    if (x >= 0.0f) {
      out[i] = 1.0f / (1.0f + std::exp(-x));
    } else {
      const float e = std::exp(x);  // NaN lands here too and stays NaN
      out[i] = e / (1.0f + e);
    }
  }
}
void relu_ref(const float* a, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] <= 0.0f ? 0.0f : a[i];
}
void relu_backward_ref(const float* grad, const float* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0.0f ? grad[i] : 0.0f;
}

float sum_ref(const float* a, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += a[i];
  return static_cast<float>(s);
}
float max_ref(const float* a, int64_t n) {
  float m = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(a[i])) return a[i];
    if (a[i] > m) m = a[i];
  }
  return m;
}
float dot_ref(const float* a, const float* b, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return static_cast<float>(s);
}

// A row whose max is +inf or NaN, or that is all -inf, comes out all NaN (as in PyTorch).
void softmax_row_ref(const float* a, float* out, int64_t n) {
  const float m = max_ref(a, n);
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    out[i] = std::exp(a[i] - m);
    s += out[i];
  }
  const float inv = static_cast<float>(1.0 / s);
  for (int64_t i = 0; i < n; ++i) out[i] *= inv;
}
void log_softmax_row_ref(const float* a, float* out, int64_t n) {
  const float m = max_ref(a, n);
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(a[i] - m);
  const float log_s = static_cast<float>(std::log(s));
  for (int64_t i = 0; i < n; ++i) out[i] = (a[i] - m) - log_s;
}

void f16_to_f32_ref(const uint16_t* a, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = half_to_float(a[i]);
}
void f32_to_f16_ref(const float* a, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = float_to_half(a[i]);
}
void bf16_to_f32_ref(const uint16_t* a, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_float(a[i]);
}
void f32_to_bf16_ref(const float* a, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = float_to_bf16(a[i]);
}

}  // namespace

const CpuKernels& kernels_ref() {
  static const CpuKernels table = {
      .name = "scalar",
      .add = add_ref,
      .sub = sub_ref,
      .mul = mul_ref,
      .div = div_ref,
      .add_scalar = add_scalar_ref,
      .mul_scalar = mul_scalar_ref,
      .axpy = axpy_ref,
      .exp = exp_ref,
      .log = log_ref,
      .tanh = tanh_ref,
      .sigmoid = sigmoid_ref,
      .erf = erf_ref,
      .relu = relu_ref,
      .relu_backward = relu_backward_ref,
      .sum = sum_ref,
      .max = max_ref,
      .dot = dot_ref,
      .softmax_row = softmax_row_ref,
      .log_softmax_row = log_softmax_row_ref,
      .f16_to_f32 = f16_to_f32_ref,
      .f32_to_f16 = f32_to_f16_ref,
      .bf16_to_f32 = bf16_to_f32_ref,
      .f32_to_bf16 = f32_to_bf16_ref,
  };
  return table;
}

}  // namespace bigdl::detail
