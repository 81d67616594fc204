"""Sequential and functional Model with compile / fit / evaluate / predict (Keras' and
BigDL's argument names), trained by the C++ engine (include/bigdl/train/model.h).

    from bigdl_cpp.dllib.keras.models import Sequential
    from bigdl_cpp.dllib.keras.layers import Dense
    model = Sequential()
    model.add(Dense(64, activation="relu", input_shape=(64,)))
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=10, validation_data=(xv, yv))
    loss, acc = model.evaluate(xv, yv)
    probs = model.predict(xv)

Arrays are NumPy (a C-contiguous float32 array is used in place, others converted once);
labels for the sparse losses are integers. Weights are named and laid out as the engine's
(and PyTorch's) modules: "dense_1.weight" is [units, inputs]. fit prints one line per epoch
when stdout is not a terminal. Errors: ValueError / TypeError with the engine's one-line
message (an unknown loss or optimizer name, a shape that does not fit the model).
"""
import numpy as np

from bigdl_cpp import _native
from bigdl_cpp._native import dllib as _d
from bigdl_cpp.dllib.keras import callbacks as _callbacks
from bigdl_cpp.dllib.keras import layers as _layers
from bigdl_cpp.dllib.keras.optimizers import Optimizer

__all__ = ["Sequential", "Model", "History"]


class History:
    """Keras' History: history["loss"] is the list of the epochs' losses; epoch the epoch numbers."""

    def __init__(self, epochs, first_epoch):
        self.epoch = list(range(first_epoch, first_epoch + len(epochs)))
        keys = sorted({k for e in epochs for k in e})
        self.history = {k: [e.get(k) for e in epochs] for k in keys}


