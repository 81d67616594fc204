// AVX2 + FMA + F16C dequantize / vec_dot for the low-bit formats (quant.h).
//
// Built with -mavx2 -mfma -mf16c (CMake does this for every *_avx2.cpp); reached only
// through quant_kernels()/quant_kernels_for() after cpuid says the CPU has all three.
// Same rules as ../kernels_avx2.cpp (docs/kernels.md): intrinsics and anonymous-
// namespace code only, no inline functions or templates from shared headers.
//
// Each block is expanded to its 32 levels as four vectors of 8 floats (zero point
// already subtracted for the symmetric types). Integer -> float is exact, so
// dequantize is one multiply (plus, for the asym types, a separate add) per weight,
// bit-exact with quant_ref.cpp. vec_dot keeps one f32 sum per block (4 FMAs), then
// folds d * sum into an f32 accumulator (and m * sum(x) for the asym types).
// vec_dot_q8 (int8 activations) is ggml's integer path: levels as 32 int8, maddubs +
// madd into 8 exact int32 sums per block, one int->float conversion and FMA per block.
// Codebook formats (nf4, nf3, fp4) look their f32 levels up with vpermps (two tables
// and a blend for 16 levels), their int8 levels with pshufb. fp8 bytes become fp16 bit
// patterns (e5m2 is the top byte of an fp16; e4m3 shifted into fp16's fields is its
// value / 256) and go through F16C, so every level is exact. fp16 / bf16 blocks have
// no scale: F16C, or a 16-bit shift for bf16.
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "quant_avx2.cpp must be compiled with -mavx2 -mfma -mf16c (CMake adds them for *_avx2.cpp)"
#endif

#include <immintrin.h>

#include <cstdint>
#include <type_traits>  // is_same_v in quant_k_x86.inc (compile time only)

#include "backend/cpu/quant/quant.h"

namespace bigdl::detail::quant {
namespace {

// Keeps GCC from fusing the reference's separate multiply and add into an FMA.
__m256 no_contract(__m256 v) {
  __asm__("" : "+x"(v));
  return v;
}

float h2f(uint16_t h) { return _cvtsh_ss(h); }

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

// Levels 0..15 of a 4-bit block: qs[j] low nibble = weight j, high = weight j + 16.
void levels_q4(const uint8_t* qs, __m256i v[4]) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(raw, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
  v[0] = _mm256_cvtepu8_epi32(lo);
  v[1] = _mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8));
  v[2] = _mm256_cvtepu8_epi32(hi);
  v[3] = _mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8));
}

// Adds the fifth bit (bit i of qh = weight i) as 16.
void add_high_bit(uint32_t qh, __m256i v[4]) {
  const __m256i shifts = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i one = _mm256_set1_epi32(1);
  for (int g = 0; g < 4; ++g) {
    const __m256i bits = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(qh >> (8 * g))), shifts), one);
    v[g] = _mm256_or_si256(v[g], _mm256_slli_epi32(bits, 4));
  }
}

void to_float(const __m256i v[4], int zero, __m256 f[4]) {
  const __m256i z = _mm256_set1_epi32(zero);
  for (int g = 0; g < 4; ++g) f[g] = _mm256_cvtepi32_ps(_mm256_sub_epi32(v[g], z));
}

void levels(const BlockQ4_0& b, __m256 f[4]) {
  __m256i v[4];
  levels_q4(b.qs, v);
  to_float(v, 8, f);
}
void levels(const BlockQ4_1& b, __m256 f[4]) {
  __m256i v[4];
  levels_q4(b.qs, v);
  to_float(v, 0, f);
}
void levels(const BlockQ5_0& b, __m256 f[4]) {
  __m256i v[4];
  levels_q4(b.qs, v);
  add_high_bit(load_u32(b.qh), v);
  to_float(v, 16, f);
}
void levels(const BlockQ5_1& b, __m256 f[4]) {
  __m256i v[4];
  levels_q4(b.qs, v);
  add_high_bit(load_u32(b.qh), v);
  to_float(v, 0, f);
}
void levels(const BlockQ8_0& b, __m256 f[4]) {
  for (int g = 0; g < 4; ++g) {
    const __m128i raw = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs + 8 * g));
    f[g] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(raw));
  }
}

