// AVX2 + FMA + F16C kernels, 8 floats per vector.
//
// Built with -mavx2 -mfma -mf16c (CMake does this for every *_avx2.cpp); only reached
// through cpu_kernels()/cpu_kernels_for() after cpuid says the CPU has all three.
//
// Rules for this file (see docs/kernels.md):
//  * No inline function or template from a shared header (<cmath>, <algorithm>,
//    <vector>, <limits>...): the linker may keep this TU's AVX copy of such a function
//    for the whole program. Intrinsics (always_inline) and code in the anonymous
//    namespace below (internal linkage) are safe.
//  * Tails go through the same vector code with masked loads/stores, so an element's
//    result does not depend on its position in the array.
//  * Elementwise arithmetic must be bit-exact with kernels_ref.cpp: no FMA where the
//    reference rounds twice (axpy).
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "kernels_avx2.cpp must be compiled with -mavx2 -mfma -mf16c (CMake adds them for *_avx2.cpp)"
#endif

#include <immintrin.h>

#include <cstdint>

#include "backend/cpu/kernels.h"

namespace bigdl::detail {
namespace {

constexpr int64_t kLanes = 8;

// Lanes [0, r) set, r in [0, 8].
__m256i tail_mask(int64_t r) {
  alignas(32) static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bits + kLanes - r));
}

__m256 splat(float v) { return _mm256_set1_ps(v); }
__m256 splat_bits(int32_t v) { return _mm256_castsi256_ps(_mm256_set1_epi32(v)); }

// GCC contracts a*b + c into an FMA by default in C++ (-ffp-contract=fast), even
// across intrinsics; passing the product through an empty asm stops that where the
// reference rounds twice.
__m256 no_contract(__m256 v) {
  __asm__("" : "+x"(v));
  return v;
}

float quiet_nan() { return _mm_cvtss_f32(_mm_castsi128_ps(_mm_set1_epi32(0x7fc00000))); }

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// ---- transcendental functions (Cephes single-precision algorithms) ----

