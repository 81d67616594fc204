#!/usr/bin/env python3
"""Golden bytes for tests/kernels/test_kquant_quantize.cpp: what llama.cpp's own ggml
writes when it quantizes a few rows to the K-quants (Q2_K..Q6_K, Q8_K), the 4-bit
i-quants (IQ4_NL, IQ4_XS) and the 32-weight types Q4_0 / Q4_1 / Q5_0 / Q5_1, with and
without an importance matrix (imatrix). Our quantizers (src/backend/cpu/quant/
quantize_k_ref.cpp, quantize_row_imp) must reproduce them byte for byte.

The bytes come from ggml itself, not from a re-implementation: the script loads
libggml-base.so of llama-cpp-python (0.3.36, vendoring ggml 0.25.3; its ggml-quants.c is
compiled without FMA or AVX, so the reference arithmetic is plain IEEE f32) through
ctypes and calls
    size_t ggml_quantize_chunk(enum ggml_type, const float *src, void *dst, int64_t start,
                               int64_t nrows, int64_t n_per_row, const float *imatrix)
for every type but Q8_K. Q8_K is not a case of ggml_quantize_chunk (ggml only makes it
from activations), so its bytes come from ggml's exported quantize_row_q8_K_ref on the
whole block of rows; it has no imatrix variant. Q8_K leaves the bsums of an all-zero
block unwritten: the output buffer is zero-filled first, so they read as 0 (which is
what our quantizer writes).

How to run (the venv only needs llama-cpp-python; numpy comes from Debian's python3-numpy
through --system-site-packages):

    /usr/bin/python3 -m venv --system-site-packages /tmp/lcpenv
    /tmp/lcpenv/bin/pip install llama-cpp-python==0.3.36
    /tmp/lcpenv/bin/python tests/kernels/gen_kquant_golden.py   # from the repository root

Another libggml-base can be named with GGML_BASE_LIB=/path/to/libggml-base.so.

It rewrites tests/kernels/fixtures/kquant_quantize.json:
  {"rows": 2, "n_per_row": 512,
   "cases": [{"name": ..., "x": "<hex of the 2 x 512 f32, little endian>",
              "imatrix": "<hex of 512 f32>"}, ...],
   "types": {"q4_K": {"ggml_type": 12, "plain": ["<hex of the 2 quantized rows>", ...],
                      "imatrix": ["<hex>", ...]}, ...}}
with plain[i] / imatrix[i] the bytes of cases[i] without / with its imatrix (q8_K has no
"imatrix" list). Cases: N(0,1); heavy tails; outliers; tiny values (1e-5, and 1e-8 whose
scales underflow fp16); zero rows and zero sub-blocks; constant rows; all-positive and
all-negative rows; per-sub-block scales spanning 1e-3..10 with a row of exact
quarter-integers (rounding ties). Deterministic (fixed seed); under 400 KB.
"""
import ctypes
import glob
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "kquant_quantize.json")
ROWS, N = 2, 512
f32 = np.float32

# name in the fixture (ggml's spelling), ggml type id, bytes per block, weights per block
TYPES = [
    ("q4_0", 2, 18, 32), ("q4_1", 3, 20, 32), ("q5_0", 6, 22, 32), ("q5_1", 7, 24, 32),
    ("q2_K", 10, 84, 256), ("q3_K", 11, 110, 256), ("q4_K", 12, 144, 256), ("q5_K", 13, 176, 256),
    ("q6_K", 14, 210, 256), ("q8_K", 15, 292, 256), ("iq4_nl", 20, 18, 32), ("iq4_xs", 23, 136, 256),
]


def find_lib():
    if os.environ.get("GGML_BASE_LIB"):
        return os.environ["GGML_BASE_LIB"]
    hits = glob.glob("/tmp/lcpenv/lib/python3*/site-packages/llama_cpp/lib/libggml-base.so")
    if not hits:
        raise SystemExit("libggml-base.so not found: install llama-cpp-python in /tmp/lcpenv or set GGML_BASE_LIB")
    return hits[0]


def load_ggml():
    lib = ctypes.CDLL(find_lib())
    lib.ggml_quantize_init.argtypes = [ctypes.c_int]
    lib.ggml_quantize_init.restype = None
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.quantize_row_q8_K_ref.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    lib.quantize_row_q8_K_ref.restype = None
    return lib


def cases(rng):
    """(name, [ROWS, N] f32) pairs."""
    def normal(s=1.0):
        return rng.normal(0, s, N)

    out = []
    out.append(("normal", [normal(), normal()]))
    out.append(("heavy_tailed", [rng.standard_t(2, N), rng.laplace(0, 1, N) * np.exp(rng.normal(0, 1, N))]))
    r0 = normal(0.1)
    r0[37] = 30.0
    r1 = normal(0.1)
    r1[300], r1[301], r1[5] = -50.0, 12.0, 3.0
    out.append(("outlier", [r0, r1]))
    out.append(("tiny", [normal(1e-5), normal(1e-8)]))
    r1 = normal()
    for b in range(0, N, 64):  # zero sub-blocks of 16 and 32 among non-zero ones
        r1[b:b + 16] = 0.0
        if b % 128 == 0:
            r1[b + 32:b + 64] = 0.0
    out.append(("zeros", [np.zeros(N), r1]))
    out.append(("constant", [np.full(N, 0.75), np.full(N, -2.5)]))
    out.append(("one_sign", [rng.uniform(0.5, 1.5, N), rng.uniform(-3.0, -1.0, N)]))
    scales = np.repeat(10.0 ** rng.uniform(-3, 1, N // 32), 32)
    out.append(("mixed_scales", [normal() * scales, rng.integers(-8, 9, N) * 0.25]))
    return [(name, np.asarray(rows, dtype=f32)) for name, rows in out]


def hexf(a):
    return np.ascontiguousarray(a, dtype="<f4").tobytes().hex()


def quantize(lib, tid, nbytes, qk, x, imatrix):
    size = ROWS * (N // qk) * nbytes
    dst = np.zeros(size, dtype=np.uint8)
    src = np.ascontiguousarray(x, dtype=f32)
    if tid == 15:  # Q8_K: not a ggml_quantize_chunk type
        assert imatrix is None
        lib.quantize_row_q8_K_ref(src.ctypes.data, dst.ctypes.data, ROWS * N)
    else:
        imat = None if imatrix is None else np.ascontiguousarray(imatrix, dtype=f32)
        got = lib.ggml_quantize_chunk(tid, src.ctypes.data, dst.ctypes.data, 0, ROWS, N,
                                      None if imat is None else imat.ctypes.data)
        assert got == size, (tid, got, size)
    return dst.tobytes().hex()


def main():
    lib = load_ggml()
    rng = np.random.default_rng(20240611)
    data = cases(rng)
    imats = [np.exp(rng.normal(0, 1, N)).astype(f32) for _ in data]  # positive, a few decades
    out = {"rows": ROWS, "n_per_row": N, "cases": [], "types": {}}
    for (name, x), im in zip(data, imats):
        out["cases"].append({"name": name, "x": hexf(x), "imatrix": hexf(im)})
    for name, tid, nbytes, qk in TYPES:
        lib.ggml_quantize_init(tid)
        entry = {"ggml_type": tid, "plain": [quantize(lib, tid, nbytes, qk, x, None) for _, x in data]}
        if tid != 15:
            entry["imatrix"] = [quantize(lib, tid, nbytes, qk, x, im) for (_, x), im in zip(data, imats)]
        out["types"][name] = entry
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
