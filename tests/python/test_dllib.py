"""bigdl_cpp.dllib.keras (issue 12, Python bindings for the core): layers against PyTorch
1.13 (Debian's python3-torch), compile / fit / evaluate / predict on sklearn's digits
(Debian's python3-sklearn), callbacks, checkpoints, errors and the GIL.

Run by scripts/test.sh: PYTHONPATH=build/python ~/.cache/bigdl-cpp/venv/test/bin/python -m pytest tests/python
"""
import os
import threading
import time

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from bigdl_cpp.dllib.keras import callbacks, optimizers
from bigdl_cpp.dllib.keras.layers import (Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D)
from bigdl_cpp.dllib.keras.models import Model, Sequential


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(x))
    x, y = x[perm], y[perm]
    return x[:1437], y[:1437], x[1437:], y[1437:]


def mlp():
    m = Sequential()
    m.add(Dense(32, activation="relu", input_shape=(64,)))
    m.add(Dense(10, activation="softmax"))
    return m


def test_dense_and_conv_forward_equal_torch():
    rng = np.random.default_rng(1)
    m = Sequential([Conv2D(4, 3, padding="same", activation="relu", input_shape=(2, 6, 6)), MaxPooling2D(2),
                    Flatten(), Dense(5, activation="tanh")])
    assert m.output_shape == [5]
    state = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in m.state_dict().items()}
    m.load_state_dict(state)
    x = rng.standard_normal((3, 2, 6, 6)).astype(np.float32)
    ours = m.predict(x)
    conv = torch.nn.Conv2d(2, 4, 3, padding=1)
    dense = torch.nn.Linear(36, 5)
    names = list(state)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(state[names[0]]))
        conv.bias.copy_(torch.from_numpy(state[names[1]]))
        dense.weight.copy_(torch.from_numpy(state[names[2]]))
        dense.bias.copy_(torch.from_numpy(state[names[3]]))
        want = torch.tanh(dense(torch.nn.functional.max_pool2d(torch.relu(conv(torch.from_numpy(x))), 2).flatten(1)))
    assert ours.shape == (3, 5) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, want.numpy(), rtol=1e-5, atol=1e-6)


