// Error exits shared by the MPI benchmarks of this folder. Each program sets g_prog to
// its name and g_rank once MPI is up.
#pragma once

#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace bench {

inline const char* g_prog = "bench";
inline int g_rank = 0;

// Bad options: every rank parsed the same ones and fails the same way, so each exits
// (MPI is finalised at exit) and only rank 0 prints the line.
[[noreturn]] inline void usage_error(const std::string& msg) {
  if (g_rank == 0) std::fprintf(stderr, "%s: %s\n", g_prog, msg.c_str());
  std::exit(2);
}

// A failure on some ranks only: one line, and MPI_Abort ends every rank, so that none
// waits forever in a collective.
[[noreturn]] inline void fail(const std::string& msg) {
  std::fprintf(stderr, "%s: %s\n", g_prog, msg.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 2);
  std::exit(2);
}

}  // namespace bench
