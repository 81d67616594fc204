// Fused batch normalisation: two passes over x in forward, two in backward, instead of
// the ten-odd full-size temporaries of the composed version.
#include <cmath>

#include "core/internal.h"

namespace bigdl {

Tensor batch_norm(const Tensor& x_in, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  BIGDL_CHECK(x_in.dim() >= 2, ShapeError, op, "input must be [N, C, ...], got ", shape_str(x_in.shape()));
  BIGDL_CHECK(x_in.dtype() == DType::f32, DTypeError, op, "supports f32, got ", dtype_name(x_in.dtype()));
  const int64_t N = x_in.size(0), C = x_in.size(1), S = x_in.numel() / std::max<int64_t>(N * C, 1);
  auto check_vec = [&](const Tensor& t, const char* what) {
    BIGDL_CHECK(!t.defined() || (t.dim() == 1 && t.size(0) == C && t.dtype() == DType::f32), ShapeError, op, what,
                " must be f32 [", C, "], got ", t.defined() ? shape_str(t.shape()) : "");
  };
  check_vec(running_mean, "running_mean");
  check_vec(running_var, "running_var");
  check_vec(weight, "weight");
  check_vec(bias, "bias");
  const int64_t M = N * S;
  BIGDL_CHECK(!training || M > 1, ValueError, op, "expected more than 1 value per channel when training, got input ",
              shape_str(x_in.shape()));
  BIGDL_CHECK(training || (running_mean.defined() && running_var.defined()), ValueError, op,
              "running statistics are required in eval mode");
  const Tensor x = x_in.detach().contiguous();
  const float* px = x.data<float>();
  Tensor out = empty(x.shape(), DType::f32);
  float* po = out.data<float>();
  Tensor mean_t = empty({C}), invstd_t = empty({C});
  float* mean = mean_t.data<float>();
  float* invstd = invstd_t.data<float>();
  const Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  const float* pw = wc.defined() ? wc.data<float>() : nullptr;
  const float* pb = bc.defined() ? bc.data<float>() : nullptr;
  detail::parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double mu, var;
      if (training) {
        double s = 0;
        for (int64_t n = 0; n < N; ++n) {
          const float* p = px + (n * C + c) * S;
          float acc = 0;
          for (int64_t k = 0; k < S; ++k) acc += p[k];
          s += acc;
        }
        mu = s / double(M);
        double ss = 0;
        for (int64_t n = 0; n < N; ++n) {
          const float* p = px + (n * C + c) * S;
          float acc = 0;
          const float m = float(mu);
          for (int64_t k = 0; k < S; ++k) acc += (p[k] - m) * (p[k] - m);
          ss += acc;
        }
        var = ss / double(M);
        if (running_mean.defined()) {
          float* rm = running_mean.data<float>();
          float* rv = running_var.data<float>();
          rm[c] = float((1 - momentum) * rm[c] + momentum * mu);
          rv[c] = float((1 - momentum) * rv[c] + momentum * var * double(M) / double(M - 1));
        }
      } else {
        mu = running_mean.data<float>()[c];
        var = running_var.data<float>()[c];
      }
      const float is = float(1.0 / std::sqrt(var + eps));
      mean[c] = float(mu);
      invstd[c] = is;
      const float scale = is * (pw ? pw[c] : 1.0f);
      const float shift = (pb ? pb[c] : 0.0f) - float(mu) * scale;
      for (int64_t n = 0; n < N; ++n) {
        const float* p = px + (n * C + c) * S;
        float* q = po + (n * C + c) * S;
        for (int64_t k = 0; k < S; ++k) q[k] = p[k] * scale + shift;
      }
    }
  });
  if (detail::needs_grad({&x_in, &weight, &bias})) {
    detail::record(out, op, {x_in, weight, bias}, [x, mean_t, invstd_t, wc, training, N, C, S, M, x_in, weight, bias](const Tensor& g_in) {
      const Tensor g = g_in.contiguous();
      const float* pg = g.data<float>();
      const float* px = x.data<float>();
      const float* mean = mean_t.data<float>();
      const float* invstd = invstd_t.data<float>();
      const float* pw = wc.defined() ? wc.data<float>() : nullptr;
      Tensor gx = x_in.requires_grad() ? empty(x.shape()) : Tensor();
      Tensor gw = weight.defined() && weight.requires_grad() ? empty({C}) : Tensor();
      Tensor gb = bias.defined() && bias.requires_grad() ? empty({C}) : Tensor();
      detail::parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          // sum(dy) and sum(dy * xhat) for the channel
          double sdy = 0, sdyx = 0;
          const float m = mean[c], is = invstd[c];
          for (int64_t n = 0; n < N; ++n) {
            const float* p = px + (n * C + c) * S;
            const float* q = pg + (n * C + c) * S;
            float a = 0, b = 0;
            for (int64_t k = 0; k < S; ++k) {
              a += q[k];
              b += q[k] * (p[k] - m);
            }
            sdy += a;
            sdyx += b;
          }
          sdyx *= is;
          if (gw.defined()) gw.data<float>()[c] = float(sdyx);
          if (gb.defined()) gb.data<float>()[c] = float(sdy);
          if (!gx.defined()) continue;
          const float w = pw ? pw[c] : 1.0f;
          float* pgx = gx.data<float>();
          if (training) {
            // dx = w * is / M * (M dy - sum(dy) - xhat * sum(dy xhat))
            const float k1 = w * is, k2 = float(sdy / double(M)), k3 = float(sdyx / double(M)) * is;
            for (int64_t n = 0; n < N; ++n) {
              const float* p = px + (n * C + c) * S;
              const float* q = pg + (n * C + c) * S;
              float* r = pgx + (n * C + c) * S;
              for (int64_t k = 0; k < S; ++k) r[k] = k1 * (q[k] - k2 - (p[k] - m) * k3);
            }
          } else {
            const float k1 = w * is;
            for (int64_t n = 0; n < N; ++n) {
              const float* q = pg + (n * C + c) * S;
              float* r = pgx + (n * C + c) * S;
              for (int64_t k = 0; k < S; ++k) r[k] = k1 * q[k];
            }
          }
        }
      });
      return std::vector<Tensor>{gx, gw, gb};
    });
  }
  return out;
}

}  // namespace bigdl
