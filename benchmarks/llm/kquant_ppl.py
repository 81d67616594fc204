#!/usr/bin/env python3
"""K-quant / i-quant files, ours vs llama-quantize's, by perplexity (issue 10, must-show 2).

Run it with the llama.cpp reference venv (scripts/make_ref_venvs.sh llamacpp), after
scripts/build.sh:
    ~/.cache/bigdl-cpp/venv/llamacpp/bin/python benchmarks/llm/kquant_ppl.py \
        [--types q4_k_m,q5_k_m,q6_k,q3_k_m,q2_k,iq4_xs,iq4_nl,q8_0] [--ctx 512] [--chunks 20] [--threads 2]

1. Source: SmolLM2-135M-Instruct's Q4_1 GGUF (scripts/get_smollm2.sh) dequantized to an F16
   GGUF by `bigdl llm convert --low-bit fp16` (the same f16 source for both quantizers).
2. For each file type T: ours = `bigdl llm convert --model SRC --low-bit T`; llama.cpp's =
   llama_model_quantize(SRC, ftype T) (llama-quantize's engine, no imatrix).
3. Perplexity on wikitext-2-raw's test text (../shared/data/text/wikitext-2-raw), with
   perplexity_vs_llamacpp.py's method (llama-perplexity's: chunks of --ctx, second half
   scored): our file in our engine and in llama.cpp, llama.cpp's file in llama.cpp (not run
   again when the two files' tensors are byte-identical: llama.cpp's result on ours is its
   result on its own).
Prints a table: per type, the three perplexities, ours / llama.cpp's file - 1 (goal within
1%), our file in llama.cpp / in ours - 1 (goal within 0.2%), and how many tensors of the
two files differ in type and in bytes.
"""
import argparse
import ctypes
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from perplexity_vs_llamacpp import (CACHE, ROOT, SHARED_DATA, llamacpp_perplexity, our_perplexity,  # noqa: E402
                                    read_text)

FTYPES = {"q2_k": 10, "q3_k_s": 11, "q3_k_m": 12, "q3_k_l": 13, "q4_k_s": 14, "q4_k_m": 15, "q5_k_s": 16,
          "q5_k_m": 17, "q6_k": 18, "iq4_nl": 25, "iq4_xs": 30, "q8_0": 7, "q4_0": 2, "q5_0": 8}


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"kquant_ppl.py: {' '.join(cmd)} failed: {r.stderr.strip()}")
    return r.stdout


def llama_ppl(llama_cpp, path, text, ctx, chunks, threads):
    llm = llama_cpp.Llama(model_path=path, n_ctx=ctx, n_batch=ctx, n_ubatch=ctx, n_threads=threads,
                          n_threads_batch=threads, logits_all=True, verbose=False)
    toks = llm.tokenize(text, add_bos=True, special=False)
    add_bos = llama_cpp.llama_vocab_get_add_bos(llama_cpp.llama_model_get_vocab(llm.model))
    _, ppl, err, secs = llamacpp_perplexity(llm, toks, ctx, min(chunks, len(toks) // ctx), llm.token_bos() if add_bos else None)
    del llm
    return ppl, err, secs


def compare_files(gguf, a, b):
    ra, rb = gguf.GGUFReader(a), gguf.GGUFReader(b)
    tb = {t.name: t for t in rb.tensors}
    types = bytes_ = 0
    for t in ra.tensors:
        u = tb[t.name]
        if t.tensor_type != u.tensor_type:
            types += 1
        elif not np.array_equal(np.asarray(t.data).view(np.uint8), np.asarray(u.data).view(np.uint8)):
            bytes_ += 1
    return len(ra.tensors), types, bytes_


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.environ.get(
        "BIGDL_SMOLLM2", os.path.join(CACHE, "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")))
    ap.add_argument("--file", default=os.path.join(SHARED_DATA, "text", "wikitext-2-raw", "wiki.test.raw"))
    ap.add_argument("--types", default="q4_k_m,q5_k_m,q6_k,q3_k_m,q2_k,iq4_xs,iq4_nl,q8_0")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--work", default=os.path.join(CACHE, "kquant-ppl"), help="where the files are written")
    a = ap.parse_args()
    import gguf
    import llama_cpp
    bigdl = os.path.join(a.build, "bigdl")
    os.makedirs(a.work, exist_ok=True)
    src = os.path.join(a.work, "smollm2-f16.gguf")
    if not os.path.exists(src):
        run([bigdl, "llm", "convert", "--model", a.model, "--low-bit", "fp16", "--out", src])
    text = read_text(a.file)
    llama_cpp.llama_backend_init()
    rows = []
    for t in a.types.split(","):
        ours = os.path.join(a.work, f"ours-{t}.gguf")
        theirs = os.path.join(a.work, f"llama-{t}.gguf")
        run([bigdl, "llm", "convert", "--model", src, "--low-bit", t, "--out", ours])
        params = llama_cpp.llama_model_quantize_default_params()
        params.nthread = a.threads
        params.ftype = FTYPES[t]
        if llama_cpp.llama_model_quantize(src.encode(), theirs.encode(), ctypes.byref(params)) != 0:
            sys.exit(f"kquant_ppl.py: llama_model_quantize {t} failed")
        n, dtypes, dbytes = compare_files(gguf, ours, theirs)
        _, p_oo, e_oo, s_oo = our_perplexity(a.build, ours, a.file, a.ctx, a.chunks, a.threads)
        p_ol, _, s_ol = llama_ppl(llama_cpp, ours, text, a.ctx, a.chunks, a.threads)
        if dtypes == 0 and dbytes == 0:
            # Byte-identical tensors (and llama.cpp is deterministic at a fixed thread
            # count): its run on its own file is its run on ours.
            p_ll, s_ll = p_ol, 0.0
        else:
            p_ll, _, s_ll = llama_ppl(llama_cpp, theirs, text, a.ctx, a.chunks, a.threads)
        rows.append((t, os.path.getsize(ours), os.path.getsize(theirs), p_oo, e_oo, p_ol, p_ll, n, dtypes, dbytes))
        print(f"{t}: ours in ours {p_oo:.4f} ({s_oo:.0f} s), ours in llama.cpp {p_ol:.4f} ({s_ol:.0f} s), "
              f"llama.cpp's in llama.cpp {p_ll:.4f} ({s_ll:.0f} s)", file=sys.stderr, flush=True)
    print(f"SmolLM2-135M-Instruct from {os.path.basename(a.model)} via f16; {a.file}; ctx {a.ctx}, {a.chunks} chunks, "
          f"{a.threads} threads; llama-cpp-python {llama_cpp.__version__}")
    print(f"{'type':8} {'MB ours':>8} {'MB llama':>8} {'ours@ours':>10} {'ours@llama':>10} {'llama@llama':>11} "
          f"{'vs llama':>9} {'engines':>8} {'tensors: type/bytes differ':>27}")
    for t, so, st, p_oo, e_oo, p_ol, p_ll, n, dtypes, dbytes in rows:
        print(f"{t:8} {so / 1e6:8.1f} {st / 1e6:8.1f} {p_oo:10.4f} {p_ol:10.4f} {p_ll:11.4f} "
              f"{100 * (p_oo / p_ll - 1):+8.3f}% {100 * (p_ol / p_oo - 1):+7.3f}% {dtypes:>13}/{dbytes} of {n}")
    print("goals: ours@ours vs llama@llama within 1%; ours@llama vs ours@ours within 0.2%")


if __name__ == "__main__":
    main()
