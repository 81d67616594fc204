// Reference quantizers of ggml's K-quants (Q2_K..Q6_K, Q8_K) and 4-bit i-quants (IQ4_NL,
// IQ4_XS), and the importance-weighted (imatrix) quantizers of those and of Q4_0 / Q4_1 /
// Q5_0 / Q5_1 (quantize_row_imp, quantize_k.h).
//
// The contract is byte equality with llama.cpp: quantize_row_<type>_ref writes what
// ggml_quantize_chunk(type, ..., imatrix = NULL) writes, quantize_row_imp what it writes
// with an imatrix (tests/kernels/test_kquant_quantize.cpp checks both against bytes from
// ggml itself). These formats are not defined by a rounding rule as the 32-weight ones
// are: ggml searches for scales that minimise a weighted error, so the output depends on
// every floating-point operation of the search. The helpers below therefore follow the
// algorithms of ggml-quants.c (each one's comment names the ggml function it reproduces)
// operation for operation: the same f32 expression trees in the same order, the same
// accumulation order, the same integer conversions (wrap-around included) and the same
// tie-breaking (strict comparisons, first candidate wins). Nothing may be "simplified"
// algebraically here, and this file must not be compiled with -ffast-math or with FMA
// contraction: ggml's reference code (libggml-base) is plain SSE2 scalar code without
// FMA, and a fused a * b + c changes low bits that decide between scale candidates
// (compiled with -mfma and contraction, 14 of the test's 24 byte checks fail). The
// project compiles files without an ISA suffix for baseline x86-64, which has no FMA;
// the pragma below keeps the arithmetic unfused even where a build adds -march=native.
//
// Two deliberate differences from ggml's own functions of the same name:
//   - quantize_row_iq4_nl_ref is ggml's quantize_iq4_nl without imatrix (scale search over
//     7 steps each way), not ggml's quantize_row_iq4_nl_ref (which skips the search):
//     ggml_quantize_chunk, hence llama-quantize, uses the former.
//   - quantize_row_q8_k_ref writes zero bsums for an all-zero block; ggml leaves them
//     unwritten.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "backend/cpu/quant/quant.h"
#include "backend/cpu/quant/quantize_k.h"
#include "bigdl/dtype.h"
#include "bigdl/error.h"

// No a * b + c fused into one rounding (see the top of the file).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace bigdl::detail::quant {
namespace {

float h2f(uint16_t h) { return ::bigdl::half_to_float(h); }
uint16_t f2h(float f) { return ::bigdl::float_to_half(f); }

// A group whose largest |x| is below this is treated as all zeros (ggml's GROUP_MAX_EPS).
constexpr float kZeroGroup = 1e-15f;

// Round to the nearest integer, ties to even: ggml's nearest_int. Adding 1.5 * 2^23 lets
// the FPU's round-to-nearest-even drop the fraction, leaving the integer in the low
// mantissa bits. Kept as the bit trick rather than std::nearbyint: for |v| >= 2^22 and
// non-finite v (a scale that underflowed, 0 / 0) it returns a definite wrong value that
// ggml then clamps, and matching its bytes means returning the same value.
int round_nearest(float v) {
  const float biased = v + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &biased, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Index of the IQ4_NL level nearest to v; v exactly between two levels takes the upper
// one (ggml's best_index_int8 over kvalues_iq4nl).
int nearest_iq4_level(float v) {
  const int8_t* lv = kIq4nlLevels;
  if (v <= lv[0]) return 0;
  if (v >= lv[15]) return 15;
  int lo = 0, hi = 15;  // lv[lo] <= v < lv[hi]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (v < lv[mid]) hi = mid; else lo = mid;
  }
  return v - static_cast<float>(lv[hi - 1]) < static_cast<float>(lv[hi]) - v ? hi - 1 : hi;
}

// The element of largest |x| (first one on ties) with its sign, and that |x|.
void signed_absmax(int n, const float* x, float* vmax, float* amax) {
  float m = 0.0f, a = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > a) {
      a = ax;
      m = x[i];
    }
  }
  *vmax = m;
  *amax = a;
}

// ---- scale searches ----

