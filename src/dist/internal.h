// Internal helpers of the dist backends (not installed).
#pragma once

#include <string>
#include <vector>

#include "bigdl/dist/group.h"

namespace bigdl::dist::detail {

// The MPI_COMM_WORLD group (mpi_group.cpp), or the stub's DistError (no_mpi.cpp).
GroupPtr make_mpi_group();

// Argument checks shared by the backends; they throw "[dist] <op>: ..." errors.
void check_counts(const char* op, const std::vector<int64_t>& counts, int size);
void check_peer(const char* op, int peer, int size);
void check_reduce_dtype(const char* op, DType dtype, bool allow_int);
int64_t sum_counts(const std::vector<int64_t>& counts);
// Seconds of env BIGDL_DIST_TIMEOUT (>= 0; 0 turns the watchdog off), or 60.
double env_timeout();

// dst[0, n) += src[0, n): the rings' reduction (dst and src never overlap).
template <typename T>
void add_into(void* dst, const void* src, int64_t n) {
  T* __restrict d = static_cast<T*>(dst);
  const T* __restrict s = static_cast<const T*>(src);
  for (int64_t i = 0; i < n; ++i) d[i] += s[i];
}

}  // namespace bigdl::dist::detail
