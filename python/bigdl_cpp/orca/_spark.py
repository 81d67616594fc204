"""Training, evaluation and prediction of a Keras-style model on a Spark DataFrame: what
Orca's Estimator and DLlib's NNEstimator share (docs/spark.md).

fit runs one barrier-mode stage (DataFrame.mapInArrow(barrier=True)): one task per
partition, all started together. Each task reads its own partition's rows as Arrow
batches (nothing is collected to the driver), joins a Gloo group whose rendezvous is
BarrierTaskContext.allGather, and runs the C++ trainer on its rows; the ranks synchronise
gradients with BigDL's sharded scheme and the epoch's rows move between them so that
training equals one process on all rows in partition order (PartitionedDataset). Rank 0
returns the weights. With a checkpoint directory every rank writes step checkpoints and
a retried stage (a killed executor) resumes from the newest one.

Errors raised in a task come back to the driver as the same Python exception type with
the task's one-line message (not a page of Java stack).
"""
import base64
import os
import pickle
import re
import socket
import time
import uuid

import numpy as np

__all__ = ["fit", "evaluate", "predict", "check_columns", "rethrow_task_error"]

_TASK_ERROR = re.compile(r"\[bigdl-task\] (\w+): ([^\n]*)")
_ERRORS = {"ValueError": ValueError, "TypeError": TypeError, "IndexError": IndexError, "KeyError": KeyError,
           "MemoryError": MemoryError, "OSError": OSError, "RuntimeError": RuntimeError}


def rethrow_task_error(exc):
    """A Spark job's failure caused by a task's error: that error, one line, same type."""
    m = _TASK_ERROR.search(str(exc))
    if m:
        raise _ERRORS.get(m.group(1), RuntimeError)(m.group(2)) from None
    raise exc


def _in_task(fn):
    """Wraps a task body so its errors carry a marker the driver finds (rethrow_task_error)."""

    def run(*args):
        try:
            yield from fn(*args)
        except Exception as e:  # noqa: BLE001 - every error goes back, marked
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise RuntimeError(f"[bigdl-task] {type(e).__name__}: {msg}") from e

    return run


# ---------------------------------------------------------------- columns
def _numeric(dt):
    from pyspark.sql import types as T

    return isinstance(dt, (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType,
                           T.DecimalType, T.BooleanType))


