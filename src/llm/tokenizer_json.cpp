// Hugging Face tokenizer.json (and tokenizer_config.json beside it) into a Vocab. See
// include/bigdl/llm/vocab.h and docs/tokenizer.md for what is accepted.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "bigdl/error.h"
#include "bigdl/io/gzip.h"
#include "bigdl/llm/vocab.h"
#include "llm/pre_tokenizer.h"
#include "llm/unicode.h"
#include "llm/vocab_internal.h"

namespace bigdl::llm {

using namespace detail;  // NOLINT: the tokenizer's internals

namespace {

constexpr const char* kOp = kVocabOp;
using Json = nlohmann::json;

// Reads gzip'd JSON too (by the magic bytes), e.g. a compressed tokenizer.json.
Json read_json_file(const std::string& path) {
  if (!std::ifstream(path, std::ios::binary)) throw IOError(bigdl::detail::cat(kOp, path, ": cannot open"));
  const std::vector<uint8_t> bytes = io::read_file_maybe_gzip(path);
  try {
    return Json::parse(bytes.begin(), bytes.end());
  } catch (const Json::exception& e) {
    throw FormatError(bigdl::detail::cat(kOp, path, ": invalid JSON (", e.what(), ")"));
  }
}

// A special token in tokenizer_config.json: "text", {"content": "text"} or null.
std::string token_text(const Json* v) {
  if (v == nullptr || v->is_null()) return {};
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object() && v->contains("content") && (*v)["content"].is_string())
    return (*v)["content"].get<std::string>();
  return {};
}

const Json* member(const Json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

// Hugging Face tokenizers compiles Split regexes with Oniguruma, where "[^(\\s|[.,])]" is one
// class holding a nested class (Bloom's pre-tokenizer). PCRE2 has no nested classes, so a
// nested positive class is flattened into the class around it: "[^(\\s|.,)]". Escapes and
// POSIX classes ("[:alpha:]") are left as they are.
std::string flatten_nested_classes(const std::string& re) {
  std::string out;
  int depth = 0;  // 0: outside a class; n: inside n nested classes
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      out += re.substr(i, 2);
      ++i;
      continue;
    }
    if (depth > 0 && c == '[' && i + 1 < re.size() && re[i + 1] == ':') {  // POSIX class
      const size_t end = re.find(":]", i + 2);
      if (end != std::string::npos) {
        out += re.substr(i, end + 2 - i);
        i = end + 1;
        continue;
      }
    }
    if (c == '[') {
      const bool opens_class = depth == 0;
      ++depth;
      if (opens_class) {
        out += c;
        if (i + 1 < re.size() && re[i + 1] == '^') out += re[++i];
        if (i + 1 < re.size() && re[i + 1] == ']') out += re[++i];  // "[]..." / "[^]...": literal ]
      }
      continue;
    }
    if (c == ']' && depth > 0) {
      if (--depth == 0) out += c;
      continue;
    }
    out += c;
  }
  return out;
}

