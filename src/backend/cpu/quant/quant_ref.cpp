// Scalar reference for the low-bit formats: the specification the SIMD tables are
// tested against, plus the format table, the run-time table choice and gemv.
//
// Semantics fixed here:
//   quantize_row   ggml's quantize_row_*_ref rounding (see quant.h); f32 -> fp16 by
//                  bigdl::float_to_half (round to nearest even, as F16C and numpy do).
//   dequantize_row one f32 multiply per weight, (float)(q - z) * d, and for the asym
//                  types a separate add: q * d then + m (two roundings, never an FMA).
//                  SIMD tables must be bit-exact with this.
//   vec_dot        sum over blocks of d * sum_i (q_i - z) x_i (+ m * sum_i x_i for the
//                  asym types), accumulated in double: the exact value to within
//                  float rounding of the result. SIMD tables accumulate in f32.
//   quantize_act   activations -> BlockQ8A, rounding half to even; SIMD bit-exact.
//   vec_dot_q8     per block (float)(d_w * d_x) * exact int32 sum (+ m_w * s_x),
//                  accumulated in double; SIMD tables sum the same terms in f32.
//                  nf4 / nf3 use the int8 levels kNf*Levels8 and divide the f32 total
//                  by 127 once; fp4 uses kFp4Levels8 (2 * level) and divides by 12.
//                  Float formats (fp8, fp16, bf16): per block, vec_dot against the
//                  activations widened back to q * d_x.
// The codebook / minifloat formats' dequantize is one f32 multiply level * s with the
// block scale s = d (nf4, nf3) or d / top (fp4: 6, e4m3: 448, e5m2: 57344; one f32
// division); fp16 / bf16 need none (their conversion to f32 is exact).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "backend/cpu/kernels.h"
#include "backend/cpu/quant/quant.h"
#include "bigdl/dtype.h"
#include "bigdl/error.h"

namespace bigdl::detail::quant {
namespace {

float h2f(uint16_t h) { return ::bigdl::half_to_float(h); }
uint16_t f2h(float f) { return ::bigdl::float_to_half(f); }

// Q4_0 / Q5_0 scale: the element of largest magnitude (first one wins ties), keeping
// its sign, so that element maps exactly onto the most negative level.
float signed_absmax(const float* x) {
  float amax = 0.0f, vmax = 0.0f;
  for (int j = 0; j < kBlockSize; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      vmax = x[j];
    }
  }
  return vmax;
}

void min_max(const float* x, float* mn, float* mx) {
  float lo = x[0], hi = x[0];
  for (int j = 1; j < kBlockSize; ++j) {
    if (x[j] < lo) lo = x[j];
    if (x[j] > hi) hi = x[j];
  }
  *mn = lo;
  *mx = hi;
}

uint32_t load_qh(const uint8_t* qh) {
  return static_cast<uint32_t>(qh[0]) | static_cast<uint32_t>(qh[1]) << 8 | static_cast<uint32_t>(qh[2]) << 16 |
         static_cast<uint32_t>(qh[3]) << 24;
}
void store_qh(uint32_t v, uint8_t* qh) {
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(v >> (8 * k));
}

// Level (0..15 / 0..31, or -127..127 for Q8_0) of weight i of a block.
int level_q4(const uint8_t* qs, int i) { return i < 16 ? (qs[i] & 0x0F) : (qs[i - 16] >> 4); }
int level_q5(const uint8_t* qs, uint32_t qh, int i) { return level_q4(qs, i) | static_cast<int>((qh >> i) & 1u) << 4; }
// 3-bit code of weight i of an nf3 block.
int code_nf3(const uint8_t* qs, uint32_t qh, int i) {
  return ((qs[i % 8] >> (2 * (i / 8))) & 3) | static_cast<int>((qh >> i) & 1u) << 2;
}

float absmax(const float* x) {
  float amax = 0.0f;
  for (int j = 0; j < kBlockSize; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  return amax;
}

// Index of the level nearest to v in an ascending table of n levels; v exactly on the
// f32 midpoint of two levels takes the lower one (bitsandbytes' `v > threshold` tree).
int nearest_level(const float* levels, int n, float v) {
  int q = 0;
  for (int k = 0; k + 1 < n; ++k)
    if (v > (levels[k] + levels[k + 1]) * 0.5f) q = k + 1;
  return q;
}

// NormalFloat blocks (nf4, nf3): d = max|x|, codes from x * (1/d). Writes the 32 codes
// of the block to `codes`; returns d.
float nf_block(const float* x, const float* levels, int n, uint8_t codes[32]) {
  const float d = absmax(x);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < kBlockSize; ++j) codes[j] = static_cast<uint8_t>(nearest_level(levels, n, x[j] * id));
  return d;
}

// The minifloat formats' rounding (fp4, fp8): |v| to the nearest of the ascending
// positive values value[0..max_code], ties to the even code (= even mantissa, IEEE
// round-to-nearest-even), saturating at value[max_code] (NaN input too).
int round_to_code(const float* value, int max_code, float a) {
  if (!(a < value[max_code])) return max_code;
  int lo = 0, hi = max_code;  // value[lo] <= a < value[hi]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (value[mid] <= a) lo = mid; else hi = mid;
  }
  const float mid = (value[lo] + value[hi]) * 0.5f;  // exact: both have <= 4 significant bits
  return a > mid ? hi : a < mid ? lo : (lo % 2 == 0 ? lo : hi);
}

