// Convolution and pooling, NCHW, f32. conv2d runs through oneDNN
// (src/backend/cpu/onednn_conv.cpp); im2col + one OpenBLAS GEMM per group over the whole
// batch is the reference it is tested against and the fallback (BIGDL_CONV_BACKEND=im2col).
#include <cblas.h>

#include <limits>

#include "backend/cpu/onednn_conv.h"
#include "core/internal.h"

namespace bigdl {
namespace {

using detail::ConvGeom;

// Output columns ow whose input column ow*sw - pw + j*dw lies inside [0, W).
inline void valid_cols(int64_t j, const ConvGeom& q, int64_t* lo, int64_t* hi) {
  const int64_t off = j * q.dw - q.pw;  // iw = ow*sw + off
  *lo = off >= 0 ? 0 : (-off + q.sw - 1) / q.sw;
  *hi = q.W - off <= 0 ? 0 : std::min<int64_t>(q.OW, (q.W - off - 1) / q.sw + 1);
  if (*hi < *lo) *hi = *lo;
}

// col[(c*kh+i)*kw+j][n*OH*OW + oh*OW + ow] = x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw] (0 outside).
void im2col(const float* x, float* col, const ConvGeom& q) {
  const int64_t rows = q.C * q.kh * q.kw, L = q.OH * q.OW;
  detail::parallel_for(rows, 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t c = r / (q.kh * q.kw), i = (r / q.kw) % q.kh, j = r % q.kw;
      int64_t lo, hi;
      valid_cols(j, q, &lo, &hi);
      const int64_t off = j * q.dw - q.pw;
      float* dst = col + r * q.cols();
      for (int64_t n = 0; n < q.N; ++n) {
        const float* src = x + (n * q.C + c) * q.H * q.W;
        for (int64_t oh = 0; oh < q.OH; ++oh) {
          const int64_t ih = oh * q.sh - q.ph + i * q.dh;
          float* d = dst + n * L + oh * q.OW;
          if (ih < 0 || ih >= q.H) {
            std::memset(d, 0, size_t(q.OW) * 4);
            continue;
          }
          const float* srow = src + ih * q.W + off;
          if (lo > 0) std::memset(d, 0, size_t(lo) * 4);
          if (q.sw == 1) {
            std::memcpy(d + lo, srow + lo, size_t(hi - lo) * 4);
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) d[ow] = srow[ow * q.sw];
          }
          if (hi < q.OW) std::memset(d + hi, 0, size_t(q.OW - hi) * 4);
        }
      }
    }
  });
}

// Inverse of im2col: accumulates col back into x (x zeroed by the caller).
void col2im(const float* col, float* x, const ConvGeom& q) {
  const int64_t L = q.OH * q.OW;
  // Parallel over (n, c) planes: each plane is written by one thread only.
  detail::parallel_for(q.N * q.C, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n = p / q.C, c = p % q.C;
      float* dst = x + p * q.H * q.W;
      for (int64_t i = 0; i < q.kh; ++i)
        for (int64_t j = 0; j < q.kw; ++j) {
          int64_t lo, hi;
          valid_cols(j, q, &lo, &hi);
          const int64_t off = j * q.dw - q.pw;
          const float* src = col + ((c * q.kh + i) * q.kw + j) * q.cols() + n * L;
          for (int64_t oh = 0; oh < q.OH; ++oh) {
            const int64_t ih = oh * q.sh - q.ph + i * q.dh;
            if (ih < 0 || ih >= q.H) continue;
            float* drow = dst + ih * q.W + off;
            const float* s = src + oh * q.OW;
            if (q.sw == 1) {
              for (int64_t ow = lo; ow < hi; ++ow) drow[ow] += s[ow];
            } else {
              for (int64_t ow = lo; ow < hi; ++ow) drow[ow * q.sw] += s[ow];
            }
          }
        }
    }
  });
}

void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
           float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k), 1.0f,
              a, int(lda), b, int(ldb), beta, c, int(ldc));
}

// Weight gradient from the im2col matrix col [C*kh*kw, N*OH*OW] and g2 = gy as [O, N*OH*OW]:
// gw_g = g2_g @ col_g^T for each group.
Tensor weight_grad_im2col(const ConvGeom& q, const float* col, const float* g2, const Shape& weight_shape) {
  Tensor gw = empty(weight_shape, DType::f32);
  for (int64_t gi = 0; gi < q.G; ++gi)
    sgemm(false, true, q.og(), q.ckk(), q.cols(), g2 + gi * q.og() * q.cols(), q.cols(), col + gi * q.ckk() * q.cols(),
          q.cols(), 0.0f, gw.data<float>() + gi * q.og() * q.ckk(), q.ckk());
  return gw;
}