def check_columns(df, cols, what):
    """Every column exists and holds numbers, arrays of numbers or ML vectors; returns the
    DataFrame with vectors turned into arrays. ValueError / TypeError name the column."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql import types as T

    if not cols:
        raise ValueError(f"{what}: no columns given")
    fields = {f.name: f.dataType for f in df.schema.fields}
    for c in cols:
        if c not in fields:
            raise ValueError(f"{what}: column '{c}' is not in the DataFrame (columns: {', '.join(fields)})")
        dt = fields[c]
        if isinstance(dt, VectorUDT):
            df = df.withColumn(c, vector_to_array(c, "float32"))
        elif isinstance(dt, T.ArrayType) and _numeric(dt.elementType):
            pass
        elif not _numeric(dt):
            raise TypeError(f"{what}: column '{c}' holds {dt.simpleString()}, not numbers, arrays of numbers or vectors")
    return df


def _widths(df, cols):
    """Values per row of each column (1 for scalars; arrays: from the first row, checked per
    batch in the tasks), and the first row. An empty DataFrame is a ValueError."""
    from pyspark.sql import types as T

    fields = {f.name: f.dataType for f in df.schema.fields}
    first = df.select(*cols).first()
    if first is None:
        raise ValueError("the DataFrame has no rows")
    out = []
    for c in cols:
        if isinstance(fields[c], T.ArrayType):
            out.append(len(first[c]) if first[c] is not None else 0)
        else:
            out.append(1)
    return out, first


def _arrays(batches, cols, widths, dtype):
    """Columns of a list of Arrow record batches as one [rows, sum(widths)] array."""
    import pyarrow as pa

    parts = []
    for c, w in zip(cols, widths):
        chunks = []
        for b in batches:
            col = b.column(b.schema.get_field_index(c))
            if col.null_count:
                raise ValueError(f"column '{c}' has null values")
            if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
                lengths = np.diff(col.offsets.to_numpy())
                if len(lengths) and (lengths.min() != w or lengths.max() != w):
                    bad = int(lengths[lengths != w][0])
                    raise ValueError(f"column '{c}' holds arrays of {bad} values where the first row has {w}")
                chunks.append(col.flatten().to_numpy(zero_copy_only=False).reshape(-1, w))
            else:
                chunks.append(col.to_numpy(zero_copy_only=False).reshape(-1, 1))
        parts.append(np.concatenate(chunks) if chunks else np.zeros((0, w)))
    out = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    return np.ascontiguousarray(out, dtype=dtype)


class Spec:
    """What a task needs to turn its Arrow rows into x and y."""

    def __init__(self, feature_cols, label_cols, feature_widths, label_widths, feature_shape, label_kind, label_offset,
                 outputs=0):
        self.feature_cols, self.label_cols = list(feature_cols), list(label_cols or [])
        self.feature_widths, self.label_widths = feature_widths, label_widths
        self.feature_shape = feature_shape  # per row, or None: [sum(widths)]
        self.label_kind = label_kind        # "classes" (int64 [n]) or "values" (float32 [n, k])
        self.label_offset = label_offset    # subtracted from class labels (BigDL's 1-based labels: 1)
        self.outputs = outputs              # the model's outputs per row (class labels must be below)

    def x(self, batches):
        x = _arrays(batches, self.feature_cols, self.feature_widths, np.float32)
        if self.feature_shape is not None:
            x = x.reshape((x.shape[0],) + tuple(self.feature_shape))
        return x

    def y(self, batches):
        y = _arrays(batches, self.label_cols, self.label_widths, np.float64)
        if self.label_kind == "classes":
            col = self.label_cols[0]
            if y.shape[1] != 1:
                raise ValueError(f"label column '{col}' must hold one class index per row, got {y.shape[1]} values")
            y = y[:, 0] - self.label_offset
            if len(y) and (np.any(y != np.round(y)) or y.min() < 0):
                bad = y[(y != np.round(y)) | (y < 0)][0] + self.label_offset
                need = f"integers >= {self.label_offset}" + (" (1-based class indices, as BigDL's)"
                                                            if self.label_offset else "")
                raise ValueError(f"label column '{col}' has the value {bad:g}; class labels must be {need}")
            if len(y) and self.outputs > 1 and y.max() >= self.outputs:
                raise ValueError(f"label column '{col}' has the class {y.max() + self.label_offset:g} but the model "
                                 f"has {self.outputs} outputs (classes {self.label_offset}..."
                                 f"{self.outputs - 1 + self.label_offset})")
            return y.astype(np.int64)
        return y.astype(np.float32)


def _first_x(first, feature_cols, feature_shape):
    """The features of a Row as the model's one-row input."""
    x1 = np.concatenate([np.asarray(first[c], dtype=np.float32).reshape(-1) for c in feature_cols]).reshape(1, -1)
    return x1 if feature_shape is None else x1.reshape((1,) + tuple(feature_shape))


def make_spec(df, model, feature_cols, label_cols, feature_shape=None, label_offset=0):
    """Checks the columns on the driver (and the first row against the model) and returns
    (df with arrays, Spec)."""
    df = check_columns(df, feature_cols, "fit")
    if label_cols:
        df = check_columns(df, label_cols, "fit")
    widths, first = _widths(df, list(feature_cols) + list(label_cols or []))
    fw, lw = widths[:len(feature_cols)], widths[len(feature_cols):]
    loss = model._compile_args[1] if model._compile_args else ""
    kind = "classes" if loss == "sparse_categorical_crossentropy" else "values"
    if feature_shape is not None and int(np.prod(feature_shape)) != sum(fw):
        raise ValueError(f"fit: feature_shape {tuple(feature_shape)} holds {int(np.prod(feature_shape))} values but the "
                         f"feature columns hold {sum(fw)} per row")
    out = np.asarray(model.predict(_first_x(first, feature_cols, feature_shape)))
    outputs = int(np.prod(out.shape[1:])) if out.ndim > 1 else 1
    if label_cols and kind == "values" and sum(lw) != outputs:
        raise ValueError(f"fit: the label column{'s' if len(label_cols) > 1 else ''} "
                         f"'{', '.join(label_cols)}' hold{'' if len(label_cols) > 1 else 's'} {sum(lw)} value"
                         f"{'s' if sum(lw) != 1 else ''} per row but the model outputs {outputs}")
    return df, Spec(feature_cols, label_cols, fw, lw, feature_shape, kind, label_offset, outputs)


