"""read_csv / read_parquet into XShards of pandas DataFrames (one per Spark partition)."""
from bigdl_cpp.orca.data import XShards, _spark

__all__ = ["read_csv", "read_parquet"]


def _files(path):
    import glob
    import os

    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if not f.startswith((".", "_")))
    else:
        files = sorted(glob.glob(path))
    if not files:
        raise FileNotFoundError(f"no files match '{path}'")
    return files


def read_csv(path, num_partitions=None, **kwargs):
    """CSV files (a path, a directory or a glob) as XShards: each file read by pandas.read_csv
    (kwargs passed on) on the executors, one shard per file unless num_partitions is given."""
    import pandas as pd

    files = _files(path)
    shards = XShards(_spark().sparkContext.parallelize(files, len(files)).map(lambda f: pd.read_csv(f, **kwargs)))
    return shards.repartition(num_partitions) if num_partitions else shards


def read_parquet(path, num_partitions=None, columns=None):
    """Parquet files as XShards of pandas DataFrames (pandas.read_parquet with pyarrow)."""
    import pandas as pd

    files = _files(path)
    shards = XShards(_spark().sparkContext.parallelize(files, len(files))
                     .map(lambda f: pd.read_parquet(f, columns=columns)))
    return shards.repartition(num_partitions) if num_partitions else shards