// fp4 (e2m1) code of v: sign bit 3 (never for a zero magnitude), magnitude rounded
// to kFp4Levels[0..7].
uint8_t fp4_code(float v) {
  const int mag = round_to_code(kFp4Levels, 7, std::fabs(v));
  return static_cast<uint8_t>(mag == 0 ? 0 : (v < 0.0f ? 8 : 0) | mag);
}

// ---- fp8 ----
// e4m3 (OCP e4m3fn): bias 7, no infinities; code S.1111.111 is NaN in the standard,
// never written by the quantizer, and decoded here (and by the SIMD tables) as +-480,
// the value its bits would have. e5m2: bias 15, IEEE-like (exponent 31 = inf / NaN).
float e4m3_value(uint8_t b) {
  const int e = (b >> 3) & 15, m = b & 7;
  const float mag = e == 0 ? std::ldexp(static_cast<float>(m), -9) : std::ldexp(static_cast<float>(8 + m), e - 10);
  return (b & 0x80) ? -mag : mag;
}
float e5m2_value(uint8_t b) {
  const int e = (b >> 2) & 31, m = b & 3;
  float mag;
  if (e == 0) {
    mag = std::ldexp(static_cast<float>(m), -16);
  } else if (e == 31) {
    mag = m == 0 ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
  } else {
    mag = std::ldexp(static_cast<float>(4 + m), e - 17);
  }
  return (b & 0x80) ? -mag : mag;
}

struct Fp8Table {
  float value[256];  // decoded value of every byte
  int max_code;      // largest finite positive code (0x7E = 448, 0x7B = 57344)
};
Fp8Table make_fp8_table(float (*decode)(uint8_t), int max_code) {
  Fp8Table r{};
  for (int b = 0; b < 256; ++b) r.value[b] = decode(static_cast<uint8_t>(b));
  r.max_code = max_code;
  return r;
}
const Fp8Table& e4m3_table() {
  static const Fp8Table t = make_fp8_table(e4m3_value, 0x7E);
  return t;
}
const Fp8Table& e5m2_table() {
  static const Fp8Table t = make_fp8_table(e5m2_value, 0x7B);
  return t;
}

// v rounded to the format (round_to_code; positive codes 0..max_code are ascending in
// value), with the sign bit unless the magnitude rounds to zero.
uint8_t fp8_code(const Fp8Table& t, float v) {
  const int code = round_to_code(t.value, t.max_code, std::fabs(v));
  return static_cast<uint8_t>(code == 0 ? 0 : (v < 0.0f ? 0x80 : 0) | code);
}

constexpr float kFp4Top = 6.0f, kE4m3Top = 448.0f, kE5m2Top = 57344.0f;

void quantize_fp8(const Fp8Table& t, float top, const float* x, uint16_t* d_out, uint8_t* qs) {
  const float amax = absmax(x);
  const float s = amax / top;
  const float id = s != 0.0f ? 1.0f / s : 0.0f;
  *d_out = f2h(amax);
  for (int j = 0; j < kBlockSize; ++j) qs[j] = fp8_code(t, x[j] * id);
}

}  // namespace

// ---- quantize ----