# ---------------------------------------------------------------- fit
def _task_threads(ctx):
    """The engine's threads in a task: the task's CPUs (spark.task.cpus), unless env
    BIGDL_NUM_THREADS says otherwise (the pool would otherwise take every core of the host,
    however many tasks share it)."""
    import bigdl_cpp

    if not os.environ.get("BIGDL_NUM_THREADS"):
        bigdl_cpp.set_num_threads(max(1, int(ctx.cpus())))


def _exchange(ctx):
    def all_gather(mine):
        return [base64.b64decode(s) for s in ctx.allGather(base64.b64encode(mine).decode("ascii"))]

    return all_gather


def fit(model, df, feature_cols, label_cols, epochs, batch_size, *, validation=None, shuffle=True, seed=42,
        checkpoint_dir=None, checkpoint_every=0, timeout=60.0, feature_shape=None, label_offset=0,
        num_workers=None, timing=None):
    """Trains `model` (compiled) on df; loads the trained weights into it; returns the
    history (a list of per-epoch logs). validation: (x, y) arrays (each rank takes its
    contiguous share of the rows)."""
    from pyspark.sql import types as T

    if model._trainer is None:
        raise ValueError("fit: the model is not compiled (call compile(optimizer, loss, metrics) first)")
    df, spec = make_spec(df, model, feature_cols, label_cols, feature_shape, label_offset)
    df = df.select(*(spec.feature_cols + spec.label_cols))
    parts = df.rdd.getNumPartitions()
    if num_workers and parts != num_workers:
        df = df.coalesce(num_workers) if num_workers < parts else df.repartition(num_workers)
        parts = num_workers
    _check_slots(df.sparkSession, parts)
    blob = pickle.dumps(model)
    run_dir = ""
    if checkpoint_dir:
        # One directory per fit: a retried stage (a lost executor) resumes from it, a new fit starts fresh.
        run_dir = os.path.join(os.path.abspath(checkpoint_dir), f"fit-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}")
        os.makedirs(run_dir, exist_ok=True)
    val = None if validation is None else (np.asarray(validation[0]), np.asarray(validation[1]))

    @_in_task
    def train(batches):
        from pyspark import BarrierTaskContext

        from bigdl_cpp._native import dist

        ctx = BarrierTaskContext.get()
        _task_threads(ctx)
        rank, size = ctx.partitionId(), len(ctx.getTaskInfos())
        host = ctx.getTaskInfos()[rank].address.split(":")[0]
        rows = list(batches)
        x, y = spec.x(rows), spec.y(rows)
        group = dist.gloo_group(rank, size, _exchange(ctx), hostname=host, timeout=float(timeout))
        m = pickle.loads(blob)
        vx = vy = None
        if val is not None:
            cut = np.array_split(np.arange(len(val[0])), size)[rank]
            vx, vy = val[0][cut], val[1][cut]
        t0 = time.perf_counter()
        h = m.fit(x, y, batch_size=int(batch_size), epochs=int(epochs), verbose=1 if rank == 0 else 0,
                  validation_data=None if vx is None else (vx, vy), shuffle=bool(shuffle), seed=int(seed),
                  checkpoint_dir=run_dir, checkpoint_every=int(checkpoint_every) if run_dir else 0,
                  resume="auto" if run_dir else "", group=group)
        seconds = time.perf_counter() - t0
        if rank == 0:
            import pyarrow as pa

            logs = [{k: h.history[k][i] for k in h.history} for i in range(len(h.epoch))]
            out = pickle.dumps((m.state_dict(), logs, seconds))
            yield pa.RecordBatch.from_arrays([pa.array([out], pa.binary())], names=["result"])

    schema = T.StructType([T.StructField("result", T.BinaryType())])
    try:
        # The shuffle after the barrier stage makes it a map stage, which Spark retries
        # when a task or executor fails (a failed barrier result stage is aborted).
        rows = df.mapInArrow(train, schema, barrier=True).repartition(1).collect()
    except Exception as e:  # noqa: BLE001
        rethrow_task_error(e)
    state, logs, seconds = pickle.loads(rows[0]["result"])
    model.load_state_dict(state)
    if timing is not None:
        timing["train_seconds"] = seconds  # rank 0's time in the trainer (no Spark scheduling, no data loading)
    return logs


def _check_slots(spark, parts):
    """A barrier stage needs a task slot per partition at once; say so instead of waiting."""
    sc = spark.sparkContext
    slots = sc.defaultParallelism
    if parts > slots:
        raise ValueError(f"fit: the DataFrame has {parts} partitions but the cluster runs {slots} tasks at once; "
                         f"a barrier stage needs one slot per partition (repartition the data, or give num_workers)")


