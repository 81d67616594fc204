#!/usr/bin/env bash
# Runs a command under MPI with NP processes, as the tests need it on any machine:
#   tests/dist/mpirun.sh NP command [args...]
# OpenMPI: allowed as root, oversubscribed (4 ranks on 2 cores), yielding when idle, and
# without the CMA single-copy mechanism that containers often forbid. MPICH's hydra
# needs none of that. MPIEXEC overrides the launcher.
set -euo pipefail
np=$1; shift
launcher=${MPIEXEC:-mpirun}
if "$launcher" --version 2>/dev/null | grep -q "Open MPI"; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export OMPI_MCA_mpi_yield_when_idle=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
  export OMPI_MCA_rmaps_base_oversubscribe=1
  exec "$launcher" -np "$np" --oversubscribe --bind-to none "$@"
fi
exec "$launcher" -n "$np" "$@"
