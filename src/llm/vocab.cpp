// Vocabularies: GGUF loading and writing, encoding (SentencePiece BPE, byte-level BPE,
// WordPiece) and decoding. See include/bigdl/llm/vocab.h; tokenizer.json is read by
// tokenizer_json.cpp, the pre-tokenizers live in pre_tokenizer.cpp, Unicode in unicode.cpp.
#include "bigdl/llm/vocab.h"

#include <algorithm>
#include <filesystem>
#include <queue>
#include <utility>

#include "bigdl/error.h"
#include "bigdl/io/gguf.h"
#include "bigdl/io/gguf_writer.h"
#include "bigdl/llm/convert.h"
#include "llm/pre_tokenizer.h"
#include "llm/unicode.h"
#include "llm/vocab_internal.h"

namespace bigdl::llm {

using namespace detail;  // NOLINT: the tokenizer's internals

namespace {

constexpr const char* kOp = kVocabOp;
// -------------------------------------------------------------------------------------
// The merge loop shared by both models (llama.cpp's llm_tokenizer_spm/bpe sessions).
//
// The text is a chain of symbols (initially its UTF-8 characters). Every adjacent pair
// that may merge sits in a queue ordered by (priority, left position), lowest first.
// Popping a pair whose symbols have changed since it was queued is skipped; a merge
// queues the new symbol's pairs with both neighbours.
struct Symbol {
  int prev, next;
  size_t offset, n;  // bytes of the text; n == 0 once merged into the left neighbour
};

struct Pair {
  double priority;
  int left, right;
  size_t size;  // bytes of the merged text, to detect stale entries
  bool operator>(const Pair& o) const {
    return priority != o.priority ? priority > o.priority : left > o.left;
  }
};

// pair_priority(merged_text, left_text, right_text, &priority) -> whether the pair may merge.
template <typename PairPriority>
std::vector<Symbol> merge_symbols(const std::string& text, PairPriority pair_priority) {
  std::vector<Symbol> sym;
  for (size_t off = 0; off < text.size();) {
    const size_t n = std::min(utf8_len(uint8_t(text[off])), text.size() - off);
    const int i = int(sym.size());
    sym.push_back({i - 1, i + 1, off, n});
    off += n;
  }
  if (!sym.empty()) sym.back().next = -1;

  std::priority_queue<Pair, std::vector<Pair>, std::greater<Pair>> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view all(text);
    const auto lt = all.substr(sym[left].offset, sym[left].n);
    const auto rt = all.substr(sym[right].offset, sym[right].n);
    const auto merged = all.substr(sym[left].offset, sym[left].n + sym[right].n);
    double priority = 0;
    if (pair_priority(merged, lt, rt, &priority))
      queue.push({priority, left, right, merged.size()});
  };
  for (int i = 1; i < int(sym.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Pair p = queue.top();
    queue.pop();
    Symbol& l = sym[p.left];
    Symbol& r = sym[p.right];
    if (l.n == 0 || r.n == 0 || l.n + r.n != p.size) continue;
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = p.left;
    try_add(l.prev, p.left);
    try_add(p.left, l.next);
  }
  std::vector<Symbol> out;
  for (int i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next) out.push_back(sym[i]);
  return out;
}

// A piece of the input: raw text still to tokenize, or an already matched special token.
struct Fragment {
  TokenId token;  // -1 for text
  size_t offset, length;
};


}  // namespace

// ---------------------------------------------------------------------------------------
// Loading

Vocab::Vocab(const io::GgufFile& file) : name_(file.name()) {
  auto fail = [&](const auto&... args) {
    throw FormatError(bigdl::detail::cat(kOp, name_, ": ", args...));
  };
  auto require = [&](const char* key) {
    const io::GgufValue* v = file.find(key);
    if (v == nullptr) fail("metadata key '", key, "' missing (no tokenizer in this GGUF)");
    return v;
  };
  const std::string where = name_ + ": metadata key ";
  const std::string model =
      require("tokenizer.ggml.model")->as_string(where + "'tokenizer.ggml.model'");
  if (model == "llama") {
    kind_ = VocabKind::Spm;
  } else if (model == "gpt2") {
    kind_ = VocabKind::Bpe;
    // The pre-tokenizer by llama.cpp's name ("default" when the file has none, as
    // llama.cpp); an unknown name is refused rather than tokenized wrongly.
    std::string pre = "default";
    if (const io::GgufValue* v = file.find("tokenizer.ggml.pre")) pre = v->as_string(where + "'tokenizer.ggml.pre'");
    const auto p = PreTokenizer::named(pre);
    if (!p) {
      std::string known;
      for (const auto& n : PreTokenizer::names()) known += (known.empty() ? "" : ", ") + n;
      fail("tokenizer.ggml.pre '", pre, "' is not supported for model 'gpt2' (supported: ", known, ")");
    }
    pre_ = std::make_shared<const PreTokenizer>(*p);
    ignore_merges_ = p->ignore_merges();
  } else if (model == "bert") {
    kind_ = VocabKind::Wpm;
  } else {
    fail("tokenizer.ggml.model '", model, "' is not supported (supported: llama, gpt2, bert)");
  }
  tokens_ = require("tokenizer.ggml.tokens")->as_string_array(where + "'tokenizer.ggml.tokens'");
  const size_t n = tokens_.size();
  if (n == 0 || n > size_t(INT32_MAX)) fail("tokenizer.ggml.tokens has ", n, " tokens");

  scores_.assign(n, 0.0f);
  if (const io::GgufValue* v = file.find("tokenizer.ggml.scores")) {
    scores_ = v->as_float_array(where + "'tokenizer.ggml.scores'");
    if (scores_.size() != n)
      fail("tokenizer.ggml.scores has ", scores_.size(), " entries, expected ", n);
  } else if (kind_ == VocabKind::Spm) {
    fail("metadata key 'tokenizer.ggml.scores' missing (needed by model 'llama')");
  }
  types_.assign(n, TokenType::Normal);
  if (const io::GgufValue* v = file.find("tokenizer.ggml.token_type")) {
    const auto t = v->as_int_array(where + "'tokenizer.ggml.token_type'");
    if (t.size() != n) fail("tokenizer.ggml.token_type has ", t.size(), " entries, expected ", n);
    for (size_t i = 0; i < n; ++i) {
      if (t[i] < 0 || t[i] > 6) fail("tokenizer.ggml.token_type[", i, "] = ", t[i], " is not 0..6");
      types_[i] = TokenType(t[i]);
    }
  }
  if (kind_ == VocabKind::Bpe) {
    const auto& merges =
        require("tokenizer.ggml.merges")->as_string_array(where + "'tokenizer.ggml.merges'");
    merge_rank_.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
      const size_t sp = merges[i].find(' ', 1);  // from 1: a merge may start with a space
      if (sp == std::string::npos)
        fail("tokenizer.ggml.merges[", i, "] '", merges[i], "' has no space");
      merge_rank_.emplace(merges[i].substr(0, sp) + kMergeSep + merges[i].substr(sp + 1),
                          int32_t(i));
    }
  }

