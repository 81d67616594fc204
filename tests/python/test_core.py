"""bigdl_cpp.dllib.{tensor, nn, optim} (issue 12: Python bindings for the core) against
PyTorch 1.13 (Debian's python3-torch): NumPy without copies, autograd, modules, losses and
optimizer steps.

Run by scripts/test.sh: PYTHONPATH=build/python ~/.cache/bigdl-cpp/venv/test/bin/python -m pytest tests/python
"""
import numpy as np
import pytest
import torch

from bigdl_cpp.dllib import nn, optim
from bigdl_cpp.dllib.tensor import no_grad, tensor


def test_numpy_in_and_out_share_memory():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = tensor(a)
    assert t.shape == (2, 3) and t.dtype == "f32"
    a[0, 0] = 42  # the tensor reads the array's memory
    assert t.numpy()[0, 0] == 42
    v = np.asarray(t)  # the buffer protocol: a view, not a copy
    assert np.shares_memory(v, a)
    tt = t.t()  # a transposed view: the buffer protocol gives its strides, numpy() a contiguous copy
    assert np.shares_memory(np.asarray(tt), a)
    np.testing.assert_array_equal(np.asarray(tt), a.T)
    np.testing.assert_array_equal(tt.numpy(), a.T)
    ints = tensor(np.array([1, 2, 3]))
    assert ints.dtype == "i64" and ints.tolist() == [1, 2, 3]
    assert tensor(np.ones((2, 2), np.float64)).dtype == "f32"  # converted once


def test_autograd_equals_torch():
    rng = np.random.default_rng(0)
    xa, wa = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((3, 2)).astype(np.float32)
    x, w = tensor(xa, requires_grad=True), tensor(wa.copy(), requires_grad=True)
    loss = ((x @ w).tanh() * 2 - 1).pow(2).mean()
    loss.backward()
    tx, tw = torch.tensor(xa, requires_grad=True), torch.tensor(wa, requires_grad=True)
    tl = ((tx @ tw).tanh() * 2 - 1).pow(2).mean()
    tl.backward()
    assert loss.item() == pytest.approx(tl.item(), rel=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="retain_graph"):
        loss.backward()  # the graph was freed, as in PyTorch
    with no_grad():
        assert not (x * 2).requires_grad


def copy_into_torch(ours, theirs):
    state = ours.state_dict()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_training_steps_equal_torch(opt):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 1, 6, 6)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    ours = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 3))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                 torch.nn.Flatten(), torch.nn.Linear(36, 3))
    copy_into_torch(ours, theirs)
    if opt == "sgd":
        o = optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
        t = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    else:
        o = optim.Adam(ours.parameters(), lr=0.01)
        t = torch.optim.Adam(theirs.parameters(), lr=0.01)
    ce, tce = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    for _ in range(3):
        o.zero_grad()
        loss = ce(ours(x), y)
        loss.backward()
        o.step()
        t.zero_grad()
        tl = tce(theirs(torch.from_numpy(x)), torch.from_numpy(y))
        tl.backward()
        t.step()
        assert loss.item() == pytest.approx(tl.item(), rel=1e-5)
    want = theirs.state_dict()
    for k, v in ours.state_dict().items():
        np.testing.assert_allclose(v, want[k].numpy(), rtol=1e-4, atol=1e-6, err_msg=k)


def test_losses_equal_torch():
    rng = np.random.default_rng(2)
    p, q = rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal((5, 4)).astype(np.float32)
    pairs = [(nn.MSELoss(), torch.nn.MSELoss()), (nn.L1Loss(reduction="sum"), torch.nn.L1Loss(reduction="sum")),
             (nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss())]
    for ours, theirs in pairs:
        target = (q > 0).astype(np.float32) if isinstance(ours, nn.BCEWithLogitsLoss) else q
        assert ours(p, target).item() == pytest.approx(theirs(torch.from_numpy(p), torch.from_numpy(target)).item(),
                                                       rel=1e-6)


def test_modules_train_eval_and_errors():
    m = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5))
    assert m.training and not m.eval().training
    x = np.ones((2, 4), np.float32)
    np.testing.assert_array_equal(m(x).numpy(), m(x).numpy())  # no dropout in eval
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias"]
    assert len(m) == 2 and isinstance(m[0], nn.Linear)
    with pytest.raises(IndexError):
        m[5]
    with pytest.raises(ValueError):
        m(np.ones((2, 5), np.float32))  # 5 features into Linear(4, 3)
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError):
        tensor(np.array(["a"]))


@pytest.mark.parametrize("make", [
    lambda m: m.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation="gelu", batch_first=True),
    lambda m: m.ConvTranspose2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), output_padding=(1, 0), groups=2),
    lambda m: m.ConvTranspose1d(3, 2, 4, stride=3, padding=1),
    lambda m: m.GroupNorm(2, 6),
    lambda m: m.AvgPool1d(5, stride=1, padding=2, count_include_pad=False),
], ids=["TransformerEncoderLayer", "ConvTranspose2d", "ConvTranspose1d", "GroupNorm", "AvgPool1d"])
def test_attention_and_sequence_layers_equal_torch(make):
    ours, theirs = make(nn), make(torch.nn)
    if ours.state_dict():
        copy_into_torch(ours, theirs)
    shape = {"TransformerEncoderLayer": (3, 5, 8), "ConvTranspose2d": (2, 4, 5, 4), "ConvTranspose1d": (2, 3, 6),
             "GroupNorm": (3, 6, 4), "AvgPool1d": (2, 3, 9)}[type(ours).__name__]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        want = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(x).numpy(), want, rtol=1e-5, atol=1e-5)


def test_attention_ops_equal_torch():
    from bigdl_cpp.dllib import tensor as T

    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 3, 4, 5)).astype(np.float32), rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    np.testing.assert_allclose(T.einsum("bhqd,bhkd->bhqk", q, k).numpy(),
                               torch.einsum("bhqd,bhkd->bhqk", torch.from_numpy(q), torch.from_numpy(k)).numpy(),
                               rtol=1e-5, atol=1e-5)
    x = rng.standard_normal((4, 7)).astype(np.float32)
    v, i = T.topk(x, 3, dim=1)
    tv, ti = torch.topk(torch.from_numpy(x), 3, dim=1)
    np.testing.assert_array_equal(v.numpy(), tv.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    np.testing.assert_allclose(T.cumsum(x, 1).numpy(), np.cumsum(x, 1), rtol=1e-5, atol=1e-6)
    mask = x > 0
    np.testing.assert_array_equal(T.masked_fill(x, mask, -1.0).numpy(), np.where(mask, -1.0, x).astype(np.float32))
    mha, tmha = nn.MultiheadAttention(8, 2, batch_first=True), torch.nn.MultiheadAttention(8, 2, batch_first=True)
    copy_into_torch(mha, tmha)
    s = rng.standard_normal((2, 5, 8)).astype(np.float32)
    out, w = mha.attend(s, s, s)
    with torch.no_grad():
        tout, tw = tmha(*(torch.from_numpy(s),) * 3)
    np.testing.assert_allclose(out.numpy(), tout.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w.numpy(), tw.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\[einsum\] repeated subscripts"):
        T.einsum("ii->i", np.eye(3, dtype=np.float32))
