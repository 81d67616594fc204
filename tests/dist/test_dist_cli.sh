#!/usr/bin/env bash
# `bigdl train` under mpirun: only rank 0 prints, the result equals one process's with
# the same global batch and seed, checkpoints are written once and resume under MPI,
# and an error on the ranks ends the job with its message instead of hanging.
# usage: test_dist_cli.sh <path to bigdl>
set -u
BIGDL=$1
MPI="$(dirname "$0")/mpirun.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $1"; cat "$tmp/out" "$tmp/err"; fails=$((fails + 1)); }
run() {  # run NAME EXPECTED_EXIT -- command...; output in $tmp/out, $tmp/err
  local name=$1 want=$2
  shift 3
  timeout 300 "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [[ $rc -ne $want ]]; then fail "$name: exit $rc (want $want)"; return 1; fi
  echo "ok   $name"
}
count() { grep -cE -- "$1" "$2"; }
accuracy() { grep -oE "test accuracy: [0-9.]+%" "$tmp/out" | grep -oE "[0-9.]+"; }

args=(train --epochs 3 --batch-size 32 --seed 3 --optimizer sgd --lr 0.05 --momentum 0.9)
run single 0 -- "$BIGDL" "${args[@]}" --threads 1 && single=$(accuracy)

run mpi_np2 0 -- "$MPI" 2 "$BIGDL" "${args[@]}" --checkpoint "$tmp/c-{epoch}.safetensors" --save "$tmp/w.safetensors"
[[ $(count "test accuracy" "$tmp/out") -eq 1 ]] || fail "mpi_np2: 'test accuracy' not printed exactly once"
[[ $(count "^data: " "$tmp/err") -eq 1 && $(count "^model: .*2 ranks" "$tmp/err") -eq 1 ]] || fail "mpi_np2: header lines not printed once"
[[ $(count "^Trained 3 epochs .* on 2 ranks" "$tmp/err") -eq 1 ]] || fail "mpi_np2: summary line not printed once"
[[ $(count "^Epoch 3/3 .*samples/s" "$tmp/err") -eq 1 ]] || fail "mpi_np2: final epoch line not printed once"
np2=$(accuracy)
[[ "$np2" == "$single" ]] || fail "mpi_np2: test accuracy $np2% differs from one process's $single%"
[[ -s "$tmp/c-3.safetensors" && -s "$tmp/w.safetensors" ]] || fail "mpi_np2: checkpoint or weights missing"

run mpi_np4_bf16 0 -- "$MPI" 4 "$BIGDL" "${args[@]}" --grad-wire bf16
np4=$(accuracy)
awk -v a="$np4" -v b="$single" 'BEGIN { d = a - b; exit !(d < 2 && d > -2) }' ||
  fail "mpi_np4_bf16: test accuracy $np4% is not within 2 points of $single%"

# Launches whose processes cannot form one job fail with a message instead of running N
# independent one-process trainings that write the same files.
run srun_without_mpi 1 -- env SLURM_STEP_NUM_TASKS=2 SLURM_NTASKS=2 SLURM_PROCID=0 "$BIGDL" "${args[@]}"
grep -q "srun started 2 tasks without an MPI environment" "$tmp/err" || fail "srun_without_mpi: no message"
run foreign_launcher 1 -- env PMI_SIZE=2 PMI_RANK=0 "$BIGDL" "${args[@]}"
grep -q "the launcher started 2 processes but MPI sees 1" "$tmp/err" || fail "foreign_launcher: no message"

run mpi_resume 0 -- "$MPI" 2 "$BIGDL" "${args[@]}" --epochs 4 --resume "$tmp/c-3.safetensors"
[[ $(count "resumed from .* at epoch 3" "$tmp/err") -eq 1 ]] || fail "mpi_resume: resume line not printed once"

# An error every rank meets is reported once, by rank 0, and the job exits normally.
run mpi_bad_wire 1 -- "$MPI" 2 "$BIGDL" "${args[@]}" --grad-wire fp8
[[ $(count "^bigdl: error: \[dist\] unknown gradient wire type 'fp8' \(f32, bf16, f16\)$" "$tmp/err") -eq 1 &&
   $(count "error" "$tmp/err") -eq 1 ]] || fail "mpi_bad_wire: not one error line naming the option"

run mpi_missing_data 1 -- "$MPI" 4 "$BIGDL" train --data-path /nonexistent.csv.gz
[[ $(count "^bigdl: error: \[load_digits\] /nonexistent.csv.gz: not found" "$tmp/err") -eq 1 &&
   $(count "error" "$tmp/err") -eq 1 ]] || fail "mpi_missing_data: not one error line naming the file"

# An error on one rank only (its data file is missing) ends the job instead of hanging.
printf '#!/bin/sh\nif [ "${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}" = 1 ]; then p=/nonexistent.csv.gz; else p=""; fi\n' >"$tmp/one.sh"
printf 'exec "%s" train --epochs 2 ${p:+--data-path $p}\n' "$BIGDL" >>"$tmp/one.sh"
chmod +x "$tmp/one.sh"
run mpi_one_rank_fails 1 -- "$MPI" 2 "$tmp/one.sh"
grep -qE "^bigdl: error \(rank 1 of 2\): \[load_digits\] /nonexistent.csv.gz: not found" "$tmp/err" ||
  fail "mpi_one_rank_fails: no error line naming the rank and the file"

echo "single: $single%, 2 ranks: $np2%, 4 ranks (bf16 gradients): $np4%"
[[ $fails -eq 0 ]] || { echo "$fails failure(s)"; exit 1; }
echo "all dist CLI checks passed"