// j[key] if it is a string, else "".
std::string string_member(const Json& j, const char* key) {
  const Json* v = member(j, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

// The steps of a {"type": "Sequence", list_key: [...]}, or j itself.
std::vector<const Json*> sequence_steps(const Json& j, const char* list_key) {
  std::vector<const Json*> steps;
  const Json* list = string_member(j, "type") == "Sequence" ? member(j, list_key) : nullptr;
  if (list != nullptr && list->is_array()) {
    for (const Json& x : *list) steps.push_back(&x);
  } else {
    steps.push_back(&j);
  }
  return steps;
}

// A Replace normalizer/decoder from `from` (a String pattern) to `to`.
bool is_replace(const Json& j, const std::string& from, const std::string& to) {
  const Json* pattern = member(j, "pattern");
  return string_member(j, "type") == "Replace" && pattern != nullptr &&
         string_member(*pattern, "String") == from && string_member(j, "content") == to;
}

}  // namespace

namespace detail {
struct TokenizerJson {
  static void read_special_tokens(Vocab& v, const Json& j, const std::filesystem::path& file);
  static Vocab load_wordpiece(Vocab& v, const Json& j, const Json& model, const std::filesystem::path& file);
};
}  // namespace detail

// WordPiece (BERT): vocab {token: id}, unk_token, "##" continuations; BertNormalizer
// (lowercase, strip_accents null = lowercase) and BertPreTokenizer. Tokens are stored in
// llama.cpp's GGUF spelling: a word-initial token "x" as "▁x", a continuation "##x" as
// "x", special tokens as they are.
Vocab TokenizerJson::load_wordpiece(Vocab& v, const Json& j, const Json& model, const std::filesystem::path& file) {
  const auto fail = [&](const auto&... args) {
    throw FormatError(bigdl::detail::cat(kOp, file.string(), ": ", args...));
  };
  v.kind_ = VocabKind::Wpm;
  v.hf_decode_ = false;
  const std::string prefix = model.contains("continuing_subword_prefix") && model["continuing_subword_prefix"].is_string()
                                 ? model["continuing_subword_prefix"].get<std::string>()
                                 : std::string("##");
  if (const Json* m = member(model, "max_input_chars_per_word");
      m != nullptr && !(m->is_number_integer() && m->get<int64_t>() == 100))
    fail("model.max_input_chars_per_word ", m->dump(), " is not supported (100)");
  const Json* vocab = member(model, "vocab");
  if (vocab == nullptr || !vocab->is_object()) fail("field 'model.vocab' missing or not an object");
  int64_t n = 0;
  for (const auto& [text, id] : vocab->items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= INT32_MAX)
      fail("model.vocab['", text, "'] = ", id.dump(), " is not a token id");
    n = std::max(n, id.get<int64_t>() + 1);
  }
  if (n == 0 || n > 2 * int64_t(vocab->size()) + 1024) fail("field 'model.vocab' has ids past its ", vocab->size(), " tokens");
  v.tokens_.assign(size_t(n), std::string());
  v.types_.assign(size_t(n), TokenType::Undefined);
  v.scores_.assign(size_t(n), 0.0f);
  std::vector<bool> special(size_t(n), false);
  if (const Json* a = member(j, "added_tokens"); a != nullptr && a->is_array())
    for (const Json& t : *a) {
      const Json* id = member(t, "id");
      const Json* sp = member(t, "special");
      if (id != nullptr && id->is_number_integer() && id->get<int64_t>() >= 0 && id->get<int64_t>() < n &&
          sp != nullptr && sp->is_boolean() && sp->get<bool>())
        special[size_t(id->get<int64_t>())] = true;
    }
  for (const auto& [text, id] : vocab->items()) {
    const size_t i = size_t(id.get<int64_t>());
    if (special[i]) {
      v.tokens_[i] = text;
      v.types_[i] = TokenType::Control;
    } else if (!prefix.empty() && text.compare(0, prefix.size(), prefix) == 0 && text.size() > prefix.size()) {
      v.tokens_[i] = text.substr(prefix.size());
      v.types_[i] = TokenType::Normal;
    } else {
      v.tokens_[i] = kSpmSpace + text;
      v.types_[i] = TokenType::Normal;
    }
  }
  v.index_tokens();
  if (const Json* norm = member(j, "normalizer")) {
    if (string_member(*norm, "type") != "BertNormalizer")
      fail("normalizer '", string_member(*norm, "type"), "' is not supported with WordPiece (supported: BertNormalizer)");
    const Json* lc = member(*norm, "lowercase");
    v.lowercase_ = lc == nullptr || !lc->is_boolean() || lc->get<bool>();
    const Json* sa = member(*norm, "strip_accents");
    v.strip_accents_ = sa != nullptr && sa->is_boolean() ? sa->get<bool>() : v.lowercase_;
  }
  if (const Json* pre = member(j, "pre_tokenizer"); pre != nullptr && string_member(*pre, "type") != "BertPreTokenizer")
    fail("pre_tokenizer '", string_member(*pre, "type"), "' is not supported with WordPiece (supported: BertPreTokenizer)");
  v.unk_id_ = v.find(kSpmSpace + token_text(member(model, "unk_token")));
  if (v.unk_id_ < 0) v.unk_id_ = v.find(token_text(member(model, "unk_token")));
  v.bos_id_ = v.find("[CLS]");
  v.sep_id_ = v.find("[SEP]");
  v.pad_id_ = v.find("[PAD]");
  v.add_bos_ = v.bos_id_ >= 0 && v.sep_id_ >= 0;
  TokenizerJson::read_special_tokens(v, j, file);
  return v;
}

