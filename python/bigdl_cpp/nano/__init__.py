"""Nano: inference acceleration for models of the core (BigDL Nano's InferenceOptimizer).

    from bigdl_cpp.nano import InferenceOptimizer
    opt = InferenceOptimizer()
    opt.optimize(model, training_data=x_train, validation_data=(x_val, y_val))
    opt.summary()                      # method | status | latency(ms) | metric value
    best, method = opt.get_best_model(accuracy_criterion=0.01)
    y = best(x)                        # a bigdl_cpp.dllib.nn Module, eval mode, no autograd

    fast = InferenceOptimizer.trace(model)                     # fp32, BatchNorm folded, fused
    q8 = InferenceOptimizer.quantize(model, calib_data=x_train[:1024])  # int8 static
    b16 = InferenceOptimizer.quantize(model, precision="bf16")           # native bf16 CPUs only

The methods (docs/nano.md): "original" (the model's own forward, eval mode, no
autograd), "fp32" (captured: nested Sequentials flattened, Dropout dropped, BatchNorm
folded into the Linear / Conv2d before it, activations fused, convolutions on oneDNN with
prepacked weights), "bf16" (oneDNN's bf16 kernels; a skipped row on CPUs without
AVX-512 BF16 / AMX), "int8_static" (oneDNN's int8 kernels, per-channel weights, each
layer's input scale calibrated on the first 1024 rows of training_data) and
"int8_dynamic" (Linear weights in int8 per output channel, each input row rounded to
int8 with its own scale at each call, on oneDNN's int8 matmul). The model is an nn.Sequential of
bigdl_cpp.dllib.nn modules or a bigdl_cpp.dllib.keras Sequential / functional Model (any
other Module runs as one step), or the path of an ONNX file, which is imported into the
same graph (docs/nano.md "ONNX import"; its "original" runs each operator as the file has
it):

    m = InferenceOptimizer.quantize("minilm.onnx", approach="dynamic")
    hidden, pooled = m.run({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
"""
import os
import statistics
import time

import numpy as np

from bigdl_cpp import _native

__all__ = ["InferenceOptimizer"]

_METHODS = ("original", "fp32", "bf16", "int8_static", "int8_dynamic")
_CALIB_ROWS = 1024  # int8_static calibrates on this many rows of training_data
_NO_BF16 = "skipped: no native bf16 on this CPU"


def _array(x, what):
    x = np.asarray(x)
    if x.dtype.kind not in "fiub" or x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"InferenceOptimizer: {what} must hold a non-empty numeric array, got {x.dtype} {x.shape}")
    return np.ascontiguousarray(x, dtype=np.float32 if x.dtype.kind == "f" else np.int64)


def _inputs(data, what):
    """The input of data given as x or as an (x, y) pair; x is an array (float32) or, for
    a model with several inputs, a dict {input name: array} (integer arrays stay int64)."""
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ValueError(f"InferenceOptimizer: {what} must be an array x or a pair (x, y), got {len(data)} items")
        data = data[0]
    if isinstance(data, dict):
        if not data:
            raise ValueError(f"InferenceOptimizer: {what} is an empty dict")
        return {str(k): _array(v, f"{what}['{k}']") for k, v in data.items()}
    x = _array(data, what)
    return np.ascontiguousarray(x, dtype=np.float32)


def _head(x, n):
    """The first n rows of an input (each array of a dict)."""
    return {k: v[:n] for k, v in x.items()} if isinstance(x, dict) else x[:n]


def _is_onnx(model):
    return isinstance(model, (str, os.PathLike))


def _build(model, method, **kw):
    """The model of one method: an ONNX file imported (method "original": each operator as
    the file has it), or one of our models captured."""
    if _is_onnx(model):
        path = os.fspath(model)
        if method == "original":
            return _native.nano.import_onnx(path, "fp32", rewrite=False)
        return _native.nano.import_onnx(path, method, **kw)
    return _native.nano.optimize(_module(model), method, **kw)


def _call(model, x):
    """The first output of model on x, as an array."""
    if isinstance(x, dict) or getattr(model, "num_inputs", 1) != 1:
        return model.run(x)[0]
    return np.asarray(model(x))


def _module(model):
    """The engine module of a model: a bigdl_cpp.dllib.keras Sequential / Model wraps one."""
    return getattr(model, "_impl", model)


def _accuracy(pred, y):
    return float(np.mean(np.argmax(pred, axis=-1) == y.reshape(-1)))


class _Row:
    def __init__(self, method, status, model=None, latency_ms=None, metric=None):
        self.method, self.status, self.model = method, status, model
        self.latency_ms, self.metric = latency_ms, metric