void quantize_row_sym_int4_ref(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) {
    const float d = signed_absmax(x) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f2h(d);
    for (int j = 0; j < 16; ++j) {
      int q0 = static_cast<int8_t>(x[j] * id + 8.5f);
      int q1 = static_cast<int8_t>(x[j + 16] * id + 8.5f);
      q0 = q0 < 15 ? q0 : 15;
      q1 = q1 < 15 ? q1 : 15;
      y[b].qs[j] = static_cast<uint8_t>(q0 | q1 << 4);
    }
  }
}

void quantize_row_asym_int4_ref(const float* x, BlockQ4_1* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) {
    float mn, mx;
    min_max(x, &mn, &mx);
    const float d = (mx - mn) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f2h(d);
    y[b].m = f2h(mn);
    for (int j = 0; j < 16; ++j) {
      int q0 = static_cast<int8_t>((x[j] - mn) * id + 0.5f);
      int q1 = static_cast<int8_t>((x[j + 16] - mn) * id + 0.5f);
      q0 = q0 < 15 ? q0 : 15;
      q1 = q1 < 15 ? q1 : 15;
      y[b].qs[j] = static_cast<uint8_t>(q0 | q1 << 4);
    }
  }
}

void quantize_row_sym_int5_ref(const float* x, BlockQ5_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) {
    const float d = signed_absmax(x) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f2h(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      int q0 = static_cast<int8_t>(x[j] * id + 16.5f);
      int q1 = static_cast<int8_t>(x[j + 16] * id + 16.5f);
      q0 = q0 < 31 ? q0 : 31;
      q1 = q1 < 31 ? q1 : 31;
      y[b].qs[j] = static_cast<uint8_t>((q0 & 0x0F) | (q1 & 0x0F) << 4);
      qh |= static_cast<uint32_t>(q0 >> 4) << j | static_cast<uint32_t>(q1 >> 4) << (j + 16);
    }
    store_qh(qh, y[b].qh);
  }
}

void quantize_row_asym_int5_ref(const float* x, BlockQ5_1* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) {
    float mn, mx;
    min_max(x, &mn, &mx);
    const float d = (mx - mn) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f2h(d);
    y[b].m = f2h(mn);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      // No clamp, as in ggml: (x - min) * id <= 31 up to rounding, so + 0.5 truncates to <= 31.
      const int q0 = static_cast<uint8_t>((x[j] - mn) * id + 0.5f);
      const int q1 = static_cast<uint8_t>((x[j + 16] - mn) * id + 0.5f);
      y[b].qs[j] = static_cast<uint8_t>((q0 & 0x0F) | (q1 & 0x0F) << 4);
      qh |= static_cast<uint32_t>((q0 >> 4) & 1) << j | static_cast<uint32_t>((q1 >> 4) & 1) << (j + 16);
    }
    store_qh(qh, y[b].qh);
  }
}

void quantize_row_sym_int8_ref(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) {
    float amax = 0.0f;
    for (int j = 0; j < kBlockSize; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f2h(d);
    for (int j = 0; j < kBlockSize; ++j) y[b].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

void quantize_row_nf4_ref(const float* x, BlockNF4* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) {
    uint8_t c[32];
    y[b].d = f2h(nf_block(x, kNf4Levels, 16, c));
    for (int j = 0; j < 16; ++j) y[b].qs[j] = static_cast<uint8_t>(c[j] | c[j + 16] << 4);
  }
}

void quantize_row_nf3_ref(const float* x, BlockNF3* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) {
    uint8_t c[32];
    y[b].d = f2h(nf_block(x, kNf3Levels, 8, c));
    uint32_t qh = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t v = 0;
      for (int k = 0; k < 4; ++k) v = static_cast<uint8_t>(v | (c[j + 8 * k] & 3) << (2 * k));
      y[b].qs[j] = v;
    }
    for (int i = 0; i < kBlockSize; ++i) qh |= static_cast<uint32_t>(c[i] >> 2) << i;
    store_qh(qh, y[b].qh);
  }
}

void quantize_row_fp4_ref(const float* x, BlockFP4* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) {
    const float amax = absmax(x);
    const float s = amax / kFp4Top;
    const float id = s != 0.0f ? 1.0f / s : 0.0f;
    y[b].d = f2h(amax);
    for (int j = 0; j < 16; ++j) y[b].qs[j] = static_cast<uint8_t>(fp4_code(x[j] * id) | fp4_code(x[j + 16] * id) << 4);
  }
}