// exp: x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-6 polynomial, then scaled by
// 2^n in two steps (2^(n/2) twice) so that subnormal results round once and
// correctly and overflow gives inf.
__m256 exp256(__m256 x) {
  const __m256 is_nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  __m256 xc = _mm256_min_ps(x, splat(88.8f));  // exp(88.8) > FLT_MAX: gives inf below
  xc = _mm256_max_ps(xc, splat(-104.0f));      // exp(-104) < FLT_TRUE_MIN / 2: gives 0
  const __m256 fn = _mm256_round_ps(_mm256_mul_ps(xc, splat(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(fn, splat(0.693359375f), xc);
  r = _mm256_fnmadd_ps(fn, splat(-2.12194440e-4f), r);
  __m256 y = splat(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, r, splat(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, r, splat(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, r, splat(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, r, splat(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, r, splat(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), r);
  y = _mm256_add_ps(y, splat(1.0f));
  const __m256i n = _mm256_cvtps_epi32(fn);  // fn is integral, in [-150, 128]
  const __m256i n1 = _mm256_srai_epi32(n, 1);
  const __m256i n2 = _mm256_sub_epi32(n, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  y = _mm256_mul_ps(_mm256_mul_ps(y, s1), s2);  // y * s1 is exact (normal range)
  return _mm256_blendv_ps(y, _mm256_add_ps(x, x), is_nan);
}

// log: x = 2^e * m with m in [sqrt(1/2), sqrt(2)), log(m) = t - t^2/2 + t^3 P(t) with
// t = m - 1. Subnormal inputs are scaled by 2^23 first.
__m256 log256(__m256 x0) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 one = splat(1.0f);
  const __m256 is_nan = _mm256_cmp_ps(x0, x0, _CMP_UNORD_Q);
  const __m256 is_neg = _mm256_cmp_ps(x0, zero, _CMP_LT_OQ);
  const __m256 is_zero = _mm256_cmp_ps(x0, zero, _CMP_EQ_OQ);
  const __m256 is_inf = _mm256_cmp_ps(x0, splat_bits(0x7f800000), _CMP_EQ_OQ);
  const __m256 is_sub = _mm256_cmp_ps(x0, splat(0x1p-126f), _CMP_LT_OQ);
  const __m256 x = _mm256_blendv_ps(x0, _mm256_mul_ps(x0, splat(0x1p23f)), is_sub);
  const __m256i bits = _mm256_castps_si256(x);
  // exponent for a mantissa in [0.5, 1): biased - 126
  __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126)));
  e = _mm256_sub_ps(e, _mm256_and_ps(is_sub, splat(23.0f)));
  __m256 m = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f000000)));
  const __m256 lt = _mm256_cmp_ps(m, splat(0.707106781186547524f), _CMP_LT_OQ);
  e = _mm256_sub_ps(e, _mm256_and_ps(lt, one));
  m = _mm256_add_ps(_mm256_sub_ps(m, one), _mm256_and_ps(lt, m));  // 2m - 1 or m - 1, exact
  const __m256 z = _mm256_mul_ps(m, m);
  __m256 y = splat(7.0376836292e-2f);
  y = _mm256_fmadd_ps(y, m, splat(-1.1514610310e-1f));
  y = _mm256_fmadd_ps(y, m, splat(1.1676998740e-1f));
  y = _mm256_fmadd_ps(y, m, splat(-1.2420140846e-1f));
  y = _mm256_fmadd_ps(y, m, splat(1.4249322787e-1f));
  y = _mm256_fmadd_ps(y, m, splat(-1.6668057665e-1f));
  y = _mm256_fmadd_ps(y, m, splat(2.0000714765e-1f));
  y = _mm256_fmadd_ps(y, m, splat(-2.4999993993e-1f));
  y = _mm256_fmadd_ps(y, m, splat(3.3333331174e-1f));
  y = _mm256_mul_ps(_mm256_mul_ps(y, m), z);
  y = _mm256_fmadd_ps(e, splat(-2.12194440e-4f), y);
  y = _mm256_fnmadd_ps(z, splat(0.5f), y);
  __m256 r = _mm256_add_ps(m, y);
  r = _mm256_fmadd_ps(e, splat(0.693359375f), r);
  r = _mm256_blendv_ps(r, splat_bits(static_cast<int32_t>(0xff800000u)), is_zero);  // log(+-0) = -inf
  r = _mm256_blendv_ps(r, splat_bits(0x7f800000), is_inf);
  r = _mm256_blendv_ps(r, splat_bits(0x7fc00000), is_neg);
  return _mm256_blendv_ps(r, _mm256_add_ps(x0, x0), is_nan);
}

// tanh: odd polynomial below |x| = 0.625, else 1 - 2 / (exp(2|x|) + 1), which
// saturates to 1 once exp overflows.
__m256 tanh256(__m256 x) {
  const __m256 sign_bit = splat(-0.0f);
  const __m256 sign = _mm256_and_ps(x, sign_bit);
  const __m256 ax = _mm256_andnot_ps(sign_bit, x);
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = splat(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, z, splat(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, z, splat(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, z, splat(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, z, splat(-3.33332819422e-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), ax, ax);
  const __m256 e = exp256(_mm256_add_ps(ax, ax));
  const __m256 large = _mm256_sub_ps(splat(1.0f), _mm256_div_ps(splat(2.0f), _mm256_add_ps(e, splat(1.0f))));
  // both branches work on |x|; the sign goes back on last so that tanh(-0) = -0
  return _mm256_or_ps(_mm256_blendv_ps(large, small, _mm256_cmp_ps(ax, splat(0.625f), _CMP_LT_OQ)), sign);
}

// erf: below |x| = 0.921875, x + x * P(x^2) (P fitted to erf(x)/x - 1, degree 6); up to
// 3.925, 1 - exp(-Q(|x|)) (Q fitted to -log(erfc(|x|)), degree 8); beyond, 1 (erf(x) rounds
// to 1 in float from there). Least-squares fits in double on Chebyshev-spaced points,
// rounded to float; both branches work on |x| and the sign goes back on last. NaN in, NaN
// out (exp's clamp would hide it, so it is put back at the end).
__m256 erf256(__m256 x) {
  const __m256 sign_bit = splat(-0.0f);
  const __m256 sign = _mm256_and_ps(x, sign_bit);
  const __m256 ax = _mm256_andnot_ps(sign_bit, x);
  const __m256 s = _mm256_mul_ps(ax, ax);
  __m256 p = splat(kErfSmallP[0]);
  #pragma GCC unroll 8
  for (int i = 1; i < 7; ++i) p = _mm256_fmadd_ps(p, s, splat(kErfSmallP[i]));
  const __m256 small = _mm256_fmadd_ps(ax, p, ax);
  __m256 q = splat(kErfLargeQ[0]);
  #pragma GCC unroll 8
  for (int i = 1; i < 9; ++i) q = _mm256_fmadd_ps(q, ax, splat(kErfLargeQ[i]));
  __m256 r = _mm256_sub_ps(splat(1.0f), exp256(_mm256_sub_ps(_mm256_setzero_ps(), q)));
  r = _mm256_blendv_ps(r, small, _mm256_cmp_ps(ax, splat(0.921875f), _CMP_LT_OQ));
  r = _mm256_blendv_ps(r, splat(1.0f), _mm256_cmp_ps(ax, splat(3.925f), _CMP_GE_OQ));
  r = _mm256_or_ps(r, sign);
  return _mm256_blendv_ps(r, _mm256_add_ps(x, x), _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

// sigmoid: e = exp(-|x|) never overflows; 1 / (1 + e) for x >= 0, e / (1 + e) below.
__m256 sigmoid256(__m256 x) {
  const __m256 e = exp256(_mm256_or_ps(x, splat(-0.0f)));
  const __m256 num = _mm256_blendv_ps(splat(1.0f), e, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
  return _mm256_div_ps(num, _mm256_add_ps(splat(1.0f), e));
}

// ---- loop skeletons (internal linkage, so instantiating them here is safe) ----

template <class F>
void map1(const float* a, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(a + i)));
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(out + i, m, f(_mm256_maskload_ps(a + i, m)));
  }
}

template <class F>
void map2(const float* a, const float* b, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  }
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(out + i, m, f(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m)));
  }
}

// ---- kernels ----

void add_avx2(const float* a, const float* b, float* out, int64_t n) {
  map2(a, b, out, n, [](__m256 x, __m256 y) { return _mm256_add_ps(x, y); });
}
void sub_avx2(const float* a, const float* b, float* out, int64_t n) {
  map2(a, b, out, n, [](__m256 x, __m256 y) { return _mm256_sub_ps(x, y); });
}
void mul_avx2(const float* a, const float* b, float* out, int64_t n) {
  map2(a, b, out, n, [](__m256 x, __m256 y) { return _mm256_mul_ps(x, y); });
}
void div_avx2(const float* a, const float* b, float* out, int64_t n) {
  map2(a, b, out, n, [](__m256 x, __m256 y) { return _mm256_div_ps(x, y); });
}
void add_scalar_avx2(const float* a, float s, float* out, int64_t n) {
  const __m256 vs = splat(s);
  map1(a, out, n, [vs](__m256 x) { return _mm256_add_ps(x, vs); });
}
void mul_scalar_avx2(const float* a, float s, float* out, int64_t n) {
  const __m256 vs = splat(s);
  map1(a, out, n, [vs](__m256 x) { return _mm256_mul_ps(x, vs); });
}
void axpy_avx2(float alpha, const float* x, float* y, int64_t n) {
  const __m256 va = splat(alpha);
  // y + alpha * x with two roundings, like the reference (no FMA).
  map2(y, x, y, n,
       [va](__m256 yv, __m256 xv) { return _mm256_add_ps(yv, no_contract(_mm256_mul_ps(va, xv))); });
}

void exp_avx2(const float* a, float* out, int64_t n) {
  map1(a, out, n, [](__m256 x) { return exp256(x); });
}
void log_avx2(const float* a, float* out, int64_t n) {
  map1(a, out, n, [](__m256 x) { return log256(x); });
}
void tanh_avx2(const float* a, float* out, int64_t n) {
  map1(a, out, n, [](__m256 x) { return tanh256(x); });
}
void erf_avx2(const float* a, float* out, int64_t n) {
  map1(a, out, n, [](__m256 x) { return erf256(x); });
}
void sigmoid_avx2(const float* a, float* out, int64_t n) {
  map1(a, out, n, [](__m256 x) { return sigmoid256(x); });
}

void relu_avx2(const float* a, float* out, int64_t n) {
  // x <= 0 (ordered, so NaN passes through) -> +0
  map1(a, out, n,
       [](__m256 x) { return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LE_OQ), x); });
}
void relu_backward_avx2(const float* grad, const float* x, float* out, int64_t n) {
  map2(grad, x, out, n, [](__m256 g, __m256 xv) {
    return _mm256_and_ps(_mm256_cmp_ps(xv, _mm256_setzero_ps(), _CMP_GT_OQ), g);
  });
}

