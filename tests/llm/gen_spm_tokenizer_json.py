#!/usr/bin/env python3
"""Fixture for the SentencePiece-style tokenizer.json tests (tests/llm/test_tokenizer_json.cpp,
TokenizerJsonSpm.*): a Llama 2 tokenizer.json made by transformers' own converter, and the
token ids Hugging Face `tokenizers` and `sentencepiece` give for llama.cpp's test strings.

How to run (from the repository root; the venv scripts/make_ref_venvs.sh hf creates:
Debian's python with transformers 4.46.3, tokenizers 0.20.3, sentencepiece 0.2.0, protobuf):

    ~/.cache/bigdl-cpp/venv/hf/bin/python tests/llm/gen_spm_tokenizer_json.py [SHARED_DATA_DIR]

SHARED_DATA_DIR defaults to ../shared/data next to the repository. Rerunning rewrites the
files below byte for byte.

Where the tokenizer comes from. No Llama 2 tokenizer.model can be downloaded here, so one
is rebuilt from llama.cpp's ggml-vocab-llama-spm.gguf, which holds exactly what the model
file holds for encoding: the 32000 pieces with their scores and types (copied by llama.cpp's
converter from Meta's tokenizer.model). The SentencePiece ModelProto gets Llama 2's settings:
BPE, byte_fallback, unk/bos/eos = 0/1/2, normalizer "identity" with add_dummy_prefix and
without remove_extra_whitespaces. transformers' LlamaTokenizerFast(from_slow=True) then
converts it exactly as it converts Meta's file (LlamaConverter: merges from
SentencePieceExtractor, every pair of pieces whose concatenation is a piece, ordered by the
merged piece's score).

Outputs in tests/llm/fixtures/spm_tokenizer/:

  tokenizer.json.gz      the tokenizer.json of save_pretrained, without indentation (legacy=True: normalizer
                         Sequence[Prepend("▁"), Replace(" ", "▁")], no pre-tokenizer, decoder
                         Sequence[Replace("▁", " "), ByteFallback, Fuse, Strip(" ", 1, 0)]),
                         gzip'd (mtime 0): 1.26 MB -> 0.47 MB
  tokenizer_config.json  what save_pretrained writes beside it
  encodings.json         {"strings": the 46 strings of ggml-vocab-llama-spm.gguf.inp then
                         EXTRA, "n_llama_cpp": 46, "sentencepiece": ids per string,
                         "flavours": {name: {"ids": ..., "decoded": ...}}} with the
                         `tokenizers` ids (no special tokens added; added tokens such as <s>
                         in the text are matched) and tokenizers' decode of those ids.

Flavours (the C++ test derives 2 and 3 from the file by the same JSON edits):

  legacy           the file as written
  metaspace_first  normalizer null, pre_tokenizer Metaspace(prepend_scheme "first",
                   split false): what transformers writes with legacy=False (checked here:
                   its JSON equals the legacy file with these two edits)
  metaspace_split  normalizer null, pre_tokenizer Metaspace(prepend_scheme "always",
                   split true): the older Metaspace form (each "▁" starts a new word)

The script asserts that sentencepiece and the legacy file agree with llama.cpp's .out on all
46 strings; metaspace_first differs on the strings that start with a space (Metaspace does not
prepend "▁" to text that already starts with one).
"""
import gzip
import io
import json
import os
import shutil
import struct
import sys
import tempfile

import sentencepiece as spm
import tokenizers
import transformers
from transformers import LlamaTokenizerFast
from transformers.convert_slow_tokenizer import import_protobuf

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "spm_tokenizer")

# Beyond llama.cpp's strings: added tokens in the text (matched by HF always, by our encode
# with parse_special), the space after an added token, an empty text, U+00A0, CRLF, and a
# character that is not a piece (byte fallback).
EXTRA = ["", "Hello<s>world", "a</s> b", "<s> <unk>x", " <s>  x </s>", "\u00a0a\r\nb",
         "\U0001F999 llama", "  <s>"]


def read_gguf_metadata(path):
    """The key/value metadata of a GGUF v2/v3 file (no tensors needed)."""
    with open(path, "rb") as f:
        b = f.read()
    assert b[:4] == b"GGUF", path
    _, _, n_kv = struct.unpack_from("<IQQ", b, 4)
    off = 24
    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
              11: "<q", 12: "<d"}

    def take(fmt):
        nonlocal off
        v = struct.unpack_from(fmt, b, off)[0]
        off += struct.calcsize(fmt)
        return v

    def string():
        nonlocal off
        n = take("<Q")
        s = b[off:off + n].decode("utf-8")
        off += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(scalar[t])

    meta = {}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(take("<I"))
    return meta


