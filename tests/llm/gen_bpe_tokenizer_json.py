#!/usr/bin/env python3
"""Fixtures for the byte-level BPE tokenizer.json tests (tests/llm/test_tokenizer_json.cpp,
TokenizerJsonBpe.*): the tokenizer.json definitions of Falcon, StarCoder, GPT-NeoX (MPT,
Pythia, OLMo) and Bloom, and the ids Hugging Face `tokenizers` gives for llama.cpp's test
strings with each.

How to run (from the repository root, the venv of tests/llm/gen_arch_golden.py, which
scripts/make_ref_venvs.sh hf creates):

    ~/.cache/bigdl-cpp/venv/hf/bin/python tests/llm/gen_bpe_tokenizer_json.py [SHARED_DATA_DIR]

Where the vocabularies come from. No tokenizer.json of these models can be downloaded here,
so each is rebuilt from llama.cpp's ggml-vocab-<name>.gguf (tokens, merges and token types,
copied by llama.cpp's converter from the model's tokenizer.json); Bloom, whose vocabulary is
not in the shared data, gets GPT-2's. The pre-tokenizer, normalizer, decoder and added
tokens are written as the models' own tokenizer.json define them (falcon-7b:
Sequence[Punctuation, ByteLevel, Digits, Split "[0-9][0-9][0-9]"]; starcoder:
Sequence[Digits(individual), ByteLevel]; gpt-neox-20b: NFC + ByteLevel; bloom:
Sequence[Split " ?[^(\\s|[.,!?…。，、।۔،])]+", ByteLevel(use_regex false)]). `tokenizers`
0.20.3 then encodes the strings.

Outputs in tests/llm/fixtures/bpe_tokenizers/:
  <name>.def.json   the tokenizer.json without model.vocab / model.merges, plus "vocab_gguf":
                    the shared GGUF the test fills them from (so the fixture stays small)
  <name>.ids.json   {"strings": [...], "ids": [[...], ...]} (add_special_tokens=False)
"""
import json
import os
import sys

from gguf import GGUFReader
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "bpe_tokenizers")
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.dirname(HERE)), "..", "shared",
                                                            "data")

BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
DEFS = {
    "falcon": ("ggml-vocab-falcon.gguf", None,
               {"type": "Sequence", "pretokenizers": [
                   {"type": "Punctuation", "behavior": "Contiguous"}, BYTE_LEVEL,
                   {"type": "Digits", "individual_digits": False},
                   {"type": "Split", "pattern": {"Regex": "[0-9][0-9][0-9]"}, "behavior": "Isolated",
                    "invert": False}]}),
    "starcoder": ("ggml-vocab-starcoder.gguf", None,
                  {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, BYTE_LEVEL]}),
    "gpt-neox": ("ggml-vocab-mpt.gguf", {"type": "NFC"}, BYTE_LEVEL),
    "bloom": ("ggml-vocab-gpt-2.gguf", None,
              {"type": "Sequence", "pretokenizers": [
                  {"type": "Split", "pattern": {"Regex": " ?[^(\\s|[.,!?…。，、।۔،])]+"}, "behavior": "Isolated",
                   "invert": False},
                  dict(BYTE_LEVEL, use_regex=False)]}),
}


def field(r, key):
    f = r.fields[key]
    if len(f.data) == 1 and f.types[0].name != "ARRAY":
        return f.parts[f.data[0]].tolist()[0]
    return [bytes(f.parts[i]).decode("utf-8") if f.types[-1].name == "STRING" else f.parts[i].tolist()[0]
            for i in f.data]


def strings():
    inp = open(os.path.join(SHARED, "tokenizers", "ggml-vocab", "ggml-vocab-gpt-2.gguf.inp"), encoding="utf-8").read()
    out = inp.split("\n__ggml_vocab_test__\n")[:-1]
    return out + ["Hello, world! 12345 and 1234567", "tabs\tand\nnewlines\r\n", "   leading spaces", "ümlaut café",
                  "中文和日本語", "email@example.com #tag $100 a+b=c <tag>", "x" * 40]


def main():
    os.makedirs(OUT, exist_ok=True)
    texts = strings()
    for name, (gguf_name, normalizer, pre) in DEFS.items():
        r = GGUFReader(os.path.join(SHARED, "tokenizers", "ggml-vocab", gguf_name))
        tokens = field(r, "tokenizer.ggml.tokens")
        types = field(r, "tokenizer.ggml.token_type")
        merges = field(r, "tokenizer.ggml.merges")
        added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": ty == 4, "special": ty == 3}
                 for i, (t, ty) in enumerate(zip(tokens, types)) if ty in (3, 4)]
        definition = {
            "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": normalizer, "pre_tokenizer": pre, "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False},
        }
        full = json.loads(json.dumps(definition))
        full["model"]["vocab"] = {t: i for i, t in enumerate(tokens)}
        full["model"]["merges"] = merges
        tok = Tokenizer.from_str(json.dumps(full))
        ids = [tok.encode(t, add_special_tokens=False).ids for t in texts]
        definition["vocab_gguf"] = "tokenizers/ggml-vocab/" + gguf_name
        with open(os.path.join(OUT, name + ".def.json"), "w", encoding="utf-8") as f:
            json.dump(definition, f, ensure_ascii=False, indent=1)
            f.write("\n")
        with open(os.path.join(OUT, name + ".ids.json"), "w", encoding="utf-8") as f:
            json.dump({"tokenizers": __import__("tokenizers").__version__, "strings": texts, "ids": ids}, f,
                      ensure_ascii=False, separators=(",", ":"))
            f.write("\n")
        print(f"{name}: {len(tokens)} tokens, {len(merges)} merges, {len(added)} added, {len(texts)} strings")


if __name__ == "__main__":
    main()
