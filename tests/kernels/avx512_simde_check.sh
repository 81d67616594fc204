#!/usr/bin/env bash
# Runs the AVX-512 low-bit table (src/backend/cpu/quant/quant_avx512.cpp) on a CPU
# without AVX-512, through SIMDe's portable AVX-512 emulation, against the scalar
# reference: dequantize bit-exact (quantized and random bytes), vec_dot within 1e-5 *
# sum |w x|, quantize_act (and quantize_act_k) bit-exact, vec_dot_q8 (and vec_dot_q8k)
# within 1.1e-5 * sum |w x|, for every quant type (the K-quants and IQ4 included) and
# n = 1, 2, 3 blocks and 4096 with 2-byte-offset blocks. Then the AVX-512 VNNI
# packed kernels (qgemm_avx512vnni.cpp, vpdpbusd emulated) against the packed reference,
# bit for bit: gemm for 1..9 activation rows, gemm2 (the super-block types' two-group
# 512-bit prefill) and gemv2, every packed type (the super-block types' VNNI branch too,
# with intrinsics in place of its inline asm: BIGDL_K_PORTABLE), random data
# and every level at its bound. test_kernels / test_llm skip the AVX-512 cases on such a
# CPU; this is the check to run instead.
#
#   tests/kernels/avx512_simde_check.sh SIMDE_DIR BUILD_DIR
#
# SIMDE_DIR holds simde/x86/avx512.h (https://github.com/simd-everywhere/simde, header
# only); BUILD_DIR is a CMake build folder with libbigdl.a. Exit status 0 when all match.
set -euo pipefail
simde=${1:?SIMDE_DIR}
build=${2:?BUILD_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The K-quant kernels' no-contract asm uses an SSE register class too: a memory operand.
sed -e 's|__asm__("" : "+x"(v));|__asm__("" : "+m"(v));|' "$root/src/backend/cpu/quant/quant_k_x86.inc" > "$work/quant_k_x86.inc"
# The ISA guard goes, the AVX-512 include (avx512_intrin.h) becomes SIMDe with native names, the table gets its
# own name (libbigdl.a has the real one), and the asm "+v" register constraint (an
# AVX-512 register class) becomes a memory operand.
sed -e '/^#if !defined(__AVX512F__)/,/^#endif/d' \
    -e 's|^#include "backend/cpu/avx512_intrin.h"|#define SIMDE_ENABLE_NATIVE_ALIASES\n#include "simde/x86/avx512.h"\n#include "simde/x86/f16c.h"|' \
    -e 's|quant_kernels_avx512()|quant_kernels_avx512_emul()|' \
    -e "s|#include \"backend/cpu/quant/quant_q8_x86.inc\"|#include \"$root/src/backend/cpu/quant/quant_q8_x86.inc\"|" \
    -e "s|#include \"backend/cpu/quant/quant_k_x86.inc\"|#include \"$work/quant_k_x86.inc\"|" \
    -e 's|__asm__("" : "+v"(v));|__asm__("" : "+m"(v));|' \
    "$root/src/backend/cpu/quant/quant_avx512.cpp" > "$work/avx512_emul.cpp"

cat > "$work/harness.cpp" <<'CPP'
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/quant/quant.h"
namespace bigdl::detail::quant { const QuantKernels& quant_kernels_avx512_emul(); }
using namespace bigdl::detail::quant;

int main() {
  const QuantKernels& e = quant_kernels_avx512_emul();
  const QuantKernels& r = quant_kernels_ref();
  int bad = 0;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0, 1);
  for (int t = 0; t < kNumQTypes; ++t) {
    const QTypeInfo& info = qtype_info(static_cast<QType>(t));
    const int64_t bs = info.block_size;  // 32, or 256 for the K-quants and IQ4_XS
    for (int64_t n : {bs, 2 * bs, 3 * bs, int64_t(4096)}) {
      std::vector<float> x(n), a(n);
      for (auto& v : x) v = nd(rng);
      for (auto& v : a) v = nd(rng);
      std::vector<uint8_t> q(row_bytes(info.type, n) + 2);
      info.quantize_row(x.data(), q.data() + 2, n);
      const uint8_t* w = q.data() + 2;
      std::vector<float> y0(n), y1(n);
      r.dequantize_row[t](w, y0.data(), n);
      e.dequantize_row[t](w, y1.data(), n);
      if (std::memcmp(y0.data(), y1.data(), 4 * n)) std::printf("dequantize %s n %lld differs\n", info.name, (long long)n), ++bad;
      double abs_sum = 0;
      for (int64_t i = 0; i < n; ++i) abs_sum += std::fabs(y0[i] * a[i]);
      const float d0 = r.vec_dot[t](n, w, a.data()), d1 = e.vec_dot[t](n, w, a.data());
      if (std::fabs(d0 - d1) > 1e-5 * abs_sum) std::printf("vec_dot %s n %lld: %g vs %g\n", info.name, (long long)n, d0, d1), ++bad;
      std::vector<BlockQ8A> xq0(n / 32), xq1(n / 32);
      r.quantize_act(a.data(), xq0.data(), n);
      e.quantize_act(a.data(), xq1.data(), n);
      if (std::memcmp(xq0.data(), xq1.data(), sizeof(BlockQ8A) * xq0.size())) std::printf("quantize_act n %lld differs\n", (long long)n), ++bad;
      const float q0 = r.vec_dot_q8[t](n, w, xq0.data()), q1 = e.vec_dot_q8[t](n, w, xq0.data());
      if (std::fabs(q0 - q1) > 1.1e-5 * abs_sum) std::printf("vec_dot_q8 %s n %lld: %g vs %g\n", info.name, (long long)n, q0, q1), ++bad;
      if (info.act == ActQ8::k256) {  // BlockQ8K activations: quantize bit-exact, dot close
        std::vector<BlockQ8K> xk0(n / 256), xk1(n / 256);
        r.quantize_act_k(a.data(), xk0.data(), n);
        e.quantize_act_k(a.data(), xk1.data(), n);
        if (std::memcmp(xk0.data(), xk1.data(), sizeof(BlockQ8K) * xk0.size())) std::printf("quantize_act_k n %lld differs\n", (long long)n), ++bad;
        const float k0 = r.vec_dot_q8k[t](n, w, xk0.data()), k1 = e.vec_dot_q8k[t](n, w, xk0.data());
        if (std::fabs(k0 - k1) > 1.1e-5 * abs_sum) std::printf("vec_dot_q8k %s n %lld: %g vs %g\n", info.name, (long long)n, k0, k1), ++bad;
      }
    }
    // Random bytes (every code, every qh bit) with scale 1 (fp16 / bf16: any pattern).
    std::vector<uint8_t> rb(info.block_bytes * 64);
    for (auto& v : rb) v = static_cast<uint8_t>(rng());
    if (info.type != QType::fp16 && info.type != QType::bf16)
      for (int b = 0; b < 64; ++b) {
        const uint16_t d = 0x3C00;
        std::memcpy(&rb[b * info.block_bytes], &d, 2);
      }
    std::vector<float> y0(2048), y1(2048);
    r.dequantize_row[t](rb.data(), y0.data(), 2048);
    e.dequantize_row[t](rb.data(), y1.data(), 2048);
    int nb = 0;
    for (int i = 0; i < 2048; ++i) {
      uint32_t u0, u1;
      std::memcpy(&u0, &y0[i], 4);
      std::memcpy(&u1, &y1[i], 4);
      nb += std::isnan(y0[i]) ? !std::isnan(y1[i]) : u0 != u1;
    }
    if (nb) std::printf("dequantize %s random bytes: %d values differ\n", info.name, nb), ++bad;
    std::printf("%-9s %s\n", info.name, bad ? "FAILED" : "ok");
  }
  std::printf("%s\n", bad ? "avx512 (SIMDe) vs reference: FAILED" : "avx512 (SIMDe) vs reference: all match");
  return bad != 0;
}
CPP

