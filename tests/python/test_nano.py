"""bigdl_cpp.nano (issue 14): InferenceOptimizer on the real trained MNIST MLP
(../shared/data/vision/mnist-mlp, 98.31 % in PyTorch; the example's mnist_mlp() reads it
with Debian's torch) and on a network with every rewrite, each variant checked against
the original model's outputs.

Run by scripts/test.sh: PYTHONPATH=build/python ~/.cache/bigdl-cpp/venv/test/bin/python -m pytest tests/python
"""
import os
import runpy
import time

import numpy as np
import pytest

from bigdl_cpp.dllib import nn
from bigdl_cpp.dllib.tensor import manual_seed
from bigdl_cpp.nano import InferenceOptimizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "python", "nano_inference_optimizer.py")


@pytest.fixture(scope="module")
def mnist():
    """The trained MLP and the MNIST test set, loaded by the example's mnist_mlp()."""
    net, _, (x, y) = runpy.run_path(EXAMPLE)["mnist_mlp"]()
    return net, x, y


def test_optimize_table_and_best_model(mnist, capsys):
    net, x, y = mnist
    opt = InferenceOptimizer().optimize(net, training_data=x[:256], validation_data=(x, y), latency_sample_num=5)
    text = opt.summary()
    assert capsys.readouterr().out.strip() == text.strip()
    rows = {r.method: r for r in opt._rows}
    assert list(rows) == ["original", "fp32", "bf16", "int8_static", "int8_dynamic"]
    if not InferenceOptimizer.native_bf16():
        assert rows.pop("bf16").status == "skipped: no native bf16 on this CPU"
    assert all(r.status == "successful" and r.latency_ms > 0 for r in rows.values())
    assert rows["original"].metric == pytest.approx(0.9831, abs=1e-9)
    assert rows["fp32"].metric == pytest.approx(0.9831, abs=1e-9)
    for m in ("bf16", "int8_static", "int8_dynamic"):  # the 0.5 point budget
        if m in rows:
            assert rows[m].metric >= 0.9831 - 0.005, m
    for method in rows:
        assert method in text
    best, method = opt.get_best_model(accuracy_criterion=0.005)
    assert rows[method].metric >= 0.9831 * (1 - 0.005)
    want = net.predict_numpy(x[:64])
    np.testing.assert_allclose(np.asarray(best(x[:64])), want, rtol=0, atol=2e-2 * np.abs(want).max())
    # Nothing validated: the fastest of all.
    opt2 = InferenceOptimizer().optimize(net, training_data=(x[:32], y[:32]), includes=["original", "fp32"],
                                         latency_sample_num=3)
    assert opt2.get_best_model()[1] in ("original", "fp32")


def test_trace_and_quantize_against_original(mnist):
    net, x, _ = mnist
    want = net.predict_numpy(x[:500])
    fast = InferenceOptimizer.trace(net)
    assert fast.precision == "fp32" and fast.num_steps == 2
    np.testing.assert_allclose(np.asarray(fast(x[:500])), want, rtol=0, atol=1e-6 * np.abs(want).max())
    q8 = InferenceOptimizer.quantize(net, precision="int8", approach="dynamic")
    assert q8.precision == "int8_dynamic" and "int8" in repr(q8)
    got = np.asarray(q8(x[:500]))
    assert 0 < np.abs(got - want).max() <= 1e-2 * np.abs(want).max()
    # static: calibrated on other rows than those compared
    for calibration, bound in (("minmax", 3e-2), ("percentile", 1e-1), ("entropy", 5e-1)):
        s8 = InferenceOptimizer.quantize(net, calib_data=x[5000:6024], calibration=calibration)
        assert s8.precision == "int8_static" and "u8 input" in repr(s8)
        got = np.asarray(s8(x[:500]))
        assert 0 < np.abs(got - want).max() <= bound * np.abs(want).max(), calibration
        assert np.mean(np.argmax(got, 1) == np.argmax(want, 1)) >= 0.99, calibration
    if InferenceOptimizer.native_bf16():
        b16 = InferenceOptimizer.quantize(net, precision="bf16")
        got = np.asarray(b16(x[:500]))
        assert b16.precision == "bf16" and 0 < np.abs(got - want).max() <= 2e-2 * np.abs(want).max()
    else:
        with pytest.raises(ValueError, match=r"\[nano.optimize\] bf16 needs a CPU with AVX-512 BF16"):
            InferenceOptimizer.quantize(net, precision="bf16")


def _static_int8_bound():
    """int8_static against fp32 on a random network: 5 % of the largest output with VNNI's
    8-bit weights, 10 % where the CPU has no VNNI and the weights have 7 bits."""
    from bigdl_cpp import _native
    return 5e-2 if _native.nano.int8_weight_max() == 127 else 1e-1