float sum_avx2(const float* a, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    s0 = _mm256_add_ps(s0, _mm256_loadu_ps(a + i));
    s1 = _mm256_add_ps(s1, _mm256_loadu_ps(a + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_loadu_ps(a + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_loadu_ps(a + i + 24));
  }
  for (; i + kLanes <= n; i += kLanes) s0 = _mm256_add_ps(s0, _mm256_loadu_ps(a + i));
  if (i < n) s1 = _mm256_add_ps(s1, _mm256_maskload_ps(a + i, tail_mask(n - i)));
  return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

float max_avx2(const float* a, int64_t n) {
  const __m256 ninf = splat_bits(static_cast<int32_t>(0xff800000u));
  __m256 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
  __m256 nan = _mm256_setzero_ps();  // max_ps drops NaNs, so they are tracked here
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    const __m256 v0 = _mm256_loadu_ps(a + i), v1 = _mm256_loadu_ps(a + i + 8);
    const __m256 v2 = _mm256_loadu_ps(a + i + 16), v3 = _mm256_loadu_ps(a + i + 24);
    nan = _mm256_or_ps(
        nan, _mm256_or_ps(_mm256_cmp_ps(v0, v1, _CMP_UNORD_Q), _mm256_cmp_ps(v2, v3, _CMP_UNORD_Q)));
    m0 = _mm256_max_ps(m0, v0);
    m1 = _mm256_max_ps(m1, v1);
    m2 = _mm256_max_ps(m2, v2);
    m3 = _mm256_max_ps(m3, v3);
  }
  for (; i + kLanes <= n; i += kLanes) {
    const __m256 v = _mm256_loadu_ps(a + i);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    m0 = _mm256_max_ps(m0, v);
  }
  if (i < n) {
    const __m256i mask = tail_mask(n - i);
    const __m256 v = _mm256_blendv_ps(ninf, _mm256_maskload_ps(a + i, mask), _mm256_castsi256_ps(mask));
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    m1 = _mm256_max_ps(m1, v);
  }
  if (_mm256_movemask_ps(nan) != 0) return quiet_nan();
  return hmax(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
}

float dot_avx2(const float* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + kLanes <= n; i += kLanes) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  }
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

// sum of exp(a[i] - m); also stores the terms when out is not null.
float sum_exp_shifted(const float* a, float m, float* out, int64_t n) {
  const __m256 vm = splat(m);
  __m256 s0 = _mm256_setzero_ps(), s1 = s0;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(a + i), vm));
    if (out) _mm256_storeu_ps(out + i, e);
    s0 = _mm256_add_ps(s0, e);
  }
  if (i < n) {
    const __m256i mask = tail_mask(n - i);
    // exp(0 - m) in the dead lanes may be inf: zero them before summing.
    const __m256 e =
        _mm256_and_ps(exp256(_mm256_sub_ps(_mm256_maskload_ps(a + i, mask), vm)), _mm256_castsi256_ps(mask));
    if (out) _mm256_maskstore_ps(out + i, mask, e);
    s1 = _mm256_add_ps(s1, e);
  }
  return hsum(_mm256_add_ps(s0, s1));
}

