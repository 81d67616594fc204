// The run-time choice of a low-bit kernel table (quant.h): maps an ISA to its table. The
// ISA checks themselves live in ../dispatch.cpp (detect_isa, chosen_isa). Its own file so
// that the reference table (quant_ref.cpp) links without the SIMD files (the fuzz build,
// tests/fuzz/CMakeLists.txt).
#include "backend/cpu/kernels.h"
#include "backend/cpu/quant/quant.h"

namespace bigdl::detail::quant {

const QuantKernels* quant_kernels_for(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(detect_isa())) return nullptr;
  switch (isa) {
    case Isa::scalar:
      return &quant_kernels_ref();
    case Isa::avx2:
      return &quant_kernels_avx2();
    case Isa::avx512:
      return &quant_kernels_avx512();
    case Isa::avx512vnni:
      return &quant_kernels_avx512vnni();
  }
  return nullptr;
}

const QuantKernels& quant_kernels() {
  static const QuantKernels* const table = quant_kernels_for(chosen_isa());
  return *table;
}

}  // namespace bigdl::detail::quant
