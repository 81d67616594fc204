// What the oneDNN users of the CPU backend share (internal): one engine and stream, the
// single-threaded scope every primitive runs and is built in, per-call buffers from the
// caching allocator, and the reorder between our layout and a primitive's.
//
// Threads: Debian's oneDNN runs on OpenMP (libgomp), whose idle workers spin-wait next to
// our own pool and OpenBLAS's (ResNet training at 2 threads ran 6x slower that way), so
// oneDNN always runs single-threaded here and callers split work over our own pool.
#pragma once

#include <omp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "bigdl/error.h"
#include "core/internal.h"

#if DNNL_CPU_RUNTIME != DNNL_RUNTIME_OMP
#error "the oneDNN backend sets oneDNN's thread count through OpenMP; this oneDNN uses another runtime"
#endif

namespace bigdl::detail {

inline dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
// CPU streams execute in the calling thread and keep no per-call state, so one serves all.
inline dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}

// In scope, oneDNN's parallel regions run inline in the calling thread (OpenMP's team is
// never started). The OpenMP thread count is per thread; the caller's is restored after.
class SingleThreaded {
 public:
  SingleThreaded() : saved_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleThreaded() { omp_set_num_threads(saved_); }
  SingleThreaded(const SingleThreaded&) = delete;
  SingleThreaded& operator=(const SingleThreaded&) = delete;

 private:
  int saved_;
};

// One tensor argument of a primitive: our layout, the primitive's, and the reorder
// between them (none when they are the same). attr carries a reorder's scales (int8).
struct Port {
  dnnl::memory::desc user, prim;
  dnnl::reorder reorder;  // user -> prim for inputs, prim -> user for outputs
  bool same = true;
};

inline Port make_port(const dnnl::memory::desc& user, const dnnl::memory::desc& prim, bool is_input,
                      const dnnl::primitive_attr& attr = {}) {
  Port p{user, prim, {}, user == prim};
  if (!p.same)
    p.reorder = is_input ? dnnl::reorder(dnnl::reorder::primitive_desc(engine(), user, engine(), prim, attr))
                         : dnnl::reorder(dnnl::reorder::primitive_desc(engine(), prim, engine(), user, attr));
  return p;
}

// Temporary buffers of one call (reordered tensors, scratchpad) from the caching allocator.
// op names the caller in the out-of-memory error.
class CallBuffers {
 public:
  explicit CallBuffers(const char* op) : op_(op) {}
  CallBuffers(const CallBuffers&) = delete;
  CallBuffers& operator=(const CallBuffers&) = delete;
  ~CallBuffers() {
    for (auto& [p, n] : bufs_) cpu_free(p, n);
  }
  void* get(size_t n) {
    if (n == 0) return nullptr;
    void* p = cpu_alloc(n);
    BIGDL_CHECK(p != nullptr, InternalError, op_, "out of memory allocating ", n, " bytes");
    bufs_.emplace_back(p, n);
    return p;
  }
  dnnl::memory mem(const dnnl::memory::desc& d) { return dnnl::memory(d, engine(), get(d.get_size())); }
  // `data` in the port's primitive layout: the buffer itself or a reordered copy.
  dnnl::memory input(const Port& p, const void* data) {
    dnnl::memory u(p.user, engine(), const_cast<void*>(data));
    if (p.same) return u;
    dnnl::memory t = mem(p.prim);
    p.reorder.execute(stream(), {{DNNL_ARG_FROM, u}, {DNNL_ARG_TO, t}});
    return t;
  }
  // Where the primitive writes an output that must end up in `data` (then call finish).
  dnnl::memory output(const Port& p, void* data) { return p.same ? dnnl::memory(p.user, engine(), data) : mem(p.prim); }
  void finish(const Port& p, const dnnl::memory& written, void* data) {
    if (p.same) return;
    p.reorder.execute(stream(), {{DNNL_ARG_FROM, written}, {DNNL_ARG_TO, dnnl::memory(p.user, engine(), data)}});
  }

 private:
  const char* op_;
  std::vector<std::pair<void*, size_t>> bufs_;
};

// A batch of n rows split over `shards` threads of our pool: shard i runs prims[i] on rows
// [row0[i], row0[i + 1]) (nearly equal parts, the first n % shards one row longer).
// Callers cache a plan per shape and thread count, so a call allocates nothing for it.
template <typename Prims>
struct ShardPlan {
  std::vector<std::shared_ptr<const Prims>> prims;
  std::vector<int64_t> row0;
};
template <typename Prims, typename Make>  // make(rows) -> shared_ptr<const Prims>
std::shared_ptr<const ShardPlan<Prims>> make_shard_plan(int64_t n, int64_t shards, Make&& make) {
  auto plan = std::make_shared<ShardPlan<Prims>>();
  plan->row0.assign(static_cast<size_t>(shards) + 1, 0);
  for (int64_t i = 0; i < shards; ++i) {
    const int64_t rows = n / shards + (i < n % shards ? 1 : 0);
    plan->row0[size_t(i) + 1] = plan->row0[size_t(i)] + rows;
    plan->prims.push_back(make(rows));
  }
  return plan;
}

}  // namespace bigdl::detail
