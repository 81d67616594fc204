// AVX-512 VNNI packed int8-activation GEMM over x8-interleaved Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 / nf4 / fp4 /
// iq4_nl and Q4_K / Q5_K / Q6_K / IQ4_XS (qgemm.h): qgemm_x86.inc and qgemm_k_x86.inc
// compiled with VNNI, so every u8 x s8 step is one vpdpbusd on 256-bit vectors
// (AVX512VL; the super-block types sum a whole scale group in int32 and scale it with
// vpmulld, IQ4_XS with its levels biased to unsigned). Same int32 sums and f32
// operations as the AVX2 and scalar kernels, so the results are bit-identical to theirs.
//
// Built with the AVX-512 flags plus -mavx512vnni (CMake, *_avx512vnni.cpp); reached only
// through packed_kernels() / packed_kernels_for(Isa::avx512vnni) after cpuid. Same rules
// as ../kernels_avx2.cpp: intrinsics and anonymous-namespace code only.
#if !defined(__AVX512VNNI__) || !defined(__AVX512VL__) || !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "qgemm_avx512vnni.cpp must be compiled with -mavx512vnni -mavx512vl -mavx2 -mfma -mf16c (CMake adds them)"
#endif

#include "backend/cpu/avx512_intrin.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "backend/cpu/quant/qgemm.h"

namespace bigdl::detail::quant {
namespace {
#include "backend/cpu/quant/qgemm_x86.inc"
}  // namespace

const PackedKernels& packed_kernels_avx512vnni() {
  static const PackedKernels table = [] {
    PackedKernels t =
        make_packed_kernels("avx512vnni", {gemm_sym_int4, gemm_asym_int4, gemm_sym_int5, gemm_asym_int5, gemm_sym_int8, gemm_nf4, gemm_fp4, gemm_iq4_nl,
                             gemm_q4_k, gemm_q5_k, gemm_q6_k, gemm_iq4_xs},
                            {gemv2_sym_int4, gemv2_asym_int4, gemv2_sym_int5, gemv2_asym_int5, gemv2_sym_int8, gemv2_nf4, gemv2_fp4, gemv2_iq4_nl,
                             gemv2_q4_k, gemv2_q5_k, gemv2_q6_k, gemv2_iq4_xs});
    // The super-block types' prefill in 512-bit vectors over two groups (k_gemm2).
    t.gemm2[static_cast<int>(QType::q4_k)] = gemm2_q4_k;
    t.gemm2[static_cast<int>(QType::q5_k)] = gemm2_q5_k;
    t.gemm2[static_cast<int>(QType::q6_k)] = gemm2_q6_k;
    t.gemm2[static_cast<int>(QType::iq4_xs)] = gemm2_iq4_xs;
    return t;
  }();
  return table;
}

}  // namespace bigdl::detail::quant