// Symmetric levels: x[i] ~ scale * (L[i] - nmax), L in [0, 2 nmax - 1]. The rule of
// ggml's make_qx_quants with rmse_type 1: start from the scale that puts the element of
// largest |x| on -nmax, then try 18 nearby scales (nmax +- 0.1 k, k = 1..9) and keep the
// one with the best weighted least-squares fit; the returned scale is that fit. Weights
// are w[i], or x[i]^2 when w is null. An all-zero group gives L = 0 (not nmax) and 0.
float fit_symmetric(int n, int nmax, const float* x, int8_t* L, const float* w) {
  float vmax, amax;
  signed_absmax(n, x, &vmax, &amax);
  if (amax < kZeroGroup) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const auto weight = [&](int i) { return w != nullptr ? w[i] : x[i] * x[i]; };
  // Sums of w x l and w l^2 for the levels l of the scale 1 / iscale.
  const auto fit = [&](float iscale, float* sumlx, float* suml2) {
    float slx = 0.0f, sl2 = 0.0f;
    for (int i = 0; i < n; ++i) {
      const float l = static_cast<float>(clamp_int(round_nearest(iscale * x[i]), -nmax, nmax - 1));
      const float wi = weight(i);
      slx += wi * x[i] * l;
      sl2 += wi * l * l;
    }
    *sumlx = slx;
    *suml2 = sl2;
  };
  const auto set_levels = [&](float iscale) {
    for (int i = 0; i < n; ++i)
      L[i] = static_cast<int8_t>(nmax + clamp_int(round_nearest(iscale * x[i]), -nmax, nmax - 1));
  };
  float iscale = static_cast<float>(-nmax) / vmax;
  float sumlx, suml2;
  set_levels(iscale);
  fit(iscale, &sumlx, &suml2);
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;  // the fit's gain sumlx^2 / suml2; larger is better
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / vmax;
    fit(iscale, &sumlx, &suml2);
    if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
      set_levels(iscale);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Symmetric levels as fit_symmetric, weights x^2, refined by coordinate descent: the
// rule of ggml's make_q3_quants with do_rmse (Q3_K's reference). Up to 5 passes move
// each level to the one the other levels' fit asks for, when that improves the fit.
float fit_symmetric_descent(int n, int nmax, const float* x, int8_t* L) {
  float vmax, amax;
  signed_absmax(n, x, &vmax, &amax);
  if (amax < kZeroGroup) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const float iscale = static_cast<float>(-nmax) / vmax;
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_int(round_nearest(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - w * x[i] * li;  // the fit without element i
      if (slx > 0.0f) {
        float sl2 = suml2 - w * li * li;
        const int nl = clamp_int(round_nearest(x[i] * sl2 / slx), -nmax, nmax - 1);
        if (nl != L[i]) {
          slx += w * x[i] * static_cast<float>(nl);
          sl2 += w * static_cast<float>(nl) * static_cast<float>(nl);
          if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<int8_t>(nl);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (changed == 0) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Levels with an offset: x[i] ~ scale * L[i] - neg_min, L in [0, nmax], min <= 0. The
// rule of ggml's make_qkx2_quants (and make_qkx3_quants, which differs only where its
// weights are null; ours never are): start from the [min, max] range, then for nstep + 1
// trial scales (nmax + rmin + rdelta k) / (max - min) solve the weighted least squares for
// scale and min, keeping the trial with the smallest weighted error (absolute error when
// use_mad, squared otherwise). The min a trial accepts is used by later trials' ranges,
// as in ggml. Laux is scratch of n bytes.
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* neg_min, uint8_t* Laux,
                    float rmin, float rdelta, int nstep, bool use_mad) {
  float lo = x[0], hi = x[0];
  float sum_w = w[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (lo > 0.0f) lo = 0.0f;
  if (hi <= lo) {  // all x equal and <= 0: level 0 with that offset
    for (int i = 0; i < n; ++i) L[i] = 0;
    *neg_min = -lo;
    return 0.0f;
  }
  const auto error_of = [&](float diff) { return use_mad ? std::fabs(diff) : diff * diff; };
  float iscale = static_cast<float>(nmax) / (hi - lo);
  float scale = 1.0f / iscale;
  float best = 0.0f;
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(clamp_int(round_nearest(iscale * (x[i] - lo)), 0, nmax));
    const float diff = scale * static_cast<float>(L[i]) + lo - x[i];
    best += w[i] * error_of(diff);
  }
  if (nstep < 1) {
    *neg_min = -lo;
    return scale;
  }
  for (int step = 0; step <= nstep; ++step) {
    iscale = (rmin + rdelta * static_cast<float>(step) + static_cast<float>(nmax)) / (hi - lo);
    float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_int(round_nearest(iscale * (x[i] - lo)), 0, nmax);
      Laux[i] = static_cast<uint8_t>(l);
      const float lf = static_cast<float>(l);
      sum_l += w[i] * lf;
      sum_l2 += w[i] * lf * lf;
      sum_xl += w[i] * lf * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (!(det > 0.0f)) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (this_min > 0.0f) {  // the offset must not be positive: refit the scale alone
      this_min = 0.0f;
      this_scale = sum_xl / sum_l2;
    }
    float err = 0.0f;
    for (int i = 0; i < n; ++i) err += w[i] * error_of(this_scale * static_cast<float>(Laux[i]) + this_min - x[i]);
    if (err < best) {
      std::memcpy(L, Laux, static_cast<size_t>(n));
      best = err;
      scale = this_scale;
      lo = this_min;
    }
  }
  *neg_min = -lo;
  return scale;
}

// Non-negative values (the sub-block scales / mins of the imatrix paths) to levels
// 0..nmax of one scale: the rule of ggml's make_qp_quants. Start at max -> nmax, try
// (nmax + 0.1 k) / max for k = -4..4 by weighted squared error, then up to 5 passes of
// coordinate descent on the least-squares fit. L is written through uint8_t, so a
// negative level wraps as in ggml (never for non-negative input).
float fit_positive(int n, int nmax, const float* x, uint8_t* L, const float* w) {
  float vmax = 0.0f;
  for (int i = 0; i < n; ++i) vmax = vmax > x[i] ? vmax : x[i];
  if (vmax < kZeroGroup) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / vmax;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(round_nearest(iscale * x[i]));
  const float scale = 1.0f / iscale;
  float best = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * static_cast<float>(L[i]);
    best += w[i] * diff * diff;
  }
  for (int step = -4; step <= 4; ++step) {
    if (step == 0) continue;
    const float iscale_k = (0.1f * static_cast<float>(step) + static_cast<float>(nmax)) / vmax;
    const float scale_k = 1.0f / iscale_k;
    float err = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = std::min(nmax, round_nearest(iscale_k * x[i]));
      const float diff = x[i] - scale_k * static_cast<float>(l);
      err += w[i] * diff * diff;
    }
    if (err < best) {
      best = err;
      iscale = iscale_k;
    }
  }
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = std::min(nmax, round_nearest(iscale * x[i]));
    L[i] = static_cast<uint8_t>(l);
    sumlx += w[i] * x[i] * static_cast<float>(l);  // the unwrapped l, as ggml
    suml2 += w[i] * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - w[i] * x[i] * li;
      float sl2 = suml2 - w[i] * li * li;
      if (slx > 0.0f && sl2 > 0.0f) {
        const int nl = std::min(nmax, round_nearest(x[i] * sl2 / slx));
        if (nl != L[i]) {
          slx += w[i] * x[i] * static_cast<float>(nl);
          sl2 += w[i] * static_cast<float>(nl) * static_cast<float>(nl);
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<uint8_t>(nl);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (changed == 0) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Weights of the imatrix paths: qw[i] * sqrt(sigma2 + x[i]^2), the importance of the
// column times a magnitude that never vanishes.
void imatrix_weights(int n, const float* x, const float* qw, float sigma2, float* w) {
  for (int i = 0; i < n; ++i) w[i] = qw[i] * std::sqrt(sigma2 + x[i] * x[i]);
}

float sum_squares(int64_t n, const float* x) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

// ---- bit packing ----

// Q2_K / Q3_K's 2-bit field: byte l of 32-byte chunk c holds weights 128c + l + 32s in
// bits 2s..2s+1.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int c = 0; c < 2; ++c) {
    const uint8_t* Lc = L + 128 * c;
    for (int l = 0; l < 32; ++l)
      qs[32 * c + l] = static_cast<uint8_t>(Lc[l] | Lc[l + 32] << 2 | Lc[l + 64] << 4 | Lc[l + 96] << 6);
  }
}

// Q4_K / Q5_K's 12 scale bytes: six-bit scale and min of sub-block j (ggml's packing,
// read back by get_scale_min_k4). Must be called for j = 0..7 in order (j >= 4 ORs into
// bytes written for j - 4). ls / lm are used as given, even past 63, as ggml does.
void pack_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t* s) {
  if (j < 4) {
    s[j] = ls;
    s[j + 4] = lm;
  } else {
    s[j + 4] = static_cast<uint8_t>((ls & 0xF) | (lm & 0xF) << 4);
    s[j - 4] = static_cast<uint8_t>(s[j - 4] | (ls >> 4) << 6);
    s[j] = static_cast<uint8_t>(s[j] | (lm >> 4) << 6);
  }
}
void unpack_scale_min_k4(int j, const uint8_t* s, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0xF) | (s[j - 4] >> 6) << 4;
    *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
  }
}

// Q3_K's 12 scale bytes: six-bit code l (0..63) of sub-block j, low nibble in bytes 0-7
// (j and j + 8 share a byte), high two bits in bytes 8-11. The bytes must start at zero.
void pack_scale_q3(int j, int l, uint8_t* s) {
  if (j < 8) {
    s[j] = static_cast<uint8_t>(l & 0xF);
  } else {
    s[j - 8] = static_cast<uint8_t>(s[j - 8] | (l & 0xF) << 4);
  }
  s[j % 4 + 8] = static_cast<uint8_t>(s[j % 4 + 8] | (l >> 4) << (2 * (j / 4)));
}
int unpack_scale_q3(int j, const uint8_t* s) {
  const int low = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
  return (low | ((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32;
}

// ---- K-quant blocks ----

// Q2_K / Q3_K / Q4_K / Q5_K end the same way: with the final (fp16-rounded) scales known,
// every weight of a sub-block whose scale is non-zero is requantized against it; a
// sub-block of scale 0 keeps the levels of its search.

// Q2_K's last steps from its 16 packed scale bytes and d / dmin: requantize, pack.
void finish_q2k(const float* x, BlockQ2K* y, uint8_t* L) {
  const float d_all = h2f(y->d), m_all = h2f(y->dmin);
  for (int j = 0; j < 16; ++j) {
    const float d = d_all * static_cast<float>(y->scales[j] & 0xF);
    if (d == 0.0f) continue;
    const float dm = m_all * static_cast<float>(y->scales[j] >> 4);
    for (int i = 0; i < 16; ++i)
      L[16 * j + i] = static_cast<uint8_t>(clamp_int(round_nearest((x[16 * j + i] + dm) / d), 0, 3));
  }
  pack_2bit(L, y->qs);
}

// Q3_K's last steps from its packed scales and d: requantize to -4..3, split off the
// high bit into hmask (weight 32k + l -> bit k of hmask[l]), pack the low bits.
void finish_q3k(const float* x, BlockQ3K* y, int8_t* L) {
  const float d_all = h2f(y->d);
  for (int j = 0; j < 16; ++j) {
    const float d = d_all * static_cast<float>(unpack_scale_q3(j, y->scales));
    if (d == 0.0f) continue;
    for (int i = 0; i < 16; ++i)
      L[16 * j + i] = static_cast<int8_t>(clamp_int(round_nearest(x[16 * j + i] / d), -4, 3) + 4);
  }
  std::memset(y->hmask, 0, sizeof y->hmask);
  uint8_t low[256];
  for (int i = 0; i < 256; ++i) {
    int l = L[i];
    if (l > 3) {
      y->hmask[i % 32] = static_cast<uint8_t>(y->hmask[i % 32] | 1 << (i / 32));
      l -= 4;
    }
    low[i] = static_cast<uint8_t>(l);
  }
  pack_2bit(low, y->qs);
}

// Q4_K / Q5_K: requantize every weight against the packed scales / mins and d / dmin,
// levels 0..nmax.
void requantize_k4(const float* x, const uint8_t* scales, uint16_t dh, uint16_t dminh, int nmax, uint8_t* L) {
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    unpack_scale_min_k4(j, scales, &sc, &m);
    const float d = h2f(dh) * static_cast<float>(sc);
    if (d == 0.0f) continue;
    const float dm = h2f(dminh) * static_cast<float>(m);
    for (int i = 0; i < 32; ++i)
      L[32 * j + i] = static_cast<uint8_t>(clamp_int(round_nearest((x[32 * j + i] + dm) / d), 0, nmax));
  }
}

void pack_q4k(const uint8_t* L, uint8_t* qs) {
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | L[64 * c + 32 + l] << 4);
}

// Q5_K: low nibbles as Q4_K; the fifth bit of sub-block j's weight l in bit j of qh[l].
void pack_q5k(const uint8_t* L, uint8_t* qh, uint8_t* qs) {
  std::memset(qh, 0, 32);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
      if (lo > 15) {
        lo -= 16;
        qh[l] = static_cast<uint8_t>(qh[l] | 1 << (2 * c));
      }
      if (hi > 15) {
        hi -= 16;
        qh[l] = static_cast<uint8_t>(qh[l] | 2 << (2 * c));
      }
      qs[32 * c + l] = static_cast<uint8_t>(lo | hi << 4);
    }
  }
}

