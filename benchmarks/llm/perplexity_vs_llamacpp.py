#!/usr/bin/env python3
"""Perplexity of one GGUF on one text, bigdl-cpp vs llama.cpp, same tokens and same scoring.

Run it with a python that has llama-cpp-python and numpy:
    /tmp/lcpenv/bin/python3 benchmarks/llm/perplexity_vs_llamacpp.py \
        [--model ~/.cache/bigdl-cpp/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf] \
        [--file ../shared/data/text/wikitext-2-raw/wiki.test.raw] [--ctx 512] [--chunks 20] [--threads 2]

1. Tokens. Ours come from build/benchmarks/bench_ppl_tokens, which tokenizes the file exactly
   as `bigdl llm perplexity` does (one trailing '\\n' dropped, BOS when the vocab's add_bos
   says so, special-token text not parsed); llama.cpp's from Llama.tokenize(text, add_bos=True,
   special=False), i.e. llama-perplexity's common_tokenize(text, add_special=true,
   parse_special=false). The two id lists are compared (count, first difference, differences
   inside the scored chunks) and llama.cpp is then fed its own tokens, as llama-perplexity is.
2. Ours: `bigdl llm perplexity --model M --file F --ctx C --chunks N --threads T`.
3. llama.cpp, llama-perplexity's default method reproduced with llama-cpp-python: chunk i is
   tokens[i*C, (i+1)*C) (its first token replaced by BOS when add_bos), evaluated from an empty
   KV cache as one batch with logits for every position; positions C/2 .. C-2 are scored
   against the next token; nll = -log softmax (float64 here); PPL = exp(mean nll), +/- =
   PPL * sqrt(var(nll) / (n - 1)).
Prints both running estimates per chunk, both finals and their relative difference.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("BIGDL_CACHE", os.path.expanduser("~/.cache/bigdl-cpp"))
SHARED_DATA = os.environ.get("BIGDL_SHARED_DATA", os.path.join(os.path.dirname(ROOT), "shared", "data"))


def read_text(path):
    with open(path, "rb") as f:
        text = f.read()
    return text[:-1] if text.endswith(b"\n") else text  # as llama.cpp's -f


def our_tokens(build, model, file):
    r = subprocess.run([os.path.join(build, "benchmarks", "bench_ppl_tokens"), "--model", model, "--file", file],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"perplexity_vs_llamacpp.py: bench_ppl_tokens failed: {r.stderr.strip()}")
    return json.loads(r.stdout)


def our_perplexity(build, model, file, ctx, chunks, threads):
    t0 = time.time()
    r = subprocess.run([os.path.join(build, "bigdl"), "llm", "perplexity", "--model", model, "--file", file, "--ctx",
                        str(ctx), "--chunks", str(chunks), "--threads", str(threads)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"perplexity_vs_llamacpp.py: bigdl llm perplexity failed: {r.stderr.strip()}")
    running = [float(x) for x in re.findall(r"\[\d+\]([0-9.]+),", r.stdout)]
    m = re.search(r"PPL = ([0-9.]+) \+/- ([0-9.]+)", r.stdout)
    return running, float(m.group(1)), float(m.group(2)), time.time() - t0


def llamacpp_perplexity(llm, tokens, ctx, chunks, bos):
    n_vocab = llm.n_vocab()
    first = ctx // 2
    nll = []
    running = []
    t0 = time.time()
    for c in range(chunks):
        chunk = list(tokens[c * ctx:(c + 1) * ctx])
        if bos is not None:
            chunk[0] = bos
        llm.reset()  # eval() then removes every cached position >= 0
        llm.eval(chunk)
        logits = np.asarray(llm.scores[:ctx - 1], dtype=np.float64)  # rows 0 .. ctx-2
        lg = logits[first:]
        mx = lg.max(axis=1, keepdims=True)
        lse = np.log(np.exp(lg - mx).sum(axis=1)) + mx[:, 0]
        target = np.asarray(chunk[first + 1:ctx])
        nll.extend(lse - lg[np.arange(len(target)), target])
        running.append(float(np.exp(np.mean(nll))))
        print(f"llama.cpp [{c + 1}/{chunks}] {running[-1]:.4f} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
        assert lg.shape[1] == n_vocab
    v = np.asarray(nll)
    ppl = float(np.exp(v.mean()))
    err = float(ppl * np.sqrt(v.var() / (len(v) - 1)))
    return running, ppl, err, time.time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.environ.get(
        "BIGDL_SMOLLM2", os.path.join(CACHE, "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")))
    ap.add_argument("--file", default=os.path.join(SHARED_DATA, "text", "wikitext-2-raw", "wiki.test.raw"))
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    for p in (a.model, a.file):
        if not os.path.exists(p):
            sys.exit(f"perplexity_vs_llamacpp.py: {p} not found")
    for b in ("bigdl", os.path.join("benchmarks", "bench_ppl_tokens")):
        if not os.access(os.path.join(a.build, b), os.X_OK):
            sys.exit(f"perplexity_vs_llamacpp.py: {os.path.join(a.build, b)} not found; build first or pass --build")
    try:
        import llama_cpp
    except ImportError:
        sys.exit(f"perplexity_vs_llamacpp.py: {sys.executable} has no llama_cpp; use the python with llama-cpp-python")

    ours_ids = our_tokens(a.build, a.model, a.file)
    llm = llama_cpp.Llama(model_path=a.model, n_ctx=a.ctx, n_batch=a.ctx, n_ubatch=a.ctx, n_threads=a.threads,
                          n_threads_batch=a.threads, logits_all=True, verbose=False)
    theirs_ids = llm.tokenize(read_text(a.file), add_bos=True, special=False)
    n_chunks = min(a.chunks, len(theirs_ids) // a.ctx)
    scored = n_chunks * a.ctx
    diff = next((i for i, (x, y) in enumerate(zip(ours_ids, theirs_ids)) if x != y), None)
    n_diff_scored = sum(x != y for x, y in zip(ours_ids[:scored], theirs_ids[:scored]))
    print(f"model: {a.model}\ntext: {a.file}\nllama-cpp-python {llama_cpp.__version__}, threads {a.threads}")
    print(f"tokens: ours {len(ours_ids)}, llama.cpp {len(theirs_ids)}; "
          + ("identical" if diff is None and len(ours_ids) == len(theirs_ids) else
             f"first difference at {diff if diff is not None else min(len(ours_ids), len(theirs_ids))}")
          + f"; {n_diff_scored} of the {scored} tokens in the {n_chunks} chunks differ")
    if diff is not None:
        lo = max(0, diff - 3)
        print(f"  ours[{lo}:{diff + 4}] = {ours_ids[lo:diff + 4]}\n  llama.cpp[{lo}:{diff + 4}] = {theirs_ids[lo:diff + 4]}")

    add_bos = llama_cpp.llama_vocab_get_add_bos(llama_cpp.llama_model_get_vocab(llm.model))
    bos = llm.token_bos() if add_bos else None
    lc_running, lc_ppl, lc_err, lc_s = llamacpp_perplexity(llm, theirs_ids, a.ctx, n_chunks, bos)
    del llm
    our_running, our_ppl, our_err, our_s = our_perplexity(a.build, a.model, a.file, a.ctx, n_chunks, a.threads)

    print(f"{'chunk':>5} {'bigdl-cpp':>10} {'llama.cpp':>10} {'rel diff':>9}")
    for i, (o, t) in enumerate(zip(our_running, lc_running)):
        print(f"{i + 1:>5} {o:>10.4f} {t:>10.4f} {100 * (o / t - 1):>+8.2f}%")
    print(f"final ({n_chunks} chunks of {a.ctx}, {n_chunks * (a.ctx - 1 - a.ctx // 2)} tokens scored):")
    print(f"  bigdl-cpp  PPL = {our_ppl:.4f} +/- {our_err:.5f}  ({our_s:.0f} s incl. load)")
    print(f"  llama.cpp  PPL = {lc_ppl:.4f} +/- {lc_err:.5f}  ({lc_s:.0f} s)")
    print(f"  bigdl-cpp / llama.cpp - 1 = {100 * (our_ppl / lc_ppl - 1):+.2f}% (goal: within 2%)")


if __name__ == "__main__":
    main()
