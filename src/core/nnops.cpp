// Softmax family (primitives, row kernels from the SIMD table) and composed
// normalisation / activation ops.
#include <cmath>

#include "backend/cpu/kernels.h"
#include "bigdl/random.h"
#include "core/internal.h"

namespace bigdl {
namespace {

// Applies a row kernel along `dim`: moves dim last, runs rows, moves it back.
Tensor rowwise(const Tensor& x, int64_t dim, void (*fn)(const float*, float*, int64_t), const char* op) {
  BIGDL_CHECK(is_floating(x.dtype()), DTypeError, op, "needs a floating-point tensor, got ", dtype_name(x.dtype()));
  if (x.dim() == 0) return rowwise(x.reshape({1}), 0, fn, op).reshape({});
  dim = detail::wrap_dim(dim, x.dim(), op);
  const bool last = dim == x.dim() - 1;
  Tensor xt = x.detach().to(DType::f32);
  if (!last) xt = xt.transpose(dim, -1);
  xt = xt.contiguous();
  const int64_t R = xt.size(-1), K = xt.numel() / std::max<int64_t>(R, 1);
  Tensor out = empty(xt.shape(), DType::f32);
  const float* px = xt.data<float>();
  float* po = out.data<float>();
  detail::parallel_for(K, std::max<int64_t>(1, 4096 / std::max<int64_t>(R, 1)), [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) fn(px + k * R, po + k * R, R);
  });
  if (!last) out = out.transpose(dim, -1).contiguous();
  return out.to(x.dtype());
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) {
  Tensor out = rowwise(x, dim, detail::cpu_kernels().softmax_row, "softmax");
  if (detail::needs_grad({&x}))
    // Saved outputs are detached: capturing `out` would make its node own it (a leak).
    detail::record(out, "softmax", {x}, [out = out.detach(), dim](const Tensor& g) {
      return std::vector<Tensor>{mul(out, sub(g, sum(mul(g, out), {dim}, true)))};
    });
  return out;
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  Tensor out = rowwise(x, dim, detail::cpu_kernels().log_softmax_row, "log_softmax");
  if (detail::needs_grad({&x}))
    detail::record(out, "log_softmax", {x}, [out = out.detach(), dim](const Tensor& g) {
      return std::vector<Tensor>{sub(g, mul(exp(out), sum(g, {dim}, true)))};
    });
  return out;
}

static std::vector<int64_t> last_dims(const Tensor& x, const Shape& normalized_shape, const char* op) {
  const int64_t k = int64_t(normalized_shape.size());
  BIGDL_CHECK(k >= 1 && k <= x.dim(), ShapeError, op, "normalized_shape ", shape_str(normalized_shape),
              " does not fit input ", shape_str(x.shape()));
  BIGDL_CHECK(is_floating(x.dtype()), DTypeError, op, "needs a floating-point tensor, got ", dtype_name(x.dtype()));
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < k; ++i) {
    BIGDL_CHECK(x.shape()[x.dim() - k + i] == normalized_shape[i], ShapeError, op, "input ", shape_str(x.shape()),
                " does not end with normalized_shape ", shape_str(normalized_shape));
    dims.push_back(x.dim() - k + i);
  }
  return dims;
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias, double eps) {
  const auto dims = last_dims(x, normalized_shape, "layer_norm");
  const int64_t d = shape_numel(normalized_shape);
  const auto fits = [&](const Tensor& t) { return !t.defined() || (t.dtype() == DType::f32 && t.numel() == d); };
  if (x.dtype() == DType::f32 && d > 0 && fits(weight) && fits(bias) && !detail::needs_grad({&x, &weight, &bias})) {
    // Inference: rows over the pool, one pass each with the SIMD sum and dot (the ops
    // below, kept for autograd, are seven passes: measured 2x on all-MiniLM-L6-v2).
    const Tensor xc = x.contiguous(), wc = weight.defined() ? weight.contiguous() : weight,
                 bc = bias.defined() ? bias.contiguous() : bias;
    Tensor y = empty(x.shape());
    const float* xd = xc.data<float>();
    const float* wd = wc.defined() ? wc.data<float>() : nullptr;
    const float* bd = bc.defined() ? bc.data<float>() : nullptr;
    float* yd = y.data<float>();
    const detail::CpuKernels& k = detail::cpu_kernels();
    detail::parallel_for(x.numel() / d, std::max<int64_t>(1, 16384 / d), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* xr = xd + r * d;
        float* yr = yd + r * d;
        const float mu = k.sum(xr, d) / float(d);
        for (int64_t i = 0; i < d; ++i) yr[i] = xr[i] - mu;
        const float inv = 1.f / std::sqrt(k.dot(yr, yr, d) / float(d) + float(eps));
        for (int64_t i = 0; i < d; ++i) yr[i] = yr[i] * inv * (wd ? wd[i] : 1.f) + (bd ? bd[i] : 0.f);
      }
    });
    return y;
  }
  Tensor mu = mean(x, dims, true);
  Tensor c = sub(x, mu);
  Tensor v = mean(mul(c, c), dims, true);
  Tensor y = mul(c, rsqrt(add(v, scalar_tensor(eps, v.dtype()))));
  if (weight.defined()) y = mul(y, weight);
  if (bias.defined()) y = add(y, bias);
  return y;
}

Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, double eps) {
  const auto dims = last_dims(x, normalized_shape, "rms_norm");
  Tensor ms = mean(mul(x, x), dims, true);
  Tensor y = mul(x, rsqrt(add(ms, scalar_tensor(eps, ms.dtype()))));
  return weight.defined() ? mul(y, weight) : y;
}

Tensor gelu(const Tensor& x, bool tanh_approximation) {
  const DType t = x.dtype();
  if (tanh_approximation) {
    const double k = std::sqrt(2.0 / M_PI);
    Tensor inner = mul(scalar_tensor(k, t), add(x, mul(scalar_tensor(0.044715, t), mul(x, mul(x, x)))));
    return mul(mul(scalar_tensor(0.5, t), x), add(scalar_tensor(1.0, t), tanh(inner)));
  }
  return mul(mul(scalar_tensor(0.5, t), x), add(scalar_tensor(1.0, t), erf(mul(x, scalar_tensor(M_SQRT1_2, t)))));
}

Tensor silu(const Tensor& x) { return mul(x, sigmoid(x)); }

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  return where(gt(x, zeros({}, x.dtype())), x, mul(x, scalar_tensor(negative_slope, x.dtype())));
}

Tensor elu(const Tensor& x, double alpha) {
  const Tensor zero = zeros({}, x.dtype());
  // exp only of the non-positive part, so large inputs do not overflow.
  Tensor neg_part = mul(scalar_tensor(alpha, x.dtype()), sub(exp(minimum(x, zero)), scalar_tensor(1.0, x.dtype())));
  return where(gt(x, zero), x, neg_part);
}

Tensor dropout(const Tensor& x, double p, bool training) {
  BIGDL_CHECK(p >= 0.0 && p <= 1.0, ValueError, "dropout", "probability must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, zeros({}, x.dtype()));
  Tensor mask = bernoulli(x.shape(), 1.0 - p, x.dtype());
  return mul(x, mul(mask, scalar_tensor(1.0 / (1.0 - p), x.dtype())));
}

}  // namespace bigdl
