// bigdl-llm low-bit weight formats and their CPU kernels.
//
// Every format cuts a row into blocks of consecutive weights: 32, or super-blocks of
// kSuperBlock = 256 for ggml's K-quants and IQ4_XS (QTypeInfo::block_size; the table
// below lists the 32-weight formats, the K-quant structs further down). A block is a
// plain struct with a fixed byte layout. The five integer formats are byte-identical to ggml's
// (src/ggml-common.h), so a GGUF tensor of that type can be used in place; fp16 / bf16
// blocks are 32 raw values, so a row of a GGUF F16 / BF16 tensor is already a row of
// blocks. nf4, nf3, fp4 and the fp8 types exist only in bigdl-llm: they get GGUF type
// ids in a private range (1024+) that llama.cpp cannot read. fp16 fields are raw IEEE
// half bit patterns, little endian.
//
//   bigdl-llm   ggml  type id  bytes  layout (byte offsets)                 weight i (0..31)
//   sym_int4    Q4_0  2        18     d:0-1 qs:2-17                          (q_i - 8) * d
//   asym_int4   Q4_1  3        20     d:0-1 m:2-3 qs:4-19                    q_i * d + m
//   sym_int5    Q5_0  6        22     d:0-1 qh:2-5 qs:6-21                   (q_i - 16) * d
//   asym_int5   Q5_1  7        24     d:0-1 m:2-3 qh:4-7 qs:8-23             q_i * d + m
//   sym_int8    Q8_0  8        34     d:0-1 qs:2-33 (int8)                   q_i * d
//   nf4         -     1024     18     d:0-1 qs:2-17                          kNf4Levels[q_i] * d
//   nf3         -     1025     14     d:0-1 qs:2-9 qh:10-13                  kNf3Levels[q_i] * d
//   fp4         -     1026     18     d:0-1 qs:2-17                          kFp4Levels[q_i] * (d / 6)
//   fp8_e4m3    -     1027     34     d:0-1 qs:2-33 (e4m3 bytes)             e4m3(q_i) * (d / 448)
//   fp8_e5m2    -     1028     34     d:0-1 qs:2-33 (e5m2 bytes)             e5m2(q_i) * (d / 57344)
//   fp16        F16   1        64     v:0-63 (32 x fp16)                     half(v_i)
//   bf16        BF16  30       64     v:0-63 (32 x bf16)                     bfloat16(v_i)
//
// 4-bit nibbles (sym/asym_int4, int5's low bits, nf4, fp4): qs[j] holds weight j in its
// low nibble and weight j+16 in its high nibble (j = 0..15), NOT weights 2j, 2j+1. 5-bit
// types keep the low 4 bits the same way and the fifth bit of weight i in bit i of qh
// read as a little-endian uint32. nf3's 3-bit code of weight i: its low two bits are
// bits 2k..2k+1 of qs[j] for i = j + 8k (j = 0..7, k = 0..3), its high bit is bit i of
// qh (little-endian uint32, as the 5-bit types).
//
// Quantization (the reference rules; ggml's quantize_row_*_ref for the ggml types; d
// computed in f32 and only then rounded to fp16; q from the f32 d):
//   Q4_0: m = the element of largest |x| (first one on ties), d = m / -8,
//         q = min(15, trunc(x/d + 8.5))        (x/d via x * (1/d))
//   Q4_1: d = (max - min) / 15, m = min, q = min(15, trunc((x - min)/d + 0.5))
//   Q5_0: as Q4_0 with d = m / -16, q = min(31, trunc(x/d + 16.5))
//   Q5_1: as Q4_1 with d = (max - min) / 31, q = trunc((x - min)/d + 0.5)
//   Q8_0: d = max|x| / 127, q = roundf(x/d)   (half away from zero)
//   nf4, nf3: d = max|x| (bitsandbytes' absmax), q = the level nearest to v = x * (1/d);
//         v on a midpoint between two levels takes the lower one (bitsandbytes' `x >
//         threshold` tree; the thresholds are the f32 midpoints of adjacent levels)
//   fp4, fp8: d = max|x| too, and the block scale is s = d / top with top the format's
//         largest finite value (6 for e2m1, 448 for e4m3, 57344 for e5m2), an f32
//         division done the same way when quantizing (s from the f32 max|x|, v = x * (1/s))
//         and when reading (s from the fp16 d). Storing max|x| rather than s keeps the
//         fp16 scale out of fp16's subnormal range (57344 * 2^-14 ~ 0.9: e5m2's s would
//         lose precision for any block with max|x| < 0.9). q = v rounded to the format:
//         nearest, ties to the even code (IEEE / OCP rounding), saturating at top (the
//         NaN / inf codes and -0 are never written; fp4's code 8 decodes as +0 anyway)
//   fp16, bf16: each value rounded to nearest even (bigdl::float_to_half / float_to_bf16)
//   A block of zeros gets d = 0 and q = the zero point.
//
// Kernels: quantize_row is reference only (model conversion, not a hot path).
// dequantize_row and vec_dot have a scalar reference (quant_ref.cpp) and AVX2 /
// AVX-512 variants, chosen at run time like the f32 table in ../kernels.h. vec_dot
// multiplies weight blocks by f32 activations directly (no activation quantization as
// ggml's Q8 path does), so its only error is float summation; see docs/quant.md.
// vec_dot_q8 is that Q8 path: activations quantized to BlockQ8A first, integer dot
// products per block (gemv_parallel with GemvAct::int8 is the fast gemv). nf4 / nf3 /
// fp4 take it through int8 copies of their levels (kNf4Levels8...; fp4's are exact,
// nf4's / nf3's are rounded to 1/127); the float formats (fp8, fp16, bf16) have no
// integer path (QTypeInfo::int8_act is false).
#pragma once

