#!/usr/bin/env python3
"""Golden K-quant / i-quant data for tests/kernels/test_kquant.cpp and
tests/llm/test_kquant_model.cpp: random blocks dequantized by gguf-py's gguf.quants, and
real GGUF files written by llama.cpp's own quantizer.

Python: the llama.cpp reference venv (llama-cpp-python 0.3.36 built from source, plus
PyPI's gguf for writing the source file and for gguf.quants' reference dequantizer):

    scripts/make_ref_venvs.sh llamacpp
    ~/.cache/bigdl-cpp/venv/llamacpp/bin/python tests/kernels/gen_kquant_files.py   # from the repository root

It writes tests/kernels/fixtures/kquant/:
  * blocks.json: per type (q2_K q3_K q4_K q5_K q6_K iq4_nl iq4_xs) 6 blocks of random
    bytes whose fp16 scales are set to finite values (normal, negative, subnormal, zero),
    as hex, and gguf.quants.dequantize of them as hex of little-endian f32;
  * tiny-<ftype>.gguf for Q2_K, Q3_K_M, Q4_K_M, Q5_K_M, Q6_K, IQ4_NL, IQ4_XS: a one-layer
    Llama (hidden 256, FFN 512, 4 heads of 64, 1 KV head, vocab 256, random weights)
    written as F32 by gguf.GGUFWriter, then quantized by llama_model_quantize (the engine
    of llama-quantize) with that file type and no importance matrix;
  * tiny-Q6_K-to-Q4_K_M.gguf and tiny-Q6_K-to-Q4_K_M-imatrix.gguf: tiny-Q6_K.gguf
    re-quantized by llama_model_quantize to Q4_K_M without and with an importance matrix
    (random positive weights for every matrix that a llama-imatrix run would record), and
    that matrix as llama.cpp's legacy file (tiny.imatrix.dat) and as its GGUF format
    (tiny.imatrix.gguf: in_sum2 = weights * 4, counts = 4: exact in f32): the same source dequantizes
    bit-exactly in both engines, so our convert must write the same bytes;
  * logits.json: llama.cpp's logits on each of those files for a 16-token prompt (f32 KV
    cache, one batch, 1 thread), for the engine-level test;
  * dequant.json: for every tensor of every file, its type, shape and the FNV-1a 64 hash
    of gguf.quants.dequantize(...) as little-endian f32 bytes (and the first 8 values),
    so the test can check our dequantization of every tensor bit for bit;
  * mixes.json: which type llama-quantize gives each tensor, for every K / IQ4 file type,
    on two 16-layer models (no GQA, and GQA 4) and one whose hidden size (576, SmolLM2's)
    is not whole super-blocks, so the per-tensor rule table of our converter can be checked
    against llama.cpp's (those files are not kept).
Deterministic (fixed seed).
"""
import ctypes
import json
import os
import struct
import sys
import tempfile

import numpy as np
import gguf
from gguf import quants
import llama_cpp

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "kquant")
QT = gguf.GGMLQuantizationType

FTYPES = {  # llama_ftype ids (llama.h); Q2_K_S is left out: llama.cpp demands an imatrix for it
    "Q2_K": 10, "Q3_K_S": 11, "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15,
    "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18, "IQ4_NL": 25, "IQ4_XS": 30,
    "Q8_0": 7, "Q4_0": 2, "Q4_1": 3, "Q5_0": 8, "Q5_1": 9,
}
KEPT = ["Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS"]


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def fnv1a64_np(arr: np.ndarray) -> str:
    # The byte loop in numpy-free Python is slow for ~1M floats; do it in chunks of bytes
    # with Python ints anyway (the files are small), but keep it exact.
    return "%016x" % fnv1a64(arr.astype("<f4").tobytes())


# Byte offsets of each type's fp16 scale fields (ggml-common.h) and the block size.
SCALES = {"Q2_K": ([80, 82], 84), "Q3_K": ([108], 110), "Q4_K": ([0, 2], 144), "Q5_K": ([0, 2], 176),
          "Q6_K": ([208], 210), "IQ4_NL": ([0], 18), "IQ4_XS": ([0], 136)}


def random_blocks():
    rng = np.random.default_rng(5)
    out = {}
    for name, (offs, size) in SCALES.items():
        blocks = rng.integers(0, 256, size=(6, size), dtype=np.uint8)
        scales = [np.float16(0.0123), np.float16(-0.5), np.float16(3e-6), np.float16(0.0), np.float16(1.5),
                  np.float16(-2.0e-3)]
        for b in range(6):
            for k, o in enumerate(offs):
                v = scales[(b + 3 * k) % 6]
                blocks[b, o:o + 2] = np.frombuffer(np.array([v], dtype="<f2").tobytes(), dtype=np.uint8)
        y = quants.dequantize(blocks.reshape(-1), QT[name]).astype("<f4")
        out[name.lower()] = {"blocks": blocks.tobytes().hex(), "dequant": y.tobytes().hex()}
    return out