def _trained_statistics(net, rng):
    """Gives net's BatchNorm layers running statistics as after training."""
    sd = net.state_dict()
    for k in sd:
        if k.endswith("running_mean"):
            sd[k] = rng.standard_normal(sd[k].shape).astype(np.float32) * 0.5
        elif k.endswith("running_var"):
            sd[k] = rng.uniform(0.5, 1.5, sd[k].shape).astype(np.float32)
    net.load_state_dict(sd)


def test_batchnorm_folded_and_fused():
    manual_seed(0)  # the same initial weights whatever ran before (the int8 bound depends on them)
    rng = np.random.default_rng(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Dropout(0.2), nn.Flatten(), nn.Linear(64, 8), nn.BatchNorm1d(8), nn.Tanh(),
                         nn.Linear(8, 3))
    _trained_statistics(net, rng)
    x = rng.standard_normal((5, 1, 8, 8)).astype(np.float32)
    fast = InferenceOptimizer.trace(net)
    assert fast.num_steps == 5, repr(fast)  # conv+bn+relu, pool, flatten, linear+bn+tanh, linear
    want = net.predict_numpy(x)
    np.testing.assert_allclose(np.asarray(fast(x)), want, rtol=0, atol=2e-6 * np.abs(want).max())
    s8 = InferenceOptimizer.quantize(net, calib_data=rng.standard_normal((64, 1, 8, 8)).astype(np.float32))
    assert "Conv2d(1 -> 4, 3x3) + relu [int8 static: s8 input" in repr(s8)
    np.testing.assert_allclose(np.asarray(s8(x)), want, rtol=0, atol=_static_int8_bound() * np.abs(want).max())


def test_errors_are_one_line(mnist):
    net, x, y = mnist
    with pytest.raises(ValueError, match="unknown method 'bf17'"):
        InferenceOptimizer().optimize(net, x[:8], includes=["bf17"])
    with pytest.raises(ValueError, match="give a metric"):
        InferenceOptimizer().optimize(net, x[:8], validation_data=(x[:8], y[:8].astype(np.float32)))
    with pytest.raises(ValueError, match="precision='fp16'"):
        InferenceOptimizer.quantize(net, precision="fp16")
    with pytest.raises(ValueError, match="needs calib_data"):
        InferenceOptimizer.quantize(net)
    with pytest.raises(ValueError, match=r"unknown calibration 'median'"):
        InferenceOptimizer.quantize(net, calib_data=x[:8], calibration="median")
    with pytest.raises(RuntimeError, match="call optimize"):
        InferenceOptimizer().summary()
    q8 = InferenceOptimizer.quantize(net, approach="dynamic")
    with pytest.raises(ValueError, match=r"\[nano.Linear\] expected input with 784 float32 features"):
        q8(x[:2, :700])
    # Inputs the model refuses: every method is a failed row with the engine's message, in full
    # under the table; there is no best model.
    bad = InferenceOptimizer().optimize(net, x[:4, :700], latency_sample_num=1)
    assert all(r.status.startswith("failed: [") or r.status == "skipped: no native bf16 on this CPU" for r in bad._rows)
    text = bad.summary()
    assert "int8_dynamic: failed: [nano.Linear] expected input with 784 float32 features in the last dim, got [4, 700] f32" in text
    with pytest.raises(RuntimeError, match="no successful method"):
        bad.get_best_model()


