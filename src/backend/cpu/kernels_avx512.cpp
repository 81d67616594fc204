// AVX-512 (F, BW, VL, DQ) + FMA + F16C kernels, 16 floats per vector.
//
// Same algorithms as kernels_avx2.cpp with mask registers for tails and specials;
// the same rules apply (no inline functions or templates from shared headers, tails
// through the vector code, no FMA where the reference rounds twice). Only reached
// after cpuid and XCR0 say the CPU and the OS support AVX-512.
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__) || !defined(__AVX512DQ__) || \
    !defined(__FMA__) || !defined(__F16C__)
#error "kernels_avx512.cpp must be compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c"
#endif

#include "backend/cpu/avx512_intrin.h"

#include <cstdint>

#include "backend/cpu/kernels.h"

namespace bigdl::detail {
namespace {

constexpr int64_t kLanes = 16;

// Lanes [0, r) set, r in [0, 16).
__mmask16 tail_mask(int64_t r) { return static_cast<__mmask16>((1u << r) - 1u); }

__m512 splat(float v) { return _mm512_set1_ps(v); }
__m512 splat_bits(int32_t v) { return _mm512_castsi512_ps(_mm512_set1_epi32(v)); }

// GCC contracts a*b + c into an FMA by default in C++ (-ffp-contract=fast), even
// across intrinsics; passing the product through an empty asm stops that where the
// reference rounds twice.
__m512 no_contract(__m512 v) {
  __asm__("" : "+v"(v));
  return v;
}

float quiet_nan() { return _mm_cvtss_f32(_mm_castsi128_ps(_mm_set1_epi32(0x7fc00000))); }

// ---- transcendental functions (Cephes single-precision algorithms) ----

// exp: x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-6 polynomial; scalef applies 2^n
// with one rounding, giving correct subnormals and inf on overflow.
__m512 exp512(__m512 x) {
  const __mmask16 is_nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  __m512 xc = _mm512_min_ps(x, splat(88.8f));
  xc = _mm512_max_ps(xc, splat(-104.0f));
  const __m512 fn = _mm512_roundscale_ps(_mm512_mul_ps(xc, splat(1.44269504088896341f)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(fn, splat(0.693359375f), xc);
  r = _mm512_fnmadd_ps(fn, splat(-2.12194440e-4f), r);
  __m512 y = splat(1.9875691500e-4f);
  y = _mm512_fmadd_ps(y, r, splat(1.3981999507e-3f));
  y = _mm512_fmadd_ps(y, r, splat(8.3334519073e-3f));
  y = _mm512_fmadd_ps(y, r, splat(4.1665795894e-2f));
  y = _mm512_fmadd_ps(y, r, splat(1.6666665459e-1f));
  y = _mm512_fmadd_ps(y, r, splat(5.0000001201e-1f));
  y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), r);
  y = _mm512_add_ps(y, splat(1.0f));
  y = _mm512_scalef_ps(y, fn);
  return _mm512_mask_add_ps(y, is_nan, x, x);
}

// log: x = 2^e * m with m in [sqrt(1/2), sqrt(2)), log(m) = t - t^2/2 + t^3 P(t) with
// t = m - 1. Subnormal inputs are scaled by 2^23 first.
__m512 log512(__m512 x0) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512 one = splat(1.0f);
  const __mmask16 is_nan = _mm512_cmp_ps_mask(x0, x0, _CMP_UNORD_Q);
  const __mmask16 is_neg = _mm512_cmp_ps_mask(x0, zero, _CMP_LT_OQ);
  const __mmask16 is_zero = _mm512_cmp_ps_mask(x0, zero, _CMP_EQ_OQ);
  const __mmask16 is_inf = _mm512_cmp_ps_mask(x0, splat_bits(0x7f800000), _CMP_EQ_OQ);
  const __mmask16 is_sub = _mm512_cmp_ps_mask(x0, splat(0x1p-126f), _CMP_LT_OQ);
  const __m512 x = _mm512_mask_mul_ps(x0, is_sub, x0, splat(0x1p23f));
  const __m512i bits = _mm512_castps_si512(x);
  // exponent for a mantissa in [0.5, 1): biased - 126
  __m512 e = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(126)));
  e = _mm512_mask_sub_ps(e, is_sub, e, splat(23.0f));
  __m512 m = _mm512_castsi512_ps(
      _mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x3f000000)));
  const __mmask16 lt = _mm512_cmp_ps_mask(m, splat(0.707106781186547524f), _CMP_LT_OQ);
  e = _mm512_mask_sub_ps(e, lt, e, one);
  m = _mm512_add_ps(_mm512_sub_ps(m, one), _mm512_maskz_mov_ps(lt, m));  // 2m - 1 or m - 1, exact
  const __m512 z = _mm512_mul_ps(m, m);
  __m512 y = splat(7.0376836292e-2f);
  y = _mm512_fmadd_ps(y, m, splat(-1.1514610310e-1f));
  y = _mm512_fmadd_ps(y, m, splat(1.1676998740e-1f));
  y = _mm512_fmadd_ps(y, m, splat(-1.2420140846e-1f));
  y = _mm512_fmadd_ps(y, m, splat(1.4249322787e-1f));
  y = _mm512_fmadd_ps(y, m, splat(-1.6668057665e-1f));
  y = _mm512_fmadd_ps(y, m, splat(2.0000714765e-1f));
  y = _mm512_fmadd_ps(y, m, splat(-2.4999993993e-1f));
  y = _mm512_fmadd_ps(y, m, splat(3.3333331174e-1f));
  y = _mm512_mul_ps(_mm512_mul_ps(y, m), z);
  y = _mm512_fmadd_ps(e, splat(-2.12194440e-4f), y);
  y = _mm512_fnmadd_ps(z, splat(0.5f), y);
  __m512 r = _mm512_add_ps(m, y);
  r = _mm512_fmadd_ps(e, splat(0.693359375f), r);
  r = _mm512_mask_mov_ps(r, is_zero, splat_bits(static_cast<int32_t>(0xff800000u)));  // log(+-0) = -inf
  r = _mm512_mask_mov_ps(r, is_inf, splat_bits(0x7f800000));
  r = _mm512_mask_mov_ps(r, is_neg, splat_bits(0x7fc00000));
  return _mm512_mask_add_ps(r, is_nan, x0, x0);
}

