"""Orca's Estimator over a Keras-style model of bigdl_cpp.dllib (docs/spark.md).

    est = Estimator.from_keras(model)                  # compiled Sequential / Model
    est = Estimator.from_keras(model_creator=make)     # make(config) -> compiled model
    est.fit(data, epochs=2, batch_size=64, feature_cols=["features"], label_cols=["label"],
            validation_data=val_df, checkpoint_dir="/shared/ckpt", checkpoint_trigger=100)
    est.evaluate(data, feature_cols=..., label_cols=...)   # {"loss": ..., "accuracy": ...}
    est.predict(df, feature_cols=...)                       # df + "prediction"
    est.save("model.bigdl"); est.load("model.bigdl")

data: a Spark DataFrame (trained in a barrier stage, one task per partition), a pandas
DataFrame (with feature_cols / label_cols), NumPy arrays (x, y) or {"x": ..., "y": ...},
or XShards of pandas DataFrames. Spark training equals one process on all rows in
partition order with the same seed and batch size. Without Spark (pandas, NumPy) fit
trains here, or over the MPI job of init_orca_context(cluster_mode="mpi").
"""
import os
import pickle
import tempfile
import time

import numpy as np

from bigdl_cpp.orca import _spark

__all__ = ["Estimator"]


def _is_spark_df(data):
    try:
        from pyspark.sql import DataFrame
    except ImportError:
        return False
    return isinstance(data, DataFrame)


def _pandas_arrays(pdf, feature_cols, label_cols, what):
    """Columns of a pandas DataFrame as x [n, F] float32 and y (or None)."""
    def take(cols):
        missing = [c for c in cols if c not in pdf.columns]
        if missing:
            raise ValueError(f"{what}: column '{missing[0]}' is not in the DataFrame (columns: {', '.join(map(str, pdf.columns))})")
        parts = []
        for c in cols:
            v = pdf[c]
            if v.dtype == object:
                try:
                    arr = np.stack([np.asarray(e, dtype=np.float64).reshape(-1) for e in v])
                except (TypeError, ValueError):
                    raise TypeError(f"{what}: column '{c}' holds {type(v.iloc[0]).__name__} values, not numbers or "
                                    f"arrays of numbers") from None
            elif np.issubdtype(v.dtype, np.number) or v.dtype == bool:
                arr = v.to_numpy(dtype=np.float64).reshape(-1, 1)
            else:
                raise TypeError(f"{what}: column '{c}' holds {v.dtype}, not numbers or arrays of numbers")
            parts.append(arr)
        return np.concatenate(parts, axis=1)

    if not feature_cols:
        raise ValueError(f"{what}: feature_cols is required for DataFrame data")
    x = take(feature_cols).astype(np.float32)
    y = take(label_cols) if label_cols else None
    return x, y


