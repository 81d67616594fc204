#!/usr/bin/env python3
"""Decode and prefill tokens/s per architecture family at ~1B parameters, bigdl-cpp against
llama.cpp on the same GGUF and against bigdl-llm 2.4.0 on the same Hugging Face folder.

Run it with the python that has llama-cpp-python (as benchmarks/llm/run.py), after
benchmarks/llm/make_arch_models.py has written the models:

    /tmp/lcpenv/bin/python3 benchmarks/llm/arch_bench.py --bigdl-llm-python ~/.cache/bigdl-cpp/venv/bigdl-llm/bin/python

Per family (fresh processes, the same prompt length, positions, context and threads):
  ours GGUF   `bigdl llm bench --model <family>/sym_int4.gguf` (the file our convert wrote)
  llama.cpp   the same file, timed as in run.py (llama_decode of the prompt as one batch,
              then single-token llama_decode + argmax)
  ours HF     `bigdl llm bench --model <family>/hf --low-bit sym_int4` (quantized at load:
              the HF and GGUF paths of one model should decode within 10%)
  bigdl-llm   bigdl-llm 2.4.0 (PyPI `bigdl-llm`, transformers 4.31, Debian's torch 1.13):
              AutoModelForCausalLM.from_pretrained(<family>/hf, load_in_4bit=True), one forward
              of the prompt, then single-token forwards with its KV cache + argmax, under
              torch.inference_mode, torch.set_num_threads(T). Families transformers 4.31 has no
              class for print "n/a" (bigdl-llm would need the model's remote code from the hub).
Each phase is the best of --reps runs. The decode bound is the read bandwidth
(build/benchmarks/bench_membw at the same thread count, measured just before the row) over
the weight bytes one decode token reads (every block matrix and norm, the classifier; for
MoE only the routed experts' share, n_expert_used / n_expert, of the expert tensors; an
untied token_embd or a learned position table contributes one row, counted as 0).

usage: arch_bench.py [--families llama,gpt2,...] [--threads 2] [--n-prompt 128] [--n-gen 64]
                     [--reps 3] [--rounds 1] [--model-dir DIR] [--build DIR] [--bigdl-llm-python PY] [--quick]
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
from run import LLAMA_CPP_CHILD, last_json, require_llama_cpp, tools  # noqa: E402

CACHE = os.environ.get("BIGDL_CACHE", os.path.expanduser("~/.cache/bigdl-cpp"))
FAMILIES = ["llama", "qwen2", "phi3", "gemma", "gemma2", "mixtral", "qwen2moe", "gpt2", "gptneox", "falcon",
            "starcoder", "mpt", "bloom", "stablelm", "olmo", "starcoder2"]
# config.json model_type -> transformers 4.31 has the class (bigdl-llm 2.4.0 can load it)
TRANSFORMERS_431 = {"llama", "gpt2", "gpt_neox", "falcon", "gpt_bigcode", "bloom"}

BIGDL_LLM_CHILD = r'''
import json, os, sys, time, warnings
warnings.filterwarnings("ignore")
import torch
path, threads, n_prompt, n_gen, reps = sys.argv[1], *map(int, sys.argv[2:6])
torch.set_num_threads(threads)
from bigdl.llm.transformers import AutoModelForCausalLM
import bigdl.llm, transformers
t0 = time.time()
model = AutoModelForCausalLM.from_pretrained(path, load_in_4bit=True)
model.eval()
load_s = time.time() - t0
n_vocab = model.config.vocab_size
prompt = torch.randint(0, n_vocab, (1, n_prompt), generator=torch.Generator().manual_seed(1234))
best_prefill = best_decode = 1e30
with torch.inference_mode():
    for _ in range(reps):
        t0 = time.perf_counter()
        out = model(input_ids=prompt, use_cache=True)
        past, nxt = out.past_key_values, out.logits[:, -1:].argmax(-1)
        t1 = time.perf_counter()
        for _ in range(n_gen):
            out = model(input_ids=nxt, past_key_values=past, use_cache=True)
            past, nxt = out.past_key_values, out.logits[:, -1:].argmax(-1)
        t2 = time.perf_counter()
        best_prefill, best_decode = min(best_prefill, t1 - t0), min(best_decode, t2 - t1)
print(json.dumps({"prefill_tok_s": n_prompt / best_prefill, "decode_tok_s": n_gen / best_decode, "load_s": load_s,
                  "transformers": transformers.__version__, "torch": torch.__version__}))
'''


def decode_bytes_per_token(path):
    """Weight bytes one decode step reads (see the module doc)."""
    r = gg.Reader(path)
    arch = r.metadata["general.architecture"]
    n_expert = r.metadata.get(arch + ".expert_count", 0)
    n_used = r.metadata.get(arch + ".expert_used_count", 0)
    tied = "output.weight" not in r.tensors
    total = 0.0
    for name, (_, _, nbytes) in r.tensors.items():
        if name == "position_embd.weight" or (name == "token_embd.weight" and not tied):
            continue
        total += nbytes * (n_used / n_expert if "_exps." in name and n_expert else 1)
    return total


def model_type(hf_dir):
    with open(os.path.join(hf_dir, "config.json")) as f:
        return json.load(f)["model_type"]


def fmt(x, width, digits=1):
    return f"{x:>{width}.{digits}f}" if x is not None else f"{'n/a':>{width}}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-prompt", type=int, default=128)
    ap.add_argument("--n-gen", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--model-dir", default=os.path.join(CACHE, "bench-arch"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--bigdl-llm-python", default=os.path.join(CACHE, "venv", "bigdl-llm", "bin", "python"))
    ap.add_argument("--quick", action="store_true", help="1 rep, prompt 32, 16 decoded (checks the harness)")
    a = ap.parse_args()
    if a.quick:
        a.n_prompt, a.n_gen, a.reps = 32, 16, 1
    if min(a.n_prompt, a.n_gen, a.reps, a.threads, a.rounds) < 1:
        sys.exit("arch_bench.py: --n-prompt, --n-gen, --reps, --threads and --rounds must be >= 1")
    families = a.families.split(",")
    for f in families:
        if f not in FAMILIES:
            sys.exit(f"arch_bench.py: unknown family '{f}' (known: {', '.join(FAMILIES)})")
        if not os.path.exists(os.path.join(a.model_dir, f, "sym_int4.gguf")):
            sys.exit(f"arch_bench.py: {a.model_dir}/{f} not found; make it with benchmarks/llm/make_arch_models.py")
    bigdl, membw = tools(a.build, "arch_bench.py")
    if not os.access(a.bigdl_llm_python, os.X_OK):
        sys.exit(f"arch_bench.py: {a.bigdl_llm_python} not found; scripts/make_ref_venvs.sh makes it")
    llama_cpp = require_llama_cpp("arch_bench.py")
    n_ctx = (a.n_prompt + a.n_gen + 255) // 256 * 256
    th = str(a.threads)
    env = dict(os.environ)  # the child sets torch's threads; OMP_* settings measured no faster

    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; {a.threads} threads; llama-cpp-python "
          f"{llama_cpp.__version__}; bigdl-llm 2.4.0 ({a.bigdl_llm_python})")
    print(f"sym_int4 (Q4_0); prompt {a.n_prompt} tokens, {a.n_gen} decoded, context {n_ctx}, best of {a.reps} runs x "
          f"{a.rounds} round(s) (bigdl-llm: one round)")
    hdr = (f"{'family':<10} {'params':>6} | {'decode GGUF':>11} {'l.cpp':>6} {'ratio':>5} {'HF':>6} {'HF/GGUF':>7} "
           f"{'bigdl-llm':>9} {'ratio':>5} | {'prefill GGUF':>12} {'l.cpp':>6} {'ratio':>5} {'bigdl-llm':>9} "
           f"{'ratio':>5} | {'GB/s':>5} {'MB/tok':>6} {'bound':>6} {'ours%':>5} {'l.cpp%':>6}")
    print(hdr)
    print("-" * len(hdr))
    notes = []
    for f in families:
        d = os.path.join(a.model_dir, f)
        gguf, hf = os.path.join(d, "sym_int4.gguf"), os.path.join(d, "hf")
        r = gg.Reader(gguf)
        n_params = sum(int(__import__("numpy").prod(shape)) for _, shape, _ in r.tensors.values())
        per_tok = decode_bytes_per_token(gguf)
        bench = [bigdl, "llm", "bench", "--threads", th, "--n-prompt", str(a.n_prompt), "--n-gen", str(a.n_gen),
                 "--ctx", str(n_ctx), "--reps", str(a.reps), "--format", "json"]
        # Rounds alternate the bandwidth probe and the three runs (as run.py): on a shared
        # machine a burst of other load then cannot land on one engine only; best of all.
        best = {}
        for _ in range(a.rounds):
            got = {
                "bw": last_json([membw, "--threads", th], "bench_membw"),
                "ours": last_json(bench + ["--model", gguf], f"bigdl llm bench {gguf}"),
                "ours_hf": last_json(bench + ["--model", hf, "--low-bit", "sym_int4"], f"bigdl llm bench {hf}"),
                "theirs": last_json([sys.executable, "-c", LLAMA_CPP_CHILD, gguf, th, str(a.n_prompt), str(a.n_gen),
                                     str(a.reps), str(n_ctx)], f"llama.cpp on {gguf}"),
            }
            for k, v in got.items():
                best[k] = {m: max(x, best.get(k, {}).get(m, 0.0)) for m, x in v.items() if isinstance(x, float)}
        bw, ours, ours_hf, theirs = best["bw"]["gb_per_s"], best["ours"], best["ours_hf"], best["theirs"]
        bd = bp = None
        if model_type(hf) in TRANSFORMERS_431:
            r = subprocess.run([a.bigdl_llm_python, "-c", BIGDL_LLM_CHILD, hf, th, str(a.n_prompt), str(a.n_gen),
                                str(a.reps)], capture_output=True, text=True, env=env)
            if r.returncode == 0:
                res = json.loads(r.stdout.strip().splitlines()[-1])
                bd, bp = res["decode_tok_s"], res["prefill_tok_s"]
            else:  # the row stays, with the peer's failure noted under the table
                notes.append(f"{f}: bigdl-llm failed: " + (r.stderr.strip().splitlines() or ["?"])[-1])
        od, op, hd = ours["decode_tok_s"], ours["prefill_tok_s"], ours_hf["decode_tok_s"]
        td, tp = theirs["decode_tok_s"], theirs["prefill_tok_s"]
        bound = bw * 1e9 / per_tok
        print(f"{f:<10} {n_params / 1e9:>5.2f}B | {od:>11.1f} {td:>6.1f} {od / td:>5.2f} {hd:>6.1f} {hd / od:>7.2f} "
              f"{fmt(bd, 9)} {fmt(od / bd if bd else None, 5, 2)} | {op:>12.1f} {tp:>6.1f} {op / tp:>5.2f} "
              f"{fmt(bp, 9)} {fmt(op / bp if bp else None, 5, 2)} | {bw:>5.1f} {per_tok / 1e6:>6.1f} {bound:>6.1f} "
              f"{100 * od / bound:>4.0f}% {100 * td / bound:>5.0f}%", flush=True)
    for n in notes:
        print(n)
    print("(tokens/s; ratio = bigdl-cpp (GGUF) / peer; HF = bigdl-cpp on the HF folder quantized at load; "
          "GB/s = read bandwidth; MB/tok = weight bytes read per decode token; bound = GB/s / MB/tok)")


if __name__ == "__main__":
    main()