// tanh: odd polynomial below |x| = 0.625, else 1 - 2 / (exp(2|x|) + 1), which
// saturates to 1 once exp overflows.
__m512 tanh512(__m512 x) {
  const __m512i sign =
      _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(static_cast<int32_t>(0x80000000u)));
  const __m512 ax = _mm512_abs_ps(x);
  const __m512 z = _mm512_mul_ps(x, x);
  __m512 p = splat(-5.70498872745e-3f);
  p = _mm512_fmadd_ps(p, z, splat(2.06390887954e-2f));
  p = _mm512_fmadd_ps(p, z, splat(-5.37397155531e-2f));
  p = _mm512_fmadd_ps(p, z, splat(1.33314422036e-1f));
  p = _mm512_fmadd_ps(p, z, splat(-3.33332819422e-1f));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), ax, ax);
  const __m512 e = exp512(_mm512_add_ps(ax, ax));
  const __m512 large = _mm512_sub_ps(splat(1.0f), _mm512_div_ps(splat(2.0f), _mm512_add_ps(e, splat(1.0f))));
  // both branches work on |x|; the sign goes back on last so that tanh(-0) = -0
  const __m512 r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, splat(0.625f), _CMP_LT_OQ), large, small);
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r), sign));
}

// erf: below |x| = 0.921875, x + x * P(x^2) (P fitted to erf(x)/x - 1, degree 6); up to
// 3.925, 1 - exp(-Q(|x|)) (Q fitted to -log(erfc(|x|)), degree 8); beyond, 1 (erf(x) rounds
// to 1 in float from there). Least-squares fits in double on Chebyshev-spaced points,
// rounded to float; both branches work on |x| and the sign goes back on last. NaN in, NaN
// out (exp's clamp would hide it, so it is put back at the end).
__m512 erf512(__m512 x) {
  const __m512i sign =
      _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(static_cast<int32_t>(0x80000000u)));
  const __m512 ax = _mm512_abs_ps(x);
  const __m512 s = _mm512_mul_ps(ax, ax);
  __m512 p = splat(kErfSmallP[0]);
  #pragma GCC unroll 8
  for (int i = 1; i < 7; ++i) p = _mm512_fmadd_ps(p, s, splat(kErfSmallP[i]));
  const __m512 small = _mm512_fmadd_ps(ax, p, ax);
  __m512 q = splat(kErfLargeQ[0]);
  #pragma GCC unroll 8
  for (int i = 1; i < 9; ++i) q = _mm512_fmadd_ps(q, ax, splat(kErfLargeQ[i]));
  __m512 r = _mm512_sub_ps(splat(1.0f), exp512(_mm512_sub_ps(_mm512_setzero_ps(), q)));
  r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, splat(0.921875f), _CMP_LT_OQ), r, small);
  r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, splat(3.925f), _CMP_GE_OQ), r, splat(1.0f));
  r = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r), sign));
  return _mm512_mask_add_ps(r, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x, x);
}