class InferenceOptimizer:
    """Tries each method on a model, measures latency (median of latency_sample_num
    calls on batch_size rows of training_data) and the metric on validation_data, and
    keeps the table for summary() and get_best_model()."""

    def __init__(self):
        self._rows = []
        self._direction = "max"

    # ---- one method at a time, as Nano's trace / quantize ----
    @staticmethod
    def trace(model, fold_batchnorm=True, fuse_activation=True):
        """The model captured for fp32 inference (a Module); model may also be the path of an
        ONNX file (imported: docs/nano.md "ONNX import")."""
        if _is_onnx(model):
            return _build(model, "fp32")
        return _native.nano.optimize(_module(model), "fp32", fold_batchnorm, fuse_activation)

    @staticmethod
    def quantize(model, precision="int8", approach="static", calib_data=None, calibration="minmax", percentile=99.99):
        """The model in lower precision (a Module), as Nano's quantize:

        precision="int8", approach="static": int8 Linear / Conv2d on oneDNN, each layer's
        input scale calibrated on calib_data (inputs, or an (x, y) pair) with calibration
        "minmax", "percentile" (at percentile) or "entropy" (KL divergence);
        approach="dynamic": int8 Linear weights, activations quantized at each call;
        precision="bf16": bf16 Linear / Conv2d where the CPU has native bf16 (ValueError
        elsewhere)."""
        if precision == "bf16":
            return _build(model, "bf16")
        if precision != "int8" or approach not in ("static", "dynamic"):
            raise ValueError(f"InferenceOptimizer.quantize: precision='{precision}', approach='{approach}' is not "
                             "available (precision 'int8' with approach 'static' or 'dynamic', or 'bf16')")
        if approach == "dynamic":
            return _build(model, "int8_dynamic")
        if calib_data is None:
            raise ValueError("InferenceOptimizer.quantize: approach='static' needs calib_data (inputs to calibrate on)")
        calib = _inputs(calib_data, "calib_data")
        if isinstance(calib, dict):
            raise ValueError("InferenceOptimizer.quantize: approach='static' calibrates models with one input; "
                             "use approach='dynamic'")
        return _build(model, "int8_static", calibration_data=calib, calibration=calibration, percentile=percentile)

    @staticmethod
    def save(model, path):
        """Writes a model that trace / quantize / get_best_model returned to one file
        (safetensors with the steps as metadata; docs/nano.md). The "original" method's model is
        the caller's own: save it with its own save / state_dict."""
        if not isinstance(model, _native.nano.InferenceModel):
            raise TypeError(f"InferenceOptimizer.save: expected a model from trace / quantize / get_best_model, "
                            f"got {type(model).__name__}")
        _native.nano.save(model, os.fspath(path))

    @staticmethod
    def load(path, model=None):
        """The model InferenceOptimizer.save wrote to path (model: accepted for Nano's
        signature, not needed: the file holds everything)."""
        return _native.nano.load(os.fspath(path))

    @staticmethod
    def export_onnx(model, path, example):
        """Writes a captured model as an fp32 ONNX graph (opset 13) that ONNX Runtime runs;
        example: an input array (its per-sample shape becomes the graph input's, the batch
        dim is dynamic). Needs the onnx package. See bigdl_cpp.nano._onnx."""
        from bigdl_cpp.nano._onnx import export_onnx
        if not isinstance(model, _native.nano.InferenceModel):
            raise TypeError(f"InferenceOptimizer.export_onnx: expected a model from trace / quantize / get_best_model, "
                            f"got {type(model).__name__}")
        export_onnx(model, path, example)

    @staticmethod
    def native_bf16():
        """True when this CPU runs bf16 natively (AVX-512 BF16 or AMX-BF16)."""
        return _native.nano.native_bf16()

    def optimize(self, model, training_data, validation_data=None, metric=None, direction="max", thread_num=None,
                 latency_sample_num=20, batch_size=32, includes=None, excludes=None):
        """Runs every method (or those in includes, minus excludes) on model.

        model: one of our models, or the path of an ONNX file (imported; its "original" row
        runs each operator as the file has it). training_data: an input array, or (x, y);
        its first batch_size rows are the latency input; for a model with several inputs x
        is a dict {input name: array}. validation_data: (x, y) for the metric;
        metric(pred, y) -> float, pred the model's (first) output as a NumPy array and y
        as given, default accuracy (argmax of pred against integer labels).
        direction: "max" or "min" (which metric values are better). thread_num: the
        library's threads while measuring (restored after)."""
        if direction not in ("max", "min"):
            raise ValueError(f"InferenceOptimizer.optimize: direction must be 'max' or 'min', got '{direction}'")
        if latency_sample_num < 1 or batch_size < 1:
            raise ValueError("InferenceOptimizer.optimize: latency_sample_num and batch_size must be positive")
        methods = list(includes) if includes is not None else list(_METHODS)
        unknown = [m for m in methods + list(excludes or []) if m not in _METHODS]
        if unknown:
            raise ValueError(f"InferenceOptimizer.optimize: unknown method {unknown[0]!r} (known: {', '.join(_METHODS)})")
        methods = [m for m in methods if m not in set(excludes or [])]
        x_train = _inputs(training_data, "training_data")
        x_lat, x_calib = _head(x_train, batch_size), _head(x_train, _CALIB_ROWS)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("InferenceOptimizer.optimize: validation_data must be a pair (x, y)")
            val = (_inputs(validation_data, "validation_data"), validation_data[1])
            if metric is None:
                val = (val[0], np.asarray(val[1]))
                if val[1].dtype.kind not in "iu":
                    raise ValueError("InferenceOptimizer.optimize: give a metric for validation labels that are not "
                                     "integer classes")
                metric = _accuracy
        self._direction = direction
        self._rows = []
        threads = _native.get_num_threads()
        if thread_num is not None:
            _native.set_num_threads(int(thread_num))
        try:
            for method in methods:
                self._rows.append(self._run(method, model, x_lat, x_calib, val, metric, latency_sample_num))
        finally:
            _native.set_num_threads(threads)
        return self

    def _run(self, method, model, x_lat, x_calib, val, metric, samples):
        if method == "bf16" and not _native.nano.native_bf16():
            return _Row(method, _NO_BF16)
        try:
            if method == "original" and not _is_onnx(model):
                candidate = _module(model)
                candidate.eval()
                run = candidate.predict_numpy
            else:
                if method == "int8_static" and isinstance(x_calib, dict):
                    raise ValueError("int8_static calibrates models with one input (use int8_dynamic)")
                kw = {"calibration_data": x_calib} if method == "int8_static" else {}
                candidate = _build(model, method, **kw)
                run = lambda x: _call(candidate, x)  # noqa: E731
            run(x_lat)  # warm-up: first-call allocations and page faults
            times = []
            for _ in range(samples):
                t0 = time.perf_counter()
                run(x_lat)
                times.append(time.perf_counter() - t0)
            value = float(metric(run(val[0]), val[1])) if val is not None else None
            return _Row(method, "successful", candidate, 1000 * statistics.median(times), value)
        except (ValueError, TypeError, MemoryError) as e:  # the engine's one-line errors
            return _Row(method, f"failed: {e}")

    def summary(self):
        """Prints (and returns) the table: method, status, latency(ms), metric value; then
        each failed method's whole error message."""
        if not self._rows:
            raise RuntimeError("InferenceOptimizer.summary: call optimize() first")
        line = " " + " ".join("-" * w for w in (22, 36, 13, 14))
        out = [line, "|{:^22}|{:^36}|{:^13}|{:^14}|".format("method", "status", "latency(ms)", "metric value"), line]
        for r in self._rows:
            lat = f"{r.latency_ms:.3f}" if r.latency_ms is not None else "None"
            met = f"{r.metric:.4f}" if r.metric is not None else "None"
            out.append("|{:^22}|{:^36}|{:^13}|{:^14}|".format(r.method, r.status[:36], lat, met))
        out.append(line)
        # A failure's whole one-line message (the status column shows its first 36 characters).
        out += [f"{r.method}: {r.status}" for r in self._rows if r.status.startswith("failed")]
        text = "\n".join(out)
        print(text)
        return text

    def get_best_model(self, accuracy_criterion=None):
        """(model, method) of the fastest successful method whose metric is within
        accuracy_criterion (relative, e.g. 0.01 = 1 %) of the original's; any metric
        when accuracy_criterion is None or nothing was validated."""
        ok = [r for r in self._rows if r.status == "successful"]
        if not ok:
            raise RuntimeError("InferenceOptimizer.get_best_model: no successful method (call optimize() first)")
        base = next((r.metric for r in ok if r.method == "original"), None)
        if accuracy_criterion is not None and base is not None:
            def within(r):
                if r.metric is None:
                    return False
                loss = (base - r.metric) if self._direction == "max" else (r.metric - base)
                return loss <= accuracy_criterion * abs(base)
            ok = [r for r in ok if within(r)] or [r for r in ok if r.method == "original"]
        best = min(ok, key=lambda r: r.latency_ms)
        return best.model, best.method
