#!/usr/bin/env -S /usr/bin/python3
# -*- coding: utf-8 -*-
"""Generate PyTorch reference fixtures for bigdl-cpp's golden tests.

MUST be run with Debian's Python, /usr/bin/python3 (it ships torch 1.13 and
numpy). The pyenv `python3` that comes first on PATH has no torch.

    /usr/bin/python3 tests/golden/gen_golden.py

Writes one hand-rolled safetensors file per case into tests/golden/fixtures/
(see tests/golden/README.md for the format and the list of cases) and prints
one line per case. The output is deterministic: every case calls
torch.manual_seed with a seed derived from its name (CRC32), torch runs on a
single thread, and every model runs in float32 exactly as a user would run it.
"""

import json
import math
import os
import struct
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "fixtures")

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
torch.set_default_dtype(torch.float32)

REINIT_STD = 0.5


# --------------------------------------------------------------------------
# safetensors writer (by hand: the safetensors package is not installed)
# --------------------------------------------------------------------------

def _as_array(t):
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    return np.asarray(t)


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, tensor-like, "F32"|"I64"|"BOOL") in storage order."""
    header = {}
    blobs = []
    offset = 0
    for name, value, dtype in tensors:
        arr = _as_array(value)
        if dtype == "F32":
            arr = np.array(arr, dtype="<f4", order="C")  # keeps 0-d shape
        elif dtype == "I64":
            arr = np.array(arr, dtype="<i8", order="C")
        elif dtype == "BOOL":
            arr = np.array(arr, dtype="|b1", order="C")
        else:
            raise ValueError(dtype)
        raw = arr.tobytes(order="C")
        header[name] = {
            "dtype": dtype,
            "shape": [int(s) for s in arr.shape],
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
    return 8 + len(hjson) + offset


def read_safetensors(path):
    """Parse a file back (used for self-checks)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = {"F32": "<f4", "I64": "<i8"}[info["dtype"]]
        out[name] = np.frombuffer(data[base + b:base + e], dtype=dt).reshape(info["shape"])
    return out, meta


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

CASES = []  # (case_name, fn)


def case(name):
    def deco(fn):
        CASES.append((name, fn))
        return fn
    return deco


def seed_for(name):
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


def dtype_of(t):
    t = torch.as_tensor(t)
    if t.dtype == torch.bool:
        return "BOOL"
    return "I64" if not t.is_floating_point() else "F32"


def opts_json(options):
    return json.dumps(options, separators=(",", ":"))


def to_ctor(v):
    """JSON lists -> tuples for torch constructors."""
    if isinstance(v, list):
        return tuple(to_ctor(x) for x in v)
    return v


def ctor_kwargs(options):
    return {k: to_ctor(v) for k, v in options.items()}


def base_meta(case_name, kind, name, options, seed):
    return {
        "kind": kind,
        "name": name,
        "options": opts_json(options),
        "case": case_name,
        "seed": str(seed),
        "torch_version": torch.__version__,
    }


def finish(case_name, tensors, meta):
    path = os.path.join(OUT_DIR, case_name + ".safetensors")
    size = write_safetensors(path, tensors, meta)
    return path, size


# --------------------------------------------------------------------------
# modules
# --------------------------------------------------------------------------

class RMSNorm(nn.Module):
    """Reference RMSNorm (torch 1.13 has no nn.RMSNorm):
    y = x / sqrt(mean(x^2, last dim) + eps) * weight."""

    def __init__(self, normalized_shape, eps=1e-6):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(self.normalized_shape))

    def forward(self, x):
        return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight


class DLinear(nn.Module):
    """DLinear as its paper describes it (Zeng et al., AAAI 2023): the trend is AvgPool1d
    (kernel k, stride 1) over the series padded with (k - 1) / 2 copies of its first and
    last row; seasonal = x - trend; one Linear along time for each, summed.
    x [B, L, C] -> [B, H, C]."""

    def __init__(self, lookback, horizon, kernel):
        super().__init__()
        self.kernel = kernel
        self.seasonal = nn.Linear(lookback, horizon)
        self.trend = nn.Linear(lookback, horizon)
        self.pool = nn.AvgPool1d(kernel, stride=1)

    def forward(self, x):
        pad = (self.kernel - 1) // 2
        padded = torch.cat([x[:, :1].expand(-1, pad, -1), x, x[:, -1:].expand(-1, pad, -1)], dim=1)
        trend = self.pool(padded.transpose(1, 2)).transpose(1, 2)
        seasonal = x - trend
        return (self.seasonal(seasonal.transpose(1, 2)) + self.trend(trend.transpose(1, 2))).transpose(1, 2)


class TemporalBlock(nn.Module):
    """A TCN level as Bai, Kolter & Koltun (2018) describe it: two weight-normalised dilated
    causal convolutions (pad both sides, drop the last pad steps), ReLU and dropout after
    each, a residual (1x1 convolution when the channel counts differ), ReLU."""

    def __init__(self, cin, cout, k, d, p):
        super().__init__()
        self.pad = (k - 1) * d
        self.conv1 = nn.utils.weight_norm(nn.Conv1d(cin, cout, k, padding=self.pad, dilation=d))
        self.conv2 = nn.utils.weight_norm(nn.Conv1d(cout, cout, k, padding=self.pad, dilation=d))
        self.drop1, self.drop2 = nn.Dropout(p), nn.Dropout(p)
        self.downsample = nn.Conv1d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        n = x.shape[2]
        h = self.drop1(torch.relu(self.conv1(x)[:, :, :n]))
        h = self.drop2(torch.relu(self.conv2(h)[:, :, :n]))
        return torch.relu(h + (x if self.downsample is None else self.downsample(x)))


def with_quantiles(y, outputs, q, last):
    """[B, H, C * Q] -> [B, H, C, Q] when Q > 1, plus the window's last values [B, 1, C]."""
    if q > 1:
        return y.reshape(y.shape[0], y.shape[1], outputs, q) + last.unsqueeze(-1)
    return y + last


class TCN(nn.Module):
    """Blocks with dilations 1, 2, 4, ...; then Linear along time and across channels."""

    def __init__(self, lookback, horizon, input_features, output_features, channels, kernel, dropout,
                 normalization=False, quantiles=1):
        super().__init__()
        self.normalization, self.outputs, self.q = normalization, output_features, quantiles
        blocks, cin = [], input_features
        for i, c in enumerate(channels):
            blocks.append(TemporalBlock(cin, c, kernel, 2 ** i, dropout))
            cin = c
        self.tcn = nn.Sequential(*blocks)
        self.time = nn.Linear(lookback, horizon)
        self.out = nn.Linear(cin, output_features * quantiles)

    def forward(self, x):
        last = x[:, -1:, :] if self.normalization else torch.zeros_like(x[:, -1:, :])
        y = self.out(self.time(self.tcn((x - last).transpose(1, 2))).transpose(1, 2))
        return with_quantiles(y, self.outputs, self.q, last[:, :, :self.outputs])


