// Row-interleaved ("x8") copies of Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 / nf4 / fp4 / IQ4_NL and Q4_K /
// Q5_K / Q6_K / IQ4_XS matrices and the int8-activation GEMM/GEMV that reads them: the
// decode and prefill hot path of bigdl-llm.
//
// Why: the in-place kernels of quant.h (vec_dot_q8) treat one row at a time, so every
// 32-weight block pays its own scale conversion, int32 reduction and float FMA (about
// 17 vector ops per Q4 block; 2 ns per block on Zen 3, a third of the memory bandwidth).
// Interleaving 8 rows puts row r of a block column in 32-bit lane r of a vector, so
// one maddubs works on 8 rows at once, the 8 rows' int16 partial sums stay in lanes
// and the 8 scales convert with one vcvtph2ps: about 6 ops per block.
//
// Layout. A packed matrix holds rows [0, 8 * (rows / 8)) as groups of 8 consecutive
// rows; a group is nb = cols / block_size tiles in block-column order (32 weights a block,
// 256 for the super-block types), each tile the 8 rows' blocks of one column, permuted
// byte for byte (packing is lossless, unpack_row restores the original blocks):
//
//   type   tile bytes  layout (byte offsets)
//   Q4_0   144         d[8] fp16 0-15, qs 16-143
//   Q4_1   160         d[8] fp16 0-15, m[8] fp16 16-31, qs 32-159
//   Q5_0   176         d[8] fp16 0-15, qh2 16-47, qs 48-175
//   Q5_1   192         d[8] fp16 0-15, m[8] fp16 16-31, qh2 32-63, qs 64-191
//   Q8_0   272         d[8] fp16 0-15, qs 16-271
//   nf4    144         as Q4_0 (the nibbles are codes)
//   fp4    144         as Q4_0
//   iq4_nl 144         as Q4_0 (codes into kIq4nlLevels)
//   Q4_K   1152        d[8] 0-15, dmin[8] 16-31, scales 32-127 (12 bytes a row, lanes),
//                      qs 128-1151 (128 bytes a row, lanes)
//   Q5_K   1408        as Q4_K with qh 128-383 (32 bytes a row, lanes) before qs 384-1407
//   Q6_K   1680        d[8] 0-15, scales 16-143 (16 int8 a row, lanes), qh 144-655 (64
//                      bytes a row, lanes), ql 656-1679 (128 bytes a row, lanes)
//   IQ4_XS 1104        d[8] 0-15, sc 16-79 (the 8 sub-block scales ls - 32 as int8, lanes:
//                      decoded at packing from scales_h / scales_l), qs 80-1103 (lanes)
//
//   d[r] / m[r] are row r's block scale / minimum (fp16, as stored). A "lanes" field of B
//   bytes a row is B / 4 vectors of 32 bytes; in vector v, bytes 4r..4r+3 are bytes
//   4v..4v+3 of row r's field, so one 256-bit load reads the same 4 bytes of all 8 rows.
//   The super-block types' fields keep ggml's meaning (quant.h), byte for byte.
//   qs of the 32-weight types is cut in 32-byte vectors; in
//   vector j, bytes 4r..4r+3 are bytes 4j..4j+3 of row r's block qs (4- and 5-bit: j =
//   0..3, each byte carrying the low 4 bits of weights i and i + 16 in its nibbles as in
//   GGUF; Q8_0: j = 0..7, int8 weights 4j..4j+3). qh2 holds the 5-bit types' fifth bits
//   regrouped so that one AND and one shift give the bits of a whole qs vector: byte
//   4r + b has in bit j (j = 0..3) the fifth bit of weight 4j + b of row r and in bit
//   4 + j that of weight 16 + 4j + b (a bit permutation of the row's 32-bit qh).
//
// Arithmetic (identical in the reference and in every SIMD variant, so they agree bit
// for bit): for each row r and activation row t (BlockQ8A, quant.h), over the blocks k
// in order,
//   isum  = sum_i q_i * qx_i  (exact int32; q = the stored level: 0..15 for Q4_x,
//                              0..31 for Q5_x, -128..127 for Q8_0)
//   acc   = fma(f16(d) * x.d, float(isum), acc)
//   corr  = fma(f16(d), x.s, corr)   (Q4_0 / Q5_0: the zero point, 8 / 16)
//   corr  = fma(f16(m), x.sm, corr)  (Q4_1 / Q5_1: the minimum; sm is Q8_1's fp16 s)
// and y = fma(-8, corr, acc) for Q4_0, fma(-16, corr, acc) for Q5_0, acc + corr for
// Q4_1 / Q5_1, acc for Q8_0, acc / 127 for nf4, acc / 12 for fp4 and acc for iq4_nl,
// whose q is the int8 level of the code (kNf4Levels8 / kFp4Levels8 / kIq4nlLevels,
// quant.h) as in vec_dot_q8. This is the
// sum vec_dot_q8 computes, in another f32 order, so results differ from it only by f32
// rounding (~1e-7 relative).
//
// The super-block types (Q4_K, Q5_K, Q6_K, IQ4_XS) take BlockQ8K activations (one per
// 256 weights, QTypeInfo::act == k256) and, per row r, activation row t and super-block
// k in order, with the integer sub-block scales sc_g and mins mn_g and the signed levels
// q_i of quant_k_ref.cpp's decoded form (g = i / 16):
//   isum = sum_g sc_g * sum_{i in g} q_i * qx_i   (exact int32)
//   msum = sum_g mn_g * x.bsums[g]                (exact int32; Q4_K / Q5_K)
//   acc  = fma(f16(dmin) * x.d, -float(msum), acc)  (Q4_K / Q5_K)
//   acc  = fma(f16(d) * x.d, float(isum), acc)
// and y = acc: vec_dot_q8k's terms, summed in f32 instead of double (one accumulator, so
// the 4-row prefill kernel keeps its sums in registers). From 8 activation rows on, the
// SIMD gemm of these types first expands a few tiles at a time into one level byte per
// weight plus ready scale vectors (on the stack, in L1) and runs all rows over that copy:
// the bit unpacking is paid once per tile instead of once per 4 rows (Q5_K / Q6_K prefill
// kernels +40% / +25% on Zen 3; benchmarks/README.md). Same sums, same order, same bits.
#pragma once

