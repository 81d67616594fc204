#!/usr/bin/env python3
"""LLM prefill / decode tokens/s, bigdl-cpp vs llama.cpp on the same GGUF files.

Run it with a python that has llama-cpp-python (built from source by pip) and numpy:
    /tmp/lcpenv/bin/python3 benchmarks/llm/run.py [--quick]
The models come from benchmarks/llm/make_models.py (random weights, real shapes).

For each model x type x threads, in fresh processes:
  ours    `bigdl llm bench --model F --threads T --n-prompt P --n-gen G --ctx C --reps R --format json`:
          one batched forward of the P-token prompt from position 0, then G greedy decode
          steps (forward + argmax) at positions P..P+G-1; best of R runs for each phase.
  theirs  llama_cpp.Llama(model_path=F, n_threads=T, n_threads_batch=T, n_ctx=C) and the raw
          C API on its context, the same schedule: the KV cache cleared, llama_decode of the
          P-token prompt as one batch, then G single-token llama_decode + argmax of the
          logits; best of R runs for each phase. (The Python calls around llama_decode cost
          ~10 us per token, < 0.5% of a decode step here.)
Both get the same prompt length, positions, context size C (P + G rounded up to 256) and
thread count. Memory read bandwidth is measured in the same run, just before each row at
its thread count (build/benchmarks/bench_membw; per row so that a row and its bound see
the same machine load), and decode is also printed as a fraction of its bound:
bound tok/s = bandwidth / bytes of weights read per decode token (every matrix and norm of
the blocks plus the output matrix, which is token_embd when tied; an untied token_embd
contributes one row, counted as 0; KV-cache reads not counted).

usage: run.py [--models 135m,1.1b] [--types sym_int4,asym_int4,sym_int8] [--threads 1,2]
              [--n-prompt 128] [--n-gen 64] [--reps 3] [--rounds 1] [--quick] [--model-dir DIR] [--build DIR]
--rounds N: each row runs bench_membw, ours and llama.cpp N times in turn and keeps the best
of each (on a shared machine a burst of other load then cannot land on one engine only).
--quick: 1 rep, n-prompt 32, n-gen 16 (validates the harness; figures are noisy).
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from machine import cpu_name  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import gguf_min as gg  # noqa: E402
from make_models import CACHE, MODELS, TYPES, model_path  # noqa: E402

LLAMA_CPP_CHILD = r'''
import json, sys, time
import numpy as np
import llama_cpp
path, threads, n_prompt, n_gen, reps, n_ctx = sys.argv[1], *map(int, sys.argv[2:7])
llm = llama_cpp.Llama(model_path=path, n_threads=threads, n_threads_batch=threads, n_ctx=n_ctx,
                      n_batch=max(512, n_prompt), verbose=False)
ctx, n_vocab = llm.ctx, llm.n_vocab()
mem = llama_cpp.llama_get_memory(ctx)
prompt = [int(t) for t in np.random.default_rng(1234).integers(0, n_vocab, n_prompt)]

def decode(tokens):
    arr = (llama_cpp.llama_token * len(tokens))(*tokens)
    rc = llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(arr, len(tokens)))
    if rc != 0:
        raise RuntimeError(f"llama_decode returned {rc}")
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1), shape=(n_vocab,))
    return int(np.argmax(logits))

best_prefill = best_decode = 1e30
for _ in range(reps):
    llama_cpp.llama_memory_clear(mem, True)
    t0 = time.perf_counter()
    nxt = decode(prompt)
    t1 = time.perf_counter()
    for _ in range(n_gen):
        nxt = decode([nxt])
    t2 = time.perf_counter()
    best_prefill, best_decode = min(best_prefill, t1 - t0), min(best_decode, t2 - t1)
print(json.dumps({"prefill_tok_s": n_prompt / best_prefill, "decode_tok_s": n_gen / best_decode,
                  "version": getattr(llama_cpp, "__version__", "?")}))
'''


def last_json(cmd, what, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        tail = (r.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        sys.exit(f"run.py: {what} failed (exit {r.returncode}): {tail}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def tools(build, who):
    """build/bigdl and build/benchmarks/bench_membw, or exit naming what is missing."""
    bigdl = os.path.join(build, "bigdl")
    membw = os.path.join(build, "benchmarks", "bench_membw")
    for b in (bigdl, membw):
        if not os.access(b, os.X_OK):
            sys.exit(f"{who}: {b} not found; build first (scripts/build.sh) or pass --build DIR")
    return bigdl, membw


def require_llama_cpp(who):
    """The llama_cpp module of this python, or exit saying which python to use."""
    try:
        import llama_cpp
    except ImportError:
        sys.exit(f"{who}: {sys.executable} has no llama_cpp; run with the python that has llama-cpp-python")
    return llama_cpp


def decode_bytes_per_token(path):
    """Bytes of weights one decode step reads (see the module doc)."""
    t = gg.Reader(path).tensors
    tied = "output.weight" not in t
    return sum(nbytes for name, (_, _, nbytes) in t.items() if name != "token_embd.weight" or tied)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="135m,1.1b")
    ap.add_argument("--types", default="sym_int4,asym_int4,sym_int8")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--n-prompt", type=int, default=128)
    ap.add_argument("--n-gen", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--model-dir", default=os.path.join(CACHE, "bench-llm"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    if a.quick:
        a.n_prompt, a.n_gen, a.reps = 32, 16, 1
    if min(a.n_prompt, a.n_gen, a.reps, a.rounds) < 1:
        sys.exit("run.py: --n-prompt, --n-gen, --reps and --rounds must be >= 1")
    models, types = a.models.split(","), a.types.split(",")
    threads = [int(s) for s in a.threads.split(",")]
    for m in models:
        if m not in MODELS:
            sys.exit(f"run.py: unknown model '{m}' (known: {', '.join(MODELS)})")
    for t in types:
        if t not in TYPES:
            sys.exit(f"run.py: unknown type '{t}' (known: {', '.join(TYPES)})")
    bigdl, membw = tools(a.build, "run.py")
    files = {(m, t): model_path(a.model_dir, m, t) for m in models for t in types}
    for f in files.values():
        if not os.path.exists(f):
            sys.exit(f"run.py: {f} not found; make it with benchmarks/llm/make_models.py")
    llama_cpp = require_llama_cpp("run.py")
    n_ctx = (a.n_prompt + a.n_gen + 255) // 256 * 256

    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; llama-cpp-python {llama_cpp.__version__}")
    print(f"prompt {a.n_prompt} tokens, {a.n_gen} decoded, context {n_ctx}, best of {a.reps} runs x {a.rounds} "
          "round(s); read bandwidth measured in each row")
    hdr = (f"{'model':<6} {'type':<9} {'thr':>3} | {'decode ours':>11} {'llama.cpp':>9} {'ratio':>5} | "
           f"{'prefill ours':>12} {'llama.cpp':>9} {'ratio':>5} | {'GB/s':>5} {'MB/tok':>6} {'bound':>6} "
           f"{'ours%':>5} {'l.cpp%':>6}")
    print(hdr)
    print("-" * len(hdr))
    for m in models:
        for t in types:
            f = files[(m, t)]
            per_tok = decode_bytes_per_token(f)
            for th in threads:
                # Rounds alternate bench_membw, ours and theirs, so that on a shared machine a
                # burst of someone else's load does not land on one engine only; best of all.
                bw, od, op, td, tp = 0.0, 0.0, 0.0, 0.0, 0.0
                for _ in range(a.rounds):
                    bw = max(bw, last_json([membw, "--threads", str(th)], "bench_membw")["gb_per_s"])
                    ours = last_json([bigdl, "llm", "bench", "--model", f, "--threads", str(th), "--n-prompt",
                                      str(a.n_prompt), "--n-gen", str(a.n_gen), "--ctx", str(n_ctx), "--reps",
                                      str(a.reps), "--format", "json"], f"bigdl llm bench {f}")
                    theirs = last_json([sys.executable, "-c", LLAMA_CPP_CHILD, f, str(th), str(a.n_prompt),
                                        str(a.n_gen), str(a.reps), str(n_ctx)], f"llama.cpp on {f}")
                    od, op = max(od, ours["decode_tok_s"]), max(op, ours["prefill_tok_s"])
                    td, tp = max(td, theirs["decode_tok_s"]), max(tp, theirs["prefill_tok_s"])
                bound = bw * 1e9 / per_tok
                print(f"{m:<6} {t:<9} {th:>3} | {od:>11.1f} {td:>9.1f} {od / td:>5.2f} | {op:>12.1f} {tp:>9.1f} "
                      f"{op / tp:>5.2f} | {bw:>5.1f} {per_tok / 1e6:>6.1f} {bound:>6.1f} {100 * od / bound:>4.0f}% "
                      f"{100 * td / bound:>5.0f}%", flush=True)
    print("(tokens/s; ratio = bigdl-cpp / llama.cpp; GB/s = read bandwidth at that thread count; MB/tok = weight "
          "bytes read per decode token; bound = GB/s / MB/tok; ours% and l.cpp% = decode as a fraction of it)")


if __name__ == "__main__":
    main()
