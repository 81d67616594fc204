"""bigdl_cpp.nano (issue 14): InferenceOptimizer on the real trained MNIST MLP
(../shared/data/vision/mnist-mlp, 98.31 % in PyTorch; the example's mnist_mlp() reads it
with Debian's torch) and on a network with every rewrite, each variant checked against
the original model's outputs.

Run by scripts/test.sh: PYTHONPATH=build/python ~/.cache/bigdl-cpp/venv/test/bin/python -m pytest tests/python
"""
import os
import runpy

import numpy as np
import pytest

from bigdl_cpp.dllib import nn
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


def test_batchnorm_folded_and_fused():
    rng = np.random.default_rng(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Dropout(0.2), nn.Flatten(), nn.Linear(64, 8), nn.BatchNorm1d(8), nn.Tanh(),
                         nn.Linear(8, 3))
    sd = net.state_dict()
    for k in sd:  # statistics as after training
        if k.endswith("running_mean"):
            sd[k] = rng.standard_normal(sd[k].shape).astype(np.float32) * 0.5
        elif k.endswith("running_var"):
            sd[k] = rng.uniform(0.5, 1.5, sd[k].shape).astype(np.float32)
    net.load_state_dict(sd)
    x = rng.standard_normal((5, 1, 8, 8)).astype(np.float32)
    fast = InferenceOptimizer.trace(net)
    assert fast.num_steps == 5, repr(fast)  # conv+bn+relu, pool, flatten, linear+bn+tanh, linear
    want = net.predict_numpy(x)
    np.testing.assert_allclose(np.asarray(fast(x)), want, rtol=0, atol=2e-6 * np.abs(want).max())
    s8 = InferenceOptimizer.quantize(net, calib_data=rng.standard_normal((64, 1, 8, 8)).astype(np.float32))
    assert "Conv2d(1 -> 4, 3x3) + relu [int8 static: s8 input" in repr(s8)
    np.testing.assert_allclose(np.asarray(s8(x)), want, rtol=0, atol=5e-2 * np.abs(want).max())


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
    sd = model.state_dict()
    for k in sd:  # statistics as after training
        if k.endswith("running_mean"):
            sd[k] = rng.standard_normal(sd[k].shape).astype(np.float32) * 0.3
        elif k.endswith("running_var"):
            sd[k] = rng.uniform(0.5, 1.5, sd[k].shape).astype(np.float32)
    model.load_state_dict(sd)
    x = rng.random((6, 1, 28, 28)).astype(np.float32)
    want = model.predict(x)
    fast = InferenceOptimizer.trace(model)
    text = repr(fast)
    # stem, 3 blocks of (conv, conv, add) + 2 pools + 2 projections, global pool, dense
    assert fast.num_steps == 1 + 3 * 3 + 2 + 2 + 2, text
    assert text.count("Add(2 inputs) + relu  <- ") == 3 and "BatchNorm" not in text, text
    np.testing.assert_allclose(np.asarray(fast(x)), want, rtol=0, atol=2e-6 * np.abs(want).max())
    s8 = InferenceOptimizer.quantize(model, calib_data=rng.random((64, 1, 28, 28)).astype(np.float32))
    np.testing.assert_allclose(np.asarray(s8(x)), want, rtol=0, atol=5e-2 * np.abs(want).max())
