"""bigdl_cpp.llm.transformers.AutoModelForCausalLM: bigdl-llm's from_pretrained / generate /
save_low_bit / load_low_bit on bigdl-cpp's engine (docs/python.md).

    model = AutoModelForCausalLM.from_pretrained(path, load_in_4bit=True)
    output_ids = model.generate(input_ids, max_new_tokens=32)

`path` is a Hugging Face folder (config.json + safetensors), a GGUF file or a folder
save_low_bit wrote. load_in_4bit=True is bigdl-llm's sym_int4 (ggml Q4_0);
load_in_low_bit takes every name of bigdl_cpp.llm.low_bit_names() (sym_int8, asym_int4,
nf4, q4_k, q4_k_m, ...). Without either, HF weights are used in f32 and GGUF weights as
stored.
"""
import json
import os
import random
import sys

import numpy as np

from bigdl_cpp._native import llm as _llm

from . import _tensors
from .tokenizer import AutoTokenizer

# Keyword arguments of HF / bigdl-llm's from_pretrained that change nothing here (the
# engine always runs on the CPU with its own kernels and memory mapping).
_IGNORED_LOAD_ARGS = {"trust_remote_code", "torch_dtype", "low_cpu_mem_usage", "use_cache", "optimize_model",
                      "device_map", "cpu_embedding", "revision", "local_files_only", "use_safetensors",
                      "attn_implementation", "model_hub", "mixed_precision"}


class ModelConfig:
    """The model's hyper-parameters under the engine's names and HF's (vocab_size, hidden_size,
    num_hidden_layers, num_attention_heads, num_key_value_heads, intermediate_size,
    max_position_embeddings, model_type)."""

    _HF = {"vocab_size": "n_vocab", "hidden_size": "n_embd", "num_hidden_layers": "n_layer",
           "num_attention_heads": "n_head", "num_key_value_heads": "n_head_kv", "intermediate_size": "n_ff",
           "max_position_embeddings": "n_ctx_train", "rope_theta": "rope_freq_base"}

    def __init__(self, d):
        self.__dict__.update(d)
        for hf, ours in self._HF.items():
            self.__dict__[hf] = d[ours]

    def to_dict(self):
        return dict(self.__dict__)

    def __repr__(self):
        return f"ModelConfig({self.__dict__!r})"


class ModelOutput(_tensors.AttrDict):
    """logits (causal models) or last_hidden_state (encoders), with attribute access."""


def _generation_defaults(path):
    """generation_config.json of an HF or low-bit folder (HF's generate defaults), or {}."""
    folder = path if os.path.isdir(path) else None
    if folder is None:
        return {}
    for name in ("generation_config.json", "config.json"):
        f = os.path.join(folder, name)
        if os.path.isfile(f):
            with open(f, encoding="utf-8") as fh:
                cfg = json.load(fh)
            keep = ("eos_token_id", "bos_token_id", "pad_token_id", "do_sample", "temperature", "top_k", "top_p",
                    "repetition_penalty", "max_length", "max_new_tokens")
            return {k: cfg[k] for k in keep if cfg.get(k) is not None}
    return {}