// conv2d through oneDNN's primitives c; the autograd record is the same as the im2col path's.
Tensor conv2d_onednn(const std::shared_ptr<const detail::OnednnConv>& c, const ConvGeom& q, const Tensor& x,
                     const Tensor& weight, const Tensor& bias, const Tensor& xc, const Tensor& wc, bool grad) {
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = empty({q.N, q.O, q.OH, q.OW}, DType::f32);
  detail::onednn_conv_forward(*c, xc.data<float>(), wc.data<float>(), bc.defined() ? bc.data<float>() : nullptr,
                              out.data<float>());
  if (grad) {
    detail::record(out, "conv2d", {x, weight, bias}, [c, q, xc, wc, x, weight, bias](const Tensor& g) {
      const Tensor gc = g.contiguous();
      const bool want_gw = weight.requires_grad(), want_gb = bias.defined() && bias.requires_grad();
      Tensor gx, gw, gb;
      if (x.requires_grad()) gx = empty(x.shape(), DType::f32);
      const bool by_im2col = detail::onednn_conv_weights_by_im2col(*c);
      if (want_gw && !by_im2col) gw = empty(weight.shape(), DType::f32);
      if (want_gb && !by_im2col) gb = empty(bias.shape(), DType::f32);
      auto ptr = [](Tensor& t) { return t.defined() ? t.data<float>() : nullptr; };
      if (gx.defined() || gw.defined() || gb.defined())
        detail::onednn_conv_backward(*c, xc.data<float>(), wc.data<float>(), gc.data<float>(), ptr(gx), ptr(gw),
                                     ptr(gb));
      if (by_im2col && (want_gw || want_gb)) {
        const Tensor g2 = g.permute({1, 0, 2, 3}).contiguous();  // [O, N, OH, OW] = [O, cols]
        if (want_gw) {
          Tensor col = empty({q.C * q.kh * q.kw, q.cols()}, DType::f32);
          im2col(xc.data<float>(), col.data<float>(), q);
          gw = weight_grad_im2col(q, col.data<float>(), g2.data<float>(), weight.shape());
        }
        if (want_gb) gb = sum(g2.view({q.O, q.cols()}), {1});
      }
      return std::vector<Tensor>{gx, gw, gb};
    });
  }
  return out;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::pair<int64_t, int64_t> stride,
              std::pair<int64_t, int64_t> padding, std::pair<int64_t, int64_t> dilation, int64_t groups) {
  const char* op = "conv2d";
  BIGDL_CHECK(x.dim() == 4, ShapeError, op, "input must be 4-D [N, C, H, W], got ", shape_str(x.shape()));
  BIGDL_CHECK(weight.dim() == 4, ShapeError, op, "weight must be 4-D [O, C/groups, kH, kW], got ", shape_str(weight.shape()));
  BIGDL_CHECK(x.dtype() == DType::f32 && weight.dtype() == DType::f32, DTypeError, op, "supports f32, got ",
              dtype_name(x.dtype()), " and ", dtype_name(weight.dtype()));
  BIGDL_CHECK(groups >= 1 && x.size(1) % groups == 0 && weight.size(0) % groups == 0, ValueError, op, "groups ", groups,
              " must divide in_channels ", x.size(1), " and out_channels ", weight.size(0));
  BIGDL_CHECK(weight.size(1) * groups == x.size(1), ShapeError, op, "weight ", shape_str(weight.shape()), " expects ",
              weight.size(1) * groups, " input channels, input ", shape_str(x.shape()), " has ", x.size(1));
  BIGDL_CHECK(stride.first > 0 && stride.second > 0 && dilation.first > 0 && dilation.second > 0 && padding.first >= 0 &&
                  padding.second >= 0,
              ValueError, op, "stride and dilation must be positive, padding non-negative");
  ConvGeom q{x.size(0), x.size(1), x.size(2), x.size(3), weight.size(0), weight.size(2), weight.size(3), stride.first,
             stride.second, padding.first, padding.second, dilation.first, dilation.second, groups, 0, 0};
  q.OH = (q.H + 2 * q.ph - q.dh * (q.kh - 1) - 1) / q.sh + 1;
  q.OW = (q.W + 2 * q.pw - q.dw * (q.kw - 1) - 1) / q.sw + 1;
  BIGDL_CHECK(q.OH > 0 && q.OW > 0, ShapeError, op, "input ", shape_str(x.shape()), " is too small for kernel ",
              q.kh, "x", q.kw, " with padding ", q.ph, "x", q.pw, " and dilation ", q.dh, "x", q.dw);
  BIGDL_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == q.O), ShapeError, op, "bias ",
              shape_str(bias.shape()), " does not match ", q.O, " output channels");

  const Tensor xc = x.detach().contiguous();
  const Tensor wc = weight.detach().contiguous();
  const bool grad = detail::needs_grad({&x, &weight, &bias});
  if (auto c = detail::onednn_conv(q, bias.defined(), grad)) return conv2d_onednn(c, q, x, weight, bias, xc, wc, grad);
  Tensor col = empty({q.C * q.kh * q.kw, q.cols()}, DType::f32);
  im2col(xc.data<float>(), col.data<float>(), q);
  // y2[O, N*L] = W_g[og, ckk] @ col_g[ckk, N*L]
  Tensor y2 = empty({q.O, q.cols()}, DType::f32);
  for (int64_t g = 0; g < q.G; ++g)
    sgemm(false, false, q.og(), q.cols(), q.ckk(), wc.data<float>() + g * q.og() * q.ckk(), q.ckk(),
          col.data<float>() + g * q.ckk() * q.cols(), q.cols(), 0.0f, y2.data<float>() + g * q.og() * q.cols(), q.cols());
  if (bias.defined()) {
    const Tensor bc = bias.detach().contiguous();
    const float* pb = bc.data<float>();
    float* py = y2.data<float>();
    detail::parallel_for(q.O, 1, [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o)
        for (int64_t i = 0; i < q.cols(); ++i) py[o * q.cols() + i] += pb[o];
    });
  }
  Tensor out = y2.view({q.O, q.N, q.OH, q.OW}).permute({1, 0, 2, 3}).contiguous();
  if (grad) {
    detail::record(out, op, {x, weight, bias}, [q, col, wc, x, weight, bias](const Tensor& g) {
      const Tensor g2 = g.permute({1, 0, 2, 3}).contiguous();  // [O, N, OH, OW] = [O, cols]
      const float* pg = g2.data<float>();
      Tensor gx, gw, gb;
      if (weight.requires_grad()) gw = weight_grad_im2col(q, col.data<float>(), pg, weight.shape());
      if (x.requires_grad()) {
        Tensor gcol = empty({q.C * q.kh * q.kw, q.cols()}, DType::f32);
        for (int64_t gi = 0; gi < q.G; ++gi)
          sgemm(true, false, q.ckk(), q.cols(), q.og(), wc.data<float>() + gi * q.og() * q.ckk(), q.ckk(),
                pg + gi * q.og() * q.cols(), q.cols(), 0.0f, gcol.data<float>() + gi * q.ckk() * q.cols(), q.cols());
        gx = zeros(x.shape(), DType::f32);
        col2im(gcol.data<float>(), gx.data<float>(), q);
      }
      if (bias.defined() && bias.requires_grad()) gb = sum(g2.view({q.O, q.cols()}), {1});
      return std::vector<Tensor>{gx, gw, gb};
    });
  }
  return out;
}

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding,
              int64_t dilation, int64_t groups) {
  BIGDL_CHECK(x.dim() == 3, ShapeError, "conv1d", "input must be 3-D [N, C, L], got ", shape_str(x.shape()));
  BIGDL_CHECK(weight.dim() == 3, ShapeError, "conv1d", "weight must be 3-D [O, C/groups, k], got ", shape_str(weight.shape()));
  return conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, {1, stride}, {0, padding}, {1, dilation}, groups).squeeze(2);
}