flags="-std=c++20 -O1 -mavx2 -mfma -mf16c -I$root/src -I$root/include"
g++ $flags -I"$simde" -w -c "$work/avx512_emul.cpp" -o "$work/avx512_emul.o"
g++ $flags -c "$work/harness.cpp" -o "$work/harness.o"
g++ "$work/harness.o" "$work/avx512_emul.o" "$build/libbigdl.a" -o "$work/harness" -lopenblas -ldnnl -lz -lpthread
status=0
"$work/harness" || status=1

# ---- AVX-512 VNNI packed kernels: the .inc's VNNI branch is forced on (the compiler
# flags, and so __AVX512VNNI__, stay AVX2: SIMDe supplies vpdpbusd).
# The super-block kernels' .inc likewise, with BIGDL_K_PORTABLE (intrinsics instead of
# the inline-asm vpdpbusd) and the 512-bit register pins as memory operands.
sed -e 's|^#if defined(__AVX512VNNI__) \&\& defined(__AVX512VL__)|#if 1|' \
    -e 's|__asm__("" : "+v"(acc));|__asm__("" : "+m"(acc));|' \
    -e 's|__asm__("" : "+v"(isum));|__asm__("" : "+m"(isum));|' \
    "$root/src/backend/cpu/quant/qgemm_k_x86.inc" > "$work/qgemm_k_x86_vnni.inc"