class _Net:
    """What Sequential and Model share: compile / fit / evaluate / predict, weights, checkpoints."""

    def __init__(self, impl):
        self._impl = impl
        self._trainer = None
        self._compile_args = None
        self._log_dir = ""
        self.stop_training = False

    # ---- pickling: the recipe of the layers, the weights and the compile arguments ----
    def __reduce__(self):
        return (_rebuild, (type(self).__name__, self._spec(), self.state_dict(), self._compile_args))

    # ---- training ----
    def compile(self, optimizer="adam", loss="sparse_categorical_crossentropy", metrics=None):
        """optimizer: a name ("sgd", "adam", "adamw", "rmsprop", "adagrad") or an object of
        bigdl_cpp.dllib.keras.optimizers; loss: a Keras loss name; metrics: names
        ("accuracy", "top5_accuracy", "mae", "mse", "auc")."""
        if isinstance(optimizer, Optimizer):
            name, hp = optimizer.name, optimizer.hyper_parameters
        elif isinstance(optimizer, str):
            name, hp = optimizer.lower(), {}
        else:
            raise TypeError(f"compile: optimizer must be a name or a bigdl_cpp.dllib.keras.optimizers object, "
                            f"got {type(optimizer).__name__}")
        if not isinstance(loss, str):
            raise TypeError(f"compile: loss must be a Keras loss name, got {type(loss).__name__}")
        self._metrics = [str(m) for m in (metrics or [])]
        self._trainer = _d.Trainer(self._impl, name, hp, loss, self._metrics)
        self._compile_args = (optimizer, loss, list(self._metrics))
        return self

    def _compiled(self, op):
        if self._trainer is None:
            raise ValueError(f"{op}: the model is not compiled (call compile(optimizer, loss, metrics) first)")
        return self._trainer

    def set_tensorboard(self, log_dir, app_name="bigdl"):
        """TensorBoard summaries of the next fit() under log_dir/app_name (train/ and validation/)."""
        self._log_dir = f"{log_dir}/{app_name}"

    def fit(self, x, y, batch_size=32, epochs=None, verbose=1, callbacks=None, validation_data=None, shuffle=True,
            initial_epoch=0, nb_epoch=None, seed=42, log_dir=None, checkpoint_dir="", checkpoint_every=0, resume="",
            group=None, num_processes=1, precision="fp32"):
        """Trains for `epochs` (BigDL: nb_epoch; default 10 as BigDL's) over (x, y);
        validation_data=(x_val, y_val) adds val_loss / val_<metric> to the logs. checkpoint_dir +
        checkpoint_every=N: a step checkpoint every N steps; resume=dir or "auto" continues
        from the newest one. group (bigdl_cpp._native.dist: gloo_group, world): data-parallel
        over its ranks, x / y (and validation_data) being this rank's part of the rows; the
        result equals one process on all parts in rank order. num_processes=N (Nano's): N
        worker processes on this machine, each with 1/N of the threads, train data-parallel
        over Gloo at the same global batch_size (bigdl_cpp.nano._multiprocess); the weights
        come back into this model. precision="bf16" (Nano's): bf16 autocast while training
        (matrix products and convolutions in bf16 with f32 sums, f32 master weights;
        native bf16 CPUs only, ValueError elsewhere). Returns a History."""
        trainer = self._compiled("fit")
        if epochs is None:
            epochs = nb_epoch if nb_epoch is not None else 10
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"fit: precision must be 'fp32' or 'bf16', got {precision!r}")
        if num_processes != 1:
            if group is not None:
                raise ValueError("fit: give either group or num_processes, not both")
            from bigdl_cpp.nano._multiprocess import fit_processes
            history, epoch_ids = fit_processes(self, x, y, num_processes, dict(
                batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
                validation_data=validation_data, shuffle=shuffle, initial_epoch=initial_epoch, seed=seed,
                log_dir=log_dir, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, resume=resume,
                precision=precision))
            h = History([], int(initial_epoch))
            h.history, h.epoch = history, list(epoch_ids)
            return h
        vx = vy = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("fit: validation_data must be (x_val, y_val)")
            vx, vy = validation_data
        self.stop_training = False
        cbs = _callbacks.native(callbacks, self)
        was = _native.autocast_bf16()
        _native.set_autocast_bf16(precision == "bf16")  # ValueError here without native bf16
        try:
            epochs_logs = trainer.fit(x, y, int(batch_size), int(epochs), vx, vy, bool(shuffle), int(seed), cbs,
                                      int(verbose), log_dir if log_dir is not None else self._log_dir, int(initial_epoch),
                                      str(checkpoint_dir), int(checkpoint_every), str(resume), group)
        finally:
            _native.set_autocast_bf16(was)
        return History(epochs_logs, int(initial_epoch))

    def evaluate(self, x, y, batch_size=32, return_dict=False):
        """Loss and metrics in evaluation mode: [loss, metric, ...] (the loss alone when there
        are no metrics), or a dict with return_dict=True."""
        logs = self._compiled("evaluate").evaluate(x, y, int(batch_size))
        if return_dict:
            return dict(logs)
        values = [logs["loss"]] + [logs[m] for m in self._metrics if m in logs]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=32):
        """The outputs for x (evaluation mode, no gradients), batch by batch."""
        if self._trainer is None:
            return self.forward(x)
        return self._trainer.predict(x, int(batch_size))

    def forward(self, x):
        """The outputs for x in evaluation mode, in one batch (works before compile)."""
        return self._impl.predict_numpy(x)

    # ---- weights ----
    def state_dict(self):
        """{name: array} copies of the parameters and buffers ("dense_1.weight", ...)."""
        return self._impl.state_dict()

    def load_state_dict(self, state, strict=True):
        self._impl.load_state_dict({k: np.asarray(v) for k, v in state.items()}, strict)

    def get_weights(self):
        """The state_dict's arrays, in its order."""
        return list(self.state_dict().values())

    def set_weights(self, weights):
        names = list(self.state_dict().keys())
        if len(weights) != len(names):
            raise ValueError(f"set_weights: the model has {len(names)} weight arrays, got {len(weights)}")
        self.load_state_dict(dict(zip(names, weights)))

    def count_params(self):
        return self._impl.num_parameters()

    def summary(self):
        print(self._impl.summary())

    @property
    def layers(self):
        return self._impl.layers

    def get_layer(self, name):
        return self._impl.get_layer(name)

    def save_checkpoint(self, path, epoch=0):
        """Model + optimizer state (+ epoch) in one safetensors file, written atomically."""
        self._compiled("save_checkpoint").save_checkpoint(str(path), int(epoch))

    def load_checkpoint(self, path):
        """Restores save_checkpoint's file; returns its epoch."""
        return self._compiled("load_checkpoint").load_checkpoint(str(path))


