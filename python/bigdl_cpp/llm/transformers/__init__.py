"""bigdl_cpp.llm.transformers: bigdl-llm's Hugging Face-style API on bigdl-cpp's engine.

    from bigdl_cpp.llm.transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained("SmolLM2-135M-Instruct.Q4_1.gguf", load_in_4bit=True)
    tokenizer = AutoTokenizer.from_pretrained("SmolLM2-135M-Instruct.Q4_1.gguf")
    ids = tokenizer.encode("Once upon a time", return_tensors="pt")
    print(tokenizer.batch_decode(model.generate(ids, max_new_tokens=32))[0])

docs/python.md has the whole API and where it differs from transformers.
"""
from .model import AutoModel, AutoModelForCausalLM, LowBitModel, ModelConfig
from .tokenizer import AutoTokenizer, BatchEncoding, Tokenizer

__all__ = ["AutoModelForCausalLM", "AutoModel", "AutoTokenizer", "LowBitModel", "ModelConfig", "Tokenizer",
           "BatchEncoding"]
