// bigdl-llm low-bit weight formats (GGUF/ggml block layouts) and their CPU kernels.
//
// Every format cuts a row into blocks of 32 consecutive weights. A block is a plain
// struct whose bytes are exactly ggml's (src/ggml-common.h), so a GGUF tensor of that
// type can be used in place. fp16 fields are raw IEEE half bit patterns, little endian.
//
//   bigdl-llm   ggml  ggml type  bytes  layout (byte offsets)                 weight i (0..31)
//   sym_int4    Q4_0  2          18     d:0-1 qs:2-17                           (q_i - 8) * d
//   asym_int4   Q4_1  3          20     d:0-1 m:2-3 qs:4-19                     q_i * d + m
//   sym_int5    Q5_0  6          22     d:0-1 qh:2-5 qs:6-21                    (q_i - 16) * d
//   asym_int5   Q5_1  7          24     d:0-1 m:2-3 qh:4-7 qs:8-23              q_i * d + m
//   sym_int8    Q8_0  8          34     d:0-1 qs:2-33 (int8)                    q_i * d
//
// 4-bit nibbles: qs[j] holds weight j in its low nibble and weight j+16 in its high
// nibble (j = 0..15), NOT weights 2j, 2j+1. 5-bit types keep the low 4 bits the same
// way and the fifth bit of weight i in bit i of qh read as a little-endian uint32.
//
// Quantization (the reference rules, ggml's quantize_row_*_ref, d computed in f32 and
// only then rounded to fp16; q from the f32 d):
//   Q4_0: m = the element of largest |x| (first one on ties), d = m / -8,
//         q = min(15, trunc(x/d + 8.5))        (x/d via x * (1/d))
//   Q4_1: d = (max - min) / 15, m = min, q = min(15, trunc((x - min)/d + 0.5))
//   Q5_0: as Q4_0 with d = m / -16, q = min(31, trunc(x/d + 16.5))
//   Q5_1: as Q4_1 with d = (max - min) / 31, q = trunc((x - min)/d + 0.5)
//   Q8_0: d = max|x| / 127, q = roundf(x/d)   (half away from zero)
//   A block of zeros gets d = 0 and q = the zero point.
//
// Kernels: quantize_row is reference only (model conversion, not a hot path).
// dequantize_row and vec_dot have a scalar reference (quant_ref.cpp) and AVX2 /
// AVX-512 variants, chosen at run time like the f32 table in ../kernels.h. vec_dot
// multiplies weight blocks by f32 activations directly (no activation quantization as
// ggml's Q8 path does), so its only error is float summation; see docs/quant.md.
// vec_dot_q8 is that Q8 path: activations quantized to BlockQ8A first, integer dot
// products per block (gemv_parallel with GemvAct::int8 is the fast gemv).
#pragma once

#include <cstdint>

#include "backend/cpu/kernels.h"  // Isa, detect_isa

namespace bigdl::detail::quant {

constexpr int64_t kBlockSize = 32;

struct BlockQ4_0 {
  uint16_t d;      // fp16 scale
  uint8_t qs[16];  // nibbles: low = weight j, high = weight j + 16
};
struct BlockQ4_1 {
  uint16_t d;  // fp16 scale
  uint16_t m;  // fp16 minimum
  uint8_t qs[16];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];  // fifth bits, bit i = weight i (little-endian uint32; bytes, so the struct stays 2-aligned)
  uint8_t qs[16];
};
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};
static_assert(sizeof(BlockQ4_0) == 18 && alignof(BlockQ4_0) == 2, "Q4_0 layout is fixed by GGUF");
static_assert(sizeof(BlockQ4_1) == 20 && alignof(BlockQ4_1) == 2, "Q4_1 layout is fixed by GGUF");
static_assert(sizeof(BlockQ5_0) == 22 && alignof(BlockQ5_0) == 2, "Q5_0 layout is fixed by GGUF");
static_assert(sizeof(BlockQ5_1) == 24 && alignof(BlockQ5_1) == 2, "Q5_1 layout is fixed by GGUF");
static_assert(sizeof(BlockQ8_0) == 34 && alignof(BlockQ8_0) == 2, "Q8_0 layout is fixed by GGUF");

// One row per format: X(bigdl-llm name, ggml name, block struct, ggml/GGUF type id).
// Adding a format adds one row here, one block struct above and its kernels.
#define BIGDL_QUANT_TYPES(X)              \
  X(sym_int4, "q4_0", BlockQ4_0, 2)       \
  X(asym_int4, "q4_1", BlockQ4_1, 3)      \
  X(sym_int5, "q5_0", BlockQ5_0, 6)       \
  X(asym_int5, "q5_1", BlockQ5_1, 7)      \
  X(sym_int8, "q8_0", BlockQ8_0, 8)

enum class QType {
#define BIGDL_QUANT_ENUM(name, ggml, Block, id) name,
  BIGDL_QUANT_TYPES(BIGDL_QUANT_ENUM)
#undef BIGDL_QUANT_ENUM
};
#define BIGDL_QUANT_COUNT(name, ggml, Block, id) +1
constexpr int kNumQTypes = 0 BIGDL_QUANT_TYPES(BIGDL_QUANT_COUNT);
#undef BIGDL_QUANT_COUNT

// Kernel signatures. n is the number of weights, a multiple of 32 (not checked in the
// kernels; gemv checks). Blocks are read through the format's struct, so a block
// pointer needs only 2-byte alignment; x / y may have any float alignment.
using QuantizeRowFn = void (*)(const float* x, void* blocks, int64_t n);
using DequantizeRowFn = void (*)(const void* blocks, float* y, int64_t n);
using VecDotFn = float (*)(int64_t n, const void* blocks, const float* x);  // sum_i w_i * x_i

