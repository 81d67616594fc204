#!/usr/bin/env python3
"""Small ONNX models and ONNX Runtime's outputs for tests/nano/test_onnx.cpp.

Run from the repository root with the test venv (Debian's torch 1.13 seen through
--system-site-packages, transformers, onnx and onnxruntime from PyPI; scripts/make_test_venv.sh):

    ~/.cache/bigdl-cpp/venv/test/bin/python tests/nano/gen_onnx_fixtures.py

Writes tests/nano/fixtures/onnx/<name>.onnx and <name>.json ({"inputs": {name: {"dtype",
"shape", "data"}}, "outputs": {...}}, ONNX Runtime's outputs rounded to 7 significant
digits). Every model is seeded and tiny (a few KB):
  mlp       torch: Linear, BatchNorm1d, ReLU, Linear, GELU, Linear, LogSoftmax (Gemm /
            BatchNormalization / erf-GELU nodes), opset 13
  cnn       torch: Conv+BN+ReLU, MaxPool, a residual block (Conv, BN, Add, ReLU), grouped
            conv, AvgPool, GlobalAveragePool, Flatten, Linear, opset 13
  bert13    transformers' BertModel (2 layers, hidden 32, 4 heads, vocab 100), dynamic
            batch and sequence axes, opset 13 (LayerNorm as ReduceMean / Sub / Pow / Sqrt /
            Div; the attention mask as Unsqueeze / Cast / Sub / Mul)
  bert17    the same model at opset 17 (LayerNormalization nodes)
  unsupported  one node of an operator we do not run (Det), built with onnx.helper
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch
import transformers
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "onnx")


def array_json(a):
    a = np.asarray(a)
    data = a.reshape(-1).tolist() if a.dtype.kind in "iub" else [float(f"{v:.7g}") for v in a.reshape(-1)]
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": data}


def write(name, path_onnx, feeds):
    sess = ort.InferenceSession(path_onnx, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    outs = sess.run(names, feeds)
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump({"inputs": {k: array_json(v) for k, v in feeds.items()},
                   "outputs": {k: array_json(v) for k, v in zip(names, outs)}}, f)


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.BatchNorm1d(32), torch.nn.ReLU(),
                                       torch.nn.Linear(32, 24), torch.nn.GELU(), torch.nn.Linear(24, 5),
                                       torch.nn.LogSoftmax(dim=-1))

    def forward(self, x):
        return self.net(x)


class Cnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                                        torch.nn.MaxPool2d(2))
        self.c1 = torch.nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.b1 = torch.nn.BatchNorm2d(8)
        self.g = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=2)
        self.pool = torch.nn.AvgPool2d(2)
        self.fc = torch.nn.Linear(16, 10)

    def forward(self, x):
        x = self.stem(x)
        x = torch.relu(self.b1(self.c1(x)) + x)
        x = self.pool(torch.relu(self.g(x)))
        x = torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def randomize_bn(model, gen):
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.3)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.2)


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(14)
    torch.manual_seed(14)
    with torch.no_grad():
        mlp = Mlp().eval()
        randomize_bn(mlp, gen)
        x = torch.randn(6, 20, generator=gen)
        path = os.path.join(OUT, "mlp.onnx")
        torch.onnx.export(mlp, (x,), path, input_names=["x"], output_names=["logp"], opset_version=13,
                          dynamic_axes={"x": {0: "batch"}, "logp": {0: "batch"}})
        write("mlp", path, {"x": x.numpy()})

        cnn = Cnn().eval()
        randomize_bn(cnn, gen)
        x = torch.randn(3, 1, 16, 16, generator=gen)
        path = os.path.join(OUT, "cnn.onnx")
        torch.onnx.export(cnn, (x,), path, input_names=["image"], output_names=["logits"], opset_version=13,
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
        write("cnn", path, {"image": x.numpy()})

        cfg = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                      intermediate_size=64, max_position_embeddings=64, type_vocab_size=2)
        bert = transformers.BertModel(cfg).eval()
        ids = torch.randint(1, 100, (2, 9), generator=gen)
        mask = torch.ones(2, 9, dtype=torch.int64)
        mask[1, 6:] = 0
        types = torch.zeros(2, 9, dtype=torch.int64)
        types[:, 5:] = 1
        axes = {n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")}
        axes["pooler_output"] = {0: "batch"}
        for opset in (13, 17):
            path = os.path.join(OUT, f"bert{opset}.onnx")
            torch.onnx.export(bert, (ids, mask, types), path, input_names=["input_ids", "attention_mask", "token_type_ids"],
                              output_names=["last_hidden_state", "pooler_output"], opset_version=opset, dynamic_axes=axes)
            write(f"bert{opset}", path, {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
                                         "token_type_ids": types.numpy()})

    node = helper.make_node("Det", ["x"], ["y"], name="det_0")
    g = helper.make_graph([node], "unsupported", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), os.path.join(OUT, "unsupported.onnx"))
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