class LSTMModel(nn.Module):
    """LSTM over the window (batch first), dropout on the last step, Linear to H * C_out."""

    def __init__(self, lookback, horizon, input_features, output_features, hidden, layers, dropout,
                 normalization=False, quantiles=1):
        super().__init__()
        self.horizon, self.outputs, self.normalization, self.q = horizon, output_features, normalization, quantiles
        self.lstm = nn.LSTM(input_features, hidden, layers, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, horizon * output_features * quantiles)

    def forward(self, x):
        last = x[:, -1:, :] if self.normalization else torch.zeros_like(x[:, -1:, :])
        h = self.lstm(x - last)[0][:, -1, :]
        y = self.fc(self.drop(h)).reshape(x.shape[0], self.horizon, self.outputs * self.q)
        return with_quantiles(y, self.outputs, self.q, last[:, :, :self.outputs])


class TSTLayer(nn.Module):
    """A PatchTST encoder layer written out: self-attention whose scores (q k^T / sqrt(d),
    plus the previous layer's scores when given) are returned, a GELU feed-forward block,
    residuals, post-norm with BatchNorm1d (or LayerNorm) over the features of every token.
    Parameter names as torch.nn.TransformerEncoderLayer's (self_attn.in_proj_weight, ...)."""

    def __init__(self, d_model, heads, d_ff, dropout, norm):
        super().__init__()
        self.heads = heads
        self.self_attn = nn.MultiheadAttention(d_model, heads, batch_first=True)
        self.linear1, self.linear2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.dropout, self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)
        self.batch = norm == "batch"
        mk = (lambda: nn.BatchNorm1d(d_model)) if self.batch else (lambda: nn.LayerNorm(d_model))
        self.norm1, self.norm2 = mk(), mk()

    def _norm(self, m, x):
        return m(x.transpose(1, 2)).transpose(1, 2) if self.batch else m(x)

    def forward(self, x, prev):
        b, n, e = x.shape
        d = e // self.heads
        q, k, v = F.linear(x, self.self_attn.in_proj_weight, self.self_attn.in_proj_bias).chunk(3, -1)
        split = lambda t: t.reshape(b, n, self.heads, d).transpose(1, 2)
        scores = (split(q) / math.sqrt(d)) @ split(k).transpose(-1, -2)
        if prev is not None:
            scores = scores + prev
        a = (scores.softmax(-1) @ split(v)).transpose(1, 2).reshape(b, n, e)
        x = self._norm(self.norm1, x + self.dropout1(self.self_attn.out_proj(a)))
        x = self._norm(self.norm2, x + self.dropout2(self.linear2(self.dropout(F.gelu(self.linear1(x))))))
        return x, scores


class PatchTST(nn.Module):
    """PatchTST as its paper describes it (supervised, channel independent): RevIN, patches of
    the end-padded window, linear patch embedding plus learnt positions, encoder layers with
    residual attention, a flatten head (d_model-major), RevIN undone."""

    def __init__(self, lookback, horizon, input_features, output_features, patch_len, stride, d_model, heads, d_ff,
                 layers, dropout, head_dropout=0.0, revin=True, res_attention=True, norm="batch"):
        super().__init__()
        self.patch_len, self.stride, self.outputs = patch_len, stride, output_features
        self.revin, self.res_attention = revin, res_attention
        self.n = (lookback - patch_len) // stride + 2
        if revin:
            self.revin_weight = nn.Parameter(torch.ones(input_features))
            self.revin_bias = nn.Parameter(torch.zeros(input_features))
        self.embed = nn.Linear(patch_len, d_model)
        self.pos = nn.Parameter(torch.empty(self.n, d_model).uniform_(-0.02, 0.02))
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList([TSTLayer(d_model, heads, d_ff, dropout, norm) for _ in range(layers)])
        self.head = nn.Linear(d_model * self.n, horizon)
        self.head_drop = nn.Dropout(head_dropout)

    def forward(self, x):
        b, _, c = x.shape
        if self.revin:
            mu = x.mean(1, keepdim=True).detach()
            sigma = torch.sqrt(x.var(1, keepdim=True, unbiased=False) + 1e-5).detach()
            x = (x - mu) / sigma * self.revin_weight + self.revin_bias
        z = x.transpose(1, 2)
        z = torch.cat([z, z[:, :, -1:].expand(-1, -1, self.stride)], -1)
        z = z.unfold(-1, self.patch_len, self.stride).reshape(b * c, self.n, self.patch_len)
        u = self.drop(self.embed(z) + self.pos)
        scores = None
        for layer in self.layers:
            u, scores = layer(u, scores if self.res_attention else None)
        y = self.head_drop(self.head(u.reshape(b, c, self.n, -1).transpose(2, 3).reshape(b, c, -1))).transpose(1, 2)
        if self.revin:
            y = (y - self.revin_bias) / (self.revin_weight + 1e-10) * sigma + mu
        return y[:, :, :self.outputs]


class NBeatsBlock(nn.Module):
    """An N-BEATS block (Oreshkin et al. 2020): 4 x (Linear, ReLU, dropout), theta_b / theta_f
    (Linear, no bias), then a basis: generic (Linear) or fixed (trend: t^i; seasonality:
    1, cos(2 pi k t), sin(2 pi k t)) on t = j / n."""

    def __init__(self, kind, lookback, horizon, hidden, dim, dropout):
        super().__init__()
        self.kind = kind
        self.fc1, self.fc2 = nn.Linear(lookback, hidden), nn.Linear(hidden, hidden)
        self.fc3, self.fc4 = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.drop = nn.Dropout(dropout)
        self.theta_b, self.theta_f = nn.Linear(hidden, dim, bias=False), nn.Linear(hidden, dim, bias=False)
        if kind == "generic":
            self.backcast, self.forecast = nn.Linear(dim, lookback), nn.Linear(dim, horizon)
        else:
            self.register_buffer("basis_b", self._basis(dim, lookback), persistent=False)
            self.register_buffer("basis_f", self._basis(dim, horizon), persistent=False)

    def _basis(self, dim, n):
        t = torch.arange(n, dtype=torch.float64) / n
        if self.kind == "trend":
            rows = [t ** i for i in range(dim)]
        else:
            k = (dim - 1) // 2
            rows = [torch.ones(n, dtype=torch.float64)] + [torch.cos(2 * math.pi * i * t) for i in range(1, k + 1)] + \
                   [torch.sin(2 * math.pi * i * t) for i in range(1, k + 1)]
        return torch.stack(rows).float()

    def forward(self, r):
        h = r
        for fc in (self.fc1, self.fc2, self.fc3, self.fc4):
            h = self.drop(torch.relu(fc(h)))
        tb, tf = self.theta_b(h), self.theta_f(h)
        if self.kind == "generic":
            return self.backcast(tb), self.forecast(tf)
        return tb @ self.basis_b, tf @ self.basis_f