def write_source(path, n_layer, n_embd, n_ff, n_head, n_kv, vocab, seed):
    rng = np.random.default_rng(seed)
    hd = n_embd // n_head
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("kquant-tiny")
    w.add_context_length(256)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_dimension_count(hd)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(0)
    # A byte-level SentencePiece-style vocabulary: <unk> <s> </s> and 253 byte tokens.
    toks = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % i for i in range(vocab - 3)]
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores([0.0] * vocab)
    w.add_token_types([2, 3, 3] + [6] * (vocab - 3))
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)

    def mat(rows, cols, scale=None):
        s = scale if scale is not None else 1.0 / np.sqrt(cols)
        # Heavy-ish tails and per-row scale spread, like trained weights.
        x = rng.standard_t(5, size=(rows, cols)).astype(np.float32) * np.float32(s)
        x *= rng.uniform(0.5, 1.5, size=(rows, 1)).astype(np.float32)
        return x

    w.add_tensor("token_embd.weight", mat(vocab, n_embd, 1.0))
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    w.add_tensor("output.weight", mat(vocab, n_embd))
    for i in range(n_layer):
        p = "blk.%d." % i
        w.add_tensor(p + "attn_norm.weight", (1 + 0.1 * rng.standard_normal(n_embd)).astype(np.float32))
        w.add_tensor(p + "attn_q.weight", mat(n_head * hd, n_embd))
        w.add_tensor(p + "attn_k.weight", mat(n_kv * hd, n_embd))
        w.add_tensor(p + "attn_v.weight", mat(n_kv * hd, n_embd))
        w.add_tensor(p + "attn_output.weight", mat(n_embd, n_head * hd))
        w.add_tensor(p + "ffn_norm.weight", (1 + 0.1 * rng.standard_normal(n_embd)).astype(np.float32))
        w.add_tensor(p + "ffn_gate.weight", mat(n_ff, n_embd))
        w.add_tensor(p + "ffn_up.weight", mat(n_ff, n_embd))
        w.add_tensor(p + "ffn_down.weight", mat(n_embd, n_ff))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def quantize(src, dst, ftype):
    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = 2
    params.ftype = ftype
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError("llama_model_quantize %s -> %s (ftype %d) failed: %d" % (src, dst, ftype, rc))


PROMPT = [1, 17, 42, 99, 5, 64, 127, 3, 88, 23, 71, 10, 200, 250, 7, 56]


def llamacpp_logits(path):
    llm = llama_cpp.Llama(model_path=path, n_ctx=64, n_batch=512, logits_all=True, verbose=False,
                          type_k=0, type_v=0, flash_attn=False, n_threads=1)  # f32 KV cache
    llm.eval(PROMPT)
    logits = np.array(llm.scores[:len(PROMPT)], dtype=np.float64)
    del llm
    return logits


def write_imatrix(path_dat, path_gguf, names_cols, seed):
    """Random importance weights per matrix, as llama.cpp's legacy .dat and its GGUF format."""
    rng = np.random.default_rng(seed)
    weights = {n: (rng.gamma(2.0, 1.0, size=c) + 0.01).astype(np.float32) for n, c in names_cols}
    with open(path_dat, "wb") as f:
        f.write(struct.pack("<i", len(weights)))
        for n, v in weights.items():
            f.write(struct.pack("<i", len(n)) + n.encode() + struct.pack("<ii", 1, len(v)) + v.tobytes())
        f.write(struct.pack("<i", 10))
        ds = b"random weights (gen_kquant_files.py)"
        f.write(struct.pack("<i", len(ds)) + ds)
    w = gguf.GGUFWriter(path_gguf, "imatrix")
    w.add_array("imatrix.datasets", ["random weights (gen_kquant_files.py)"])
    w.add_uint32("imatrix.chunk_count", 10)
    w.add_uint32("imatrix.chunk_size", 512)
    for n, v in weights.items():
        w.add_tensor(n + ".in_sum2", (v * np.float32(4)).reshape(1, -1))
        w.add_tensor(n + ".counts", np.array([4.0], dtype=np.float32).reshape(1, 1))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return weights


