// Tokenizers read from GGUF metadata (the tokenizer.ggml.* keys) or a Hugging Face
// tokenizer.json, matching llama.cpp's and HF's tokenizers token for token (checked
// against llama.cpp's own test vectors and HF tokenizers' ids, see docs/tokenizer.md).
//
// Three models, chosen by tokenizer.ggml.model (or the tokenizer.json's model):
//
//  * "llama": SentencePiece BPE (Llama 1/2, Phi-3, TinyLlama, llama2.c's stories models).
//    Spaces become U+2581 '▁', a '▁' is prepended (add_space_prefix), the text is split
//    into UTF-8 characters and the adjacent pair whose concatenation is a vocabulary token
//    with the highest score is merged until no pair merges (ties: leftmost). A character
//    left over that is not a token becomes its UTF-8 bytes as <0xNN> byte tokens.
//  * "gpt2": byte-level BPE (GPT-2, Llama 3, Qwen2, Falcon, MPT, StarCoder, ...). The text
//    is cut into words by the pre-tokenizer (tokenizer.ggml.pre: a list of regexes,
//    llama.cpp's names; llm/pre_tokenizer.h), each word's bytes are mapped to printable code
//    points (GPT-2's bytes_to_unicode), and the adjacent pair with the lowest rank in
//    tokenizer.ggml.merges is merged until none is.
//  * "bert": WordPiece (BERT, all-MiniLM, bge). The text is cleaned, CJK characters are
//    spaced, it is lower-cased with accents stripped, split at whitespace and punctuation,
//    and each word is matched greedily longest-first against the vocabulary (a word's
//    first piece as "▁piece", later ones as "piece": llama.cpp's GGUF form of HF's
//    "piece" / "##piece"); a word that cannot be matched, or is longer than 100
//    characters, is [UNK].
//
// Metadata read: tokenizer.ggml.model, .tokens (required), .scores, .token_type, .merges
// (gpt2, required), .pre, .bos_token_id, .eos_token_id, .unknown_token_id,
// .seperator_token_id (sic), .padding_token_id, .add_bos_token, .add_eos_token,
// .add_space_prefix, tokenizer.chat_template. Token types follow llama.cpp: 1 normal,
// 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
//
// Hugging Face tokenizers: load_tokenizer_json() reads tokenizer.json (model.vocab,
// model.merges as "a b" strings or [a, b] lists, added_tokens, normalizer, pre_tokenizer,
// post_processor, decoder) and, when present next to it, tokenizer_config.json
// (bos_token, eos_token, add_bos_token, add_eos_token, chat_template). Accepted
// (docs/tokenizer.md):
//
//  * byte-level BPE: kind() == Bpe, as from a GGUF "gpt2" vocab; the pre-tokenizer is the
//    ByteLevel regex or the Split regexes of a Sequence (any regex PCRE2 compiles);
//  * SentencePiece-style BPE (Llama 2, Mistral, TinyLlama: model.byte_fallback = true):
//    kind() == Spm. Spaces become '▁' (normalizer Replace(" ", "▁") with an optional
//    Prepend("▁"), or a Metaspace pre-tokenizer), pairs merge by their rank in
//    model.merges (as HF's BPE, not by score), characters that are not tokens become
//    <0xNN> byte tokens. decode() follows HF's decoder: special tokens are dropped and one
//    leading space of the whole text is removed when the decoder ends with Strip(" ", 1).
//  * WordPiece (model.type "WordPiece", BertNormalizer, BertPreTokenizer): kind() == Wpm.
//
// Special tokens: encode(text, add_special) adds what the vocabulary asks for, as
// llama.cpp's add_special: BOS when add_bos() and EOS when add_eos() (WordPiece: [CLS]
// before and [SEP] after). A tokenizer.json's post_processor (TemplateProcessing,
// BertProcessing, RobertaProcessing) decides add_bos / add_eos, then tokenizer_config.json's
// add_bos_token / add_eos_token where it says nothing (llama.cpp's converter's rule).
//
// A gzip'd tokenizer.json (by its magic bytes, any file name) is read the same way.
//
// Errors: bad metadata throws bigdl::FormatError "[vocab] <file>: metadata key
// 'tokenizer.ggml.tokens' missing" / "[vocab] <dir>/tokenizer.json: field 'model.vocab'
// missing" / "[vocab] <file>: tokenizer.ggml.pre 'x' is not supported (supported: ...)";
// an id outside [0, size()) throws bigdl::IndexError.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace bigdl::io {
class GgufFile;
class GgufWriter;
}
namespace bigdl::llm::detail {
class PreTokenizer;
struct TokenizerJson;  // tokenizer_json.cpp
}