// ------------------------------------------------------------------ pooling
namespace {
struct PoolGeom {
  int64_t planes, H, W, kh, kw, sh, sw, ph, pw, OH, OW;
};

PoolGeom pool_geom(const Tensor& x, std::pair<int64_t, int64_t> k, std::pair<int64_t, int64_t> s,
                   std::pair<int64_t, int64_t> p, const char* op) {
  BIGDL_CHECK(x.dim() == 4 || x.dim() == 3, ShapeError, op, "input must be [N, C, H, W] or [C, H, W], got ",
              shape_str(x.shape()));
  BIGDL_CHECK(x.dtype() == DType::f32, DTypeError, op, "supports f32, got ", dtype_name(x.dtype()));
  if (s.first == 0) s = k;
  BIGDL_CHECK(k.first > 0 && k.second > 0 && s.first > 0 && s.second > 0, ValueError, op, "kernel and stride must be positive");
  BIGDL_CHECK(p.first >= 0 && p.second >= 0 && p.first * 2 <= k.first && p.second * 2 <= k.second, ValueError, op,
              "padding should be at most half of kernel size");
  PoolGeom g{};
  g.H = x.size(-2);
  g.W = x.size(-1);
  g.planes = x.numel() / std::max<int64_t>(g.H * g.W, 1);
  g.kh = k.first; g.kw = k.second; g.sh = s.first; g.sw = s.second; g.ph = p.first; g.pw = p.second;
  g.OH = (g.H + 2 * g.ph - g.kh) / g.sh + 1;
  g.OW = (g.W + 2 * g.pw - g.kw) / g.sw + 1;
  BIGDL_CHECK(g.OH > 0 && g.OW > 0, ShapeError, op, "input ", shape_str(x.shape()), " is too small for kernel ", g.kh, "x", g.kw);
  return g;
}

Shape pooled_shape(const Tensor& x, const PoolGeom& g) {
  Shape s = x.shape();
  s[s.size() - 2] = g.OH;
  s[s.size() - 1] = g.OW;
  return s;
}
}  // namespace