def requantize(src, dst, ftype, weights):
    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = 2
    params.ftype = ftype
    params.allow_requantize = True
    keep = []
    if weights is not None:
        arr = (llama_cpp.llama_model_imatrix_data * (len(weights) + 1))()
        for i, (n, v) in enumerate(weights.items()):
            name = n.encode()
            keep += [name, v]
            arr[i].name = name
            arr[i].data = v.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            arr[i].size = len(v)
        arr[len(weights)].name = None
        params.imatrix = arr
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError("llama_model_quantize %s -> %s failed: %d" % (src, dst, rc))


def tensor_types(path):
    r = gguf.GGUFReader(path)
    return {t.name: t.tensor_type.name for t in r.tensors}


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "blocks.json"), "w") as f:
        json.dump(random_blocks(), f, indent=1, sort_keys=True)
    llama_cpp.llama_backend_init()
    dequant = {"llama_cpp_python": llama_cpp.__version__, "gguf": getattr(gguf, "__version__", "?"), "files": {}}
    logits = {"llama_cpp_python": llama_cpp.__version__, "prompt": PROMPT, "files": {}}
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "tiny-f32.gguf")
        write_source(src, n_layer=1, n_embd=256, n_ff=512, n_head=4, n_kv=1, vocab=256, seed=7)
        for name in KEPT:
            dst = os.path.join(OUT, "tiny-%s.gguf" % name)
            quantize(src, dst, FTYPES[name])
            r = gguf.GGUFReader(dst)
            entries = {}
            for t in r.tensors:
                raw = np.asarray(t.data)
                qt = t.tensor_type
                if qt == gguf.GGMLQuantizationType.F32:
                    vals = raw.astype(np.float32).reshape(-1)
                else:
                    vals = quants.dequantize(raw, qt).astype(np.float32).reshape(-1)
                entries[t.name] = {"type": qt.name, "shape": [int(x) for x in reversed(t.shape.tolist())],
                                   "fnv1a64": fnv1a64_np(vals),
                                   "first": [struct.unpack("<I", struct.pack("<f", float(v)))[0] for v in vals[:8]]}
            dequant["files"]["tiny-%s.gguf" % name] = entries
            lg = llamacpp_logits(dst)
            logits["files"]["tiny-%s.gguf" % name] = {"logits": [[float("%.8g" % v) for v in row] for row in lg.tolist()],
                                                      "logits_std": float(lg.std())}
            print("wrote", dst, os.path.getsize(dst), "bytes", file=sys.stderr)

        # Re-quantized from the Q6_K file, without and with an importance matrix.
        q6 = os.path.join(OUT, "tiny-Q6_K.gguf")
        names_cols = [(t.name, int(t.shape[0])) for t in gguf.GGUFReader(q6).tensors
                      if len(t.shape) == 2 and t.name != "token_embd.weight"]
        weights = write_imatrix(os.path.join(OUT, "tiny.imatrix.dat"), os.path.join(OUT, "tiny.imatrix.gguf"),
                                names_cols, seed=21)
        requantize(q6, os.path.join(OUT, "tiny-Q6_K-to-Q4_K_M.gguf"), FTYPES["Q4_K_M"], None)
        requantize(q6, os.path.join(OUT, "tiny-Q6_K-to-Q4_K_M-imatrix.gguf"), FTYPES["Q4_K_M"], weights)

        mixes = {"llama_cpp_python": llama_cpp.__version__, "models": {}}
        for tag, cfg in {"l16_mha": dict(n_layer=16, n_embd=256, n_ff=256, n_head=4, n_kv=4),
                         "l16_gqa4": dict(n_layer=16, n_embd=256, n_ff=256, n_head=4, n_kv=1),
                         "l4_h576": dict(n_layer=4, n_embd=576, n_ff=1536, n_head=9, n_kv=3)}.items():
            msrc = os.path.join(tmp, "mix-%s.gguf" % tag)
            write_source(msrc, vocab=256, seed=11, **cfg)
            per = {}
            for name, ft in FTYPES.items():
                mdst = os.path.join(tmp, "mix-%s-%s.gguf" % (tag, name))
                quantize(msrc, mdst, ft)
                per[name] = tensor_types(mdst)
                os.remove(mdst)
            mixes["models"][tag] = {"config": cfg, "types": per}
            os.remove(msrc)
    with open(os.path.join(OUT, "dequant.json"), "w") as f:
        json.dump(dequant, f, indent=1, sort_keys=True)
    with open(os.path.join(OUT, "logits.json"), "w") as f:
        json.dump(logits, f, separators=(",", ":"))
    with open(os.path.join(OUT, "mixes.json"), "w") as f:
        json.dump(mixes, f, sort_keys=True, separators=(",", ":"))


if __name__ == "__main__":
    main()
