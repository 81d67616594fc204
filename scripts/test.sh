#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 600)
# Fuzzing: the parsers under libFuzzer + ASan + UBSan (a separate clang configuration of
# just the io sources), each target FUZZ_SECONDS (default 20) from its seed corpus; any
# crash, sanitizer report, hang or big allocation fails the run. FUZZ_SECONDS=0 skips it.
fuzz_seconds=${FUZZ_SECONDS:-20}
if (( fuzz_seconds > 0 )); then
  cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DBIGDL_FUZZ=ON >/dev/null
  cmake --build build-fuzz -j"$(nproc)" >/dev/null
  tests/fuzz/run_fuzz.sh build-fuzz "$fuzz_seconds"
fi
