#!/usr/bin/env bash
# Schema fuzzing of `bigdl llm serve` (issue 11): schemathesis against the server's own
# /openapi.json, bounded and reproducible (fixed seed, a fixed number of examples per
# operation). Two servers, one after the other: SmolLM2-135M-Instruct with an API key
# (chat and text completions, models, health, metrics, and the key itself), and
# all-MiniLM-L6-v2 (embeddings). Every check schemathesis has, with positive_data_acceptance
# in the form of benchmarks/serve/schemathesis_hooks.py (a 400 context_length_exceeded is
# accepted for schema-valid data: how long a prompt tokenizes is beyond any schema). Each
# server must then report no 5xx in /metrics and exit 0 on SIGTERM (so it did not crash).
# Exits non-zero on any failure. scripts/test.sh runs it with EXAMPLES=30 (about a minute);
# the default 100 takes about 2 minutes.
#
#   benchmarks/serve/schemathesis_run.sh          (BIGDL_BIN, default build/bigdl)
#   EXAMPLES=100 SEED=1 CTX=64 benchmarks/serve/schemathesis_run.sh
#
# schemathesis is pinned (4.32.5) in its own venv, $BIGDL_CACHE/venv/schemathesis
# (default ~/.cache/bigdl-cpp), made from Debian's /usr/bin/python3 on first use.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${BIGDL_CACHE:-$HOME/.cache/bigdl-cpp}"
bin="${BIGDL_BIN:-$root/build/bigdl}"
smollm2="${BIGDL_SMOLLM2:-$cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}"
minilm="${BIGDL_MINILM:-$cache/minilm/all-MiniLM-L6-v2}"
examples="${EXAMPLES:-100}"
seed="${SEED:-1}"
ctx="${CTX:-64}"  # bounds every generation: the run's time is mostly tokens generated
version="4.32.5"

venv="$cache/venv/schemathesis"
if [[ ! -x "$venv/bin/st" ]] || [[ "$("$venv/bin/st" --version 2>/dev/null)" != *"$version"* ]]; then
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi
[[ -x "$bin" ]] || { echo "schemathesis_run: $bin is missing (build bigdl_cli, or set BIGDL_BIN)" >&2; exit 2; }
for m in "$smollm2" "$minilm"; do
  [[ -e "$m" ]] || { echo "schemathesis_run: $m is missing (scripts/get_smollm2.sh, scripts/get_minilm.sh)" >&2; exit 2; }
done

work="$(mktemp -d)"
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

failed=0
# fuzz NAME MODEL KEY [serve options...]: one server (with --api-key KEY unless KEY is
# empty), one schemathesis run.
fuzz() {
  local name="$1" model="$2" key="$3"
  shift 3
  local log="$work/$name.log" port="" auth=() headers=()
  if [[ -n "$key" ]]; then
    auth=(--api-key "$key")
    headers=(-H "Authorization: Bearer $key")
  fi
  "$bin" llm serve --model "$model" --port 0 "${auth[@]}" "$@" 2>"$log" &
  pid=$!
  for _ in $(seq 600); do
    port="$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$log")"
    [[ -n "$port" ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z "$port" ]]; then
    echo "schemathesis_run: the $name server did not start:" >&2
    cat "$log" >&2
    failed=1
    return
  fi
  echo "== $name: $(tail -1 "$log")"
  local rc=0
  # From $work: schemathesis writes its files (.schemathesis/) where it runs. No example
  # database, so a run depends on the seed alone.
  (cd "$work" && PYTHONPATH="$root/benchmarks/serve" SCHEMATHESIS_HOOKS=schemathesis_hooks \
    "$venv/bin/st" run "http://127.0.0.1:$port/openapi.json" "${headers[@]}" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-examples "$examples" --seed "$seed" --generation-database none --workers 1 \
    --request-timeout 120 --no-color) || rc=$?
  local errors_5xx
  errors_5xx="$(curl -s "http://127.0.0.1:$port/metrics" | sed -n 's/^bigdl_http_errors_total{class="5xx"} //p')"
  kill -TERM "$pid"
  local exit_code=0
  wait "$pid" || exit_code=$?
  pid=""
  echo "== $name: schemathesis exit $rc, server 5xx answers ${errors_5xx:-?}, server exit $exit_code"
  if [[ "$rc" != 0 || "$errors_5xx" != 0 || "$exit_code" != 0 ]]; then
    failed=1
    tail -20 "$log" >&2
  fi
}

fuzz generator "$smollm2" schema-fuzz-key --ctx "$ctx" --parallel 2
fuzz encoder "$minilm" "" --parallel 2
if [[ "$failed" != 0 ]]; then
  echo "schemathesis_run: FAILED" >&2
  exit 1
fi
echo "schemathesis_run: no failures (schemathesis $version, $examples examples per operation, seed $seed)"
