// bf16 GEMM on oneDNN's matmul primitive (src/backend/cpu/onednn_matmul.h).
#include "backend/cpu/onednn_matmul.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "backend/cpu/onednn_common.h"

namespace bigdl::detail {

using dnnl::memory;
using dt = memory::data_type;

namespace {

// One shard's primitive: rows [0, n) of A and C at the given strides.
struct MatmulPrims {
  dnnl::matmul prim;
  memory::desc scratch, c_md;
  Port a, b;  // f32 user (strided) -> bf16 in the kernel's layout
};

// A [rows, cols] f32 view with leading dimension ld, transposed or not.
memory::desc f32_view(int64_t rows, int64_t cols, int64_t ld, bool trans) {
  return memory::desc({rows, cols}, dt::f32, trans ? memory::dims{1, ld} : memory::dims{ld, 1});
}

std::shared_ptr<const MatmulPrims> build(int64_t n, int64_t m, int64_t k, int64_t lda, bool ta, int64_t ldb, bool tb, int64_t ldc,
                                         bool accumulate) {
  const SingleThreaded one;
  auto p = std::make_shared<MatmulPrims>();
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.f);
    attr.set_post_ops(ops);
  }
  p->c_md = memory::desc({n, m}, dt::f32, memory::dims{ldc, 1});
  const dnnl::matmul::desc d(memory::desc({n, k}, dt::bf16, memory::format_tag::any),
                             memory::desc({k, m}, dt::bf16, memory::format_tag::any), p->c_md);
  const dnnl::matmul::primitive_desc pd(d, attr, engine());
  p->prim = dnnl::matmul(pd);
  p->scratch = pd.scratchpad_desc();
  p->a = make_port(f32_view(n, k, lda, ta), pd.src_desc(), true);
  p->b = make_port(f32_view(k, m, ldb, tb), pd.weights_desc(), true);
  return p;
}

std::shared_ptr<const MatmulPrims> prims(int64_t n, int64_t m, int64_t k, int64_t lda, bool ta, int64_t ldb, bool tb, int64_t ldc,
                                         bool accumulate) {
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, bool, int64_t, bool, int64_t, bool>;
  static std::mutex mu;
  static std::map<Key, std::shared_ptr<const MatmulPrims>> cache;
  const Key key{n, m, k, lda, ta, ldb, tb, ldc, accumulate};
  std::lock_guard<std::mutex> lk(mu);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  if (cache.size() >= 512) cache.clear();  // something feeds many shapes: start over
  return cache[key] = build(n, m, k, lda, ta, ldb, tb, ldc, accumulate);
}

}  // namespace

void bf16_gemm(int64_t n, int64_t m, int64_t k, const float* a, int64_t lda, bool ta, const float* b, int64_t ldb, bool tb,
               float* c, int64_t ldc, float beta) {
  if (n == 0 || m == 0) return;
  const bool accumulate = beta != 0.f;
  const int64_t shards = std::min<int64_t>(get_num_threads(), n);
  std::vector<int64_t> n0(size_t(shards) + 1, 0);
  std::vector<std::shared_ptr<const MatmulPrims>> plan(static_cast<size_t>(shards));
  for (int64_t s = 0; s < shards; ++s) {
    const int64_t rows = n / shards + (s < n % shards ? 1 : 0);
    n0[size_t(s) + 1] = n0[size_t(s)] + rows;
    plan[size_t(s)] = prims(rows, m, k, lda, ta, ldb, tb, ldc, accumulate);
  }
  parallel_for(shards, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const MatmulPrims& p = *plan[size_t(s)];
      const SingleThreaded one;
      CallBuffers bufs("bf16_gemm");
      const int64_t r0 = n0[size_t(s)];
      const float* as = ta ? a + r0 : a + r0 * lda;  // row r0 of A (a column of the stored transpose)
      p.prim.execute(stream(), {{DNNL_ARG_SRC, bufs.input(p.a, as)},
                                {DNNL_ARG_WEIGHTS, bufs.input(p.b, b)},
                                {DNNL_ARG_DST, memory(p.c_md, engine(), c + r0 * ldc)},
                                {DNNL_ARG_SCRATCHPAD, bufs.mem(p.scratch)}});
    }
  });
}

}  // namespace bigdl::detail