// sigmoid: e = exp(-|x|) never overflows; 1 / (1 + e) for x >= 0, e / (1 + e) below.
__m512 sigmoid512(__m512 x) {
  const __m512 neg_abs = _mm512_castsi512_ps(
      _mm512_or_si512(_mm512_castps_si512(x), _mm512_set1_epi32(static_cast<int32_t>(0x80000000u))));
  const __m512 e = exp512(neg_abs);
  const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 num = _mm512_mask_blend_ps(neg, splat(1.0f), e);
  return _mm512_div_ps(num, _mm512_add_ps(splat(1.0f), e));
}

// ---- loop skeletons (internal linkage, so instantiating them here is safe) ----

template <class F>
void map1(const float* a, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm512_storeu_ps(out + i, f(_mm512_loadu_ps(a + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, m, f(_mm512_maskz_loadu_ps(m, a + i)));
  }
}

template <class F>
void map2(const float* a, const float* b, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm512_storeu_ps(out + i, f(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, m, f(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

// ---- kernels ----

void add_avx512(const float* a, const float* b, float* out, int64_t n) {
  map2(a, b, out, n, [](__m512 x, __m512 y) { return _mm512_add_ps(x, y); });
}
void sub_avx512(const float* a, const float* b, float* out, int64_t n) {
  map2(a, b, out, n, [](__m512 x, __m512 y) { return _mm512_sub_ps(x, y); });
}
void mul_avx512(const float* a, const float* b, float* out, int64_t n) {
  map2(a, b, out, n, [](__m512 x, __m512 y) { return _mm512_mul_ps(x, y); });
}
void div_avx512(const float* a, const float* b, float* out, int64_t n) {
  map2(a, b, out, n, [](__m512 x, __m512 y) { return _mm512_div_ps(x, y); });
}
void add_scalar_avx512(const float* a, float s, float* out, int64_t n) {
  const __m512 vs = splat(s);
  map1(a, out, n, [vs](__m512 x) { return _mm512_add_ps(x, vs); });
}
void mul_scalar_avx512(const float* a, float s, float* out, int64_t n) {
  const __m512 vs = splat(s);
  map1(a, out, n, [vs](__m512 x) { return _mm512_mul_ps(x, vs); });
}
void axpy_avx512(float alpha, const float* x, float* y, int64_t n) {
  const __m512 va = splat(alpha);
  // y + alpha * x with two roundings, like the reference (no FMA).
  map2(y, x, y, n,
       [va](__m512 yv, __m512 xv) { return _mm512_add_ps(yv, no_contract(_mm512_mul_ps(va, xv))); });
}

void exp_avx512(const float* a, float* out, int64_t n) {
  map1(a, out, n, [](__m512 x) { return exp512(x); });
}
void log_avx512(const float* a, float* out, int64_t n) {
  map1(a, out, n, [](__m512 x) { return log512(x); });
}
void tanh_avx512(const float* a, float* out, int64_t n) {
  map1(a, out, n, [](__m512 x) { return tanh512(x); });
}
void erf_avx512(const float* a, float* out, int64_t n) {
  map1(a, out, n, [](__m512 x) { return erf512(x); });
}
void sigmoid_avx512(const float* a, float* out, int64_t n) {
  map1(a, out, n, [](__m512 x) { return sigmoid512(x); });
}

void relu_avx512(const float* a, float* out, int64_t n) {
  // x <= 0 (ordered, so NaN passes through) -> +0
  map1(a, out, n, [](__m512 x) {
    return _mm512_maskz_mov_ps(
        static_cast<__mmask16>(~_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LE_OQ)), x);
  });
}
void relu_backward_avx512(const float* grad, const float* x, float* out, int64_t n) {
  map2(grad, x, out, n, [](__m512 g, __m512 xv) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(xv, _mm512_setzero_ps(), _CMP_GT_OQ), g);
  });
}

float sum_avx512(const float* a, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    s0 = _mm512_add_ps(s0, _mm512_loadu_ps(a + i));
    s1 = _mm512_add_ps(s1, _mm512_loadu_ps(a + i + 16));
    s2 = _mm512_add_ps(s2, _mm512_loadu_ps(a + i + 32));
    s3 = _mm512_add_ps(s3, _mm512_loadu_ps(a + i + 48));
  }
  for (; i + kLanes <= n; i += kLanes) s0 = _mm512_add_ps(s0, _mm512_loadu_ps(a + i));
  if (i < n) s1 = _mm512_add_ps(s1, _mm512_maskz_loadu_ps(tail_mask(n - i), a + i));
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

float max_avx512(const float* a, int64_t n) {
  const __m512 ninf = splat_bits(static_cast<int32_t>(0xff800000u));
  __m512 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
  __mmask16 nan = 0;  // max_ps drops NaNs, so they are tracked here
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    const __m512 v0 = _mm512_loadu_ps(a + i), v1 = _mm512_loadu_ps(a + i + 16);
    const __m512 v2 = _mm512_loadu_ps(a + i + 32), v3 = _mm512_loadu_ps(a + i + 48);
    nan |= _mm512_cmp_ps_mask(v0, v1, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(v2, v3, _CMP_UNORD_Q);
    m0 = _mm512_max_ps(m0, v0);
    m1 = _mm512_max_ps(m1, v1);
    m2 = _mm512_max_ps(m2, v2);
    m3 = _mm512_max_ps(m3, v3);
  }
  for (; i + kLanes <= n; i += kLanes) {
    const __m512 v = _mm512_loadu_ps(a + i);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    m0 = _mm512_max_ps(m0, v);
  }
  if (i < n) {
    const __m512 v = _mm512_mask_loadu_ps(ninf, tail_mask(n - i), a + i);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    m1 = _mm512_max_ps(m1, v);
  }
  if (nan != 0) return quiet_nan();
  return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
}

float dot_avx512(const float* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + kLanes <= n; i += kLanes) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

// sum of exp(a[i] - m); also stores the terms when out is not null.
float sum_exp_shifted(const float* a, float m, float* out, int64_t n) {
  const __m512 vm = splat(m);
  __m512 s0 = _mm512_setzero_ps(), s1 = s0;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(a + i), vm));
    if (out) _mm512_storeu_ps(out + i, e);
    s0 = _mm512_add_ps(s0, e);
  }
  if (i < n) {
    const __mmask16 mask = tail_mask(n - i);
    // exp(0 - m) in the dead lanes may be inf: zero them before summing.
    const __m512 e = _mm512_maskz_mov_ps(mask, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, a + i), vm)));
    if (out) _mm512_mask_storeu_ps(out + i, mask, e);
    s1 = _mm512_add_ps(s1, e);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

