"""Callbacks for fit(). Subclass Callback in Python (any of its hooks; set
self.model.stop_training = True to stop after the epoch), or use the C++ ones:
EarlyStopping, ModelCheckpoint, LearningRateScheduler and ReduceLROnPlateau (Keras'
arguments and semantics). Hooks run with the GIL held while
the rest of fit runs without it; an exception raised in a hook stops fit and reaches the
caller."""
from bigdl_cpp._native import dllib as _d

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler", "ReduceLROnPlateau"]


class Callback:
    """Keras' hooks; logs of on_epoch_end: "loss", the metrics, "val_loss", "val_<metric>", "lr"."""
    model = None

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class _Native:
    """A C++ callback (the engine runs it without the GIL)."""

    def __init__(self, impl):
        self.impl = impl


class EarlyStopping(_Native):
    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto", restore_best_weights=False):
        super().__init__(_d.EarlyStopping(monitor, int(patience), float(min_delta), mode, bool(restore_best_weights)))


class ModelCheckpoint(_Native):
    """Saves model + optimizer state (safetensors, atomically) at each epoch end, or only
    when `monitor` improves; filepath may hold "{epoch}"."""

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto"):
        super().__init__(_d.ModelCheckpoint(str(filepath), monitor, bool(save_best_only), mode))


class LearningRateScheduler(_Native):
    """lr = schedule(epoch, lr) at the start of each epoch (epoch counts from 0), as Keras'."""

    def __init__(self, schedule):
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable, got {type(schedule).__name__}")
        super().__init__(_d.LearningRateScheduler(schedule))


class ReduceLROnPlateau(_Native):
    """lr *= factor (not below min_lr) when `monitor` has not improved by more than
    min_delta for `patience` epochs; then `cooldown` epochs before counting again (Keras')."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4, cooldown=0,
                 min_lr=0.0):
        super().__init__(_d.ReduceLROnPlateau(monitor, float(factor), int(patience), mode, float(min_delta),
                                              int(cooldown), float(min_lr)))


_HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end")


def native(callbacks, model):
    """The engine's callback objects for fit(callbacks=...)."""
    out = []
    for cb in callbacks or []:
        if isinstance(cb, _Native):
            out.append(cb.impl)
        elif isinstance(cb, Callback):
            cb.model = model
            # Only the hooks its class overrides are called (a no-op hook per batch costs the GIL).
            hooks = [h for h in _HOOKS if getattr(type(cb), h) is not getattr(Callback, h)]
            out.append(_d.python_callback(cb, hooks))
        else:
            raise TypeError(f"callbacks: expected Callback, EarlyStopping or ModelCheckpoint objects, got {type(cb).__name__}")
    return out