Vocab Vocab::load_tokenizer_json(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path file = fs::is_directory(path, ec) ? fs::path(path) / "tokenizer.json" : fs::path(path);
  const std::string name = file.string();
  auto fail = [&](const auto&... args) {
    throw FormatError(bigdl::detail::cat(kOp, name, ": ", args...));
  };
  const Json j = read_json_file(name);
  if (!j.is_object()) fail("not a JSON object");

  Vocab v;
  v.name_ = name;
  v.hf_decode_ = true;
  const Json* model = member(j, "model");
  if (model == nullptr) fail("field 'model' missing");
  const std::string model_type = string_member(*model, "type");
  if (model_type == "WordPiece") return TokenizerJson::load_wordpiece(v, j, *model, file);
  if (!model_type.empty() && model_type != "BPE")
    fail("model.type \"", model_type, "\" is not supported (supported: BPE, WordPiece)");
  // byte_fallback: a SentencePiece-style BPE (Llama 2); otherwise byte-level (GPT-2).
  const Json* fallback = member(*model, "byte_fallback");
  const bool spm = fallback != nullptr && fallback->is_boolean() && fallback->get<bool>();
  v.kind_ = spm ? VocabKind::Spm : VocabKind::Bpe;
  if (const Json* f = member(*model, "fuse_unk"); f != nullptr && f->is_boolean()) v.fuse_unk_ = f->get<bool>();
  if (const Json* d = member(*model, "dropout"); d != nullptr && !(d->is_number() && d->get<double>() == 0))
    fail("model.dropout ", d->dump(), " is not supported (BPE dropout samples merges at random)");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (const Json* x = member(*model, key); x != nullptr && x->is_string() && !x->get<std::string>().empty())
      fail("model.", key, " ", x->dump(), " is not supported");
  if (const Json* b = member(*model, "ignore_merges"); b != nullptr && b->is_boolean())
    v.ignore_merges_ = b->get<bool>();

  const Json* vocab = member(*model, "vocab");
  if (vocab == nullptr) fail("field 'model.vocab' missing");
  if (!vocab->is_object()) fail("field 'model.vocab' is not an object");
  std::vector<std::pair<std::string, int64_t>> entries;
  entries.reserve(vocab->size());
  for (const auto& [text, id] : vocab->items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= INT32_MAX)
      fail("model.vocab['", text, "'] = ", id.dump(), " is not a token id");
    entries.emplace_back(text, id.get<int64_t>());
  }
  struct Added {
    std::string text;
    int64_t id;
    bool special;
  };
  std::vector<Added> added;
  if (const Json* a = member(j, "added_tokens")) {
    if (!a->is_array()) fail("field 'added_tokens' is not an array");
    for (size_t i = 0; i < a->size(); ++i) {
      const Json& t = (*a)[i];
      const Json* id = member(t, "id");
      const Json* content = member(t, "content");
      if (id == nullptr || !id->is_number_integer() || id->get<int64_t>() < 0 ||
          id->get<int64_t>() >= INT32_MAX || content == nullptr || !content->is_string())
        fail("added_tokens[", i, "] needs an integer 'id' and a string 'content'");
      const Json* special = member(t, "special");
      added.push_back({content->get<std::string>(), id->get<int64_t>(),
                       special != nullptr && special->is_boolean() && special->get<bool>()});
    }
  }
  int64_t n = 0;
  for (const auto& e : entries) n = std::max(n, e.second + 1);
  for (const auto& a : added) n = std::max(n, a.id + 1);
  if (n == 0) fail("field 'model.vocab' is empty");
  // Real ids are dense; one far beyond the entry count is corrupt and would make us
  // allocate n strings (found by fuzzing: {"a": 2000000000} asked for 64 GB).
  const int64_t n_entries = int64_t(entries.size() + added.size());
  if (n > 2 * n_entries + 1024)
    fail("token id ", n - 1, " is far beyond the ", n_entries, " tokens listed");
  v.tokens_.assign(size_t(n), std::string());
  v.types_.assign(size_t(n), TokenType::Undefined);  // ids no entry names stay undefined
  v.scores_.assign(size_t(n), 0.0f);
  for (const auto& [text, id] : entries) {
    v.tokens_[size_t(id)] = text;
    // byte_fallback's <0xNN> tokens (what ByteFallback decodes to one byte)
    const bool byte = spm && text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>' &&
                      hex_value(text[3]) >= 0 && hex_value(text[4]) >= 0;
    v.types_[size_t(id)] = byte ? TokenType::Byte : TokenType::Normal;
  }
  // Added tokens are matched in the text before the model runs (as HF does for all of
  // them); "special" ones are control tokens (not rendered, matched with parse_special).
  for (const auto& a : added) {
    v.tokens_[size_t(a.id)] = a.text;
    v.types_[size_t(a.id)] = a.special ? TokenType::Control : TokenType::UserDefined;
  }

  v.index_tokens();

  const Json* merges = member(*model, "merges");
  if (merges == nullptr) fail("field 'model.merges' missing");
  if (!merges->is_array()) fail("field 'model.merges' is not an array");
  if (spm && merges->empty()) fail("field 'model.merges' is empty");  // would switch encode_spm to scores
  v.merge_rank_.reserve(merges->size());
  for (size_t i = 0; i < merges->size(); ++i) {
    const Json& m = (*merges)[i];
    std::string left, right;
    if (m.is_string()) {  // "left right"
      const std::string& s = m.get_ref<const std::string&>();
      const size_t sp = s.find(' ', 1);
      if (sp == std::string::npos) fail("model.merges[", i, "] '", s, "' has no space");
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      fail("model.merges[", i, "] is ", m.dump(), ", expected \"a b\" or [\"a\", \"b\"]");
    }
    for (const std::string& t : {left, right, left + right})  // as HF: MergeTokenOutOfVocabulary
      if (v.find(t) < 0) fail("model.merges[", i, "] '", left, " ", right, "': '", t, "' is not in model.vocab");
    v.merge_rank_.emplace(left + kMergeSep + right, int32_t(i));  // first rank wins
  }

  if (spm) {
    // normalizer: Replace(" ", "▁") with an optional Prepend("▁") before it (Llama 2's
    // "legacy" file), or none when a Metaspace pre-tokenizer does both.
    bool replace = false, prepend = false;
    if (const Json* norm = member(j, "normalizer")) {
      for (const Json* n : sequence_steps(*norm, "normalizers")) {
        if (is_replace(*n, " ", kSpmSpace)) {
          replace = true;
        } else if (string_member(*n, "type") == "Prepend" && string_member(*n, "prepend") == kSpmSpace) {
          prepend = true;
        } else {
          fail("normalizer ", n->dump(), " is not supported with byte_fallback (supported: Prepend(\"▁\"), Replace(\" \", \"▁\"))");
        }
      }
    }
    // pre_tokenizer: none, or Metaspace("▁", prepend_scheme, split).
    bool metaspace = false;
    if (const Json* pre = member(j, "pre_tokenizer")) {
      const std::string type = string_member(*pre, "type");
      if (type != "Metaspace")
        fail("pre_tokenizer type '", type, "' is not supported with byte_fallback (supported: none, Metaspace)");
      if (string_member(*pre, "replacement") != kSpmSpace)
        fail("pre_tokenizer Metaspace replacement ", pre->value("replacement", Json()).dump(), " is not \"▁\"");
      // prepend_scheme, or the older add_prefix_space (true = "always"); default "always"
      std::string scheme = string_member(*pre, "prepend_scheme");
      if (const Json* a = member(*pre, "add_prefix_space"); scheme.empty() && a != nullptr && a->is_boolean())
        scheme = a->get<bool>() ? "always" : "never";
      if (scheme.empty()) scheme = "always";
      if (scheme == "first") {
        v.space_prefix_ = SpacePrefix::FirstUnlessSpace;
      } else if (scheme == "always") {
        v.space_prefix_ = SpacePrefix::EveryUnlessSpace;
      } else if (scheme != "never") {
        fail("pre_tokenizer Metaspace prepend_scheme '", scheme, "' is not one of first, always, never");
      }
      const Json* split = member(*pre, "split");
      v.metaspace_split_ = split == nullptr || !split->is_boolean() || split->get<bool>();
      metaspace = true;
    }
    if (metaspace == replace)
      fail("a byte_fallback BPE needs exactly one of a normalizer Replace(\" \", \"▁\") and a Metaspace "
           "pre_tokenizer (has ", replace ? "both" : "neither", ")");
    if (!metaspace) v.space_prefix_ = prepend ? SpacePrefix::EveryFragment : SpacePrefix::None;
    v.add_space_prefix_ = v.space_prefix_ != SpacePrefix::None;

    // decoder: Replace("▁", " "), ByteFallback, Fuse, then optionally Strip(" ", 1, 0), which
    // removes the prefix from the start of the whole text.
    const Json* d = member(j, "decoder");
    if (d == nullptr) fail("field 'decoder' missing (a byte_fallback BPE needs Replace(\"▁\", \" \") and ByteFallback)");
    bool dec_replace = false, dec_bytes = false, dec_fuse = false;
    for (const Json* x : sequence_steps(*d, "decoders")) {
      const std::string type = string_member(*x, "type");
      const Json* start = member(*x, "start");
      const Json* stop = member(*x, "stop");
      if (v.strip_space_) fail("decoder Strip must be the last step");
      if (is_replace(*x, kSpmSpace, " ")) {
        dec_replace = true;
      } else if (type == "ByteFallback") {
        dec_bytes = true;
      } else if (type == "Fuse") {
        dec_fuse = true;
      } else if (type == "Strip" && string_member(*x, "content") == " " && start != nullptr && start->is_number_unsigned() &&
                 start->get<uint64_t>() <= 1 && stop != nullptr && stop->is_number_unsigned() && stop->get<uint64_t>() == 0) {
        if (!dec_fuse) fail("decoder Strip before Fuse (it would strip every token) is not supported");
        v.strip_space_ = start->get<uint64_t>() == 1;
      } else {
        fail("decoder ", x->dump(), " is not supported with byte_fallback (supported: a Sequence of Replace(\"▁\", \" \"), "
             "ByteFallback, Fuse, Strip(\" \", 0|1, 0))");
      }
    }
    if (!dec_replace || !dec_bytes) fail("decoder needs Replace(\"▁\", \" \") and ByteFallback");
  } else {
    // normalizer: none or NFC (Qwen2)
    if (const Json* norm = member(j, "normalizer")) {
      const Json* t = member(*norm, "type");
      if (t == nullptr || *t != "NFC")
        fail("normalizer ", (t ? t->dump() : norm->dump()), " is not supported (supported: none, NFC)");
      v.nfc_ = true;
    }

    // pre_tokenizer: ByteLevel(use_regex) = GPT-2's regex, or a Sequence of Split, Digits
    // and Punctuation steps and one ByteLevel; the steps after ByteLevel cut byte-level text.
    const Json* pre = member(j, "pre_tokenizer");
    if (pre == nullptr) fail("field 'pre_tokenizer' missing (a byte-level BPE needs one)");
    std::vector<const Json*> steps;
    if (const Json* t = member(*pre, "type"); t != nullptr && *t == "Sequence") {
      const Json* list = member(*pre, "pretokenizers");
      if (list == nullptr || !list->is_array()) fail("pre_tokenizer.pretokenizers missing");
      for (const Json& p : *list) steps.push_back(&p);
    } else {
      steps.push_back(pre);
    }
    std::vector<std::string> regexes;
    bool have_byte_level = false;
    size_t byte_level_at = PreTokenizer::kNoByteLevel;
    for (const Json* p : steps) {
      const std::string type = string_member(*p, "type");
      if (type == "ByteLevel") {
        if (const Json* a = member(*p, "add_prefix_space"); a != nullptr && a->is_boolean() && a->get<bool>())
          fail("pre_tokenizer ByteLevel add_prefix_space = true is not supported");
        const Json* r = member(*p, "use_regex");
        if (r == nullptr || !r->is_boolean() || r->get<bool>())  // GPT-2's regex
          regexes.emplace_back(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)");
        if (have_byte_level) fail("pre_tokenizer has two ByteLevel steps");
        have_byte_level = true;
        byte_level_at = regexes.size();  // the steps after it cut the byte-level text
      } else if (type == "Split") {
        const Json* pattern = member(*p, "pattern");
        const Json* regex = pattern != nullptr ? member(*pattern, "Regex") : nullptr;
        if (regex == nullptr || !regex->is_string()) fail("pre_tokenizer Split without a 'Regex' pattern");
        const Json* behavior = member(*p, "behavior");
        const Json* invert = member(*p, "invert");
        if ((behavior != nullptr && *behavior != "Isolated") ||
            (invert != nullptr && invert->is_boolean() && invert->get<bool>()))
          fail("pre_tokenizer Split must be behavior Isolated, invert false");
        regexes.push_back(flatten_nested_classes(regex->get<std::string>()));
      } else if (type == "Punctuation") {  // Falcon: Unicode P plus ASCII punctuation symbols
        const std::string behavior = string_member(*p, "behavior");
        if (!behavior.empty() && behavior != "Isolated" && behavior != "Contiguous")
          fail("pre_tokenizer Punctuation behavior '", behavior, "' is not supported (supported: Isolated, Contiguous)");
        regexes.push_back(std::string(R"([\p{P}\$\+<=>\^~\|`])") + (behavior == "Contiguous" ? "+" : ""));
      } else if (type == "Digits") {  // SmolLM: every digit on its own
        const Json* ind = member(*p, "individual_digits");
        regexes.emplace_back(ind != nullptr && ind->is_boolean() && ind->get<bool>() ? R"(\p{N})" : R"(\p{N}+)");
      } else {
        fail("pre_tokenizer type '", type, "' is not supported (supported: ByteLevel, Split, Digits, Punctuation, Sequence)");
      }
    }
    if (regexes.empty() || !have_byte_level)
      fail("pre_tokenizer must be ByteLevel, or a Sequence of Split / Digits / Punctuation steps with a ByteLevel");
    try {
      const PreTokenizer p = PreTokenizer::from_regexes(regexes, byte_level_at);
      v.pre_ = std::make_shared<const PreTokenizer>(p);
    } catch (const std::invalid_argument& e) {
      fail("pre_tokenizer Split regex ", e.what());
    }
    if (const Json* d = member(j, "decoder")) {
      const Json* t = member(*d, "type");
      if (t == nullptr || *t != "ByteLevel")
        fail("decoder ", (t ? t->dump() : d->dump()), " is not supported (supported: ByteLevel)");
    }
  }

  if (const Json* unk = member(*model, "unk_token"); unk != nullptr && unk->is_string())
    v.unk_id_ = v.find(unk->get<std::string>());
  TokenizerJson::read_special_tokens(v, j, file);
  return v;
}