class LowBitModel:
    """A model on the engine. Call it for logits, generate() for text, save_low_bit() to keep
    the quantized weights. Not thread-safe: one generate() at a time per object."""

    device = "cpu"

    def __init__(self, native, kv_type="f16"):
        self._m = native
        self.kv_type = kv_type
        self.config = ModelConfig(native.config)
        self.name_or_path = native.path
        self.low_bit = native.low_bit
        self.generation_config = _generation_defaults(native.path)
        self._tokenizer = None

    # --- forward ---------------------------------------------------------------------------
    def __call__(self, input_ids, attention_mask=None, **kwargs):
        """HF's model(input_ids).logits: [batch, seq, vocab] float32 (encoders:
        last_hidden_state [batch, seq, hidden]). Rows with an attention_mask are run on their
        unmasked tokens and their masked positions are zero."""
        full, rows = _tensors.rows_of(input_ids, attention_mask, "forward")
        width = self.config.n_vocab if self.config.causal else self.config.n_embd
        out = np.zeros((full.shape[0], full.shape[1], width), dtype=np.float32)
        mask = None if attention_mask is None else _tensors.as_array(attention_mask, "forward", "attention_mask")
        for i, row in enumerate(rows):
            if not row:
                continue
            values = self._m.forward_all(row, "f32")
            if mask is None:
                out[i] = values
            else:
                out[i, mask[i] != 0] = values
        key = "logits" if self.config.causal else "last_hidden_state"
        return ModelOutput({key: _tensors.output(out, input_ids)})

    forward = __call__

    # --- generate --------------------------------------------------------------------------
    def generate(self, input_ids=None, max_new_tokens=None, do_sample=None, temperature=None, top_k=None,
                 top_p=None, repetition_penalty=None, eos_token_id=None, pad_token_id=None, attention_mask=None,
                 streamer=None, max_length=None, seed=None, num_beams=1, generation_config=None, inputs=None,
                 **kwargs):
        """HF's generate: returns the prompts with the new tokens appended, [batch, prompt +
        new] (rows that stop early are padded with pad_token_id, else EOS). Greedy unless
        do_sample; sampling applies repetition_penalty, temperature, top_k, top_p in HF's
        order. Defaults come from the folder's generation_config.json, then HF's (max_length
        20, top_k 50). seed: our addition (default: drawn from torch's generator when torch
        is imported, so torch.manual_seed repeats a sampled run; else from `random`).
        streamer: HF's TextStreamer or anything with put(ids) / end(). The GIL is released
        while the engine runs; Ctrl-C stops between tokens."""
        if input_ids is None:
            input_ids = inputs
        if input_ids is None:
            raise ValueError("[generate] input_ids is required")
        if num_beams not in (None, 1):
            raise ValueError(f"[generate] num_beams={num_beams} is not supported (greedy and sampling only)")
        unknown = set(kwargs) - {"use_cache", "output_scores", "return_dict_in_generate", "synced_gpus"}
        if unknown:
            raise TypeError(f"[generate] unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        d = dict(self.generation_config)
        if generation_config is not None:
            gc = generation_config if isinstance(generation_config, dict) else generation_config.to_dict()
            d.update({k: v for k, v in gc.items() if v is not None})

        def pick(value, key, default):
            return value if value is not None else d.get(key, default)

        do_sample = bool(pick(do_sample, "do_sample", False))
        temperature = float(pick(temperature, "temperature", 1.0))
        top_k = int(pick(top_k, "top_k", 50))
        top_p = float(pick(top_p, "top_p", 1.0))
        repetition_penalty = float(pick(repetition_penalty, "repetition_penalty", 1.0))
        eos = pick(eos_token_id, "eos_token_id", None)
        if eos is None:
            eos = self.tokenizer.eos_token_id if self._has_tokenizer() else None
        eos_ids = [] if eos is None else ([int(eos)] if np.isscalar(eos) else [int(e) for e in eos])
        pad = pick(pad_token_id, "pad_token_id", None)
        if pad is None:
            pad = eos_ids[0] if eos_ids else 0

        full, rows = _tensors.rows_of(input_ids, attention_mask, "generate")
        n_in = full.shape[1]
        if max_new_tokens is None:  # an explicit max_length, else the config's max_new_tokens, else its max_length
            if max_length is None and "max_new_tokens" in d:
                max_new_tokens = d["max_new_tokens"]
            else:
                max_new_tokens = int(pick(max_length, "max_length", 20)) - n_in
        max_new_tokens = max(0, int(max_new_tokens))
        if do_sample and temperature <= 0:
            raise ValueError(f"[generate] temperature must be > 0 when do_sample, got {temperature}")
        if not do_sample:
            temperature = 0.0
        if seed is None:
            seed = _draw_seed()

        on_step = None
        if streamer is not None:
            streamer.put(_tensors.output(full, input_ids))

            def on_step(ids):
                streamer.put(_tensors.output(np.asarray([pad if i < 0 else i for i in ids], dtype=np.int64), input_ids))

        try:
            new = _llm.generate(self._m, rows, max_new_tokens, temperature, top_k, top_p, repetition_penalty,
                                int(seed), eos_ids, self.kv_type, on_step)
        finally:
            if streamer is not None:
                streamer.end()
        width = max((len(r) for r in new), default=0)
        out = np.full((full.shape[0], n_in + width), pad, dtype=np.int64)
        out[:, :n_in] = full
        for i, r in enumerate(new):
            out[i, n_in:n_in + len(r)] = r
        return _tensors.output(out, input_ids)

    # --- chat ------------------------------------------------------------------------------
    def chat(self, tokenizer=None, query="", history=None, system=None, max_new_tokens=256, do_sample=False,
             temperature=0.7, top_k=50, top_p=1.0, repetition_penalty=1.0, seed=None, streamer=None):
        """One chat turn with the model's chat template: returns (answer, history), history a
        list of {"role", "content"} messages ending with this answer (pass it back for the next
        turn; ChatGLM-style (query, answer) pairs are accepted too). tokenizer: accepted for
        bigdl-llm's signature; the model's own tokenizer formats and encodes. streamer: a
        callable given each piece of the answer's text as it is generated."""
        messages = []
        if system:
            messages.append(("system", system))
        for h in history or []:
            if isinstance(h, dict):
                messages.append((h["role"], h["content"]))
            else:
                messages += [("user", h[0]), ("assistant", h[1])]
        messages.append(("user", query))
        if not do_sample:
            temperature = 0.0
        answer, _n_prompt, _n_gen, _stop = _llm.chat(
            self._m, self.tokenizer._tok, messages, "", int(max_new_tokens), float(temperature), int(top_k),
            float(top_p), float(repetition_penalty), int(_draw_seed() if seed is None else seed), 0, self.kv_type,
            streamer)
        return answer, [{"role": r, "content": c} for r, c in messages] + [{"role": "assistant", "content": answer}]

    # --- tokenizer -------------------------------------------------------------------------
    def _has_tokenizer(self):
        try:
            self.tokenizer
        except (OSError, ValueError):
            return False
        return True

    @property
    def tokenizer(self):
        """The engine's tokenizer for this model (see bigdl_cpp.llm.transformers.AutoTokenizer)."""
        if self._tokenizer is None:
            self._tokenizer = AutoTokenizer.from_pretrained(self._m.path)
        return self._tokenizer

    # --- low-bit files ---------------------------------------------------------------------
    def save_low_bit(self, save_dir, progress=None):
        """bigdl-llm's save_low_bit: save_dir/model.gguf (the weights as loaded: low-bit blocks,
        no re-quantization needed to load) + bigdl_low_bit.json (+ an HF source's config and
        tokenizer files). load_low_bit(save_dir) gives the same logits. progress: called
        (index, count, tensor name) per tensor written."""
        _llm.save_low_bit(self._m.path, str(save_dir), self._m.low_bit, self._m.imatrix, progress)

    save_pretrained = save_low_bit

    def __repr__(self):
        c = self.config
        return (f"LowBitModel({self.name_or_path!r}, arch={c.arch}, layers={c.n_layer}, hidden={c.n_embd}, "
                f"low_bit={self.low_bit or 'as stored'}, weights={self._m.weight_bytes / 2**20:.1f} MiB)")


def _draw_seed():
    torch = sys.modules.get("torch")
    if torch is not None:
        return int(torch.randint(0, 2**62, (1,)).item())
    return random.getrandbits(62)


class AutoModelForCausalLM:
    """bigdl-llm's AutoModelForCausalLM on bigdl-cpp (see the module docstring)."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, load_in_4bit=False, load_in_low_bit=None,
                        imatrix=None, kv_type="f16", **kwargs):
        unknown = set(kwargs) - _IGNORED_LOAD_ARGS
        if model_args or unknown:
            raise TypeError(f"[from_pretrained] unexpected argument(s): {', '.join(sorted(unknown)) or model_args}")
        if load_in_4bit and load_in_low_bit not in (None, "sym_int4"):
            raise ValueError(f"[from_pretrained] load_in_4bit=True and load_in_low_bit={load_in_low_bit!r} disagree")
        low_bit = load_in_low_bit or ("sym_int4" if load_in_4bit else "")
        path = os.fspath(pretrained_model_name_or_path)
        if not os.path.exists(path):
            raise OSError(f"[from_pretrained] {path}: no such file or folder (models are not downloaded from a hub: "
                          "pass a local HF folder, GGUF file or save_low_bit folder)")
        return LowBitModel(_llm.Model(path, low_bit, imatrix or ""), kv_type)

    @classmethod
    def load_low_bit(cls, pretrained_model_name_or_path, *model_args, kv_type="f16", **kwargs):
        """A folder save_low_bit wrote, its weights used as saved."""
        path = os.fspath(pretrained_model_name_or_path)
        if not _llm.is_low_bit_folder(path):
            raise ValueError(f"[load_low_bit] {path}: not a save_low_bit folder (no bigdl_low_bit.json)")
        return cls.from_pretrained(path, *model_args, kv_type=kv_type, **kwargs)

    @classmethod
    def from_gguf(cls, fpath, *model_args, low_bit=None, **kwargs):
        """bigdl-llm's from_gguf: (model, tokenizer) of a GGUF file."""
        model = cls.from_pretrained(fpath, *model_args, load_in_low_bit=low_bit, **kwargs)
        return model, model.tokenizer


# Encoders (BERT-style) load the same way; their call returns last_hidden_state.
AutoModel = AutoModelForCausalLM