// Q4_K / Q5_K scales and mins of one super-block, into y's d, dmin and 12 scale bytes; L
// gets the search's levels (requantize_k4 then replaces those of non-zero sub-blocks).
//   qw == nullptr (the reference, ggml's quantize_row_q4_K_ref / _q5_K_ref): per
//     sub-block weights sqrt(mean x^2) + |x|, fit_scale_min with the type's search range,
//     then the eight scales (mins) as 6-bit multiples of max / 63.
//   qw given (ggml's quantize_row_q4_K_impl / _q5_K_impl): weights from the imatrix,
//     the finer search, and the 6-bit codes fitted by fit_positive. Q5_K caps the codes at
//     63; Q4_K does not (fit_positive never exceeds nmax anyway).
void scale_min_k4(const float* x, const float* qw, int nmax, uint16_t* dh, uint16_t* dminh, uint8_t* scales,
                  uint8_t* L) {
  float w[32], sc[8], mn[8];
  uint8_t Laux[32];
  if (qw == nullptr) {
    const float rmin = nmax == 15 ? -1.0f : -0.5f;
    const int nstep = nmax == 15 ? 20 : 15;
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; ++j) {
      const float* xj = x + 32 * j;
      const float av_x = std::sqrt(sum_squares(32, xj) / 32.0f);
      for (int i = 0; i < 32; ++i) w[i] = av_x + std::fabs(xj[i]);
      sc[j] = fit_scale_min(32, nmax, xj, w, L + 32 * j, &mn[j], Laux, rmin, 0.1f, nstep, false);
      if (sc[j] > max_scale) max_scale = sc[j];
      if (mn[j] > max_min) max_min = mn[j];
    }
    const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
    for (int j = 0; j < 8; ++j) {
      const auto ls = static_cast<uint8_t>(round_nearest(inv_scale * sc[j]));  // wraps as ggml's uint8_t
      const auto lm = static_cast<uint8_t>(round_nearest(inv_min * mn[j]));
      pack_scale_min_k4(j, std::min<uint8_t>(63, ls), std::min<uint8_t>(63, lm), scales);
    }
    *dh = f2h(max_scale / 63.0f);
    *dminh = f2h(max_min / 63.0f);
    return;
  }
  const float sigma2 = 2.0f * sum_squares(256, x) / 256.0f;
  float sw[8];
  for (int j = 0; j < 8; ++j) {
    imatrix_weights(32, x + 32 * j, qw + 32 * j, sigma2, w);
    float s = 0.0f;
    for (int i = 0; i < 32; ++i) s += w[i];
    sw[j] = s;
    sc[j] = fit_scale_min(32, nmax, x + 32 * j, w, L + 32 * j, &mn[j], Laux, -0.9f, 0.05f, 36, false);
  }
  uint8_t ls[8], lm[8];
  const float d_block = fit_positive(8, 63, sc, ls, sw);
  const float m_block = fit_positive(8, 63, mn, lm, sw);
  for (int j = 0; j < 8; ++j) {
    if (nmax == 31) pack_scale_min_k4(j, std::min<uint8_t>(63, ls[j]), std::min<uint8_t>(63, lm[j]), scales);
    else pack_scale_min_k4(j, ls[j], lm[j], scales);
  }
  *dh = f2h(d_block);
  *dminh = f2h(m_block);
}

