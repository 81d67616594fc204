#!/usr/bin/env python3
"""Nano inference latency (issue 14, must-show 2): our fp32, bf16 and int8 variants against
PyTorch 1.13 (eager, TorchScript, its dynamic int8), ONNX Runtime (fp32, its dynamic int8
and its static int8) and OpenVINO (fp32, and bf16 where the CPU has it) on the same models
with the same weights and inputs, in one run.

    PYTHONPATH=build/python ~/.cache/bigdl-cpp/venv/nano/bin/python benchmarks/nano/run.py
        [--models mlp,lenet,resnet] [--threads 1,2] [--batches 1,32] [--samples 200]

The venv is scripts/make_ref_venvs.sh nano (Debian's /usr/bin/python3 with its torch 1.13,
plus PyPI onnxruntime, onnx, openvino). Models:
  mlp    the trained MNIST MLP of ../shared/data/vision/mnist-mlp (784-500-10), MNIST test set
  lenet  LeNet-5 with BatchNorm after each convolution (and a Dropout the capture drops),
         trained here for one epoch on Fashion-MNIST by our engine (seed 0), its test set
  resnet a small ResNet (Keras functional API, three residual blocks of 16 / 32 / 64
         channels), trained the same way; its torch twin runs the same graph (KerasTwin)
(all built by examples/python/nano_inference_optimizer.py)
  minilm all-MiniLM-L6-v2 (scripts/get_minilm.sh) as transformers' BertModel, exported to
         ONNX (opset 17) by torch; ours is that ONNX file imported; inputs: wikitext-2
         sentences padded to 128 tokens; the score column is the mean cosine of the
         mean-pooled embeddings to torch fp32's on 200 sentences, not an accuracy
         (examples/python/nano_onnx_minilm.py); at most 20 timed calls per setting
The same weights go into every engine (our state_dict copied into an identical torch
module, exported to ONNX for ONNX Runtime and OpenVINO). Latency: median of --samples
calls on one fixed batch after 10 warm-up calls; accuracy: each engine's own outputs on
the whole test set. Static int8 (ours and ONNX Runtime's) calibrates on the first 1024
training images (the MLP, whose training images ../shared/data lacks: the first 1024 test
images). Prints one table per model and the ratios of our best fp32 / bf16 / int8 to the
fastest peer of that precision (> 1: ours faster).
"""
import argparse
import logging
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

from bigdl_cpp import set_num_threads
from bigdl_cpp.nano import InferenceOptimizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ---------------------------------------------------------------- models (ours, torch twin)
# The example's models (examples/python/nano_inference_optimizer.py); the torch twin has the
# same layers, and engines() copies our weights into it.
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
from nano_inference_optimizer import fashion_lenet, fashion_resnet, lenet_layers, mlp_layers, mnist_mlp  # noqa: E402


def mlp():
    ours, _, (x, y) = mnist_mlp()
    return ours, torch.nn.Sequential(*mlp_layers(torch.nn)), x, y, x[:1024]