  index_tokens();

  auto special_id = [&](const char* key, TokenId fallback) {
    const io::GgufValue* v = file.find(key);
    if (v == nullptr) return fallback;
    const uint64_t id = v->as_uint(where + "'" + key + "'");
    return id < n ? TokenId(id) : TokenId(-1);  // e.g. 0xFFFFFFFF for "none"
  };
  // llama.cpp's defaults per model: SentencePiece <unk> 0, <s> 1, </s> 2 and a BOS;
  // WordPiece [UNK] 100, [CLS] 101 as BOS, [SEP] 102, [PAD] 0, BOS and SEP added.
  const bool spm = kind_ == VocabKind::Spm, wpm = kind_ == VocabKind::Wpm;
  bos_id_ = special_id("tokenizer.ggml.bos_token_id", spm ? 1 : wpm ? 101 : -1);
  eos_id_ = special_id("tokenizer.ggml.eos_token_id", spm ? 2 : -1);
  unk_id_ = special_id("tokenizer.ggml.unknown_token_id", spm ? 0 : wpm ? 100 : -1);
  sep_id_ = special_id("tokenizer.ggml.seperator_token_id", wpm ? 102 : -1);
  pad_id_ = special_id("tokenizer.ggml.padding_token_id", wpm ? 0 : -1);
  for (TokenId* id : {&bos_id_, &eos_id_, &unk_id_, &sep_id_, &pad_id_})
    if (*id >= TokenId(n)) *id = -1;
  add_bos_ = spm || wpm;
  add_space_prefix_ = spm;
  if (const io::GgufValue* v = file.find("tokenizer.ggml.add_bos_token"))
    add_bos_ = v->as_bool(where + "'tokenizer.ggml.add_bos_token'");
  if (const io::GgufValue* v = file.find("tokenizer.ggml.add_eos_token"))
    add_eos_ = v->as_bool(where + "'tokenizer.ggml.add_eos_token'");
  if (wpm) {
    if (const io::GgufValue* v = file.find("tokenizer.ggml.normalizer.lowercase"))
      lowercase_ = v->as_bool(where + "'tokenizer.ggml.normalizer.lowercase'");
    strip_accents_ = lowercase_;
    if (const io::GgufValue* v = file.find("tokenizer.ggml.normalizer.strip_accents"))
      strip_accents_ = v->as_bool(where + "'tokenizer.ggml.normalizer.strip_accents'");
  }
  if (const io::GgufValue* v = file.find("tokenizer.ggml.add_space_prefix"))
    add_space_prefix_ = v->as_bool(where + "'tokenizer.ggml.add_space_prefix'");
  space_prefix_ = add_space_prefix_ ? SpacePrefix::EveryFragment : SpacePrefix::None;
  strip_space_ = add_space_prefix_;
  // A tokenizer.json NFC normalizer, kept by write_gguf (llama.cpp has no key for it).
  if (const io::GgufValue* v = file.find("bigdl.tokenizer.nfc")) nfc_ = v->as_bool(where + "'bigdl.tokenizer.nfc'");

