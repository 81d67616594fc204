// Reductions: sum (primitive), amax/amin and max/min with indices (primitives),
// mean/var/norm composed from them.
#include <limits>

#include "backend/cpu/kernels.h"
#include "core/internal.h"

namespace bigdl {
namespace {

DType sum_dtype(DType t) { return is_floating(t) ? t : DType::i64; }
DType acc_dtype(DType t) { return t == DType::f64 ? DType::f64 : (is_floating(t) ? DType::f32 : DType::i64); }

// Shape of the result of reducing `dims` (sorted, wrapped).
Shape reduced_shape(const Shape& s, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (int64_t i = 0; i < int64_t(s.size()); ++i) {
    const bool red = std::binary_search(dims.begin(), dims.end(), i);
    if (!red) out.push_back(s[i]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// Moves the reduced dims last and returns a contiguous [K, R] tensor in dtype `work`.
Tensor as_rows(const Tensor& x, const std::vector<int64_t>& dims, DType work, int64_t* K, int64_t* R) {
  std::vector<int64_t> perm;
  *K = 1;
  *R = 1;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (!std::binary_search(dims.begin(), dims.end(), i)) {
      perm.push_back(i);
      *K *= x.shape()[i];
    }
  for (int64_t d : dims) {
    perm.push_back(d);
    *R *= x.shape()[d];
  }
  Tensor p = x.detach().permute(perm);
  if (p.dtype() != work) p = p.to(work);
  return p.contiguous();
}

// Sum over `dims` without autograd, result in sum_dtype.
Tensor sum_values(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const DType work = acc_dtype(x.dtype());
  Shape out_shape = reduced_shape(x.shape(), dims, keepdim);
  Tensor out = zeros(out_shape, work);
  const int64_t nd = int64_t(dims.size());
  // Leading dims of a contiguous tensor: add rows (bias gradients, batch statistics).
  bool prefix = x.is_contiguous() && nd > 0 && nd < x.dim();
  for (int64_t i = 0; prefix && i < nd; ++i) prefix = dims[i] == i;
  if (prefix && work == DType::f32 && x.dtype() == DType::f32) {
    int64_t rows = 1;
    for (int64_t i = 0; i < nd; ++i) rows *= x.shape()[i];
    const int64_t cols = x.numel() / std::max<int64_t>(rows, 1);
    const float* px = x.data<float>();
    float* po = out.data<float>();
    const auto& k = detail::cpu_kernels();
    detail::parallel_for(cols, 256, [&](int64_t c0, int64_t c1) {
      for (int64_t r = 0; r < rows; ++r) k.add(po + c0, px + r * cols + c0, po + c0, c1 - c0);
    });
  } else {
    int64_t K, R;
    Tensor rows = as_rows(x, dims, work, &K, &R);
    detail::dispatch_work(work, [&](auto zero) {
      using C = decltype(zero);
      const C* p = rows.data<C>();
      C* po = out.data<C>();
      detail::parallel_for(K, std::max<int64_t>(1, 8192 / std::max<int64_t>(R, 1)), [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; ++k) {
          if constexpr (std::is_same_v<C, float>) {
            po[k] = detail::cpu_kernels().sum(p + k * R, R);
          } else {
            C acc = 0;
            for (int64_t r = 0; r < R; ++r) acc += p[k * R + r];
            po[k] = acc;
          }
        }
      });
      return 0;
    });
  }
  const DType res = sum_dtype(x.dtype());
  return out.dtype() == res ? out : out.to(res);
}

// Undo a reduction's shape change so g broadcasts against the input.
Tensor unreduce(const Tensor& g, const Shape& in_shape, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor r = g;
  if (!keepdim)
    for (int64_t d : dims) r = r.unsqueeze(d);
  return r.expand(in_shape);
}

}  // namespace

Tensor sum(const Tensor& a, const std::vector<int64_t>& dims_in, bool keepdim) {
  const auto dims = detail::wrap_dims(dims_in, a.dim(), "sum");
  Tensor out = sum_values(a, dims, keepdim);
  if (detail::needs_grad({&a})) {
    Shape in = a.shape();
    detail::record(out, "sum", {a}, [in, dims, keepdim](const Tensor& g) {
      return std::vector<Tensor>{unreduce(g, in, dims, keepdim)};
    });
  }
  return out;
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& dims_in, bool keepdim) {
  const auto dims = detail::wrap_dims(dims_in, a.dim(), "mean");
  BIGDL_CHECK(is_floating(a.dtype()), DTypeError, "mean", "needs a floating-point tensor, got ", dtype_name(a.dtype()));
  int64_t n = 1;
  for (int64_t d : dims) n *= a.shape()[d];
  return div(sum(a, dims, keepdim), scalar_tensor(double(n), a.dtype()));
}

Tensor var(const Tensor& a, const std::vector<int64_t>& dims_in, bool unbiased, bool keepdim) {
  const auto dims = detail::wrap_dims(dims_in, a.dim(), "var");
  BIGDL_CHECK(is_floating(a.dtype()), DTypeError, "var", "needs a floating-point tensor, got ", dtype_name(a.dtype()));
  int64_t n = 1;
  for (int64_t d : dims) n *= a.shape()[d];
  Tensor c = sub(a, mean(a, dims, true));
  Tensor s = sum(mul(c, c), dims, keepdim);
  return div(s, scalar_tensor(double(unbiased ? std::max<int64_t>(n - 1, 0) : n), s.dtype()));
}

Tensor norm(const Tensor& a) { return sqrt(sum(mul(a, a))); }

namespace {
// Max or min along reduced dims: values (and flat arg index within the reduced block).
void extreme_values(const Tensor& x, const std::vector<int64_t>& dims, bool is_max, Tensor* values, Tensor* args,
                    const char* op) {
  int64_t K, R;
  const DType work = acc_dtype(x.dtype());
  Tensor rows = as_rows(x, dims, work, &K, &R);
  BIGDL_CHECK(R > 0, IndexError, op, "cannot reduce over an empty dimension");
  *values = empty({K}, work);
  *args = empty({K}, DType::i64);
  detail::dispatch_work(work, [&](auto zero) {
    using C = decltype(zero);
    const C* p = rows.data<C>();
    C* pv = values->data<C>();
    int64_t* pi = args->data<int64_t>();
    detail::parallel_for(K, std::max<int64_t>(1, 8192 / R), [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        const C* row = p + k * R;
        int64_t best = 0;
        C bv = row[0];
        for (int64_t r = 1; r < R; ++r) {
          const C v = row[r];
          if (bv != bv) break;  // NaN wins and stays
          if (v != v || (is_max ? v > bv : v < bv)) {
            bv = v;
            best = r;
          }
        }
        pv[k] = bv;
        pi[k] = best;
      }
    });
    return 0;
  });
}

Tensor amax_impl(const Tensor& a, const std::vector<int64_t>& dims_in, bool keepdim, bool is_max, const char* op) {
  const auto dims = detail::wrap_dims(dims_in, a.dim(), op);
  Tensor v, idx;
  extreme_values(a, dims, is_max, &v, &idx, op);
  Tensor out = v.view(reduced_shape(a.shape(), dims, keepdim));
  if (out.dtype() != a.dtype()) out = out.to(a.dtype());
  if (detail::needs_grad({&a})) {
    Shape in = a.shape();
    // The saved output is detached: capturing `out` would make its node own it (a leak).
    detail::record(out, op, {a}, [a, out = out.detach(), in, dims, keepdim](const Tensor& g) {
      // Ties share the gradient evenly, as torch.amax.
      Tensor mask = eq(a, unreduce(out, in, dims, keepdim)).to(g.dtype());
      Tensor cnt = sum(mask, dims, true);
      return std::vector<Tensor>{div(mul(mask, unreduce(g, in, dims, keepdim)), cnt)};
    });
  }
  return out;
}

std::pair<Tensor, Tensor> max_dim(const Tensor& a, int64_t dim, bool keepdim, bool is_max, const char* op) {
  const int64_t d = detail::wrap_dim(dim, a.dim(), op);
  const std::vector<int64_t> dims = a.dim() == 0 ? std::vector<int64_t>{} : std::vector<int64_t>{d};
  Tensor v, idx;
  extreme_values(a, dims, is_max, &v, &idx, op);
  const Shape shp = reduced_shape(a.shape(), dims, keepdim);
  Tensor out = v.view(shp);
  if (out.dtype() != a.dtype()) out = out.to(a.dtype());
  Tensor indices = idx.view(shp);
  if (detail::needs_grad({&a})) {
    Shape in = a.shape();
    detail::record(out, op, {a}, [in, d, keepdim, indices, dims](const Tensor& g) {
      if (in.empty()) return std::vector<Tensor>{g};
      Tensor gi = keepdim ? g : g.unsqueeze(d);
      Tensor ii = keepdim ? indices : indices.unsqueeze(d);
      return std::vector<Tensor>{scatter_add(zeros(in, g.dtype()), d, ii, gi)};
    });
  }
  return {out, indices};
}
}  // namespace

Tensor amax(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) { return amax_impl(a, dims, keepdim, true, "amax"); }
Tensor amin(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) { return amax_impl(a, dims, keepdim, false, "amin"); }
std::pair<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim) { return max_dim(a, dim, keepdim, true, "max"); }
std::pair<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim) { return max_dim(a, dim, keepdim, false, "min"); }
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim) {
  NoGradGuard ng;
  return max_dim(a, dim, keepdim, true, "argmax").second;
}
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim) {
  NoGradGuard ng;
  return max_dim(a, dim, keepdim, false, "argmin").second;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int64_t lead = x.dim() - int64_t(shape.size());
  BIGDL_CHECK(lead >= 0, ShapeError, "sum_to", "cannot reduce ", shape_str(x.shape()), " to ", shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i < lead) {
      dims.push_back(i);
    } else if (shape[i - lead] == 1 && x.shape()[i] != 1) {
      dims.push_back(i);
    } else {
      BIGDL_CHECK(shape[i - lead] == x.shape()[i], ShapeError, "sum_to", "cannot reduce ", shape_str(x.shape()), " to ",
                  shape_str(shape));
    }
  }
  if (dims.empty()) return x.reshape(shape);
  return sum(x, dims, true).reshape(shape);
}

}  // namespace bigdl