void quantize_row_fp8_e4m3_ref(const float* x, BlockFP8E4M3* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) quantize_fp8(e4m3_table(), kE4m3Top, x, &y[b].d, y[b].qs);
}

void quantize_row_fp8_e5m2_ref(const float* x, BlockFP8E5M2* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) quantize_fp8(e5m2_table(), kE5m2Top, x, &y[b].d, y[b].qs);
}

void quantize_row_fp16_ref(const float* x, BlockF16* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i / kBlockSize].v[i % kBlockSize] = f2h(x[i]);
}

void quantize_row_bf16_ref(const float* x, BlockBF16* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i / kBlockSize].v[i % kBlockSize] = ::bigdl::float_to_bf16(x[i]);
}

// ---- dequantize ----

void dequantize_row_sym_int4_ref(const BlockQ4_0* blocks, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, y += kBlockSize) {
    const float d = h2f(blocks[b].d);
    for (int i = 0; i < kBlockSize; ++i) y[i] = static_cast<float>(level_q4(blocks[b].qs, i) - 8) * d;
  }
}

void dequantize_row_asym_int4_ref(const BlockQ4_1* blocks, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, y += kBlockSize) {
    const float d = h2f(blocks[b].d), m = h2f(blocks[b].m);
    for (int i = 0; i < kBlockSize; ++i) {
      const float p = static_cast<float>(level_q4(blocks[b].qs, i)) * d;
      y[i] = p + m;
    }
  }
}

void dequantize_row_sym_int5_ref(const BlockQ5_0* blocks, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, y += kBlockSize) {
    const float d = h2f(blocks[b].d);
    const uint32_t qh = load_qh(blocks[b].qh);
    for (int i = 0; i < kBlockSize; ++i) y[i] = static_cast<float>(level_q5(blocks[b].qs, qh, i) - 16) * d;
  }
}

void dequantize_row_asym_int5_ref(const BlockQ5_1* blocks, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, y += kBlockSize) {
    const float d = h2f(blocks[b].d), m = h2f(blocks[b].m);
    const uint32_t qh = load_qh(blocks[b].qh);
    for (int i = 0; i < kBlockSize; ++i) {
      const float p = static_cast<float>(level_q5(blocks[b].qs, qh, i)) * d;
      y[i] = p + m;
    }
  }
}

void dequantize_row_sym_int8_ref(const BlockQ8_0* blocks, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, y += kBlockSize) {
    const float d = h2f(blocks[b].d);
    for (int i = 0; i < kBlockSize; ++i) y[i] = static_cast<float>(blocks[b].qs[i]) * d;
  }
}

void dequantize_row_nf4_ref(const BlockNF4* blocks, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, y += kBlockSize) {
    const float d = h2f(blocks[b].d);
    for (int i = 0; i < kBlockSize; ++i) y[i] = kNf4Levels[level_q4(blocks[b].qs, i)] * d;
  }
}

void dequantize_row_nf3_ref(const BlockNF3* blocks, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, y += kBlockSize) {
    const float d = h2f(blocks[b].d);
    const uint32_t qh = load_qh(blocks[b].qh);
    for (int i = 0; i < kBlockSize; ++i) y[i] = kNf3Levels[code_nf3(blocks[b].qs, qh, i)] * d;
  }
}

void dequantize_row_fp4_ref(const BlockFP4* blocks, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, y += kBlockSize) {
    const float d = h2f(blocks[b].d) / kFp4Top;
    for (int i = 0; i < kBlockSize; ++i) y[i] = kFp4Levels[level_q4(blocks[b].qs, i)] * d;
  }
}

void dequantize_row_fp8_e4m3_ref(const BlockFP8E4M3* blocks, float* y, int64_t n) {
  const Fp8Table& t = e4m3_table();
  for (int64_t b = 0; b < n / kBlockSize; ++b, y += kBlockSize) {
    const float d = h2f(blocks[b].d) / kE4m3Top;
    for (int i = 0; i < kBlockSize; ++i) y[i] = t.value[blocks[b].qs[i]] * d;
  }
}

void dequantize_row_fp8_e5m2_ref(const BlockFP8E5M2* blocks, float* y, int64_t n) {
  const Fp8Table& t = e5m2_table();
  for (int64_t b = 0; b < n / kBlockSize; ++b, y += kBlockSize) {
    const float d = h2f(blocks[b].d) / kE5m2Top;
    for (int i = 0; i < kBlockSize; ++i) y[i] = t.value[blocks[b].qs[i]] * d;
  }
}

