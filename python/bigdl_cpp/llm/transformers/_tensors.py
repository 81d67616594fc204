"""Token-id batches in and out of the HF-style API: torch tensors, NumPy arrays or lists.

What goes in comes back in the same kind (a torch tensor gives torch tensors, a NumPy array
NumPy arrays); a plain list gives torch tensors when torch is importable, else NumPy, as
transformers' generate returns torch tensors.
"""
import sys

import numpy as np


def kind_of(x):
    """'torch', 'numpy' or 'list'."""
    mod = type(x).__module__ or ""
    if mod.startswith("torch"):
        return "torch"
    if isinstance(x, np.ndarray):
        return "numpy"
    return "list"


def _torch():
    try:
        import torch  # noqa: PLC0415 (imported only when asked for: it takes a second)
    except ImportError:
        return None
    return torch


def as_array(x, op, name):
    """x as a 2-D int64 NumPy array (a 1-D input is one row)."""
    if kind_of(x) == "torch":
        x = x.detach().cpu().numpy()
    try:
        a = np.asarray(x)
    except ValueError as e:  # ragged lists
        raise ValueError(f"[{op}] {name}: rows of different lengths (pad them and pass attention_mask)") from e
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"[{op}] {name} must be 1-D or 2-D, got shape {tuple(a.shape)}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"[{op}] {name} must hold integer token ids, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def rows_of(input_ids, attention_mask, op):
    """The batch as (full rows array, list of the unpadded rows: positions where the mask is 1)."""
    ids = as_array(input_ids, op, "input_ids")
    if attention_mask is None:
        return ids, [row.tolist() for row in ids]
    mask = as_array(attention_mask, op, "attention_mask")
    if mask.shape != ids.shape:
        raise ValueError(f"[{op}] attention_mask has shape {tuple(mask.shape)}, input_ids {tuple(ids.shape)}")
    return ids, [row[m != 0].tolist() for row, m in zip(ids, mask)]


def output(a, like):
    """NumPy array `a` as the kind of `like` (see the module docstring)."""
    kind = kind_of(like)
    if kind == "numpy":
        return a
    if kind == "torch" or "torch" in sys.modules or _torch() is not None:
        torch = _torch()
        if torch is not None:
            return torch.from_numpy(np.ascontiguousarray(a))
    return a


class AttrDict(dict):
    """A dict whose keys read as attributes too (HF's ModelOutput / BatchEncoding)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(name) from e