class Sequential(_Net):
    """Layers in a row; each add() infers the shapes and creates the layer's weights."""

    def __init__(self, layers=None):
        super().__init__(_d.Sequential())
        self._added = []
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        if not isinstance(layer, _layers.KerasLayer):
            raise TypeError(f"Sequential.add: expected a layer of bigdl_cpp.dllib.keras.layers, got {type(layer).__name__}")
        self._impl.add(layer.impl)
        self._added.append(layer)
        return self

    def _spec(self):
        return [(layer.recipe, layer.impl.name) for layer in self._added]

    @property
    def output_shape(self):
        return self._impl.output_shape


class Model(_Net):
    """The functional API: Model(input=Input(...), output=layer(...)(...)); lists for several."""

    def __init__(self, input=None, output=None, inputs=None, outputs=None):  # noqa: A002 - BigDL's names
        ins = inputs if inputs is not None else input
        outs = outputs if outputs is not None else output
        if ins is None or outs is None:
            raise TypeError("Model: input (inputs) and output (outputs) are required")
        ins = [_layers._node(n, "Model input") for n in (ins if isinstance(ins, (list, tuple)) else [ins])]
        outs = [_layers._node(n, "Model output") for n in (outs if isinstance(outs, (list, tuple)) else [outs])]
        super().__init__(_d.Model([n.impl for n in ins], [n.impl for n in outs]))
        self._inputs, self._outputs = ins, outs

    def _spec(self):
        """The graph in creation order: nodes as ("input", shape, name) or ("call", layer
        index, [node ids], as_list); layers as (recipe, name)."""
        nodes, ids, layers, layer_ids = [], {}, [], {}

        def visit(n):
            if id(n) in ids:
                return ids[id(n)]
            if n.recipe[0] == "input":
                entry = n.recipe
            else:
                _, layer, inputs, as_list = n.recipe
                parents = [visit(p) for p in inputs]
                if id(layer) not in layer_ids:
                    layer_ids[id(layer)] = len(layers)
                    layers.append((layer.recipe, layer.impl.name))
                entry = ("call", layer_ids[id(layer)], parents, as_list)
            ids[id(n)] = len(nodes)
            nodes.append(entry)
            return ids[id(n)]

        outs = [visit(n) for n in self._outputs]
        ins = [visit(n) for n in self._inputs]
        return {"nodes": nodes, "layers": layers, "inputs": ins, "outputs": outs}


def _rebuild(kind, spec, state, compile_args):
    """Unpickles a model: its layers made again from their recipes, then weights and compile."""
    if kind == "Sequential":
        model = Sequential([_layers.rebuild_layer(recipe, name) for recipe, name in spec])
    else:
        layers = [_layers.rebuild_layer(recipe, name) for recipe, name in spec["layers"]]
        nodes = []
        for entry in spec["nodes"]:
            if entry[0] == "input":
                nodes.append(_layers.Input(entry[1], entry[2]))
            else:
                _, li, parents, as_list = entry
                args = [nodes[p] for p in parents]
                nodes.append(layers[li](args if as_list else args[0]))
        model = Model(inputs=[nodes[i] for i in spec["inputs"]], outputs=[nodes[i] for i in spec["outputs"]])
    model.load_state_dict(state)
    if compile_args is not None:
        model.compile(*compile_args)
    return model