  if (const io::GgufValue* v = file.find("tokenizer.chat_template"))
    chat_template_ = v->as_string(where + "'tokenizer.chat_template'");
}

void Vocab::index_tokens() {
  const size_t n = tokens_.size();
  max_token_len_ = 0;
  for (const auto& t : tokens_) max_token_len_ = std::max(max_token_len_, t.size());
  token_to_id_.clear();
  token_to_id_.reserve(n);
  for (size_t i = 0; i < n; ++i) token_to_id_[tokens_[i]] = TokenId(i);  // last one wins

  // Byte fallback tokens: SentencePiece's <0xNN>, else a token whose text is the byte.
  byte_tokens_.assign(256, -1);
  static const char* hex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const std::string name = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
    TokenId id = find(name);
    if (id < 0) id = find(std::string(1, char(b)));
    byte_tokens_[b] = id;
  }

  special_tokens_.clear();
  for (size_t i = 0; i < n; ++i) {
    const TokenType t = types_[i];
    if ((t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown) &&
        !tokens_[i].empty())
      special_tokens_.push_back(TokenId(i));
  }
  std::stable_sort(special_tokens_.begin(), special_tokens_.end(),
                   [&](TokenId a, TokenId b) { return tokens_[a].size() > tokens_[b].size(); });
}

