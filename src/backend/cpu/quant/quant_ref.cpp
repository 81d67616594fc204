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
#include <cmath>
#include <cstdint>
#include <cstring>

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
    y[b].d = d;
    y[b].s = d * static_cast<float>(sum);
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
    total += static_cast<double>(d) * idot_q4(w[b].qs, 0, x[b].qs) + static_cast<double>(h2f(w[b].m)) * x[b].s;
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
             static_cast<double>(h2f(w[b].m)) * x[b].s;
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

// ---- tables ----

namespace {
// Untyped entry points for the tables.
#define BIGDL_QUANT_WRAP(name, ggml, Block, id)                                          \
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

const QTypeInfo kInfo[kNumQTypes] = {
#define BIGDL_QUANT_INFO(name, ggml, Block, id) \
  {QType::name, #name, ggml, id, kBlockSize, static_cast<int64_t>(sizeof(Block)), quantize_##name, dequantize_##name},
    BIGDL_QUANT_TYPES(BIGDL_QUANT_INFO)
#undef BIGDL_QUANT_INFO
};
}  // namespace

const QTypeInfo& qtype_info(QType type) { return kInfo[static_cast<int>(type)]; }

const QuantKernels& quant_kernels_ref() {
  static const QuantKernels table = {
      "scalar",
#define BIGDL_QUANT_DEQ(name, ggml, Block, id) dequantize_##name,
      {BIGDL_QUANT_TYPES(BIGDL_QUANT_DEQ)},
#undef BIGDL_QUANT_DEQ
#define BIGDL_QUANT_DOT(name, ggml, Block, id) vec_dot_##name,
      {BIGDL_QUANT_TYPES(BIGDL_QUANT_DOT)},
#undef BIGDL_QUANT_DOT
      quantize_act_ref,
#define BIGDL_QUANT_DOT_Q8(name, ggml, Block, id) vec_dot_q8_##name,
      {BIGDL_QUANT_TYPES(BIGDL_QUANT_DOT_Q8)},
#undef BIGDL_QUANT_DOT_Q8
  };
  return table;
}

// ---- dispatch ----
// The ISA checks live in ../dispatch.cpp (detect_isa); this only maps an ISA to a table.

const QuantKernels* quant_kernels_for(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(detect_isa())) return nullptr;
  switch (isa) {
    case Isa::scalar:
      return &quant_kernels_ref();
    case Isa::avx2:
      return &quant_kernels_avx2();
    case Isa::avx512:
      return &quant_kernels_avx512();
  }
  return nullptr;
}

const QuantKernels& quant_kernels() {
  // Follow the f32 table's choice, which already applies BIGDL_ISA.
  static const QuantKernels* const table = [] {
    const CpuKernels* chosen = &cpu_kernels();
    for (Isa isa : {Isa::avx512, Isa::avx2, Isa::scalar}) {
      if (cpu_kernels_for(isa) == chosen) return quant_kernels_for(isa);
    }
    return &quant_kernels_ref();
  }();
  return *table;
}

void gemv(QType type, int64_t rows, int64_t cols, const void* w, const float* x, float* y,
          const QuantKernels& kernels) {
  const QTypeInfo& info = qtype_info(type);
  BIGDL_CHECK(cols % kBlockSize == 0, ValueError, "quant::gemv",
              info.name, " needs cols to be a multiple of ", kBlockSize, ", got ", cols);
  BIGDL_CHECK(rows >= 0 && cols >= 0, ValueError, "quant::gemv", "negative shape [", rows, ", ", cols, "]");
  const VecDotFn dot = kernels.vec_dot[static_cast<int>(type)];
  const int64_t stride = cols / kBlockSize * info.block_bytes;
  const auto* base = static_cast<const uint8_t*>(w);
  for (int64_t r = 0; r < rows; ++r) y[r] = dot(cols, base + r * stride, x);
}

}  // namespace bigdl::detail::quant
