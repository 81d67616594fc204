// The one finite-difference gradient checker for bigdl ops (tests/ops).
//
// gradcheck(f, inputs, opts) runs f on fresh leaf copies of `inputs` (cast to
// opts.dtype), back-propagates loss = sum(f(x) * W) for a fixed random weight tensor W
// (so every output element gets its own weight and a wrong index or transpose in a
// backward shows up), and compares each d loss / d x[i][j] with the central
// difference (loss(x + eps) - loss(x - eps)) / 2eps, element by element:
//   |analytic - numeric| <= atol + rtol * |numeric|.
//
// Precision. The default runs everything in f64 (the engine is f64 end to end for
// elementwise ops, reductions and matmul via cblas_dgemm), with eps = 1e-6 and tight
// tolerances. Ops that only have f32 kernels (conv2d/conv1d, max/avg pooling, the
// softmax row kernels, the f32 linear fast path) are checked in f32 with opts.dtype =
// f32; the loss is still accumulated in f64. For ops that are linear in each input
// (conv, avg_pool, linear) a large eps (0.5) makes the central difference exact up to
// f32 rounding, so the tolerance can stay tight; for non-linear f32 ops eps ~ 1e-3
// and tolerances around 1e-3 are the honest limit.
//
// Input generation (make_input): InputSpec gives each input a shape and a value
// range; `avoid` lists kinks (relu/abs at 0, clamp bounds) that values keep `margin`
// away from, and `distinct` spreads values on a shuffled grid so max/argmax-style ops
// never see near-ties that a finite step could flip.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "bigdl/autograd.h"
#include "bigdl/ops.h"
#include "bigdl/random.h"
#include "bigdl/tensor.h"

namespace bigdl::testing {

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct InputSpec {
  Shape shape;
  double lo = -1.0, hi = 1.0;  // values drawn from U[lo, hi)
  std::vector<double> avoid;   // keep |x - p| >= margin for each p
  double margin = 0.05;
  bool distinct = false;       // shuffled grid lo + (k + 0.5) * (hi - lo) / n
};

inline InputSpec uniform_in(Shape s, double lo = -1.0, double hi = 1.0) { return {std::move(s), lo, hi, {}, 0.05, false}; }
inline InputSpec positive_in(Shape s) { return {std::move(s), 0.5, 2.0, {}, 0.05, false}; }
inline InputSpec away_from(Shape s, std::vector<double> kinks, double lo = -1.0, double hi = 1.0) {
  return {std::move(s), lo, hi, std::move(kinks), 0.05, false};
}
inline InputSpec distinct_in(Shape s, double lo = -1.0, double hi = 1.0) { return {std::move(s), lo, hi, {}, 0.05, true}; }

// A new f64 tensor following `spec`; deterministic for a given generator state.
inline Tensor make_input(const InputSpec& spec, Generator& gen) {
  const int64_t n = shape_numel(spec.shape);
  std::vector<double> v(static_cast<size_t>(n));
  if (spec.distinct) {
    std::vector<int64_t> perm = randperm(n, &gen).to_int_vector();
    const double step = (spec.hi - spec.lo) / double(std::max<int64_t>(n, 1));
    for (int64_t i = 0; i < n; ++i) v[size_t(i)] = spec.lo + (double(perm[size_t(i)]) + 0.5) * step;
  } else {
    for (double& x : v) {
      for (int tries = 0;; ++tries) {
        x = spec.lo + (spec.hi - spec.lo) * gen.next_double();
        bool ok = true;
        for (double p : spec.avoid) ok = ok && std::abs(x - p) >= spec.margin;
        if (ok) break;
        if (tries > 1000) throw std::runtime_error("make_input: range leaves no room outside `avoid`");
      }
    }
  }
  return from_vector(v, spec.shape, DType::f64);
}

struct GradCheckOptions {
  DType dtype = DType::f64;  // precision of the inputs the check runs on
  double eps = 1e-6;         // central-difference step
  double atol = 1e-7;
  double rtol = 1e-6;
  uint64_t seed = 0x9d1;     // for the loss weights
};

// Options for an f32-only op that is linear in each input (exact central differences).
inline GradCheckOptions f32_linear() { return {DType::f32, 0.5, 2e-5, 1e-4, 0x9d1}; }
// Options for an f32-only non-linear op.
inline GradCheckOptions f32_nonlinear() { return {DType::f32, 1e-2, 1e-4, 5e-4, 0x9d1}; }

namespace detail_gc {
inline double loss_value(const OpFn& f, const std::vector<Tensor>& xs, const Tensor& w) {
  NoGradGuard ng;
  return sum(mul(f(xs), w)).item();
}
inline std::string index_str(const Shape& shape, int64_t flat) {
  Shape idx(shape.size());
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    idx[size_t(d)] = shape[size_t(d)] ? flat % shape[size_t(d)] : 0;
    flat = shape[size_t(d)] ? flat / shape[size_t(d)] : 0;
  }
  return shape_str(idx);
}
}  // namespace detail_gc

