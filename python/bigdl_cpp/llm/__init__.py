"""bigdl_cpp.llm: bigdl-llm on bigdl-cpp's engine (docs/python.md).

    from bigdl_cpp.llm.transformers import AutoModelForCausalLM, AutoTokenizer
"""
from bigdl_cpp._native.llm import low_bit_names, supported_architectures

__all__ = ["low_bit_names", "supported_architectures"]
