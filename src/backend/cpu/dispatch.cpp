// Run-time choice of the CPU kernel table: the one place that knows which ISAs exist.
//
// A table is usable when cpuid reports every instruction set its translation unit
// was compiled for AND the OS saves the matching register state on context switches
// (XCR0, read with xgetbv). BIGDL_ISA=scalar|avx2|avx512|avx512vnni caps the choice made by
// cpu_kernels(); asking for more than the CPU has falls back to what it has.
#include <cstdlib>
#include <cstring>

#include "backend/cpu/kernels.h"
#include "bigdl/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define BIGDL_X86 1
#endif

namespace bigdl::detail {
namespace {

#if defined(BIGDL_X86)
// xgetbv needs no -mxsave when written as asm; only call it when cpuid says OSXSAVE.
uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

Isa detect_isa_uncached() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return Isa::scalar;
  const bool fma = ecx & (1u << 12);
  const bool osxsave = ecx & (1u << 27);
  const bool avx = ecx & (1u << 28);
  const bool f16c = ecx & (1u << 29);
  if (!(osxsave && avx && fma && f16c)) return Isa::scalar;

  const uint64_t xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;    // XMM and YMM state
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;  // plus opmask, ZMM_Hi256, Hi16_ZMM
  if (!os_ymm) return Isa::scalar;

  if (__get_cpuid_max(0, nullptr) < 7) return Isa::scalar;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool avx2 = ebx & (1u << 5);
  const bool avx512f = ebx & (1u << 16);
  const bool avx512dq = ebx & (1u << 17);
  const bool avx512bw = ebx & (1u << 30);
  const bool avx512vl = ebx & (1u << 31);
  if (!avx2) return Isa::scalar;
  const bool avx512vnni = ecx & (1u << 11);
  if (os_zmm && avx512f && avx512dq && avx512bw && avx512vl) return avx512vnni ? Isa::avx512vnni : Isa::avx512;
  return Isa::avx2;
}

// AVX-512 BF16 (cpuid 7.1 eax bit 5) with the OS saving ZMM state, or AMX-BF16 (7.0 edx bit 22).
bool detect_bf16_uncached() {
  if (detect_isa_uncached() < Isa::avx512) return false;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool amx_bf16 = edx & (1u << 22);
  const unsigned max_sub = eax;
  bool avx512_bf16 = false;
  if (max_sub >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    avx512_bf16 = eax & (1u << 5);
  }
  return avx512_bf16 || amx_bf16;
}
#else
Isa detect_isa_uncached() { return Isa::scalar; }
bool detect_bf16_uncached() { return false; }
#endif

// The cap from BIGDL_ISA, or the highest ISA (no cap) when unset.
Isa isa_cap_from_env() {
  const char* v = std::getenv("BIGDL_ISA");
  if (v == nullptr || *v == '\0') return Isa::avx512vnni;
  for (Isa isa : kAllIsas) {
    if (std::strcmp(v, isa_name(isa)) == 0) return isa;
  }
  throw ValueError(cat("[cpu_kernels] BIGDL_ISA=", v, " is not one of scalar, avx2, avx512, avx512vnni"));
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar:
      return "scalar";
    case Isa::avx2:
      return "avx2";
    case Isa::avx512:
      return "avx512";
    case Isa::avx512vnni:
      return "avx512vnni";
  }
  return "unknown";
}

Isa detect_isa() {
  static const Isa isa = detect_isa_uncached();
  return isa;
}

const CpuKernels* cpu_kernels_for(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(detect_isa())) return nullptr;
  switch (isa) {
    case Isa::scalar:
      return &kernels_ref();
    case Isa::avx2:
      return &kernels_avx2();
    case Isa::avx512:
    case Isa::avx512vnni:  // VNNI is integer-only: no f32 kernel uses it
      return &kernels_avx512();
  }
  return nullptr;
}

Isa chosen_isa() {
  static const Isa isa = [] {
    const Isa cap = isa_cap_from_env();
    const Isa hw = detect_isa();
    return static_cast<int>(cap) < static_cast<int>(hw) ? cap : hw;
  }();
  return isa;
}

const CpuKernels& cpu_kernels() {
  static const CpuKernels* const table = cpu_kernels_for(chosen_isa());
  return *table;
}

bool cpu_has_native_bf16() {
  static const bool has = detect_bf16_uncached();
  return has && chosen_isa() >= Isa::avx512;
}

}  // namespace bigdl::detail
