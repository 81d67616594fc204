"""Keras layers over the C++ engine (include/bigdl/train/keras.h), with BigDL's and Keras'
argument names. Shapes exclude the batch dim; images are channels-first ([C, H, W], BigDL's
default "th" ordering); recurrent inputs are batch-first ([T, F] per sample).

Each layer and node remembers how it was made (the factory and its arguments), so a model
built from them pickles as that recipe plus its weights: that is how Spark ships a model
to its executors (bigdl_cpp.orca, bigdl_cpp.dllib.nnframes).

A layer is a builder: it creates its weights when it first sees its input shape (the
first layer of a Sequential needs input_shape, or input_dim for Dense); calling it on
another node reuses them. Errors: ValueError naming the layer (bad shape, unknown
activation or padding).
"""
import functools

from bigdl_cpp._native import dllib as _d

__all__ = ["Input", "Dense", "Conv2D", "Convolution2D", "MaxPooling2D", "AveragePooling2D",
           "GlobalAveragePooling2D", "Flatten", "Dropout", "BatchNormalization", "Activation",
           "Embedding", "LSTM", "GRU", "Reshape", "Add", "Concatenate"]


class KerasLayer:
    """A layer (the engine's, in .impl) and the call that made it; called on a node or a
    list of nodes it returns a KerasNode. Attributes (name, output_shape, count_params...)
    are the engine layer's."""

    __slots__ = ("impl", "recipe")

    def __init__(self, impl, recipe):
        self.impl = impl
        self.recipe = recipe  # (factory name, args, kwargs)

    def __call__(self, x):
        if isinstance(x, (list, tuple)):
            nodes = [_node(n, "layer input") for n in x]
            return KerasNode(self.impl([n.impl for n in nodes]), ("call", self, nodes, True))
        node = _node(x, "layer input")
        return KerasNode(self.impl(node.impl), ("call", self, [node], False))

    def __getattr__(self, name):
        return getattr(self.impl, name)


class KerasNode:
    """A symbolic tensor of the functional API: Input(...) or a layer called on nodes."""

    __slots__ = ("impl", "recipe")

    def __init__(self, impl, recipe):
        self.impl = impl
        self.recipe = recipe  # ("input", shape, name) or ("call", layer, [nodes], as_list)

    def __getattr__(self, name):
        return getattr(self.impl, name)


def _node(x, what):
    if not isinstance(x, KerasNode):
        raise TypeError(f"{what} must be a node (Input(...) or a layer's output), got {type(x).__name__}")
    return x


def _recorded(factory):
    """Wraps a factory so that its result remembers the call (see KerasLayer)."""

    @functools.wraps(factory)
    def make(*args, **kwargs):
        return KerasLayer(factory(*args, **kwargs), (factory.__name__, args, kwargs))

    _FACTORIES[factory.__name__] = make
    return make


_FACTORIES = {}


def rebuild_layer(recipe, name):
    """The layer that recipe (KerasLayer.recipe) makes, named `name`."""
    import inspect

    fname, args, kwargs = recipe
    factory = _FACTORIES[fname]
    bound = inspect.signature(factory.__wrapped__).bind(*args, **kwargs)
    bound.arguments["name"] = name
    return factory(*bound.args, **bound.kwargs)


def _shape(input_shape=None, input_dim=None):
    if input_shape is not None:
        return [int(d) for d in input_shape]
    if input_dim is not None:
        return [int(input_dim)]
    return None


def _act(activation):
    return "linear" if activation is None else str(activation)


def _pair(v):
    return [int(x) for x in v] if isinstance(v, (tuple, list)) else [int(v)]


def Input(shape, name=""):
    """A symbolic input of the functional API: shape without the batch dim."""
    shape = [int(d) for d in shape]
    return KerasNode(_d.Input(shape, name), ("input", shape, name))


@_recorded
def Dense(units=None, activation=None, use_bias=True, input_shape=None, input_dim=None, name="", output_dim=None,
          bias=None):
    """y = activation(x W^T + b) over the last dim. output_dim / bias: BigDL's names."""
    units = output_dim if units is None else units
    if units is None:
        raise TypeError("Dense: units (output_dim) is required")
    return _d.Dense(int(units), _act(activation), _shape(input_shape, input_dim), name,
                    bool(use_bias if bias is None else bias))


@_recorded
def Conv2D(filters, kernel_size, strides=1, padding="valid", activation=None, use_bias=True, input_shape=None,
           name=""):
    """2-D convolution of [C, H, W] inputs; padding "valid" or "same"."""
    return _d.Conv2D(int(filters), _pair(kernel_size), _pair(strides), padding, _act(activation), _shape(input_shape),
                     name, bool(use_bias))


@_recorded
def Convolution2D(nb_filter, nb_row, nb_col, activation=None, border_mode="valid", subsample=(1, 1), bias=True,
                  input_shape=None, name=""):
    """BigDL's / Keras 1's name and arguments for Conv2D."""
    return Conv2D(nb_filter, (nb_row, nb_col), subsample, border_mode, activation, bias, input_shape, name).impl


@_recorded
def MaxPooling2D(pool_size=(2, 2), strides=None, padding="valid", input_shape=None, name="", border_mode=None):
    return _d.MaxPooling2D(_pair(pool_size), None if strides is None else _pair(strides), border_mode or padding,
                           _shape(input_shape), name)


@_recorded
def AveragePooling2D(pool_size=(2, 2), strides=None, padding="valid", input_shape=None, name="", border_mode=None):
    return _d.AveragePooling2D(_pair(pool_size), None if strides is None else _pair(strides), border_mode or padding,
                               _shape(input_shape), name)


@_recorded
def GlobalAveragePooling2D(input_shape=None, name=""):
    return _d.GlobalAveragePooling2D(_shape(input_shape), name)


@_recorded
def Flatten(input_shape=None, name=""):
    return _d.Flatten(_shape(input_shape), name)


@_recorded
def Dropout(p, input_shape=None, name=""):
    """Drops a fraction p of the inputs in training (scaled by 1 / (1 - p)); identity in evaluation."""
    return _d.Dropout(float(p), _shape(input_shape), name)


@_recorded
def BatchNormalization(epsilon=1e-3, momentum=0.99, input_shape=None, name=""):
    return _d.BatchNormalization(float(epsilon), float(momentum), _shape(input_shape), name)


@_recorded
def Activation(activation, input_shape=None, name=""):
    return _d.Activation(str(activation), _shape(input_shape), name)


@_recorded
def Embedding(input_dim, output_dim, input_shape=None, input_length=None, name=""):
    return _d.Embedding(int(input_dim), int(output_dim), _shape(input_shape, input_length), name)


@_recorded
def LSTM(units=None, return_sequences=False, use_bias=True, input_shape=None, name="", output_dim=None):
    return _d.LSTM(int(units if units is not None else output_dim), bool(return_sequences), _shape(input_shape), name,
                   bool(use_bias))


@_recorded
def GRU(units=None, return_sequences=False, use_bias=True, input_shape=None, name="", output_dim=None):
    return _d.GRU(int(units if units is not None else output_dim), bool(return_sequences), _shape(input_shape), name,
                  bool(use_bias))


@_recorded
def Reshape(target_shape, input_shape=None, name=""):
    return _d.Reshape([int(d) for d in target_shape], _shape(input_shape), name)


@_recorded
def Add(name=""):
    return _d.Add(name)


@_recorded
def Concatenate(axis=-1, name=""):
    return _d.Concatenate(int(axis), name)