void q2k_block(const float* x, BlockQ2K* y, const float* qw) {
  uint8_t L[256], Laux[16];
  float w[16], sc[16], mn[16];
  if (qw == nullptr) {
    // ggml's quantize_row_q2_K_ref: |x| weights, absolute error, then the 16 scales and
    // mins as 4-bit multiples of max / 15.
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 16; ++j) {
      for (int i = 0; i < 16; ++i) w[i] = std::fabs(x[16 * j + i]);
      sc[j] = fit_scale_min(16, 3, x + 16 * j, w, L + 16 * j, &mn[j], Laux, -0.5f, 0.1f, 15, true);
      if (sc[j] > max_scale) max_scale = sc[j];
      if (mn[j] > max_min) max_min = mn[j];
    }
    if (max_scale > 0.0f) {
      const float iscale = 15.0f / max_scale;
      for (int j = 0; j < 16; ++j) y->scales[j] = static_cast<uint8_t>(round_nearest(iscale * sc[j]));
      y->d = f2h(max_scale / 15.0f);
    } else {
      std::memset(y->scales, 0, sizeof y->scales);
      y->d = f2h(0.0f);
    }
    if (max_min > 0.0f) {
      const float iscale = 15.0f / max_min;
      for (int j = 0; j < 16; ++j)
        y->scales[j] = static_cast<uint8_t>(y->scales[j] | round_nearest(iscale * mn[j]) << 4);
      y->dmin = f2h(max_min / 15.0f);
    } else {
      y->dmin = f2h(0.0f);
    }
  } else {
    // ggml's quantize_row_q2_K_impl: imatrix weights (sigma2 is the plain mean square
    // here, twice it for the other K-quants), squared error, codes by fit_positive.
    const float sigma2 = sum_squares(256, x) / 256.0f;
    float sw[16];
    for (int j = 0; j < 16; ++j) {
      imatrix_weights(16, x + 16 * j, qw + 16 * j, sigma2, w);
      float s = 0.0f;
      for (int i = 0; i < 16; ++i) s += w[i];
      sw[j] = s;
      sc[j] = fit_scale_min(16, 3, x + 16 * j, w, L + 16 * j, &mn[j], Laux, -0.9f, 0.05f, 36, false);
    }
    uint8_t ls[16], lm[16];
    const float dm = fit_positive(16, 15, sc, ls, sw);
    const float mm = fit_positive(16, 15, mn, lm, sw);
    y->d = f2h(dm);
    y->dmin = f2h(mm);
    for (int j = 0; j < 16; ++j) y->scales[j] = static_cast<uint8_t>(ls[j] | lm[j] << 4);
  }
  finish_q2k(x, y, L);
}

