// AVX-512 VNNI int8-activation kernels for the low-bit formats (quant.h).
//
// Built with the AVX-512 flags plus -mavx512vnni (CMake, *_avx512vnni.cpp); reached only
// through quant_kernels()/quant_kernels_for(Isa::avx512vnni) after cpuid reports
// AVX512_VNNI. Same rules as quant_avx2.cpp: intrinsics and anonymous-namespace code
// only. The int8 kernels are quant_q8_x86.inc compiled with VNNI, where each
// 4-product dot step is one vpdpbusd; their int32 block sums, and so their results, are
// bit-identical to the AVX2 and scalar kernels. The f32-activation entries (dequantize,
// vec_dot) and the float formats' vec_dot_q8 are taken from the avx512 table: VNNI has
// nothing for them. So are the K-quants' and i-quants' kernels (vec_dot_q8, vec_dot_q8k):
// quant_k_x86.inc multiplies int16 pair sums (maddubs) by the 16-weight scales in one
// madd, and vpdpbusd's int32 sums of 4 would need a different scale step; a VNNI
// variant of these row kernels is not written (the packed kernels the engine's matmul
// uses, qgemm_k_x86.inc, have one; docs/quant.md).
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__) || !defined(__AVX512DQ__) || \
    !defined(__AVX512VNNI__) || !defined(__FMA__) || !defined(__F16C__)
#error "quant_avx512vnni.cpp must be compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mfma -mf16c"
#endif

#include "backend/cpu/avx512_intrin.h"

#include <cstdint>

#include "backend/cpu/quant/quant.h"

namespace bigdl::detail::quant {
namespace {
#define BIGDL_Q8_INT_ONLY
#include "backend/cpu/quant/quant_q8_x86.inc"
#undef BIGDL_Q8_INT_ONLY
}  // namespace

const QuantKernels& quant_kernels_avx512vnni() {
  static const QuantKernels table = [] {
    QuantKernels t = quant_kernels_avx512();
    t.name = "avx512vnni";
    t.quantize_act = quantize_act;
    // The int8_act formats (quant.h); a new one must be added here and to the .inc.
    const auto set = [&t](QType type, VecDotQ8Fn fn) { t.vec_dot_q8[static_cast<int>(type)] = fn; };
    set(QType::sym_int4, vec_dot_q8_sym_int4);
    set(QType::asym_int4, vec_dot_q8_asym_int4);
    set(QType::sym_int5, vec_dot_q8_sym_int5);
    set(QType::asym_int5, vec_dot_q8_asym_int5);
    set(QType::sym_int8, vec_dot_q8_sym_int8);
    set(QType::nf4, vec_dot_q8_nf4);
    set(QType::nf3, vec_dot_q8_nf3);
    set(QType::fp4, vec_dot_q8_fp4);
    return t;
  }();
  return table;
}

}  // namespace bigdl::detail::quant
