#!/usr/bin/env python3
"""bigdl-llm's Python quick start, timed: bigdl-llm 2.4.0 against bigdl_cpp on the same
random-weight Hugging Face folders (issue 11, must-show 5).

The child (--child) is the quick start with timers: `from <impl> import
AutoModelForCausalLM`, `from_pretrained(folder, load_in_4bit=True)`, then `generate` on a
fixed prompt of --n-prompt token ids, greedy: once with max_new_tokens=1 (first-token
latency: prefill + one token) and once with --n-gen (decode latency = (t_all - t_first) /
(generated - 1)); best of --reps each, torch.inference_mode, torch.set_num_threads(T) and
bigdl_cpp.set_num_threads(T). Only the import line differs between the two.

The driver runs each (model, threads, implementation) in a fresh process:
  bigdl-llm  ~/.cache/bigdl-cpp/venv/bigdl-llm/bin/python (scripts/make_ref_venvs.sh bigdl-llm:
             bigdl-llm 2.4.0, transformers 4.31, Debian's torch 1.13)
  ours       the venv of scripts/make_test_venv.sh (Debian's python3 + torch) with
             PYTHONPATH=build/python (scripts/build.sh builds the package there)
Models: benchmarks/llm/make_arch_models.py's llama135m (SmolLM2-135M's shape) and llama
(TinyLlama-1.1B's shape) HF folders under ~/.cache/bigdl-cpp/bench-arch/<name>/hf.

    python3 benchmarks/llm/python_api_bench.py [--models llama135m,llama] [--threads 1,2]
           [--n-prompt 32] [--n-gen 32] [--reps 3]
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("BIGDL_CACHE", os.path.expanduser("~/.cache/bigdl-cpp"))
IMPORTS = {"bigdl-llm": "bigdl.llm.transformers", "ours": "bigdl_cpp.llm.transformers"}


def child(a):
    import importlib

    import torch

    torch.set_num_threads(a.threads)
    if a.impl == "ours":
        import bigdl_cpp

        bigdl_cpp.set_num_threads(a.threads)
    AutoModelForCausalLM = importlib.import_module(IMPORTS[a.impl]).AutoModelForCausalLM
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(a.model, load_in_4bit=True)
    load_s = time.perf_counter() - t0
    vocab = model.config.vocab_size
    input_ids = torch.tensor([[(7919 * i + 13) % (vocab - 3) + 3 for i in range(a.n_prompt)]])
    first, full, n_out = [], [], 0
    with torch.inference_mode():
        for _ in range(a.reps):
            t0 = time.perf_counter()
            model.generate(input_ids, max_new_tokens=1, do_sample=False)
            first.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            out = model.generate(input_ids, max_new_tokens=a.n_gen, do_sample=False)
            full.append(time.perf_counter() - t0)
            n_out = out.shape[1] - input_ids.shape[1]
    t_first, t_full = min(first), min(full)
    print(json.dumps({"load_s": load_s, "first_ms": t_first * 1e3, "generated": n_out,
                      "decode_ms": (t_full - t_first) / max(1, n_out - 1) * 1e3}))


def run_child(impl, model, threads, a):
    if impl == "bigdl-llm":
        py = os.path.join(CACHE, "venv", "bigdl-llm", "bin", "python")
        env = dict(os.environ)
    else:
        py = os.path.join(CACHE, "venv", "test", "bin", "python")
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "build", "python"))
    if not os.path.exists(py):
        sys.exit(f"python_api_bench.py: {py} is missing (scripts/make_ref_venvs.sh bigdl-llm / scripts/make_test_venv.sh)")
    env["OMP_NUM_THREADS"] = str(threads)
    cmd = [py, os.path.abspath(__file__), "--child", "--impl", impl, "--model", model, "--threads", str(threads),
           "--n-prompt", str(a.n_prompt), "--n-gen", str(a.n_gen), "--reps", str(a.reps)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        sys.exit(f"python_api_bench.py: {impl} on {model} failed:\n{r.stderr[-3000:]}")
    return json.loads(lines[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="llama135m,llama")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--n-prompt", type=int, default=32)
    p.add_argument("--n-gen", type=int, default=32)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--child", action="store_true")
    p.add_argument("--impl", choices=sorted(IMPORTS))
    p.add_argument("--model")
    a = p.parse_args()
    if a.child:
        a.threads = int(a.threads)
        return child(a)
    sys.path.insert(0, os.path.dirname(HERE))
    from machine import cpu_name

    print(f"# {cpu_name()}, {time.strftime('%Y-%m-%d %H:%M')}, prompt {a.n_prompt} tokens, {a.n_gen} generated, "
          f"load_in_4bit=True, best of {a.reps}")
    print("| model | threads | first token ms: bigdl-llm | ours | speed-up | decode ms/token: bigdl-llm | ours | "
          "speed-up | load s: bigdl-llm | ours |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in a.models.split(","):
        folder = os.path.join(CACHE, "bench-arch", name, "hf")
        if not os.path.isdir(folder):
            sys.exit(f"python_api_bench.py: {folder} is missing (benchmarks/llm/make_arch_models.py writes it)")
        for t in (int(x) for x in a.threads.split(",")):
            peer, ours = run_child("bigdl-llm", folder, t, a), run_child("ours", folder, t, a)
            print(f"| {name} | {t} | {peer['first_ms']:.1f} | {ours['first_ms']:.1f} | "
                  f"{peer['first_ms'] / ours['first_ms']:.2f}x | {peer['decode_ms']:.2f} | {ours['decode_ms']:.2f} | "
                  f"{peer['decode_ms'] / ours['decode_ms']:.2f}x | {peer['load_s']:.1f} | {ours['load_s']:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
