#!/usr/bin/env bash
# Fault recovery of `bigdl train` under mpirun (docs/distributed.md "Fault recovery"):
# a rank SIGKILLed mid-training ends the job non-zero within a bound, `--resume`
# continues from the newest step checkpoint and the final weights are bit-identical to
# an uninterrupted run's; a corrupted newest checkpoint is reported and the previous one
# used (same weights again); a stopped (hung) rank trips the watchdog; resuming with
# another world size or from a folder with no valid checkpoint is one clear error.
# usage: test_fault.sh <path to bigdl>
set -u
BIGDL=$1
MPI="$(dirname "$0")/mpirun.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
elapsed=0
run() {  # run NAME EXPECTED_EXIT(number, or "nonzero") -- command...; output in $tmp/out, $tmp/err
  local name=$1 want=$2
  shift 3
  local t0=$SECONDS
  timeout 120 "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  elapsed=$((SECONDS - t0))
  if [[ $want == nonzero && ($rc -eq 0 || $rc -eq 124) ]] || [[ $want != nonzero && $rc -ne $want ]]; then
    fail "$name: exit $rc (want $want) after ${elapsed}s"
    cat "$tmp/err"
    return 1
  fi
  echo "ok   $name (exit $rc, ${elapsed}s)"
}
has() { grep -qE -- "$1" "$tmp/err" || fail "$2: no line matching '$1'"; }
same() { cmp -s "$1" "$2" || fail "$3: final weights differ from the uninterrupted run's"; }

# 45 steps per epoch, 135 in all; a checkpoint every 20 steps (mid-epoch).
args=(train --epochs 3 --batch-size 32 --seed 3 --optimizer adam --lr 0.01 --checkpoint-every 20)

run uninterrupted 0 -- "$MPI" 2 "$BIGDL" "${args[@]}" --checkpoint-dir "$tmp/full" --save "$tmp/full.safetensors"
cp "$tmp/err" "$tmp/full.err"
# The training accuracy an epoch line reports: epoch_acc EPOCH FILE ("" when it has none).
epoch_acc() { grep -E "^Epoch $1/3 " "$2" | grep -oE " - accuracy: [0-9.]+" | grep -oE "[0-9.]+$"; }

# Rank 1 SIGKILLs itself right after step 70: checkpoints 20, 40, 60 exist.
BIGDL_FAULT_INJECT=kill:1:70 run killed nonzero -- "$MPI" 2 "$BIGDL" "${args[@]}" --checkpoint-dir "$tmp/ck" \
  --save "$tmp/killed.safetensors"
((elapsed <= 30)) || fail "killed: the job took ${elapsed}s to end (bound 30s)"
has "process rank 1 .* exited on signal 9" killed
[[ ! -e "$tmp/killed.safetensors" ]] || fail "killed: weights were saved by a failed job"
[[ -f "$tmp/ck/ckpt-00000060.manifest" && ! -e "$tmp/ck/ckpt-00000080.manifest" ]] ||
  fail "killed: expected the newest checkpoint at step 60"
cp -r "$tmp/ck" "$tmp/ck2"

run resume_auto 0 -- "$MPI" 2 "$BIGDL" "${args[@]}" --checkpoint-dir "$tmp/ck" --resume auto --save "$tmp/resumed.safetensors"
has "^resumed from .*/ckpt-00000060.manifest: step 60 \(epoch 2, batch 15 of 45\)$" resume_auto
same "$tmp/full.safetensors" "$tmp/resumed.safetensors" resume_auto
# Epoch 2's training accuracy after the resume covers its last 30 batches: close to the
# uninterrupted run's over all 45 (it was divided by all 45 batches' rows: 0.32 for 0.96).
a_full=$(epoch_acc 2 "$tmp/full.err") a_res=$(epoch_acc 2 "$tmp/err")
awk -v a="$a_full" -v b="$a_res" 'BEGIN { d = a - b; exit !(a > 0.5 && d < 0.05 && d > -0.05) }' ||
  fail "resume_auto: epoch 2 training accuracy $a_res after the resume, $a_full uninterrupted"

