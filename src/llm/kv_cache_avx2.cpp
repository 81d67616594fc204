// AVX2 + FMA + F16C attention kernels over the KV cache (kv_cache.h).
//
// Built with -mavx2 -mfma -mf16c (CMake, *_avx2.cpp); reached only through
// kv_kernels() after cpuid. Same rules as backend/cpu/kernels_avx2.cpp: intrinsics and
// anonymous-namespace code only (the templates below have internal linkage).
//
// A cached row is read 8 elements at a time and widened to f32 (f16: vcvtph2ps; E5M2:
// the byte shifted into the top of a half, then vcvtph2ps; both exact), then used for
// up to 4 query heads of the group. Sums use 8 lanes and are reduced at the end, so they
// differ from the sequential reference by f32 rounding only. Head sizes that are not a
// multiple of 8 finish with a scalar tail.
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "kv_cache_avx2.cpp must be compiled with -mavx2 -mfma -mf16c (CMake adds them for *_avx2.cpp)"
#endif

#include <immintrin.h>

#include <cstdint>

#include "backend/cpu/kernels.h"
#include "llm/kv_cache.h"

namespace bigdl::llm::detail {
namespace {

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Element readers: 8 elements as f32, and one element (for tails).
struct F32 {
  using T = float;
  static __m256 load8(const T* p) { return _mm256_loadu_ps(p); }
  static float load1(const T* p) { return *p; }
};
struct F16 {
  using T = uint16_t;
  static __m256 load8(const T* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static float load1(const T* p) { return _cvtsh_ss(*p); }
};
struct Fp8 {
  using T = uint8_t;
  static __m256 load8(const T* p) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return _mm256_cvtph_ps(_mm_slli_epi16(_mm_cvtepu8_epi16(b), 8));
  }
  static float load1(const T* p) { return _cvtsh_ss(static_cast<uint16_t>(*p << 8)); }
};

// G query heads against nt rows.
template <typename E, int G>
void scores_g(const float* q, int64_t ldq, const typename E::T* k, int64_t stride, int64_t nt, int64_t hd,
              float scale, float* s, int64_t lds) {
  const int64_t hd8 = hd & ~int64_t(7);
  for (int64_t t = 0; t < nt; ++t) {
    const typename E::T* row = k + t * stride;
    __m256 acc[G];
    #pragma GCC unroll 8
    for (int g = 0; g < G; ++g) acc[g] = _mm256_setzero_ps();
    for (int64_t i = 0; i < hd8; i += 8) {
      const __m256 kv = E::load8(row + i);
      #pragma GCC unroll 8
      for (int g = 0; g < G; ++g) acc[g] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * ldq + i), kv, acc[g]);
    }
    #pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      float r = hsum(acc[g]);
      for (int64_t i = hd8; i < hd; ++i) r += q[g * ldq + i] * E::load1(row + i);
      s[g * lds + t] = r * scale;
    }
  }
}

// G heads: o_g += sum_t p_g[t] v_t, 8 output elements at a time kept in registers.
template <typename E, int G>
void mix_g(const float* p, int64_t ldp, const typename E::T* v, int64_t stride, int64_t nt, int64_t hd, float* o,
           int64_t ldo) {
  const int64_t hd8 = hd & ~int64_t(7);
  for (int64_t i = 0; i < hd8; i += 8) {
    __m256 acc[G];
    #pragma GCC unroll 8
    for (int g = 0; g < G; ++g) acc[g] = _mm256_loadu_ps(o + g * ldo + i);
    for (int64_t t = 0; t < nt; ++t) {
      const __m256 vv = E::load8(v + t * stride + i);
      #pragma GCC unroll 8
      for (int g = 0; g < G; ++g) acc[g] = _mm256_fmadd_ps(_mm256_set1_ps(p[g * ldp + t]), vv, acc[g]);
    }
    #pragma GCC unroll 8
    for (int g = 0; g < G; ++g) _mm256_storeu_ps(o + g * ldo + i, acc[g]);
  }
  for (int64_t i = hd8; i < hd; ++i)
    #pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      float acc = o[g * ldo + i];
      for (int64_t t = 0; t < nt; ++t) acc += p[g * ldp + t] * E::load1(v + t * stride + i);
      o[g * ldo + i] = acc;
    }
}

// Query heads in groups of up to 4 (each row is converted once per group of 4).
template <typename E>
void scores(const float* q, int64_t ng, int64_t ldq, const void* k, int64_t stride, int64_t nt, int64_t hd,
            float scale, float* s, int64_t lds) {
  const auto* kb = static_cast<const typename E::T*>(k);
  int64_t g = 0;
  for (; g + 4 <= ng; g += 4) scores_g<E, 4>(q + g * ldq, ldq, kb, stride, nt, hd, scale, s + g * lds, lds);
  switch (ng - g) {
    case 3: scores_g<E, 3>(q + g * ldq, ldq, kb, stride, nt, hd, scale, s + g * lds, lds); break;
    case 2: scores_g<E, 2>(q + g * ldq, ldq, kb, stride, nt, hd, scale, s + g * lds, lds); break;
    case 1: scores_g<E, 1>(q + g * ldq, ldq, kb, stride, nt, hd, scale, s + g * lds, lds); break;
    default: break;
  }
}
template <typename E>
void mix(const float* p, int64_t ng, int64_t ldp, const void* v, int64_t stride, int64_t nt, int64_t hd, float* o,
         int64_t ldo) {
  const auto* vb = static_cast<const typename E::T*>(v);
  int64_t g = 0;
  for (; g + 4 <= ng; g += 4) mix_g<E, 4>(p + g * ldp, ldp, vb, stride, nt, hd, o + g * ldo, ldo);
  switch (ng - g) {
    case 3: mix_g<E, 3>(p + g * ldp, ldp, vb, stride, nt, hd, o + g * ldo, ldo); break;
    case 2: mix_g<E, 2>(p + g * ldp, ldp, vb, stride, nt, hd, o + g * ldo, ldo); break;
    case 1: mix_g<E, 1>(p + g * ldp, ldp, vb, stride, nt, hd, o + g * ldo, ldo); break;
    default: break;
  }
}

void store_f32(const float* x, void* dst, int64_t n) {
  auto* d = static_cast<float*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = x[i];
}
// vcvtps2ph rounds to nearest even (overflow to inf), as float_to_half.
void store_f16(const float* x, void* dst, int64_t n) {
  auto* d = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) d[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

}  // namespace

const KvKernels* kv_kernels_avx2(KvType t) {
  using bigdl::detail::Isa;
  static const bool ok = static_cast<int>(bigdl::detail::detect_isa()) >= static_cast<int>(Isa::avx2);
  if (!ok) return nullptr;
  // E5M2 is stored with the reference rounding (one scalar conversion per element; a
  // row per token, not a hot path).
  static const KvKernels table[kNumKvTypes] = {
      {"avx2", store_f32, scores<F32>, mix<F32>},
      {"avx2", store_f16, scores<F16>, mix<F16>},
      {"avx2", kv_kernels_ref(KvType::fp8).store, scores<Fp8>, mix<Fp8>},
  };
  return &table[static_cast<int>(t)];
}

}  // namespace bigdl::llm::detail