class KerasTwin(torch.nn.Module):
    """A torch module that runs a functional Keras model of ours (its _spec(): layers and
    nodes in creation order) with the same layer names, so our state_dict loads into it.
    Covers the layers the example's ResNet uses."""

    def __init__(self, model):
        import inspect

        from bigdl_cpp.dllib.keras.layers import _FACTORIES
        super().__init__()
        self.spec, state, self.calls = model._spec(), model.state_dict(), []
        for (fname, args, kwargs), name in self.spec["layers"]:
            a = inspect.signature(_FACTORIES[fname].__wrapped__).bind(*args, **kwargs)
            a.apply_defaults()
            a = a.arguments
            act = {None: None, "linear": None, "relu": torch.relu}[a.get("activation")]
            if fname == "Conv2D":
                w = np.asarray(state[name + ".weight"])
                k = w.shape[2]
                assert a["strides"] == 1 and k % 2 == 1 or a["padding"] == "valid", "twin: symmetric padding only"
                m = torch.nn.Conv2d(w.shape[1], w.shape[0], k, padding=k // 2 if a["padding"] == "same" else 0,
                                    bias=a["use_bias"])
            elif fname == "BatchNormalization":
                m = torch.nn.BatchNorm2d(np.asarray(state[name + ".weight"]).shape[0], eps=a["epsilon"])
            elif fname == "Dense":
                w = np.asarray(state[name + ".weight"])
                m = torch.nn.Linear(w.shape[1], w.shape[0], bias=a["use_bias"])
            elif fname == "MaxPooling2D":
                m = torch.nn.MaxPool2d(a["pool_size"], a["strides"] or a["pool_size"])
            elif fname == "Activation":
                m, act = None, {"relu": torch.relu}[a["activation"]]
            elif fname in ("Add", "GlobalAveragePooling2D"):
                m = None
            else:
                raise ValueError(f"KerasTwin: no twin for {fname}")
            if m is not None:
                self.add_module(name, m)
            self.calls.append((fname, m, act))

    def forward(self, x):
        values = []
        for entry in self.spec["nodes"]:
            if entry[0] == "input":
                values.append(x)
                continue
            _, li, parents, _ = entry
            fname, m, act = self.calls[li]
            args = [values[p] for p in parents]
            if fname == "Add":
                y = sum(args[1:], args[0])
            elif fname == "GlobalAveragePooling2D":
                y = args[0].mean(dim=(2, 3))
            else:
                y = m(args[0]) if m is not None else args[0]
            values.append(act(y) if act is not None else y)
        return values[self.spec["outputs"][0]]


def resnet():
    ours, x_train, (x, y) = fashion_resnet(epochs=1)
    return ours, KerasTwin(ours), x, y, np.ascontiguousarray(x_train[:1024])


def lenet():
    ours, x_train, (x, y) = fashion_lenet(epochs=1)
    return ours, torch.nn.Sequential(*lenet_layers(torch.nn)), x, y, np.ascontiguousarray(x_train[:1024])


