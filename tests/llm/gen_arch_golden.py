#!/usr/bin/env python3
"""Golden fixtures for tests/llm/test_arch_golden.cpp: a tiny random-weight checkpoint of
every architecture the engine runs, with the logits and greedy ids of its reference.

Two stages, each with its own Python (both venvs see Debian's torch 1.13 and numpy):

  1. transformers (the reference where it has the model class):
       scripts/make_ref_venvs.sh hf        # ~/.cache/bigdl-cpp/venv/hf: transformers 4.46.3
       ~/.cache/bigdl-cpp/venv/hf/bin/python tests/llm/gen_arch_golden.py [NAME ...]
     writes tests/llm/fixtures/<NAME>/ (config.json, *.safetensors, tokenizer.json,
     golden.json). Architectures transformers 4.46.3 has no class for (Qwen3, Baichuan,
     ChatGLM: remote code, or a release newer than Debian's torch 1.13 admits) get a
     checkpoint written here in the real models' layout and no transformers reference.

  2. llama.cpp (the reference for the same model as GGUF), after scripts/build.sh:
       scripts/make_ref_venvs.sh llamacpp  # llama-cpp-python 0.3.36 built from source
       ~/.cache/bigdl-cpp/venv/llamacpp/bin/python tests/llm/gen_arch_golden.py --llamacpp [NAME ...]
     converts each fixture with our `build/bigdl llm convert` (f32, into a temp dir; the
     GGUF is not committed: the test converts it again) and records llama.cpp's logits on
     that file (f32 KV cache, one batch) in golden_llamacpp.json. Fixtures whose
     architecture llama.cpp has no graph for are skipped.

With names as arguments only those fixtures are rebuilt. Shapes (unless noted): vocab 128,
hidden 64, 4 heads (2 KV heads where the architecture has GQA), head size 16, FFN 128,
2 layers, 128 positions, so every projection is whole blocks of 32 and quantizes. The
weights are random with O(1) logits (randomize()); a checkpoint saved in BF16 / F16 has
its reference computed in f32 on the rounded weights, so an exact widening at load is held
to the f32 tolerance.

golden.json: {"model", "transformers", "torch", "dtype", "prompt": [24 ids],
"logits": [[vocab] x 24] (after each prompt position, causal), "logits_std", "greedy":
[32 ids] (argmax continuation, recomputed from scratch on the whole sequence each step)}.
For the encoder (arch_bert) "hidden" replaces "logits" ([24][hidden], the last hidden
state) and "mean_pooled" / "cls_pooled" are added.
golden_llamacpp.json: {"llama_cpp_python", "prompt", "logits" (as above), "logits_std"}.
Deterministic: fixed seeds, CPU, float32, eager attention.

The older fixtures hf_llama, hf_llama_tied, hf_mistral, hf_qwen2 (hidden 48, 12-token
prompt, 8 greedy ids) and hf_llama3 (Llama 3 RoPE scaling) keep their builders here (they
were first made by gen_hf_golden.py with transformers 4.40.2; regenerated with 4.46.3, the
weights and logits came out identical).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(HERE, "fixtures")
PROMPT = [1, 17, 42, 99, 5, 64, 127, 3, 88, 23, 71, 10, 33, 120, 7, 56, 101, 2, 45, 90, 12, 77, 64, 9]
N_GREEDY = 32
OLD_PROMPT = [1, 17, 42, 99, 5, 64, 127, 3, 88, 23, 71, 10]
OLD_GREEDY = 8

# The shared tiny shape of the arch_* fixtures.
V, H, NH, NKV, FF, L, CTX = 128, 64, 4, 2, 128, 2, 128


def randomize(model, seed, tied, tied_scale=0.2):
    """Weights with O(1) logits (the HF init, std 0.02, gives near-constant logits). A tied
    embedding is scaled down, or each token would predict itself."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            last = name.split(".")[-1]
            if "norm" in name.lower() or "ln" in name.split(".")[-2:][0] or name.endswith("_ln.weight"):
                if last == "bias":
                    p.copy_(0.1 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif last == "bias":
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif "embed" in name or "wte" in name or "wpe" in name or "word_embeddings" in name:
                scale = tied_scale if tied else 1.0
                p.copy_(scale * torch.randn(p.shape, generator=g))
            else:  # projections: [out, in] (Conv1D: [in, out]; the scale is close enough)
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)


def reference(model, prompt, n_greedy):
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([prompt]), use_cache=False).logits[0].float()
        seq = list(prompt)
        for _ in range(n_greedy):
            nxt = int(model(torch.tensor([seq]), use_cache=False).logits[0, -1].argmax())
            seq.append(nxt)
    return logits, seq[len(prompt):]