class NBeats(nn.Module):
    """Stacks of blocks, doubly residual; channels forecast one by one by the same network."""

    def __init__(self, lookback, horizon, input_features, output_features, stack_types, blocks_per_stack, thetas_dim,
                 share_weights_in_stack, hidden, dropout, harmonics=0):
        super().__init__()
        self.outputs = output_features
        self.stacks, self.order = nn.ModuleList(), []
        for s, kind in enumerate(stack_types):
            dim = thetas_dim[s]
            if kind == "seasonality":
                dim = 2 * (harmonics if harmonics > 0 else max(1, horizon // 2 - 1)) + 1
            n = 1 if share_weights_in_stack else blocks_per_stack
            stack = nn.ModuleList([NBeatsBlock(kind, lookback, horizon, hidden, dim, dropout) for _ in range(n)])
            self.stacks.append(stack)
            self.order += [stack[0 if share_weights_in_stack else b] for b in range(blocks_per_stack)]

    def forward(self, x):
        b, l, c = x.shape
        r, forecast = x.transpose(1, 2).reshape(b * c, l), 0
        for block in self.order:
            back, fore = block(r)
            r, forecast = r - back, forecast + fore
        return forecast.reshape(b, c, -1).transpose(1, 2)[:, :, :self.outputs]


class Seq2Seq(nn.Module):
    """LSTM encoder; an LSTM decoder from its final states, fed its own previous forecast
    (first: the window's last targets); dropout and Linear on each decoder output."""

    def __init__(self, lookback, horizon, input_features, output_features, hidden, layers, dropout, quantiles=1):
        super().__init__()
        self.horizon, self.outputs, self.q = horizon, output_features, quantiles
        self.encoder = nn.LSTM(input_features, hidden, layers, batch_first=True)
        self.decoder = nn.LSTM(output_features, hidden, layers, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, output_features * quantiles)

    def forward(self, x):
        _, state = self.encoder(x)
        inp, steps = x[:, -1:, :self.outputs], []
        for _ in range(self.horizon):
            out, state = self.decoder(inp, state)
            y = self.fc(self.drop(out))
            if self.q > 1:  # Q forecasts per value; the middle one feeds the next step
                y = y.reshape(y.shape[0], 1, self.outputs, self.q)
                inp = y[..., self.q // 2]
            else:
                inp = y
            steps.append(y)
        return torch.cat(steps, 1)


def flatten_outputs(out):
    if isinstance(out, torch.Tensor):
        return [out]
    res = []
    for o in out:
        res.extend(flatten_outputs(o))
    return res


def run_module(case_name, name, options, build, make_inputs, mode="train",
               call=None, multi_in=False, reinit=(), set_buffers=None,
               notes=None, zero_grad=()):
    """Generic module case.

    build() -> nn.Module; make_inputs() -> list of tensors (floats get grads);
    reinit: parameter names re-drawn from normal(0, REINIT_STD);
    set_buffers(module): overwrite buffers (eval-mode running stats)."""
    seed = seed_for(case_name)
    torch.manual_seed(seed)
    m = build()
    with torch.no_grad():
        params = dict(m.named_parameters())
        for pname in reinit:
            params[pname].normal_(0.0, REINIT_STD)
        if set_buffers is not None:
            set_buffers(m)
    m.train(mode == "train")
    inputs = make_inputs()
    inputs = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]

    tensors = []
    multi_in = multi_in or len(inputs) > 1
    in_names = ["input.%d" % i for i in range(len(inputs))] if multi_in else ["input"]
    for n, x in zip(in_names, inputs):
        tensors.append((n, x, dtype_of(x)))
    for pname, p in m.named_parameters():
        tensors.append(("param." + pname, p, "F32"))
    buffers_before = [(bname, b.detach().clone()) for bname, b in m.named_buffers()]
    for bname, b in buffers_before:
        tensors.append(("buffer." + bname, b, dtype_of(b)))

    out = call(m, inputs) if call is not None else m(*inputs)
    outs = flatten_outputs(out)
    multi_out = len(outs) > 1
    out_names = ["output.%d" % i for i in range(len(outs))] if multi_out else ["output"]
    gouts = [torch.randn(o.shape) for o in outs]
    loss = sum((o * g).sum() for o, g in zip(outs, gouts))
    loss.backward()

    for n, o in zip(out_names, outs):
        tensors.append((n, o, "F32"))
    for n, g in zip(out_names, gouts):
        tensors.append(("grad_" + n, g, "F32"))
    for n, x in zip(in_names, inputs):
        if x.is_floating_point():
            tensors.append(("grad." + n, x.grad, "F32"))
    for pname, p in m.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        tensors.append(("grad.param." + pname, g, "F32"))
    if mode == "train" and isinstance(m, nn.modules.batchnorm._BatchNorm):
        for bname, b in m.named_buffers():
            tensors.append(("buffer_after." + bname, b, dtype_of(b)))

    meta = base_meta(case_name, "module", name, options, seed)
    meta["mode"] = mode
    if reinit:
        meta["reinit"] = "%s ~ normal(0, %g)" % (",".join(reinit), REINIT_STD)
    if notes:
        meta["notes"] = notes
    if zero_grad:
        meta["zero_grad"] = ",".join(zero_grad)
    return finish(case_name, tensors, meta)


def std_module(case_name, name, options, input_shapes, mode="train", **kw):
    cls = RMSNorm if name == "RMSNorm" else getattr(nn, name)
    return run_module(case_name, name, options,
                      lambda: cls(**ctor_kwargs(options)),
                      lambda: [torch.randn(*s) for s in input_shapes],
                      mode=mode, **kw)


def register_modules():
    # ---- chronos: DLinear (a series of 12 rows, 3 channels; kernels 5 and 25 > L)
    for kernel in (5, 25):
        o = {"lookback": 12, "horizon": 4, "kernel": kernel}
        case("module_DLinear_k%d" % kernel)(
            lambda c, o=o: run_module(c, "DLinear", o, lambda o=o: DLinear(**o), lambda: [torch.randn(2, 12, 3)]))

    # ---- weight norm, and chronos' TCN (eval: dropout off)
    o = {"in_channels": 3, "out_channels": 4, "kernel_size": 3, "padding": 2, "dilation": 2}
    case("module_WeightNormConv1d")(lambda c, o=o: run_module(
        c, "WeightNormConv1d", o, lambda: nn.utils.weight_norm(nn.Conv1d(**o)), lambda: [torch.randn(2, 3, 9)]))
    o = {"lookback": 10, "horizon": 3, "input_features": 3, "output_features": 2, "channels": [4, 4, 5],
         "kernel": 3, "dropout": 0.1}
    case("module_TCN")(lambda c, o=o: run_module(
        c, "TCN", o, lambda: TCN(**o), lambda: [torch.randn(2, 10, 3)], mode="eval"))
    o2 = {"lookback": 6, "horizon": 2, "input_features": 3, "output_features": 2, "hidden": 5, "layers": 2,
          "dropout": 0.1, "normalization": True}
    case("module_LSTMModel")(lambda c, o=o2: run_module(
        c, "LSTMModel", o, lambda: LSTMModel(**o), lambda: [torch.randn(2, 6, 3)], mode="eval"))
    o = dict(o, normalization=True)
    case("module_TCN_normalization")(lambda c, o=o: run_module(
        c, "TCN", o, lambda: TCN(**o), lambda: [torch.randn(2, 10, 3)], mode="eval"))

    # ---- attention: torch.nn.MultiheadAttention (self, float mask per head; cross, [L, S]
    # mask, sequence first), TransformerEncoderLayer (post-norm GELU; pre-norm ReLU with a
    # causal bool mask), and chronos' PatchTST (train with BatchNorm and RevIN; eval with
    # LayerNorm, no RevIN, no residual attention)
    o = {"embed_dim": 8, "num_heads": 2, "batch_first": True, "self": True}
    case("module_MultiheadAttention_self")(lambda c, o=o: run_module(
        c, "MultiheadAttention", o, lambda: nn.MultiheadAttention(8, 2, batch_first=True),
        lambda: [torch.randn(2, 5, 8), torch.randn(4, 5, 5)],
        call=lambda m, x: m(x[0], x[0], x[0], attn_mask=x[1])))
    o = {"embed_dim": 12, "num_heads": 3, "batch_first": False, "self": False}
    case("module_MultiheadAttention_cross")(lambda c, o=o: run_module(
        c, "MultiheadAttention", o, lambda: nn.MultiheadAttention(12, 3),
        lambda: [torch.randn(4, 2, 12), torch.randn(6, 2, 12), torch.randn(6, 2, 12), torch.randn(4, 6)],
        call=lambda m, x: m(x[0], x[1], x[2], attn_mask=x[3])))
    o = {"d_model": 8, "nhead": 2, "dim_feedforward": 16, "dropout": 0.0, "activation": "gelu", "batch_first": True,
         "norm_first": False}
    case("module_TransformerEncoderLayer")(lambda c, o=o: run_module(
        c, "TransformerEncoderLayer", o, lambda: nn.TransformerEncoderLayer(**o), lambda: [torch.randn(3, 5, 8)]))
    o = {"d_model": 8, "nhead": 4, "dim_feedforward": 12, "dropout": 0.0, "activation": "relu", "batch_first": False,
         "norm_first": True}
    case("module_TransformerEncoderLayer_norm_first")(lambda c, o=o: run_module(
        c, "TransformerEncoderLayer", o, lambda: nn.TransformerEncoderLayer(**o),
        lambda: [torch.randn(5, 2, 8), torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)],
        call=lambda m, x: m(x[0], src_mask=x[1])))
    o = {"lookback": 20, "horizon": 4, "input_features": 3, "output_features": 2, "patch_len": 6, "stride": 4,
         "d_model": 8, "heads": 2, "d_ff": 16, "layers": 2, "dropout": 0.0}
    # The biases just before a train-mode BatchNorm shift every token's feature alike, which
    # the normalisation removes: their gradient is zero, and torch's is rounding noise.
    zero = ["layers.%d.%s.bias" % (i, n) for i in range(2) for n in ("self_attn.out_proj", "linear2")]
    case("module_PatchTST")(lambda c, o=o: run_module(
        c, "PatchTST", o, lambda: PatchTST(**o), lambda: [torch.randn(3, 20, 3) * 2 + 1], zero_grad=zero,
        notes="zero_grad: these parameters' gradients are 0 in exact arithmetic (a constant per feature "
              "before a train-mode BatchNorm); the test checks |grad| <= 1e-5 of the largest parameter gradient"))
    o = dict(o, dropout=0.3, revin=False, res_attention=False, norm="layer", output_features=3)
    case("module_PatchTST_layernorm")(lambda c, o=o: run_module(
        c, "PatchTST", o, lambda: PatchTST(**o), lambda: [torch.randn(2, 20, 3)], mode="eval"))

    # ---- chronos: N-BEATS (generic stacks; trend + seasonality with shared weights; eval:
    # dropout off) and the LSTM encoder-decoder
    o = {"lookback": 12, "horizon": 5, "input_features": 2, "output_features": 1,
         "stack_types": ["generic", "generic"], "blocks_per_stack": 2, "thetas_dim": [3, 4],
         "share_weights_in_stack": False, "hidden": 8, "dropout": 0.1}
    case("module_NBeats_generic")(lambda c, o=o: run_module(
        c, "NBeats", o, lambda: NBeats(**o), lambda: [torch.randn(3, 12, 2)], mode="eval"))
    o = dict(o, stack_types=["trend", "seasonality"], thetas_dim=[3, 0], share_weights_in_stack=True,
             blocks_per_stack=3, output_features=2)
    case("module_NBeats_interpretable")(lambda c, o=o: run_module(
        c, "NBeats", o, lambda: NBeats(**o), lambda: [torch.randn(3, 12, 2)], mode="eval"))
    o = {"lookback": 7, "horizon": 4, "input_features": 3, "output_features": 2, "hidden": 5, "layers": 2,
         "dropout": 0.25}
    case("module_Seq2Seq")(lambda c, o=o: run_module(
        c, "Seq2Seq", o, lambda: Seq2Seq(**o), lambda: [torch.randn(2, 7, 3)], mode="eval"))
    # ---- quantile forecasts (Q = 3) of TCN, LSTMModel and Seq2Seq
    o = dict(o, quantiles=3)
    case("module_Seq2Seq_quantiles")(lambda c, o=o: run_module(
        c, "Seq2Seq", o, lambda: Seq2Seq(**o), lambda: [torch.randn(2, 7, 3)], mode="eval"))
    o = {"lookback": 10, "horizon": 3, "input_features": 3, "output_features": 2, "channels": [4, 5],
         "kernel": 3, "dropout": 0.1, "normalization": True, "quantiles": 3}
    case("module_TCN_quantiles")(lambda c, o=o: run_module(
        c, "TCN", o, lambda: TCN(**o), lambda: [torch.randn(2, 10, 3)], mode="eval"))
    o = {"lookback": 6, "horizon": 2, "input_features": 3, "output_features": 2, "hidden": 5, "layers": 1,
         "dropout": 0.1, "normalization": True, "quantiles": 3}
    case("module_LSTMModel_quantiles")(lambda c, o=o: run_module(
        c, "LSTMModel", o, lambda: LSTMModel(**o), lambda: [torch.randn(2, 6, 3)], mode="eval"))

    # ---- transposed convolutions, GroupNorm, AvgPool1d (a moving average with the ends
    # not counted), and ops: cumsum, masked_fill, sort, topk, einsum
    o = {"in_channels": 4, "out_channels": 6, "kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 0],
         "output_padding": [1, 0], "groups": 2, "bias": True, "dilation": [1, 2]}
    case("module_ConvTranspose2d")(lambda c, o=o: std_module(c, "ConvTranspose2d", o, [[2, 4, 5, 4]]))
    o = {"in_channels": 3, "out_channels": 2, "kernel_size": 4, "stride": 3, "padding": 2, "output_padding": 1,
         "groups": 1, "bias": True, "dilation": 1}
    case("module_ConvTranspose1d")(lambda c, o=o: std_module(c, "ConvTranspose1d", o, [[2, 3, 6]]))
    o = {"num_groups": 2, "num_channels": 6, "eps": 1e-5, "affine": True}
    case("module_GroupNorm")(lambda c, o=o: std_module(c, "GroupNorm", o, [[3, 6, 4]], reinit=("weight", "bias")))
    o = {"kernel_size": 5, "stride": 1, "padding": 2, "count_include_pad": False}
    case("module_AvgPool1d_moving_average")(lambda c, o=o: std_module(c, "AvgPool1d", o, [[2, 3, 9]]))
    ops = [
        ("cumsum", {"dim": 1}, lambda x: torch.cumsum(x, 1), lambda: [torch.randn(3, 4, 5)]),
        ("masked_fill", {"value": -2.5}, lambda x, m: x.masked_fill(m, -2.5),
         lambda: [torch.randn(3, 4), torch.rand(1, 4) > 0.5]),
        ("sort", {"dim": -1, "descending": True}, lambda x: torch.sort(x, dim=-1, descending=True),
         lambda: [torch.randn(3, 5)]),
        ("topk", {"k": 3, "dim": 0, "largest": False}, lambda x: torch.topk(x, 3, dim=0, largest=False),
         lambda: [torch.randn(6, 4)]),
        ("einsum_bmm", {"equation": "bij,bjk->bik"}, lambda a, b: torch.einsum("bij,bjk->bik", a, b),
         lambda: [torch.randn(2, 3, 4), torch.randn(2, 4, 5)]),
        ("einsum_attention", {"equation": "bhqd,bhkd->bhqk"}, lambda a, b: torch.einsum("bhqd,bhkd->bhqk", a, b),
         lambda: [torch.randn(2, 3, 4, 5), torch.randn(2, 3, 6, 5)]),
        ("einsum_chain", {"equation": "ij,jk,kl->li"}, lambda a, b, d: torch.einsum("ij,jk,kl->li", a, b, d),
         lambda: [torch.randn(3, 4), torch.randn(4, 5), torch.randn(5, 2)]),
        ("einsum_sum_permute", {"equation": "ijk->kj"}, lambda a: torch.einsum("ijk->kj", a),
         lambda: [torch.randn(3, 4, 5)]),
    ]
    for name, o, fn, make in ops:
        op = "einsum" if name.startswith("einsum") else name
        case("op_" + name)(lambda c, op=op, o=o, fn=fn, make=make: run_module(
            c, "op." + op, o, lambda: nn.Module(), make, call=lambda m, x: fn(*x)))

    # ---- Linear
    for variant, bias, shape in [("bias", True, [3, 5]), ("nobias", False, [3, 5]),
                                 ("3d", True, [2, 3, 5])]:
        o = {"in_features": 5, "out_features": 4, "bias": bias}
        case("module_Linear_" + variant)(
            lambda c, o=o, shape=shape: std_module(c, "Linear", o, [shape]))

    # ---- Conv1d
    def conv1d(cin, cout, k, s, p, d, g, b=True):
        return {"in_channels": cin, "out_channels": cout, "kernel_size": k, "stride": s,
                "padding": p, "dilation": d, "groups": g, "bias": b}
    for variant, o, shape in [
        ("stride2_pad1_dil2", conv1d(3, 4, 3, 2, 1, 2, 1), [2, 3, 11]),
        ("groups2", conv1d(4, 6, 3, 1, 1, 1, 2), [2, 4, 9]),
    ]:
        case("module_Conv1d_" + variant)(
            lambda c, o=o, shape=shape: std_module(c, "Conv1d", o, [shape]))

    # ---- Conv2d
    def conv2d(cin, cout, k, s=1, p=0, d=1, g=1, b=True):
        return {"in_channels": cin, "out_channels": cout, "kernel_size": k, "stride": s,
                "padding": p, "dilation": d, "groups": g, "bias": b}
    for variant, o, shape in [
        ("plain3x3", conv2d(3, 4, 3), [2, 3, 7, 7]),
        ("stride2_pad1", conv2d(3, 4, 3, s=2, p=1), [2, 3, 7, 7]),
        ("dilation2", conv2d(3, 4, 3, d=2), [2, 3, 7, 7]),
        ("groups2", conv2d(4, 6, 3, p=1, g=2), [2, 4, 7, 7]),
        ("depthwise", conv2d(3, 3, 3, p=1, g=3), [2, 3, 7, 7]),
        ("nobias", conv2d(3, 4, 3, p=1, b=False), [2, 3, 7, 7]),
        ("kernel3x2_pad1x0", conv2d(3, 4, [3, 2], p=[1, 0]), [2, 3, 7, 7]),
    ]:
        case("module_Conv2d_" + variant)(
            lambda c, o=o, shape=shape: std_module(c, "Conv2d", o, [shape]))

    # ---- pooling
    for variant, o in [
        ("k2", {"kernel_size": 2, "stride": 2, "padding": 0, "dilation": 1, "ceil_mode": False}),
        ("k3_s2_p1", {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1, "ceil_mode": False}),
    ]:
        case("module_MaxPool2d_" + variant)(
            lambda c, o=o: std_module(c, "MaxPool2d", o, [[2, 3, 7, 7]]))
    for variant, o in [
        ("k2", {"kernel_size": 2, "stride": 2, "padding": 0, "ceil_mode": False,
                "count_include_pad": True}),
        ("k3_s2_p1_incpad", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": False,
                             "count_include_pad": True}),
        ("k3_s2_p1_excpad", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": False,
                             "count_include_pad": False}),
    ]:
        case("module_AvgPool2d_" + variant)(
            lambda c, o=o: std_module(c, "AvgPool2d", o, [[2, 3, 7, 7]]))
    for variant, o, shape in [
        ("1x1", {"output_size": [1, 1]}, [2, 3, 7, 7]),
        ("2x3", {"output_size": [2, 3]}, [2, 3, 5, 7]),
    ]:
        case("module_AdaptiveAvgPool2d_" + variant)(
            lambda c, o=o, shape=shape: std_module(c, "AdaptiveAvgPool2d", o, [shape]))

    # ---- BatchNorm
    def set_running_stats(m):
        m.running_mean.normal_(0.0, 0.5)
        m.running_var.uniform_(0.5, 2.0)
        m.num_batches_tracked.fill_(10)
    for name, variant, shape in [("BatchNorm1d", "2d", [4, 5]),
                                 ("BatchNorm1d", "3d", [4, 5, 6]),
                                 ("BatchNorm2d", "4d", [3, 5, 4, 4])]:
        o = {"num_features": 5, "eps": 1e-5, "momentum": 0.1, "affine": True,
             "track_running_stats": True}
        case("module_%s_%s_train" % (name, variant))(
            lambda c, name=name, o=o, shape=shape: std_module(
                c, name, o, [shape], mode="train", reinit=("weight", "bias")))
        case("module_%s_%s_eval" % (name, variant))(
            lambda c, name=name, o=o, shape=shape: std_module(
                c, name, o, [shape], mode="eval", reinit=("weight", "bias"),
                set_buffers=set_running_stats,
                notes="running_mean ~ normal(0,0.5), running_var ~ uniform(0.5,2), "
                      "num_batches_tracked = 10 set before forward"))

    # ---- LayerNorm / RMSNorm
    for variant, o, reinit in [
        ("last", {"normalized_shape": [8], "eps": 1e-5, "elementwise_affine": True},
         ("weight", "bias")),
        ("last2", {"normalized_shape": [4, 8], "eps": 1e-5, "elementwise_affine": True},
         ("weight", "bias")),
        ("noaffine", {"normalized_shape": [8], "eps": 1e-5, "elementwise_affine": False}, ()),
    ]:
        case("module_LayerNorm_" + variant)(
            lambda c, o=o, reinit=reinit: std_module(c, "LayerNorm", o, [[3, 4, 8]],
                                                     reinit=reinit))
    case("module_RMSNorm_last")(
        lambda c: std_module(c, "RMSNorm", {"normalized_shape": [8], "eps": 1e-6}, [[3, 4, 8]],
                             reinit=("weight",),
                             notes="reference (torch 1.13 has no nn.RMSNorm): "
                                   "y = x / sqrt(mean(x^2, dim=-1) + eps) * weight"))

    # ---- Embedding
    def emb_inputs_plain():
        return [torch.randint(0, 10, (2, 5), dtype=torch.int64)]

    def emb_inputs_pad():
        x = torch.randint(1, 10, (2, 5), dtype=torch.int64)
        x[0, 1] = 0
        x[0, 4] = 0
        x[1, 0] = 0
        x[1, 2] = x[0, 0]  # a repeated index (gradient accumulation)
        return [x]
    for variant, o, mk in [
        ("plain", {"num_embeddings": 10, "embedding_dim": 4, "padding_idx": None}, emb_inputs_plain),
        ("padding_idx0", {"num_embeddings": 10, "embedding_dim": 4, "padding_idx": 0}, emb_inputs_pad),
    ]:
        case("module_Embedding_" + variant)(
            lambda c, o=o, mk=mk: run_module(c, "Embedding", o,
                                             lambda: nn.Embedding(**ctor_kwargs(o)), mk))

    # ---- LSTM / GRU
    T, B = 4, 3
    for name in ("LSTM", "GRU"):
        for variant, layers, bf, with_state in [
            ("l1", 1, False, False),
            ("l1_batchfirst", 1, True, False),
            ("l2", 2, False, False),
            ("l2_batchfirst", 2, True, False),
            ("l1_h0", 1, False, True),
            ("l2_batchfirst_h0", 2, True, True),
        ]:
            o = {"input_size": 5, "hidden_size": 6, "num_layers": layers, "bias": True,
                 "batch_first": bf, "dropout": 0.0, "bidirectional": False}

            def mk(layers=layers, bf=bf, with_state=with_state, name=name):
                x = torch.randn(B, T, 5) if bf else torch.randn(T, B, 5)
                ins = [x]
                if with_state:
                    ins.append(torch.randn(layers, B, 6))
                    if name == "LSTM":
                        ins.append(torch.randn(layers, B, 6))
                return ins

            def call(m, ins, name=name):
                if len(ins) == 1:
                    return m(ins[0])
                if name == "LSTM":
                    return m(ins[0], (ins[1], ins[2]))
                return m(ins[0], ins[1])

            cls = getattr(nn, name)
            case("module_%s_%s" % (name, variant))(
                lambda c, o=o, mk=mk, call=call, cls=cls, name=name: run_module(
                    c, name, o, lambda: cls(**ctor_kwargs(o)), mk, call=call, multi_in=True))

    # ---- activations
    def act_input():
        x = torch.empty(3, 7).uniform_(-4.0, 4.0)
        small = x.abs() < 0.1
        x[small] = torch.where(x[small] < 0, x[small] - 0.1, x[small] + 0.1)
        return [x]
    for name, variant, o in [
        ("ReLU", "default", {}),
        ("LeakyReLU", "slope0.1", {"negative_slope": 0.1}),
        ("ELU", "alpha1", {"alpha": 1.0}),
        ("ELU", "alpha0.5", {"alpha": 0.5}),
        ("GELU", "none", {"approximate": "none"}),
        ("GELU", "tanh", {"approximate": "tanh"}),
        ("SiLU", "default", {}),
        ("Tanh", "default", {}),
        ("Sigmoid", "default", {}),
        ("Softmax", "dim1", {"dim": 1}),
        ("Softmax", "dim0", {"dim": 0}),
        ("LogSoftmax", "dimm1", {"dim": -1}),
    ]:
        case("module_%s_%s" % (name, variant))(
            lambda c, name=name, o=o: run_module(
                c, name, o, lambda: getattr(nn, name)(**ctor_kwargs(o)), act_input))
    for variant, o in [("start1", {"start_dim": 1, "end_dim": -1}),
                       ("start1_end2", {"start_dim": 1, "end_dim": 2})]:
        case("module_Flatten_" + variant)(
            lambda c, o=o: std_module(c, "Flatten", o, [[2, 3, 4, 5]]))

    # ---- Dropout
    case("module_Dropout_eval_p0.5")(
        lambda c: std_module(c, "Dropout", {"p": 0.5}, [[3, 7]], mode="eval"))
    case("module_Dropout_train_p0")(
        lambda c: std_module(c, "Dropout", {"p": 0.0}, [[3, 7]], mode="train"))

    # ---- Sequential small CNN
    seq_opts = {"layers": [
        {"name": "Conv2d", "options": {"in_channels": 1, "out_channels": 4, "kernel_size": 3,
                                       "stride": 1, "padding": 1, "dilation": 1, "groups": 1,
                                       "bias": True}},
        {"name": "ReLU", "options": {}},
        {"name": "MaxPool2d", "options": {"kernel_size": 2, "stride": 2, "padding": 0,
                                          "dilation": 1, "ceil_mode": False}},
        {"name": "Flatten", "options": {"start_dim": 1, "end_dim": -1}},
        {"name": "Linear", "options": {"in_features": 64, "out_features": 10, "bias": True}},
    ]}

    def build_seq():
        return nn.Sequential(*[getattr(nn, l["name"])(**ctor_kwargs(l["options"]))
                               for l in seq_opts["layers"]])
    case("module_Sequential_smallcnn")(
        lambda c: run_module(c, "Sequential", seq_opts, build_seq,
                             lambda: [torch.randn(2, 1, 8, 8)]))