#include <cstdint>

#include "backend/cpu/kernels.h"  // Isa, detect_isa

namespace bigdl::detail::quant {

// Weights per block of the 32-weight formats, and per BlockQ8A activation block of
// every format (a super-block of 256 meets 8 of them).
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
// nf4 / fp4: as Q4_0, the 16 codes index a level table instead of (q - 8).
struct BlockNF4 {
  uint16_t d;      // fp16 absmax
  uint8_t qs[16];  // codes 0..15, nibble order as Q4_0
};
struct BlockNF3 {
  uint16_t d;     // fp16 absmax
  uint8_t qs[8];  // low two bits of the 3-bit codes: weight j + 8k in bits 2k..2k+1 of qs[j]
  uint8_t qh[4];  // third bits, bit i = weight i (little-endian uint32)
};
struct BlockFP4 {
  uint16_t d;      // fp16 absmax; weight = level * (d / 6)
  uint8_t qs[16];  // e2m1 codes (bit 3 sign, bits 0-2 magnitude), nibble order as Q4_0
};
struct BlockFP8E4M3 {
  uint16_t d;      // fp16 absmax; weight = e4m3 value * (d / 448)
  uint8_t qs[32];  // OCP e4m3fn bytes: sign, 4 exponent bits (bias 7), 3 mantissa bits
};
struct BlockFP8E5M2 {
  uint16_t d;      // fp16 absmax; weight = e5m2 value * (d / 57344)
  uint8_t qs[32];  // e5m2 bytes: sign, 5 exponent bits (bias 15), 2 mantissa bits
};
struct BlockF16 {
  uint16_t v[32];  // IEEE half bit patterns; no scale
};
struct BlockBF16 {
  uint16_t v[32];  // bfloat16 bit patterns (the top half of an f32); no scale
};
// ---- ggml's K-quants and 4-bit i-quants (super-blocks of kSuperBlock = 256 weights) ----
// Layouts of ggml-common.h, byte for byte (docs/quant.md has the tables). A super-block
// has 8 sub-blocks of 32 weights (Q4_K, Q5_K, IQ4_XS) or 16 of 16 (Q2_K, Q3_K, Q6_K),
// each with a small integer scale (and min) relative to the fp16 super-block scale d.
// In a sub-block of 32, nibble / 2-bit fields of "chunk" c (32 bytes) hold weights
// 32*k + l of successive sub-blocks in successive bit positions; the exact order is in
// the reference dequantizers (quant_k_ref.cpp).
constexpr int64_t kSuperBlock = 256;
struct BlockQ2K {       // 2.625 bits: w = d * (sc & 15) * q - dmin * (sc >> 4), q in 0..3
  uint8_t scales[16];   // per 16 weights: low nibble scale, high nibble min
  uint8_t qs[64];       // 2-bit q: byte l of chunk c (32 bytes) holds weights 128c + l + 32s in bits 2s..2s+1
  uint16_t d;           // fp16 super-block scale of the scales
  uint16_t dmin;        // fp16 super-block scale of the mins
};
struct BlockQ3K {       // 3.4375 bits: w = d * (sc - 32) * (q - 4 * !hbit), q in 0..3
  uint8_t hmask[32];    // high bit of weight 32j + l is bit j of hmask[l]
  uint8_t qs[64];       // low 2 bits, as Q2_K
  uint8_t scales[12];   // 16 six-bit scales: low nibbles in bytes 0-7 (scale j and j+8), high 2 bits in bytes 8-11
  uint16_t d;
};
struct BlockQ4K {       // 4.5 bits: w = d * sc_j * q - dmin * m_j, 8 sub-blocks of 32, q in 0..15
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];   // 8 six-bit scales and 8 six-bit mins (get_scale_min_k4's packing)
  uint8_t qs[128];      // chunk c (32 bytes): low nibbles = sub-block 2c, high = 2c + 1
};
struct BlockQ5K {       // 5.5 bits: as Q4_K with a fifth bit, q in 0..31
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];       // fifth bit of sub-block j's weight l is bit j of qh[l]
  uint8_t qs[128];
};
struct BlockQ6K {       // 6.5625 bits: w = d * sc_j * (q - 32), 16 sub-blocks of 16, q in 0..63
  uint8_t ql[128];      // low 4 bits
  uint8_t qh[64];       // high 2 bits
  int8_t scales[16];
  uint16_t d;
};
struct BlockQ8K {       // 9.125 bits: w = d * q (ggml's K-quant activation type; also loadable as weights)
  float d;              // f32 scale
  int8_t qs[256];
  int16_t bsums[16];    // sum of each 16 q's
};
struct BlockIQ4NL {     // 4.5 bits: w = d * kIq4nlLevels[q]
  uint16_t d;
  uint8_t qs[16];       // codes 0..15, nibble order as Q4_0
};
struct BlockIQ4XS {     // 4.25 bits: w = d * (ls_j - 32) * kIq4nlLevels[q], 8 sub-blocks of 32
  uint16_t d;
  uint16_t scales_h;    // high 2 bits of ls_j: bits 2j..2j+1
  uint8_t scales_l[4];  // low 4 bits of ls_j: nibble j % 2 of byte j / 2
  uint8_t qs[128];      // sub-block j: bytes 16j..16j+15, nibble order as Q4_0
};
static_assert(sizeof(BlockQ2K) == 84 && alignof(BlockQ2K) == 2, "Q2_K layout is fixed by GGUF");
static_assert(sizeof(BlockQ3K) == 110 && alignof(BlockQ3K) == 2, "Q3_K layout is fixed by GGUF");
static_assert(sizeof(BlockQ4K) == 144 && alignof(BlockQ4K) == 2, "Q4_K layout is fixed by GGUF");
static_assert(sizeof(BlockQ5K) == 176 && alignof(BlockQ5K) == 2, "Q5_K layout is fixed by GGUF");
static_assert(sizeof(BlockQ6K) == 210 && alignof(BlockQ6K) == 2, "Q6_K layout is fixed by GGUF");
static_assert(sizeof(BlockQ8K) == 292 && alignof(BlockQ8K) == 4, "Q8_K layout is fixed by GGUF");
static_assert(sizeof(BlockIQ4NL) == 18 && alignof(BlockIQ4NL) == 2, "IQ4_NL layout is fixed by GGUF");
static_assert(sizeof(BlockIQ4XS) == 136 && alignof(BlockIQ4XS) == 2, "IQ4_XS layout is fixed by GGUF");
// IQ4_NL / IQ4_XS's non-linear 4-bit levels (ggml's kvalues_iq4nl; part of the format).
constexpr int8_t kIq4nlLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
static_assert(sizeof(BlockQ4_0) == 18 && alignof(BlockQ4_0) == 2, "Q4_0 layout is fixed by GGUF");
static_assert(sizeof(BlockQ4_1) == 20 && alignof(BlockQ4_1) == 2, "Q4_1 layout is fixed by GGUF");
static_assert(sizeof(BlockQ5_0) == 22 && alignof(BlockQ5_0) == 2, "Q5_0 layout is fixed by GGUF");
static_assert(sizeof(BlockQ5_1) == 24 && alignof(BlockQ5_1) == 2, "Q5_1 layout is fixed by GGUF");
static_assert(sizeof(BlockQ8_0) == 34 && alignof(BlockQ8_0) == 2, "Q8_0 layout is fixed by GGUF");
static_assert(sizeof(BlockNF4) == 18 && alignof(BlockNF4) == 2, "nf4 layout is fixed");
static_assert(sizeof(BlockNF3) == 14 && alignof(BlockNF3) == 2, "nf3 layout is fixed");
static_assert(sizeof(BlockFP4) == 18 && alignof(BlockFP4) == 2, "fp4 layout is fixed");
static_assert(sizeof(BlockFP8E4M3) == 34 && alignof(BlockFP8E4M3) == 2, "fp8_e4m3 layout is fixed");
static_assert(sizeof(BlockFP8E5M2) == 34 && alignof(BlockFP8E5M2) == 2, "fp8_e5m2 layout is fixed");
static_assert(sizeof(BlockF16) == 64 && alignof(BlockF16) == 2, "F16 layout is fixed by GGUF");
static_assert(sizeof(BlockBF16) == 64 && alignof(BlockBF16) == 2, "BF16 layout is fixed by GGUF");