struct QTypeInfo {
  QType type;
  const char* name;       // bigdl-llm name, "sym_int4"
  const char* ggml_name;  // "q4_0"
  int ggml_type;          // GGUF tensor type id
  int64_t block_size;     // weights per block (32)
  int64_t block_bytes;    // sizeof(block)
  QuantizeRowFn quantize_row;      // reference
  DequantizeRowFn dequantize_row;  // reference
};
const QTypeInfo& qtype_info(QType type);
// Bytes of a row of n weights (n a multiple of 32).
inline int64_t row_bytes(QType type, int64_t n) { return n / kBlockSize * qtype_info(type).block_bytes; }

// Typed reference kernels (quant_ref.cpp), e.g. quantize_row_sym_int4_ref.
#define BIGDL_QUANT_DECL(name, ggml, Block, id)                               \
  void quantize_row_##name##_ref(const float* x, Block* y, int64_t n);        \
  void dequantize_row_##name##_ref(const Block* blocks, float* y, int64_t n); \
  float vec_dot_##name##_ref(int64_t n, const Block* blocks, const float* x);
BIGDL_QUANT_TYPES(BIGDL_QUANT_DECL)
#undef BIGDL_QUANT_DECL

// ---- int8 activations (ggml's "vec_dot_type" path) ----
// The activation vector of a gemv is quantized once to these blocks, and the weight
// blocks are then dotted against them with integer SIMD. This is a scratch layout that
// lives only for one gemv (never stored in a file), so it is free to differ from
// ggml's block_q8_0 / block_q8_1: the scale is f32, not fp16 (it costs nothing in
// bandwidth, saves an F16C conversion per block and the fp16 rounding of d), and `s`
// carries d * sum(qs) for the asym types' m term, as block_q8_1 does.
//   bytes: d 0-3 (f32), s 4-7 (f32), qs 8-39 (int8, -127..127)
//   Quantization: d = max|x| / 127, q = round_half_even(x * (1/d)) (0 for an all-zero
//   block), s = d * (float)sum(q). x_i is then represented as q_i * d.
struct BlockQ8A {
  float d;
  float s;
  int8_t qs[32];
};
static_assert(sizeof(BlockQ8A) == 40 && alignof(BlockQ8A) == 4, "BlockQ8A layout");

// Quantize n activations (n a multiple of 32) to n/32 BlockQ8A.
using QuantizeActFn = void (*)(const float* x, BlockQ8A* y, int64_t n);
// sum over blocks of (d_w * d_x) * sum_i (q_i - z) qx_i  (+ m_w * s_x for the asym
// types). The inner sum is exact int32; d_w * d_x is one f32 product per block.
using VecDotQ8Fn = float (*)(int64_t n, const void* blocks, const BlockQ8A* x);

void quantize_act_ref(const float* x, BlockQ8A* y, int64_t n);
#define BIGDL_QUANT_DECL_Q8(name, ggml, Block, id) \
  float vec_dot_q8_##name##_ref(int64_t n, const Block* blocks, const BlockQ8A* x);
BIGDL_QUANT_TYPES(BIGDL_QUANT_DECL_Q8)
#undef BIGDL_QUANT_DECL_Q8

// Per-ISA table, indexed by static_cast<int>(QType).
struct QuantKernels {
  const char* name;  // "scalar", "avx2", "avx512"
  DequantizeRowFn dequantize_row[kNumQTypes];
  VecDotFn vec_dot[kNumQTypes];        // weights x f32 activations
  QuantizeActFn quantize_act;          // f32 activations -> BlockQ8A; bit-exact with the reference
  VecDotQ8Fn vec_dot_q8[kNumQTypes];   // weights x int8 activations (BlockQ8A)
};

// The table for the ISA that cpu_kernels() uses (so BIGDL_ISA caps both the same way).
const QuantKernels& quant_kernels();
// A specific table, or nullptr when the CPU (or this build) lacks the ISA.
const QuantKernels* quant_kernels_for(Isa isa);
// Per-ISA tables; never call the SIMD ones directly (go through quant_kernels_for).
const QuantKernels& quant_kernels_ref();
const QuantKernels& quant_kernels_avx2();
const QuantKernels& quant_kernels_avx512();

// y[r] = sum_c W[r, c] * x[c] for a row-major [rows, cols] matrix of `type` blocks
// (row r starts at byte r * row_bytes(type, cols)). cols must be a multiple of 32;
// throws bigdl::ValueError otherwise. Single-threaded; one vec_dot per row.
void gemv(QType type, int64_t rows, int64_t cols, const void* w, const float* x, float* y,
          const QuantKernels& kernels = quant_kernels());

// How gemv_parallel treats the activations.
enum class GemvAct {
  f32,   // vec_dot per row: the result of gemv (no activation rounding)
  int8,  // x quantized once to BlockQ8A, then vec_dot_q8 per row (about 1e-3 relative
         // error from the int8 rounding of x; see docs/quant.md)
};
// As gemv, with rows split over the library's thread pool (detail::parallel_for, so
// get_num_threads() threads) in chunks of at least 128 KiB of weights; small matrices
// run inline on the caller. Each y[r] is computed by one thread with the same kernel,
// so the result does not depend on the thread count. Same errors as gemv
// ("[quant::gemv] ...").
void gemv_parallel(QType type, int64_t rows, int64_t cols, const void* w, const float* x, float* y,
                   GemvAct act, const QuantKernels& kernels = quant_kernels());

}  // namespace bigdl::detail::quant