# --------------------------------------------------------------------------
# criteria
# --------------------------------------------------------------------------

class QuantileLoss(nn.Module):
    """The pinball loss: input [..., Q], target [...]; max(q (y - p), (q - 1)(y - p))."""

    def __init__(self, quantiles, reduction="mean"):
        super().__init__()
        self.q, self.reduction = torch.tensor(quantiles, dtype=torch.float32), reduction

    def forward(self, inp, target):
        d = target.unsqueeze(-1) - inp
        loss = torch.maximum(self.q * d, (self.q - 1) * d)
        return {"mean": loss.mean, "sum": loss.sum}.get(self.reduction, lambda: loss)()


def run_criterion(case_name, name, options, make, extra=None):
    """make() -> (input, target, dict of constructor tensors e.g. weight/pos_weight)."""
    seed = seed_for(case_name)
    torch.manual_seed(seed)
    inp, target, ctor_tensors = make()
    inp = inp.detach().clone().requires_grad_(True)
    crit = (getattr(nn, name, None) or globals()[name])(**ctor_kwargs(options), **ctor_tensors)
    out = crit(inp, target)
    tensors = [("input", inp, "F32"), ("target", target, dtype_of(target))]
    for k, v in ctor_tensors.items():
        tensors.append((k, v, "F32"))
    if out.dim() == 0:
        out.backward()
        tensors.append(("output", out, "F32"))
    else:
        g = torch.randn(out.shape)
        (out * g).sum().backward()
        tensors.append(("output", out, "F32"))
        tensors.append(("grad_output", g, "F32"))
    tensors.append(("grad.input", inp.grad, "F32"))
    meta = base_meta(case_name, "criterion", name, options, seed)
    if extra:
        meta.update(extra)
    return finish(case_name, tensors, meta)


