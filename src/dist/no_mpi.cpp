// The MPI backend of a build without MPI (BIGDL_WITH_MPI off): asking for it is a clear
// error instead of a link failure or a silent one-process run.
#include "dist/internal.h"

namespace bigdl::dist {

bool mpi_available() { return false; }

namespace detail {
GroupPtr make_mpi_group() {
  throw DistError("[dist] bigdl was built without MPI; rebuild with libopenmpi-dev (or MPICH) installed");
}
}  // namespace detail

}  // namespace bigdl::dist