// post_processor (what HF adds with add_special_tokens) and tokenizer_config.json.
void TokenizerJson::read_special_tokens(Vocab& v, const Json& j, const std::filesystem::path& file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // TemplateProcessing "single": a special token first is the BOS, last the EOS;
  // Bert / RobertaProcessing: [CLS] / <s> first, [SEP] / </s> last.
  bool decided = false;
  TokenId first = -1, last = -1;
  if (const Json* pp = member(j, "post_processor")) {
    const std::string type = string_member(*pp, "type");
    const auto special = [&](const Json& item) {
      const Json* st = member(item, "SpecialToken");
      return st != nullptr ? v.find(string_member(*st, "id")) : TokenId(-1);
    };
    if (type == "TemplateProcessing") {
      if (const Json* single = member(*pp, "single"); single != nullptr && single->is_array() && !single->empty()) {
        first = special(single->front());
        last = single->size() > 1 ? special(single->back()) : TokenId(-1);
        decided = true;
      }
    } else if (type == "BertProcessing" || type == "RobertaProcessing") {
      const auto tok = [&](const char* key) {
        const Json* x = member(*pp, key);
        return x != nullptr && x->is_array() && !x->empty() && (*x)[0].is_string() ? v.find((*x)[0].get<std::string>())
                                                                                   : TokenId(-1);
      };
      first = tok("cls");
      last = tok("sep");
      decided = true;
    }
  }
  if (decided) {
    if (first >= 0) v.bos_id_ = first;
    v.add_bos_ = first >= 0;
    if (last >= 0 && v.kind_ != VocabKind::Wpm) v.eos_id_ = last;
    if (last >= 0 && v.kind_ == VocabKind::Wpm) v.sep_id_ = last;
    v.add_eos_ = last >= 0 && v.kind_ != VocabKind::Wpm;
  }

  // tokenizer_config.json beside it: special tokens, add_bos_token, chat_template.
  const fs::path config = file.parent_path() / "tokenizer_config.json";
  if (fs::is_regular_file(config, ec)) {
    const std::string cname = config.string();
    const Json c = read_json_file(cname);
    auto special = [&](const char* key) {
      const std::string text = token_text(member(c, key));
      if (text.empty()) return TokenId(-1);
      const TokenId id = v.find(text);
      if (id < 0)
        throw FormatError(bigdl::detail::cat(kOp, cname, ": ", key, " '", text, "' is not a token"));
      return id;
    };
    if (const TokenId b = special("bos_token"); b >= 0 || !decided) v.bos_id_ = b;
    if (const TokenId e = special("eos_token"); e >= 0 || !decided) v.eos_id_ = e;
    if (v.unk_id_ < 0) v.unk_id_ = special("unk_token");
    if (v.kind_ == VocabKind::Wpm) {
      if (const TokenId cls = special("cls_token"); cls >= 0) v.bos_id_ = cls;
      if (const TokenId sep = special("sep_token"); sep >= 0) v.sep_id_ = sep;
      if (const TokenId pad = special("pad_token"); pad >= 0) v.pad_id_ = pad;
    }
    // The flags only where the post_processor said nothing (llama.cpp's converter's rule).
    if (const Json* b = member(c, "add_bos_token"); b != nullptr && b->is_boolean() && !decided)
      v.add_bos_ = b->get<bool>() && v.bos_id_ >= 0;
    if (const Json* e = member(c, "add_eos_token"); e != nullptr && e->is_boolean() && !decided)
      v.add_eos_ = e->get<bool>() && v.eos_id_ >= 0;
    if (const Json* t = member(c, "chat_template")) {
      if (t->is_string()) {
        v.chat_template_ = t->get<std::string>();
      } else if (t->is_array()) {  // [{"name": "default", "template": "..."}, ...]
        for (const Json& e : *t) {
          const Json* tn = member(e, "name");
          const Json* tt = member(e, "template");
          if (tt == nullptr || !tt->is_string()) continue;
          if (v.chat_template_.empty() || (tn != nullptr && *tn == "default"))
            v.chat_template_ = tt->get<std::string>();
        }
      }
    }
  }
}



}  // namespace bigdl::llm