def register_criteria():
    N, C = 6, 5

    def ce_plain():
        return torch.randn(N, C), torch.randint(0, C, (N,)), {}

    def ce_weight():
        return torch.randn(N, C), torch.randint(0, C, (N,)), {"weight": torch.rand(C) + 0.5}

    def ce_ignore_default():
        t = torch.randint(0, C, (N,))
        t[1] = -100
        t[4] = -100
        return torch.randn(N, C), t, {}

    def ce_ignore2():
        t = torch.randint(0, C, (N,))
        t[0] = 2
        t[3] = 2
        t[5] = 4 if t[5] == 2 else t[5]
        return torch.randn(N, C), t, {}

    def ce_weight_ignore2():
        x, t, _ = ce_ignore2()
        return x, t, {"weight": torch.rand(C) + 0.5}

    def ce_spatial():
        return torch.randn(3, C, 4), torch.randint(0, C, (3, 4)), {}

    def ce_prob():
        return torch.randn(N, C), torch.softmax(torch.randn(N, C) * 2, dim=1), {}

    ce_default = {"ignore_index": -100, "reduction": "mean", "label_smoothing": 0.0}

    def ce(**kw):
        o = dict(ce_default)
        o.update(kw)
        return o
    for variant, o, mk in [
        ("mean", ce(), ce_plain),
        ("sum", ce(reduction="sum"), ce_plain),
        ("none", ce(reduction="none"), ce_plain),
        ("label_smoothing0.1", ce(label_smoothing=0.1), ce_plain),
        ("ignore_default", ce(), ce_ignore_default),
        ("ignore_index2", ce(ignore_index=2), ce_ignore2),
        ("weight", ce(), ce_weight),
        ("weight_sum", ce(reduction="sum"), ce_weight),
        ("weight_ignore_index2", ce(ignore_index=2), ce_weight_ignore2),
        ("weight_label_smoothing0.1", ce(label_smoothing=0.1), ce_weight),
        ("spatial", ce(), ce_spatial),
        ("prob_target", ce(), ce_prob),
        ("prob_target_label_smoothing0.1", ce(label_smoothing=0.1), ce_prob),
    ]:
        case("criterion_CrossEntropyLoss_" + variant)(
            lambda c, o=o, mk=mk: run_criterion(c, "CrossEntropyLoss", o, mk))

    def nll_plain():
        return torch.log_softmax(torch.randn(N, C), dim=1), torch.randint(0, C, (N,)), {}

    def nll_weight():
        x, t, _ = nll_plain()
        return x, t, {"weight": torch.rand(C) + 0.5}

    def nll_ignore1():
        x, t, _ = nll_plain()
        t[2] = 1
        t[5] = 1
        return x, t, {}
    nll = lambda **kw: {**{"ignore_index": -100, "reduction": "mean"}, **kw}
    for variant, o, mk in [
        ("mean", nll(), nll_plain),
        ("sum", nll(reduction="sum"), nll_plain),
        ("weight", nll(), nll_weight),
        ("ignore_index1", nll(ignore_index=1), nll_ignore1),
    ]:
        case("criterion_NLLLoss_" + variant)(
            lambda c, o=o, mk=mk: run_criterion(c, "NLLLoss", o, mk))

    def reg():
        return torch.randn(4, 3), torch.randn(4, 3), {}
    for name, variant, o in [
        ("MSELoss", "mean", {"reduction": "mean"}),
        ("MSELoss", "sum", {"reduction": "sum"}),
        ("MSELoss", "none", {"reduction": "none"}),
        ("L1Loss", "mean", {"reduction": "mean"}),
        ("L1Loss", "sum", {"reduction": "sum"}),
        ("SmoothL1Loss", "beta1", {"reduction": "mean", "beta": 1.0}),
        ("SmoothL1Loss", "beta0.5", {"reduction": "mean", "beta": 0.5}),
    ]:
        case("criterion_%s_%s" % (name, variant))(
            lambda c, name=name, o=o: run_criterion(c, name, o, reg))

    def quantile():
        return torch.randn(4, 3, 3), torch.randn(4, 3), {}
    for variant, o in [("mean", {"quantiles": [0.1, 0.5, 0.9], "reduction": "mean"}),
                       ("none", {"quantiles": [0.25, 0.75, 0.95], "reduction": "none"})]:
        case("criterion_QuantileLoss_%s" % variant)(lambda c, o=o: run_criterion(c, "QuantileLoss", o, quantile))

    def bce_plain():
        return (torch.sigmoid(torch.randn(4, 3) * 2),
                torch.randint(0, 2, (4, 3)).to(torch.float32), {})

    def bce_weight():
        x, t, _ = bce_plain()
        return x, t, {"weight": torch.rand(4, 3) + 0.5}

    def bcel_plain():
        return torch.randn(4, 3) * 2, torch.randint(0, 2, (4, 3)).to(torch.float32), {}

    def bcel_pos():
        x, t, _ = bcel_plain()
        return x, t, {"pos_weight": torch.rand(3) * 2 + 0.5}
    for name, variant, mk in [
        ("BCELoss", "mean", bce_plain),
        ("BCELoss", "weight", bce_weight),
        ("BCEWithLogitsLoss", "mean", bcel_plain),
        ("BCEWithLogitsLoss", "pos_weight", bcel_pos),
    ]:
        case("criterion_%s_%s" % (name, variant))(
            lambda c, name=name, mk=mk: run_criterion(c, name, {"reduction": "mean"}, mk))


