#!/usr/bin/env python3
"""Golden fixtures for tests/llm/test_hf_golden.cpp: tiny random-weight Hugging Face
checkpoints and the logits / greedy ids transformers computes for them.

How to run (Debian's torch 1.13 plus transformers from PyPI, CPU only), from the
repository root:

    /usr/bin/python3 -m venv --system-site-packages /tmp/hfenv
    /tmp/hfenv/bin/pip install "transformers==4.40.2" safetensors
    /tmp/hfenv/bin/python tests/llm/gen_hf_golden.py                 # the first four

    /usr/bin/python3 -m venv --system-site-packages /tmp/hfenv2
    /tmp/hfenv2/bin/pip install "transformers==4.46.3" safetensors
    /tmp/hfenv2/bin/python tests/llm/gen_hf_golden.py hf_llama3      # needs >= 4.43

With names as arguments only those fixtures are rebuilt. It rewrites
tests/llm/fixtures/hf_<name>/ (config.json, *.safetensors, golden.json) for:

  hf_llama          LlamaForCausalLM, F32, untied lm_head, GQA (4 heads, 2 KV heads)
  hf_llama_tied     LlamaForCausalLM, saved in BF16, tied lm_head, MHA (no
                    num_key_value_heads in config.json), rope_theta 500000,
                    rope_scaling {"type": "linear", "factor": 2.0}
  hf_mistral        MistralForCausalLM, saved in F16, sharded into several
                    model-0000x-of-0000y.safetensors + model.safetensors.index.json
  hf_qwen2          Qwen2ForCausalLM, F32, q/k/v biases, tied lm_head
  hf_llama3         LlamaForCausalLM, F32, GQA, rope_scaling {"rope_type": "llama3",
                    "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4,
                    "original_max_position_embeddings": 64}, max_position_embeddings 512,
                    a 320-token prompt (logits kept at every 16th position and the last).
                    With head_dim 12 and theta 1e4 the 6 frequency pairs have wavelengths
                    6.3 (kept: < 64/4), 29 (interpolated) and 135..13535 (divided by 8).
                    transformers 4.40 has no "llama3" rope type (it arrived in 4.43), so
                    this one fixture comes from 4.46.3; the others stay 4.40.2's.

The reference always runs in float32. For the BF16/F16 checkpoints the weights are
first rounded to the stored dtype and then widened back to float32, so the golden is
what an exact f32 conversion at load must produce (and the C++ test holds those
fixtures to the same tolerance as the f32 ones).

golden.json: {"prompt": [12 ids], "logits": [[vocab] x 12] (logits after each prompt
position, causal), "greedy": [8 ids] (argmax continuation, recomputed from scratch on
the whole sequence each step), "logits_std": std of all reference logits}. hf_llama3 adds
"positions" (the prompt positions whose logits are kept) and "rope_freq_factors" (per
frequency pair, transformers' default inverse frequency over its llama3 one: what
llama.cpp's converter stores as rope_freqs.weight).
Deterministic: fixed seeds, CPU, float32, eager attention.
"""
import json
import os
import shutil
import sys

import torch
import transformers
from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
                          Qwen2Config, Qwen2ForCausalLM)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
PROMPT = [1, 17, 42, 99, 5, 64, 127, 3, 88, 23, 71, 10]
N_GREEDY = 8

COMMON = dict(vocab_size=128, hidden_size=48, intermediate_size=64, num_hidden_layers=2,
              num_attention_heads=4, max_position_embeddings=64, attn_implementation="eager")