# ---------------------------------------------------------------- evaluate / predict
def evaluate(model, df, feature_cols, label_cols, batch_size, feature_shape=None, label_offset=0):
    """Loss and metrics over every row, each partition evaluated where it lies."""
    from pyspark.sql import types as T

    df, spec = make_spec(df, model, feature_cols, label_cols, feature_shape, label_offset)
    blob = pickle.dumps(model)

    @_in_task
    def run(batches):
        import pyarrow as pa

        rows = list(batches)
        x, y = spec.x(rows), spec.y(rows)
        if len(x) == 0:
            return
        logs = pickle.loads(blob)._trainer.evaluate(x, y, int(batch_size))
        yield pa.RecordBatch.from_arrays([pa.array([pickle.dumps((len(x), dict(logs)))], pa.binary())],
                                         names=["result"])

    schema = T.StructType([T.StructField("result", T.BinaryType())])
    try:
        parts = [pickle.loads(r["result"]) for r in
                 df.select(*(spec.feature_cols + spec.label_cols)).mapInArrow(run, schema).collect()]
    except Exception as e:  # noqa: BLE001
        rethrow_task_error(e)
    n = sum(p[0] for p in parts)
    if n == 0:
        raise ValueError("evaluate: the DataFrame has no rows")
    keys = parts[0][1].keys()
    return {k: sum(p[0] * p[1][k] for p in parts) / n for k in keys}


def predict(model, df, feature_cols, batch_size, prediction_col="prediction", feature_shape=None, post=None):
    """df with a prediction column added (a double for one output, else an array of
    floats); post(outputs) may turn the outputs into the column's values first."""
    import pyarrow as pa
    from pyspark.sql import types as T

    checked = check_columns(df, feature_cols, "predict")
    if prediction_col in df.columns:
        raise ValueError(f"predict: the DataFrame already has a column '{prediction_col}'")
    widths, first = _widths(checked, feature_cols)
    spec = Spec(feature_cols, [], widths, [], feature_shape, "values", 0)
    probe = np.asarray(model.predict(_first_x(first, feature_cols, feature_shape)))
    if post is not None:
        probe = post(probe)
    scalar = probe.ndim == 1 or probe.shape[1] == 1
    out_type = T.DoubleType() if scalar else T.ArrayType(T.FloatType())
    blob = pickle.dumps(model)
    # Features as arrays under hidden names (the caller's columns stay as they were).
    hidden = [f"__bigdl_f{i}" for i in range(len(feature_cols))]
    spec.feature_cols = hidden
    schema = T.StructType(df.schema.fields + [T.StructField(prediction_col, out_type)])
    with_features = _attach(df, checked, feature_cols, hidden)
    names = [f.name for f in df.schema.fields]

    @_in_task
    def run(batches):
        m = pickle.loads(blob)
        for b in batches:
            if b.num_rows == 0:
                continue
            out = m.predict(spec.x([b]), int(batch_size))
            if post is not None:
                out = post(out)
            col = pa.array(out.reshape(-1).astype(np.float64)) if scalar else \
                pa.array(list(out.reshape(len(out), -1).astype(np.float32)), pa.list_(pa.float32()))
            keep = [b.column(b.schema.get_field_index(n)) for n in names]
            yield pa.RecordBatch.from_arrays(keep + [col], names=names + [prediction_col])

    try:
        return with_features.mapInArrow(run, schema)
    except Exception as e:  # noqa: BLE001
        rethrow_task_error(e)


def _attach(df, checked, feature_cols, hidden):
    """df's columns plus the checked (array) feature columns under hidden names."""
    from pyspark.sql import functions as F

    if checked is df:
        return df.select("*", *[F.col(c).alias(h) for c, h in zip(feature_cols, hidden)])
    exprs = [F.col(c) for c in df.columns]
    from pyspark.ml.functions import vector_to_array
    from pyspark.ml.linalg import VectorUDT

    types = {f.name: f.dataType for f in df.schema.fields}
    for c, h in zip(feature_cols, hidden):
        exprs.append((vector_to_array(c, "float32") if isinstance(types[c], VectorUDT) else F.col(c)).alias(h))
    return df.select(*exprs)


def master_reachable(master, seconds=5.0):
    """spark://host:port[,host:port]: True when one of the masters accepts a TCP connection."""
    last = None
    for hp in master[len("spark://"):].split(","):
        host, _, port = hp.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=seconds):
                return True, ""
        except (OSError, ValueError) as e:
            last = e
    return False, str(last)