# --------------------------------------------------------------------------
# optimizers
# --------------------------------------------------------------------------

OPT_SEED = 20240607  # shared: every optimizer case starts from the same MLP and data
OPT_STEPS = 10


def run_optimizer(case_name, name, options):
    torch.manual_seed(OPT_SEED)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = torch.randn(6, 4)
    y = torch.randint(0, 3, (6,))
    crit = nn.CrossEntropyLoss()
    opt = getattr(torch.optim, name)(model.parameters(), **ctor_kwargs(options))
    tensors = [("x", x, "F32"), ("y", y, "I64")]
    for n, p in model.state_dict().items():
        tensors.append(("param." + n, p.clone(), "F32"))
    losses = []
    step1 = None
    for step in range(OPT_STEPS):
        opt.zero_grad()
        loss = crit(model(x), y)
        losses.append(loss.item())
        loss.backward()
        opt.step()
        if step == 0:
            step1 = {n: p.detach().clone() for n, p in model.state_dict().items()}
    for n, p in step1.items():
        tensors.append(("param_step1." + n, p, "F32"))
    for n, p in model.state_dict().items():
        tensors.append(("param_final." + n, p, "F32"))
    tensors.append(("loss", torch.tensor(losses, dtype=torch.float32), "F32"))
    meta = base_meta(case_name, "optimizer", name, options, OPT_SEED)
    meta["model"] = "Sequential(Linear(4,8), ReLU, Linear(8,3)); CrossEntropyLoss(mean)"
    meta["steps"] = str(OPT_STEPS)
    return finish(case_name, tensors, meta)