def randomize(model, seed):
    """Weights with O(1) logits (the HF init, std 0.02, gives near-constant logits)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:  # tied: small, or each token predicts itself
                scale = 0.2 if model.config.tie_word_embeddings else 1.0
                p.copy_(scale * torch.randn(p.shape, generator=g))
            else:  # [out, in] projections
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)


def reference(model, prompt):
    model.eval()
    with torch.no_grad():
        ids = torch.tensor([prompt])
        logits = model(ids).logits[0].float()
        seq = list(prompt)
        for _ in range(N_GREEDY):
            nxt = int(model(torch.tensor([seq])).logits[0, -1].argmax())
            seq.append(nxt)
    return logits, seq[len(prompt):]


def build(name, cls, config, seed, dtype=torch.float32, shard=None, drop=(), prompt=PROMPT,
          positions=None):
    torch.manual_seed(seed)
    model = cls(config).float()
    randomize(model, seed)
    if dtype != torch.float32:  # round to the stored dtype, reference in f32
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(dtype).float())
    logits, greedy = reference(model, prompt)
    extra = {}
    if positions is not None:  # keep only these rows (a long prompt)
        logits = logits[positions]
        extra["positions"] = positions
    rope = model.model.rotary_emb if hasattr(model.model, "rotary_emb") else None
    if rope is not None and getattr(rope, "rope_type", "default") == "llama3":
        head_dim = config.hidden_size // config.num_attention_heads
        default = 1.0 / (config.rope_theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
        extra["rope_freq_factors"] = [float("%.9g" % v) for v in (default.double() / rope.inv_freq.double()).tolist()]
    out = os.path.join(FIXTURES, name)
    shutil.rmtree(out, ignore_errors=True)
    kw = {"max_shard_size": shard} if shard else {}
    model.to(dtype).save_pretrained(out, safe_serialization=True, **kw)
    cfg_path = os.path.join(out, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    for key in drop:  # fields HF treats as optional, to test the loader's defaults
        del cfg[key]
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    for x in os.listdir(out):
        os.chmod(os.path.join(out, x), 0o644)
    gen_cfg = os.path.join(out, "generation_config.json")
    if os.path.exists(gen_cfg):
        os.remove(gen_cfg)
    golden = {
        "model": name,
        "transformers": __import__("transformers").__version__,
        "torch": torch.__version__,
        "dtype": str(dtype).replace("torch.", ""),
        "prompt": prompt,
        "logits": [[float("%.8g" % v) for v in row] for row in logits.tolist()],
        "logits_std": float(logits.std()),
        "greedy": greedy,
        **extra,
    }
    with open(os.path.join(out, "golden.json"), "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(out, x)) for x in os.listdir(out))
    print(f"{name}: {size} bytes, logits std {golden['logits_std']:.4f}, greedy {greedy}")


def build_llama3():
    version = tuple(int(x) for x in transformers.__version__.split(".")[:2])
    if version < (4, 43):
        sys.exit(f"hf_llama3 needs transformers >= 4.43 (rope_type llama3), this is {transformers.__version__}")
    g = torch.Generator().manual_seed(5)
    prompt = [1] + torch.randint(3, 128, (319,), generator=g).tolist()
    common = dict(COMMON, max_position_embeddings=512)
    build("hf_llama3", LlamaForCausalLM,
          LlamaConfig(**common, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=10000.0,
                      rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                    "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
                      tie_word_embeddings=False),
          seed=5, prompt=prompt, positions=list(range(0, len(prompt), 16)) + [len(prompt) - 1])


def main():
    builders = {
        "hf_llama": lambda: build(
            "hf_llama", LlamaForCausalLM,
            LlamaConfig(**COMMON, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=10000.0,
                        tie_word_embeddings=False), seed=1),
        "hf_llama_tied": lambda: build(
            "hf_llama_tied", LlamaForCausalLM,
            LlamaConfig(**COMMON, rms_norm_eps=1e-6, rope_theta=500000.0,
                        rope_scaling={"type": "linear", "factor": 2.0}, tie_word_embeddings=True),
            seed=2, dtype=torch.bfloat16, drop=("num_key_value_heads",)),
        "hf_mistral": lambda: build(
            "hf_mistral", MistralForCausalLM,
            MistralConfig(**COMMON, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=10000.0,
                          sliding_window=4096, tie_word_embeddings=False),
            seed=3, dtype=torch.float16, shard="40KB"),
        "hf_qwen2": lambda: build(
            "hf_qwen2", Qwen2ForCausalLM,
            Qwen2Config(**COMMON, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=1000000.0,
                        tie_word_embeddings=True, use_sliding_window=False), seed=4),
        "hf_llama3": build_llama3,
    }
    names = sys.argv[1:] or ["hf_llama", "hf_llama_tied", "hf_mistral", "hf_qwen2"]
    for name in names:
        if name not in builders:
            sys.exit(f"unknown fixture {name} (known: {', '.join(builders)})")
        builders[name]()


if __name__ == "__main__":
    main()
