#!/usr/bin/env python3
"""Makes the ~1B random-weight Hugging Face folders of benchmarks/llm/arch_bench.py, one per
architecture family, and the sym_int4 (Q4_0) GGUF our `bigdl llm convert` writes from each.

Runs with the transformers venv of tests/llm/gen_arch_golden.py (scripts/make_ref_venvs.sh:
Debian's torch 1.13 + transformers 4.46.3 from PyPI):

    ~/.cache/bigdl-cpp/venv/hf/bin/python benchmarks/llm/make_arch_models.py [--families llama,gpt2,...]

Shapes: each family's own layout (its transformers class, its config quirks: MQA, ALiBi,
parallel residual, partial rotary, biases, MoE, soft-capping ...) at about 1B parameters,
close to a real ~1B member of the family where there is one (TinyLlama-1.1B, Pythia-1B,
StarCoderBase-1B, BLOOM-1b1, StableLM-2-1.6B, OLMo-1B, GPT-2 large), else the family's
proportions with fewer layers. Weights: the class's own initialisation (normal, std 0.02)
saved as bf16 safetensors; speed does not depend on the values. The tokenizer.json is the
synthetic byte-level one of gen_arch_golden.py padded to the vocabulary (llama.cpp needs
one with exactly n_vocab tokens to load the GGUF).

Output: DIR/<family>/hf/ (config.json, model*.safetensors, tokenizer.json) and
DIR/<family>/sym_int4.gguf, DIR default ~/.cache/bigdl-cpp/bench-arch. Existing outputs are
kept unless --force.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "llm"))
from gen_arch_golden import tiny_tokenizer_json  # noqa: E402

CACHE = os.environ.get("BIGDL_CACHE", os.path.expanduser("~/.cache/bigdl-cpp"))

# family -> (transformers class, config class, config kwargs, what it is)
FAMILIES = {
    "llama": ("LlamaForCausalLM", "LlamaConfig", dict(
        vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
        num_key_value_heads=4, tie_word_embeddings=False), "TinyLlama-1.1B"),
    "qwen2": ("Qwen2ForCausalLM", "Qwen2Config", dict(
        vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=16,
        num_key_value_heads=2, tie_word_embeddings=False, use_sliding_window=False), "Qwen2 proportions, q/k/v biases"),
    "phi3": ("Phi3ForCausalLM", "Phi3Config", dict(
        vocab_size=32064, hidden_size=2048, intermediate_size=5632, num_hidden_layers=20, num_attention_heads=32,
        num_key_value_heads=32, tie_word_embeddings=False, pad_token_id=0, bos_token_id=1, eos_token_id=2),
        "Phi-3-mini proportions, fused qkv and gate_up"),
    "gemma": ("GemmaForCausalLM", "GemmaConfig", dict(
        vocab_size=32000, hidden_size=2048, intermediate_size=16384, num_hidden_layers=8, num_attention_heads=8,
        num_key_value_heads=1, head_dim=256, hidden_activation="gelu_pytorch_tanh", pad_token_id=0, bos_token_id=2,
        eos_token_id=1), "Gemma-2B proportions (MQA, head 256, GeGLU), 8 layers"),
    "gemma2": ("Gemma2ForCausalLM", "Gemma2Config", dict(
        vocab_size=32000, hidden_size=2304, intermediate_size=9216, num_hidden_layers=12, num_attention_heads=8,
        num_key_value_heads=4, head_dim=256, query_pre_attn_scalar=256, hidden_activation="gelu_pytorch_tanh",
        sliding_window=4096, pad_token_id=0, bos_token_id=2, eos_token_id=1, cache_implementation=None),
        "Gemma-2-2B proportions (soft-capping, post-norms, local/global), 12 layers"),
    "mixtral": ("MixtralForCausalLM", "MixtralConfig", dict(
        vocab_size=32000, hidden_size=2048, intermediate_size=2816, num_hidden_layers=8, num_attention_heads=16,
        num_key_value_heads=4, num_local_experts=8, num_experts_per_tok=2, sliding_window=None,
        tie_word_embeddings=False), "Mixtral proportions, 8 experts top-2, 8 layers"),
    "qwen2moe": ("Qwen2MoeForCausalLM", "Qwen2MoeConfig", dict(
        vocab_size=32000, hidden_size=2048, intermediate_size=5632, moe_intermediate_size=1408,
        shared_expert_intermediate_size=5632, num_experts=16, num_experts_per_tok=4, num_hidden_layers=8,
        num_attention_heads=16, num_key_value_heads=16, decoder_sparse_step=1, mlp_only_layers=[],
        use_sliding_window=False, tie_word_embeddings=False), "Qwen1.5-MoE proportions, 16 experts top-4 + shared"),
    "gpt2": ("GPT2LMHeadModel", "GPT2Config", dict(
        vocab_size=50257, n_embd=1280, n_layer=36, n_head=20, n_positions=1024), "GPT-2 large (774M)"),
    "gptneox": ("GPTNeoXForCausalLM", "GPTNeoXConfig", dict(
        vocab_size=50304, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=8,
        rotary_pct=0.25, use_parallel_residual=True, tie_word_embeddings=False), "Pythia-1B"),
    "falcon": ("FalconForCausalLM", "FalconConfig", dict(
        vocab_size=65024, hidden_size=2048, num_hidden_layers=24, num_attention_heads=32, multi_query=True,
        new_decoder_architecture=False, parallel_attn=True, bias=False, alibi=False),
        "Falcon-7B layout (MQA, parallel), 2048 wide, 24 layers"),
    "starcoder": ("GPTBigCodeForCausalLM", "GPTBigCodeConfig", dict(
        vocab_size=49152, n_embd=2048, n_layer=24, n_head=16, n_positions=8192, multi_query=True),
        "StarCoderBase-1B"),
    "mpt": ("MptForCausalLM", "MptConfig", dict(
        vocab_size=50432, d_model=2048, n_layers=24, n_heads=16, expansion_ratio=4, max_seq_len=2048,
        no_bias=True, attn_config={"alibi": True, "alibi_bias_max": 8}), "MPT-7B layout (ALiBi), 2048 wide"),
    "bloom": ("BloomForCausalLM", "BloomConfig", dict(
        vocab_size=250880, hidden_size=1536, n_layer=24, n_head=16), "BLOOM-1b1 (ALiBi, 250k vocab, tied)"),
    "stablelm": ("StableLmForCausalLM", "StableLmConfig", dict(
        vocab_size=100352, hidden_size=2048, intermediate_size=5632, num_hidden_layers=24, num_attention_heads=32,
        num_key_value_heads=32, partial_rotary_factor=0.25, use_qkv_bias=True, tie_word_embeddings=False),
        "StableLM-2-1.6B"),
    "olmo": ("OlmoForCausalLM", "OlmoConfig", dict(
        vocab_size=50304, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=16,
        tie_word_embeddings=True, pad_token_id=1, bos_token_id=None, eos_token_id=50279), "OLMo-1B"),
    # not a row of arch_bench.py: the HF-vs-GGUF check of a tied 135M model (benchmarks/README.md)
    "llama135m": ("LlamaForCausalLM", "LlamaConfig", dict(
        vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
        num_key_value_heads=3, tie_word_embeddings=True, rope_theta=100000.0), "SmolLM2-135M shape, tied"),
    "starcoder2": ("Starcoder2ForCausalLM", "Starcoder2Config", dict(
        vocab_size=49152, hidden_size=2048, intermediate_size=8192, num_hidden_layers=20, num_attention_heads=16,
        num_key_value_heads=2, sliding_window=4096, use_bias=True, tie_word_embeddings=True),
        "StarCoder2-3B proportions, 20 layers"),
}


def family_dir(out_dir, family):
    return os.path.join(out_dir, family)


def make_hf(out, family):
    import transformers
    cls_name, cfg_name, kw, _ = FAMILIES[family]
    config = getattr(transformers, cfg_name)(**kw)
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = getattr(transformers, cls_name)(config).to(torch.bfloat16)
    n_params = sum(p.numel() for p in model.parameters())
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True, max_shard_size="20GB")
    with open(os.path.join(tmp, "tokenizer.json"), "w") as f:
        json.dump(tiny_tokenizer_json(config.vocab_size), f)
    gen_cfg = os.path.join(tmp, "generation_config.json")
    if os.path.exists(gen_cfg):
        os.remove(gen_cfg)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return n_params


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=os.path.join(CACHE, "bench-arch"))
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--bigdl", default=os.environ.get("BIGDL_BIN", os.path.join(ROOT, "build", "bigdl")))
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    families = a.families.split(",")
    for f in families:
        if f not in FAMILIES:
            sys.exit(f"make_arch_models.py: unknown family '{f}' (known: {', '.join(FAMILIES)})")
    if not os.access(a.bigdl, os.X_OK):
        sys.exit(f"make_arch_models.py: {a.bigdl} not found; build first (scripts/build.sh) or pass --bigdl")
    torch.set_num_threads(os.cpu_count() or 1)
    for f in families:
        d = family_dir(a.out_dir, f)
        hf, gguf = os.path.join(d, "hf"), os.path.join(d, "sym_int4.gguf")
        os.makedirs(d, exist_ok=True)
        t0 = time.time()
        if a.force or not os.path.exists(os.path.join(hf, "config.json")):
            n = make_hf(hf, f)
            print(f"{f}: {n / 1e9:.2f}B parameters, HF folder in {time.time() - t0:.0f} s", flush=True)
        if a.force or not os.path.exists(gguf):
            t1 = time.time()
            r = subprocess.run([a.bigdl, "llm", "convert", "--model", hf, "--out", gguf, "--low-bit", "sym_int4"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"make_arch_models.py: convert of {f} failed: {r.stderr.strip().splitlines()[-1:]}")
            print(f"{f}: {gguf} ({os.path.getsize(gguf) / 1e6:.0f} MB) in {time.time() - t1:.0f} s", flush=True)


if __name__ == "__main__":
    main()