// Codebook formats: f32 levels looked up from a 16-entry (nf4, fp4) table.
void lut16(const uint8_t* qs, const float* table, __m256 f[4]) {
  __m256i v[4];
  levels_q4(qs, v);
  const __m256 lo = _mm256_loadu_ps(table), hi = _mm256_loadu_ps(table + 8);
  const __m256i seven = _mm256_set1_epi32(7);
  for (int g = 0; g < 4; ++g) {
    const __m256 a = _mm256_permutevar8x32_ps(lo, v[g]);  // uses the low 3 bits
    const __m256 b = _mm256_permutevar8x32_ps(hi, v[g]);
    f[g] = _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_cmpgt_epi32(v[g], seven)));
  }
}
void levels(const BlockNF4& b, __m256 f[4]) { lut16(b.qs, kNf4Levels, f); }
void levels(const BlockFP4& b, __m256 f[4]) { lut16(b.qs, kFp4Levels, f); }
// nf3: weights 8g..8g+7 take bits 2g..2g+1 of qs[0..7] and bits 8g..8g+7 of qh.
void levels(const BlockNF3& b, __m256 f[4]) {
  const __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs)));
  const uint32_t qh = load_u32(b.qh);
  const __m256 table = _mm256_loadu_ps(kNf3Levels);
  const __m256i shifts = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i one = _mm256_set1_epi32(1), three = _mm256_set1_epi32(3);
  for (int g = 0; g < 4; ++g) {
    const __m256i lo = _mm256_and_si256(_mm256_srlv_epi32(q, _mm256_set1_epi32(2 * g)), three);
    const __m256i hi = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(qh >> (8 * g))), shifts), one);
    f[g] = _mm256_permutevar8x32_ps(table, _mm256_or_si256(lo, _mm256_slli_epi32(hi, 2)));
  }
}
// fp8: 8 bytes -> 8 fp16 patterns -> f32, exact. e4m3's bits in fp16's fields read as
// its value / 256 (bias 7 vs 15); scale() carries the 256 instead, so w = (v / 256) *
// (s * 256) is the same real product as the reference's v * s, rounded once: bit-exact.
void levels(const BlockFP8E4M3& b, __m256 f[4]) {
  const __m128i mag = _mm_set1_epi16(0x7F), sign = _mm_set1_epi16(0x80);
  for (int g = 0; g < 4; ++g) {
    const __m128i v = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs + 8 * g)));
    const __m128i h = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(v, mag), 7), _mm_slli_epi16(_mm_and_si128(v, sign), 8));
    f[g] = _mm256_cvtph_ps(h);
  }
}
void levels(const BlockFP8E5M2& b, __m256 f[4]) {
  for (int g = 0; g < 4; ++g) {
    const __m128i v = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs + 8 * g)));
    f[g] = _mm256_cvtph_ps(_mm_slli_epi16(v, 8));
  }
}
void levels(const BlockF16& b, __m256 f[4]) {
  for (int g = 0; g < 4; ++g) f[g] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.v + 8 * g)));
}
void levels(const BlockBF16& b, __m256 f[4]) {
  for (int g = 0; g < 4; ++g) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.v + 8 * g)));
    f[g] = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  }
}

#include "backend/cpu/quant/quant_scale_x86.inc"

// sum_i level_i * x_i for one block, as 8 partial sums.
__m256 block_dot(const __m256 f[4], const float* x) {
  __m256 s = _mm256_mul_ps(f[0], _mm256_loadu_ps(x));
  s = _mm256_fmadd_ps(f[1], _mm256_loadu_ps(x + 8), s);
  s = _mm256_fmadd_ps(f[2], _mm256_loadu_ps(x + 16), s);
  s = _mm256_fmadd_ps(f[3], _mm256_loadu_ps(x + 24), s);
  return s;
}
__m256 block_sum(const float* x) {
  const __m256 a = _mm256_add_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8));
  const __m256 b = _mm256_add_ps(_mm256_loadu_ps(x + 16), _mm256_loadu_ps(x + 24));
  return _mm256_add_ps(a, b);
}