void q3k_block(const float* x, BlockQ3K* y, const float* qw) {
  int8_t L[256];
  float sc[16];
  std::memset(y->scales, 0, sizeof y->scales);
  if (qw == nullptr) {
    // ggml's quantize_row_q3_K_ref: each sub-block by coordinate descent, then the 16
    // signed scales as 6-bit multiples of the one of largest |scale| / -32.
    float max_scale = 0.0f, amax = 0.0f;
    for (int j = 0; j < 16; ++j) {
      sc[j] = fit_symmetric_descent(16, 4, x + 16 * j, L + 16 * j);
      const float a = std::fabs(sc[j]);
      if (a > amax) {
        amax = a;
        max_scale = sc[j];
      }
    }
    if (max_scale != 0.0f) {
      const float iscale = -32.0f / max_scale;
      for (int j = 0; j < 16; ++j) {
        const auto l = static_cast<int8_t>(round_nearest(iscale * sc[j]));  // int8_t first, as ggml
        pack_scale_q3(j, clamp_int(l, -32, 31) + 32, y->scales);
      }
      y->d = f2h(1.0f / iscale);
    } else {
      y->d = f2h(0.0f);
    }
  } else {
    // ggml's quantize_row_q3_K_impl: imatrix-weighted fit_symmetric per sub-block, the
    // scales themselves fitted by fit_symmetric to -32..31.
    const float sigma2 = 2.0f * sum_squares(256, x) / 256.0f;
    float w[16], sw[16];
    for (int j = 0; j < 16; ++j) {
      imatrix_weights(16, x + 16 * j, qw + 16 * j, sigma2, w);
      float s = 0.0f;
      for (int i = 0; i < 16; ++i) s += w[i];
      sw[j] = s;
      sc[j] = fit_symmetric(16, 4, x + 16 * j, L + 16 * j, w);
    }
    int8_t ls[16];
    const float d_block = fit_symmetric(16, 32, sc, ls, sw);
    for (int j = 0; j < 16; ++j) pack_scale_q3(j, ls[j], y->scales);
    y->d = f2h(d_block);
  }
  finish_q3k(x, y, L);
}