namespace bigdl::llm {

using TokenId = int32_t;

enum class TokenType : int32_t {
  Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

enum class VocabKind { Spm, Bpe, Wpm };  // tokenizer.ggml.model "llama" / "gpt2" / "bert"

class Vocab {
 public:
  // Reads the tokenizer from a parsed GGUF (model, vocab-only or full).
  explicit Vocab(const io::GgufFile& file);
  // Opens path and reads its tokenizer: a GGUF file, or a directory holding
  // tokenizer.json (a Hugging Face checkpoint folder), read by load_tokenizer_json.
  static Vocab load(const std::string& path);
  // Reads a Hugging Face tokenizer.json (path to the file, or the directory holding it)
  // and the tokenizer_config.json beside it when there is one.
  static Vocab load_tokenizer_json(const std::string& path);

  VocabKind kind() const { return kind_; }
  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  TokenId bos_id() const { return bos_id_; }  // -1 when the model has none
  TokenId eos_id() const { return eos_id_; }
  TokenId unk_id() const { return unk_id_; }
  TokenId sep_id() const { return sep_id_; }  // WordPiece's [SEP]
  bool add_bos() const { return add_bos_; }                    // default: true for llama and bert
  bool add_eos() const { return add_eos_; }                    // default: false
  // Whether encode() prepends a space (for a tokenizer.json, where: docs/tokenizer.md).
  bool add_space_prefix() const { return add_space_prefix_; }  // default: true for llama
  // The byte-level BPE pre-tokenizer's llama.cpp name ("gpt-2", "llama-bpe", "qwen2", ...);
  // "" for other models, or a tokenizer.json regex list llama.cpp has no name for.
  const std::string& pre_tokenizer() const;
  // The Jinja chat template (GGUF tokenizer.chat_template or tokenizer_config.json's
  // chat_template); "" when the model has none. See bigdl/llm/chat.h.
  const std::string& chat_template() const { return chat_template_; }

  // The token's raw text as stored ("▁the", "<0x0A>", "Ġthe"), its score and type.
  const std::string& text(TokenId id) const;
  float score(TokenId id) const;
  TokenType type(TokenId id) const;
  // The id whose text is exactly `text`, or -1.
  TokenId find(std::string_view text) const;

  // Text -> ids, as llama.cpp's llama_tokenize(text, add_special, parse_special): with
  // add_special, a BOS first when add_bos() and an EOS last when add_eos() (WordPiece:
  // [CLS] ... [SEP]). User-defined tokens are always matched in the text as whole tokens;
  // control and unknown tokens ("<s>", "<|end|>") only when parse_special. Empty text
  // gives [] (just the special tokens with add_special, as llama.cpp and SentencePiece).
  std::vector<TokenId> encode(std::string_view text, bool add_special = false,
                              bool parse_special = false) const;

  // The bytes one token stands for: "▁" -> ' ' (llama), <0xNN> -> that byte, GPT-2's
  // byte code points -> bytes, control tokens -> "" (or their text when render_special),
  // user-defined tokens -> their text. Byte tokens may give incomplete UTF-8.
  std::string token_to_piece(TokenId id, bool render_special = false) const;

  // Writes the tokenizer as GGUF metadata (tokenizer.ggml.*, tokenizer.chat_template), as
  // llama.cpp reads it: model "llama" (SentencePiece-style; a tokenizer.json's merge ranks
  // become scores, score = -(rank + 1), so score-ordered merging reproduces rank order) or
  // "gpt2" with the pre-tokenizer's llama.cpp name and the merges in rank order. Token ids
  // a tokenizer.json leaves unnamed become "[PAD<id>]" of type unused, as llama.cpp's
  // converter writes them. Vocab(file) of the result encodes as this vocab does.
  void write_gguf(io::GgufWriter& w) const;

