#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS (default 20) from its seed corpus and fails on
# the first crash, sanitizer report, leak, timeout (10 s per input) or out-of-memory.
#   tests/fuzz/run_fuzz.sh BUILD_DIR [SECONDS] [TARGET...]
# BUILD_DIR is a BIGDL_FUZZ=ON build (see tests/fuzz/CMakeLists.txt). New interesting
# inputs accumulate in BUILD_DIR/fuzz_corpus/<target> (kept between runs); a finding is
# saved as BUILD_DIR/fuzz_artifacts/<target>-crash-<sha1>; reproduce it with
#   BUILD_DIR/tests/fuzz/fuzz_<target> BUILD_DIR/fuzz_artifacts/<file>
set -uo pipefail
build=${1:?usage: run_fuzz.sh BUILD_DIR [SECONDS] [TARGET...]}
seconds=${2:-20}
shift $(( $# >= 2 ? 2 : 1 ))
targets=("$@")
(( ${#targets[@]} )) || targets=(gguf gguf_vocab safetensors tokenizer_json onnx)
mkdir -p "$build/fuzz_artifacts"
failed=()
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/fuzz_$t
  seeds=$build/fuzz_seeds/$t
  corpus=$build/fuzz_corpus/$t
  mkdir -p "$corpus"
  log=$build/fuzz_artifacts/$t.log
  # -malloc_limit_mb: the inputs are a few KB, so one allocation of 256 MB is a size
  # field the parser trusted.
  "$bin" "$corpus" "$seeds" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=256 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$build/fuzz_artifacts/$t-" >"$log" 2>&1
  rc=$?
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  if (( rc != 0 )); then
    echo "fuzz $t: FAILED (exit $rc); log: $log"
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -8
    failed+=("$t")
  else
    echo "fuzz $t: ok, ${runs:-?} inputs in ${seconds} s, corpus $(ls "$corpus" | wc -l) files"
  fi
done
(( ${#failed[@]} == 0 ))