void dequantize_row_fp16_ref(const BlockF16* blocks, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = h2f(blocks[i / kBlockSize].v[i % kBlockSize]);
}

void dequantize_row_bf16_ref(const BlockBF16* blocks, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = ::bigdl::bf16_to_float(blocks[i / kBlockSize].v[i % kBlockSize]);
}

// ---- vec_dot ----

float vec_dot_sym_int4_ref(int64_t n, const BlockQ4_0* blocks, const float* x) {
  double total = 0.0;
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) {
    double s = 0.0;
    for (int i = 0; i < kBlockSize; ++i) s += static_cast<double>(level_q4(blocks[b].qs, i) - 8) * x[i];
    total += static_cast<double>(h2f(blocks[b].d)) * s;
  }
  return static_cast<float>(total);
}

float vec_dot_asym_int4_ref(int64_t n, const BlockQ4_1* blocks, const float* x) {
  double total = 0.0;
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) {
    double sq = 0.0, sx = 0.0;
    for (int i = 0; i < kBlockSize; ++i) {
      sq += static_cast<double>(level_q4(blocks[b].qs, i)) * x[i];
      sx += x[i];
    }
    total += static_cast<double>(h2f(blocks[b].d)) * sq + static_cast<double>(h2f(blocks[b].m)) * sx;
  }
  return static_cast<float>(total);
}

float vec_dot_sym_int5_ref(int64_t n, const BlockQ5_0* blocks, const float* x) {
  double total = 0.0;
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) {
    const uint32_t qh = load_qh(blocks[b].qh);
    double s = 0.0;
    for (int i = 0; i < kBlockSize; ++i) s += static_cast<double>(level_q5(blocks[b].qs, qh, i) - 16) * x[i];
    total += static_cast<double>(h2f(blocks[b].d)) * s;
  }
  return static_cast<float>(total);
}

float vec_dot_asym_int5_ref(int64_t n, const BlockQ5_1* blocks, const float* x) {
  double total = 0.0;
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) {
    const uint32_t qh = load_qh(blocks[b].qh);
    double sq = 0.0, sx = 0.0;
    for (int i = 0; i < kBlockSize; ++i) {
      sq += static_cast<double>(level_q5(blocks[b].qs, qh, i)) * x[i];
      sx += x[i];
    }
    total += static_cast<double>(h2f(blocks[b].d)) * sq + static_cast<double>(h2f(blocks[b].m)) * sx;
  }
  return static_cast<float>(total);
}

float vec_dot_sym_int8_ref(int64_t n, const BlockQ8_0* blocks, const float* x) {
  double total = 0.0;
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) {
    double s = 0.0;
    for (int i = 0; i < kBlockSize; ++i) s += static_cast<double>(blocks[b].qs[i]) * x[i];
    total += static_cast<double>(h2f(blocks[b].d)) * s;
  }
  return static_cast<float>(total);
}

namespace {
// sum over blocks of (d / top) * sum_i level(i) * x_i in double; `level(b, i)` the
// block's f32 level, d / top the f32 block scale (top = 1: d itself).
template <typename Block, typename Level>
float scaled_dot(int64_t n, const Block* blocks, const float* x, float top, Level level) {
  double total = 0.0;
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) {
    double s = 0.0;
    for (int i = 0; i < kBlockSize; ++i) s += static_cast<double>(level(blocks[b], i)) * x[i];
    total += static_cast<double>(h2f(blocks[b].d) / top) * s;
  }
  return static_cast<float>(total);
}
}  // namespace

float vec_dot_nf4_ref(int64_t n, const BlockNF4* blocks, const float* x) {
  return scaled_dot(n, blocks, x, 1.0f, [](const BlockNF4& b, int i) { return kNf4Levels[level_q4(b.qs, i)]; });
}

float vec_dot_nf3_ref(int64_t n, const BlockNF3* blocks, const float* x) {
  return scaled_dot(n, blocks, x, 1.0f,
                    [](const BlockNF3& b, int i) { return kNf3Levels[code_nf3(b.qs, load_qh(b.qh), i)]; });
}

float vec_dot_fp4_ref(int64_t n, const BlockFP4* blocks, const float* x) {
  return scaled_dot(n, blocks, x, kFp4Top, [](const BlockFP4& b, int i) { return kFp4Levels[level_q4(b.qs, i)]; });
}

