// Pre-tokenizers: named regex lists, the hand-written splitters and PCRE2 (pre_tokenizer.h).
#include "llm/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>

#include "llm/unicode.h"

namespace bigdl::llm::detail {

namespace {

using Pieces = std::vector<std::pair<size_t, size_t>>;

// ---- the hand-written splitters ----

// What the splitters share: the code points' classes (cls[n] is "past the end": no class
// at all) and the words cut so far.
struct Cutter {
  const std::vector<uint32_t>& cpts;
  size_t n;
  std::vector<CpClass> cls;
  Pieces words;
  size_t start = 0;

  explicit Cutter(const std::vector<uint32_t>& c) : cpts(c), n(c.size()), cls(c.size() + 1) {
    for (size_t i = 0; i < n; ++i) cls[i] = classify(cpts[i]);
  }
  uint32_t at(size_t p) const { return p < n ? cpts[p] : 0xFFFFFFFFu; }
  // Ends the current word at `end` (nothing when it would be empty).
  void emit(size_t end) {
    if (end > start) words.emplace_back(start, end);
    start = end;
  }
  // [^\s\p{L}\p{N}]
  static bool other(const CpClass& c) { return c.any && !c.space && !c.letter && !c.number; }
};

// Splits code points into the pieces of the GPT-2 pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// written out by hand (the order of the alternatives is the order of the checks).
// Returns [begin, end) index pairs into cpts.
Pieces split_gpt2(const std::vector<uint32_t>& cpts) {
  Cutter c(cpts);
  const size_t n = c.n;
  const auto& cls = c.cls;
  const auto cp_at = [&](size_t p) { return c.at(p); };
  const auto other = &Cutter::other;
  const auto emit = [&](size_t end) { c.emit(end); };
  size_t pos = 0;
  while (pos < n) {
    const uint32_t cp = cpts[pos];
    if (cp == '\'' && pos + 1 < n) {  // 's 't 'm 'd 're 've 'll (case-sensitive, as GPT-2)
      const uint32_t a = cpts[pos + 1];
      if (a == 's' || a == 't' || a == 'm' || a == 'd') {
        emit(pos += 2);
        continue;
      }
      const uint32_t b = cp_at(pos + 2);
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
        emit(pos += 3);
        continue;
      }
    }
    const bool lead_space = cp == ' ';
    const CpClass& c2 = lead_space ? cls[pos + 1] : cls[pos];
    if (c2.letter) {
      pos += lead_space;
      while (cls[pos].letter) ++pos;
      emit(pos);
      continue;
    }
    if (c2.number) {
      pos += lead_space;
      while (cls[pos].number) ++pos;
      emit(pos);
      continue;
    }
    if (other(c2)) {
      pos += lead_space;
      while (other(cls[pos])) ++pos;
      emit(pos);
      continue;
    }
    size_t n_space = 0;
    while (cls[pos + n_space].space) ++n_space;
    if (n_space > 1 && pos + n_space < n) {  // \s+(?!\S): leave the last one to the word
      emit(pos += n_space - 1);
      continue;
    }
    if (n_space > 0) {
      emit(pos += n_space);
      continue;
    }
    emit(++pos);  // cannot happen for the classes above; kept as llama.cpp's fallback
  }
  return std::move(c.words);
}

// Splits code points into the pieces of the Llama 3 pattern
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//   ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// (max_digits = 3) or Qwen2's, which is the same with \p{N} (max_digits = 1); written out
// by hand as llama.cpp's unicode_regex_split_custom_llama3. Returns [begin, end) pairs.
Pieces split_llama3(const std::vector<uint32_t>& cpts, size_t max_digits) {
  Cutter c(cpts);
  const size_t n = c.n;
  const auto& cls = c.cls;
  const auto cp_at = [&](size_t p) { return c.at(p); };
  const auto other = &Cutter::other;
  const auto emit = [&](size_t end) { c.emit(end); };
  auto lower = [](uint32_t ch) { return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch; };
  auto newline = [](uint32_t ch) { return ch == '\r' || ch == '\n'; };
  size_t pos = 0;
  while (pos < n) {
    const uint32_t cp = cpts[pos];
    if (cp == '\'' && pos + 1 < n) {  // contractions, ASCII case-insensitive
      const uint32_t a = lower(cpts[pos + 1]);
      if (a == 's' || a == 't' || a == 'm' || a == 'd') {
        emit(pos += 2);
        continue;
      }
      const uint32_t b = lower(cp_at(pos + 2));
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
        emit(pos += 3);
        continue;
      }
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+: one optional non-letter lead (not a digit or newline)
    if (!newline(cp) && !cls[pos].number && (cls[pos].letter || cls[pos + 1].letter)) {
      ++pos;
      while (cls[pos].letter) ++pos;
      emit(pos);
      continue;
    }
    if (cls[pos].number) {  // \p{N}{1,max_digits}
      const size_t first = pos;
      while (cls[pos].number && pos - first < max_digits) ++pos;
      emit(pos);
      continue;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    const bool lead_space = cp == ' ';
    if (other(lead_space ? cls[pos + 1] : cls[pos])) {
      pos += lead_space;
      while (other(cls[pos])) ++pos;
      while (newline(cp_at(pos))) ++pos;
      emit(pos);
      continue;
    }
    size_t n_space = 0, last_newline_end = 0;
    while (cls[pos + n_space].space) {
      if (newline(cpts[pos + n_space])) last_newline_end = pos + n_space + 1;
      ++n_space;
    }
    if (last_newline_end > 0) {  // \s*[\r\n]+
      emit(pos = last_newline_end);
      continue;
    }
    if (n_space > 1 && pos + n_space < n) {  // \s+(?!\S)
      emit(pos += n_space - 1);
      continue;
    }
    if (n_space > 0) {
      emit(pos += n_space);
      continue;
    }
    emit(++pos);
  }
  return std::move(c.words);
}


// \p{N}: every number character its own piece, the text between them one piece each.
Pieces split_digits(const std::vector<uint32_t>& cpts) {
  Pieces out;
  size_t start = 0;
  for (size_t i = 0; i < cpts.size(); ++i) {
    if (!classify(cpts[i]).number) continue;
    if (i > start) out.emplace_back(start, i);
    out.emplace_back(i, i + 1);
    start = i + 1;
  }
  if (start < cpts.size()) out.emplace_back(start, cpts.size());
  return out;
}

// ---- the regexes ----

// GPT-2's pattern, with and without its final \s+ alternative (llama.cpp's lists drop it;
// a lone whitespace it would take becomes a gap piece of its own, the same split).
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt2Short = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
// Llama 3 (tiktoken cl100k-like) and Qwen2 (single digits), as their tokenizer.json
// write them and in llama.cpp's case-expanded form.
constexpr const char* kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3Expanded =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Expanded =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kDigit = R"(\p{N})";

struct Named {
  std::vector<const char*> names;  // llama.cpp's tokenizer.ggml.pre values
  std::vector<const char*> regexes;
  bool ignore_merges = false;
  size_t byte_level_at = PreTokenizer::kNoByteLevel;
};

// llama.cpp's LLAMA_VOCAB_PRE_TYPE groups (src/llama-vocab.cpp), the regexes as the
// models' tokenizer.json files define them.
const std::vector<Named>& named_lists() {
  static const std::vector<Named> t = {
      {{"gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "granite-docling", "jina-es", "jina-de", "jina-v1-en",
        "jina-v2-es", "jina-v2-de", "jina-v2-code", "roberta-bpe", "gigachat", "a.x-4.0", "mellum", "exaone4",
        "modern-bert"},
       {kGpt2}},
      {{"llama-bpe", "llama3", "llama-v3", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"}, {kLlama3}, true},
      {{"dbrx", "smaug-bpe", "chatglm-bpe"}, {kLlama3}},
      {{"glm4", "glm5"}, {kLlama3}, true},
      {{"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", "hunyuan", "solar-open", "grok-2", "kormo"}, {kQwen2}},
      {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"},
       {kDigit, kGpt2Short}},
      // falcon-7b's tokenizer.json: Punctuation(Contiguous), ByteLevel, then Digits and
      // "[0-9][0-9][0-9]" on the byte-level text (llama.cpp drops Digits and runs the rest
      // on code points; the two differ on digits such as "½" and on bytes like D0 BD "н").
      {{"falcon"}, {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, R"(\p{N}+)", R"([0-9][0-9][0-9])"}, false, 2},
      {{"default"}, {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2Short, R"(\p{N}+)", R"([0-9][0-9][0-9])"}},
      {{"bloom", "poro-chat", "gpt3-finnish"}, {R"( ?[^(\s|.,!?…。，、।۔،)]+)"}},
      {{"viking"}, {R"( ?[^(\s|.,!?…。，、।۔،)]+)", kDigit}},
      // Written with \x{..} escapes: as literal characters, editors and tools that normalise
      // text to NFC turn U+1F7D into U+03CE and the range "U+1F5F-U+1F7D" out of order.
      {{"deepseek-llm"}, {"[\r\n]", "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+", "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+", "\\p{N}+"}},
      {{"deepseek-coder"}, {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"}},
      {{"deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4"}, {"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+", "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}},
      {{"tekken"},
       {R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
       true},
      {{"gpt-4o", "llama4", "minimax-m2"},
       {R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}},
      {{"seed-coder"},
       {R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)"}},
      {{"bailingmoe", "bailingmoe2", "llada-moe"},
       {R"('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)"}},
      {{"chameleon"},
       {R"(<sentinel:[0-9]+>)", R"((IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z)", R"(([\t\n]|    |  ))", kDigit,
        R"([\p{P}!-/:-@\[-`{-~])", kGpt2Short}},
  };
  return t;
}

enum class Custom { none, gpt2, llama3, qwen2, digits };

Custom custom_of(const std::string& re) {
  if (re == kGpt2 || re == kGpt2Short) return Custom::gpt2;
  if (re == kLlama3 || re == kLlama3Expanded) return Custom::llama3;
  if (re == kQwen2 || re == kQwen2Expanded) return Custom::qwen2;
  if (re == kDigit) return Custom::digits;
  return Custom::none;
}

}  // namespace

struct PreTokenizer::Step {
  Custom custom = Custom::none;
  pcre2_code* code = nullptr;
  explicit Step(const std::string& re) : custom(custom_of(re)) {
    if (custom != Custom::none) return;
    int err = 0;
    PCRE2_SIZE off = 0;
    code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re.data()), re.size(), PCRE2_UTF | PCRE2_UCP, &err, &off,
                         nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof(msg));
      throw std::invalid_argument(re + ": " + reinterpret_cast<const char*>(msg) + " at offset " + std::to_string(off));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // an interpreter fallback when JIT is unavailable
  }
  ~Step() {
    if (code) pcre2_code_free(code);
  }
  Step(const Step&) = delete;
  Step& operator=(const Step&) = delete;

  // The pieces of one run of code points (indexes relative to it).
  Pieces run(const std::vector<uint32_t>& cpts) const {
    switch (custom) {
      case Custom::gpt2: return split_gpt2(cpts);
      case Custom::llama3: return split_llama3(cpts, 3);
      case Custom::qwen2: return split_llama3(cpts, 1);
      case Custom::digits: return split_digits(cpts);
      case Custom::none: break;
    }
    // The run as UTF-8, with the code point index of every byte offset.
    std::string s;
    std::vector<size_t> cp_at;
    for (size_t i = 0; i < cpts.size(); ++i) {
      const size_t before = s.size();
      append_utf8(s, cpts[i]);
      cp_at.resize(s.size(), i);
      (void)before;
    }
    cp_at.push_back(cpts.size());
    Pieces out;
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
    size_t start = 0;  // code points
    PCRE2_SIZE at = 0;   // bytes
    while (at <= s.size()) {
      const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), at, 0, md, nullptr);
      if (rc < 0) break;  // no (more) match, or an error: the rest is one gap
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      const size_t b = ov[0], e = ov[1];
      if (e == b) {  // an empty match: step one character on
        at = b + (b < s.size() ? utf8_len(uint8_t(s[b])) : 1);
        continue;
      }
      const size_t cb = cp_at[b], ce = cp_at[e];
      if (cb > start) out.emplace_back(start, cb);
      out.emplace_back(cb, ce);
      start = ce;
      at = e;
    }
    pcre2_match_data_free(md);
    if (start < cpts.size()) out.emplace_back(start, cpts.size());
    return out;
  }
};

PreTokenizer::PreTokenizer() : PreTokenizer(*named("gpt-2")) {}

std::optional<PreTokenizer> PreTokenizer::named(std::string_view name) {
  for (const Named& n : named_lists())
    for (const char* x : n.names)
      if (name == x) {
        std::vector<std::string> res(n.regexes.begin(), n.regexes.end());
        PreTokenizer p = from_regexes(res, n.byte_level_at);
        p.name_ = std::string(name);
        p.ignore_merges_ = n.ignore_merges;
        return p;
      }
  return std::nullopt;
}

std::vector<std::string> PreTokenizer::names() {
  std::vector<std::string> r;
  for (const Named& n : named_lists())
    for (const char* x : n.names) r.emplace_back(x);
  std::sort(r.begin(), r.end());
  return r;
}

PreTokenizer PreTokenizer::from_regexes(const std::vector<std::string>& regexes, size_t byte_level_at) {
  // One compiled Step per distinct regex, shared by every PreTokenizer that uses it.
  static std::map<std::string, std::shared_ptr<const Step>> cache;
  static std::mutex mu;
  PreTokenizer p{Empty{}};
  p.regexes_ = regexes;
  p.byte_level_at_ = byte_level_at >= regexes.size() ? kNoByteLevel : byte_level_at;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const std::string& re : regexes) {
      auto it = cache.find(re);
      if (it == cache.end()) it = cache.emplace(re, std::make_shared<const Step>(re)).first;
      p.steps_.push_back(it->second);
    }
  }
  // The name of a named list with these regexes (the first one listed), for GGUF export.
  p.name_.clear();
  for (const Named& n : named_lists()) {
    if (n.regexes.size() != regexes.size() || n.byte_level_at != p.byte_level_at_) continue;
    bool same = true;
    for (size_t i = 0; i < regexes.size(); ++i)
      same = same && (regexes[i] == n.regexes[i] ||
                      (custom_of(regexes[i]) != Custom::none && custom_of(regexes[i]) == custom_of(n.regexes[i])));
    if (same) {
      p.name_ = n.names[0];
      break;
    }
  }
  return p;
}

std::vector<std::string> PreTokenizer::words(const std::vector<uint32_t>& cpts) const {
  if (cpts.empty()) return {};
  // Runs steps [first, last) on text, each cutting the pieces the previous one left.
  const auto run_steps = [&](const std::vector<uint32_t>& text, size_t first, size_t last) {
    Pieces pieces = {{0, text.size()}};
    for (size_t s = first; s < last; ++s) {
      Pieces next;
      for (const auto& [b, e] : pieces) {
        const std::vector<uint32_t> run(text.begin() + b, text.begin() + e);
        for (const auto& [rb, re] : steps_[s]->run(run)) next.emplace_back(b + rb, b + re);
      }
      pieces = std::move(next);
    }
    return pieces;
  };
  const ByteUnicode& bu = byte_unicode();
  const size_t at = std::min(byte_level_at_, steps_.size());
  std::vector<std::string> out;
  for (const auto& [b, e] : run_steps(cpts, 0, at)) {
    std::string utf8;
    for (size_t i = b; i < e; ++i) append_utf8(utf8, cpts[i]);
    std::vector<uint32_t> mapped;  // one code point per byte
    mapped.reserve(utf8.size());
    for (const char c : utf8) mapped.push_back(bu.to_cp[uint8_t(c)]);
    for (const auto& [mb, me] : run_steps(mapped, at, steps_.size())) {
      std::string word;
      for (size_t i = mb; i < me; ++i) append_utf8(word, mapped[i]);
      out.push_back(std::move(word));
    }
  }
  return out;
}

}  // namespace bigdl::llm::detail
