"""XShards: data partitioned over Spark as pandas DataFrames (BigDL's bigdl.orca.data).

    from bigdl_cpp.orca.data import XShards
    from bigdl_cpp.orca.data.pandas import read_csv, read_parquet
    shards = read_csv("data/*.csv")                          # one pandas DataFrame per partition
    shards = shards.transform_shard(lambda df: df.assign(y=df.y - 1))
    df = shards.to_spark_df()                                # for Estimator.fit / NNEstimator
    XShards.partition({"x": x, "y": y}, num_shards=2)       # NumPy arrays -> shards of dicts

The Estimator takes XShards of pandas DataFrames (through to_spark_df).
"""
import numpy as np

__all__ = ["XShards"]


def _spark():
    from bigdl_cpp.orca import OrcaContext

    return OrcaContext.get_spark_session()


class XShards:
    """An RDD whose elements are the shards (pandas DataFrames or dicts of arrays), one per partition."""

    def __init__(self, rdd):
        self.rdd = rdd

    @staticmethod
    def partition(data, num_shards=None):
        """NumPy arrays (or a dict / tuple of them, split along dim 0) as num_shards shards
        (default: the context's parallelism); each shard holds the same structure."""
        sc = _spark().sparkContext
        n = num_shards or sc.defaultParallelism
        if isinstance(data, np.ndarray):
            parts = np.array_split(data, n)
        elif isinstance(data, dict):
            cols = {k: np.array_split(np.asarray(v), n) for k, v in data.items()}
            lens = {len(v) for v in data.values()}
            if len(lens) > 1:
                raise ValueError(f"XShards.partition: the arrays have different lengths {sorted(lens)}")
            parts = [{k: cols[k][i] for k in cols} for i in range(n)]
        elif isinstance(data, (tuple, list)):
            split = [np.array_split(np.asarray(v), n) for v in data]
            parts = [tuple(s[i] for s in split) for i in range(n)]
        else:
            raise TypeError(f"XShards.partition: expected arrays, a dict or a tuple of arrays, got {type(data).__name__}")
        return XShards(sc.parallelize(parts, n))

    def transform_shard(self, fn, *args):
        """A new XShards with fn(shard, *args) for every shard."""
        return XShards(self.rdd.map(lambda shard: fn(shard, *args)))

    def collect(self):
        return self.rdd.collect()

    def num_partitions(self):
        return self.rdd.getNumPartitions()

    def repartition(self, num_partitions):
        """Shards of pandas DataFrames re-cut into num_partitions (rows keep their order)."""
        import pandas as pd

        rows = self.rdd.flatMap(lambda df: [df]).collect()
        whole = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
        idx = np.array_split(np.arange(len(whole)), num_partitions)
        return XShards(_spark().sparkContext.parallelize([whole.iloc[i].reset_index(drop=True) for i in idx],
                                                         num_partitions))

    def to_spark_df(self):
        """The shards of pandas DataFrames as one Spark DataFrame, partitioned as the shards
        (array cells become array columns)."""
        import pandas as pd

        first = self.rdd.first()
        if not isinstance(first, pd.DataFrame):
            raise TypeError(f"XShards.to_spark_df: the shards must be pandas DataFrames, got {type(first).__name__}")
        schema = _spark().createDataFrame(first.head(1)).schema

        def rows(df):
            for rec in df.itertuples(index=False):
                yield tuple(v.tolist() if isinstance(v, np.ndarray) else (v.item() if hasattr(v, "item") else v)
                            for v in rec)

        return _spark().createDataFrame(self.rdd.flatMap(rows), schema)