void q6k_block(const float* x, BlockQ6K* y, const float* qw) {
  // ggml's quantize_row_q6_K_ref / _impl: fit_symmetric per sub-block of 16 (weights x^2,
  // or the raw imatrix), the 16 scales as int8 multiples of (largest |scale|) / -128.
  int8_t L[256];
  float sc[16];
  float max_scale = 0.0f, amax = 0.0f;
  for (int j = 0; j < 16; ++j) {
    sc[j] = fit_symmetric(16, 32, x + 16 * j, L + 16 * j, qw != nullptr ? qw + 16 * j : nullptr);
    const float a = std::fabs(sc[j]);
    if (a > amax) {
      amax = a;
      max_scale = sc[j];
    }
  }
  if (amax < kZeroGroup) {
    std::memset(y, 0, sizeof *y);
    return;
  }
  const float iscale = -128.0f / max_scale;
  y->d = f2h(1.0f / iscale);
  for (int j = 0; j < 16; ++j) y->scales[j] = static_cast<int8_t>(std::min(127, round_nearest(iscale * sc[j])));
  const float d_all = h2f(y->d);
  for (int j = 0; j < 16; ++j) {
    const float d = d_all * static_cast<float>(y->scales[j]);
    if (d == 0.0f) continue;
    for (int i = 0; i < 16; ++i)
      L[16 * j + i] = static_cast<int8_t>(clamp_int(round_nearest(x[16 * j + i] / d), -32, 31) + 32);
  }
  // Chunk c (128 weights): ql bytes 64c + l hold weights 128c + l (low nibble) and
  // 128c + l + 64 (high); 64c + 32 + l hold 128c + l + 32 and + 96; qh byte 32c + l the
  // high two bits of the four, in that order.
  for (int c = 0; c < 2; ++c) {
    const int8_t* Lc = L + 128 * c;
    for (int l = 0; l < 32; ++l) {
      y->ql[64 * c + l] = static_cast<uint8_t>((Lc[l] & 0xF) | (Lc[l + 64] & 0xF) << 4);
      y->ql[64 * c + l + 32] = static_cast<uint8_t>((Lc[l + 32] & 0xF) | (Lc[l + 96] & 0xF) << 4);
      y->qh[32 * c + l] =
          static_cast<uint8_t>(Lc[l] >> 4 | (Lc[l + 32] >> 4) << 2 | (Lc[l + 64] >> 4) << 4 | (Lc[l + 96] >> 4) << 6);
    }
  }
}

// ---- IQ4_NL / IQ4_XS ----

// One super-block of `nsub` sub-blocks of 32 (1 for IQ4_NL, 8 for IQ4_XS): ggml's
// quantize_row_iq4_nl_impl with ntry = 7, the setting of ggml_quantize_chunk for both.
// Per sub-block, the scale that puts the element of largest |x| on level -127 and 15
// neighbours ((k - 127) / max, k = -7..7) are tried by weighted least squares (weights
// from the imatrix, or x^2); IQ4_XS then codes the eight scales as 6-bit multiples of
// (largest |scale|) / -32 and requantizes against those, IQ4_NL stores its scale in fp16.
// The requantization uses the f32 scales, not their fp16 rounding (as ggml).
void iq4_super_block(int nsub, const float* x, const float* qw, uint16_t* dh, uint8_t* qs, uint16_t* scales_h,
                     uint8_t* scales_l) {
  constexpr int ntry = 7;
  const int size = 32 * nsub;
  const float sigma2 = sum_squares(size, x) * (2.0f / static_cast<float>(size));
  uint8_t L[256];
  float sc[8], w[32];
  float max_scale = 0.0f, amax_scale = 0.0f;
  for (int ib = 0; ib < nsub; ++ib) {
    const float* xb = x + 32 * ib;
    uint8_t* Lb = L + 32 * ib;
    if (qw != nullptr) {
      imatrix_weights(32, xb, qw + 32 * ib, sigma2, w);
    } else {
      for (int j = 0; j < 32; ++j) w[j] = xb[j] * xb[j];
    }
    float vmax, amax;
    signed_absmax(32, xb, &vmax, &amax);
    if (amax < kZeroGroup) {
      sc[ib] = 0.0f;
      continue;
    }
    // Sums of w q x and w q^2 over the levels q chosen for 1 / id.
    const auto fit = [&](float id, float* sumqx, float* sumq2, bool keep) {
      float sqx = 0.0f, sq2 = 0.0f;
      for (int j = 0; j < 32; ++j) {
        const int l = nearest_iq4_level(id * xb[j]);
        if (keep) Lb[j] = static_cast<uint8_t>(l);
        const float q = static_cast<float>(kIq4nlLevels[l]);
        sqx += w[j] * q * xb[j];
        sq2 += w[j] * q * q;
      }
      *sumqx = sqx;
      *sumq2 = sq2;
    };
    float d = -vmax / static_cast<float>(kIq4nlLevels[0]);
    float sumqx, sumq2;
    fit(1.0f / d, &sumqx, &sumq2, true);
    d = sumq2 > 0.0f ? sumqx / sumq2 : 0.0f;
    float best = d * sumqx;
    for (int t = -ntry; t <= ntry; ++t) {
      fit(static_cast<float>(t + kIq4nlLevels[0]) / vmax, &sumqx, &sumq2, false);
      if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    sc[ib] = d;
    if (std::fabs(d) > amax_scale) {
      amax_scale = std::fabs(d);
      max_scale = d;
    }
  }
  if (nsub > 1) {
    *scales_h = 0;
    const float d = -max_scale / 32.0f;
    *dh = f2h(d);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int ib = 0; ib < nsub; ++ib) {
      const int l = clamp_int(round_nearest(id * sc[ib]), -32, 31);
      const float dl = d * static_cast<float>(l);
      const float idl = dl != 0.0f ? 1.0f / dl : 0.0f;
      for (int j = 0; j < 32; ++j) L[32 * ib + j] = static_cast<uint8_t>(nearest_iq4_level(idl * x[32 * ib + j]));
      const int code = l + 32;
      if (ib % 2 == 0) scales_l[ib / 2] = static_cast<uint8_t>(code & 0xF);
      else scales_l[ib / 2] = static_cast<uint8_t>(scales_l[ib / 2] | (code & 0xF) << 4);
      *scales_h = static_cast<uint16_t>(*scales_h | (code >> 4) << (2 * ib));
    }
  } else {
    *dh = f2h(sc[0]);
    const float id = sc[0] != 0.0f ? 1.0f / sc[0] : 0.0f;
    for (int j = 0; j < 32; ++j) L[j] = static_cast<uint8_t>(nearest_iq4_level(id * x[j]));
  }
  for (int ib = 0; ib < nsub; ++ib)
    for (int j = 0; j < 16; ++j) qs[16 * ib + j] = static_cast<uint8_t>(L[32 * ib + j] | L[32 * ib + 16 + j] << 4);
}

