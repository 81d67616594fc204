"""bigdl-cpp: BigDL re-created in C++, reached from Python.

The module tree follows BigDL's (docs/python.md):

    bigdl_cpp.llm.transformers   low-bit LLMs with Hugging Face's API (AutoModelForCausalLM,
                                 from_pretrained / generate / save_low_bit / load_low_bit)
    bigdl_cpp.dllib.keras        Keras-style models of the core (Sequential / Model,
                                 compile / fit / evaluate / predict, callbacks)
    bigdl_cpp.dllib.nnframes     NNEstimator / NNClassifier in Spark ML pipelines
    bigdl_cpp.orca               init_orca_context, Estimator, XShards on Spark
    bigdl_cpp.chronos            TSDataset, forecasters, AutoTSEstimator, anomaly detectors
    bigdl_cpp.nano               InferenceOptimizer (fp32 fused, int8 Linear; docs/nano.md)
    .friesian, .ppml             recommendation, privacy: their Python APIs come with the
                                 issues that build them

The C++ engine is the extension bigdl_cpp._native; its long calls release the GIL.
"""
from bigdl_cpp._native import get_num_threads, set_num_threads

__version__ = "0.1.0"
__all__ = ["set_num_threads", "get_num_threads", "__version__"]