void Vocab::write_gguf(io::GgufWriter& w) const {
  const bool spm = kind_ == VocabKind::Spm, bpe = kind_ == VocabKind::Bpe, wpm = kind_ == VocabKind::Wpm;
  w.set("tokenizer.ggml.model", io::gguf_string(spm ? "llama" : bpe ? "gpt2" : "bert"));
  if (bpe) {
    BIGDL_CHECK(!pre_->name().empty(), FormatError, "vocab", name_,
                ": the pre-tokenizer's regexes have no llama.cpp name, so a GGUF file cannot say how to split text");
    w.set("tokenizer.ggml.pre", io::gguf_string(pre_->name()));
  }
  std::vector<std::string> tokens = tokens_;
  std::vector<int32_t> types(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) {
    types[i] = static_cast<int32_t>(types_[i]);
    if (types_[i] == TokenType::Undefined) {  // an id the tokenizer.json does not name
      tokens[i] = "[PAD" + std::to_string(i) + "]";
      types[i] = static_cast<int32_t>(TokenType::Unused);
    }
  }
  std::vector<std::string> merges(merge_rank_.size());
  for (const auto& [key, rank] : merge_rank_) {
    const size_t sep = key.find(kMergeSep);
    merges[size_t(rank)] = key.substr(0, sep) + " " + key.substr(sep + 1);
  }
  std::vector<float> scores = scores_;
  if (spm && !merge_rank_.empty()) {  // tokenizer.json: merge ranks as scores
    std::fill(scores.begin(), scores.end(), 0.0f);
    for (const auto& [key, rank] : merge_rank_) {
      const size_t sep = key.find(kMergeSep);
      const TokenId id = find(key.substr(0, sep) + key.substr(sep + 1));
      if (id >= 0 && scores[size_t(id)] == 0.0f) scores[size_t(id)] = -static_cast<float>(rank + 1);
    }
  }
  w.set("tokenizer.ggml.tokens", io::gguf_string_array(std::move(tokens)));
  w.set("tokenizer.ggml.token_type", io::gguf_i32_array(types));
  if (spm) w.set("tokenizer.ggml.scores", io::gguf_f32_array(scores));
  if (bpe) w.set("tokenizer.ggml.merges", io::gguf_string_array(std::move(merges)));
  const auto id = [&](const char* key, TokenId v) {
    if (v >= 0) w.set(key, io::gguf_u32(static_cast<uint32_t>(v)));
  };
  id("tokenizer.ggml.bos_token_id", bos_id_);
  id("tokenizer.ggml.eos_token_id", eos_id_);
  id("tokenizer.ggml.unknown_token_id", unk_id_);
  id("tokenizer.ggml.seperator_token_id", sep_id_);
  id("tokenizer.ggml.padding_token_id", pad_id_);
  w.set("tokenizer.ggml.add_bos_token", io::gguf_bool(add_bos_));
  w.set("tokenizer.ggml.add_eos_token", io::gguf_bool(add_eos_));
  if (spm) w.set("tokenizer.ggml.add_space_prefix", io::gguf_bool(add_space_prefix_));
  if (nfc_) w.set("bigdl.tokenizer.nfc", io::gguf_bool(true));
  if (wpm) {
    w.set("tokenizer.ggml.normalizer.lowercase", io::gguf_bool(lowercase_));
    w.set("tokenizer.ggml.normalizer.strip_accents", io::gguf_bool(strip_accents_));
  }
  if (!chat_template_.empty()) w.set("tokenizer.chat_template", io::gguf_string(chat_template_));
}

const std::string& Vocab::pre_tokenizer() const {
  static const std::string none;
  return pre_ ? pre_->name() : none;
}

Vocab Vocab::load(const std::string& path) {
  std::error_code ec;
  // A folder save_low_bit wrote keeps the tokenizer in its GGUF (bigdl/llm/convert.h).
  if (std::filesystem::is_regular_file(std::filesystem::path(path) / "bigdl_low_bit.json", ec))
    return Vocab(io::GgufFile::open(low_bit_folder_gguf(path)));
  if (std::filesystem::is_directory(path, ec)) return load_tokenizer_json(path);
  return Vocab(io::GgufFile::open(path));
}

// ---------------------------------------------------------------------------------------
// Lookups

void Vocab::check_id(TokenId id) const {
  if (id < 0 || id >= size())
    throw IndexError(bigdl::detail::cat(kOp, "token id ", id, " out of range [0, ", size(), ")"));
}
const std::string& Vocab::text(TokenId id) const {
  check_id(id);
  return tokens_[id];
}
float Vocab::score(TokenId id) const {
  check_id(id);
  return scores_[id];
}
TokenType Vocab::type(TokenId id) const {
  check_id(id);
  return types_[id];
}

TokenId Vocab::find(std::string_view text) const {
  const auto it = token_to_id_.find(std::string(text));
  return it == token_to_id_.end() ? -1 : it->second;
}

TokenId Vocab::byte_token(uint8_t byte) const {
  return byte_tokens_[byte] >= 0 ? byte_tokens_[byte] : unk_id_;
}