def register_optimizers():
    for name, variant, o in [
        ("SGD", "lr0.1", {"lr": 0.1}),
        ("SGD", "momentum0.9", {"lr": 0.1, "momentum": 0.9}),
        ("SGD", "momentum0.9_dampening0.1", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1}),
        ("SGD", "nesterov", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
        ("SGD", "weight_decay0.01_momentum0.9", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
        ("Adam", "lr0.01", {"lr": 0.01}),
        ("Adam", "betas_eps_wd", {"lr": 0.01, "betas": [0.8, 0.9], "eps": 1e-6,
                                  "weight_decay": 0.01}),
        ("Adam", "amsgrad", {"lr": 0.01, "amsgrad": True}),
        ("AdamW", "lr0.01_wd0.1", {"lr": 0.01, "weight_decay": 0.1}),
        ("RMSprop", "lr0.01", {"lr": 0.01}),
        ("RMSprop", "momentum_centered_wd", {"lr": 0.01, "momentum": 0.9, "centered": True,
                                              "weight_decay": 0.01}),
        ("Adagrad", "lr0.1", {"lr": 0.1}),
        ("Adagrad", "lrdecay_wd_initacc", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01,
                                           "initial_accumulator_value": 0.1}),
    ]:
        case("optimizer_%s_%s" % (name, variant))(
            lambda c, name=name, o=o: run_optimizer(c, name, o))