class Estimator:
    """Trains, evaluates and predicts with one model on Spark, pandas or NumPy data."""

    def __init__(self, model, config=None, workers=None, timeout=60.0):
        if model is None or not hasattr(model, "_trainer"):
            raise TypeError("Estimator: expected a bigdl_cpp.dllib.keras Sequential or Model, got "
                            f"{type(model).__name__}")
        if model._trainer is None:
            raise ValueError("Estimator: the model is not compiled (call compile(optimizer, loss, metrics) first)")
        self.model = model
        self.config = config or {}
        self.workers = workers
        self.timeout = float(timeout)
        self.train_seconds = None  # of the last fit: time in the trainer (Spark: rank 0's, without scheduling)

    @staticmethod
    def from_keras(model=None, model_creator=None, config=None, workers=None, timeout=60.0, backend="spark"):
        """model: a compiled bigdl_cpp.dllib.keras model; or model_creator(config) making one.
        workers: tasks of the training stage (default: the DataFrame's partitions); timeout:
        seconds a worker waits for a silent peer before the stage fails."""
        if backend not in ("spark", "mpi"):
            raise ValueError(f"Estimator.from_keras: backend must be 'spark' or 'mpi', got '{backend}'")
        if model is None and model_creator is None:
            raise ValueError("Estimator.from_keras: give model or model_creator")
        if model is None:
            model = model_creator(config or {})
        return Estimator(model, config, workers, timeout)

    # ---- the data ----
    def _local(self, data, feature_cols, label_cols, what):
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            x, y = _pandas_arrays(data, feature_cols, label_cols, what)
        elif isinstance(data, dict):
            x, y = data.get("x"), data.get("y")
        elif isinstance(data, (tuple, list)) and len(data) == 2:
            x, y = data
        elif isinstance(data, np.ndarray):
            x, y = data, None
        else:
            raise TypeError(f"{what}: data must be a Spark DataFrame, a pandas DataFrame, XShards, (x, y) arrays or "
                            f"{{'x': ..., 'y': ...}}, got {type(data).__name__}")
        if x is None:
            raise ValueError(f"{what}: the data has no 'x'")
        x = np.asarray(x)
        if y is not None:
            y = np.asarray(y)
            loss = self.model._compile_args[1]
            if loss == "sparse_categorical_crossentropy":
                y = y.reshape(-1)
                if np.any(y != np.round(y)):
                    raise ValueError(f"{what}: class labels must be integers")
                y = y.astype(np.int64)
            elif y.ndim == 2 and y.shape[1] == 1 and label_cols is None:
                y = y.astype(np.float32)
        return x, y

    @staticmethod
    def _xshards(data):
        from bigdl_cpp.orca.data import XShards

        return data.to_spark_df() if isinstance(data, XShards) else data

    # ---- API ----
    def fit(self, data, epochs=1, batch_size=32, feature_cols=None, label_cols=None, validation_data=None,
            checkpoint_trigger=None, checkpoint_dir=None, shuffle=True, seed=42, verbose=1, feature_shape=None):
        """Trains for `epochs`; returns the per-epoch logs ({"loss": [...], "accuracy": [...], ...}).
        checkpoint_dir (a path every worker sees) + checkpoint_trigger (steps between step
        checkpoints, default 100): a Spark stage retried after a lost executor resumes from
        the newest, in a directory of this fit's own (a later fit starts fresh)."""
        data = self._xshards(data)
        every = int(checkpoint_trigger or (100 if checkpoint_dir else 0))
        if every < 0:
            raise ValueError(f"fit: checkpoint_trigger must be a positive number of steps, got {checkpoint_trigger}")
        if every and not checkpoint_dir:
            raise ValueError("fit: checkpoint_trigger needs checkpoint_dir (a path every worker sees)")
        if _is_spark_df(data):
            if not label_cols:
                raise ValueError("fit: label_cols is required for a Spark DataFrame")
            val = None
            if validation_data is not None:
                val = self._validation_arrays(self._xshards(validation_data), feature_cols, label_cols, feature_shape)
            timing = {}
            logs = _spark.fit(self.model, data, list(feature_cols or []), list(label_cols), epochs, batch_size,
                              validation=val, shuffle=shuffle, seed=seed, checkpoint_dir=checkpoint_dir,
                              checkpoint_every=every, timeout=self.timeout, feature_shape=feature_shape,
                              num_workers=self.workers, timing=timing)
            self.train_seconds = timing.get("train_seconds")
            history = {k: [e.get(k) for e in logs] for k in sorted({k for e in logs for k in e})}
            if verbose:
                for i, e in enumerate(logs):
                    print(f"Epoch {i + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in sorted(e.items())
                                                                  if k != "lr"), flush=True)
            return history
        x, y = self._local(data, feature_cols, label_cols, "fit")
        if feature_shape is not None:
            x = x.reshape((len(x),) + tuple(feature_shape))
        if y is None:
            raise ValueError("fit: the data has no labels (give label_cols, or (x, y))")
        val = None
        if validation_data is not None:
            val = self._local(validation_data, feature_cols, label_cols, "fit validation_data")
        group = None
        from bigdl_cpp.orca import OrcaContext

        if OrcaContext.cluster_mode == "mpi":
            # Every rank loaded the data; each trains on its contiguous share (equal to one process).
            from bigdl_cpp._native import dist

            world = dist.world()
            if world.size > 1:
                group = world
                mine = np.array_split(np.arange(len(x)), world.size)[world.rank]
                x, y = x[mine], y[mine]
                if val is not None:
                    vmine = np.array_split(np.arange(len(val[0])), world.size)[world.rank]
                    val = (val[0][vmine], val[1][vmine])
                verbose = verbose if world.rank == 0 else 0
        t0 = time.perf_counter()
        h = self.model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=val, shuffle=shuffle,
                           seed=seed, verbose=verbose, checkpoint_dir=checkpoint_dir or "",
                           checkpoint_every=every, resume="auto" if checkpoint_dir else "", group=group)
        self.train_seconds = time.perf_counter() - t0
        return h.history

    def _validation_arrays(self, data, feature_cols, label_cols, feature_shape):
        if _is_spark_df(data):
            data = data.select(*(list(feature_cols) + list(label_cols))).toPandas()
        x, y = self._local(data, feature_cols, label_cols, "fit validation_data")
        if feature_shape is not None:
            x = x.reshape((len(x),) + tuple(feature_shape))
        return x, y

    def evaluate(self, data, batch_size=32, feature_cols=None, label_cols=None, feature_shape=None):
        """{"loss": ..., metric: ...} over every row (Spark: each partition where it lies)."""
        data = self._xshards(data)
        if _is_spark_df(data):
            return _spark.evaluate(self.model, data, list(feature_cols or []), list(label_cols or []), batch_size,
                                   feature_shape)
        x, y = self._local(data, feature_cols, label_cols, "evaluate")
        if feature_shape is not None:
            x = x.reshape((len(x),) + tuple(feature_shape))
        return self.model.evaluate(x, y, batch_size=batch_size, return_dict=True)

    def predict(self, data, batch_size=32, feature_cols=None, feature_shape=None):
        """Spark: the DataFrame with a "prediction" column; pandas: a copy with one; NumPy: the outputs."""
        import pandas as pd

        data = self._xshards(data)
        if _is_spark_df(data):
            return _spark.predict(self.model, data, list(feature_cols or []), batch_size, "prediction", feature_shape)
        x, _ = self._local(data, feature_cols, None, "predict")
        if feature_shape is not None:
            x = x.reshape((len(x),) + tuple(feature_shape))
        out = self.model.predict(x, batch_size=batch_size)
        if isinstance(data, pd.DataFrame):
            res = data.copy()
            res["prediction"] = list(out) if out.ndim > 1 and out.shape[1] > 1 else out.reshape(-1)
            return res
        return out

    def get_model(self):
        return self.model

    def save(self, path):
        """The model (layers, weights, compile arguments) in one file, written atomically."""
        path = os.path.abspath(path)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(self.model, f)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        return path

    def load(self, path):
        """Replaces the model with save()'s file (a pickle: load only files you trust)."""
        with open(path, "rb") as f:
            model = pickle.load(f)
        if not hasattr(model, "_trainer"):
            raise ValueError(f"Estimator.load: {path} does not hold a bigdl_cpp model")
        self.model = model
        return self

    def shutdown(self):
        """Nothing to release (the workers exist only while a stage runs); for Orca's API."""