void softmax_row_avx2(const float* a, float* out, int64_t n) {
  if (n <= 0) return;
  const float s = sum_exp_shifted(a, max_avx2(a, n), out, n);
  mul_scalar_avx2(out, 1.0f / s, out, n);
}

void log_softmax_row_avx2(const float* a, float* out, int64_t n) {
  if (n <= 0) return;
  const float m = max_avx2(a, n);
  const float s = sum_exp_shifted(a, m, nullptr, n);
  const __m256 vm = splat(m);
  const __m256 log_s = log256(splat(s));
  map1(a, out, n, [vm, log_s](__m256 x) { return _mm256_sub_ps(_mm256_sub_ps(x, vm), log_s); });
}

void f16_to_f32_avx2(const uint16_t* a, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i))));
  }
  if (i < n) {
    alignas(16) uint16_t buf[kLanes] = {};
    for (int64_t j = 0; j < n - i; ++j) buf[j] = a[i + j];
    const __m256 v = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(buf)));
    _mm256_maskstore_ps(out + i, tail_mask(n - i), v);
  }
}

void f32_to_f16_avx2(const float* a, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(a + i), _MM_FROUND_TO_NEAREST_INT));
  }
  if (i < n) {
    alignas(16) uint16_t buf[kLanes];
    const __m256 v = _mm256_maskload_ps(a + i, tail_mask(n - i));
    _mm_store_si128(reinterpret_cast<__m128i*>(buf), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    for (int64_t j = 0; j < n - i; ++j) out[i + j] = buf[j];
  }
}

