// bf16 GEMM on oneDNN's matmul primitive (src/backend/cpu/onednn_matmul.h).
#include "backend/cpu/onednn_matmul.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <utility>
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

// The shards of an n-row product at the current thread count, cached per shape (the
// shards' primitives are built once per shard shape and shared).
std::shared_ptr<const ShardPlan<MatmulPrims>> plan(int64_t n, int64_t m, int64_t k, int64_t lda, bool ta, int64_t ldb, bool tb,
                                                   int64_t ldc, bool accumulate) {
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, bool, int64_t, bool, int64_t, bool>;
  static std::mutex mu;
  static std::map<Key, std::shared_ptr<const MatmulPrims>> prims;
  static std::map<std::pair<Key, int64_t>, std::shared_ptr<const ShardPlan<MatmulPrims>>> plans;
  const int64_t shards = std::min<int64_t>(get_num_threads(), n);
  std::lock_guard<std::mutex> lk(mu);
  const auto key = std::make_pair(Key{n, m, k, lda, ta, ldb, tb, ldc, accumulate}, shards);
  if (auto it = plans.find(key); it != plans.end()) return it->second;
  if (plans.size() >= 512) plans.clear(), prims.clear();  // something feeds many shapes: start over
  return plans[key] = make_shard_plan<MatmulPrims>(n, shards, [&](int64_t rows) {
           auto& p = prims[Key{rows, m, k, lda, ta, ldb, tb, ldc, accumulate}];
           if (!p) p = build(rows, m, k, lda, ta, ldb, tb, ldc, accumulate);
           return p;
         });
}

// One single-threaded f32 product at the given strides (no reorders: oneDNN's matmul reads
// strided plain f32 as it is).
struct F32Prim {
  dnnl::matmul prim;
  memory::desc a, b, c, scratch;
};

std::shared_ptr<const F32Prim> f32_prim(int64_t n, int64_t m, int64_t k, int64_t lda, bool ta, int64_t ldb, bool tb) {
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, bool, int64_t, bool>;
  static std::mutex mu;
  static std::map<Key, std::shared_ptr<const F32Prim>> prims;
  std::lock_guard<std::mutex> lk(mu);
  auto& p = prims[Key{n, m, k, lda, ta, ldb, tb}];
  if (p) return p;
  if (prims.size() > 512) {  // something feeds many shapes: start over
    prims.clear();
    return f32_prim(n, m, k, lda, ta, ldb, tb);
  }
  const SingleThreaded one;
  auto q = std::make_shared<F32Prim>();
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  q->a = f32_view(n, k, lda, ta);
  q->b = f32_view(k, m, ldb, tb);
  q->c = memory::desc({n, m}, dt::f32, memory::format_tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(q->a, q->b, q->c), attr, engine());
  q->prim = dnnl::matmul(pd);
  q->scratch = pd.scratchpad_desc();
  return p = q;
}

}  // namespace

void f32_batched_gemm(int64_t batch, int64_t n, int64_t m, int64_t k, const float* a, const int64_t* offs_a, int64_t lda, bool ta,
                      const float* b, const int64_t* offs_b, int64_t ldb, bool tb, float* c) {
  if (batch == 0 || n == 0 || m == 0) return;
  const auto p = f32_prim(n, m, k, lda, ta, ldb, tb);
  parallel_for(batch, 1, [&](int64_t i0, int64_t i1) {
    const SingleThreaded one;
    CallBuffers bufs("f32_batched_gemm");
    const memory scratch = bufs.mem(p->scratch);
    for (int64_t i = i0; i < i1; ++i)
      p->prim.execute(stream(), {{DNNL_ARG_SRC, memory(p->a, engine(), const_cast<float*>(a + offs_a[i]))},
                                 {DNNL_ARG_WEIGHTS, memory(p->b, engine(), const_cast<float*>(b + offs_b[i]))},
                                 {DNNL_ARG_DST, memory(p->c, engine(), c + i * n * m)},
                                 {DNNL_ARG_SCRATCHPAD, scratch}});
  });
}

void bf16_gemm(int64_t n, int64_t m, int64_t k, const float* a, int64_t lda, bool ta, const float* b, int64_t ldb, bool tb,
               float* c, int64_t ldc, float beta) {
  if (n == 0 || m == 0) return;
  const auto sp = plan(n, m, k, lda, ta, ldb, tb, ldc, beta != 0.f);
  parallel_for(int64_t(sp->prims.size()), 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const MatmulPrims& p = *sp->prims[size_t(s)];
      const SingleThreaded one;
      CallBuffers bufs("bf16_gemm");
      const int64_t r0 = sp->row0[size_t(s)];
      const float* as = ta ? a + r0 : a + r0 * lda;  // row r0 of A (a column of the stored transpose)
      p.prim.execute(stream(), {{DNNL_ARG_SRC, bufs.input(p.a, as)},
                                {DNNL_ARG_WEIGHTS, bufs.input(p.b, b)},
                                {DNNL_ARG_DST, memory(p.c_md, engine(), c + r0 * ldc)},
                                {DNNL_ARG_SCRATCHPAD, bufs.mem(p.scratch)}});
    }
  });
}

}  // namespace bigdl::detail