Tensor max_pool2d(const Tensor& x, std::pair<int64_t, int64_t> kernel, std::pair<int64_t, int64_t> stride,
                  std::pair<int64_t, int64_t> padding) {
  const PoolGeom q = pool_geom(x, kernel, stride, padding, "max_pool2d");
  const Tensor xc = x.detach().contiguous();
  Tensor out = empty(pooled_shape(x, q), DType::f32);
  Tensor idx = empty({q.planes, q.OH * q.OW}, DType::i32);
  const float* px = xc.data<float>();
  float* po = out.data<float>();
  int32_t* pi = idx.data<int32_t>();
  detail::parallel_for(q.planes, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t oh = 0; oh < q.OH; ++oh)
        for (int64_t ow = 0; ow < q.OW; ++ow) {
          // Window clipped to the input once, then a branch-free scan (random data made
          // the old per-element bounds and NaN branches mispredict: 33% of a LeNet step).
          const int64_t hs = oh * q.sh - q.ph, ws = ow * q.sw - q.pw;
          const int64_t h0 = std::max<int64_t>(hs, 0), h1 = std::min<int64_t>(hs + q.kh, q.H);
          const int64_t w0 = std::max<int64_t>(ws, 0), w1 = std::min<int64_t>(ws + q.kw, q.W);
          const float* plane = px + p * q.H * q.W;
          float best = plane[h0 * q.W + w0];
          int32_t bi = int32_t(h0 * q.W + w0);
          bool nan = false;
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) {
              const float v = plane[ih * q.W + iw];
              const bool gt = v > best;  // simple selects compile to maxss/cmov, no branches
              best = gt ? v : best;
              bi = gt ? int32_t(ih * q.W + iw) : bi;
              nan |= v != v;
            }
          if (nan) {  // rare: the first NaN in the window wins, as in PyTorch
            for (int64_t ih = h0; ih < h1 && best == best; ++ih)
              for (int64_t iw = w0; iw < w1; ++iw) {
                const float v = plane[ih * q.W + iw];
                if (v != v) {
                  best = v;
                  bi = int32_t(ih * q.W + iw);
                  break;
                }
              }
          }
          po[(p * q.OH + oh) * q.OW + ow] = best;
          pi[p * q.OH * q.OW + oh * q.OW + ow] = int32_t(bi);
        }
  });
  if (detail::needs_grad({&x})) {
    detail::record(out, "max_pool2d", {x}, [q, idx, x](const Tensor& g) {
      const Tensor gc = g.contiguous();
      Tensor gx = zeros(x.shape(), DType::f32);
      const float* pg = gc.data<float>();
      const int32_t* pi = idx.data<int32_t>();
      float* pgx = gx.data<float>();
      detail::parallel_for(q.planes, 1, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p)
          for (int64_t o = 0; o < q.OH * q.OW; ++o)
            pgx[p * q.H * q.W + pi[p * q.OH * q.OW + o]] += pg[p * q.OH * q.OW + o];
      });
      return std::vector<Tensor>{gx};
    });
  }
  return out;
}

