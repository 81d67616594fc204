#!/usr/bin/env python3
"""Golden blocks for tests/kernels/test_quant_types.cpp: bigdl's nf4 / nf3 / fp4 / fp8 /
fp16 / bf16 formats (src/backend/cpu/quant/quant.h) computed independently of the C++
code: the minifloat roundings by ml_dtypes (float4_e2m1fn, float8_e4m3fn, float8_e5m2,
round-to-nearest-even casts) and torch (half, bfloat16), the NormalFloat codes by an
argmin over |v - level| (the C++ reference walks bitsandbytes' threshold tree instead).

How to run (Debian's numpy 1.24 and torch 1.13, plus ml_dtypes from PyPI; --no-deps
keeps pip from replacing numpy):

    /usr/bin/python3 -m venv --system-site-packages /tmp/lowbit-venv
    /tmp/lowbit-venv/bin/pip install --no-deps ml_dtypes==0.5.1
    /tmp/lowbit-venv/bin/python tests/kernels/gen_quant_golden.py   # from the repository root

It rewrites tests/kernels/fixtures/quant_golden.json:
  {"<type>": {"x": [256 f32 bit patterns], "blocks": "<hex of the quantized row>",
              "dequant": [256 f32 bit patterns]}, ...}
Eight blocks of 32 per type: N(0,1); U(-0.01, 0.01); 10 + U(-1, 1); one outlier of 50
in N(0, 0.1); zeros; the constant -3.25; values chosen to land exactly on the format's
levels and rounding ties (block scale 1); and N(0, 1e-5) (fp16 subnormals).
Deterministic (fixed seed).
"""
import json
import os

import ml_dtypes
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "quant_golden.json")
f32 = np.float32

NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0], dtype=f32)
NF3 = np.array([-1.0, -0.5350227355957031, -0.2469314038753510, 0.0, 0.1833375245332718,
                0.3819939494132996, 0.6229856610298157, 1.0], dtype=f32)
FP4 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, 0, -0.5, -1, -1.5, -2, -3, -4, -6], dtype=f32)
TOP = {"fp4": f32(6), "fp8_e4m3": f32(448), "fp8_e5m2": f32(57344)}


def special_block(t, rng):
    """Block 6: exact levels and rounding ties at block scale 1."""
    if t == "nf4":
        v = list(NF4) + list(rng.uniform(-1, 1, 16))
    elif t == "nf3":
        v = list(NF3) + list(rng.uniform(-1, 1, 24))
    elif t == "fp4":
        v = [6, -6, 0.25, -0.25, 0.75, -0.75, 1.25, 1.75, 2.5, -2.5, 3.5, 5, -5, 0.5, 1, 4,
             0.2, 0.3, 2.2, 4.9, 5.1, -0.1]
    elif t == "fp8_e4m3":  # ties go to the even mantissa; 3 * 2^-10 sits between subnormals
        v = [448, -448, 1.0625, 1.1875, -1.1875, 2.0 ** -10, 3 * 2.0 ** -10, 2.0 ** -9, 240, 416, 432,
             0.001, 2.0 ** -6, 1.5 * 2.0 ** -6, 17, 19]
    elif t == "fp8_e5m2":
        v = [57344, -57344, 1.125, 1.375, -1.375, 2.0 ** -17, 3 * 2.0 ** -17, 2.0 ** -16, 28672, 40960,
             53248, 0.001, 2.0 ** -14, 1.25 * 2.0 ** -14, 5, 7]
    elif t == "fp16":
        v = [65504, -65504, 65519, 1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 2.0 ** -25, 3 * 2.0 ** -25,
             2.0 ** -24, 6.1e-5, 1 / 3, -1 / 3]
    else:  # bf16
        v = [1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, -(1 + 3 * 2.0 ** -8), 3e38, 1e-38, 1 / 3, -1 / 3, 2.0 ** -133]
    v = list(v) + list(rng.uniform(-0.5, 0.5, 32 - len(v)))
    return np.array(v[:32], dtype=f32)


def inputs(t, rng):
    blocks = [rng.normal(0, 1, 32), rng.uniform(-0.01, 0.01, 32), 10 + rng.uniform(-1, 1, 32),
              np.where(np.arange(32) == 7, 50, 0) + rng.normal(0, 0.1, 32), np.zeros(32),
              np.full(32, -3.25), special_block(t, rng), rng.normal(0, 1e-5, 32)]
    return np.concatenate([np.asarray(b, dtype=f32) for b in blocks])


def scale(x, top):
    """(fp16 absmax, f32 quantization multiplier 1/s, f32 read-back scale)."""
    amax = f32(np.max(np.abs(x)))
    s = f32(amax / top)
    inv = f32(1) / s if s != 0 else f32(0)
    d = np.float16(amax)
    return d, inv, f32(f32(d) / top)


def nibbles(codes):
    return bytes(int(codes[j]) | int(codes[j + 16]) << 4 for j in range(16))


def minifloat(v, dtype, top):
    """Codes of v rounded by ml_dtypes (nearest even), saturated at top, -0 written as 0."""
    q = np.clip(v, -top, top).astype(dtype)
    codes = q.view(np.uint8).astype(int)
    vals = q.astype(f32)
    return np.where(vals == 0, 0, codes), np.where(vals == 0, f32(0), vals).astype(f32)


def quantize(t, x):
    out, deq = b"", []
    for b in range(0, len(x), 32):
        xb = x[b:b + 32]
        if t in ("nf4", "nf3"):
            levels = NF4 if t == "nf4" else NF3
            d, inv, s = scale(xb, f32(1))
            v = (xb * inv).astype(f32)
            codes = np.argmin(np.abs(v[:, None] - levels[None, :]), axis=1)
            deq += list((levels[codes] * f32(d)).astype(f32))
            if t == "nf4":
                body = nibbles(codes)
            else:
                qs = bytes(sum(((int(codes[j + 8 * k]) & 3) << (2 * k)) for k in range(4)) for j in range(8))
                qh = sum((int(codes[i]) >> 2) << i for i in range(32))
                body = qs + qh.to_bytes(4, "little")
            out += d.tobytes() + body
        elif t in TOP:
            dtype = {"fp4": ml_dtypes.float4_e2m1fn, "fp8_e4m3": ml_dtypes.float8_e4m3fn,
                     "fp8_e5m2": ml_dtypes.float8_e5m2}[t]
            d, inv, s = scale(xb, TOP[t])
            v = (xb * inv).astype(f32)
            codes, vals = minifloat(v, dtype, TOP[t])
            deq += list((vals * s).astype(f32))
            out += d.tobytes() + (nibbles(codes) if t == "fp4" else bytes(int(c) for c in codes))
        else:
            h = torch.from_numpy(xb.copy()).to(torch.float16 if t == "fp16" else torch.bfloat16)
            out += h.view(torch.int16).numpy().astype("<i2").tobytes()
            deq += list(h.to(torch.float32).numpy())
    return out, np.array(deq, dtype=f32)


def bits(a):
    return [int(u) for u in np.asarray(a, dtype=f32).view(np.uint32)]


def main():
    rng = np.random.default_rng(20240611)
    golden = {}
    for t in ["nf4", "nf3", "fp4", "fp8_e4m3", "fp8_e5m2", "fp16", "bf16"]:
        x = inputs(t, rng)
        blocks, deq = quantize(t, x)
        golden[t] = {"x": bits(x), "blocks": blocks.hex(), "dequant": bits(deq)}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(golden, f, indent=0)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
