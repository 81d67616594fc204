"""Exports a captured model (an InferenceModel of bigdl_cpp.nano) to ONNX, opset 13, as an
fp32 graph: the steps nano.describe gives (what nano.save writes, docs/nano.md "Saving and
loading") become ONNX
nodes with the layers' f32 weights (dynamic int8 Linear weights dequantized from their
Q8_0 blocks). Needs the `onnx` package (PyPI). ONNX Runtime loads the result and agrees
with our fp32 capture (tests/python/test_nano.py).
"""
import json
import os

import numpy as np


def _q8_0_weights(blocks, out, in_):
    """f32 [out, in] from Q8_0 blocks (per block of 32: fp16 scale d, 32 int8 q; w = d * q)."""
    in_pad = (in_ + 31) // 32 * 32
    raw = np.asarray(blocks, dtype=np.uint8).reshape(out, in_pad // 32, 34)
    d = raw[:, :, :2].copy().view(np.float16).astype(np.float32)  # [out, blocks, 1]
    q = raw[:, :, 2:].view(np.int8).astype(np.float32)            # [out, blocks, 32]
    return (d * q).reshape(out, in_pad)[:, :in_]


class _Graph:
    def __init__(self, helper, numpy_helper):
        self.h, self.nh = helper, numpy_helper
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, base):
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, base, array):
        n = self.name(base)
        self.inits.append(self.nh.from_array(np.ascontiguousarray(array), n))
        return n

    def node(self, op, inputs, **attrs):
        out = self.name(op.lower())
        self.nodes.append(self.h.make_node(op, inputs, [out], **attrs))
        return out

    def act(self, x, kind, alpha):
        if kind == "":
            return x
        if kind == "relu":
            return self.node("Relu", [x])
        if kind == "leaky_relu":
            return self.node("LeakyRelu", [x], alpha=float(alpha))
        if kind == "tanh":
            return self.node("Tanh", [x])
        if kind == "sigmoid":
            return self.node("Sigmoid", [x])
        if kind == "silu":
            return self.node("Mul", [x, self.node("Sigmoid", [x])])
        if kind == "gelu":  # 0.5 x (1 + erf(x / sqrt 2))
            e = self.node("Erf", [self.node("Mul", [x, self.const("c", np.float32(0.70710678118654752))])])
            return self.node("Mul", [self.node("Mul", [x, self.const("c", np.float32(0.5))]),
                                     self.node("Add", [e, self.const("c", np.float32(1))])])
        if kind == "gelu(tanh)":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
            x3 = self.node("Mul", [self.node("Mul", [x, x]), x])
            inner = self.node("Add", [x, self.node("Mul", [x3, self.const("c", np.float32(0.044715))])])
            t = self.node("Tanh", [self.node("Mul", [inner, self.const("c", np.float32(0.79788456080286536))])])
            return self.node("Mul", [self.node("Mul", [x, self.const("c", np.float32(0.5))]),
                                     self.node("Add", [t, self.const("c", np.float32(1))])])
        raise ValueError(f"export_onnx: no ONNX form for the activation '{kind}'")


def export_onnx(model, path, example):
    """Writes `model` (from trace / quantize / get_best_model / load) to `path` as ONNX;
    `example` is an input array (its per-sample shape is the graph input's; the batch dim
    is dynamic). ValueError naming the step for one ONNX cannot express."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from bigdl_cpp import _native

    example = np.ascontiguousarray(example, dtype=np.float32)
    meta, tensors = _native.nano.describe(model)
    meta = json.loads(meta)
    if meta.get("inputs", 1) != 1:
        raise ValueError(f"export_onnx: the model takes {meta['inputs']} inputs; only one-input models are exported "
                         "(a model imported from ONNX already has its file)")
    g = _Graph(helper, numpy_helper)
    slots = ["x"]
    for k, e in enumerate(meta["steps"]):
        pre = f"step{k}."
        ins = [slots[a] for a in e["args"]]
        kind = e["kind"]
        x = ins[0] if ins else None
        if kind == "onednn" and e["conv"]:
            args = [x, g.const("w", tensors[pre + "weight"])] + ([g.const("b", tensors[pre + "bias"])] if pre + "bias" in tensors else [])
            (ph, pw), (sh, sw), (dh, dw) = e["padding"], e["stride"], e["dilation"]
            y = g.node("Conv", args, pads=[ph, pw, ph, pw], strides=[sh, sw], dilations=[dh, dw], group=e["groups"],
                       kernel_shape=list(e["kernel"]))
            y = g.act(y, e["act"], e["alpha"])
        elif kind in ("onednn", "linear", "linear_int8_dynamic"):
            w = (_q8_0_weights(tensors[pre + "blocks"], e["out"], e["in"]) if kind == "linear_int8_dynamic"
                 else tensors[pre + "weight"])
            y = g.node("MatMul", [x, g.const("wt", np.ascontiguousarray(np.asarray(w, np.float32).T))])
            if pre + "bias" in tensors:
                y = g.node("Add", [y, g.const("b", tensors[pre + "bias"])])
            y = g.act(y, e["act"], e["alpha"])
        elif kind == "max_pool":
            (kh, kw), (sh, sw), (ph, pw) = e["kernel"], e["stride"], e["padding"]
            y = g.node("MaxPool", [x], kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw])
        elif kind == "add":
            y = x
            for other in ins[1:]:
                y = g.node("Add", [y, other])
            y = g.act(y, e["act"], e["alpha"])
        elif kind == "global_avg_pool":
            y = g.node("Flatten", [g.node("GlobalAveragePool", [x])], axis=1)
        elif kind == "module":
            m = e["module"]
            if m == "Flatten" and e["start_dim"] == 1 and e["end_dim"] == -1:
                y = g.node("Flatten", [x], axis=1)
            elif m in ("Softmax", "LogSoftmax"):
                y = g.node(m, [x], axis=e["dim"])
            elif m == "AdaptiveAvgPool2d" and list(e["output_size"]) == [1, 1]:
                y = g.node("GlobalAveragePool", [x])
            elif m == "AvgPool2d":
                (kh, kw), (sh, sw), (ph, pw) = e["kernel"], e["stride"], e["padding"]
                y = g.node("AveragePool", [x], kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw],
                           count_include_pad=int(e["count_include_pad"]))
            elif m == "Identity":
                y = x
            elif m in ("ReLU", "Tanh", "Sigmoid", "SiLU", "LeakyReLU", "GELU"):
                kind_of = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "SiLU": "silu", "LeakyReLU": "leaky_relu",
                           "GELU": "gelu(tanh)" if e.get("approximate") == "tanh" else "gelu"}[m]
                y = g.act(x, kind_of, e.get("negative_slope", 0.0))
            else:
                raise ValueError(f"export_onnx: step ({k}) {m} {e} has no ONNX form here")
        else:
            raise ValueError(f"export_onnx: step ({k}) of kind '{kind}' has no ONNX form here")
        slots.append(y)
    out = slots[meta["output"]]
    out_shape = np.asarray(model(example[:1])).shape
    graph = helper.make_graph(
        g.nodes, "bigdl_nano",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"] + list(example.shape[1:]))],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["n"] + list(out_shape[1:]))], g.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="bigdl-cpp")
    proto.ir_version = 8  # what ONNX Runtime 1.20 reads for opset 13
    onnx.checker.check_model(proto)
    tmp_path = os.fspath(path) + ".tmp"
    onnx.save(proto, tmp_path)
    os.replace(tmp_path, os.fspath(path))  # never a half-written file at path
