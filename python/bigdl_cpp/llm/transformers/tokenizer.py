"""bigdl_cpp.llm.transformers.AutoTokenizer: the engine's own tokenizer with the part of
Hugging Face's tokenizer API that generation uses.

It reads what the model reads: a GGUF file's tokenizer.ggml.* metadata, an HF folder's
tokenizer.json (+ tokenizer_config.json), or a save_low_bit folder. HF's own AutoTokenizer
works on HF folders too; this one also serves GGUF files, which transformers 4.31 cannot
read.

Differences from HF's, on purpose: text is encoded with special-token text parsed (as
HF's default); decode() renders a leading BOS without the space SentencePiece's
legacy mode puts after it ("<s>Once" where HF writes "<s> Once"); padding is on the left (generation's side) unless padding_side is set.
"""
import numpy as np

from bigdl_cpp._native import llm as _llm

from ._tensors import AttrDict


class BatchEncoding(AttrDict):
    """input_ids and attention_mask, as a dict with attribute access (HF's BatchEncoding)."""

    def to(self, device):  # HF scripts call .to("cpu")
        return self


class Tokenizer:
    padding_side = "left"

    def __init__(self, native, path):
        self._tok = native
        self.name_or_path = path

    # --- ids and special tokens ------------------------------------------------------------
    @property
    def vocab_size(self):
        return self._tok.size

    def __len__(self):
        return self._tok.size

    def _id(self, i):
        return None if i < 0 else i

    @property
    def bos_token_id(self):
        return self._id(self._tok.bos_id)

    @property
    def eos_token_id(self):
        return self._id(self._tok.eos_id)

    @property
    def unk_token_id(self):
        return self._id(self._tok.unk_id)

    @property
    def pad_token_id(self):
        return self.eos_token_id  # generation pads finished rows with EOS, as HF does without a pad token

    @property
    def bos_token(self):
        return None if self.bos_token_id is None else self._tok.text(self.bos_token_id)

    @property
    def eos_token(self):
        return None if self.eos_token_id is None else self._tok.text(self.eos_token_id)

    @property
    def chat_template(self):
        return self._tok.chat_template or None

    def convert_tokens_to_ids(self, tokens):
        if isinstance(tokens, str):
            i = self._tok.find(tokens)
            return self.unk_token_id if i < 0 else i
        return [self.convert_tokens_to_ids(t) for t in tokens]

    def convert_ids_to_tokens(self, ids):
        if isinstance(ids, int):
            return self._tok.text(ids)
        return [self._tok.text(int(i)) for i in ids]

    # --- encode ----------------------------------------------------------------------------
    def encode(self, text, add_special_tokens=True, return_tensors=None):
        ids = self._tok.encode(text, add_special_tokens, True)
        if return_tensors is None:
            return ids
        return self._tensor(np.asarray([ids], dtype=np.int64), return_tensors)

    def __call__(self, text, add_special_tokens=True, return_tensors=None, padding=False, **kwargs):
        single = isinstance(text, str)
        rows = [self._tok.encode(t, add_special_tokens, True) for t in ([text] if single else text)]
        if single and return_tensors is None:
            return BatchEncoding(input_ids=rows[0], attention_mask=[1] * len(rows[0]))
        width = max((len(r) for r in rows), default=0)
        if return_tensors is None and not padding:
            return BatchEncoding(input_ids=rows, attention_mask=[[1] * len(r) for r in rows])
        if len({len(r) for r in rows}) > 1 and not padding:
            raise ValueError("[tokenizer] texts of different token lengths need padding=True to make a tensor")
        pad = self.pad_token_id if self.pad_token_id is not None else 0
        ids = np.full((len(rows), width), pad, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            s = slice(width - len(r), width) if self.padding_side == "left" else slice(0, len(r))
            ids[i, s] = r
            mask[i, s] = 1
        if return_tensors is None:
            return BatchEncoding(input_ids=ids.tolist(), attention_mask=mask.tolist())
        return BatchEncoding(input_ids=self._tensor(ids, return_tensors), attention_mask=self._tensor(mask, return_tensors))

    @staticmethod
    def _tensor(a, return_tensors):
        if return_tensors == "np":
            return a
        if return_tensors == "pt":
            import torch  # noqa: PLC0415

            return torch.from_numpy(a)
        raise ValueError(f"[tokenizer] return_tensors={return_tensors!r} is not supported (use 'pt', 'np' or None)")

    # --- decode ----------------------------------------------------------------------------
    def decode(self, token_ids, skip_special_tokens=False, **kwargs):
        if hasattr(token_ids, "tolist"):
            token_ids = token_ids.tolist()
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        ids = [int(i) for i in token_ids]
        # A leading BOS is decoded as HF does: its text (unless skipped), then the rest as a
        # text of its own (so SentencePiece's space prefix is removed, not kept).
        bos = ""
        if ids and ids[0] == self._tok.bos_id:
            bos = "" if skip_special_tokens else self._tok.text(ids[0])
            ids = ids[1:]
        return bos + self._tok.decode(ids, not skip_special_tokens)

    def batch_decode(self, sequences, skip_special_tokens=False, **kwargs):
        if hasattr(sequences, "tolist"):
            sequences = sequences.tolist()
        return [self.decode(s, skip_special_tokens) for s in sequences]

    # --- chat ------------------------------------------------------------------------------
    def apply_chat_template(self, conversation, tokenize=True, add_generation_prompt=True,
                            return_tensors=None, chat_template=None, **kwargs):
        """The conversation with the model's chat template. add_generation_prompt is always on
        (the engine's templates end with the assistant's turn opened); the BOS is left to
        encode() when the tokenizer adds one."""
        messages = [(m["role"], m["content"]) for m in conversation]
        text = self._tok.format_chat(messages, chat_template or "")
        if not tokenize:
            return text
        return self.encode(text, True, return_tensors)

    def __repr__(self):
        return f"bigdl_cpp Tokenizer({self.name_or_path!r}, vocab_size={self.vocab_size})"


class AutoTokenizer:
    """AutoTokenizer.from_pretrained(path): the tokenizer of a GGUF file, HF folder or
    save_low_bit folder (one-line ValueError / OSError when there is none)."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        path = str(pretrained_model_name_or_path)
        return Tokenizer(_llm.Tokenizer(path), path)


__all__ = ["AutoTokenizer", "Tokenizer", "BatchEncoding"]