// Checks f's backward against central differences; see the header comment.
inline ::testing::AssertionResult gradcheck(const OpFn& f, const std::vector<Tensor>& inputs,
                                            const GradCheckOptions& o = {}) {
  // Fresh leaves that own their (contiguous) memory, so elements can be nudged in place.
  std::vector<Tensor> xs;
  for (const Tensor& in : inputs) {
    Tensor x;
    {
      NoGradGuard ng;
      x = in.detach().to(o.dtype).clone();
    }
    x.requires_grad_(true);
    xs.push_back(x);
  }
  Tensor out = f(xs);
  if (!out.requires_grad())
    return ::testing::AssertionFailure() << "output does not require grad (no graph was recorded)";
  Generator wgen(o.seed);
  const Tensor w = normal(out.shape(), 0.0, 1.0, DType::f64, &wgen);
  sum(mul(out, w)).backward();

  for (size_t i = 0; i < xs.size(); ++i) {
    Tensor& x = xs[i];
    const Tensor ga = x.grad();
    if (ga.defined()) {
      if (ga.shape() != x.shape())
        return ::testing::AssertionFailure() << "input " << i << ": grad shape " << shape_str(ga.shape())
                                             << " != input shape " << shape_str(x.shape());
      if (ga.dtype() != x.dtype())
        return ::testing::AssertionFailure() << "input " << i << ": grad dtype " << dtype_name(ga.dtype())
                                             << " != input dtype " << dtype_name(x.dtype());
    }
    const std::vector<double> analytic =
        ga.defined() ? ga.to_double_vector() : std::vector<double>(size_t(x.numel()), 0.0);
    double worst = 0.0;
    int64_t worst_j = -1;
    double worst_a = 0, worst_n = 0;
    for (int64_t j = 0; j < x.numel(); ++j) {
      auto nudge = [&](double delta) {
        if (x.dtype() == DType::f64) x.data<double>()[j] += delta;
        else x.data<float>()[j] = float(double(x.data<float>()[j]) + delta);
      };
      const double orig = x.dtype() == DType::f64 ? x.data<double>()[j] : double(x.data<float>()[j]);
      nudge(o.eps);
      // Use the step actually taken (f32 rounds x + eps).
      const double xp = x.dtype() == DType::f64 ? x.data<double>()[j] : double(x.data<float>()[j]);
      const double lp = detail_gc::loss_value(f, xs, w);
      if (x.dtype() == DType::f64) x.data<double>()[j] = orig - o.eps;
      else x.data<float>()[j] = float(orig - o.eps);
      const double xm = x.dtype() == DType::f64 ? x.data<double>()[j] : double(x.data<float>()[j]);
      const double lm = detail_gc::loss_value(f, xs, w);
      if (x.dtype() == DType::f64) x.data<double>()[j] = orig;
      else x.data<float>()[j] = float(orig);
      const double numeric = (lp - lm) / (xp - xm);
      const double a = analytic[size_t(j)];
      const double excess = std::abs(a - numeric) - (o.atol + o.rtol * std::abs(numeric));
      if (!(excess <= worst)) {  // also catches NaN
        worst = std::isnan(excess) ? INFINITY : excess;
        worst_j = j;
        worst_a = a;
        worst_n = numeric;
      }
    }
    if (worst_j >= 0)
      return ::testing::AssertionFailure()
             << "input " << i << " " << shape_str(x.shape()) << ": d loss/d x" << detail_gc::index_str(x.shape(), worst_j)
             << " analytic " << worst_a << " vs numeric " << worst_n << " (worst element; atol " << o.atol << ", rtol "
             << o.rtol << ", eps " << o.eps << ", " << dtype_name(o.dtype) << ")";
  }
  return ::testing::AssertionSuccess();
}

// Forward consistency across dtypes (STYLE item 8): f on `inputs` cast to `dtype`
// must match f on the f64 inputs within tol * max(1, max |f64 result|) per element.
inline ::testing::AssertionResult forward_matches_f64(const OpFn& f, const std::vector<Tensor>& inputs, DType dtype,
                                                      double tol) {
  NoGradGuard ng;
  std::vector<Tensor> x64, xd;
  for (const Tensor& in : inputs) {
    x64.push_back(in.to(DType::f64));
    xd.push_back(in.to(dtype));
  }
  const Tensor ref = f(x64);
  const Tensor got = f(xd);
  if (got.shape() != ref.shape())
    return ::testing::AssertionFailure() << dtype_name(dtype) << " result shape " << shape_str(got.shape()) << " != f64 "
                                         << shape_str(ref.shape());
  if (got.dtype() != dtype)
    return ::testing::AssertionFailure() << "result dtype " << dtype_name(got.dtype()) << " for " << dtype_name(dtype)
                                         << " inputs";
  const std::vector<double> r = ref.to_double_vector(), g = got.to_double_vector();
  double scale = 1.0;
  for (double v : r) scale = std::max(scale, std::abs(v));
  for (size_t j = 0; j < r.size(); ++j)
    if (!(std::abs(r[j] - g[j]) <= tol * scale))
      return ::testing::AssertionFailure() << dtype_name(dtype) << " element " << detail_gc::index_str(ref.shape(), int64_t(j))
                                           << " = " << g[j] << ", f64 gives " << r[j] << " (tol " << tol * scale << ")";
  return ::testing::AssertionSuccess();
}

}  // namespace bigdl::testing
