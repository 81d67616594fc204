"""nn modules and losses of the core with PyTorch's names and arguments (include/bigdl/nn):
Linear, Conv2d, ConvTranspose1d/2d, MaxPool2d, AvgPool1d, BatchNorm1d/2d, LayerNorm, GroupNorm,
Dropout, Embedding, Flatten, Softmax, LogSoftmax, ReLU, LeakyReLU, GELU, SiLU, Tanh, Sigmoid,
Identity, Sequential, MultiheadAttention, TransformerEncoderLayer;
CrossEntropyLoss, MSELoss, L1Loss, BCELoss, BCEWithLogitsLoss.

A module is called on Tensors (bigdl_cpp.dllib.tensor) or arrays and returns a Tensor;
parameters() are the tensors an optimizer (bigdl_cpp.dllib.optim) updates in place;
state_dict() gives NumPy copies named as PyTorch's ("0.weight"), so a torch state_dict's
arrays load directly.
"""
from bigdl_cpp._native import core as _c

Module = _c.Module
Linear = _c.Linear
BatchNorm1d = _c.BatchNorm1d
BatchNorm2d = _c.BatchNorm2d
LayerNorm = _c.LayerNorm
GroupNorm = _c.GroupNorm
AvgPool1d = _c.AvgPool1d
ConvTranspose1d = _c.ConvTranspose1d
ConvTranspose2d = _c.ConvTranspose2d
MultiheadAttention = _c.MultiheadAttention
TransformerEncoderLayer = _c.TransformerEncoderLayer
Dropout = _c.Dropout
Embedding = _c.Embedding
Flatten = _c.Flatten
Softmax = _c.Softmax
LogSoftmax = _c.LogSoftmax
ReLU = _c.ReLU
LeakyReLU = _c.LeakyReLU
GELU = _c.GELU
SiLU = _c.SiLU
Tanh = _c.Tanh
Sigmoid = _c.Sigmoid
Identity = _c.Identity
Sequential = _c.Sequential
Loss = _c.Loss
CrossEntropyLoss = _c.CrossEntropyLoss
MSELoss = _c.MSELoss
L1Loss = _c.L1Loss
BCELoss = _c.BCELoss
BCEWithLogitsLoss = _c.BCEWithLogitsLoss

__all__ = ["Module", "Linear", "Conv2d", "MaxPool2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm",
           "AvgPool1d", "ConvTranspose1d", "ConvTranspose2d", "MultiheadAttention", "TransformerEncoderLayer", "Dropout",
           "Embedding", "Flatten", "Softmax", "LogSoftmax", "ReLU", "LeakyReLU", "GELU", "SiLU", "Tanh", "Sigmoid",
           "Identity", "Sequential", "Loss", "CrossEntropyLoss", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss"]


def _pair(v):
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, groups=1, bias=True):
    return _c.Conv2d(int(in_channels), int(out_channels), _pair(kernel_size), _pair(stride), _pair(padding), int(groups),
                     bool(bias))


def MaxPool2d(kernel_size, stride=None, padding=0):
    return _c.MaxPool2d(_pair(kernel_size), None if stride is None else _pair(stride), _pair(padding))
