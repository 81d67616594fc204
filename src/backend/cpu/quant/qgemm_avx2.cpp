// AVX2 packed int8-activation GEMM over x8-interleaved Q4_0 / Q4_1 / Q8_0 (qgemm.h).
//
// Built with -mavx2 -mfma -mf16c (CMake, *_avx2.cpp); reached only through
// packed_kernels() after cpuid. Same rules as ../kernels_avx2.cpp: intrinsics and
// anonymous-namespace code only (the templates below have internal linkage).
//
// Lane r of every 256-bit vector is row r of the group. Per tile and activation row:
//   4-bit: 4 loads of 32 bytes; each gives the low nibbles (weights 4j..4j+3 of every
//          row) and the high nibbles (weights 16+4j..); maddubs against the activation
//          bytes 4j..4j+3 (16+4j..) broadcast to all lanes. The 8 int16 results are
//          summed in int16: each is at most 2 * 15 * 127 = 3810 in magnitude, 8 of them
//          30480 < 32767, so nothing saturates. One madd turns them into the 8 rows'
//          exact int32 block sums.
//   8-bit: 8 loads; maddubs needs an unsigned operand, so |w| times x with w's sign
//          (pairs <= 2 * 128 * 127 = 32512), then madd per load (two pairs could
//          overflow int16).
// Then per tile one vcvtph2ps of the 8 scales, one multiply by x.d and one FMA into the
// accumulator, the same f32 operations as the reference lane by lane.
// Up to 4 activation rows share each weight load (prefill); decode is n = 1.
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "qgemm_avx2.cpp must be compiled with -mavx2 -mfma -mf16c (CMake adds them for *_avx2.cpp)"
#endif

#include <immintrin.h>

#include <cstdint>

#include "backend/cpu/quant/qgemm.h"

namespace bigdl::detail::quant {
namespace {

__m256i bcast32(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Q4_0 (kAsym = false: y = acc - 8 corr, corr over d) or Q4_1 (kAsym: y = acc + corr,
// corr over m), NT activation rows.
template <bool kAsym, int NT>
void q4_tile(int64_t nb, const uint8_t* g, const BlockQ8A* x, int64_t nbx, float* y, int64_t ldy) {
  constexpr int64_t kTile = kAsym ? 160 : 144;
  constexpr int64_t kQs = kAsym ? 32 : 16;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[NT], corr[NT];
  #pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) acc[t] = corr[t] = _mm256_setzero_ps();
  for (int64_t k = 0; k < nb; ++k, g += kTile) {
    const __m256 dv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g)));
    const __m256 cv = kAsym ? _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 16))) : dv;
    __m256i s16[NT];
    #pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) s16[t] = _mm256_setzero_si256();
    #pragma GCC unroll 8
    for (int j = 0; j < 4; ++j) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + kQs + 32 * j));
      const __m256i lo = _mm256_and_si256(raw, m4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
      #pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        const int8_t* q = x[t * nbx + k].qs;
        s16[t] = _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(lo, bcast32(q + 4 * j)));
        s16[t] = _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(hi, bcast32(q + 16 + 4 * j)));
      }
    }
    #pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      const BlockQ8A& xb = x[t * nbx + k];
      const __m256 isum = _mm256_cvtepi32_ps(_mm256_madd_epi16(s16[t], ones));
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dv, _mm256_set1_ps(xb.d)), isum, acc[t]);
      corr[t] = _mm256_fmadd_ps(cv, _mm256_set1_ps(xb.s), corr[t]);
    }
  }
  #pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) {
    const __m256 out = kAsym ? _mm256_add_ps(acc[t], corr[t]) : _mm256_fmadd_ps(_mm256_set1_ps(-8.0f), corr[t], acc[t]);
    _mm256_storeu_ps(y + t * ldy, out);
  }
}

template <int NT>
void q8_tile(int64_t nb, const uint8_t* g, const BlockQ8A* x, int64_t nbx, float* y, int64_t ldy) {
  constexpr int64_t kTile = 272;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[NT];
  #pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t k = 0; k < nb; ++k, g += kTile) {
    const __m256 dv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g)));
    __m256i s32[NT];
    #pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) s32[t] = _mm256_setzero_si256();
    #pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + 16 + 32 * j));
      const __m256i aw = _mm256_sign_epi8(w, w);
      #pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        const __m256i xs = _mm256_sign_epi8(bcast32(x[t * nbx + k].qs + 4 * j), w);
        s32[t] = _mm256_add_epi32(s32[t], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, xs), ones));
      }
    }
    #pragma GCC unroll 8
    for (int t = 0; t < NT; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dv, _mm256_set1_ps(x[t * nbx + k].d)), _mm256_cvtepi32_ps(s32[t]), acc[t]);
  }
  #pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(y + t * ldy, acc[t]);
}

// Activation rows in tiles of 4 (the group's tiles stay in L1 across them), then the rest.
#define BIGDL_PACKED_GEMM(fname, TILE)                                                                 \
  void fname(int64_t nb, const void* group, const BlockQ8A* x, int64_t n, float* y, int64_t ldy) {     \
    const auto* g = static_cast<const uint8_t*>(group);                                                \
    int64_t t = 0;                                                                                     \
    for (; t + 4 <= n; t += 4) TILE<4>(nb, g, x + t * nb, nb, y + t * ldy, ldy);                       \
    switch (n - t) {                                                                                   \
      case 3: TILE<3>(nb, g, x + t * nb, nb, y + t * ldy, ldy); break;                                 \
      case 2: TILE<2>(nb, g, x + t * nb, nb, y + t * ldy, ldy); break;                                 \
      case 1: TILE<1>(nb, g, x + t * nb, nb, y + t * ldy, ldy); break;                                 \
      default: break;                                                                                  \
    }                                                                                                  \
  }

template <int NT>
void q4_0_tile(int64_t nb, const uint8_t* g, const BlockQ8A* x, int64_t nbx, float* y, int64_t ldy) {
  q4_tile<false, NT>(nb, g, x, nbx, y, ldy);
}
template <int NT>
void q4_1_tile(int64_t nb, const uint8_t* g, const BlockQ8A* x, int64_t nbx, float* y, int64_t ldy) {
  q4_tile<true, NT>(nb, g, x, nbx, y, ldy);
}

BIGDL_PACKED_GEMM(gemm_sym_int4, q4_0_tile)
BIGDL_PACKED_GEMM(gemm_asym_int4, q4_1_tile)
BIGDL_PACKED_GEMM(gemm_sym_int8, q8_tile)
#undef BIGDL_PACKED_GEMM

}  // namespace

const PackedKernels& packed_kernels_avx2() {
  static const PackedKernels table = [] {
    PackedKernels t{};
    t.name = "avx2";
    t.gemm[static_cast<int>(QType::sym_int4)] = gemm_sym_int4;
    t.gemm[static_cast<int>(QType::asym_int4)] = gemm_asym_int4;
    t.gemm[static_cast<int>(QType::sym_int8)] = gemm_sym_int8;
    return t;
  }();
  return table;
}

}  // namespace bigdl::detail::quant
