#!/usr/bin/env -S /usr/bin/python3
"""Makes the random-weight Llama GGUFs that benchmarks/llm/run.py feeds to both engines.

Runs with Debian's /usr/bin/python3 (numpy only; the GGUF code is gguf_min.py next to it).

Shapes (the real models' configs, weights random):
  135m  SmolLM2-135M:   n_embd 576,  30 layers,  9 heads, 3 KV heads, ffn 1536, vocab 49152,
                        tied output, rope base 1e5; tokenizer copied from SmolLM2-135M-Instruct
                        (scripts/get_smollm2.sh)
  1.1b  TinyLlama-1.1B: n_embd 2048, 22 layers, 32 heads, 4 KV heads, ffn 5632, vocab 32000,
                        untied output, rope base 1e4; tokenizer copied from
                        shared/data/tokenizers/ggml-vocab/ggml-vocab-llama-spm.gguf
llama.cpp needs a tokenizer to load a model, so every tokenizer.* key of the donor GGUF is
copied byte for byte.

Steps per model: write an f32 source GGUF (matrices N(0, 0.02), norms 1, context length
2048), then quantize it with our own `bigdl llm convert --low-bit TYPE` for each type
(sym_int4 = Q4_0, asym_int4 = Q4_1, sym_int8 = Q8_0; q4_k_m, q5_k_m, q6_k, iq4_xs =
llama-quantize's file types, byte for byte what llama-quantize writes from the same source),
so the one file each engine reads was made by bigdl-cpp; the f32 source is deleted unless
--keep-source.

The token embedding: our convert never quantizes it (it stays as stored), and an f32
embedding would make the 135M's tied output a 113 MB f32 matrix read every token, larger
than all its quantized projections. So the source stores token_embd as Q8_0 (quantized
here with ggml's reference Q8_0 rule), which is what llama-quantize gives a tied 576-wide
embedding too (the published SmolLM2 GGUF has the same: Q8_0 token_embd); the 1.1B's
output.weight is untied f32 in the source and quantized by convert like every projection.
--embd f32 keeps it f32 instead.

usage: make_models.py [--out-dir DIR] [--models 135m,1.1b] [--types sym_int4,asym_int4,sym_int8]
                      [--bigdl build/bigdl] [--embd q8_0|f32] [--keep-source] [--force]
Output: DIR/llama-135m-q4_0.gguf, ... (DIR default $BIGDL_CACHE/bench-llm or
~/.cache/bigdl-cpp/bench-llm). Existing outputs are kept unless --force.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import gguf_min as gg  # noqa: E402

CACHE = os.environ.get("BIGDL_CACHE", os.path.expanduser("~/.cache/bigdl-cpp"))
SMOLLM2 = os.environ.get("BIGDL_SMOLLM2", os.path.join(CACHE, "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"))
SHARED_DATA = os.environ.get("BIGDL_SHARED_DATA", os.path.join(os.path.dirname(ROOT), "shared", "data"))
SPM_VOCAB = os.path.join(SHARED_DATA, "tokenizers", "ggml-vocab", "ggml-vocab-llama-spm.gguf")

MODELS = {
    "135m": dict(n_embd=576, n_layer=30, n_head=9, n_head_kv=3, n_ff=1536, n_vocab=49152, tied=True,
                 rope_base=100000.0, tokenizer=SMOLLM2, name="bench-llama-135m (SmolLM2-135M shape)"),
    "1.1b": dict(n_embd=2048, n_layer=22, n_head=32, n_head_kv=4, n_ff=5632, n_vocab=32000, tied=False,
                 rope_base=10000.0, tokenizer=SPM_VOCAB, name="bench-llama-1.1b (TinyLlama-1.1B shape)"),
}
# --low-bit name -> file-name tag. The K-quant / IQ4 ones are llama-quantize's file types
# (the per-tensor mixes; docs/quant.md), written by our convert.
TYPES = {"sym_int4": "q4_0", "asym_int4": "q4_1", "sym_int8": "q8_0", "q4_k_m": "q4_k_m", "q5_k_m": "q5_k_m",
         "q6_k": "q6_k", "iq4_xs": "iq4_xs"}


def model_path(out_dir, model, low_bit):
    return os.path.join(out_dir, f"llama-{model}-{TYPES[low_bit]}.gguf")


def write_source(path, m, embd, seed):
    tok = gg.Reader(m["tokenizer"])
    n_tok = len(tok.metadata["tokenizer.ggml.tokens"])
    if n_tok != m["n_vocab"]:
        sys.exit(f"make_models.py: {m['tokenizer']} has {n_tok} tokens, the model needs {m['n_vocab']}")
    head_dim = m["n_embd"] // m["n_head"]
    kv = [gg.kv_string("general.architecture", "llama"), gg.kv_string("general.name", m["name"]),
          gg.kv_u32("general.file_type", 0),
          gg.kv_u32("llama.context_length", 2048), gg.kv_u32("llama.embedding_length", m["n_embd"]),
          gg.kv_u32("llama.block_count", m["n_layer"]), gg.kv_u32("llama.feed_forward_length", m["n_ff"]),
          gg.kv_u32("llama.rope.dimension_count", head_dim), gg.kv_u32("llama.attention.head_count", m["n_head"]),
          gg.kv_u32("llama.attention.head_count_kv", m["n_head_kv"]),
          gg.kv_f32("llama.rope.freq_base", m["rope_base"]),
          gg.kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5)]
    kv += [raw for key, raw in tok.raw_kv.items() if key.startswith("tokenizer.")]

    rng = np.random.default_rng(seed)
    d, dkv, ff = m["n_embd"], m["n_head_kv"] * head_dim, m["n_ff"]

    def randn(rows, cols):
        return lambda: rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(0.02)

    def ones(n):
        return lambda: np.ones(n, dtype=np.float32)

    emb = randn(m["n_vocab"], d)
    tensors = [("token_embd.weight", (m["n_vocab"], d), gg.Q8_0 if embd == "q8_0" else gg.F32,
                (lambda: gg.quantize_q8_0(emb())) if embd == "q8_0" else emb)]
    for layer in range(m["n_layer"]):
        p = f"blk.{layer}."
        tensors += [(p + "attn_norm.weight", (d,), gg.F32, ones(d)),
                    (p + "attn_q.weight", (d, d), gg.F32, randn(d, d)),
                    (p + "attn_k.weight", (dkv, d), gg.F32, randn(dkv, d)),
                    (p + "attn_v.weight", (dkv, d), gg.F32, randn(dkv, d)),
                    (p + "attn_output.weight", (d, d), gg.F32, randn(d, d)),
                    (p + "ffn_norm.weight", (d,), gg.F32, ones(d)),
                    (p + "ffn_gate.weight", (ff, d), gg.F32, randn(ff, d)),
                    (p + "ffn_up.weight", (ff, d), gg.F32, randn(ff, d)),
                    (p + "ffn_down.weight", (d, ff), gg.F32, randn(d, ff))]
    tensors.append(("output_norm.weight", (d,), gg.F32, ones(d)))
    if not m["tied"]:
        tensors.append(("output.weight", (m["n_vocab"], d), gg.F32, randn(m["n_vocab"], d)))
    tmp = path + ".tmp"
    gg.write(tmp, kv, tensors)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=os.path.join(CACHE, "bench-llm"))
    ap.add_argument("--models", default="135m,1.1b")
    ap.add_argument("--types", default="sym_int4,asym_int4,sym_int8")
    ap.add_argument("--bigdl", default=os.environ.get("BIGDL_BIN", os.path.join(ROOT, "build", "bigdl")))
    ap.add_argument("--embd", choices=["q8_0", "f32"], default="q8_0")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep-source", action="store_true")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    models, types = a.models.split(","), a.types.split(",")
    for x in models:
        if x not in MODELS:
            sys.exit(f"make_models.py: unknown model '{x}' (known: {', '.join(MODELS)})")
    for x in types:
        if x not in TYPES:
            sys.exit(f"make_models.py: unknown type '{x}' (known: {', '.join(TYPES)})")
    if not os.access(a.bigdl, os.X_OK):
        sys.exit(f"make_models.py: {a.bigdl} not found; build first (scripts/build.sh) or pass --bigdl")
    os.makedirs(a.out_dir, exist_ok=True)
    for name in models:
        m = MODELS[name]
        if not os.path.exists(m["tokenizer"]):
            hint = " (scripts/get_smollm2.sh fetches it)" if m["tokenizer"] == SMOLLM2 else ""
            sys.exit(f"make_models.py: tokenizer donor {m['tokenizer']} not found{hint}")
        todo = [t for t in types if a.force or not os.path.exists(model_path(a.out_dir, name, t))]
        if not todo:
            print(f"{name}: all files present")
            continue
        src = os.path.join(a.out_dir, f"llama-{name}-f32-source.gguf")
        if a.force or not os.path.exists(src):
            t0 = time.time()
            write_source(src, m, a.embd, a.seed)
            print(f"{name}: wrote {src} ({os.path.getsize(src) / 1e6:.0f} MB, {time.time() - t0:.0f} s)", flush=True)
        for t in todo:
            dst = model_path(a.out_dir, name, t)
            t0 = time.time()
            r = subprocess.run([a.bigdl, "llm", "convert", "--model", src, "--out", dst, "--low-bit", t],
                               capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"make_models.py: bigdl llm convert failed: {r.stderr.strip().splitlines()[-1:]}")
            print(f"{name} {t}: wrote {dst} ({os.path.getsize(dst) / 1e6:.0f} MB, {time.time() - t0:.0f} s)",
                  flush=True)
        if not a.keep_source:
            os.remove(src)


if __name__ == "__main__":
    main()
