// bf16 matrix products through oneDNN (internal; used by src/core/linalg.cpp under bf16
// autocast, include/bigdl/tensor.h).
//
// C[n, m] = A[n, k] @ B[k, m] (+ C when beta is 1): A and B are f32 in BLAS's row-major
// layout (a leading dimension each, trans = the stored matrix is the transpose), rounded to
// bf16 (nearest even) by the reorder into the kernel's layout; the kernel sums the bf16
// products in f32 and writes f32 C with leading dimension ldc. Native bf16 only (the caller
// checks native_bf16()). The rows of C are split over get_num_threads() shards of our pool,
// each a single-threaded primitive (onednn_common.h says why); primitives are cached per
// shape.
#pragma once

#include <cstdint>

namespace bigdl::detail {

void bf16_gemm(int64_t n, int64_t m, int64_t k, const float* a, int64_t lda, bool ta, const float* b, int64_t ldb, bool tb,
               float* c, int64_t ldc, float beta);

}  // namespace bigdl::detail
