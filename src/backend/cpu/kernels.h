// CPU f32 kernels behind one run-time dispatch table.
//
// Every kernel has a plain scalar reference (kernels_ref.cpp) that is the spec;
// AVX2 (kernels_avx2.cpp) and AVX-512 (kernels_avx512.cpp) variants fill the same
// table and are tested element by element against the reference
// (tests/kernels/). The table is chosen once, at first use, from cpuid; tests can
// ask for any table the machine supports.
//
// All pointers are to contiguous float arrays of length n; outputs may alias inputs.
#pragma once

#include <cstdint>

namespace bigdl::detail {

// Ordered: each level has everything the one before it has. avx512vnni adds only
// integer dot-product instructions (vpdpbusd), so its f32 table is the avx512 one; the
// low-bit int8 kernels (quant/) have their own VNNI tables.
enum class Isa { scalar = 0, avx2 = 1, avx512 = 2, avx512vnni = 3 };
// Every Isa, in order (tests loop over it).
constexpr Isa kAllIsas[] = {Isa::scalar, Isa::avx2, Isa::avx512, Isa::avx512vnni};

// erf's two polynomials, shared by the SIMD files (kernels_avx2.cpp, kernels_avx512.cpp;
// constexpr at namespace scope: each file gets its own copy). Highest degree first, for
// Horner: |x| < 0.921875: erf = x + x * P(x^2); up to 3.925: erf = 1 - exp(-Q(|x|)).
// Least-squares fits in double on Chebyshev-spaced points, rounded to float.
constexpr float kErfSmallP[7] = {8.432359755e-05f, -8.158282144e-04f, 5.202490836e-03f, -2.686002664e-02f,
                                 1.128370762e-01f, -3.761263490e-01f, 1.283791661e-01f};
constexpr float kErfLargeQ[9] = {-1.641717745e-06f, 4.611007535e-05f, -5.969185149e-04f,
                                 4.758588038e-03f,  -2.641389146e-02f, 1.100596339e-01f,
                                 6.318559051e-01f,  1.130211234e+00f,  -3.135221195e-04f};

struct CpuKernels {
  const char* name;
  // binary elementwise: out[i] = a[i] op b[i]
  void (*add)(const float* a, const float* b, float* out, int64_t n);
  void (*sub)(const float* a, const float* b, float* out, int64_t n);
  void (*mul)(const float* a, const float* b, float* out, int64_t n);
  void (*div)(const float* a, const float* b, float* out, int64_t n);
  // out[i] = a[i] op s
  void (*add_scalar)(const float* a, float s, float* out, int64_t n);
  void (*mul_scalar)(const float* a, float s, float* out, int64_t n);
  // y[i] += alpha * x[i]
  void (*axpy)(float alpha, const float* x, float* y, int64_t n);
  // unary elementwise
  void (*exp)(const float* a, float* out, int64_t n);
  void (*log)(const float* a, float* out, int64_t n);
  void (*tanh)(const float* a, float* out, int64_t n);
  void (*sigmoid)(const float* a, float* out, int64_t n);
  void (*erf)(const float* a, float* out, int64_t n);  // GELU (erf form)
  void (*relu)(const float* a, float* out, int64_t n);
  // out[i] = grad[i] * (x[i] > 0)
  void (*relu_backward)(const float* grad, const float* x, float* out, int64_t n);
  // reductions over n elements
  float (*sum)(const float* a, int64_t n);
  float (*max)(const float* a, int64_t n);
  float (*dot)(const float* a, const float* b, int64_t n);
  // numerically stable softmax / log-softmax of one row of length n (out may be a: in place)
  void (*softmax_row)(const float* a, float* out, int64_t n);
  void (*log_softmax_row)(const float* a, float* out, int64_t n);
  // dtype conversion of n values (IEEE half / bfloat16 stored as uint16_t)
  void (*f16_to_f32)(const uint16_t* a, float* out, int64_t n);
  void (*f32_to_f16)(const float* a, uint16_t* out, int64_t n);  // round to nearest even
  void (*bf16_to_f32)(const uint16_t* a, float* out, int64_t n);
  void (*f32_to_bf16)(const float* a, uint16_t* out, int64_t n);  // round to nearest even, NaN stays NaN
};

// The best table this CPU supports (cached after the first call).
const CpuKernels& cpu_kernels();
// A specific table, or nullptr when this CPU (or this build) lacks the ISA
// (cpu_kernels_for(Isa::avx512vnni) is the avx512 table).
const CpuKernels* cpu_kernels_for(Isa isa);
// Best ISA that cpuid reports and the OS enables (XSAVE state checked).
Isa detect_isa();
// The ISA every dispatched table uses: min(detect_isa(), BIGDL_ISA); chosen once.
// Throws bigdl::ValueError for a BIGDL_ISA that names no ISA.
Isa chosen_isa();
const char* isa_name(Isa isa);
// True when the CPU has bf16 arithmetic (AVX-512 BF16 or AMX-BF16), the OS saves its
// registers and BIGDL_ISA does not cap the kernels below avx512 (Nano's bf16 runs only then).
bool cpu_has_native_bf16();

// Per-ISA tables, defined in their own translation units.
const CpuKernels& kernels_ref();
const CpuKernels& kernels_avx2();
const CpuKernels& kernels_avx512();

}  // namespace bigdl::detail