void softmax_row_avx512(const float* a, float* out, int64_t n) {
  if (n <= 0) return;
  const float s = sum_exp_shifted(a, max_avx512(a, n), out, n);
  mul_scalar_avx512(out, 1.0f / s, out, n);
}

void log_softmax_row_avx512(const float* a, float* out, int64_t n) {
  if (n <= 0) return;
  const float m = max_avx512(a, n);
  const float s = sum_exp_shifted(a, m, nullptr, n);
  const __m512 vm = splat(m);
  const __m512 log_s = log512(splat(s));
  map1(a, out, n, [vm, log_s](__m512 x) { return _mm512_sub_ps(_mm512_sub_ps(x, vm), log_s); });
}

void f16_to_f32_avx512(const uint16_t* a, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i))));
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, a + i)));
  }
}

void f32_to_f16_avx512(const float* a, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm256_storeu_si256(
        reinterpret_cast<__m256i*>(out + i),
        _mm512_cvtps_ph(_mm512_loadu_ps(a + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    const __m256i h =
        _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, a + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_mask_storeu_epi16(out + i, m, h);
  }
}

__m512 bf16x16_to_f32(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

void bf16_to_f32_avx512(const uint16_t* a, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm512_storeu_ps(out + i, bf16x16_to_f32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i))));
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, m, bf16x16_to_f32(_mm256_maskz_loadu_epi16(m, a + i)));
  }
}

