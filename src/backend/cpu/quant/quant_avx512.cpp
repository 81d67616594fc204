// AVX-512 (F/BW/VL/DQ) dequantize / vec_dot for the low-bit formats (quant.h).
//
// Built with the AVX-512 flags CMake adds to every *_avx512.cpp; reached only through
// quant_kernels()/quant_kernels_for(). Same rules as quant_avx2.cpp: intrinsics and
// anonymous-namespace code only. A block is two vectors of 16 levels; dequantize is
// bit-exact with quant_ref.cpp, vec_dot keeps an f32 sum per block. Codebook formats
// (nf4, nf3, fp4) look their levels up with one vpermps of a 16-float table; fp8 bytes
// become fp16 bit patterns (exact) and go through vcvtph2ps, as in quant_avx2.cpp.
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__) || !defined(__AVX512DQ__) || \
    !defined(__FMA__) || !defined(__F16C__)
#error "quant_avx512.cpp must be compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c"
#endif

#include "backend/cpu/avx512_intrin.h"

#include <cstdint>
#include <type_traits>  // is_same_v in quant_k_x86.inc (compile time only)

#include "backend/cpu/quant/quant.h"

namespace bigdl::detail::quant {
namespace {

__m512 no_contract(__m512 v) {
  __asm__("" : "+v"(v));
  return v;
}

float h2f(uint16_t h) { return _cvtsh_ss(h); }

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

// Levels 0..15: weights 0..15 are the low nibbles, 16..31 the high nibbles.
void levels_q4(const uint8_t* qs, __m512i v[2]) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  v[0] = _mm512_cvtepu8_epi32(_mm_and_si128(raw, mask));
  v[1] = _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(raw, 4), mask));
}

// Fifth bit of weight i is bit i of qh: OR in 16 under that mask.
void add_high_bit(uint32_t qh, __m512i v[2]) {
  const __m512i sixteen = _mm512_set1_epi32(16);
  v[0] = _mm512_mask_or_epi32(v[0], static_cast<__mmask16>(qh & 0xFFFFu), v[0], sixteen);
  v[1] = _mm512_mask_or_epi32(v[1], static_cast<__mmask16>(qh >> 16), v[1], sixteen);
}

void to_float(const __m512i v[2], int zero, __m512 f[2]) {
  const __m512i z = _mm512_set1_epi32(zero);
  for (int g = 0; g < 2; ++g) f[g] = _mm512_cvtepi32_ps(_mm512_sub_epi32(v[g], z));
}

void levels(const BlockQ4_0& b, __m512 f[2]) {
  __m512i v[2];
  levels_q4(b.qs, v);
  to_float(v, 8, f);
}
void levels(const BlockQ4_1& b, __m512 f[2]) {
  __m512i v[2];
  levels_q4(b.qs, v);
  to_float(v, 0, f);
}
void levels(const BlockQ5_0& b, __m512 f[2]) {
  __m512i v[2];
  levels_q4(b.qs, v);
  add_high_bit(load_u32(b.qh), v);
  to_float(v, 16, f);
}
void levels(const BlockQ5_1& b, __m512 f[2]) {
  __m512i v[2];
  levels_q4(b.qs, v);
  add_high_bit(load_u32(b.qh), v);
  to_float(v, 0, f);
}
void levels(const BlockQ8_0& b, __m512 f[2]) {
  for (int g = 0; g < 2; ++g) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + 16 * g));
    f[g] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(raw));
  }
}