float vec_dot_fp8_e4m3_ref(int64_t n, const BlockFP8E4M3* blocks, const float* x) {
  const Fp8Table& t = e4m3_table();
  return scaled_dot(n, blocks, x, kE4m3Top, [&t](const BlockFP8E4M3& b, int i) { return t.value[b.qs[i]]; });
}

float vec_dot_fp8_e5m2_ref(int64_t n, const BlockFP8E5M2* blocks, const float* x) {
  const Fp8Table& t = e5m2_table();
  return scaled_dot(n, blocks, x, kE5m2Top, [&t](const BlockFP8E5M2& b, int i) { return t.value[b.qs[i]]; });
}

float vec_dot_fp16_ref(int64_t n, const BlockF16* blocks, const float* x) {
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) total += static_cast<double>(h2f(blocks[i / kBlockSize].v[i % kBlockSize])) * x[i];
  return static_cast<float>(total);
}

float vec_dot_bf16_ref(int64_t n, const BlockBF16* blocks, const float* x) {
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i)
    total += static_cast<double>(::bigdl::bf16_to_float(blocks[i / kBlockSize].v[i % kBlockSize])) * x[i];
  return static_cast<float>(total);
}

// ---- int8 activations ----

void quantize_act_ref(const float* x, BlockQ8A* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlockSize; ++b, x += kBlockSize) {
    float amax = 0.0f;
    for (int j = 0; j < kBlockSize; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int j = 0; j < kBlockSize; ++j) {
      // Round half to even (the default rounding mode), what cvtps2dq does in the SIMD tables.
      const int q = static_cast<int>(std::nearbyint(x[j] * id));
      y[b].qs[j] = static_cast<int8_t>(q);
      sum += q;
    }
    // d takes an fp16 value, as llama.cpp's Q8_0 / Q8_1 store it (q comes from the f32 d):
    // the same activations as llama.cpp's integer path (docs/quant.md). s = that d times
    // the sum, exact in f32 (11 + 12 significant bits), so a zero point folded in through s
    // equals the integer sum's.
    y[b].d = h2f(f2h(d));
    y[b].s = y[b].d * static_cast<float>(sum);
    y[b].sm = h2f(f2h(d * static_cast<float>(sum)));  // llama.cpp's Q8_1 s
  }
}

namespace {
// Exact integer dot of one block: sum_i (level_i - z) * qx_i.
int32_t idot_q4(const uint8_t* qs, int z, const int8_t* qx) {
  int32_t s = 0;
  for (int i = 0; i < kBlockSize; ++i) s += (level_q4(qs, i) - z) * qx[i];
  return s;
}
int32_t idot_q5(const uint8_t* qs, uint32_t qh, int z, const int8_t* qx) {
  int32_t s = 0;
  for (int i = 0; i < kBlockSize; ++i) s += (level_q5(qs, qh, i) - z) * qx[i];
  return s;
}
}  // namespace

// Per block: the f32 product d_w * d_x times the exact integer sum, accumulated in
// double (the SIMD tables accumulate the same per-block terms in f32).
float vec_dot_q8_sym_int4_ref(int64_t n, const BlockQ4_0* w, const BlockQ8A* x) {
  double total = 0.0;
  for (int64_t b = 0; b < n / kBlockSize; ++b) {
    const float d = h2f(w[b].d) * x[b].d;
    total += static_cast<double>(d) * idot_q4(w[b].qs, 8, x[b].qs);
  }
  return static_cast<float>(total);
}

float vec_dot_q8_asym_int4_ref(int64_t n, const BlockQ4_1* w, const BlockQ8A* x) {
  double total = 0.0;
  for (int64_t b = 0; b < n / kBlockSize; ++b) {
    const float d = h2f(w[b].d) * x[b].d;
    total += static_cast<double>(d) * idot_q4(w[b].qs, 0, x[b].qs) + static_cast<double>(h2f(w[b].m)) * x[b].sm;
  }
  return static_cast<float>(total);
}

float vec_dot_q8_sym_int5_ref(int64_t n, const BlockQ5_0* w, const BlockQ8A* x) {
  double total = 0.0;
  for (int64_t b = 0; b < n / kBlockSize; ++b) {
    const float d = h2f(w[b].d) * x[b].d;
    total += static_cast<double>(d) * idot_q5(w[b].qs, load_qh(w[b].qh), 16, x[b].qs);
  }
  return static_cast<float>(total);
}