__m256 bf16x8_to_f32(__m128i h) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

void bf16_to_f32_avx2(const uint16_t* a, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm256_storeu_ps(out + i, bf16x8_to_f32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i))));
  }
  if (i < n) {
    alignas(16) uint16_t buf[kLanes] = {};
    for (int64_t j = 0; j < n - i; ++j) buf[j] = a[i + j];
    const __m256 v = bf16x8_to_f32(_mm_load_si128(reinterpret_cast<const __m128i*>(buf)));
    _mm256_maskstore_ps(out + i, tail_mask(n - i), v);
  }
}

// Round to nearest even on the bit pattern; NaN -> quiet NaN with the same sign.
__m128i f32x8_to_bf16(__m256 x) {
  const __m256i u = _mm256_castps_si256(x);
  const __m256i hi = _mm256_srli_epi32(u, 16);
  const __m256i lsb = _mm256_and_si256(hi, _mm256_set1_epi32(1));
  __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  r = _mm256_blendv_epi8(r, _mm256_or_si256(hi, _mm256_set1_epi32(0x0040)), nan);
  // every lane is <= 0xffff, so the unsigned saturating pack is a plain narrowing
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

void f32_to_bf16_avx2(const float* a, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), f32x8_to_bf16(_mm256_loadu_ps(a + i)));
  }
  if (i < n) {
    alignas(16) uint16_t buf[kLanes];
    const __m256 v = _mm256_maskload_ps(a + i, tail_mask(n - i));
    _mm_store_si128(reinterpret_cast<__m128i*>(buf), f32x8_to_bf16(v));
    for (int64_t j = 0; j < n - i; ++j) out[i + j] = buf[j];
  }
}

}  // namespace

const CpuKernels& kernels_avx2() {
  static const CpuKernels table = {
      .name = "avx2",
      .add = add_avx2,
      .sub = sub_avx2,
      .mul = mul_avx2,
      .div = div_avx2,
      .add_scalar = add_scalar_avx2,
      .mul_scalar = mul_scalar_avx2,
      .axpy = axpy_avx2,
      .exp = exp_avx2,
      .log = log_avx2,
      .tanh = tanh_avx2,
      .sigmoid = sigmoid_avx2,
      .erf = erf_avx2,
      .relu = relu_avx2,
      .relu_backward = relu_backward_avx2,
      .sum = sum_avx2,
      .max = max_avx2,
      .dot = dot_avx2,
      .softmax_row = softmax_row_avx2,
      .log_softmax_row = log_softmax_row_avx2,
      .f16_to_f32 = f16_to_f32_avx2,
      .f32_to_f16 = f32_to_f16_avx2,
      .bf16_to_f32 = bf16_to_f32_avx2,
      .f32_to_bf16 = f32_to_bf16_avx2,
  };
  return table;
}

}  // namespace bigdl::detail