def test_the_example_prints_the_table():
    """examples/python/nano_inference_optimizer.py on the MNIST MLP, one setting."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, EXAMPLE,
                          "--threads", "1", "--batch", "8"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "mlp: batch 8, 1 thread(s)" in out.stdout and "int8_dynamic" in out.stdout
    assert "best within 0.5 %:" in out.stdout
    assert "0.9831" in out.stdout  # the original's accuracy in the table


def test_keras_sequential_is_captured():
    from bigdl_cpp.dllib.keras.layers import BatchNormalization, Dense, Dropout
    from bigdl_cpp.dllib.keras.models import Sequential

    model = Sequential([Dense(32, activation="relu", input_shape=(20,)), Dropout(0.3), Dense(16),
                        BatchNormalization(), Dense(4, activation="softmax")])
    x = np.random.default_rng(1).standard_normal((7, 20)).astype(np.float32)
    fast = InferenceOptimizer.trace(model)
    assert fast.num_steps == 4, repr(fast)  # dense+relu, dense+bn, dense, softmax
    want = model.predict(x)
    np.testing.assert_allclose(np.asarray(fast(x)), want, rtol=0, atol=1e-6)
    opt = InferenceOptimizer().optimize(model, training_data=x, validation_data=(x, np.argmax(want, 1)),
                                        latency_sample_num=2)
    assert [r.status for r in opt._rows if r.method != "bf16"] == ["successful"] * 4


def test_functional_resnet_is_captured_as_a_graph():
    """The example's ResNet (Keras functional API, residual Adds): captured as its graph with
    BatchNorm folded and ReLUs fused into the convolutions and Adds; each variant against
    the original."""
    resnet_model = runpy.run_path(EXAMPLE)["resnet_model"]
    model = resnet_model(channels=(4, 8, 8))
    rng = np.random.default_rng(2)
    _trained_statistics(model, rng)
    x = rng.random((6, 1, 28, 28)).astype(np.float32)
    want = model.predict(x)
    fast = InferenceOptimizer.trace(model)
    text = repr(fast)
    # stem, 3 blocks of (conv, conv, add) + 2 pools + 2 projections, global pool, dense
    assert fast.num_steps == 1 + 3 * 3 + 2 + 2 + 2, text
    assert text.count("Add(2 inputs) + relu  <- ") == 3 and "BatchNorm" not in text, text
    np.testing.assert_allclose(np.asarray(fast(x)), want, rtol=0, atol=2e-6 * np.abs(want).max())
    s8 = InferenceOptimizer.quantize(model, calib_data=rng.random((64, 1, 28, 28)).astype(np.float32))
    np.testing.assert_allclose(np.asarray(s8(x)), want, rtol=0, atol=_static_int8_bound() * np.abs(want).max())


def _small_cnn():
    from bigdl_cpp.dllib.keras.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from bigdl_cpp.dllib.keras.models import Sequential
    from bigdl_cpp.dllib.tensor import manual_seed

    manual_seed(0)
    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(1, 12, 12)), MaxPooling2D(2), Flatten(),
                        Dense(16, activation="relu"), Dense(3)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_num_processes_gives_the_weights_of_one_process():
    """Nano's num_processes: 2 local processes over Gloo, the same global batch: the same
    weights and history as one process (up to the order of float sums), shuffled or not."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((600, 1, 12, 12)).astype(np.float32)
    y = (x[:, 0, :6].mean(axis=(1, 2)) > 0).astype(np.int64) + (x[:, 0, 6:].mean(axis=(1, 2)) > 0.1)
    for shuffle in (True, False):
        one, two = _small_cnn(), _small_cnn()
        h1 = one.fit(x, y, batch_size=50, epochs=2, verbose=0, shuffle=shuffle, validation_data=(x[:100], y[:100]))
        h2 = two.fit(x, y, batch_size=50, epochs=2, verbose=0, shuffle=shuffle, validation_data=(x[:100], y[:100]),
                     num_processes=2)
        assert h2.epoch == h1.epoch == [0, 1]
        for k in h1.history:
            np.testing.assert_allclose(h2.history[k], h1.history[k], rtol=1e-5, err_msg=k)
        w1, w2 = one.state_dict(), two.state_dict()
        assert w1.keys() == w2.keys()
        for k in w1:
            a, b = np.asarray(w1[k], dtype=np.float64), np.asarray(w2[k], dtype=np.float64)
            assert np.abs(a - b).max() <= 1e-5 * max(1.0, np.abs(a).max()), k
        assert any(np.abs(np.asarray(w1[k]) - np.asarray(_small_cnn().state_dict()[k])).max() > 1e-3 for k in w1)


def test_num_processes_errors_are_one_line_and_do_not_hang():
    x = np.zeros((40, 1, 12, 12), np.float32)
    # The last rows hold a label the model cannot output: the rank that meets it fails with
    # the engine's message while its peer waits in a collective; the parent stops the peer
    # (no hang) and raises the worker's exception type with its one-line message.
    bad = np.zeros(40, np.int64)
    bad[-5:] = 7
    t0 = time.time()
    with pytest.raises(IndexError, match=r"^fit: process \d of 2 failed: \[cross_entropy\] target 7 is out of bounds"):
        _small_cnn().fit(x, bad, batch_size=8, epochs=1, verbose=0, num_processes=2)
    assert time.time() - t0 < 60
    with pytest.raises(ValueError, match="callbacks"):
        _small_cnn().fit(x, np.zeros(40, np.int64), epochs=1, callbacks=[object()], num_processes=2)
    with pytest.raises(ValueError, match="num_processes must be >= 1"):
        _small_cnn().fit(x, np.zeros(40, np.int64), epochs=1, num_processes=0)