float vec_dot_q8_asym_int5_ref(int64_t n, const BlockQ5_1* w, const BlockQ8A* x) {
  double total = 0.0;
  for (int64_t b = 0; b < n / kBlockSize; ++b) {
    const float d = h2f(w[b].d) * x[b].d;
    total += static_cast<double>(d) * idot_q5(w[b].qs, load_qh(w[b].qh), 0, x[b].qs) +
             static_cast<double>(h2f(w[b].m)) * x[b].sm;
  }
  return static_cast<float>(total);
}

float vec_dot_q8_sym_int8_ref(int64_t n, const BlockQ8_0* w, const BlockQ8A* x) {
  double total = 0.0;
  for (int64_t b = 0; b < n / kBlockSize; ++b) {
    int32_t s = 0;
    for (int i = 0; i < kBlockSize; ++i) s += w[b].qs[i] * x[b].qs[i];
    const float d = h2f(w[b].d) * x[b].d;
    total += static_cast<double>(d) * s;
  }
  return static_cast<float>(total);
}

// Codebook formats: int8 levels, per-block f32 scale d_w * d_x, one final f32 division
// (by 127 for nf4 / nf3, whose int8 levels are round(127 * level); by 12 = 2 * 6 for
// fp4, whose int8 levels are 2 * level and whose scale is d / 6).
float vec_dot_q8_nf4_ref(int64_t n, const BlockNF4* w, const BlockQ8A* x) {
  double total = 0.0;
  for (int64_t b = 0; b < n / kBlockSize; ++b) {
    int32_t s = 0;
    for (int i = 0; i < kBlockSize; ++i) s += kNf4Levels8[level_q4(w[b].qs, i)] * x[b].qs[i];
    total += static_cast<double>(h2f(w[b].d) * x[b].d) * s;
  }
  return static_cast<float>(total) / 127.0f;
}

float vec_dot_q8_nf3_ref(int64_t n, const BlockNF3* w, const BlockQ8A* x) {
  double total = 0.0;
  for (int64_t b = 0; b < n / kBlockSize; ++b) {
    const uint32_t qh = load_qh(w[b].qh);
    int32_t s = 0;
    for (int i = 0; i < kBlockSize; ++i) s += kNf3Levels8[code_nf3(w[b].qs, qh, i)] * x[b].qs[i];
    total += static_cast<double>(h2f(w[b].d) * x[b].d) * s;
  }
  return static_cast<float>(total) / 127.0f;
}

float vec_dot_q8_fp4_ref(int64_t n, const BlockFP4* w, const BlockQ8A* x) {
  double total = 0.0;
  for (int64_t b = 0; b < n / kBlockSize; ++b) {
    int32_t s = 0;
    for (int i = 0; i < kBlockSize; ++i) s += kFp4Levels8[level_q4(w[b].qs, i)] * x[b].qs[i];
    total += static_cast<double>(h2f(w[b].d) * x[b].d) * s;
  }
  return static_cast<float>(total) / 12.0f;
}

// Float formats have no integer path: each activation block widened to q * d_x, then
// the f32-activation reference per block.
#define BIGDL_Q8_VIA_F32(name, Block)                                                        \
  float vec_dot_q8_##name##_ref(int64_t n, const Block* w, const BlockQ8A* x) {            \
    double total = 0.0;                                                                     \
    float xf[kBlockSize];                                                                   \
    for (int64_t b = 0; b < n / kBlockSize; ++b) {                                          \
      for (int i = 0; i < kBlockSize; ++i) xf[i] = static_cast<float>(x[b].qs[i]) * x[b].d; \
      total += vec_dot_##name##_ref(kBlockSize, w + b, xf);                                 \
    }                                                                                       \
    return static_cast<float>(total);                                                       \
  }
BIGDL_Q8_VIA_F32(fp8_e4m3, BlockFP8E4M3)
BIGDL_Q8_VIA_F32(fp8_e5m2, BlockFP8E5M2)
BIGDL_Q8_VIA_F32(fp16, BlockF16)
BIGDL_Q8_VIA_F32(bf16, BlockBF16)
#undef BIGDL_Q8_VIA_F32

// ---- tables ----