// ---------------------------------------------------------------------------------------
// Encoding

std::vector<TokenId> Vocab::encode_spm(const std::string& text) const {
  std::vector<TokenId> out;
  // A GGUF vocab merges by score (llama.cpp, SentencePiece); a tokenizer.json by the rank
  // of the pair in model.merges (HF's BPE), whose order comes from the same scores.
  const bool by_rank = !merge_rank_.empty();
  std::string key;
  const auto symbols = merge_symbols(
      text, [&](std::string_view merged, std::string_view l, std::string_view r, double* priority) {
        if (by_rank) return merge_rank_priority(merge_rank_, key, l, r, priority);
        const auto it = token_to_id_.find(std::string(merged));
        if (it == token_to_id_.end()) return false;
        *priority = -double(scores_[it->second]);  // highest score first
        return true;
      });
  bool last_unk = false;
  for (const Symbol& s : symbols) {
    // A merged symbol is always a token; a single character may not be, and then becomes
    // its bytes (llama.cpp's resegment() can only reach this case for final symbols).
    const std::string piece = text.substr(s.offset, s.n);
    const TokenId id = find(piece);
    if (id >= 0) {
      out.push_back(id);
      last_unk = false;
    } else if (!by_rank) {
      for (const char c : piece) {
        const TokenId b = byte_token(uint8_t(c));
        if (b >= 0) out.push_back(b);
      }
    } else {
      // HF's BPE: the character's <0xNN> tokens if all exist, else one unk (adjacent
      // unknown characters fused into one with fuse_unk).
      const bool bytes = std::all_of(piece.begin(), piece.end(),
                                     [&](char c) { return byte_tokens_[uint8_t(c)] >= 0; });
      if (bytes) {
        for (const char c : piece) out.push_back(byte_tokens_[uint8_t(c)]);
        last_unk = false;
      } else if (unk_id_ >= 0 && !(fuse_unk_ && last_unk)) {
        out.push_back(unk_id_);
        last_unk = true;
      }
    }
  }
  return out;
}

void Vocab::encode_bpe(const std::string& text, std::vector<TokenId>& out) const {
  const std::vector<uint32_t> cpts = utf8_to_cpts(nfc_ ? nfc(text) : text);
  std::string key;
  for (const std::string& word : pre_->words(cpts)) {
    if (ignore_merges_) {
      if (const TokenId id = find(word); id >= 0) {
        out.push_back(id);
        continue;
      }
    }
    const auto symbols = merge_symbols(
        word, [&](std::string_view, std::string_view l, std::string_view r, double* priority) {
          return merge_rank_priority(merge_rank_, key, l, r, priority);
        });
    for (const Symbol& s : symbols) {
      const std::string piece = word.substr(s.offset, s.n);
      const TokenId id = find(piece);
      if (id >= 0) {
        out.push_back(id);
      } else {  // a merge result missing from the vocab: fall back to single bytes
        for (const char c : piece) {
          const TokenId b = find(std::string(1, c));
          if (b >= 0) out.push_back(b);
        }
      }
    }
  }
}

std::vector<TokenId> Vocab::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<TokenId> out;
  if (add_special && add_bos_ && bos_id_ >= 0) out.push_back(bos_id_);
  const auto finish = [&] {
    const TokenId last = kind_ == VocabKind::Wpm ? sep_id_ : add_eos_ ? eos_id_ : -1;
    if (add_special && last >= 0 && (kind_ != VocabKind::Wpm || add_bos_)) out.push_back(last);
    return out;
  };
  if (text.empty()) return finish();

  // Cut special tokens out of the text, longest first (llama.cpp's tokenizer_st_partition).
  std::vector<Fragment> frags = {{-1, 0, text.size()}};
  for (const TokenId id : special_tokens_) {
    if (!parse_special && types_[id] != TokenType::UserDefined) continue;
    const std::string& st = tokens_[id];
    std::vector<Fragment> next;
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      const std::string_view raw = text.substr(f.offset, f.length);
      size_t pos = 0;
      for (size_t hit; (hit = raw.find(st, pos)) != std::string_view::npos; pos = hit + st.size()) {
        if (hit > pos) next.push_back({-1, f.offset + pos, hit - pos});
        next.push_back({id, 0, 0});
      }
      if (pos < raw.size()) next.push_back({-1, f.offset + pos, raw.size() - pos});
    }
    frags = std::move(next);
  }

  for (const Fragment& f : frags) {
    if (f.token >= 0) {
      out.push_back(f.token);
    } else if (kind_ == VocabKind::Spm) {
      encode_spm_fragment(std::string(text.substr(f.offset, f.length)), f.offset == 0, out);
    } else if (kind_ == VocabKind::Bpe) {
      encode_bpe(std::string(text.substr(f.offset, f.length)), out);
    } else {
      encode_wpm(std::string(text.substr(f.offset, f.length)), out);
    }
  }
  return finish();
}

