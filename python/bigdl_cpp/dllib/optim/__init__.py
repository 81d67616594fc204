"""Optimizers of the core with PyTorch's names and arguments (include/bigdl/optim):
SGD, Adam, AdamW, RMSprop, Adagrad over a module's parameters(); step() updates the
parameter tensors in place (without the GIL), zero_grad() clears their gradients, lr is
settable."""
from bigdl_cpp._native import core as _c

Optimizer = _c.Optimizer
SGD = _c.SGD
Adam = _c.Adam
AdamW = _c.AdamW
RMSprop = _c.RMSprop
Adagrad = _c.Adagrad

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]