Tensor avg_pool2d(const Tensor& x, std::pair<int64_t, int64_t> kernel, std::pair<int64_t, int64_t> stride,
                  std::pair<int64_t, int64_t> padding, bool count_include_pad) {
  const PoolGeom q = pool_geom(x, kernel, stride, padding, "avg_pool2d");
  const Tensor xc = x.detach().contiguous();
  Tensor out = empty(pooled_shape(x, q), DType::f32);
  // Window [h0,h1) x [w0,w1) clipped to the input, and its divisor.
  auto window = [q, count_include_pad](int64_t oh, int64_t ow, int64_t* h0, int64_t* h1, int64_t* w0, int64_t* w1) {
    const int64_t hs = oh * q.sh - q.ph, ws = ow * q.sw - q.pw;
    const int64_t he = std::min(hs + q.kh, q.H + q.ph), we = std::min(ws + q.kw, q.W + q.pw);
    const int64_t pool = (he - hs) * (we - ws);
    *h0 = std::max<int64_t>(hs, 0); *w0 = std::max<int64_t>(ws, 0);
    *h1 = std::min(he, q.H); *w1 = std::min(we, q.W);
    return float(count_include_pad ? pool : (*h1 - *h0) * (*w1 - *w0));
  };
  const float* px = xc.data<float>();
  float* po = out.data<float>();
  detail::parallel_for(q.planes, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t oh = 0; oh < q.OH; ++oh)
        for (int64_t ow = 0; ow < q.OW; ++ow) {
          int64_t h0, h1, w0, w1;
          const float div = window(oh, ow, &h0, &h1, &w0, &w1);
          float s = 0;
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) s += px[p * q.H * q.W + ih * q.W + iw];
          po[(p * q.OH + oh) * q.OW + ow] = s / div;
        }
  });
  if (detail::needs_grad({&x})) {
    detail::record(out, "avg_pool2d", {x}, [q, x, window](const Tensor& g) {
      const Tensor gc = g.contiguous();
      Tensor gx = zeros(x.shape(), DType::f32);
      const float* pg = gc.data<float>();
      float* pgx = gx.data<float>();
      detail::parallel_for(q.planes, 1, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p)
          for (int64_t oh = 0; oh < q.OH; ++oh)
            for (int64_t ow = 0; ow < q.OW; ++ow) {
              int64_t h0, h1, w0, w1;
              const float v = pg[(p * q.OH + oh) * q.OW + ow] / window(oh, ow, &h0, &h1, &w0, &w1);
              for (int64_t ih = h0; ih < h1; ++ih)
                for (int64_t iw = w0; iw < w1; ++iw) pgx[p * q.H * q.W + ih * q.W + iw] += v;
            }
      });
      return std::vector<Tensor>{gx};
    });
  }
  return out;
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::pair<int64_t, int64_t> output_size) {
  const char* op = "adaptive_avg_pool2d";
  BIGDL_CHECK(x.dim() == 4 || x.dim() == 3, ShapeError, op, "input must be [N, C, H, W] or [C, H, W], got ", shape_str(x.shape()));
  BIGDL_CHECK(output_size.first > 0 && output_size.second > 0, ValueError, op, "output size must be positive");
  BIGDL_CHECK(is_floating(x.dtype()), DTypeError, op, "needs a floating-point tensor, got ", dtype_name(x.dtype()));
  const int64_t H = x.size(-2), W = x.size(-1), OH = output_size.first, OW = output_size.second;
  // Averaging weights in f64 for f64 input (1/3 in f32 would cost f64 precision), else f32;
  // the result is cast back so f16/bf16 input gives f16/bf16 output.
  const DType wt = x.dtype() == DType::f64 ? DType::f64 : DType::f32;
  // Each output cell averages rows [floor(i*H/OH), ceil((i+1)*H/OH)); expressed as a
  // matmul with fixed averaging matrices, so autograd comes for free.
  auto avg_matrix = [wt](int64_t in, int64_t out_n) {
    std::vector<double> m(size_t(out_n * in), 0.0);
    for (int64_t i = 0; i < out_n; ++i) {
      const int64_t s = (i * in) / out_n, e = ((i + 1) * in + out_n - 1) / out_n;
      for (int64_t k = s; k < e; ++k) m[size_t(i * in + k)] = 1.0 / double(e - s);
    }
    return from_vector(m, {out_n, in}, wt);
  };
  const Tensor ah = avg_matrix(H, OH), aw = avg_matrix(W, OW);
  return matmul(matmul(ah, x), aw.t()).to(x.dtype());
}

}  // namespace bigdl