// Symmetric and codebook / minifloat types: w = level * scale.
#define BIGDL_SYM_KERNELS(name, Block)                                                     \
  void dequantize_##name(const void* blocks, float* y, int64_t n) {                        \
    const Block* b = static_cast<const Block*>(blocks);                                    \
    for (int64_t k = 0; k < n / kBlockSize; ++k, y += kBlockSize) {                        \
      const __m256 d = _mm256_set1_ps(scale(b[k]));                                        \
      __m256 f[4];                                                                         \
      levels(b[k], f);                                                                     \
      for (int g = 0; g < 4; ++g) _mm256_storeu_ps(y + 8 * g, _mm256_mul_ps(f[g], d));     \
    }                                                                                      \
  }                                                                                        \
  float vec_dot_##name(int64_t n, const void* blocks, const float* x) {                    \
    const Block* b = static_cast<const Block*>(blocks);                                    \
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                         \
    int64_t k = 0;                                                                         \
    const int64_t nb = n / kBlockSize;                                                     \
    for (; k + 1 < nb; k += 2) {                                                           \
      __m256 f0[4], f1[4];                                                                 \
      levels(b[k], f0);                                                                    \
      levels(b[k + 1], f1);                                                                \
      acc0 = _mm256_fmadd_ps(_mm256_set1_ps(scale(b[k])), block_dot(f0, x + k * 32), acc0); \
      acc1 = _mm256_fmadd_ps(_mm256_set1_ps(scale(b[k + 1])), block_dot(f1, x + k * 32 + 32), acc1); \
    }                                                                                      \
    if (k < nb) {                                                                          \
      __m256 f0[4];                                                                        \
      levels(b[k], f0);                                                                    \
      acc0 = _mm256_fmadd_ps(_mm256_set1_ps(scale(b[k])), block_dot(f0, x + k * 32), acc0); \
    }                                                                                      \
    return hsum(_mm256_add_ps(acc0, acc1));                                                \
  }

// Asymmetric types: w = level * d + m, i.e. dot = d * sum(level x) + m * sum(x).
#define BIGDL_ASYM_KERNELS(name, Block)                                                    \
  void dequantize_##name(const void* blocks, float* y, int64_t n) {                        \
    const Block* b = static_cast<const Block*>(blocks);                                    \
    for (int64_t k = 0; k < n / kBlockSize; ++k, y += kBlockSize) {                        \
      const __m256 d = _mm256_set1_ps(h2f(b[k].d));                                        \
      const __m256 m = _mm256_set1_ps(h2f(b[k].m));                                        \
      __m256 f[4];                                                                         \
      levels(b[k], f);                                                                     \
      for (int g = 0; g < 4; ++g)                                                          \
        _mm256_storeu_ps(y + 8 * g, _mm256_add_ps(no_contract(_mm256_mul_ps(f[g], d)), m)); \
    }                                                                                      \
  }                                                                                        \
  float vec_dot_##name(int64_t n, const void* blocks, const float* x) {                    \
    const Block* b = static_cast<const Block*>(blocks);                                    \
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                         \
    for (int64_t k = 0; k < n / kBlockSize; ++k, x += kBlockSize) {                        \
      __m256 f[4];                                                                         \
      levels(b[k], f);                                                                     \
      acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(b[k].d)), block_dot(f, x), acc0);         \
      acc1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(b[k].m)), block_sum(x), acc1);            \
    }                                                                                      \
    return hsum(_mm256_add_ps(acc0, acc1));                                                \
  }

// Unscaled types (fp16, bf16): w = level; four accumulators of 8 lanes.
#define BIGDL_RAW_KERNELS(name, Block)                                                     \
  void dequantize_##name(const void* blocks, float* y, int64_t n) {                        \
    const Block* b = static_cast<const Block*>(blocks);                                    \
    for (int64_t k = 0; k < n / kBlockSize; ++k, y += kBlockSize) {                        \
      __m256 f[4];                                                                         \
      levels(b[k], f);                                                                     \
      for (int g = 0; g < 4; ++g) _mm256_storeu_ps(y + 8 * g, f[g]);                       \
    }                                                                                      \
  }                                                                                        \
  float vec_dot_##name(int64_t n, const void* blocks, const float* x) {                    \
    const Block* b = static_cast<const Block*>(blocks);                                    \
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
    for (int64_t k = 0; k < n / kBlockSize; ++k, x += kBlockSize) {                        \
      __m256 f[4];                                                                         \
      levels(b[k], f);                                                                     \
      for (int g = 0; g < 4; ++g) acc[g] = _mm256_fmadd_ps(f[g], _mm256_loadu_ps(x + 8 * g), acc[g]); \
    }                                                                                      \
    return hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]))); \
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

// ---- int8 activations: shared with quant_avx512.cpp ----
#include "backend/cpu/quant/quant_q8_x86.inc"
// ---- K-quants and IQ4 (256-bit code, shared the same way) ----
#include "backend/cpu/quant/quant_k_x86.inc"

}  // namespace

const QuantKernels& quant_kernels_avx2() {
  static const QuantKernels table = [] {
    QuantKernels t = BIGDL_QUANT_KERNEL_TABLE("avx2", quantize_act);
    BIGDL_QUANT_SET_Q8K(t, quantize_act_k);
    return t;
  }();
  return table;
}

}  // namespace bigdl::detail::quant
