#!/usr/bin/env python3
"""Reference sentence embeddings of all-MiniLM-L6-v2 for tests/llm/test_embed.cpp: 50
sentences, their token ids from Hugging Face tokenizers (the model's own tokenizer.json)
and their embeddings from sentence-transformers (mean pooling, L2-normalized, as the
model's modules.json says).

How to run (from the repository root; the venv of tests/llm/gen_arch_golden.py, which
scripts/make_ref_venvs.sh creates, plus sentence-transformers):

    ~/.cache/bigdl-cpp/venv/hf/bin/python tests/llm/gen_minilm_golden.py "$(scripts/get_minilm.sh)"

Writes tests/llm/fixtures/minilm/golden.json: {"sentence_transformers", "transformers",
"torch", "sentences": [50], "ids": [[...] x 50] (with [CLS] / [SEP]), "embeddings":
[[384] x 50] (rounded to 7 decimals)}. CPU, float32, deterministic.
"""
import json
import os
import sys

import sentence_transformers
import torch
import transformers
from sentence_transformers import SentenceTransformer

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "minilm", "golden.json")

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "The new movie is awesome!",
    "The cat sits outside.",
    "The new movie is so great.",
    "Do you like pizza?",
    "I love pasta.",
    "How do I reset my password?",
    "Forgot my login credentials, what should I do?",
    "The quick brown fox jumps over the lazy dog.",
    "Machine learning models need lots of data.",
    "Deep learning is a subset of machine learning.",
    "Spark distributes computation over a cluster.",
    "INT4 quantization shrinks a model to a quarter of its size.",
    "What is the capital of France?",
    "Paris is the capital and most populous city of France.",
    "Berlin is the capital of Germany.",
    "The weather today is sunny with a light breeze.",
    "It will rain tomorrow afternoon.",
    "Stock markets fell sharply on Monday.",
    "The central bank raised interest rates by 0.25%.",
    "She scored 3 goals in the 2nd half!",
    "Call me at 555-0100 or e-mail bob@example.com.",
    "Visit https://example.org/docs?id=42 for details.",
    "C++20 adds concepts, ranges and coroutines.",
    "def f(x): return x ** 2",
    "Café, naïve, résumé and façade keep their accents.",
    "ÜBER ALLES: Straße und Größe.",
    "Ελληνικά γράμματα και λέξεις.",
    "Привет, как дела?",
    "这是一个中文句子。",
    "日本語の文章もあります。",
    "한국어 문장입니다.",
    "emoji 🚀 and symbols ™ © ®",
    "Tabs\tand\nnewlines\r\nmix here.",
    "   leading and trailing spaces   ",
    "UPPER CASE SENTENCE WITH SHOUTING",
    "unbelievably antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "a",
    "!!!???...",
    "The patient was prescribed 20 mg of the drug twice daily.",
    "Photosynthesis converts light energy into chemical energy in plants, releasing oxygen as a "
    "by-product; the process takes place in the chloroplasts, using chlorophyll to absorb mostly "
    "blue and red light, and it is the basis of nearly every food chain on Earth.",
    "I'm sure we'll be fine, won't we? They've said so.",
]


def main():
    model_dir = sys.argv[1]
    assert len(SENTENCES) == 50
    torch.manual_seed(0)
    model = SentenceTransformer(model_dir, device="cpu")
    emb = model.encode(SENTENCES, batch_size=8, convert_to_numpy=True, normalize_embeddings=False)
    ids = [model.tokenizer(s)["input_ids"] for s in SENTENCES]
    golden = {
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "sentences": SENTENCES,
        "ids": ids,
        "embeddings": [[round(float(x), 7) for x in row] for row in emb],
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"{OUT}: {len(SENTENCES)} sentences, dim {emb.shape[1]}, norms {[round(float(n), 4) for n in (emb ** 2).sum(1)[:3]]}")


if __name__ == "__main__":
    main()