// Codebook formats: indices 0..15 (nf3: 0..7) into a 16-float table.
void lut16(const uint8_t* qs, const float* table, __m512 f[2]) {
  __m512i v[2];
  levels_q4(qs, v);
  const __m512 t = _mm512_loadu_ps(table);
  for (int g = 0; g < 2; ++g) f[g] = _mm512_permutexvar_ps(v[g], t);
}
void levels(const BlockNF4& b, __m512 f[2]) { lut16(b.qs, kNf4Levels, f); }
void levels(const BlockFP4& b, __m512 f[2]) { lut16(b.qs, kFp4Levels, f); }
// nf3: lane i of v[g] is weight 16g + i = j + 8k (j = i % 8, k = 2g + i / 8): bits 2k..2k+1
// of qs[j], plus 4 where bit 16g + i of qh is set.
void levels(const BlockNF3& b, __m512 f[2]) {
  const __m128i raw = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs));
  const __m512i q = _mm512_cvtepu8_epi32(_mm_unpacklo_epi64(raw, raw));  // qs[0..7] twice
  const __m512i three = _mm512_set1_epi32(3), four = _mm512_set1_epi32(4);
  const __m512 t = _mm512_maskz_loadu_ps(0x00FF, kNf3Levels);
  const uint32_t qh = load_u32(b.qh);
  for (int g = 0; g < 2; ++g) {
    const __m512i shift = _mm512_setr_epi32(4 * g, 4 * g, 4 * g, 4 * g, 4 * g, 4 * g, 4 * g, 4 * g, 4 * g + 2, 4 * g + 2,
                                            4 * g + 2, 4 * g + 2, 4 * g + 2, 4 * g + 2, 4 * g + 2, 4 * g + 2);
    __m512i v = _mm512_and_si512(_mm512_srlv_epi32(q, shift), three);
    v = _mm512_mask_or_epi32(v, static_cast<__mmask16>(qh >> (16 * g)), v, four);
    f[g] = _mm512_permutexvar_ps(v, t);
  }
}
// fp8: 16 bytes -> 16 fp16 patterns -> f32, exact.
// e4m3 reads as its value / 256 (bias 7 vs 15); scale() carries the 256 (bit-exact, as
// in quant_avx2.cpp).
void levels(const BlockFP8E4M3& b, __m512 f[2]) {
  const __m256i mag = _mm256_set1_epi16(0x7F), sign = _mm256_set1_epi16(0x80);
  for (int g = 0; g < 2; ++g) {
    const __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + 16 * g)));
    const __m256i h = _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(v, mag), 7), _mm256_slli_epi16(_mm256_and_si256(v, sign), 8));
    f[g] = _mm512_cvtph_ps(h);
  }
}
void levels(const BlockFP8E5M2& b, __m512 f[2]) {
  for (int g = 0; g < 2; ++g) {
    const __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + 16 * g)));
    f[g] = _mm512_cvtph_ps(_mm256_slli_epi16(v, 8));
  }
}
void levels(const BlockF16& b, __m512 f[2]) {
  for (int g = 0; g < 2; ++g) f[g] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.v + 16 * g)));
}
void levels(const BlockBF16& b, __m512 f[2]) {
  for (int g = 0; g < 2; ++g) {
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.v + 16 * g)));
    f[g] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
  }
}

#include "backend/cpu/quant/quant_scale_x86.inc"

__m512 block_dot(const __m512 f[2], const float* x) {
  return _mm512_fmadd_ps(f[1], _mm512_loadu_ps(x + 16), _mm512_mul_ps(f[0], _mm512_loadu_ps(x)));
}
__m512 block_sum(const float* x) { return _mm512_add_ps(_mm512_loadu_ps(x), _mm512_loadu_ps(x + 16)); }

#define BIGDL_SYM_KERNELS(name, Block)                                                       \
  void dequantize_##name(const void* blocks, float* y, int64_t n) {                          \
    const Block* b = static_cast<const Block*>(blocks);                                      \
    for (int64_t k = 0; k < n / kBlockSize; ++k, y += kBlockSize) {                          \
      const __m512 d = _mm512_set1_ps(scale(b[k]));                                          \
      __m512 f[2];                                                                           \
      levels(b[k], f);                                                                       \
      for (int g = 0; g < 2; ++g) _mm512_storeu_ps(y + 16 * g, _mm512_mul_ps(f[g], d));      \
    }                                                                                        \
  }                                                                                          \
  float vec_dot_##name(int64_t n, const void* blocks, const float* x) {                      \
    const Block* b = static_cast<const Block*>(blocks);                                      \
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();                           \
    int64_t k = 0;                                                                           \
    const int64_t nb = n / kBlockSize;                                                       \
    for (; k + 1 < nb; k += 2) {                                                             \
      __m512 f0[2], f1[2];                                                                   \
      levels(b[k], f0);                                                                      \
      levels(b[k + 1], f1);                                                                  \
      acc0 = _mm512_fmadd_ps(_mm512_set1_ps(scale(b[k])), block_dot(f0, x + k * 32), acc0);  \
      acc1 = _mm512_fmadd_ps(_mm512_set1_ps(scale(b[k + 1])), block_dot(f1, x + k * 32 + 32), acc1); \
    }                                                                                        \
    if (k < nb) {                                                                            \
      __m512 f0[2];                                                                          \
      levels(b[k], f0);                                                                      \
      acc0 = _mm512_fmadd_ps(_mm512_set1_ps(scale(b[k])), block_dot(f0, x + k * 32), acc0);  \
    }                                                                                        \
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));                                  \
  }

