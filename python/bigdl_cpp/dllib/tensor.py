"""Tensors of the core with autograd, PyTorch's names (include/bigdl/tensor.h, ops.h).

    from bigdl_cpp.dllib.tensor import tensor
    x = tensor(np.ones((2, 3), np.float32), requires_grad=True)   # shares the array's memory
    y = (x * 2 + 1).relu().sum()
    y.backward()
    x.grad.numpy()        # a NumPy view of the gradient; np.asarray(t) works too

A C-contiguous float32 (int64) array is used in place, no copy; others are converted once.
Ops record autograd history while grad mode is on (see no_grad).
"""
import contextlib

from bigdl_cpp._native import core as _c

Tensor = _c.Tensor
tensor = _c.tensor
from_numpy = _c.tensor
zeros = _c.zeros
ones = _c.ones
matmul = _c.matmul
cumsum = _c.cumsum
masked_fill = _c.masked_fill
sort = _c.sort
topk = _c.topk
einsum = _c.einsum
cat = _c.cat
stack = _c.stack
manual_seed = _c.manual_seed
is_grad_enabled = _c.is_grad_enabled

__all__ = ["Tensor", "tensor", "from_numpy", "zeros", "ones", "matmul", "cumsum", "masked_fill", "sort", "topk",
           "einsum", "cat", "stack", "manual_seed", "no_grad",
           "is_grad_enabled"]


@contextlib.contextmanager
def no_grad():
    """Ops inside record no autograd history (as torch.no_grad)."""
    prev = _c.is_grad_enabled()
    _c.set_grad_enabled(False)
    try:
        yield
    finally:
        _c.set_grad_enabled(prev)