// WordPiece, as transformers' BertTokenizer (BasicTokenizer + WordpieceTokenizer): the
// text cleaned (NUL, U+FFFD and control characters dropped, whitespace made a space),
// CJK ideographs spaced, each character lower-cased and stripped of nonspacing marks
// (NFD), words cut at whitespace and around punctuation, then each word matched
// greedily longest-first: "▁" + the word's start, then continuations (llama.cpp's GGUF
// spelling of HF's "##"). A word with an unmatched rest, or of more than 100 characters,
// is one [UNK].
void Vocab::encode_wpm(const std::string& text, std::vector<TokenId>& out) const {
  constexpr size_t kMaxWordChars = 100;
  std::vector<std::vector<uint32_t>> words(1);
  const auto end_word = [&] {
    if (!words.back().empty()) words.emplace_back();
  };
  std::vector<uint32_t> folded;
  for (const uint32_t cp : utf8_to_cpts(text)) {
    if (cp == 0 || cp == 0xFFFD || bert_is_control(cp)) continue;
    if (bert_is_whitespace(cp)) {
      end_word();
      continue;
    }
    folded.clear();
    bert_fold(cp, lowercase_, strip_accents_, folded);
    for (const uint32_t c : folded) {
      if (is_cjk(c) || bert_is_punctuation(c)) {
        end_word();
        words.back().push_back(c);
        end_word();
      } else {
        words.back().push_back(c);
      }
    }
  }
  for (const auto& w : words) {
    if (w.empty()) continue;
    if (w.size() > kMaxWordChars) {
      if (unk_id_ >= 0) out.push_back(unk_id_);
      continue;
    }
    const std::string word = kSpmSpace + cpts_to_utf8(w.data(), w.data() + w.size());
    const size_t before = out.size();
    bool ok = true;
    for (size_t i = 0; i < word.size() && ok;) {
      ok = false;
      for (size_t j = std::min(word.size(), i + max_token_len_); j > i; --j) {
        const TokenId id = find(std::string_view(word).substr(i, j - i));
        if (id >= 0) {
          out.push_back(id);
          i = j;
          ok = true;
          break;
        }
      }
    }
    if (!ok) {
      out.resize(before);
      if (unk_id_ >= 0) out.push_back(unk_id_);
    }
  }
}

// One text fragment (non-empty; fragments never touch, so each one starts the text or
// follows a special token, which is where llama.cpp puts the prefix).
void Vocab::encode_spm_fragment(std::string text, bool text_start, std::vector<TokenId>& out) const {
  replace_all(text, " ", kSpmSpace);
  const bool starts_with_space = text.compare(0, kSpmSpace.size(), kSpmSpace) == 0;
  bool prefix = false;
  switch (space_prefix_) {
    case SpacePrefix::None: break;
    case SpacePrefix::EveryFragment: prefix = true; break;
    case SpacePrefix::FirstUnlessSpace: prefix = text_start && !starts_with_space; break;
    case SpacePrefix::EveryUnlessSpace: prefix = !starts_with_space; break;
  }
  if (prefix) text.insert(0, kSpmSpace);
  auto add = [&](const std::string& word) {
    const auto ids = encode_spm(word);
    out.insert(out.end(), ids.begin(), ids.end());
  };
  if (!metaspace_split_) {
    add(text);
    return;
  }
  // HF Metaspace(split = true): words end before every '▁' (the '▁' opens the next word).
  size_t start = 0;
  for (size_t hit = text.find(kSpmSpace, 1);; hit = text.find(kSpmSpace, hit + kSpmSpace.size())) {
    const size_t end = hit == std::string::npos ? text.size() : hit;
    if (end > start) add(text.substr(start, end - start));
    if (hit == std::string::npos) break;
    start = hit;
  }
}