// ---- the 32-weight types with an imatrix (ggml's quantize_row_q4_0_impl ...) ----
// sigma2 is the mean square of the whole row here, not of a super-block.

float row_sigma2(const float* x, int64_t n) { return sum_squares(n, x) / static_cast<float>(n); }

void store_qh(uint32_t v, uint8_t* qh) {
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(v >> (8 * k));
}

// Q4_0 (kBits 4, levels -8..7) / Q5_0 (kBits 5, -16..15): the weighted symmetric fit per
// block of 32, packed as the format's nibbles (and fifth bits).
template <int kBits, class Block>
void q_0_imp(const float* x, Block* y, int64_t n, const float* qw) {
  const float sigma2 = row_sigma2(x, n);
  float w[32];
  int8_t L[32];
  for (int64_t b = 0; b < n / kBlockSize; ++b) {
    const float* xb = x + kBlockSize * b;
    imatrix_weights(32, xb, qw + kBlockSize * b, sigma2, w);
    y[b].d = f2h(fit_symmetric(32, 1 << (kBits - 1), xb, L, w));
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const auto l0 = static_cast<uint8_t>(L[j]), l1 = static_cast<uint8_t>(L[j + 16]);
      y[b].qs[j] = static_cast<uint8_t>((l0 & 0x0F) | (l1 & 0x0F) << 4);
      qh |= static_cast<uint32_t>((l0 >> 4) & 1) << j | static_cast<uint32_t>((l1 >> 4) & 1) << (j + 16);
    }
    if constexpr (kBits == 5) store_qh(qh, y[b].qh);
  }
}

// Q4_1 / Q5_1: fit_scale_min with the imatrix search range; m = -(the fitted offset).
template <class Block>
void q_1_imp(const float* x, Block* y, int64_t n, const float* qw, int nmax) {
  const float sigma2 = row_sigma2(x, n);
  float w[32];
  uint8_t L[32], Laux[32];
  for (int64_t b = 0; b < n / kBlockSize; ++b) {
    const float* xb = x + kBlockSize * b;
    imatrix_weights(32, xb, qw + kBlockSize * b, sigma2, w);
    float neg_min;
    const float d = fit_scale_min(32, nmax, xb, w, L, &neg_min, Laux, -0.9f, 0.05f, 36, false);
    y[b].d = f2h(d);
    y[b].m = f2h(-neg_min);
    if constexpr (sizeof(Block) == sizeof(BlockQ4_1)) {
      for (int j = 0; j < 16; ++j) y[b].qs[j] = static_cast<uint8_t>(L[j] | L[j + 16] << 4);
    } else {
      uint32_t qh = 0;
      for (int j = 0; j < 16; ++j) {
        y[b].qs[j] = static_cast<uint8_t>((L[j] & 0x0F) | (L[j + 16] & 0x0F) << 4);
        qh |= static_cast<uint32_t>((L[j] >> 4) & 1) << j | static_cast<uint32_t>((L[j + 16] >> 4) & 1) << (j + 16);
      }
      store_qh(qh, y[b].qh);
    }
  }
}

}  // namespace

// ---- reference quantizers (no imatrix) ----

void quantize_row_q2_k_ref(const float* x, BlockQ2K* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) q2k_block(x + kSuperBlock * b, y + b, nullptr);
}

void quantize_row_q3_k_ref(const float* x, BlockQ3K* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) q3k_block(x + kSuperBlock * b, y + b, nullptr);
}

void quantize_row_q4_k_ref(const float* x, BlockQ4K* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const float* xb = x + kSuperBlock * b;
    uint8_t L[256];
    scale_min_k4(xb, nullptr, 15, &y[b].d, &y[b].dmin, y[b].scales, L);
    requantize_k4(xb, y[b].scales, y[b].d, y[b].dmin, 15, L);
    pack_q4k(L, y[b].qs);
  }
}

void quantize_row_q5_k_ref(const float* x, BlockQ5K* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const float* xb = x + kSuperBlock * b;
    uint8_t L[256];
    scale_min_k4(xb, nullptr, 31, &y[b].d, &y[b].dmin, y[b].scales, L);
    requantize_k4(xb, y[b].scales, y[b].d, y[b].dmin, 31, L);
    pack_q5k(L, y[b].qh, y[b].qs);
  }
}

void quantize_row_q6_k_ref(const float* x, BlockQ6K* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) q6k_block(x + kSuperBlock * b, y + b, nullptr);
}