// Round to nearest even on the bit pattern; NaN -> quiet NaN with the same sign.
// Returns 16 results in the low halves of the 32-bit lanes.
__m512i f32x16_to_bf16(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i hi = _mm512_srli_epi32(u, 16);
  const __m512i lsb = _mm512_and_si512(hi, _mm512_set1_epi32(1));
  const __m512i r =
      _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  return _mm512_mask_or_epi32(r, nan, hi, _mm512_set1_epi32(0x0040));
}

void f32_to_bf16_avx512(const float* a, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm512_cvtepi32_epi16(f32x16_to_bf16(_mm512_loadu_ps(a + i))));
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_cvtepi32_storeu_epi16(out + i, m, f32x16_to_bf16(_mm512_maskz_loadu_ps(m, a + i)));
  }
}

}  // namespace

const CpuKernels& kernels_avx512() {
  static const CpuKernels table = {
      .name = "avx512",
      .add = add_avx512,
      .sub = sub_avx512,
      .mul = mul_avx512,
      .div = div_avx512,
      .add_scalar = add_scalar_avx512,
      .mul_scalar = mul_scalar_avx512,
      .axpy = axpy_avx512,
      .exp = exp_avx512,
      .log = log_avx512,
      .tanh = tanh_avx512,
      .sigmoid = sigmoid_avx512,
      .erf = erf_avx512,
      .relu = relu_avx512,
      .relu_backward = relu_backward_avx512,
      .sum = sum_avx512,
      .max = max_avx512,
      .dot = dot_avx512,
      .softmax_row = softmax_row_avx512,
      .log_softmax_row = log_softmax_row_avx512,
      .f16_to_f32 = f16_to_f32_avx512,
      .f32_to_f16 = f32_to_f16_avx512,
      .bf16_to_f32 = bf16_to_f32_avx512,
      .f32_to_bf16 = f32_to_bf16_avx512,
  };
  return table;
}

}  // namespace bigdl::detail
