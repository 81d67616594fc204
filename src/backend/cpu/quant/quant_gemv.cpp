// Multithreaded gemv over the low-bit formats (quant.h): rows split over the library's
// one thread pool, activations optionally quantized once to BlockQ8A. Baseline ISA (it
// includes core/internal.h, whose std::function / templates must not be compiled into
// the *_avx2 / *_avx512 files); the kernels come from the chosen QuantKernels table.
#include <cstdint>
#include <vector>

#include "backend/cpu/quant/quant.h"
#include "bigdl/error.h"
#include "core/internal.h"

namespace bigdl::detail::quant {

namespace {
// A chunk must stream enough weights to amortise the pool's few microseconds of
// dispatch: 128 KiB is ~6 us at 20 GB/s.
constexpr int64_t kMinChunkBytes = 128 * 1024;
}  // namespace

void gemv_parallel(QType type, int64_t rows, int64_t cols, const void* w, const float* x, float* y,
                   GemvAct act, const QuantKernels& kernels) {
  const QTypeInfo& info = qtype_info(type);
  BIGDL_CHECK(cols % info.block_size == 0, ValueError, "quant::gemv",
              info.name, " needs cols to be a multiple of ", info.block_size, ", got ", cols);
  BIGDL_CHECK(rows >= 0 && cols >= 0, ValueError, "quant::gemv", "negative shape [", rows, ", ", cols, "]");
  if (rows == 0) return;
  const int64_t stride = cols / info.block_size * info.block_bytes;
  const auto* base = static_cast<const uint8_t*>(w);
  const int64_t grain = stride > 0 ? (kMinChunkBytes + stride - 1) / stride : rows;
  const int t = static_cast<int>(type);
  if (act == GemvAct::f32 || !info.int8_act) {
    const VecDotFn dot = kernels.vec_dot[t];
    parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) y[r] = dot(cols, base + r * stride, x);
    });
    return;
  }
  // x rounded once to the type's int8 blocks (quant.h ActQ8), then one integer dot per
  // row. The buffers are reused across calls: one decode step runs many gemvs of the same
  // few widths.
  const auto run = [&](auto& buf, int64_t per_block, auto quantize, auto dot) {
    if (static_cast<int64_t>(buf.size()) < cols / per_block) buf.resize(static_cast<size_t>(cols / per_block));
    quantize(x, buf.data(), cols);
    const auto* xb = buf.data();
    parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) y[r] = dot(cols, base + r * stride, xb);
    });
  };
  if (info.act == ActQ8::k256) {
    thread_local std::vector<BlockQ8K> xk;
    run(xk, kSuperBlock, kernels.quantize_act_k, kernels.vec_dot_q8k[t]);
  } else {
    thread_local std::vector<BlockQ8A> xq;
    run(xq, kBlockSize, kernels.quantize_act, kernels.vec_dot_q8[t]);
  }
}

}  // namespace bigdl::detail::quant