void quantize_row_q8_k_ref(const float* x, BlockQ8K* y, int64_t n) {
  // ggml's quantize_row_q8_K_ref: d = (element of largest |x|) / -127, so that element
  // lands on -127 exactly; d stays f32. bsums are the sums of each 16 codes.
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const float* xb = x + kSuperBlock * b;
    float vmax, amax;
    signed_absmax(256, xb, &vmax, &amax);
    if (amax == 0.0f) {
      std::memset(&y[b], 0, sizeof y[b]);
      continue;
    }
    const float iscale = -127.0f / vmax;
    for (int j = 0; j < 256; ++j) y[b].qs[j] = static_cast<int8_t>(std::min(127, round_nearest(iscale * xb[j])));
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += y[b].qs[16 * j + i];
      y[b].bsums[j] = static_cast<int16_t>(sum);
    }
    y[b].d = 1.0f / iscale;
  }
}

void quantize_row_iq4_nl_ref(const float* x, BlockIQ4NL* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b)
    iq4_super_block(1, x + kBlockSize * b, nullptr, &y[b].d, y[b].qs, nullptr, nullptr);
}

void quantize_row_iq4_xs_ref(const float* x, BlockIQ4XS* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b)
    iq4_super_block(8, x + kSuperBlock * b, nullptr, &y[b].d, y[b].qs, &y[b].scales_h, y[b].scales_l);
}

// ---- with an importance matrix ----

namespace {
// Q4_K / Q5_K with an imatrix: the weighted scale / min search, then the levels again
// from the rounded scales, packed by `pack` (levels up to kMax: 15 or 31).
template <int kMax, typename Block, typename Pack>
void q45k_imp(const float* x, Block* out, int64_t nsb, const float* qw, Pack pack) {
  for (int64_t b = 0; b < nsb; ++b) {
    const float* xb = x + kSuperBlock * b;
    uint8_t L[256];
    scale_min_k4(xb, qw + kSuperBlock * b, kMax, &out[b].d, &out[b].dmin, out[b].scales, L);
    requantize_k4(xb, out[b].scales, out[b].d, out[b].dmin, kMax, L);
    pack(L, out[b]);
  }
}
}  // namespace

void quantize_row_imp(QType type, const float* x, void* y, int64_t n, const float* qw) {
  const QTypeInfo& info = qtype_info(type);
  BIGDL_CHECK(n >= 0 && n % info.block_size == 0, ValueError, "quant::quantize_row_imp", info.name,
              " needs n to be a multiple of ", info.block_size, ", got ", n);
  if (qw == nullptr) {
    info.quantize_row(x, y, n);
    return;
  }
  const int64_t nsb = n / kSuperBlock;
  switch (type) {
    case QType::q2_k: {
      auto* out = static_cast<BlockQ2K*>(y);
      for (int64_t b = 0; b < nsb; ++b) q2k_block(x + kSuperBlock * b, out + b, qw + kSuperBlock * b);
      return;
    }
    case QType::q3_k: {
      auto* out = static_cast<BlockQ3K*>(y);
      for (int64_t b = 0; b < nsb; ++b) q3k_block(x + kSuperBlock * b, out + b, qw + kSuperBlock * b);
      return;
    }
    case QType::q4_k:
      q45k_imp<15>(x, static_cast<BlockQ4K*>(y), nsb, qw, [](const uint8_t* L, BlockQ4K& o) { pack_q4k(L, o.qs); });
      return;
    case QType::q5_k:
      q45k_imp<31>(x, static_cast<BlockQ5K*>(y), nsb, qw, [](const uint8_t* L, BlockQ5K& o) { pack_q5k(L, o.qh, o.qs); });
      return;
    case QType::q6_k: {
      auto* out = static_cast<BlockQ6K*>(y);
      for (int64_t b = 0; b < nsb; ++b) q6k_block(x + kSuperBlock * b, out + b, qw + kSuperBlock * b);
      return;
    }
    case QType::iq4_nl: {
      auto* out = static_cast<BlockIQ4NL*>(y);
      for (int64_t b = 0; b < n / kBlockSize; ++b)
        iq4_super_block(1, x + kBlockSize * b, qw + kBlockSize * b, &out[b].d, out[b].qs, nullptr, nullptr);
      return;
    }
    case QType::iq4_xs: {
      auto* out = static_cast<BlockIQ4XS*>(y);
      for (int64_t b = 0; b < nsb; ++b)
        iq4_super_block(8, x + kSuperBlock * b, qw + kSuperBlock * b, &out[b].d, out[b].qs, &out[b].scales_h,
                        out[b].scales_l);
      return;
    }
    case QType::sym_int4:
      q_0_imp<4>(x, static_cast<BlockQ4_0*>(y), n, qw);
      return;
    case QType::asym_int4:
      q_1_imp(x, static_cast<BlockQ4_1*>(y), n, qw, 15);
      return;
    case QType::sym_int5:
      q_0_imp<5>(x, static_cast<BlockQ5_0*>(y), n, qw);
      return;
    case QType::asym_int5:
      q_1_imp(x, static_cast<BlockQ5_1*>(y), n, qw, 31);
      return;
    default:  // q8_k, sym_int8 (ggml's Q8_0 ignores the imatrix too) and bigdl's own formats
      info.quantize_row(x, y, n);
      return;
  }
}

}  // namespace bigdl::detail::quant
