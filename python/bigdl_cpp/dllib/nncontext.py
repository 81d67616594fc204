"""init_nncontext (bigdl.dllib.nncontext): a Spark context for DLlib, through Orca's."""
from bigdl_cpp.orca import init_orca_context, stop_orca_context

__all__ = ["init_nncontext", "stop_nncontext"]


def init_nncontext(conf=None, cluster_mode="local", cores=2, memory="2g", num_nodes=1, master=None):
    """The SparkContext (started if needed): init_orca_context's modes and settings; conf: a
    dict of Spark settings or a SparkConf."""
    if conf is not None and not isinstance(conf, dict):
        conf = dict(conf.getAll())
    return init_orca_context(cluster_mode=cluster_mode, cores=cores, memory=memory, num_nodes=num_nodes,
                             master=master, conf=conf)


def stop_nncontext():
    stop_orca_context()