// ---------------------------------------------------------------------------------------
// Decoding

std::string Vocab::token_to_piece(TokenId id, bool render_special) const {
  check_id(id);
  const std::string& t = tokens_[id];
  switch (types_[id]) {
    case TokenType::Control:
      return render_special ? t : std::string();
    case TokenType::UserDefined:
      return t;
    case TokenType::Unknown:
      return kind_ == VocabKind::Spm ? std::string("\xE2\x96\x85") : std::string();  // '▅'
    case TokenType::Byte:
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
        const int hi = hex_value(t[3]), lo = hex_value(t[4]);
        if (hi >= 0 && lo >= 0) return std::string(1, char(hi * 16 + lo));
      }
      break;  // a byte token not spelled <0xNN>: its text is the piece
    case TokenType::Normal:
      break;
    default:
      return std::string();  // unused / undefined: suppressed like control tokens
  }
  if (kind_ != VocabKind::Bpe) {  // SentencePiece and WordPiece spell a space '▁'
    std::string s = t;
    replace_all(s, kSpmSpace, " ");
    return s;
  }
  const auto& bu = byte_unicode();
  std::string s;
  for (const uint32_t cp : utf8_to_cpts(t)) {
    if (cp < 324 && bu.to_byte[cp] >= 0) {
      s += char(bu.to_byte[cp]);
    } else {
      append_utf8(s, cp);  // not a byte's code point: keep the character
    }
  }
  return s;
}

std::string Vocab::decode(const std::vector<TokenId>& ids, bool render_special) const {
  std::string out;
  if (kind_ == VocabKind::Wpm) {  // words are '▁'-led: the first one's space goes
    for (const TokenId id : ids) out += token_to_piece(id, render_special);
    if (!out.empty() && out[0] == ' ') out.erase(0, 1);
    return out;
  }
  if (hf_decode_) {  // HF: skip special tokens, Fuse, then Strip the whole text
    for (const TokenId id : ids) out += token_to_piece(id, render_special);
    if (strip_space_ && !out.empty() && out[0] == ' ') out.erase(0, 1);
    return out;
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i == 0 && add_bos_ && ids[0] == bos_id_) continue;  // and the first space stays
    const std::string piece = token_to_piece(ids[i], render_special);
    const bool strip = i == 0 && strip_space_ && !piece.empty() && piece[0] == ' ';
    out.append(piece, strip ? 1 : 0, std::string::npos);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Streaming

std::string StreamDecoder::push(TokenId id) {
  std::string piece;
  if (first_ && vocab_.hf_decode_) {  // the text starts at the first non-empty piece
    piece = vocab_.token_to_piece(id);
    if (piece.empty()) return std::string();
    first_ = false;
    if (vocab_.strip_space_ && piece[0] == ' ') piece.erase(0, 1);
  } else if (first_) {
    first_ = false;
    if (vocab_.add_bos_ && id == vocab_.bos_id_) return std::string();  // keeps its space
    piece = vocab_.token_to_piece(id);
    if (vocab_.strip_space_ && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
  } else {
    piece = vocab_.token_to_piece(id);
  }
  pending_ += piece;

  // Emit up to the start of a trailing, still incomplete UTF-8 sequence.
  size_t keep_from = pending_.size();
  for (size_t back = 1; back <= 4 && back <= pending_.size(); ++back) {
    const auto c = uint8_t(pending_[pending_.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back
    const size_t need = utf8_len(c);
    if (need > back) keep_from = pending_.size() - back;
    break;
  }
  std::string ready = pending_.substr(0, keep_from);
  pending_.erase(0, keep_from);
  return ready;
}

std::string StreamDecoder::flush() {
  std::string rest = std::move(pending_);
  pending_.clear();
  first_ = true;
  return rest;
}

}  // namespace bigdl::llm