sed -e 's|^#if defined(__AVX512VNNI__) \&\& defined(__AVX512VL__)|#if 1|' \
    -e "s|#include \"backend/cpu/quant/qgemm_k_x86.inc\"|#define BIGDL_K_PORTABLE 1\n#include \"$work/qgemm_k_x86_vnni.inc\"|" \
    "$root/src/backend/cpu/quant/qgemm_x86.inc" > "$work/qgemm_x86_vnni.inc"
sed -e '/^#if !defined(__AVX512VNNI__)/,/^#endif/d' \
    -e 's|^#include "backend/cpu/avx512_intrin.h"|#define SIMDE_ENABLE_NATIVE_ALIASES\n#include "simde/x86/avx512.h"\n#include "simde/x86/f16c.h"|' \
    -e 's|packed_kernels_avx512vnni()|packed_kernels_avx512vnni_emul()|' \
    -e "s|#include \"backend/cpu/quant/qgemm_x86.inc\"|#include \"$work/qgemm_x86_vnni.inc\"|" \
    "$root/src/backend/cpu/quant/qgemm_avx512vnni.cpp" > "$work/qgemm_vnni_emul.cpp"
grep -q "^#if 1" "$work/qgemm_x86_vnni.inc" || { echo "qgemm_x86.inc: VNNI branch not found"; exit 1; }
grep -q "^#if 1" "$work/qgemm_k_x86_vnni.inc" || { echo "qgemm_k_x86.inc: VNNI branch not found"; exit 1; }
grep -q "qgemm_k_x86_vnni.inc" "$work/qgemm_x86_vnni.inc" || { echo "qgemm_x86.inc: include of qgemm_k_x86.inc not found"; exit 1; }

cat > "$work/harness_qgemm.cpp" <<'CPP'
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/quant/qgemm.h"
namespace bigdl::detail::quant { const PackedKernels& packed_kernels_avx512vnni_emul(); }
using namespace bigdl::detail::quant;