  // Ids -> text, as llama.cpp's detokenize(remove_special = true, unparse_special =
  // render_special): the pieces concatenated, a leading BOS dropped; with
  // add_space_prefix, one leading space of the first piece is removed (the space
  // encode() prepended) unless a BOS was dropped (llama.cpp keeps it then). So
  // decode(encode(s)) == s and decode(encode(s, true)) == " " + s for llama vocabs;
  // decode(encode(s, b)) == s for gpt2 (valid UTF-8 s without special-token text).
  // A vocab from tokenizer.json decodes as HF's tokenizer.decode(ids) instead: control
  // tokens give "" and the decoder's Strip removes one leading space of the whole text,
  // so decode(encode(s, true)) == s for a Llama 2 tokenizer.json.
  std::string decode(const std::vector<TokenId>& ids, bool render_special = false) const;

 private:
  friend class StreamDecoder;
  friend struct detail::TokenizerJson;
  Vocab() = default;
  void index_tokens();  // token_to_id_, byte_tokens_, special_tokens_ from tokens_/types_
  std::vector<TokenId> encode_spm(const std::string& text) const;
  void encode_spm_fragment(std::string text, bool text_start, std::vector<TokenId>& out) const;
  void encode_bpe(const std::string& text, std::vector<TokenId>& out) const;
  void encode_wpm(const std::string& text, std::vector<TokenId>& out) const;
  TokenId byte_token(uint8_t byte) const;
  void check_id(TokenId id) const;

  VocabKind kind_ = VocabKind::Spm;
  std::string name_;  // the GGUF's file name, for messages
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<TokenType> types_;
  std::unordered_map<std::string, TokenId> token_to_id_;
  std::unordered_map<std::string, int32_t> merge_rank_;  // "left\xffright" -> rank (gpt2)
  std::vector<TokenId> byte_tokens_;                      // byte -> id, -1 when none
  std::vector<TokenId> special_tokens_;  // user-defined + control, longest text first
  TokenId bos_id_ = -1, eos_id_ = -1, unk_id_ = -1, sep_id_ = -1, pad_id_ = -1;
  bool add_bos_ = false;
  bool add_eos_ = false;
  // Spm: where encode() puts the '▁' prefix. GGUF (llama.cpp) and HF's Prepend normalizer:
  // before every text fragment (the text's start and after each special token). HF's
  // Metaspace pre-tokenizer: never before a fragment that already starts with a space, and
  // with prepend_scheme "first" only at the text's start.
  enum class SpacePrefix { None, EveryFragment, FirstUnlessSpace, EveryUnlessSpace };
  SpacePrefix space_prefix_ = SpacePrefix::None;
  bool add_space_prefix_ = false;  // space_prefix_ != None
  bool strip_space_ = false;       // decode() removes one leading space (the prefix)
  bool hf_decode_ = false;         // decode() as HF: strip_space_ applies to the whole text
  bool metaspace_split_ = false;   // Spm tokenizer.json: every '▁' starts a new word
  bool fuse_unk_ = false;          // Spm tokenizer.json: adjacent unknown characters give one unk
  std::shared_ptr<const detail::PreTokenizer> pre_;  // Bpe
  bool ignore_merges_ = false;  // a word that is a token is taken whole (Llama 3)
  bool nfc_ = false;            // Bpe tokenizer.json: an NFC normalizer (Qwen2)
  bool lowercase_ = true;       // Wpm: BertNormalizer's lowercase
  bool strip_accents_ = true;   // Wpm: ... and strip_accents
  size_t max_token_len_ = 0;    // Wpm: the longest token's bytes
  std::string chat_template_;
};

// Turns a stream of ids (as a model generates them) into text, emitting only complete
// UTF-8 sequences: bytes of a character split over several byte tokens are held back
// until the character is whole. at_start: the ids begin a text, so decode()'s rules for
// a leading BOS and the first piece's space apply (pushing all of x gives decode(x));
// false when they continue a prompt, where every piece is kept whole. Control tokens
// give "". Holds a reference to the Vocab, which must outlive it.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Vocab& vocab, bool at_start = true)
      : vocab_(vocab), first_(at_start) {}
  // The text that became complete with this token (possibly "").
  std::string push(TokenId id);
  // Whatever is held back (an unfinished UTF-8 sequence, emitted as is); resets state.
  std::string flush();

 private:
  const Vocab& vocab_;
  std::string pending_;
  bool first_ = true;  // the next token is the first of the text
};

}  // namespace bigdl::llm