def test_fit_evaluate_predict_on_digits(digits):
    x, y, xv, yv = digits
    m = mlp()
    m.compile(optimizer=optimizers.Adam(lr=1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = m.fit(x, y, batch_size=32, epochs=8, validation_data=(xv, yv), verbose=0)
    assert h.epoch == list(range(8))
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]
    loss, acc = m.evaluate(xv, yv, batch_size=64)
    assert acc > 0.93, acc
    assert acc == pytest.approx(h.history["val_accuracy"][-1], abs=1e-9)
    assert loss == pytest.approx(h.history["val_loss"][-1], rel=1e-6)
    probs = m.predict(xv)
    assert probs.shape == (len(xv), 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(probs.argmax(axis=1) == yv) == pytest.approx(acc, abs=1e-9)
    assert m.evaluate(xv, yv, return_dict=True)["accuracy"] == pytest.approx(acc, abs=1e-9)


def test_fit_is_deterministic_and_nb_epoch_is_epochs(digits):
    x, y, _, _ = digits

    def run(**kw):
        m = mlp()
        m.set_weights([np.full_like(w, 0.01 * (i + 1)) for i, w in enumerate(m.get_weights())])
        m.compile("sgd", "sparse_categorical_crossentropy")
        m.fit(x, y, batch_size=64, verbose=0, seed=7, **kw)
        return m.get_weights()

    a, b = run(epochs=2), run(nb_epoch=2)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)


def test_functional_model_and_shared_weights():
    inp = Input((8,))
    dense = Dense(4, activation="relu")
    out = Dense(2)(dense(inp))
    m = Model(input=inp, output=out)
    x = np.random.default_rng(2).standard_normal((5, 8)).astype(np.float32)
    w = m.state_dict()
    h = np.maximum(x @ w[list(w)[0]].T + w[list(w)[1]], 0)
    np.testing.assert_allclose(m.predict(x), h @ w[list(w)[2]].T + w[list(w)[3]], rtol=1e-5, atol=1e-6)
    assert m.count_params() == 8 * 4 + 4 + 4 * 2 + 2


def test_python_callback_sees_logs_and_stops_training(digits):
    x, y, xv, yv = digits
    seen = []

    batches = []

    class Stop(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, dict(logs)))
            if epoch == 1:
                self.model.stop_training = True

    class Batches(callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            batches.append(logs["loss"])

    m = mlp()
    m.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    h = m.fit(x, y, epochs=10, validation_data=(xv, yv), callbacks=[Stop(), Batches()], verbose=0)
    assert [e for e, _ in seen] == [0, 1] and h.epoch == [0, 1]
    assert len(batches) == 2 * 45 and all(np.isfinite(batches))  # 1437 rows in batches of 32
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr"} <= set(seen[0][1])


def test_exception_in_a_callback_reaches_the_caller(digits):
    x, y, _, _ = digits

    class Boom(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyError("boom in epoch %d" % epoch)

    m = mlp()
    m.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(KeyError, match="boom in epoch 0"):
        m.fit(x, y, epochs=3, callbacks=[Boom()], verbose=0)


def test_early_stopping_and_checkpoint_round_trip(digits, tmp_path):
    x, y, xv, yv = digits
    m = mlp()
    m.compile(optimizers.SGD(lr=1e-4), "sparse_categorical_crossentropy", ["accuracy"])
    stop = callbacks.EarlyStopping(monitor="val_accuracy", min_delta=0.5, patience=2)
    h = m.fit(x, y, epochs=20, validation_data=(xv, yv), callbacks=[stop], verbose=0)
    assert len(h.epoch) == 3  # epochs 1 and 2 do not improve val_accuracy by 0.5: patience 2 stops at 2 (Keras)
    path = str(tmp_path / "ck.safetensors")
    m.save_checkpoint(path, epoch=2)
    want = m.predict(xv)
    m2 = mlp()
    m2.compile(optimizers.SGD(lr=1e-4), "sparse_categorical_crossentropy")
    assert m2.load_checkpoint(path) == 2
    np.testing.assert_array_equal(m2.predict(xv), want)


def test_model_checkpoint_callback_writes_each_epoch(digits, tmp_path):
    x, y, _, _ = digits
    m = mlp()
    m.compile("adam", "sparse_categorical_crossentropy")
    pattern = str(tmp_path / "ep{epoch}.safetensors")
    m.fit(x[:256], y[:256], epochs=2, callbacks=[callbacks.ModelCheckpoint(pattern, monitor="loss")], verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["ep1.safetensors", "ep2.safetensors"]


def test_results_own_their_memory_and_other_layouts_convert():
    # (That a C-contiguous float32 array is read in place, no copy, is shown through the same
    # conversion in test_core.py::test_numpy_in_and_out_share_memory.)
    m = Sequential([Dense(3, input_shape=(4,))])
    x = np.ones((2, 4), np.float32)
    y2 = m.predict(x)
    del m
    assert np.isfinite(y2).all()  # y2 keeps its tensor alive after the model is gone
    # Other dtypes and layouts are converted once.
    m = Sequential([Dense(3, input_shape=(4,))])
    np.testing.assert_allclose(m.predict(np.ones((4, 2), np.float64).T), m.predict(np.ones((2, 4), np.float32)))


def test_errors_are_python_exceptions():
    with pytest.raises(ValueError, match="activation"):
        Dense(3, activation="nope", input_shape=(4,))
    m = Sequential([Dense(3, input_shape=(4,))])
    with pytest.raises(ValueError, match="not compiled"):
        m.fit(np.ones((2, 4), np.float32), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="frobnicate"):
        m.compile("frobnicate", "mse")
    with pytest.raises(ValueError, match="kl_divergence"):
        m.compile("adam", "kl_divergence")
    m.compile("adam", "mse")
    with pytest.raises(ValueError):
        m.predict(np.ones((2, 5), np.float32))  # 5 features into a 4-input Dense
    with pytest.raises(TypeError, match="dtype"):
        m.predict(np.array([["a", "b", "c", "d"]]))
    with pytest.raises(TypeError, match="callbacks"):
        m.fit(np.ones((2, 4), np.float32), np.zeros((2, 3), np.float32), callbacks=[object()], verbose=0)


def test_fit_releases_the_gil(digits):
    x, y, _, _ = digits
    m = mlp()
    m.compile("adam", "sparse_categorical_crossentropy")
    ticks, done = [], threading.Event()

    def tick():
        while not done.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    t.start()
    t0 = time.time()
    m.fit(np.repeat(x, 40, axis=0), np.repeat(y, 40), batch_size=16, epochs=2, verbose=0)
    elapsed = time.time() - t0
    done.set()
    t.join()
    # Held, the GIL would let the ticker run only at the switch interval around fit's one call.
    assert elapsed > 0.2 and len(ticks) > 0.2 * elapsed / 0.0011, (elapsed, len(ticks))


def test_tensorboard_logs_are_written(digits, tmp_path):
    x, y, xv, yv = digits
    m = mlp()
    m.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    m.set_tensorboard(str(tmp_path), "run1")
    m.fit(x[:256], y[:256], epochs=2, validation_data=(xv, yv), verbose=0)
    for sub in ("train", "validation"):
        files = os.listdir(tmp_path / "run1" / sub)
        assert any(f.startswith("events.out.tfevents") for f in files), (sub, files)
        assert all(os.path.getsize(tmp_path / "run1" / sub / f) > 0 for f in files)


def test_learning_rate_scheduler_sets_each_epochs_lr(digits):
    x, y, _, _ = digits
    m = mlp()
    m.compile(optimizers.SGD(lr=0.1), "sparse_categorical_crossentropy")
    seen = []
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: seen.append((epoch, lr)) or 0.1 * 0.5 ** epoch)
    h = m.fit(x[:256], y[:256], epochs=3, callbacks=[sched], verbose=0)
    assert [e for e, _ in seen] == [0, 1, 2]
    assert h.history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    with pytest.raises(ValueError, match="must be > 0"):
        m.fit(x[:64], y[:64], epochs=1, callbacks=[callbacks.LearningRateScheduler(lambda e, lr: 0.0)], verbose=0)
    with pytest.raises(TypeError, match="callable"):
        callbacks.LearningRateScheduler(0.1)


def test_optimizer_hyper_parameters_take_effect(digits):
    x, y, _, _ = digits

    def weights_after(optimizer):
        m = mlp()
        m.set_weights([np.full_like(w, 0.01 * (i + 1)) for i, w in enumerate(m.get_weights())])
        m.compile(optimizer, "sparse_categorical_crossentropy")
        m.fit(x[:256], y[:256], batch_size=32, epochs=1, shuffle=False, verbose=0)
        return m.get_weights()[0]

    plain, momentum = weights_after(optimizers.SGD(lr=0.1)), weights_after(optimizers.SGD(lr=0.1, momentum=0.9))
    assert not np.allclose(plain, momentum)
    np.testing.assert_array_equal(weights_after("sgd"), weights_after(optimizers.SGD(lr=0.01)))  # BigDL's default lr
    assert not np.allclose(weights_after(optimizers.Adam(beta_1=0.5)), weights_after(optimizers.Adam()))
    assert not np.allclose(weights_after(optimizers.RMSprop(rho=0.5)), weights_after(optimizers.RMSprop()))


def test_fashion_mnist_reads_debians_files_as_numpy():
    import gzip

    from bigdl_cpp.dllib.datasets import FASHION_MNIST_DIR, fashion_mnist, load_idx

    x, y = fashion_mnist("test")
    assert x.shape == (10000, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    with gzip.open(f"{FASHION_MNIST_DIR}/t10k-images-idx3-ubyte.gz") as f:
        raw = np.frombuffer(f.read(), np.uint8, offset=16).reshape(10000, 784)
    with gzip.open(f"{FASHION_MNIST_DIR}/t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    np.testing.assert_array_equal(x.reshape(10000, 784), raw.astype(np.float32) / 255)
    np.testing.assert_array_equal(y, labels)
    xf, _ = fashion_mnist("train", flat=True, limit=3)
    assert xf.shape == (3, 784)
    with pytest.raises(OSError, match="/nope"):
        load_idx("/nope", "/nope")


def test_reduce_lr_on_plateau_follows_keras():
    # min_delta=100: only the first epoch counts as an improvement. patience 2, cooldown 1:
    # lr halves after epochs 3 and 6 (1-based), as Keras' ReduceLROnPlateau does.
    x, y = load_digits(return_X_y=True)
    x = (x[:256] / 16).astype(np.float32)
    model = Sequential([Dense(10, activation="softmax", input_shape=(64,))])
    model.compile(optimizers.SGD(lr=0.01), "sparse_categorical_crossentropy")
    cb = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=100, cooldown=1, min_lr=0.003)
    h = model.fit(x, y[:256], batch_size=64, epochs=8, callbacks=[cb], verbose=0)
    assert h.history["lr"] == pytest.approx([0.01, 0.01, 0.01, 0.005, 0.005, 0.005, 0.003, 0.003])
    with pytest.raises(ValueError, match="ReduceLROnPlateau.*factor must be in"):
        callbacks.ReduceLROnPlateau(factor=1.5)