# Flip one byte of rank 1's file of the newest checkpoint: step 40 is used instead.
printf '\xff' | dd of="$tmp/ck2/ckpt-00000060.rank1.safetensors" bs=1 seek=3000 conv=notrunc status=none
run resume_corrupted 0 -- "$MPI" 2 "$BIGDL" "${args[@]}" --resume "$tmp/ck2" --save "$tmp/corrupt.safetensors"
has "^\[checkpoint\] warning: .*/ckpt-00000060.rank1.safetensors: checksum mismatch \(corrupted\); using the previous checkpoint$" resume_corrupted
[[ $(grep -c "warning" "$tmp/err") -eq 1 ]] || fail "resume_corrupted: not exactly one warning line"
has "^resumed from .*/ckpt-00000040.manifest: step 40 " resume_corrupted
same "$tmp/full.safetensors" "$tmp/corrupt.safetensors" resume_corrupted

# A checkpoint at an epoch's end (every 45 steps), rank 1 killed at step 50: the resumed
# epoch 1 trained no rows after the resume, so it reports no training accuracy (it said 0).
BIGDL_FAULT_INJECT=kill:1:50 run killed_after_epoch nonzero -- "$MPI" 2 "$BIGDL" "${args[@]}" \
  --checkpoint-every 45 --checkpoint-dir "$tmp/ep"
run resume_epoch_end 0 -- "$MPI" 2 "$BIGDL" "${args[@]}" --checkpoint-every 45 --checkpoint-dir "$tmp/ep" \
  --resume auto --save "$tmp/ep.safetensors"
has "^resumed from .*/ckpt-00000045.manifest: step 45 \(epoch 1, batch 45 of 45\)$" resume_epoch_end
[[ -z "$(epoch_acc 1 "$tmp/err")" ]] || fail "resume_epoch_end: epoch 1 reports a training accuracy: $(epoch_acc 1 "$tmp/err")"
has "^Epoch 1/3 .* - val_accuracy: 0\.[0-9]+" resume_epoch_end
[[ -n "$(epoch_acc 2 "$tmp/err")" ]] || fail "resume_epoch_end: epoch 2 reports no training accuracy"
same "$tmp/full.safetensors" "$tmp/ep.safetensors" resume_epoch_end

# A stopped rank: the other one's watchdog ends the job within the timeout.
BIGDL_DIST_TIMEOUT=3 BIGDL_FAULT_INJECT=stop:1:30 run hung nonzero -- "$MPI" 2 "$BIGDL" "${args[@]}" \
  --checkpoint-dir "$tmp/hung"
((elapsed <= 25)) || fail "hung: the job took ${elapsed}s to end (timeout 3s)"
has "^\[dist\] rank 0: no progress from peers for 3 s in [a-z_]+ \(a peer died or hangs\); aborting$" hung

run world_size_mismatch 1 -- "$BIGDL" "${args[@]}" --resume "$tmp/ck" --threads 1
has "^bigdl: error: \[resume\] .*/ckpt-00000120.manifest: written by 2 rank\(s\), this job has 1; " world_size_mismatch

mkdir "$tmp/empty"
run no_valid_checkpoint 1 -- "$MPI" 2 "$BIGDL" "${args[@]}" --resume "$tmp/empty"
has "^bigdl: error: \[resume\] .*/empty: no valid checkpoint" no_valid_checkpoint

run auto_starts_fresh 0 -- "$BIGDL" "${args[@]}" --epochs 1 --threads 1 --checkpoint-dir "$tmp/new" --resume auto
has "^resume: no checkpoint in .*/new yet, starting fresh$" auto_starts_fresh
[[ $(ls "$tmp/new"/*.manifest | wc -l) -eq 2 ]] || fail "auto_starts_fresh: expected checkpoints 20 and 40"

[[ $fails -eq 0 ]] || { echo "$fails failure(s)"; exit 1; }
echo "all fault recovery checks passed"