#include <cstdint>

#include "backend/cpu/quant/quant.h"

namespace bigdl::detail::quant {

constexpr int64_t kPackRows = 8;

// Whether `type` has an x8 layout (sym_int4, asym_int4, sym_int5, asym_int5, sym_int8, nf4,
// fp4, iq4_nl, q4_k, q5_k, q6_k, iq4_xs).
bool packable(QType type);
// Bytes of one tile (8 rows x one block column); 0 when !packable(type).
int64_t packed_tile_bytes(QType type);
// Bytes of the packed form of the first 8 * (rows / 8) rows of a [rows, cols] matrix.
int64_t packed_bytes(QType type, int64_t rows, int64_t cols);
// Packs rows [0, 8 * (rows / 8)) of a row-major matrix of `type` blocks (row r at byte
// r * row_bytes(type, cols) of src) into dst (packed_bytes of them). cols a multiple of
// the type's block size.
void pack_rows(QType type, const void* src, int64_t rows, int64_t cols, void* dst);
// Row r of a packed matrix back as row_bytes(type, cols) bytes of its original blocks.
void unpack_row(QType type, const void* packed, int64_t cols, int64_t r, void* dst);

// One group (8 packed rows, nb tiles) times n activation rows: x holds n rows of nb
// activation blocks of the type's QTypeInfo::act (BlockQ8A, or BlockQ8K for k256; row t
// at block t * nb); y[t * ldy + r] = row r of the group dotted with row t (r = 0..7).
// n >= 1.
using PackedGemmFn = void (*)(int64_t nb, const void* group, const void* x, int64_t n, float* y, int64_t ldy);

// Decode over two groups at once (one activation row): ya = group_a x, yb = group_b x,
// bit for bit what gemm(nb, group_a, x, 1, ya, 0) and gemm(nb, group_b, x, 1, yb, 0) give.
// The SIMD kernels read tile k of both groups in each step, so a thread streams two
// regions of memory in step: on the Zen 3 of benchmarks/README.md that reads faster than
// one stream (1.1B Q4_0 decode +15% at 1 thread; docs/llm.md).
using PackedGemv2Fn = void (*)(int64_t nb, const void* group_a, const void* group_b, const void* x, float* ya,
                               float* yb);

// Prefill over two groups at once: ya = group_a x and yb = group_b x for n activation
// rows (y as in PackedGemmFn, ldy shared), bit for bit what gemm(nb, group_a, x, n, ya,
// ldy) and gemm(nb, group_b, x, n, yb, ldy) give. Where a table has one, a kernel can do
// both groups' rows in each instruction (the AVX-512 table's super-block types: 16 rows
// in 512-bit vectors); callers with two groups to do use it when it is there.
using PackedGemm2Fn = void (*)(int64_t nb, const void* group_a, const void* group_b, const void* x, int64_t n,
                               float* ya, float* yb, int64_t ldy);

// The packed types, in the order make_packed_kernels takes their kernels.
constexpr QType kPackedTypes[] = {QType::sym_int4, QType::asym_int4, QType::sym_int5, QType::asym_int5,
                                   QType::sym_int8,  QType::nf4,       QType::fp4,      QType::iq4_nl,
                                   QType::q4_k,      QType::q5_k,      QType::q6_k,     QType::iq4_xs};
constexpr int kNumPackedTypes = 12;

struct PackedKernels {
  const char* name;                    // "scalar", "avx2", "avx512vnni"
  PackedGemmFn gemm[kNumQTypes];       // nullptr for the types without an x8 layout
  PackedGemv2Fn gemv2[kNumQTypes];     // likewise
  PackedGemm2Fn gemm2[kNumQTypes];     // nullptr where the table has none (then gemm per group)
};

// A table from the kernels of the kPackedTypes (in that order); the other types' entries
// null, and every gemm2 null (a table that has some sets them after). Defined in the baseline file qgemm_ref.cpp, so the ISA files call it, not inline it.
PackedKernels make_packed_kernels(const char* name, const PackedGemmFn (&gemm)[kNumPackedTypes],
                                  const PackedGemv2Fn (&gemv2)[kNumPackedTypes]);

// The table for chosen_isa() (BIGDL_ISA applies): an AVX-512 machine without VNNI runs
// the AVX2 table (the kernels are 256-bit); one with VNNI runs the avx512vnni table.
const PackedKernels& packed_kernels();
// A specific table, or nullptr when the CPU (or this build) lacks the ISA.
const PackedKernels* packed_kernels_for(Isa isa);
const PackedKernels& packed_kernels_ref();
const PackedKernels& packed_kernels_avx2();
const PackedKernels& packed_kernels_avx512vnni();

}  // namespace bigdl::detail::quant