# ---------------------------------------------------------------- engines
def timed(run, x, samples):
    for _ in range(min(10, max(3, samples // 5))):  # warm-up
        run(x)
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def engines(ours, theirs, example, calib, tmp):
    """[(name, precision, make(threads) -> run(x) -> ndarray)]"""
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})
    theirs.eval()
    fp32 = InferenceOptimizer.trace(ours)
    int8_static = InferenceOptimizer.quantize(ours, calib_data=calib)
    int8_dynamic = InferenceOptimizer.quantize(ours, approach="dynamic")
    onnx_path = os.path.join(tmp, "model.onnx")
    torch.onnx.export(theirs, torch.from_numpy(example[:1]), onnx_path, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=13)
    out = []

    def ours_run(m):
        def make(t):
            set_num_threads(t)
            return lambda x: np.asarray(m(x))
        return make
    own = getattr(ours, "_impl", ours)  # a Keras model wraps the engine module
    out += [("bigdl-cpp original", "fp32", lambda t: (set_num_threads(t), own.predict_numpy)[1]),
            ("bigdl-cpp fp32", "fp32", ours_run(fp32))]
    if InferenceOptimizer.native_bf16():
        out.append(("bigdl-cpp bf16", "bf16", ours_run(InferenceOptimizer.quantize(ours, precision="bf16"))))
    out += [("bigdl-cpp int8_static", "int8", ours_run(int8_static)),
            ("bigdl-cpp int8_dynamic", "int8", ours_run(int8_dynamic))]

    def torch_run(m):
        def make(t):
            torch.set_num_threads(t)

            def run(x):
                with torch.no_grad():
                    return m(torch.from_numpy(x)).numpy()
            return run
        return make
    with torch.no_grad():
        script = torch.jit.freeze(torch.jit.trace(theirs, torch.from_numpy(example[:1])).eval())
    qtorch = torch.quantization.quantize_dynamic(theirs, {torch.nn.Linear}, dtype=torch.qint8)
    out += [("torch eager", "fp32", torch_run(theirs)), ("torch torchscript", "fp32", torch_run(script)),
            ("torch dynamic int8", "int8", torch_run(qtorch))]
    try:
        import onnxruntime as ort
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static
        q_path = os.path.join(tmp, "model.int8.onnx")
        # MatMul / Gemm only: the CPU provider has no ConvInteger kernel.
        quantize_dynamic(onnx_path, q_path, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
        s_path = os.path.join(tmp, "model.int8s.onnx")

        class Reader(CalibrationDataReader):
            def __init__(self):
                self.batches = iter([{"x": calib[i:i + 64]} for i in range(0, len(calib), 64)])

            def get_next(self):
                return next(self.batches, None)
        # QOperator format: QLinearConv / QLinearMatMul kernels, per-channel weights, u8 activations (min-max).
        quantize_static(onnx_path, s_path, Reader(), quant_format=QuantFormat.QOperator, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)

        def ort_run(path):
            def make(t):
                so = ort.SessionOptions()
                so.intra_op_num_threads, so.inter_op_num_threads = t, 1
                sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
                return lambda x: sess.run(None, {"x": x})[0]
            return make
        out += [("onnxruntime fp32", "fp32", ort_run(onnx_path)), ("onnxruntime dynamic int8", "int8", ort_run(q_path)),
                ("onnxruntime static int8", "int8", ort_run(s_path))]
    except ImportError as e:
        print(f"onnxruntime: skipped ({e})", file=sys.stderr)
    try:
        import openvino as ov
        core = ov.Core()
        ov_model = core.read_model(onnx_path)

        def ov_make(precision):
            def make(t):
                compiled = core.compile_model(ov_model, "CPU", {"INFERENCE_NUM_THREADS": t,
                                                                "INFERENCE_PRECISION_HINT": precision})
                return lambda x: compiled(x)[0]
            return make
        out.append(("openvino fp32", "fp32", ov_make("f32")))
        if "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            out.append(("openvino bf16", "bf16", ov_make("bf16")))
    except ImportError as e:
        print(f"openvino: skipped ({e})", file=sys.stderr)
    return out


def minilm_engines(tmp):
    """(engines as engines() returns them, feeds for 200 sentences, score(run) -> mean cosine)."""
    import transformers
    from nano_onnx_minilm import cosines, export, mean_pool, minilm_dir, sentences
    model_dir = minilm_dir(os.environ.get("BIGDL_MINILM"))
    path = os.path.join(tmp, "minilm.onnx")
    theirs = export(model_dir, path)
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    shared = os.environ.get("BIGDL_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))
    enc = tok(sentences(200, shared), padding="max_length", truncation=True, max_length=128, return_tensors="np")
    feeds = {k: np.ascontiguousarray(enc[k].astype(np.int64)) for k in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad():
        ref = mean_pool(theirs(**{k: torch.from_numpy(v) for k, v in feeds.items()}).last_hidden_state.numpy(),
                        feeds["attention_mask"])

    def score(run):
        pred = np.concatenate([run({k: v[i:i + 50] for k, v in feeds.items()}) for i in range(0, 200, 50)])
        return float(np.mean(cosines(pred, (ref, feeds["attention_mask"]))))

    def ours(method):
        def make(t):
            set_num_threads(t)
            m = InferenceOptimizer.quantize(path, approach="dynamic") if method == "int8_dynamic" else (
                InferenceOptimizer.quantize(path, precision="bf16") if method == "bf16" else InferenceOptimizer.trace(path))
            return lambda x: m.run(x)[0]
        return make
    out = [("bigdl-cpp fp32", "fp32", ours("fp32"))]
    if InferenceOptimizer.native_bf16():
        out.append(("bigdl-cpp bf16", "bf16", ours("bf16")))
    out.append(("bigdl-cpp int8_dynamic", "int8", ours("int8_dynamic")))

    def torch_run(m):
        def make(t):
            torch.set_num_threads(t)

            def run(x):
                with torch.no_grad():
                    y = m(*(torch.from_numpy(x[k]) for k in ("input_ids", "attention_mask", "token_type_ids")))
                    return (y[0] if isinstance(y, (tuple, list)) else y.last_hidden_state).numpy()
            return run
        return make
    ex = tuple(torch.from_numpy(feeds[k][:2]) for k in ("input_ids", "attention_mask", "token_type_ids"))
    with torch.no_grad():
        theirs.config.return_dict = False
        script = torch.jit.freeze(torch.jit.trace(theirs, ex).eval())
    qtorch = torch.quantization.quantize_dynamic(theirs, {torch.nn.Linear}, dtype=torch.qint8)
    out += [("torch eager", "fp32", torch_run(theirs)), ("torch torchscript", "fp32", torch_run(script)),
            ("torch dynamic int8", "int8", torch_run(qtorch))]
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
    q_path = os.path.join(tmp, "minilm.int8.onnx")
    quantize_dynamic(path, q_path, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])

    def ort_run(p):
        def make(t):
            so = ort.SessionOptions()
            so.intra_op_num_threads, so.inter_op_num_threads = t, 1
            sess = ort.InferenceSession(p, so, providers=["CPUExecutionProvider"])
            return lambda x: sess.run(["last_hidden_state"], x)[0]
        return make
    out += [("onnxruntime fp32", "fp32", ort_run(path)), ("onnxruntime dynamic int8", "int8", ort_run(q_path))]
    import openvino as ov
    core = ov.Core()
    ov_model = core.read_model(path)

    def ov_make(precision):
        def make(t):
            compiled = core.compile_model(ov_model, "CPU", {"INFERENCE_NUM_THREADS": t, "INFERENCE_PRECISION_HINT": precision})
            return lambda x: compiled(x)["last_hidden_state"]
        return make
    out.append(("openvino fp32", "fp32", ov_make("f32")))
    if "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        out.append(("openvino bf16", "bf16", ov_make("bf16")))
    return out, feeds, score


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="mlp,lenet,resnet,minilm")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--samples", type=int, default=200)
    args = ap.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime.quantization's pre-processing advice
    threads = [int(t) for t in args.threads.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    settings = [(b, t) for b in batches for t in threads]
    print(f"torch {torch.__version__}; median of {args.samples} calls; latency in ms")
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            if name == "minilm":
                table, x, score = minilm_engines(tmp)
                samples = min(args.samples, 20)
            else:
                ours, theirs, x, y, calib = {"mlp": mlp, "lenet": lenet, "resnet": resnet}[name]()
                table, samples = engines(ours, theirs, x, calib, tmp), args.samples

                def score(run, x=x, y=y):
                    return float(np.mean(np.concatenate([np.argmax(run(np.ascontiguousarray(x[i:i + 1000])), -1)
                                                        for i in range(0, len(x), 1000)]) == y))
            rows = []
            for engine, precision, make in table:
                lat = []
                for b, t in settings:
                    run = make(t)
                    batch = {k: v[:b] for k, v in x.items()} if isinstance(x, dict) else np.ascontiguousarray(x[:b])
                    lat.append(timed(run, batch, samples))
                rows.append((engine, precision, lat, score(make(2))))
        head = " | ".join(f"b{b} t{t}".rjust(8) for b, t in settings)
        print(f"\n{name}\n{'engine':<26} {'prec':<5} | {head} | {'cosine' if name == 'minilm' else 'accuracy'}")
        print("-" * (36 + 11 * len(settings) + 11))
        for engine, precision, lat, acc in rows:
            print(f"{engine:<26} {precision:<5} | " + " | ".join(f"{v:8.3f}" for v in lat)
                  + (f" | {acc:.5f}" if name == "minilm" else f" | {100 * acc:6.2f}%"))
        for precision in ("fp32", "bf16", "int8"):
            mine = [r for r in rows if r[0].startswith("bigdl-cpp") and r[1] == precision]
            peers = [r for r in rows if not r[0].startswith("bigdl-cpp") and r[1] == precision]
            if not peers or not mine:
                continue
            ours_best = [min(r[2][i] for r in mine) for i in range(len(settings))]
            peer_best = [min(r[2][i] for r in peers) for i in range(len(settings))]
            print(f"{'ratio ' + precision + ' (fastest peer / ours)':<32} | "
                  + " | ".join(f"{p / o:7.2f}x" for p, o in zip(peer_best, ours_best)))


if __name__ == "__main__":
    main()
