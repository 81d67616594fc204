// Importance-weighted quantization (llama.cpp's imatrix) for the formats whose ggml
// quantizer can use one. The plain reference quantizers of the K-quants and i-quants
// (quantize_row_q2_k_ref ... quantize_row_iq4_xs_ref) are declared in quant.h with the
// others; all of them live in quantize_k_ref.cpp, apart from the 32-weight types'
// (quant_ref.cpp).
#pragma once

#include <cstdint>

#include "backend/cpu/quant/quant.h"

namespace bigdl::detail::quant {

// Quantize one row of n weights of `type` into y (row_bytes(type, n) bytes), weighting
// each column's error by qw[c] (n non-negative floats, one per column of the row, as
// llama.cpp's imatrix gives them). The bytes are those of llama.cpp's
// ggml_quantize_chunk(type, x, y, 0, 1, n, qw):
//   q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, and sym_int4 / asym_int4 / sym_int5 /
//   asym_int5 (Q4_0, Q4_1, Q5_0, Q5_1): ggml's imatrix-aware search (its
//   quantize_row_*_impl); qw == nullptr gives the type's reference quantizer, which for
//   iq4_nl / iq4_xs is the same search with x^2 weights.
//   q8_k, sym_int8 (Q8_0) and every other type: qw is ignored (as ggml ignores it for
//   Q8_0) and the reference quantizer runs.
// Weight of column c: qw[c] * sqrt(sigma2 + x[c]^2), sigma2 from the mean square of x over
// the 256-weight super-block (Q2_K..Q5_K, IQ4_XS), the 32-weight block (IQ4_NL) or the
// whole row (Q4_0..Q5_1: there, quantizing a row in pieces changes the bytes); Q6_K uses
// qw[c] alone.
// n must be a multiple of the type's block size (throws bigdl::ValueError otherwise).
void quantize_row_imp(QType type, const float* x, void* y, int64_t n, const float* qw);

}  // namespace bigdl::detail::quant