#define BIGDL_ASYM_KERNELS(name, Block)                                                      \
  void dequantize_##name(const void* blocks, float* y, int64_t n) {                          \
    const Block* b = static_cast<const Block*>(blocks);                                      \
    for (int64_t k = 0; k < n / kBlockSize; ++k, y += kBlockSize) {                          \
      const __m512 d = _mm512_set1_ps(h2f(b[k].d));                                          \
      const __m512 m = _mm512_set1_ps(h2f(b[k].m));                                          \
      __m512 f[2];                                                                           \
      levels(b[k], f);                                                                       \
      for (int g = 0; g < 2; ++g)                                                            \
        _mm512_storeu_ps(y + 16 * g, _mm512_add_ps(no_contract(_mm512_mul_ps(f[g], d)), m)); \
    }                                                                                        \
  }                                                                                          \
  float vec_dot_##name(int64_t n, const void* blocks, const float* x) {                      \
    const Block* b = static_cast<const Block*>(blocks);                                      \
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();                           \
    for (int64_t k = 0; k < n / kBlockSize; ++k, x += kBlockSize) {                          \
      __m512 f[2];                                                                           \
      levels(b[k], f);                                                                       \
      acc0 = _mm512_fmadd_ps(_mm512_set1_ps(h2f(b[k].d)), block_dot(f, x), acc0);           \
      acc1 = _mm512_fmadd_ps(_mm512_set1_ps(h2f(b[k].m)), block_sum(x), acc1);              \
    }                                                                                        \
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));                                  \
  }

// Unscaled types (fp16, bf16): w = level; two accumulators of 16 lanes.
#define BIGDL_RAW_KERNELS(name, Block)                                                       \
  void dequantize_##name(const void* blocks, float* y, int64_t n) {                          \
    const Block* b = static_cast<const Block*>(blocks);                                      \
    for (int64_t k = 0; k < n / kBlockSize; ++k, y += kBlockSize) {                          \
      __m512 f[2];                                                                           \
      levels(b[k], f);                                                                       \
      for (int g = 0; g < 2; ++g) _mm512_storeu_ps(y + 16 * g, f[g]);                        \
    }                                                                                        \
  }                                                                                          \
  float vec_dot_##name(int64_t n, const void* blocks, const float* x) {                      \
    const Block* b = static_cast<const Block*>(blocks);                                      \
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();                           \
    for (int64_t k = 0; k < n / kBlockSize; ++k, x += kBlockSize) {                          \
      __m512 f[2];                                                                           \
      levels(b[k], f);                                                                       \
      acc0 = _mm512_fmadd_ps(f[0], _mm512_loadu_ps(x), acc0);                                \
      acc1 = _mm512_fmadd_ps(f[1], _mm512_loadu_ps(x + 16), acc1);                           \
    }                                                                                        \
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));                                  \
  }

BIGDL_SYM_KERNELS(sym_int4, BlockQ4_0)
BIGDL_ASYM_KERNELS(asym_int4, BlockQ4_1)
BIGDL_SYM_KERNELS(sym_int5, BlockQ5_0)
BIGDL_ASYM_KERNELS(asym_int5, BlockQ5_1)
BIGDL_SYM_KERNELS(sym_int8, BlockQ8_0)
BIGDL_SYM_KERNELS(nf4, BlockNF4)
BIGDL_SYM_KERNELS(nf3, BlockNF3)
BIGDL_SYM_KERNELS(fp4, BlockFP4)
BIGDL_SYM_KERNELS(fp8_e4m3, BlockFP8E4M3)
BIGDL_SYM_KERNELS(fp8_e5m2, BlockFP8E5M2)
BIGDL_RAW_KERNELS(fp16, BlockF16)
BIGDL_RAW_KERNELS(bf16, BlockBF16)
#undef BIGDL_SYM_KERNELS
#undef BIGDL_ASYM_KERNELS
#undef BIGDL_RAW_KERNELS

// ---- int8 activations: the AVX2 code (256-bit), compiled with this file's flags; the
// VNNI build of the same code is quant_avx512vnni.cpp (docs/quant.md).
#include "backend/cpu/quant/quant_q8_x86.inc"
// ---- K-quants and IQ4 (256-bit code, shared the same way) ----
#include "backend/cpu/quant/quant_k_x86.inc"

}  // namespace

const QuantKernels& quant_kernels_avx512() {
  static const QuantKernels table = [] {
    QuantKernels t = BIGDL_QUANT_KERNEL_TABLE("avx512", quantize_act);
    BIGDL_QUANT_SET_Q8K(t, quantize_act_k);
    return t;
  }();
  return table;
}

}  // namespace bigdl::detail::quant