int main() {
  const PackedKernels& e = packed_kernels_avx512vnni_emul();
  const PackedKernels& r = packed_kernels_ref();
  int bad = 0, gemm2_checked = 0;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0, 1);
  for (QType t : kPackedTypes) {
    const QTypeInfo& info = qtype_info(t);
    const int ti = static_cast<int>(t);
    const bool k256 = info.act == ActQ8::k256;  // BlockQ8K activations, 256-weight blocks
    for (int bound = 0; bound < (k256 ? 1 : 2); ++bound)  // the k256 bound cases: test_kquant_packed.cpp
      for (int64_t cols : k256 ? std::vector<int64_t>{256, 512, 2816} : std::vector<int64_t>{32, 96, 576}) {
        const int64_t rows = 16, nb = cols / info.block_size, rb = row_bytes(t, cols);
        std::vector<uint8_t> q(static_cast<size_t>(rows * rb));
        std::vector<float> w(static_cast<size_t>(cols));
        for (int64_t i = 0; i < rows; ++i) {
          for (auto& v : w) v = 0.05f * nd(rng);
          info.quantize_row(w.data(), q.data() + i * rb, cols);
        }
        if (bound)  // every stored level at its maximum (nibbles, fifth bits, Q8_0 127)
          for (int64_t b = 0; b < rows * nb; ++b) {
            uint8_t* blk = q.data() + b * info.block_bytes;
            const int64_t hdr = (t == QType::asym_int4 || t == QType::asym_int5) ? 4 : 2;
            std::memset(blk + hdr, t == QType::sym_int8 ? 0x7F : 0xFF, static_cast<size_t>(info.block_bytes - hdr));
          }
        std::vector<uint8_t> p(static_cast<size_t>(packed_bytes(t, rows, cols)));
        pack_rows(t, q.data(), rows, cols, p.data());
        std::vector<BlockQ8A> xa(static_cast<size_t>(9 * nb));
        std::vector<BlockQ8K> xk(static_cast<size_t>(9 * nb));
        std::vector<float> xf(static_cast<size_t>(cols));
        for (int64_t i = 0; i < 9; ++i) {
          for (auto& v : xf) v = bound ? (i % 2 ? -1.0f : 1.0f) : nd(rng) * (i == 3 ? 50.0f : 1.0f);
          if (k256) quant_kernels_ref().quantize_act_k(xf.data(), xk.data() + i * nb, cols);
          else quantize_act_ref(xf.data(), xa.data() + i * nb, cols);
        }
        const auto* x = k256 ? static_cast<const void*>(xk.data()) : xa.data();
        const int64_t tb = packed_tile_bytes(t);
        for (int64_t n = 1; n <= 9; ++n) {
          std::vector<float> y0(static_cast<size_t>(n * rows)), y1(y0.size());
          for (int64_t g = 0; g < rows / 8; ++g) {
            r.gemm[ti](nb, p.data() + g * nb * tb, x, n, y0.data() + 8 * g, rows);
            e.gemm[ti](nb, p.data() + g * nb * tb, x, n, y1.data() + 8 * g, rows);
          }
          if (std::memcmp(y0.data(), y1.data(), y0.size() * 4))
            std::printf("gemm %s cols %lld n %lld bound %d differs\n", info.name, (long long)cols, (long long)n, bound), ++bad;
          if (e.gemm2[ti] == nullptr) continue;  // the two-group prefill (512-bit), both groups in one call
          std::fill(y1.begin(), y1.end(), -1.0f);
          e.gemm2[ti](nb, p.data(), p.data() + nb * tb, x, n, y1.data(), y1.data() + 8, rows);
          if (std::memcmp(y0.data(), y1.data(), y0.size() * 4))
            std::printf("gemm2 %s cols %lld n %lld bound %d differs\n", info.name, (long long)cols, (long long)n, bound), ++bad;
          ++gemm2_checked;
        }
        float a0[16], a1[16];
        r.gemv2[ti](nb, p.data(), p.data() + nb * tb, x, a0, a0 + 8);
        e.gemv2[ti](nb, p.data(), p.data() + nb * tb, x, a1, a1 + 8);
        if (std::memcmp(a0, a1, sizeof a0)) std::printf("gemv2 %s cols %lld bound %d differs\n", info.name, (long long)cols, bound), ++bad;
      }
    std::printf("%-9s packed %s\n", info.name, bad ? "FAILED" : "ok");
  }
  if (gemm2_checked == 0) std::printf("gemm2: none checked (the super-block types should have it)\n"), ++bad;
  std::printf("%s\n", bad ? "avx512vnni packed (SIMDe) vs reference: FAILED" : "avx512vnni packed (SIMDe) vs reference: all match");
  return bad != 0;
}
CPP
g++ $flags -I"$simde" -w -c "$work/qgemm_vnni_emul.cpp" -o "$work/qgemm_vnni_emul.o"
g++ $flags -c "$work/harness_qgemm.cpp" -o "$work/harness_qgemm.o"
g++ "$work/harness_qgemm.o" "$work/qgemm_vnni_emul.o" "$build/libbigdl.a" -o "$work/harness_qgemm" -lopenblas -ldnnl -lz -lpthread
"$work/harness_qgemm" || status=1
exit $status
