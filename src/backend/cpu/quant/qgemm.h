// Row-interleaved ("x8") copies of Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 / nf4 / fp4 matrices and the int8-activation
// GEMM/GEMV that reads them: the decode and prefill hot path of bigdl-llm.
//
// Why: the in-place kernels of quant.h (vec_dot_q8) treat one row at a time, so every
// 32-weight block pays its own scale conversion, int32 reduction and float FMA (about
// 17 vector ops per Q4 block; 2 ns per block on Zen 3, a third of the memory bandwidth).
// Interleaving 8 rows puts row r of a block column in 32-bit lane r of a vector, so
// one maddubs works on 8 rows at once, the 8 rows' int16 partial sums stay in lanes
// and the 8 scales convert with one vcvtph2ps: about 6 ops per block.
//
// Layout. A packed matrix holds rows [0, 8 * (rows / 8)) as groups of 8 consecutive
// rows; a group is nb = cols / 32 tiles in block-column order, each tile the 8 rows'
// blocks of one column, permuted byte for byte (packing is lossless, unpack_row
// restores the original blocks):
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
//
//   d[r] / m[r] are row r's block scale / minimum. qs is cut in 32-byte vectors; in
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
#pragma once

#include <cstdint>

#include "backend/cpu/quant/quant.h"

namespace bigdl::detail::quant {

constexpr int64_t kPackRows = 8;

// Whether `type` has an x8 layout (sym_int4, asym_int4, sym_int5, asym_int5, sym_int8, nf4,
// fp4, iq4_nl).
bool packable(QType type);
// Bytes of one tile (8 rows x 32 weights); 0 when !packable(type).
int64_t packed_tile_bytes(QType type);
// Bytes of the packed form of the first 8 * (rows / 8) rows of a [rows, cols] matrix.
int64_t packed_bytes(QType type, int64_t rows, int64_t cols);
// Packs rows [0, 8 * (rows / 8)) of a row-major matrix of `type` blocks (row r at byte
// r * row_bytes(type, cols) of src) into dst (packed_bytes of them). cols a multiple of 32.
void pack_rows(QType type, const void* src, int64_t rows, int64_t cols, void* dst);
// Row r of a packed matrix back as row_bytes(type, cols) bytes of its original blocks.
void unpack_row(QType type, const void* packed, int64_t cols, int64_t r, void* dst);

// One group (8 packed rows, nb tiles) times n activation rows: x holds n rows of nb
// BlockQ8A (row t at x + t * nb); y[t * ldy + r] = row r of the group dotted with row t
// (r = 0..7). n >= 1.
using PackedGemmFn = void (*)(int64_t nb, const void* group, const BlockQ8A* x, int64_t n, float* y, int64_t ldy);

// Decode over two groups at once (one activation row): ya = group_a x, yb = group_b x,
// bit for bit what gemm(nb, group_a, x, 1, ya, 0) and gemm(nb, group_b, x, 1, yb, 0) give.
// The SIMD kernels read tile k of both groups in each step, so a thread streams two
// regions of memory in step: on the Zen 3 of benchmarks/README.md that reads faster than
// one stream (1.1B Q4_0 decode +15% at 1 thread; docs/llm.md).
using PackedGemv2Fn = void (*)(int64_t nb, const void* group_a, const void* group_b, const BlockQ8A* x, float* ya,
                               float* yb);

// The packed types, in the order make_packed_kernels takes their kernels.
constexpr QType kPackedTypes[] = {QType::sym_int4, QType::asym_int4, QType::sym_int5, QType::asym_int5,
                                   QType::sym_int8,  QType::nf4,       QType::fp4,      QType::iq4_nl};
constexpr int kNumPackedTypes = 8;

struct PackedKernels {
  const char* name;                    // "scalar", "avx2", "avx512vnni"
  PackedGemmFn gemm[kNumQTypes];       // nullptr for the types without an x8 layout
  PackedGemv2Fn gemv2[kNumQTypes];     // likewise
};

// A table from the kernels of the kPackedTypes (in that order); the other types' entries
// null. Defined in the baseline file qgemm_ref.cpp, so the ISA files call it, not inline it.
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