// Level tables of the codebook formats (part of the format: never change them). constexpr
// at namespace scope has internal linkage, so every file gets its own copy (the ISA files
// keep their single exported symbol).
// NormalFloat4 (QLoRA, bitsandbytes' NF4 code), ascending.
constexpr float kNf4Levels[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
// 3-bit NormalFloat (the NF3 code of Intel Neural Compressor / bigdl-llm), ascending.
constexpr float kNf3Levels[8] = {-1.0f, -0.5350227355957031f, -0.2469314038753510f, 0.0f,
                                        0.1833375245332718f, 0.3819939494132996f, 0.6229856610298157f, 1.0f};
// e2m1 (OCP MXFP4 element): codes 0-7 the magnitudes, 8-15 their negatives (8 = +0).
constexpr float kFp4Levels[16] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
                                         0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
// The int8 levels of vec_dot_q8: round(level * 127) for nf4 / nf3 (so weight i is
// taken as kNf4Levels8[q] * d / 127, within 0.0039 * d of the f32 level; docs/quant.md),
// and exactly 2 * level for fp4 (weight = kFp4Levels8[q] * d / 12).
constexpr int8_t kNf4Levels8[16] = {-127, -88, -67, -50, -36, -23, -12, 0, 10, 20, 31, 43, 56, 71, 92, 127};
constexpr int8_t kNf3Levels8[8] = {-127, -68, -31, 0, 23, 49, 79, 127};
constexpr int8_t kFp4Levels8[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// One row per format: X(bigdl-llm name, ggml name, block struct, GGUF type id,
// int8_act, weights per block). Adding a format adds one row here, one block struct above and its kernels.
// Ids 1024+ are bigdl's own (no GGUF / ggml type uses them; llama.cpp cannot load them).
#define BIGDL_QUANT_TYPES(X)                               \
  X(sym_int4, "q4_0", BlockQ4_0, 2, true, 32)              \
  X(asym_int4, "q4_1", BlockQ4_1, 3, true, 32)             \
  X(sym_int5, "q5_0", BlockQ5_0, 6, true, 32)              \
  X(asym_int5, "q5_1", BlockQ5_1, 7, true, 32)             \
  X(sym_int8, "q8_0", BlockQ8_0, 8, true, 32)              \
  X(nf4, "nf4", BlockNF4, 1024, true, 32)                  \
  X(nf3, "nf3", BlockNF3, 1025, true, 32)                  \
  X(fp4, "fp4", BlockFP4, 1026, true, 32)                  \
  X(fp8_e4m3, "fp8_e4m3", BlockFP8E4M3, 1027, false, 32)   \
  X(fp8_e5m2, "fp8_e5m2", BlockFP8E5M2, 1028, false, 32)   \
  X(fp16, "f16", BlockF16, 1, false, 32)                   \
  X(bf16, "bf16", BlockBF16, 30, false, 32)                \
  X(q2_k, "q2_K", BlockQ2K, 10, true, 256)                 \
  X(q3_k, "q3_K", BlockQ3K, 11, true, 256)                 \
  X(q4_k, "q4_K", BlockQ4K, 12, true, 256)                 \
  X(q5_k, "q5_K", BlockQ5K, 13, true, 256)                 \
  X(q6_k, "q6_K", BlockQ6K, 14, true, 256)                 \
  X(q8_k, "q8_K", BlockQ8K, 15, true, 256)                 \
  X(iq4_nl, "iq4_nl", BlockIQ4NL, 20, true, 32)            \
  X(iq4_xs, "iq4_xs", BlockIQ4XS, 23, true, 256)

enum class QType {
#define BIGDL_QUANT_ENUM(name, ggml, Block, id, i8, qk) name,
  BIGDL_QUANT_TYPES(BIGDL_QUANT_ENUM)
#undef BIGDL_QUANT_ENUM
};
#define BIGDL_QUANT_COUNT(name, ggml, Block, id, i8, qk) +1
constexpr int kNumQTypes = 0 BIGDL_QUANT_TYPES(BIGDL_QUANT_COUNT);
#undef BIGDL_QUANT_COUNT

// Kernel signatures. n is the number of weights, a multiple of the type's block size (32,
// or kSuperBlock = 256 for the K-quants and IQ4_XS; not checked in the kernels; gemv
// checks). Blocks are read through the format's struct, so a block
// pointer needs only 2-byte alignment; x / y may have any float alignment.
using QuantizeRowFn = void (*)(const float* x, void* blocks, int64_t n);
using DequantizeRowFn = void (*)(const void* blocks, float* y, int64_t n);
using VecDotFn = float (*)(int64_t n, const void* blocks, const float* x);  // sum_i w_i * x_i

// Which int8 activation blocks a type's integer path reads (ggml's vec_dot_type): one
// BlockQ8A per 32 values, or, for the 256-weight super-block types (the K-quants and
// IQ4_XS), one BlockQ8K per 256 values as llama.cpp uses (its integer sums then run over
// the whole super-block with one float step, and the activations round exactly as
// llama.cpp rounds them; docs/quant.md).
enum class ActQ8 { a32, k256 };

struct QTypeInfo {
  QType type;
  const char* name;       // bigdl-llm name, "sym_int4"
  const char* ggml_name;  // "q4_0"
  int ggml_type;          // GGUF tensor type id
  int64_t block_size;     // weights per block (32, or 256 for the K-quants and IQ4_XS)
  int64_t block_bytes;    // sizeof(block)
  QuantizeRowFn quantize_row;      // reference
  DequantizeRowFn dequantize_row;  // reference
  // Whether vec_dot_q8 serves this type: the integer and codebook formats take
  // int8-rounded activations (ggml's vec_dot_type path); float formats (fp16, bf16,
  // fp8) are only dotted against f32 activations, so GemvAct::int8 falls back to f32 for
  // them. Their vec_dot_q8 entries still exist (never null) but only widen each
  // activation block back to f32 and call vec_dot: correct, not fast.
  bool int8_act = true;
  ActQ8 act = ActQ8::a32;  // k256 for the types with block_size 256
};
const QTypeInfo& qtype_info(QType type);
// Bytes of a row of n weights (n a multiple of the type's block size).
inline int64_t row_bytes(QType type, int64_t n) {
  const QTypeInfo& info = qtype_info(type);
  return n / info.block_size * info.block_bytes;
}

// Typed reference kernels (quant_ref.cpp), e.g. quantize_row_sym_int4_ref.
#define BIGDL_QUANT_DECL(name, ggml, Block, id, i8, qk)                            \
  void quantize_row_##name##_ref(const float* x, Block* y, int64_t n);        \
  void dequantize_row_##name##_ref(const Block* blocks, float* y, int64_t n); \
  float vec_dot_##name##_ref(int64_t n, const Block* blocks, const float* x);
BIGDL_QUANT_TYPES(BIGDL_QUANT_DECL)
#undef BIGDL_QUANT_DECL

// ---- int8 activations (ggml's "vec_dot_type" path) ----
// The activation vector of a gemv is quantized once to these blocks, and the weight
// blocks are then dotted against them with integer SIMD. This is a scratch layout that
// lives only for one gemv (never stored in a file), so it is free to differ from
// ggml's block_q8_0 / block_q8_1: the scale is stored as f32 (no F16C conversion per
// block in the kernels) but holds the fp16 value llama.cpp's Q8_0 would store, so both
// engines round activations alike; `s` carries d * sum(qs) exactly, which the packed
// symmetric kernels use to fold the zero point in; `sm` is llama.cpp's Q8_1 `s` (that
// product from the unrounded d, rounded to fp16), which the asym types' m term uses.
//   bytes: d 0-3 (f32), s 4-7 (f32), sm 8-11 (f32), qs 12-43 (int8, -127..127)
//   Quantization: d0 = max|x| / 127, q = round_half_even(x * (1/d0)) (0 for an all-zero
//   block), d = d0 rounded to fp16, s = d * (float)sum(q), sm = fp16(d0 * (float)sum(q)).
//   x_i is then represented as q_i * d.
struct BlockQ8A {
  float d;
  float s;
  float sm;
  int8_t qs[32];
};
static_assert(sizeof(BlockQ8A) == 44 && alignof(BlockQ8A) == 4, "BlockQ8A layout");

// Quantize n activations (n a multiple of 32) to n/32 BlockQ8A.
using QuantizeActFn = void (*)(const float* x, BlockQ8A* y, int64_t n);
// sum over blocks of (d_w * d_x) * sum_i (q_i - z) qx_i  (+ m_w * sm_x for the asym
// types). The inner sum is exact int32; d_w * d_x is one f32 product per block.
// nf4 / nf3: sum of (d_w * d_x) * sum_i kNf*Levels8[q_i] qx_i, divided by 127 once at the
// end; fp4: the same with kFp4Levels8, divided by 12 at the end. Float formats: per
// block, vec_dot of the weights with the activations widened to q_i * d_x.
using VecDotQ8Fn = float (*)(int64_t n, const void* blocks, const BlockQ8A* x);

void quantize_act_ref(const float* x, BlockQ8A* y, int64_t n);
#define BIGDL_QUANT_DECL_Q8(name, ggml, Block, id, i8, qk) \
  float vec_dot_q8_##name##_ref(int64_t n, const Block* blocks, const BlockQ8A* x);
BIGDL_QUANT_TYPES(BIGDL_QUANT_DECL_Q8)
#undef BIGDL_QUANT_DECL_Q8

// Activations -> BlockQ8K (ggml's quantize_row_q8_K: d = the element of largest |x| /
// -127, q = round_half_even(x / d) capped at 127, bsums = sums of 16 q); and the dot of a
// row of super-block weights with them: per super-block (d_w * d_x) * sum_g sc_g * sum_i
// q_i qx_i (exact int32) - (dmin_w * d_x) * sum_g mn_g * bsum_g.
using QuantizeActKFn = void (*)(const float* x, BlockQ8K* y, int64_t n);
using VecDotQ8KFn = float (*)(int64_t n, const void* blocks, const BlockQ8K* x);
// The same for nx activation rows (row t at x + t * xs) against one weight row:
// y[t * ys] = vec_dot_q8k(n, blocks, x + t * xs), bit for bit, with the weights' levels
// and scales unpacked once per super-block for all of them (prefill).
using VecDotQ8KxFn = void (*)(int64_t n, const void* blocks, const BlockQ8K* x, int64_t nx, int64_t xs, float* y,
                              int64_t ys);
#define BIGDL_QUANT_DECL_Q8K(name, ggml, Block, id, i8, qk) \
  float vec_dot_q8k_##name##_ref(int64_t n, const Block* blocks, const BlockQ8K* x);
BIGDL_QUANT_DECL_Q8K(q2_k, "q2_K", BlockQ2K, 10, true, 256)
BIGDL_QUANT_DECL_Q8K(q3_k, "q3_K", BlockQ3K, 11, true, 256)
BIGDL_QUANT_DECL_Q8K(q4_k, "q4_K", BlockQ4K, 12, true, 256)
BIGDL_QUANT_DECL_Q8K(q5_k, "q5_K", BlockQ5K, 13, true, 256)
BIGDL_QUANT_DECL_Q8K(q6_k, "q6_K", BlockQ6K, 14, true, 256)
BIGDL_QUANT_DECL_Q8K(q8_k, "q8_K", BlockQ8K, 15, true, 256)
BIGDL_QUANT_DECL_Q8K(iq4_xs, "iq4_xs", BlockIQ4XS, 23, true, 256)
#undef BIGDL_QUANT_DECL_Q8K

// One super-block in the integer form vec_dot_q8k works on (quant_k_ref.cpp): the signed
// level q[i] of each weight, per 16-weight group g the integer sub-block scale sc[g] and
// min mn[g] (0 without mins), and the f32 super-block scales, so that
// weight i = (d * sc[i / 16]) * q[i] - (dmin * mn[i / 16]). The packed K-quant GEMM's
// reference (qgemm_ref.cpp) reads blocks through it. type: a k256 type.
struct KBlockInts {
  float d = 0, dmin = 0;
  bool has_min = false;
  int16_t sc[16], mn[16], q[256];
};
void decode_k_ints(QType type, const void* block, KBlockInts& out);

// Per-ISA table, indexed by static_cast<int>(QType).
struct QuantKernels {
  const char* name;  // "scalar", "avx2", "avx512", "avx512vnni"
  DequantizeRowFn dequantize_row[kNumQTypes];
  VecDotFn vec_dot[kNumQTypes];        // weights x f32 activations
  QuantizeActFn quantize_act;          // f32 activations -> BlockQ8A; bit-exact with the reference
  VecDotQ8Fn vec_dot_q8[kNumQTypes];   // weights x int8 activations (BlockQ8A)
  QuantizeActKFn quantize_act_k = nullptr;     // f32 activations -> BlockQ8K; bit-exact with the reference
  VecDotQ8KFn vec_dot_q8k[kNumQTypes] = {};   // weights x BlockQ8K (the ActQ8::k256 types; null for the others)
  VecDotQ8KxFn vec_dot_q8k_x[kNumQTypes] = {};  // the same for several activation rows
};
// Sets a table's quantize_act_k / vec_dot_q8k entries from the k256 kernels a file
// defines (quantize_act_k, vec_dot_q8k_<type>):
//   static const QuantKernels t = [] { QuantKernels k = BIGDL_QUANT_KERNEL_TABLE(...); BIGDL_QUANT_SET_Q8K(k, quantize_act_k); return k; }();
#define BIGDL_QUANT_SET_Q8K(table, quantize_act_k_fn)                                       \
  do {                                                                                     \
    (table).quantize_act_k = quantize_act_k_fn;                                            \
    (table).vec_dot_q8k[static_cast<int>(QType::q2_k)] = vec_dot_q8k_q2_k;                 \
    (table).vec_dot_q8k_x[static_cast<int>(QType::q2_k)] = vec_dot_q8k_x_q2_k; \
    (table).vec_dot_q8k[static_cast<int>(QType::q3_k)] = vec_dot_q8k_q3_k;                 \
    (table).vec_dot_q8k_x[static_cast<int>(QType::q3_k)] = vec_dot_q8k_x_q3_k; \
    (table).vec_dot_q8k[static_cast<int>(QType::q4_k)] = vec_dot_q8k_q4_k;                 \
    (table).vec_dot_q8k_x[static_cast<int>(QType::q4_k)] = vec_dot_q8k_x_q4_k; \
    (table).vec_dot_q8k[static_cast<int>(QType::q5_k)] = vec_dot_q8k_q5_k;                 \
    (table).vec_dot_q8k_x[static_cast<int>(QType::q5_k)] = vec_dot_q8k_x_q5_k; \
    (table).vec_dot_q8k[static_cast<int>(QType::q6_k)] = vec_dot_q8k_q6_k;                 \
    (table).vec_dot_q8k_x[static_cast<int>(QType::q6_k)] = vec_dot_q8k_x_q6_k; \
    (table).vec_dot_q8k[static_cast<int>(QType::q8_k)] = vec_dot_q8k_q8_k;                 \
    (table).vec_dot_q8k_x[static_cast<int>(QType::q8_k)] = vec_dot_q8k_x_q8_k; \
    (table).vec_dot_q8k[static_cast<int>(QType::iq4_xs)] = vec_dot_q8k_iq4_xs;             \
    (table).vec_dot_q8k_x[static_cast<int>(QType::iq4_xs)] = vec_dot_q8k_x_iq4_xs; \
  } while (0)

// The initializer of a QuantKernels table from the kernels the including file defines for
// every type (dequantize_<type>, vec_dot_<type>, vec_dot_q8_<type>) and its activation
// quantizer: `static const QuantKernels t = BIGDL_QUANT_KERNEL_TABLE("avx2", quantize_act);`
#define BIGDL_QUANT_TABLE_DEQ(name, ggml, Block, id, i8, qk) dequantize_##name,
#define BIGDL_QUANT_TABLE_DOT(name, ggml, Block, id, i8, qk) vec_dot_##name,
#define BIGDL_QUANT_TABLE_DOT_Q8(name, ggml, Block, id, i8, qk) vec_dot_q8_##name,
#define BIGDL_QUANT_KERNEL_TABLE(isa_name, quantize_act_fn)                                    \
  {isa_name, {BIGDL_QUANT_TYPES(BIGDL_QUANT_TABLE_DEQ)}, {BIGDL_QUANT_TYPES(BIGDL_QUANT_TABLE_DOT)}, \
   quantize_act_fn, {BIGDL_QUANT_TYPES(BIGDL_QUANT_TABLE_DOT_Q8)}}

// The table for the ISA that cpu_kernels() uses (so BIGDL_ISA caps both the same way).
const QuantKernels& quant_kernels();
// A specific table, or nullptr when the CPU (or this build) lacks the ISA.
const QuantKernels* quant_kernels_for(Isa isa);
// Per-ISA tables; never call the SIMD ones directly (go through quant_kernels_for).
const QuantKernels& quant_kernels_ref();
const QuantKernels& quant_kernels_avx2();
const QuantKernels& quant_kernels_avx512();
// The avx512 table with VNNI (vpdpbusd) int8-activation kernels: quantize_act and
// vec_dot_q8 of the int8_act types; the f32 entries are the avx512 ones.
const QuantKernels& quant_kernels_avx512vnni();

// y[r] = sum_c W[r, c] * x[c] for a row-major [rows, cols] matrix of `type` blocks
// (row r starts at byte r * row_bytes(type, cols)). cols must be a multiple of the
// type's block size;
// throws bigdl::ValueError otherwise. Single-threaded; one vec_dot per row.
void gemv(QType type, int64_t rows, int64_t cols, const void* w, const float* x, float* y,
          const QuantKernels& kernels = quant_kernels());

// How gemv_parallel treats the activations.
enum class GemvAct {  // int8 means f32 for a type whose QTypeInfo::int8_act is false
  f32,   // vec_dot per row: the result of gemv (no activation rounding)
  int8,  // x quantized once to the type's int8 blocks (BlockQ8A, or BlockQ8K for the
         // ActQ8::k256 types), then vec_dot_q8 / vec_dot_q8k per row (about 5e-3
         // relative error from the int8 rounding of x; see docs/quant.md)
};
// As gemv, with rows split over the library's thread pool (detail::parallel_for, so
// get_num_threads() threads) in chunks of at least 128 KiB of weights; small matrices
// run inline on the caller. Each y[r] is computed by one thread with the same kernel,
// so the result does not depend on the thread count. Same errors as gemv
// ("[quant::gemv] ...").
void gemv_parallel(QType type, int64_t rows, int64_t cols, const void* w, const float* x, float* y,
                   GemvAct act, const QuantKernels& kernels = quant_kernels());

}  // namespace bigdl::detail::quant