def tiny_tokenizer_json(n_vocab):
    """A byte-level BPE tokenizer.json with exactly n_vocab tokens: <|endoftext|>, the 95
    printable ASCII bytes in GPT-2's byte alphabet, and merges of frequent pairs (so
    convert has a real vocabulary to write; the goldens feed token ids, not text)."""
    def byte_char(b):
        return chr(b) if 33 <= b <= 126 else chr(256 + [x for x in range(256) if not (33 <= x <= 126 or 161 <= x <= 172 or x >= 174)].index(b))
    specials = ["<s>", "</s>", "<unk>"]  # llama.cpp's phi3 vocab setup looks these up by name
    vocab = {"<|endoftext|>": 0}
    for b in range(32, 127):
        vocab[byte_char(b)] = len(vocab)
    words = "the cat sat on a mat and then it ran to the red ball in the park with her dog".split()
    merges = []
    pieces = [[byte_char(32)] + list(w) for w in words]
    while len(vocab) < n_vocab - len(specials):
        counts = {}
        for p in pieces:
            for a, b in zip(p, p[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        (a, b), _ = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append(a + " " + b)
        vocab[a + b] = len(vocab)
        for p in pieces:
            i = 0
            while i + 1 < len(p):
                if p[i] == a and p[i + 1] == b:
                    p[i:i + 2] = [a + b]
                i += 1
    k = 0
    while len(vocab) < n_vocab - len(specials):  # pad to the model's vocabulary
        vocab["<|pad%d|>" % k] = len(vocab)
        k += 1
    added = [{"id": 0, "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True}]
    for t in specials:
        added.append({"id": len(vocab), "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True})
        vocab[t] = len(vocab)
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


def finish_dir(out, config_edit=None, drop=()):
    cfg_path = os.path.join(out, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    for key in drop:  # fields HF treats as optional, to test the loader's defaults
        cfg.pop(key, None)
    if config_edit:
        config_edit(cfg)
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    gen_cfg = os.path.join(out, "generation_config.json")
    if os.path.exists(gen_cfg):
        os.remove(gen_cfg)
    for x in os.listdir(out):
        os.chmod(os.path.join(out, x), 0o644)


def write_golden(out, golden):
    with open(os.path.join(out, "golden.json"), "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(out, x)) for x in os.listdir(out))
    print(f"{os.path.basename(out)}: {size} bytes, std {golden.get('logits_std', 0):.4f}, "
          f"greedy {golden.get('greedy', [])[:8]}...")


def rows(t):
    return [[float("%.8g" % v) for v in row] for row in t.tolist()]


def build(name, cls, config, seed, dtype=torch.float32, shard=None, drop=(), prompt=PROMPT, n_greedy=N_GREEDY,
          positions=None, tied=None, config_edit=None, tokenizer=True, tied_scale=0.05):
    import transformers
    torch.manual_seed(seed)
    model = cls(config).float()
    tied = config.tie_word_embeddings if tied is None else tied
    randomize(model, seed, tied, tied_scale)
    if dtype != torch.float32:  # round to the stored dtype, reference in f32
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(dtype).float())
    logits, greedy = reference(model, prompt, n_greedy)
    extra = {}
    if positions is not None:  # keep only these rows (a long prompt)
        logits = logits[positions]
        extra["positions"] = positions
    rope = getattr(getattr(model, "model", None), "rotary_emb", None)
    if rope is not None and getattr(rope, "rope_type", "default") == "llama3":
        head_dim = config.hidden_size // config.num_attention_heads
        default = 1.0 / (config.rope_theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
        extra["rope_freq_factors"] = [float("%.9g" % v) for v in (default.double() / rope.inv_freq.double()).tolist()]
    out = os.path.join(FIXTURES, name)
    shutil.rmtree(out, ignore_errors=True)
    kw = {"max_shard_size": shard} if shard else {}
    model.to(dtype).save_pretrained(out, safe_serialization=True, **kw)
    finish_dir(out, config_edit, drop)
    if tokenizer:
        with open(os.path.join(out, "tokenizer.json"), "w") as f:
            json.dump(tiny_tokenizer_json(config.vocab_size), f, indent=1)
    write_golden(out, {
        "model": name,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "dtype": str(dtype).replace("torch.", ""),
        "prompt": prompt,
        "logits": rows(logits),
        "logits_std": float(logits.std()),
        "greedy": greedy,
        **extra,
    })


# ---- the hf_* fixtures of the first Llama-family work (hidden 48) ----

OLD = dict(vocab_size=128, hidden_size=48, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
           max_position_embeddings=64, attn_implementation="eager")


def old(name, cls, config, seed, **kw):
    kw.setdefault("prompt", OLD_PROMPT)
    build(name, cls, config, seed, n_greedy=OLD_GREEDY, tied_scale=0.2, **kw)


def build_llama3():
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM
    version = tuple(int(x) for x in transformers.__version__.split(".")[:2])
    if version < (4, 43):
        sys.exit(f"hf_llama3 needs transformers >= 4.43 (rope_type llama3), this is {transformers.__version__}")
    g = torch.Generator().manual_seed(5)
    prompt = [1] + torch.randint(3, 128, (319,), generator=g).tolist()
    common = dict(OLD, max_position_embeddings=512)
    old("hf_llama3", LlamaForCausalLM,
        LlamaConfig(**common, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=10000.0,
                    rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
                    tie_word_embeddings=False),
        seed=5, prompt=prompt, positions=list(range(0, len(prompt), 16)) + [len(prompt) - 1])


# ---- the arch_* fixtures ----

def C(**kw):
    """transformers' common config names at the tiny shape."""
    base = dict(vocab_size=V, hidden_size=H, intermediate_size=FF, num_hidden_layers=L, num_attention_heads=NH,
                max_position_embeddings=CTX, attn_implementation="eager")
    base.update(kw)
    return base


def builders():
    from transformers import (BloomConfig, BloomForCausalLM, FalconConfig, FalconForCausalLM, Gemma2Config,
                              Gemma2ForCausalLM, GemmaConfig, GemmaForCausalLM, GPT2Config, GPT2LMHeadModel,
                              GPTBigCodeConfig, GPTBigCodeForCausalLM, GPTNeoXConfig, GPTNeoXForCausalLM,
                              LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, MixtralConfig,
                              MixtralForCausalLM, MptConfig, MptForCausalLM, OlmoConfig, OlmoForCausalLM,
                              Phi3Config, Phi3ForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen2MoeConfig,
                              Qwen2MoeForCausalLM, StableLmConfig, StableLmForCausalLM, Starcoder2Config,
                              Starcoder2ForCausalLM)
    bf16, f16 = torch.bfloat16, torch.float16
    gpt = dict(vocab_size=V, n_embd=H, n_layer=L, n_head=NH, n_positions=CTX, attn_implementation="eager")
    return {
        # the first fixtures (hidden 48, 12-token prompt, 8 greedy ids)
        "hf_llama": lambda: old("hf_llama", LlamaForCausalLM,
                                LlamaConfig(**OLD, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=10000.0,
                                            tie_word_embeddings=False), seed=1),
        "hf_llama_tied": lambda: old("hf_llama_tied", LlamaForCausalLM,
                                     LlamaConfig(**OLD, rms_norm_eps=1e-6, rope_theta=500000.0,
                                                 rope_scaling={"type": "linear", "factor": 2.0},
                                                 tie_word_embeddings=True),
                                     seed=2, dtype=bf16, drop=("num_key_value_heads",)),
        "hf_mistral": lambda: old("hf_mistral", MistralForCausalLM,
                                  MistralConfig(**OLD, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=10000.0,
                                                sliding_window=4096, tie_word_embeddings=False),
                                  seed=3, dtype=f16, shard="40KB"),
        "hf_qwen2": lambda: old("hf_qwen2", Qwen2ForCausalLM,
                                Qwen2Config(**OLD, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=1000000.0,
                                            tie_word_embeddings=True, use_sliding_window=False), seed=4),
        "hf_llama3": build_llama3,

        # Llama 3.2 style: tied, GQA, rope_theta 5e5, llama3 scaling
        "arch_llama": lambda: build("arch_llama", LlamaForCausalLM, LlamaConfig(**C(
            num_key_value_heads=NKV, rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=True,
            rope_scaling={"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                          "original_max_position_embeddings": 32})), seed=11, dtype=bf16),
        # a window shorter than the prompt: the mask matters
        "arch_mistral": lambda: build("arch_mistral", MistralForCausalLM, MistralConfig(**C(
            num_key_value_heads=NKV, rms_norm_eps=1e-5, sliding_window=8, tie_word_embeddings=False)),
            seed=12, dtype=bf16),
        "arch_mixtral": lambda: build("arch_mixtral", MixtralForCausalLM, MixtralConfig(**C(
            num_key_value_heads=NKV, intermediate_size=64, num_local_experts=4, num_experts_per_tok=2,
            rms_norm_eps=1e-5, rope_theta=1e6, sliding_window=None, tie_word_embeddings=False)),
            seed=13, dtype=bf16),
        "arch_qwen2_moe": lambda: build("arch_qwen2_moe", Qwen2MoeForCausalLM, Qwen2MoeConfig(**C(
            num_key_value_heads=NKV, intermediate_size=FF, moe_intermediate_size=64,
            shared_expert_intermediate_size=96, num_experts=4, num_experts_per_tok=2, norm_topk_prob=False,
            decoder_sparse_step=1, mlp_only_layers=[], rms_norm_eps=1e-6, rope_theta=1e6, use_sliding_window=False,
            tie_word_embeddings=False)), seed=14, dtype=bf16),
        "arch_phi3": lambda: build("arch_phi3", Phi3ForCausalLM, Phi3Config(**C(
            num_key_value_heads=NKV, rms_norm_eps=1e-5, original_max_position_embeddings=CTX, sliding_window=None,
            pad_token_id=0, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)), seed=15, dtype=bf16),
        # Phi-3 128k style: LongRoPE; the prompt (24) is longer than the original context (16), so
        # transformers uses the long factors, as we do for a context longer than 16
        "arch_phi3_longrope": lambda: build("arch_phi3_longrope", Phi3ForCausalLM, Phi3Config(**C(
            num_key_value_heads=NKV, rms_norm_eps=1e-5, original_max_position_embeddings=16, sliding_window=None,
            rope_scaling={"type": "longrope",
                          "short_factor": [1.0, 1.02, 1.05, 1.1, 1.2, 1.5, 2.0, 3.0],
                          "long_factor": [1.0, 1.2, 1.6, 2.4, 3.5, 5.0, 7.0, 8.0]},
            pad_token_id=0, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)), seed=16, dtype=bf16),
        # head_dim 32 != hidden / heads; tied; GeGLU
        "arch_gemma": lambda: build("arch_gemma", GemmaForCausalLM, GemmaConfig(**C(
            num_key_value_heads=1, head_dim=32, hidden_activation="gelu_pytorch_tanh", rms_norm_eps=1e-6,
            pad_token_id=0, bos_token_id=2, eos_token_id=1)), seed=17, dtype=bf16),
        # soft-capping small enough to act on O(1) scores; window 8 on layer 0 (even) only;
        # query_pre_attn_scalar = head_dim (llama.cpp has no key for it and assumes so)
        "arch_gemma2": lambda: build("arch_gemma2", Gemma2ForCausalLM, Gemma2Config(**C(
            num_key_value_heads=NKV, head_dim=32, query_pre_attn_scalar=32, hidden_activation="gelu_pytorch_tanh",
            attn_logit_softcapping=4.0, final_logit_softcapping=5.0, sliding_window=8, rms_norm_eps=1e-6,
            pad_token_id=0, bos_token_id=2, eos_token_id=1, cache_implementation=None)), seed=18, dtype=bf16),
        # another query_pre_attn_scalar (as the 27B's 144 = hidden / heads): transformers only
        "arch_gemma2_scale": lambda: build("arch_gemma2_scale", Gemma2ForCausalLM, Gemma2Config(**C(
            num_key_value_heads=NKV, head_dim=32, query_pre_attn_scalar=24, hidden_activation="gelu_pytorch_tanh",
            attn_logit_softcapping=4.0, final_logit_softcapping=5.0, sliding_window=8, rms_norm_eps=1e-6,
            pad_token_id=0, bos_token_id=2, eos_token_id=1, cache_implementation=None)), seed=36, dtype=bf16),
        "arch_gpt2": lambda: build("arch_gpt2", GPT2LMHeadModel, GPT2Config(
            **gpt, activation_function="gelu_new", bos_token_id=0, eos_token_id=0), seed=19, dtype=bf16),
        # Pythia: partial rotary (a quarter of 16), parallel residual, erf GELU, untied
        "arch_gpt_neox": lambda: build("arch_gpt_neox", GPTNeoXForCausalLM, GPTNeoXConfig(
            vocab_size=V, hidden_size=H, intermediate_size=FF, num_hidden_layers=L, num_attention_heads=NH,
            max_position_embeddings=CTX, rotary_pct=0.25, rotary_emb_base=10000, use_parallel_residual=True,
            hidden_act="gelu", layer_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=0, eos_token_id=0,
            attn_implementation="eager"), seed=20, dtype=f16),
        # Falcon 7B: multi-query, one shared layer norm, parallel attention + MLP
        "arch_falcon": lambda: build("arch_falcon", FalconForCausalLM, FalconConfig(
            vocab_size=V, hidden_size=H, num_hidden_layers=L, num_attention_heads=NH, multi_query=True,
            new_decoder_architecture=False, parallel_attn=True, bias=False, alibi=False, max_position_embeddings=CTX,
            layer_norm_epsilon=1e-5, bos_token_id=0, eos_token_id=0, attn_implementation="eager"),
            seed=21, dtype=bf16),
        # Falcon 40B: grouped KV (2), ln_attn / ln_mlp
        "arch_falcon40b": lambda: build("arch_falcon40b", FalconForCausalLM, FalconConfig(
            vocab_size=V, hidden_size=H, num_hidden_layers=L, num_attention_heads=NH, num_kv_heads=NKV,
            new_decoder_architecture=True, parallel_attn=True, bias=False, alibi=False, max_position_embeddings=CTX,
            layer_norm_epsilon=1e-5, bos_token_id=0, eos_token_id=0, attn_implementation="eager"),
            seed=22, dtype=bf16),
        "arch_starcoder": lambda: build("arch_starcoder", GPTBigCodeForCausalLM, GPTBigCodeConfig(
            **gpt, multi_query=True, activation_function="gelu_pytorch_tanh", bos_token_id=0, eos_token_id=0),
            seed=23, dtype=bf16),
        # StarCoder2 3B style: GQA, biases everywhere, tied, a window longer than the prompt
        "arch_starcoder2": lambda: build("arch_starcoder2", Starcoder2ForCausalLM, Starcoder2Config(**C(
            num_key_value_heads=NKV, hidden_act="gelu_pytorch_tanh", norm_epsilon=1e-5, use_bias=True,
            rope_theta=100000.0, sliding_window=4096, tie_word_embeddings=True, bos_token_id=0,
            eos_token_id=0)), seed=37, dtype=bf16),
        "arch_mpt": lambda: build("arch_mpt", MptForCausalLM, MptConfig(
            d_model=H, n_heads=NH, n_layers=L, expansion_ratio=4, max_seq_len=CTX, vocab_size=V,
            attn_config={"alibi": True, "alibi_bias_max": 8, "clip_qkv": None}, no_bias=True,
            layer_norm_epsilon=1e-5, attn_implementation="eager"), seed=24, dtype=bf16),
        "arch_bloom": lambda: build("arch_bloom", BloomForCausalLM, BloomConfig(
            vocab_size=V, hidden_size=H, n_layer=L, n_head=NH, layer_norm_epsilon=1e-5,
            apply_residual_connection_post_layernorm=False, bos_token_id=0, eos_token_id=0,
            attn_implementation="eager"), seed=25, dtype=bf16),
        # StableLM 2: LayerNorm with bias, partial rotary, q/k/v biases
        "arch_stablelm": lambda: build("arch_stablelm", StableLmForCausalLM, StableLmConfig(**C(
            num_key_value_heads=NKV, partial_rotary_factor=0.25, use_qkv_bias=True, qk_layernorm=False,
            use_parallel_residual=False, layer_norm_eps=1e-5, rope_theta=10000, tie_word_embeddings=False,
            bos_token_id=0, eos_token_id=0)), seed=26, dtype=bf16),
        # StableLM 2 12B style (per-head q/k LayerNorms need torch >= 2.1): written by build_stablelm_qkln
        "arch_stablelm_qkln": build_stablelm_qkln,
        # OLMo 1: non-parametric LayerNorm, q/k/v clipping
        "arch_olmo": lambda: build("arch_olmo", OlmoForCausalLM, OlmoConfig(**C(
            num_key_value_heads=NH, clip_qkv=2.0, rope_theta=10000, tie_word_embeddings=False, pad_token_id=1,
            bos_token_id=None, eos_token_id=0)), seed=28, dtype=bf16),
        "arch_qwen2": lambda: build("arch_qwen2", Qwen2ForCausalLM, Qwen2Config(**C(
            num_key_value_heads=NKV, rms_norm_eps=1e-6, rope_theta=1e6, tie_word_embeddings=True,
            use_sliding_window=False)), seed=29, dtype=bf16),
        "arch_bert": build_bert,
        "arch_qwen3": build_qwen3,
        "arch_baichuan": lambda: build_baichuan("arch_baichuan", 31, alibi=False),
        "arch_baichuan13b": lambda: build_baichuan("arch_baichuan13b", 32, alibi=True),
        "arch_chatglm": build_chatglm,
    }


def build_bert():
    """all-MiniLM-L6-v2's architecture (BertModel, as sentence-transformers saves it: no
    "bert." prefix): the last hidden state and its mean / CLS poolings."""
    import transformers
    from transformers import BertConfig, BertModel
    name, seed = "arch_bert", 30
    config = BertConfig(vocab_size=V, hidden_size=H, num_hidden_layers=L, num_attention_heads=NH,
                        intermediate_size=FF, max_position_embeddings=CTX, type_vocab_size=2, hidden_act="gelu",
                        layer_norm_eps=1e-12, attn_implementation="eager")
    torch.manual_seed(seed)
    model = BertModel(config, add_pooling_layer=False).float()
    randomize(model, seed, tied=False)
    with torch.no_grad():  # stored in BF16, reference in f32 on the rounded weights
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    model.eval()
    prompt = [2] + PROMPT[1:-1] + [3]  # "[CLS] ... [SEP]"
    with torch.no_grad():
        hidden = model(torch.tensor([prompt])).last_hidden_state[0].float()
    out = os.path.join(FIXTURES, name)
    shutil.rmtree(out, ignore_errors=True)
    model.to(torch.bfloat16).save_pretrained(out, safe_serialization=True)
    finish_dir(out)
    os.makedirs(os.path.join(out, "1_Pooling"))
    with open(os.path.join(out, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": H, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
                   "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}, f, indent=2)
    with open(os.path.join(out, "modules.json"), "w") as f:
        json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                   {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
                  f, indent=2)
    mean = hidden.mean(0)
    write_golden(out, {
        "model": name, "transformers": transformers.__version__, "torch": torch.__version__, "dtype": "bfloat16",
        "prompt": prompt, "hidden": rows(hidden), "logits_std": float(hidden.std()),
        "mean_pooled": [float("%.8g" % v) for v in mean.tolist()],
        "cls_pooled": [float("%.8g" % v) for v in hidden[0].tolist()],
    })


# ---- checkpoints without a transformers class: written here in the real layout ----

def save_raw(name, config, tensors, dtype=torch.bfloat16):
    from safetensors.torch import save_file
    out = os.path.join(FIXTURES, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    save_file({k: v.to(dtype).contiguous() for k, v in tensors.items()}, os.path.join(out, "model.safetensors"),
              metadata={"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(tiny_tokenizer_json(config.get("vocab_size", config.get("padded_vocab_size"))), f, indent=1)
    for x in os.listdir(out):
        os.chmod(os.path.join(out, x), 0o644)
    write_golden(out, {"model": name, "transformers": None, "torch": torch.__version__,
                       "dtype": str(dtype).replace("torch.", ""), "prompt": PROMPT,
                       "reference": "llama.cpp (golden_llamacpp.json): no transformers class"})


class Rand:
    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def w(self, rows, cols):
        return torch.randn((rows, cols), generator=self.g) / max(rows, cols) ** 0.5

    def norm(self, n):
        return 1.0 + 0.2 * torch.randn((n,), generator=self.g)

    def bias(self, n):
        return 0.5 * torch.randn((n,), generator=self.g)

    def emb(self, rows, cols):
        return torch.randn((rows, cols), generator=self.g)


def build_stablelm_qkln():
    """StableLM 2 12B's layer: one LayerNorm (no bias) per q head and per k head
    (q_layernorm.norms.<h>), and a parallel residual that reads the input norm twice (no
    post_attention_layernorm). transformers' class needs torch >= 2.1 for it."""
    r, hd = Rand(35), H // NH
    t = {"model.embed_tokens.weight": r.emb(V, H), "model.norm.weight": r.norm(H), "model.norm.bias": 0.2 * r.bias(H),
         "lm_head.weight": r.w(V, H)}
    for i in range(L):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = r.norm(H)
        t[p + "input_layernorm.bias"] = 0.2 * r.bias(H)
        t[p + "self_attn.q_proj.weight"] = r.w(NH * hd, H)
        t[p + "self_attn.k_proj.weight"] = r.w(NKV * hd, H)
        t[p + "self_attn.v_proj.weight"] = r.w(NKV * hd, H)
        t[p + "self_attn.o_proj.weight"] = r.w(H, NH * hd)
        for h in range(NH):
            t[p + f"self_attn.q_layernorm.norms.{h}.weight"] = r.norm(hd)
        for h in range(NKV):
            t[p + f"self_attn.k_layernorm.norms.{h}.weight"] = r.norm(hd)
        t[p + "mlp.gate_proj.weight"] = r.w(FF, H)
        t[p + "mlp.up_proj.weight"] = r.w(FF, H)
        t[p + "mlp.down_proj.weight"] = r.w(H, FF)
    save_raw("arch_stablelm_qkln", {
        "architectures": ["StableLmForCausalLM"], "model_type": "stablelm", "vocab_size": V, "hidden_size": H,
        "intermediate_size": FF, "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": NKV,
        "max_position_embeddings": CTX, "partial_rotary_factor": 0.25, "rope_theta": 10000, "layer_norm_eps": 1e-5,
        "use_qkv_bias": False, "qk_layernorm": True, "use_parallel_residual": True, "hidden_act": "silu",
        "tie_word_embeddings": False, "torch_dtype": "bfloat16"}, t)


def build_qwen3():
    """Qwen3 (transformers >= 4.51): Qwen2 without biases, RMSNorm on each q / k head
    (q_norm / k_norm), head_dim 32 != hidden / heads."""
    r, hd, nkv = Rand(33), 32, NKV
    t = {"model.embed_tokens.weight": r.emb(V, H), "model.norm.weight": r.norm(H), "lm_head.weight": r.w(V, H)}
    for i in range(L):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = r.norm(H)
        t[p + "self_attn.q_proj.weight"] = r.w(NH * hd, H)
        t[p + "self_attn.k_proj.weight"] = r.w(nkv * hd, H)
        t[p + "self_attn.v_proj.weight"] = r.w(nkv * hd, H)
        t[p + "self_attn.o_proj.weight"] = r.w(H, NH * hd)
        t[p + "self_attn.q_norm.weight"] = r.norm(hd)
        t[p + "self_attn.k_norm.weight"] = r.norm(hd)
        t[p + "post_attention_layernorm.weight"] = r.norm(H)
        t[p + "mlp.gate_proj.weight"] = r.w(FF, H)
        t[p + "mlp.up_proj.weight"] = r.w(FF, H)
        t[p + "mlp.down_proj.weight"] = r.w(H, FF)
    save_raw("arch_qwen3", {
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": V, "hidden_size": H,
        "intermediate_size": FF, "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": nkv,
        "head_dim": hd, "max_position_embeddings": CTX, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
        "hidden_act": "silu", "attention_bias": False, "tie_word_embeddings": False, "rope_scaling": None,
        "use_sliding_window": False, "sliding_window": None, "torch_dtype": "bfloat16"}, t)


def build_baichuan(name, seed, alibi):
    """Baichuan (remote code): Llama with a fused W_pack [q; k; v]; the 13B uses ALiBi
    instead of RoPE. llama.cpp tells them by the layer count (32: RoPE, 40: ALiBi, other:
    neither), so the fixtures have 32 and 40 layers of hidden 16."""
    r = Rand(seed)
    h, layers, ff = (16, 40 if alibi else 32, 32)
    t = {"model.embed_tokens.weight": r.emb(V, h), "model.norm.weight": r.norm(h), "lm_head.weight": r.w(V, h)}
    for i in range(layers):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = r.norm(h)
        t[p + "self_attn.W_pack.weight"] = r.w(3 * h, h)
        t[p + "self_attn.o_proj.weight"] = r.w(h, h)
        t[p + "post_attention_layernorm.weight"] = r.norm(h)
        t[p + "mlp.gate_proj.weight"] = r.w(ff, h)
        t[p + "mlp.up_proj.weight"] = r.w(ff, h)
        t[p + "mlp.down_proj.weight"] = r.w(h, ff)
    save_raw(name, {
        "architectures": ["BaichuanForCausalLM"], "model_type": "baichuan", "vocab_size": V, "hidden_size": h,
        "intermediate_size": ff, "num_hidden_layers": layers, "num_attention_heads": NH, "hidden_act": "silu",
        "model_max_length": CTX, "rms_norm_eps": 1e-6, "tie_word_embeddings": False,
        "auto_map": {"AutoConfig": "configuration_baichuan.BaichuanConfig",
                     "AutoModelForCausalLM": "modeling_baichuan.BaichuanForCausalLM"}}, t)


def build_chatglm():
    """ChatGLM2 / 3 (remote code): RMSNorm, fused query_key_value with bias, MQA groups,
    RoPE on the first half of each head in adjacent pairs, fused dense_h_to_4h [gate; up]."""
    r, hd, groups = Rand(34), 16, NKV
    t = {"transformer.embedding.word_embeddings.weight": r.emb(V, H),
         "transformer.encoder.final_layernorm.weight": r.norm(H),
         "transformer.output_layer.weight": r.w(V, H)}
    for i in range(L):
        p = f"transformer.encoder.layers.{i}."
        t[p + "input_layernorm.weight"] = r.norm(H)
        t[p + "self_attention.query_key_value.weight"] = r.w(NH * hd + 2 * groups * hd, H)
        t[p + "self_attention.query_key_value.bias"] = r.bias(NH * hd + 2 * groups * hd)
        t[p + "self_attention.dense.weight"] = r.w(H, NH * hd)
        t[p + "post_attention_layernorm.weight"] = r.norm(H)
        t[p + "mlp.dense_h_to_4h.weight"] = r.w(2 * FF, H)
        t[p + "mlp.dense_4h_to_h.weight"] = r.w(H, FF)
    save_raw("arch_chatglm", {
        "architectures": ["ChatGLMModel"], "model_type": "chatglm", "padded_vocab_size": V, "hidden_size": H,
        "ffn_hidden_size": FF, "num_layers": L, "num_attention_heads": NH, "kv_channels": hd,
        "multi_query_attention": True, "multi_query_group_num": groups, "seq_length": CTX,
        "layernorm_epsilon": 1e-5, "rmsnorm": True, "add_qkv_bias": True, "add_bias_linear": False,
        "post_layer_norm": True, "apply_residual_connection_post_layernorm": False, "rope_ratio": 1.0,
        "original_rope": True, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "auto_map": {"AutoConfig": "configuration_chatglm.ChatGLMConfig",
                     "AutoModel": "modeling_chatglm.ChatGLMForConditionalGeneration"}}, t)


# ---- stage 2: llama.cpp on the GGUF our convert writes ----

LLAMACPP_ARCHS = {  # fixture -> llama.cpp has a graph for it
    "hf_llama", "hf_llama_tied", "hf_mistral", "hf_qwen2", "hf_llama3", "arch_llama", "arch_mistral",
    "arch_mixtral", "arch_qwen2_moe", "arch_phi3", "arch_phi3_longrope", "arch_gemma", "arch_gemma2", "arch_gpt2",
    "arch_gpt_neox", "arch_falcon", "arch_falcon40b", "arch_starcoder", "arch_starcoder2", "arch_mpt", "arch_bloom", "arch_stablelm",
    "arch_stablelm_qkln", "arch_olmo", "arch_qwen2", "arch_qwen3", "arch_baichuan", "arch_baichuan13b",
    "arch_chatglm",
}


def llamacpp_golden(name, bigdl):
    import llama_cpp
    src = os.path.join(FIXTURES, name)
    with open(os.path.join(src, "golden.json")) as f:
        golden = json.load(f)
    prompt = golden["prompt"]
    with tempfile.TemporaryDirectory() as tmp:
        gguf = os.path.join(tmp, "model.gguf")
        subprocess.run([bigdl, "llm", "convert", "--model", src, "--out", gguf], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        llm = llama_cpp.Llama(model_path=gguf, n_ctx=len(prompt) + 8, n_batch=512, logits_all=True, verbose=False,
                              type_k=0, type_v=0, flash_attn=False, n_threads=1)  # f32 KV cache
        llm.eval(prompt)
        logits = np.array(llm.scores[:len(prompt)], dtype=np.float64)
        del llm
    keep = golden.get("positions")
    if keep is not None:
        logits = logits[keep]
    out = {"model": name, "llama_cpp_python": llama_cpp.__version__, "prompt": prompt,
           "logits": [[float("%.8g" % v) for v in row] for row in logits.tolist()],
           "logits_std": float(logits.std())}
    if keep is not None:
        out["positions"] = keep
    with open(os.path.join(src, "golden_llamacpp.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    ref = golden.get("logits")
    if ref:
        print(f"{name}: llama.cpp vs transformers max abs diff "
              f"{np.abs(logits - np.array(ref)).max() / golden['logits_std']:.3g} x std")
    else:
        print(f"{name}: llama.cpp logits std {logits.std():.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*")
    ap.add_argument("--llamacpp", action="store_true", help="stage 2: llama.cpp goldens on our GGUF")
    ap.add_argument("--bigdl", default=os.path.join(ROOT, "build", "bigdl"))
    args = ap.parse_args()
    if args.llamacpp:
        names = args.names or sorted(n for n in LLAMACPP_ARCHS if os.path.isdir(os.path.join(FIXTURES, n)))
        for name in names:
            if name not in LLAMACPP_ARCHS:
                sys.exit(f"llama.cpp has no graph for {name}")
            llamacpp_golden(name, args.bigdl)
        return
    table = builders()
    names = args.names or [n for n in table if n.startswith("arch_")]
    for name in names:
        if name not in table:
            sys.exit(f"unknown fixture {name} (known: {', '.join(table)})")
        table[name]()


if __name__ == "__main__":
    main()
