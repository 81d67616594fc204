// AVX2 packed int8-activation GEMM over x8-interleaved Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 / nf4 / fp4 / iq4_nl and
// Q4_K / Q5_K / Q6_K / IQ4_XS (qgemm.h);
// the kernels are qgemm_x86.inc.
//
// Built with -mavx2 -mfma -mf16c (CMake, *_avx2.cpp); reached only through
// packed_kernels() after cpuid. Same rules as ../kernels_avx2.cpp: intrinsics and
// anonymous-namespace code only (the included templates have internal linkage).
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "qgemm_avx2.cpp must be compiled with -mavx2 -mfma -mf16c (CMake adds them for *_avx2.cpp)"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "backend/cpu/quant/qgemm.h"

namespace bigdl::detail::quant {
namespace {
#include "backend/cpu/quant/qgemm_x86.inc"
}  // namespace

const PackedKernels& packed_kernels_avx2() {
  static const PackedKernels table =
      make_packed_kernels("avx2", {gemm_sym_int4, gemm_asym_int4, gemm_sym_int5, gemm_asym_int5, gemm_sym_int8, gemm_nf4, gemm_fp4, gemm_iq4_nl,
                           gemm_q4_k, gemm_q5_k, gemm_q6_k, gemm_iq4_xs},
                          {gemv2_sym_int4, gemv2_asym_int4, gemv2_sym_int5, gemv2_asym_int5, gemv2_sym_int8, gemv2_nf4, gemv2_fp4, gemv2_iq4_nl,
                           gemv2_q4_k, gemv2_q5_k, gemv2_q6_k, gemv2_iq4_xs});
  return table;
}

}  // namespace bigdl::detail::quant
