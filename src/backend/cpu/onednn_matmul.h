// Matrix products through oneDNN (internal; used by src/core/linalg.cpp): bf16 under bf16
// autocast (include/bigdl/tensor.h), and batches of small f32 products.
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

// A batch of f32 products C_i[n, m] = A_i[n, k] @ B_i[k, m], i < batch: A_i starts at
// a + offs_a[i], laid out as bf16_gemm's A (lda, ta); B_i likewise;
// C_i is contiguous at c + i * n * m. The batch is split over our pool, each product one
// single-threaded oneDNN f32 matmul (cached per shape): attention's many small products
// (MiniLM: 384 of 128 x 32 x 128 per layer at batch 32) ran 3x slower as one threaded
// BLAS call each.
void f32_batched_gemm(int64_t batch, int64_t n, int64_t m, int64_t k, const float* a, const int64_t* offs_a, int64_t lda, bool ta,
                      const float* b, const int64_t* offs_b, int64_t ldb, bool tb, float* c);

}  // namespace bigdl::detail