def sentencepiece_model(meta):
    pb = import_protobuf()
    m = pb.ModelProto()
    for piece, score, kind in zip(meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.scores"],
                                  meta["tokenizer.ggml.token_type"]):
        p = m.pieces.add()
        p.piece, p.score, p.type = piece, score, kind  # GGUF token types are SentencePiece's
    t = m.trainer_spec
    t.model_type = pb.TrainerSpec.BPE
    t.vocab_size = len(m.pieces)
    t.byte_fallback = True
    t.unk_id, t.bos_id, t.eos_id, t.pad_id = 0, 1, 2, -1
    n = m.normalizer_spec
    n.name = "identity"
    n.add_dummy_prefix = True
    n.remove_extra_whitespaces = False
    n.escape_whitespaces = True
    return m.SerializeToString()


def metaspace(j, scheme, split):
    j = json.loads(json.dumps(j))
    j["normalizer"] = None
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": scheme,
                          "split": split}
    return j


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared", "data")
    base = os.path.join(data, "tokenizers", "ggml-vocab", "ggml-vocab-llama-spm.gguf")
    meta = read_gguf_metadata(base)
    with open(base + ".inp", encoding="utf-8", newline="") as f:
        strings = f.read().split("\n__ggml_vocab_test__\n")[:-1]
    with open(base + ".out", encoding="utf-8") as f:
        llama_cpp = [[int(x) for x in line.split()] for line in f.read().split("\n")[:len(strings)]]
    assert len(strings) == 46, len(strings)

    tmp = tempfile.mkdtemp()
    try:
        model_file = os.path.join(tmp, "tokenizer.model")
        with open(model_file, "wb") as f:
            f.write(sentencepiece_model(meta))
        sp = spm.SentencePieceProcessor(model_file=model_file)
        fast = {legacy: LlamaTokenizerFast(vocab_file=model_file, from_slow=True, legacy=legacy,
                                           add_prefix_space=True) for legacy in (True, False)}
        saved = os.path.join(tmp, "saved")
        fast[True].save_pretrained(saved, legacy_format=False)
        with open(os.path.join(saved, "tokenizer.json"), "rb") as f:
            saved_json = json.loads(f.read())
        with open(os.path.join(saved, "tokenizer_config.json"), "rb") as f:
            tokenizer_config = f.read()
    finally:
        shutil.rmtree(tmp)

    # The compact form of the same JSON (save_pretrained indents it: 3.6 MB instead of 1.3).
    tokenizer_json = fast[True].backend_tokenizer.to_str().encode("utf-8")
    legacy = json.loads(tokenizer_json)
    assert legacy == saved_json
    non_legacy = json.loads(fast[False].backend_tokenizer.to_str())
    assert non_legacy == metaspace(legacy, "first", False), "transformers' legacy=False file differs"
    flavours = {"legacy": legacy, "metaspace_first": metaspace(legacy, "first", False),
                "metaspace_split": metaspace(legacy, "always", True)}

    all_strings = strings + EXTRA
    sp_ids = [sp.encode(s) for s in all_strings]
    records = {}
    for name, j in flavours.items():
        tok = tokenizers.Tokenizer.from_str(json.dumps(j))
        ids = [tok.encode(s, add_special_tokens=False).ids for s in all_strings]
        records[name] = {"ids": ids, "decoded": [tok.decode(x) for x in ids]}
        agree = sum(a == b for a, b in zip(ids, llama_cpp))
        print(f"{name}: {agree}/46 equal to llama.cpp")
    assert sp_ids[:46] == llama_cpp, "sentencepiece disagrees with llama.cpp"
    assert records["legacy"]["ids"][:46] == llama_cpp, "legacy tokenizer.json disagrees with llama.cpp"
    assert records["legacy"]["decoded"][:46] == strings, "legacy tokenizer.json does not round-trip"

    os.makedirs(OUT, exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as g:
        g.write(tokenizer_json)
    with open(os.path.join(OUT, "tokenizer.json.gz"), "wb") as f:
        f.write(buf.getvalue())
    with open(os.path.join(OUT, "tokenizer_config.json"), "wb") as f:
        f.write(tokenizer_config)
    enc = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
           "sentencepiece": spm.__version__, "strings": all_strings, "n_llama_cpp": 46,
           "sentencepiece_ids": sp_ids, "flavours": records}
    with open(os.path.join(OUT, "encodings.json"), "w", encoding="utf-8") as f:
        json.dump(enc, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    for x in os.listdir(OUT):
        os.chmod(os.path.join(OUT, x), 0o644)
    print(f"tokenizer.json {len(tokenizer_json)} bytes -> {len(buf.getvalue())} gzip'd; "
          f"{len(legacy['model']['merges'])} merges")


if __name__ == "__main__":
    main()