namespace {
// Untyped entry points for the tables.
#define BIGDL_QUANT_WRAP(name, ggml, Block, id, i8, qk)                                       \
  void quantize_##name(const float* x, void* y, int64_t n) {                             \
    quantize_row_##name##_ref(x, static_cast<Block*>(y), n);                             \
  }                                                                                      \
  void dequantize_##name(const void* b, float* y, int64_t n) {                           \
    dequantize_row_##name##_ref(static_cast<const Block*>(b), y, n);                     \
  }                                                                                      \
  float vec_dot_##name(int64_t n, const void* b, const float* x) {                       \
    return vec_dot_##name##_ref(n, static_cast<const Block*>(b), x);                     \
  }                                                                                      \
  float vec_dot_q8_##name(int64_t n, const void* b, const BlockQ8A* x) {                 \
    return vec_dot_q8_##name##_ref(n, static_cast<const Block*>(b), x);                  \
  }
BIGDL_QUANT_TYPES(BIGDL_QUANT_WRAP)
#undef BIGDL_QUANT_WRAP
#define BIGDL_QUANT_WRAP_Q8K(name, Block)                                                               \
  float vec_dot_q8k_##name(int64_t n, const void* b, const BlockQ8K* x) {                               \
    return vec_dot_q8k_##name##_ref(n, static_cast<const Block*>(b), x);                                \
  }                                                                                                     \
  void vec_dot_q8k_x_##name(int64_t n, const void* b, const BlockQ8K* x, int64_t nx, int64_t xs, float* y, \
                            int64_t ys) {                                                               \
    for (int64_t t = 0; t < nx; ++t) y[t * ys] = vec_dot_q8k_##name(n, b, x + t * xs);                  \
  }
BIGDL_QUANT_WRAP_Q8K(q2_k, BlockQ2K)
BIGDL_QUANT_WRAP_Q8K(q3_k, BlockQ3K)
BIGDL_QUANT_WRAP_Q8K(q4_k, BlockQ4K)
BIGDL_QUANT_WRAP_Q8K(q5_k, BlockQ5K)
BIGDL_QUANT_WRAP_Q8K(q6_k, BlockQ6K)
BIGDL_QUANT_WRAP_Q8K(q8_k, BlockQ8K)
BIGDL_QUANT_WRAP_Q8K(iq4_xs, BlockIQ4XS)
#undef BIGDL_QUANT_WRAP_Q8K
void quantize_act_k_ref(const float* x, BlockQ8K* y, int64_t n) { quantize_row_q8_k_ref(x, y, n); }

const QTypeInfo kInfo[kNumQTypes] = {
#define BIGDL_QUANT_INFO(name, ggml, Block, id, i8, qk)                                                            \
  {QType::name, #name, ggml, id, qk, static_cast<int64_t>(sizeof(Block)), quantize_##name, dequantize_##name, \
   i8, qk == 256 ? ActQ8::k256 : ActQ8::a32},
    BIGDL_QUANT_TYPES(BIGDL_QUANT_INFO)
#undef BIGDL_QUANT_INFO
};
}  // namespace

const QTypeInfo& qtype_info(QType type) { return kInfo[static_cast<int>(type)]; }

const QuantKernels& quant_kernels_ref() {
  static const QuantKernels table = [] {
    QuantKernels t = BIGDL_QUANT_KERNEL_TABLE("scalar", quantize_act_ref);
    BIGDL_QUANT_SET_Q8K(t, quantize_act_k_ref);
    return t;
  }();
  return table;
}

void gemv(QType type, int64_t rows, int64_t cols, const void* w, const float* x, float* y,
          const QuantKernels& kernels) {
  const QTypeInfo& info = qtype_info(type);
  BIGDL_CHECK(cols % info.block_size == 0, ValueError, "quant::gemv",
              info.name, " needs cols to be a multiple of ", info.block_size, ", got ", cols);
  BIGDL_CHECK(rows >= 0 && cols >= 0, ValueError, "quant::gemv", "negative shape [", rows, ", ", cols, "]");
  const VecDotFn dot = kernels.vec_dot[static_cast<int>(type)];
  const int64_t stride = cols / info.block_size * info.block_bytes;
  const auto* base = static_cast<const uint8_t*>(w);
  for (int64_t r = 0; r < rows; ++r) y[r] = dot(cols, base + r * stride, x);
}

}  // namespace bigdl::detail::quant