def test_save_and_load_one_file(tmp_path, mnist):
    """The chosen model saves to one file and loads without the original: identical outputs."""
    resnet_model = runpy.run_path(EXAMPLE)["resnet_model"]
    model = resnet_model(channels=(4, 8, 8))
    rng = np.random.default_rng(5)
    _trained_statistics(model, rng)
    x = rng.random((3, 1, 28, 28)).astype(np.float32)
    for q in (InferenceOptimizer.trace(model),
              InferenceOptimizer.quantize(model, calib_data=rng.random((32, 1, 28, 28)).astype(np.float32))):
        path = tmp_path / f"{q.precision}.nano"
        InferenceOptimizer.save(q, path)
        back = InferenceOptimizer.load(path)
        assert back.precision == q.precision and back.num_steps == q.num_steps
        np.testing.assert_array_equal(np.asarray(back(x)), np.asarray(q(x)))
    net, xm, _ = mnist
    d8 = InferenceOptimizer.quantize(net, approach="dynamic")
    InferenceOptimizer.save(d8, tmp_path / "mlp.nano")
    np.testing.assert_array_equal(np.asarray(InferenceOptimizer.load(tmp_path / "mlp.nano")(xm[:16])), np.asarray(d8(xm[:16])))
    with pytest.raises(TypeError, match="expected a model from trace"):
        InferenceOptimizer.save(net, tmp_path / "x.nano")
    with pytest.raises(OSError):
        InferenceOptimizer.load(tmp_path / "missing.nano")


def test_bf16_training():
    """fit(precision="bf16"): bf16 autocast while training (native bf16 CPUs; a ValueError
    elsewhere, never emulated); the weights stay f32 and the loss follows fp32's."""
    import bigdl_cpp._native as native

    rng = np.random.default_rng(6)
    x = rng.standard_normal((400, 1, 12, 12)).astype(np.float32)
    y = (x[:, 0, :6].mean(axis=(1, 2)) > 0).astype(np.int64) + (x[:, 0, 6:].mean(axis=(1, 2)) > 0.1)
    if not InferenceOptimizer.native_bf16():
        with pytest.raises(ValueError, match=r"\[autocast\] bf16 needs a CPU with AVX-512 BF16"):
            _small_cnn().fit(x, y, epochs=1, verbose=0, precision="bf16")
        pytest.skip("no native bf16 on this CPU: bf16 training is refused (checked)")
    f32, b16 = _small_cnn(), _small_cnn()
    h32 = f32.fit(x, y, batch_size=40, epochs=3, verbose=0)
    h16 = b16.fit(x, y, batch_size=40, epochs=3, verbose=0, precision="bf16")
    assert not native.autocast_bf16()  # off again after fit
    assert all(np.asarray(v).dtype == np.float32 for v in b16.state_dict().values() if np.asarray(v).dtype.kind == "f")
    np.testing.assert_allclose(h16.history["loss"], h32.history["loss"], rtol=3e-2)
    assert h16.history["loss"] != h32.history["loss"]  # really bf16
    with pytest.raises(ValueError, match="precision must be 'fp32' or 'bf16'"):
        f32.fit(x, y, epochs=1, verbose=0, precision="fp16")


def test_export_onnx_runs_in_onnxruntime(tmp_path, mnist):
    """Captured models exported to ONNX (opset 13): ONNX Runtime loads them and agrees with
    our fp32 capture (dynamic int8 exports its dequantized weights: within their rounding)."""
    import onnxruntime as ort

    def ort_run(path, x):
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    rng = np.random.default_rng(8)
    resnet = runpy.run_path(EXAMPLE)["resnet_model"](channels=(4, 8, 8))
    _trained_statistics(resnet, rng)
    bn_net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                           nn.Linear(196, 8), nn.GELU(), nn.Linear(8, 3), nn.Softmax(dim=-1))
    _trained_statistics(bn_net, rng)
    net, xm, _ = mnist
    for name, model, x in (("resnet", resnet, rng.random((4, 1, 28, 28)).astype(np.float32)),
                           ("bn_net", bn_net, rng.random((4, 1, 14, 14)).astype(np.float32)),
                           ("mlp", net, xm[:16])):
        fast = InferenceOptimizer.trace(model)
        want = np.asarray(fast(x))
        InferenceOptimizer.export_onnx(fast, tmp_path / f"{name}.onnx", x)
        got = ort_run(tmp_path / f"{name}.onnx", x)
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max(), err_msg=name)
        # the batch dim is dynamic
        assert ort_run(tmp_path / f"{name}.onnx", x[:1]).shape[0] == 1
    d8 = InferenceOptimizer.quantize(net, approach="dynamic")
    InferenceOptimizer.export_onnx(d8, tmp_path / "d8.onnx", xm[:16])
    np.testing.assert_allclose(ort_run(tmp_path / "d8.onnx", xm[:16]), np.asarray(d8(xm[:16])), rtol=0,
                               atol=1e-2 * np.abs(np.asarray(d8(xm[:16]))).max())
    with pytest.raises(TypeError, match="expected a model from trace"):
        InferenceOptimizer.export_onnx(net, tmp_path / "x.onnx", xm[:2])
