"""Orca: distributed training where the data lives (BigDL's bigdl.orca; docs/spark.md).

    from bigdl_cpp.orca import init_orca_context, stop_orca_context, OrcaContext
    sc = init_orca_context(cluster_mode="local", cores=2)          # or "standalone", "spark-submit", "mpi"
    spark = OrcaContext.get_spark_session()
    from bigdl_cpp.orca.learn.estimator import Estimator
    est = Estimator.from_keras(model)                              # a compiled bigdl_cpp.dllib.keras model
    est.fit(df, epochs=5, batch_size=64, feature_cols=["x"], label_cols=["y"])
    est.evaluate(df, feature_cols=["x"], label_cols=["y"]); est.predict(df, feature_cols=["x"])

Training on a Spark DataFrame runs one barrier stage: a task per partition, each training
on its own rows with the C++ engine, synchronised over Gloo (bigdl_cpp.orca._spark).
"""
import os
import sys

__all__ = ["init_orca_context", "stop_orca_context", "OrcaContext"]


class OrcaContext:
    """The Spark session of init_orca_context (None in "mpi" mode)."""

    _spark = None
    cluster_mode = None

    @classmethod
    def get_spark_session(cls):
        if cls._spark is None:
            raise RuntimeError("OrcaContext: no Spark session; call init_orca_context first")
        return cls._spark

    @classmethod
    def get_spark_context(cls):
        return cls.get_spark_session().sparkContext


def _package_root():
    """The directory holding the bigdl_cpp package."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def init_orca_context(cluster_mode="local", cores=2, memory="2g", num_nodes=1, master=None, conf=None,
                      app_name="bigdl-cpp"):
    """Starts (or joins) Spark and returns its SparkContext.

    cluster_mode: "local" (Spark in this process, `cores` task slots), "standalone" (a
    standalone cluster at `master`, spark://host:port, or env SPARK_MASTER: num_nodes
    executors of `cores` cores and `memory`), "spark-submit" (the session spark-submit
    configured), "mpi" (no Spark: the Estimator trains NumPy / pandas data over the MPI job
    that mpirun started; returns None). conf: extra Spark settings. An unreachable master
    is a ConnectionError at once (Spark itself would retry for a minute)."""
    modes = ("local", "standalone", "spark-submit", "mpi")
    if cluster_mode not in modes:
        raise ValueError(f"init_orca_context: cluster_mode must be one of {', '.join(modes)}, got '{cluster_mode}'")
    for name, v in (("cores", cores), ("num_nodes", num_nodes)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"init_orca_context: {name} must be a positive integer, got {v!r}")
    OrcaContext.cluster_mode = cluster_mode
    if cluster_mode == "mpi":
        return None
    from pyspark.sql import SparkSession

    from bigdl_cpp.orca import _spark

    builder = SparkSession.builder.appName(app_name)
    if cluster_mode == "local":
        builder = builder.master(f"local[{cores}]")
    elif cluster_mode == "standalone":
        master = master or os.environ.get("SPARK_MASTER")
        if not master or not master.startswith("spark://"):
            raise ValueError(f"init_orca_context: standalone mode needs master='spark://host:port' "
                             f"(or env SPARK_MASTER), got {master!r}")
        ok, why = _spark.master_reachable(master)
        if not ok:
            raise ConnectionError(f"init_orca_context: cannot reach the Spark master {master} ({why})")
        builder = (builder.master(master).config("spark.executor.cores", str(cores))
                   .config("spark.cores.max", str(cores * num_nodes)).config("spark.executor.memory", memory)
                   .config("spark.default.parallelism", str(cores * num_nodes)))
    # The executors' Python is this one, and it finds this bigdl_cpp.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    path = os.pathsep.join([_package_root()] + [os.path.abspath(p) for p in
                                                os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    builder = (builder.config("spark.pyspark.python", sys.executable).config("spark.executorEnv.PYTHONPATH", path)
               .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
    for k, v in (conf or {}).items():
        builder = builder.config(k, str(v))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    OrcaContext._spark = spark
    return spark.sparkContext


def stop_orca_context():
    """Stops the Spark session of init_orca_context (nothing to do in "mpi" mode)."""
    if OrcaContext._spark is not None:
        OrcaContext._spark.stop()
        OrcaContext._spark = None
    OrcaContext.cluster_mode = None