# --------------------------------------------------------------------------
# schedulers
# --------------------------------------------------------------------------

SCHED_EPOCHS = 20
SCHED_BASE_LR = 0.1
PLATEAU_METRIC = [1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.79995, 0.7, 0.7, 0.71,
                  0.7, 0.69, 0.6, 0.65, 0.66, 0.67, 0.6, 0.6, 0.6, 0.5]


def run_scheduler(case_name, name, sched_kwargs):
    seed = seed_for(case_name)
    torch.manual_seed(seed)
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=SCHED_BASE_LR)
    sched = getattr(torch.optim.lr_scheduler, name)(opt, **ctor_kwargs(sched_kwargs))
    lrs = []
    for epoch in range(SCHED_EPOCHS):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if name == "ReduceLROnPlateau":
            sched.step(PLATEAU_METRIC[epoch])
        else:
            sched.step()
    options = {"lr": SCHED_BASE_LR}
    options.update(sched_kwargs)
    tensors = [("lr", torch.tensor(lrs, dtype=torch.float64), "F32")]
    if name == "ReduceLROnPlateau":
        tensors.append(("metric", torch.tensor(PLATEAU_METRIC, dtype=torch.float64), "F32"))
    meta = base_meta(case_name, "scheduler", name, options, seed)
    meta["optimizer"] = "SGD"
    meta["epochs"] = str(SCHED_EPOCHS)
    return finish(case_name, tensors, meta)


def register_schedulers():
    for name, o in [
        ("StepLR", {"step_size": 3, "gamma": 0.5}),
        ("MultiStepLR", {"milestones": [2, 5, 9], "gamma": 0.1}),
        ("ExponentialLR", {"gamma": 0.9}),
        ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.001}),
        ("LinearLR", {"start_factor": 0.1, "end_factor": 1.0, "total_iters": 5}),
        ("ReduceLROnPlateau", {"mode": "min", "factor": 0.5, "patience": 2, "threshold": 1e-4,
                               "threshold_mode": "rel", "cooldown": 0, "min_lr": 0.0,
                               "eps": 1e-8}),
    ]:
        case("scheduler_" + name)(lambda c, name=name, o=o: run_scheduler(c, name, o))


# --------------------------------------------------------------------------
# gradient clipping
# --------------------------------------------------------------------------

def run_clip(case_name, max_norm, norm_type):
    seed = seed_for(case_name)
    torch.manual_seed(seed)
    ps = [nn.Parameter(torch.zeros(3, 4)), nn.Parameter(torch.zeros(5))]
    for p in ps:
        p.grad = torch.randn(p.shape)
    before = [p.grad.clone() for p in ps]
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm=max_norm, norm_type=norm_type)
    tensors = []
    for k, g in enumerate(before):
        tensors.append(("grad.%d" % k, g, "F32"))
    for k, p in enumerate(ps):
        tensors.append(("grad_after.%d" % k, p.grad, "F32"))
    tensors.append(("total_norm", total, "F32"))
    options = {"max_norm": max_norm,
               "norm_type": "inf" if math.isinf(norm_type) else norm_type}
    return finish(case_name, tensors,
                  base_meta(case_name, "clip", "clip_grad_norm_", options, seed))


def register_clip():
    case("clip_grad_norm_max1_l2")(lambda c: run_clip(c, 1.0, 2.0))
    case("clip_grad_norm_max0.5_inf")(lambda c: run_clip(c, 0.5, float("inf")))


# --------------------------------------------------------------------------

def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    register_modules()
    register_criteria()
    register_optimizers()
    register_schedulers()
    register_clip()
    names = [n for n, _ in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    # drop stale fixtures of cases that no longer exist
    for f in sorted(os.listdir(OUT_DIR)):
        if f.endswith(".safetensors") and f[:-len(".safetensors")] not in names:
            os.remove(os.path.join(OUT_DIR, f))
    total = 0
    for name, fn in CASES:
        path, size = fn(name)
        total += size
        print("%-50s %6d bytes" % (name, size))
    print("%d cases, %d bytes total, torch %s" % (len(CASES), total, torch.__version__))


if __name__ == "__main__":
    if not sys.executable.startswith("/usr/bin/python3"):
        print("warning: expected /usr/bin/python3, running %s" % sys.executable, file=sys.stderr)
    main()
