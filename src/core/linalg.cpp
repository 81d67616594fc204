// Matrix products through OpenBLAS (see docs/decisions.md for why OpenBLAS), or oneDNN's
// bf16 matmul under bf16 autocast (include/bigdl/tensor.h).
#include <cblas.h>

#include "backend/cpu/onednn_matmul.h"
#include "core/internal.h"

namespace bigdl {
namespace {

// A 2-D operand as BLAS sees it: pointer, leading dimension and whether transposed.
struct BlasMat {
  const void* p;
  int64_t ld;
  bool trans;
};

// Row-major view of a 2-D tensor `m` with a unit stride in one dim; `keep` holds a
// contiguous copy when neither stride is unit.
BlasMat blas_view(const Tensor& m, Tensor* keep) {
  const int64_t r = m.shape()[0], c = m.shape()[1];
  const int64_t s0 = m.strides()[0], s1 = m.strides()[1];
  if ((s1 == 1 || c == 1) && s0 >= std::max<int64_t>(c, 1)) return {m.raw_data(), std::max<int64_t>(s0, 1), false};
  if ((s0 == 1 || r == 1) && s1 >= std::max<int64_t>(r, 1)) return {m.raw_data(), std::max<int64_t>(s1, 1), true};
  *keep = m.contiguous();
  return {keep->raw_data(), std::max<int64_t>(c, 1), false};
}

// C[n,m] = alpha * A[n,k] @ B[k,m] + beta * C; C contiguous rows with ldc.
void gemm2d(const Tensor& A, const Tensor& B, void* C, int64_t ldc, float beta, DType dt) {
  Tensor ka, kb;
  const BlasMat a = blas_view(A, &ka), b = blas_view(B, &kb);
  const int64_t n = A.shape()[0], k = A.shape()[1], m = B.shape()[1];
  if (n == 0 || m == 0) return;
  if (dt == DType::f32 && autocast_bf16()) {
    detail::bf16_gemm(n, m, k, static_cast<const float*>(a.p), a.ld, a.trans, static_cast<const float*>(b.p), b.ld, b.trans,
                      static_cast<float*>(C), ldc, beta);
  } else if (dt == DType::f32) {
    cblas_sgemm(CblasRowMajor, a.trans ? CblasTrans : CblasNoTrans, b.trans ? CblasTrans : CblasNoTrans, int(n), int(m),
                int(k), 1.0f, static_cast<const float*>(a.p), int(a.ld), static_cast<const float*>(b.p), int(b.ld), beta,
                static_cast<float*>(C), int(ldc));
  } else {
    cblas_dgemm(CblasRowMajor, a.trans ? CblasTrans : CblasNoTrans, b.trans ? CblasTrans : CblasNoTrans, int(n), int(m),
                int(k), 1.0, static_cast<const double*>(a.p), int(a.ld), static_cast<const double*>(b.p), int(b.ld), beta,
                static_cast<double*>(C), int(ldc));
  }
}

DType matmul_dtype(const Tensor& a, const Tensor& b, const char* op) {
  const DType t = promote_types(a.dtype(), b.dtype());
  BIGDL_CHECK(is_floating(t), DTypeError, op, "needs floating-point operands, got ", dtype_name(a.dtype()), " and ",
              dtype_name(b.dtype()));
  return t;
}

// Batched product of a [..., n, k] and b [..., k, m] (both >= 2-D), no autograd.
Tensor matmul_values(const Tensor& a_in, const Tensor& b_in, const char* op) {
  const DType res = matmul_dtype(a_in, b_in, op);
  const DType work = res == DType::f64 ? DType::f64 : DType::f32;
  const Tensor a = a_in.detach().to(work), b = b_in.detach().to(work);
  const int64_t n = a.size(-2), k = a.size(-1), k2 = b.size(-2), m = b.size(-1);
  BIGDL_CHECK(k == k2, ShapeError, op, "shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
              " cannot be multiplied (", k, " != ", k2, ")");
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, op);
  Shape out_shape = batch;
  out_shape.push_back(n);
  out_shape.push_back(m);
  Tensor out = empty(out_shape, work);
  const int64_t B = shape_numel(batch);
  if (bb.empty() || shape_numel(bb) == 1) {
    // b shared by every batch: fold a's batch into its rows (one big GEMM).
    Tensor a2 = a.expand([&] { Shape s = batch; s.push_back(n); s.push_back(k); return s; }()).reshape({B * n, k});
    Tensor b2 = b.reshape({k, m});
    gemm2d(a2, b2, out.raw_data(), m, 0.0f, work);
  } else {
    Shape sa = batch, sb = batch;
    sa.push_back(n); sa.push_back(k);
    sb.push_back(k); sb.push_back(m);
    if (work == DType::f32 && !autocast_bf16() && B >= 2 && B >= get_num_threads() && n * m * k <= (int64_t(1) << 22)) {
      // Many small products: split the batch over the pool (onednn_matmul.h says why).
      // Each operand stays a view where its slices are BLAS matrices (attention's permuted
      // Q / K / V are), with one offset per product.
      const size_t nb = batch.size();
      const auto view = [&](Tensor t, int64_t& ld, bool& trans, std::vector<int64_t>& offs) {
        const int64_t r = t.size(int64_t(nb)), c = t.size(int64_t(nb) + 1);
        const int64_t s1 = t.strides()[nb], s2 = t.strides()[nb + 1];
        trans = false;
        if (r > 1 && c > 1 && s2 == 1 && s1 >= c) {
          ld = s1;
        } else if (r > 1 && c > 1 && s1 == 1 && s2 >= r) {
          trans = true;
          ld = s2;
        } else {
          t = t.contiguous();
          ld = std::max<int64_t>(c, 1);
        }
        offs.assign(size_t(B), 0);
        for (int64_t i = 0; i < B; ++i)
          for (int64_t d = int64_t(nb) - 1, rest = i; d >= 0; --d) {
            offs[size_t(i)] += (rest % batch[size_t(d)]) * t.strides()[size_t(d)];
            rest /= batch[size_t(d)];
          }
        return t;
      };
      int64_t lda = 0, ldb = 0;
      bool ta = false, tb = false;
      std::vector<int64_t> offs_a, offs_b;
      const Tensor av = view(a.expand(sa), lda, ta, offs_a), bv = view(b.expand(sb), ldb, tb, offs_b);
      detail::f32_batched_gemm(B, n, m, k, av.data<float>(), offs_a.data(), lda, ta, bv.data<float>(), offs_b.data(), ldb, tb,
                               static_cast<float*>(out.raw_data()));
      return out.dtype() == res ? out : out.to(res);
    }
    Tensor a3 = a.expand(sa).reshape({B, n, k});
    Tensor b3 = b.expand(sb).reshape({B, k, m});
    const int64_t esz = element_size(work);
    // OpenBLAS threads each product; a second level of threads here would oversubscribe.
    for (int64_t i = 0; i < B; ++i)
      gemm2d(a3.select(0, i), b3.select(0, i), static_cast<char*>(out.raw_data()) + i * n * m * esz, m, 0.0f, work);
  }
  return out.dtype() == res ? out : out.to(res);
}

Tensor matmul_nd(const Tensor& a, const Tensor& b, const char* op) {
  Tensor out = matmul_values(a, b, op);
  if (detail::needs_grad({&a, &b}))
    detail::record(out, op, {a, b}, [a, b](const Tensor& g) {
      Tensor ga, gb;
      if (a.requires_grad()) ga = sum_to(matmul_values(g, b.transpose(-1, -2), "matmul_backward"), a.shape()).to(a.dtype());
      if (b.requires_grad()) gb = sum_to(matmul_values(a.transpose(-1, -2), g, "matmul_backward"), b.shape()).to(b.dtype());
      return std::vector<Tensor>{ga, gb};
    });
  return out;
}
}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  BIGDL_CHECK(a.dim() >= 1 && b.dim() >= 1, ShapeError, "matmul", "both arguments need at least 1 dim, got ",
              shape_str(a.shape()), " and ", shape_str(b.shape()));
  if (a.dim() == 1 && b.dim() == 1) return matmul_nd(a.unsqueeze(0), b.unsqueeze(1), "matmul").reshape({});
  if (a.dim() == 1) return matmul_nd(a.unsqueeze(0), b, "matmul").squeeze(-2);
  if (b.dim() == 1) return matmul_nd(a, b.unsqueeze(1), "matmul").squeeze(-1);
  return matmul_nd(a, b, "matmul");
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  BIGDL_CHECK(a.dim() == 3 && b.dim() == 3 && a.size(0) == b.size(0), ShapeError, "bmm", "expected [B,n,k] and [B,k,m], got ",
              shape_str(a.shape()), " and ", shape_str(b.shape()));
  return matmul_nd(a, b, "bmm");
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  BIGDL_CHECK(weight.dim() == 2, ShapeError, "linear", "weight must be 2-D [out, in], got ", shape_str(weight.shape()));
  BIGDL_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), ShapeError, "linear", "input ", shape_str(x.shape()),
              " last dim does not match weight ", shape_str(weight.shape()));
  const int64_t in = weight.size(1), outf = weight.size(0);
  BIGDL_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == outf), ShapeError, "linear", "bias ",
              shape_str(bias.shape()), " does not match weight ", shape_str(weight.shape()));
  const DType dt = matmul_dtype(x, weight, "linear");
  if (dt != DType::f32 || x.dtype() != DType::f32 || weight.dtype() != DType::f32 ||
      (bias.defined() && bias.dtype() != DType::f32)) {
    Tensor y = matmul(x, weight.t());
    return bias.defined() ? add(y, bias) : y;
  }
  const Tensor x2 = x.detach().reshape({-1, in});
  const int64_t n = x2.size(0);
  Tensor out = empty({n, outf}, DType::f32);
  float beta = 0.0f;
  if (bias.defined()) {
    const Tensor bc = bias.detach().contiguous();
    float* po = out.data<float>();
    for (int64_t r = 0; r < n; ++r) std::memcpy(po + r * outf, bc.data<float>(), size_t(outf) * 4);
    beta = 1.0f;
  }
  gemm2d(x2, weight.detach().t(), out.raw_data(), outf, beta, DType::f32);
  Shape out_shape = x.shape();
  out_shape.back() = outf;
  out = out.view(out_shape);
  if (detail::needs_grad({&x, &weight, &bias})) {
    detail::record(out, "linear", {x, weight, bias}, [x, weight, bias, in, outf](const Tensor& g) {
      const Tensor g2 = g.reshape({-1, outf});
      Tensor gx, gw, gb;
      if (x.requires_grad()) {
        gx = empty({g2.size(0), in}, DType::f32);
        gemm2d(g2, weight.detach(), gx.raw_data(), in, 0.0f, DType::f32);
        gx = gx.view(x.shape());
      }
      if (weight.requires_grad()) {
        gw = empty({outf, in}, DType::f32);
        gemm2d(g2.t(), x.detach().reshape({-1, in}), gw.raw_data(), in, 0.0f, DType::f32);
      }
      if (bias.defined() && bias.requires_grad()) gb = sum(g2, {0});
      return std::vector<Tensor>{gx, gw, gb};
    });
  }
  return out;
}

}  // namespace bigdl
