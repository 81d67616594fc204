#!/usr/bin/env python3
"""bigdl-llm's quick start (BigDL 2.4 README, "Python API") on bigdl-cpp: the same script with
the import line changed. Run with the Python you installed bigdl_cpp into (`pip install .`),
or from a build tree with PYTHONPATH=build/python and Debian's /usr/bin/python3 (the extension
is built for it; python3-numpy):

    python examples/python/llm_quickstart.py [MODEL] [PROMPT]

MODEL: a GGUF file, an HF folder or a save_low_bit folder (default: SmolLM2-135M-Instruct
from scripts/get_smollm2.sh). Prints the answer and the load / first-token / decode times.
"""
import os
import sys
import time

# bigdl-llm:  from bigdl.llm.transformers import AutoModelForCausalLM
#             from transformers import AutoTokenizer   (HF folders; a GGUF needs ours)
from bigdl_cpp.llm.transformers import AutoModelForCausalLM, AutoTokenizer

model_path = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser(
    "~/.cache/bigdl-cpp/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
input_str = sys.argv[2] if len(sys.argv) > 2 else "What is the capital of France? Answer in one sentence."

t0 = time.perf_counter()
# load Hugging Face Transformers model with INT4 optimizations
model = AutoModelForCausalLM.from_pretrained(model_path, load_in_4bit=True)
t_load = time.perf_counter() - t0

# run the optimized model on CPU
tokenizer = AutoTokenizer.from_pretrained(model_path)
if tokenizer.chat_template:  # an instruct model answers best in its chat format
    input_ids = tokenizer.apply_chat_template([{"role": "user", "content": input_str}])
else:
    input_ids = tokenizer.encode(input_str)
t0 = time.perf_counter()
first = model.generate(input_ids, max_new_tokens=1)
t_first = time.perf_counter() - t0
t0 = time.perf_counter()
output_ids = model.generate(input_ids, max_new_tokens=64)
t_all = time.perf_counter() - t0
# (torch tensors when torch is installed, else NumPy arrays; the prompt comes back first)
output = tokenizer.batch_decode(output_ids[:, len(input_ids):], skip_special_tokens=True)
print(output[0].strip())
n_new = output_ids.shape[1] - len(input_ids)
print(f"[{model}] load {t_load:.2f} s, first token {t_first * 1e3:.1f} ms, "
      f"{n_new} tokens in {t_all:.2f} s", file=sys.stderr)
