// Internal helpers shared by the core op implementations (not installed).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <type_traits>

#include "bigdl/autograd.h"
#include "bigdl/ops.h"
#include "bigdl/tensor.h"

namespace bigdl::detail {

Shape contiguous_strides(const Shape& shape);
// Wraps a negative dim and checks range; throws IndexError "[op] dim 3 out of range for 2-d tensor".
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
// Sorted, wrapped, de-duplicated dims; empty means all dims.
std::vector<int64_t> wrap_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op);
// A new tensor sharing `t`'s storage with another geometry (no autograd).
Tensor make_view(const Tensor& t, Shape shape, Shape strides, int64_t offset);

// ---- memory ----
// 64-byte aligned blocks from the caching allocator (allocator.cpp); nullptr on failure.
void* cpu_alloc(size_t nbytes);
void cpu_free(void* p, size_t nbytes);

// ---- threads ----
// Runs fn(begin, end) over [0, n) split in chunks of at least `grain` items on the
// library's one thread pool (inline when the work is small or from a worker).
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// ---- scalar conversion between storage types ----
template <typename T> struct IsHalf : std::false_type {};
template <> struct IsHalf<Half> : std::true_type {};
template <> struct IsHalf<BFloat16> : std::true_type {};

template <typename T>
inline float half_load(T v) {
  if constexpr (std::is_same_v<T, Half>) return half_to_float(v.bits);
  else return bf16_to_float(v.bits);
}
template <typename To, typename From>
inline To convert(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (IsHalf<From>::value) {
    return convert<To>(half_load(v));
  } else if constexpr (std::is_same_v<To, Half>) {
    return Half{float_to_half(static_cast<float>(v))};
  } else if constexpr (std::is_same_v<To, BFloat16>) {
    return BFloat16{float_to_bf16(static_cast<float>(v))};
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else {
    return static_cast<To>(v);
  }
}

// Calls f(T{}) with T the storage type of dtype.
template <typename F>
decltype(auto) dispatch_dtype(DType t, F&& f) {
  switch (t) {
#define BIGDL_DISPATCH_CASE(e, T, size, name, st, kind) \
  case DType::e: return f(T{});
    BIGDL_FORALL_DTYPES(BIGDL_DISPATCH_CASE)
#undef BIGDL_DISPATCH_CASE
  }
  throw InternalError("dispatch_dtype: bad dtype");
}

// Calls f(T{}) for the three compute ("work") dtypes: f32, f64, i64.
template <typename F>
decltype(auto) dispatch_work(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    case DType::i64: return f(int64_t{});
    default: break;
  }
  throw InternalError("dispatch_work: not a work dtype");
}

// ---- strided iteration ----
// Visits every element of `shape` for N operands with the given element strides,
// after merging dims that are contiguous for all operands. The callback gets the
// element offsets of the start of each innermost run, the innermost strides and the
// run length: inner(std::array<int64_t,N> off, std::array<int64_t,N> inner_stride, int64_t n).
// Work is split over the thread pool when numel >= parallel_grain.
template <size_t N, typename F>
void for_each_strided(const Shape& shape, const std::array<const Shape*, N>& strides, F&& inner,
                      int64_t parallel_grain = 1 << 15) {
  // Coalesce dims (keep order, outer first), dropping size-1 dims.
  std::vector<int64_t> sz;
  std::vector<std::array<int64_t, N>> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    std::array<int64_t, N> s{};
    for (size_t k = 0; k < N; ++k) s[k] = (*strides[k])[d];
    if (!sz.empty()) {
      bool merge = true;
      for (size_t k = 0; k < N; ++k)
        if (st.back()[k] != s[k] * shape[d]) { merge = false; break; }
      if (merge) {
        sz.back() *= shape[d];
        st.back() = s;
        continue;
      }
    }
    sz.push_back(shape[d]);
    st.push_back(s);
  }
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  if (numel == 0) return;
  if (sz.empty()) {  // a single element
    inner(std::array<int64_t, N>{}, std::array<int64_t, N>{}, int64_t(1));
    return;
  }
  const int64_t nd = int64_t(sz.size());
  const int64_t inner_n = sz.back();
  const std::array<int64_t, N> inner_st = st.back();
  if (nd == 1) {
    const int64_t grain = std::max<int64_t>(parallel_grain, 4096);
    if (inner_n < 2 * grain) {
      inner(std::array<int64_t, N>{}, inner_st, inner_n);
      return;
    }
    parallel_for(inner_n, grain, [&](int64_t b, int64_t e) {
      std::array<int64_t, N> off{};
      for (size_t k = 0; k < N; ++k) off[k] = b * inner_st[k];
      inner(off, inner_st, e - b);
    });
    return;
  }
  const int64_t outer = numel / inner_n;
  auto run_rows = [&](int64_t r0, int64_t r1) {
    std::vector<int64_t> idx(nd - 1, 0);
    int64_t rem = r0;
    for (int64_t d = nd - 2; d >= 0; --d) {
      idx[d] = rem % sz[d];
      rem /= sz[d];
    }
    std::array<int64_t, N> off{};
    for (int64_t d = 0; d < nd - 1; ++d)
      for (size_t k = 0; k < N; ++k) off[k] += idx[d] * st[d][k];
    for (int64_t r = r0; r < r1; ++r) {
      inner(off, inner_st, inner_n);
      for (int64_t d = nd - 2; d >= 0; --d) {
        ++idx[d];
        for (size_t k = 0; k < N; ++k) off[k] += st[d][k];
        if (idx[d] < sz[d]) break;
        for (size_t k = 0; k < N; ++k) off[k] -= idx[d] * st[d][k];
        idx[d] = 0;
      }
    }
  };
  if (numel < parallel_grain) {
    run_rows(0, outer);
  } else {
    parallel_for(outer, std::max<int64_t>(1, parallel_grain / inner_n), run_rows);
  }
}

// Element pointer helpers.
template <typename T>
inline T* ptr_of(const Tensor& t) {
  return static_cast<T*>(t.storage()->data()) + t.offset();
}

// Output tensor for an op: contiguous, uninitialised.
inline Tensor new_tensor(const Shape& shape, DType dtype) { return empty(shape, dtype); }

// Gradient helper: if g is undefined, return undefined.
inline bool want(const Tensor& t) { return t.defined(); }

}  // namespace bigdl::detail
