// Hugging Face tokenizer.json loading (Vocab::load_tokenizer_json) against llama.cpp's test
// vectors, the Llama 3 / Qwen2 / GPT-2 pre-tokenizer splits on hand-made strings, and a
// SentencePiece-style (Llama 2) tokenizer.json against HF tokenizers, sentencepiece and
// llama.cpp (fixture from tests/llm/gen_spm_tokenizer_json.py); see docs/tokenizer.md.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/io/gguf.h"
#include "bigdl/io/gguf_writer.h"
#include "bigdl/io/gzip.h"
#include "bigdl/llm/chat.h"
#include "bigdl/llm/vocab.h"
#include "llm/vocab_vectors.h"
#include "test_util.h"

namespace {


using bigdl::llm::StreamDecoder;
using bigdl::llm::TokenId;
using bigdl::llm::TokenType;
using bigdl::llm::Vocab;
using bigdl::llm::VocabKind;
namespace fs = std::filesystem;

using vocab_vectors::shared;

using vocab_vectors::Case;
using vocab_vectors::load_cases;
using vocab_vectors::read_all;

const Vocab& cached(const std::string& dir) {
  static std::map<std::string, Vocab> cache;
  auto it = cache.find(dir);
  if (it == cache.end()) it = cache.emplace(dir, Vocab::load_tokenizer_json(shared(dir))).first;
  return it->second;
}

std::string ids_str(const std::vector<TokenId>& ids) {
  std::string s;
  for (TokenId id : ids) s += std::to_string(id) + " ";
  return s;
}

int check_vectors(const Vocab& v, const std::string& name) {
  const auto cases = load_cases(name);
  EXPECT_EQ(cases.size(), 46u);
  int ok = 0;
  for (const Case& c : cases) {
    const auto ids = v.encode(c.text);
    EXPECT_EQ(ids, c.ids) << name << " text '" << c.text << "'\n got  " << ids_str(ids)
                          << "\n want " << ids_str(c.ids);
    EXPECT_EQ(v.decode(ids), c.text) << name << " round trip of '" << c.text << "'";
    ok += ids == c.ids && v.decode(ids) == c.text;
  }
  return ok;
}

TEST(TokenizerJson, Qwen3MatchesQwen2Vectors) {
  const Vocab& v = cached("tokenizers/qwen3");
  EXPECT_EQ(v.pre_tokenizer(), "qwen2");
  EXPECT_EQ(v.size(), 151669);
  EXPECT_EQ(check_vectors(v, "qwen2"), 46);
  // tokenizer_config.json: eos <|im_end|>, no BOS, a chatml chat template.
  EXPECT_EQ(v.eos_id(), 151645);
  EXPECT_EQ(v.bos_id(), -1);
  EXPECT_FALSE(v.add_bos());
  EXPECT_EQ(v.type(151644), TokenType::Control);      // <|im_start|>, special
  EXPECT_EQ(v.type(151667), TokenType::UserDefined);  // <think>, not special
  EXPECT_EQ(bigdl::llm::detect_chat_format(v.chat_template()), bigdl::llm::ChatFormat::ChatML);
  const auto ids = v.encode("<|im_start|>user\nhi<|im_end|>", false, /*parse_special=*/true);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), 151644);
  EXPECT_EQ(ids.back(), 151645);
  EXPECT_EQ(v.decode(ids, /*render_special=*/true), "<|im_start|>user\nhi<|im_end|>");
  EXPECT_EQ(v.decode(ids), "user\nhi");
}

TEST(TokenizerJson, Gpt2MatchesGpt2Vectors) {
  const Vocab& v = cached("tokenizers/gpt2");  // a folder: tokenizer.json + tokenizer_config.json
  EXPECT_EQ(v.pre_tokenizer(), "gpt-2");
  EXPECT_EQ(v.size(), 50257);
  EXPECT_EQ(check_vectors(v, "gpt-2"), 46);
  EXPECT_EQ(v.eos_id(), 50256);
  EXPECT_EQ(v.bos_id(), 50256);
  EXPECT_TRUE(v.chat_template().empty());
  // Vocab::load on a directory reads its tokenizer.json too.
  EXPECT_EQ(Vocab::load(shared("tokenizers/gpt2")).encode("Hello world"), v.encode("Hello world"));
}

// --- hand-made tokenizer.json files -------------------------------------------------------

const char* kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// GPT-2's bytes_to_unicode of a byte string.
std::string to_byte_level(const std::string& bytes) {
  std::string out;
  for (unsigned char b : bytes) {
    int n = 256, cp = -1;
    for (int x = 0; x < 256; ++x) {
      const bool printable = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174;
      const int c = printable ? x : n++;
      if (x == b) cp = c;
    }
    if (cp < 0x80) {
      out += char(cp);
    } else {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

// A temp folder that also writes text files into itself.
struct TempDir : test_util::TempDir {
  using test_util::TempDir::TempDir;
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(file(name), std::ios::binary) << text;
    return file(name);
  }
};

// A tokenizer whose vocab is the 256 byte tokens plus `words` (ignore_merges, no merges):
// a pre-tokenizer piece that is one of `words` becomes that one token, anything else
// falls apart into byte tokens, so the ids show exactly how the text was split.
nlohmann::json split_probe(const std::vector<std::string>& words, const nlohmann::json& pre) {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[to_byte_level(std::string(1, char(b)))] = b;
  int next = 256;
  for (const auto& w : words)
    if (!vocab.contains(to_byte_level(w))) vocab[to_byte_level(w)] = next++;
  return {{"version", "1.0"},
          {"added_tokens", nlohmann::json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", pre},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model", {{"type", "BPE"}, {"ignore_merges", true}, {"vocab", vocab},
                     {"merges", nlohmann::json::array()}}}};
}

nlohmann::json split_pre(const char* regex) {
  return {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}},
            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
}

const std::string kProbeText = "Hello WORLD'S 12345 x\n\n  y!!\n(abc";
// Every piece any of the three splitters (or a plausible wrong one) could cut from
// kProbeText is in the probe vocab, so a wrong split shows up as a different token.
const std::vector<std::string> kDecoys = {
    "Hello", " WORLD", "WORLD", "'S", "'", "S", " ", "  ", "12345", " 12345", "123", "45", "1", "2",
    "3", "4", "5", " x", "\n\n", "\n\n ", "\n\n  ", " y", "!!\n", "!!", "\n", "(abc", "(", "abc"};

// Splits `text` with the probe tokenizer and returns the pieces (each must be one token).
std::vector<std::string> pieces(const nlohmann::json& pre, const std::vector<std::string>& words,
                                const std::string& text, const std::string& tag) {
  TempDir dir("tokjson_" + tag);
  std::vector<std::string> all = kDecoys;
  all.insert(all.end(), words.begin(), words.end());
  const Vocab v = Vocab::load_tokenizer_json(dir.write("tokenizer.json", split_probe(all, pre).dump()));
  std::vector<std::string> out;
  for (TokenId id : v.encode(text)) out.push_back(v.token_to_piece(id));  // a word not in `words` shows as its bytes
  return out;
}

TEST(TokenizerJson, Llama3SplitsOnHandMadeStrings) {
  // Derived from the Llama 3 regex: case-insensitive contractions, digits in threes,
  // one non-letter lead before letters, newlines end a punctuation run.
  const std::vector<std::string> want = {"Hello", " WORLD", "'S", " ",  "123", "45",
                                         " x",    "\n\n",   " ",  " y", "!!\n", "(abc"};
  EXPECT_EQ(pieces(split_pre(kLlama3Regex), want, kProbeText, "llama3"), want);
  TempDir dir("tokjson_llama3_pre");
  const Vocab v = Vocab::load_tokenizer_json(dir.write("tokenizer.json", split_probe({}, split_pre(kLlama3Regex)).dump()));
  EXPECT_EQ(v.pre_tokenizer(), "llama-bpe");
}

TEST(TokenizerJson, Qwen2SplitsDigitsOneByOne) {
  const std::vector<std::string> want = {"Hello", " WORLD", "'S", " ", "1",  "2",    "3",
                                         "4",     "5",      " x", "\n\n", " ", " y", "!!\n", "(abc"};
  EXPECT_EQ(pieces(split_pre(kQwen2Regex), want, kProbeText, "qwen2"), want);
}

TEST(TokenizerJson, Gpt2ByteLevelRegexSplits) {
  // GPT-2: case-sensitive contractions, digits with a leading space, "\s+(?!\S)".
  const std::vector<std::string> want = {"Hello", " WORLD", "'", "S", " 12345", " x",
                                         "\n\n ", " y",     "!!", "\n", "(", "abc"};
  const nlohmann::json pre = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  EXPECT_EQ(pieces(pre, want, kProbeText, "gpt2"), want);
}

TEST(TokenizerJson, MergesInListAndStringForm) {
  auto j = split_probe({}, split_pre(kQwen2Regex));
  j["model"]["ignore_merges"] = false;
  j["model"]["vocab"]["ab"] = 300;
  j["model"]["vocab"]["abc"] = 301;
  for (const bool list_form : {true, false}) {
    j["model"]["merges"] = list_form ? nlohmann::json::array({{"a", "b"}, {"ab", "c"}})
                                     : nlohmann::json::array({"a b", "ab c"});
    TempDir dir("tokjson_merges");
    const Vocab v = Vocab::load_tokenizer_json(dir.write("tokenizer.json", j.dump()));
    EXPECT_EQ(v.encode("abc"), (std::vector<TokenId>{301})) << list_form;
    EXPECT_EQ(v.encode("abd"), (std::vector<TokenId>{300, 'd'})) << list_form;
  }
}

template <typename F>
std::string format_error(F f) {
  try {
    f();
  } catch (const bigdl::FormatError& e) {
    return e.what();
  }
  return "no FormatError";
}

TEST(TokenizerJson, Errors) {
  TempDir dir("tokjson_errors");
  const std::string bad = dir.write("tokenizer.json", "{\"model\": {\"vocab\": ");
  std::string msg = format_error([&] { Vocab::load_tokenizer_json(bad); });
  EXPECT_NE(msg.find("[vocab] " + bad + ": invalid JSON"), std::string::npos) << msg;

  auto j = split_probe({}, split_pre(kQwen2Regex));
  j["model"].erase("vocab");
  const std::string no_vocab = dir.write("tokenizer.json", j.dump());
  msg = format_error([&] { Vocab::load_tokenizer_json(dir.path()); });
  EXPECT_NE(msg.find(no_vocab + ": field 'model.vocab' missing"), std::string::npos) << msg;

  j = split_probe({}, split_pre(R"((\p{L}+|\s+)"));  // unbalanced: PCRE2 refuses it
  dir.write("tokenizer.json", j.dump());
  msg = format_error([&] { Vocab::load_tokenizer_json(dir.path()); });
  EXPECT_NE(msg.find("pre_tokenizer Split regex (\\p{L}+|\\s+: missing closing parenthesis"), std::string::npos) << msg;

  j = split_probe({}, split_pre(kQwen2Regex));
  j["model"]["type"] = "Unigram";
  dir.write("tokenizer.json", j.dump());
  msg = format_error([&] { Vocab::load_tokenizer_json(dir.path()); });
  EXPECT_NE(msg.find("model.type \"Unigram\" is not supported"), std::string::npos) << msg;

  j = split_probe({}, split_pre(kQwen2Regex));
  j["normalizer"] = {{"type", "NFKC"}};
  dir.write("tokenizer.json", j.dump());
  msg = format_error([&] { Vocab::load_tokenizer_json(dir.path()); });
  EXPECT_NE(msg.find("normalizer \"NFKC\" is not supported"), std::string::npos) << msg;
}

// --- SentencePiece-style tokenizer.json (Llama 2) ------------------------------------------

const std::string kSpmDir = std::string(BIGDL_TEST_DIR) + "/llm/fixtures/spm_tokenizer/";

// encodings.json: what HF tokenizers (and sentencepiece) give for llama.cpp's 46 strings and
// a few more, per flavour of the same tokenizer.json (see gen_spm_tokenizer_json.py).
struct SpmGolden {
  std::vector<std::string> strings;
  size_t n_llama_cpp = 0;
  std::vector<std::vector<TokenId>> sentencepiece;
  std::map<std::string, std::vector<std::vector<TokenId>>> ids;
  std::map<std::string, std::vector<std::string>> decoded;
};

const SpmGolden& spm_golden() {
  static const SpmGolden g = [] {
    const auto j = nlohmann::json::parse(read_all(kSpmDir + "encodings.json"));
    SpmGolden r;
    r.strings = j["strings"].get<std::vector<std::string>>();
    r.n_llama_cpp = j["n_llama_cpp"].get<size_t>();
    r.sentencepiece = j["sentencepiece_ids"].get<std::vector<std::vector<TokenId>>>();
    for (const auto& [name, f] : j["flavours"].items()) {
      r.ids[name] = f["ids"].get<std::vector<std::vector<TokenId>>>();
      r.decoded[name] = f["decoded"].get<std::vector<std::string>>();
    }
    return r;
  }();
  return g;
}

// The fixture's tokenizer.json (gzip'd) as JSON, to derive the other flavours from.
const nlohmann::json& spm_json() {
  static const nlohmann::json j = [] {
    const auto bytes = bigdl::io::read_file_maybe_gzip(kSpmDir + "tokenizer.json.gz");
    return nlohmann::json::parse(bytes.begin(), bytes.end());
  }();
  return j;
}

const Vocab& spm_legacy() {
  static const Vocab v = Vocab::load_tokenizer_json(kSpmDir + "tokenizer.json.gz");
  return v;
}

// The same tokenizer with a Metaspace pre-tokenizer instead of the Prepend/Replace normalizer
// (the edits gen_spm_tokenizer_json.py makes; "first"/false is transformers' legacy=False).
Vocab spm_metaspace(const std::string& scheme, bool split, const std::string& tag) {
  auto j = spm_json();
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", scheme}, {"split", split}};
  TempDir dir("tokjson_spm_" + tag);
  return Vocab::load_tokenizer_json(dir.write("tokenizer.json", j.dump()));
}

// Every string: ids equal HF's (added tokens in the text matched, as HF always does) and
// decode() equals HF's decode. Returns how many of llama.cpp's 46 strings give its ids.
int check_spm_flavour(const Vocab& v, const std::string& flavour) {
  const SpmGolden& g = spm_golden();
  const auto& want = g.ids.at(flavour);
  const auto& want_text = g.decoded.at(flavour);
  EXPECT_EQ(want.size(), g.strings.size());
  const auto cases = load_cases("llama-spm");
  int same_as_llama_cpp = 0;
  for (size_t i = 0; i < g.strings.size(); ++i) {
    const std::string& s = g.strings[i];
    const auto ids = v.encode(s, false, /*parse_special=*/true);
    EXPECT_EQ(ids, want[i]) << flavour << " text '" << s << "'\n got  " << ids_str(ids) << "\n want " << ids_str(want[i]);
    EXPECT_EQ(v.decode(ids), want_text[i]) << flavour << " decode of '" << s << "'";
    // Streaming all ids then flushing gives decode().
    StreamDecoder stream(v);
    std::string streamed;
    for (TokenId id : ids) streamed += stream.push(id);
    streamed += stream.flush();
    EXPECT_EQ(streamed, v.decode(ids)) << flavour << " streamed '" << s << "'";
    if (i < g.n_llama_cpp) same_as_llama_cpp += ids == cases[i].ids;
  }
  return same_as_llama_cpp;
}

TEST(TokenizerJsonSpm, Llama2LegacyMatchesHfSentencePieceAndLlamaCpp) {
  const Vocab& v = spm_legacy();  // normalizer Prepend("▁") + Replace(" ", "▁"), read gzip'd
  EXPECT_EQ(v.kind(), VocabKind::Spm);
  EXPECT_EQ(v.size(), 32000);
  EXPECT_EQ(v.unk_id(), 0);
  EXPECT_EQ(v.bos_id(), 1);  // tokenizer_config.json
  EXPECT_EQ(v.eos_id(), 2);
  EXPECT_TRUE(v.add_bos());
  EXPECT_TRUE(v.add_space_prefix());
  EXPECT_EQ(v.type(13), TokenType::Byte);  // <0x0A>
  EXPECT_EQ(v.type(1), TokenType::Control);
  const SpmGolden& g = spm_golden();
  const auto cases = load_cases("llama-spm");
  ASSERT_EQ(g.n_llama_cpp, cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_EQ(g.strings[i], cases[i].text);
    EXPECT_EQ(g.sentencepiece[i], cases[i].ids) << "sentencepiece vs llama.cpp on '" << cases[i].text << "'";
    const auto ids = v.encode(cases[i].text);
    EXPECT_EQ(v.decode(ids), cases[i].text) << "round trip of '" << cases[i].text << "'";
    auto with_bos = ids;
    with_bos.insert(with_bos.begin(), 1);
    EXPECT_EQ(v.encode(cases[i].text, /*add_bos=*/true), with_bos);
    EXPECT_EQ(v.decode(with_bos), cases[i].text) << "HF's decode drops <s> and strips one space";
  }
  EXPECT_EQ(check_spm_flavour(v, "legacy"), 46);  // HF == sentencepiece == llama.cpp here
  // The GGUF of the same vocab (scores, llama.cpp's algorithm) agrees on the extra strings too.
  const Vocab gguf = Vocab::load(shared("tokenizers/ggml-vocab/ggml-vocab-llama-spm.gguf"));
  for (size_t i = 0; i < g.strings.size(); ++i)
    EXPECT_EQ(gguf.encode(g.strings[i], false, true), g.ids.at("legacy")[i]) << "'" << g.strings[i] << "'";
}

TEST(TokenizerJsonSpm, MetaspaceFirstMatchesHf) {
  // transformers' legacy=False file. Metaspace does not prepend "▁" to text that already
  // starts with one, nor after an added token: 15 of llama.cpp's strings start with a space
  // and tokenize differently (" Hello" -> "▁Hello", llama.cpp "▁", "▁Hello").
  const Vocab v = spm_metaspace("first", false, "first");
  EXPECT_EQ(check_spm_flavour(v, "metaspace_first"), 46 - 15);
}

TEST(TokenizerJsonSpm, MetaspaceSplitMatchesHf) {
  // The older form: prepend_scheme "always", split = true (every "▁" starts a word).
  const Vocab v = spm_metaspace("always", true, "split");
  EXPECT_EQ(check_spm_flavour(v, "metaspace_split"), 30);
}

// A tiny byte_fallback BPE: merges decide by rank (not by any score), unknown characters
// without byte tokens become <unk>, fused when fuse_unk. Every expected id below is what
// tokenizers 0.20.3 gives for the same JSON.
nlohmann::json tiny_spm(const nlohmann::json& merges, bool fuse_unk) {
  return {{"added_tokens", {{{"id", 0}, {"content", "<unk>"}, {"special", true}}}},
          {"normalizer",
           {{"type", "Sequence"},
            {"normalizers",
             {{{"type", "Prepend"}, {"prepend", "\u2581"}},
              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}}}}}},
          {"pre_tokenizer", nullptr},
          {"decoder",
           {{"type", "Sequence"},
            {"decoders",
             {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
              {{"type", "ByteFallback"}},
              {{"type", "Fuse"}},
              {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
          {"model",
           {{"type", "BPE"}, {"byte_fallback", true}, {"fuse_unk", fuse_unk}, {"unk_token", "<unk>"},
            {"vocab", {{"<unk>", 0}, {"\u2581", 1}, {"a", 2}, {"b", 3}, {"\u2581a", 4}, {"ab", 5}, {"<0x41>", 6}, {"b\u2581", 7}}},
            {"merges", merges}}}};
}

TEST(TokenizerJsonSpm, MergesByRankByteFallbackAndFuseUnk) {
  TempDir dir("tokjson_spm_tiny");
  const auto load = [&](const nlohmann::json& j) { return Vocab::load_tokenizer_json(dir.write("tokenizer.json", j.dump())); };
  const Vocab v = load(tiny_spm({"\u2581 a", "a b"}, true));
  EXPECT_EQ(v.encode("ab"), (std::vector<TokenId>{4, 3}));  // "▁ a" ranks first
  EXPECT_EQ(load(tiny_spm({"a b", "\u2581 a"}, true)).encode("ab"), (std::vector<TokenId>{1, 5}));
  // 'A' has a byte token; '€' (3 bytes) has none: one <unk>, and two adjacent ones fuse.
  EXPECT_EQ(v.encode("aA"), (std::vector<TokenId>{4, 6}));
  EXPECT_EQ(v.encode("a\u20ac\u20acb"), (std::vector<TokenId>{4, 0, 3}));
  EXPECT_EQ(load(tiny_spm({"\u2581 a", "a b"}, false)).encode("a\u20ac\u20acb"), (std::vector<TokenId>{4, 0, 0, 3}));
  EXPECT_EQ(v.decode({4, 6, 0, 3}), "aAb");  // <unk> is special: dropped, as HF's decode
  // The older Metaspace form: add_prefix_space = true and no split key mean "always" and
  // split: words end before each '▁', so the merge "b ▁" cannot apply.
  const nlohmann::json merges = {"b \u2581", "\u2581 a", "a b"};
  auto j = tiny_spm(merges, true);
  EXPECT_EQ(load(j).encode("b ab"), (std::vector<TokenId>{1, 7, 5}));  // "▁", "b▁", "ab"
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"add_prefix_space", true}};
  const Vocab old = load(j);
  EXPECT_TRUE(old.add_space_prefix());
  EXPECT_EQ(old.encode("b ab"), (std::vector<TokenId>{1, 3, 4, 3}));  // "▁b" | "▁ab"
  EXPECT_EQ(old.encode(" ab"), (std::vector<TokenId>{4, 3}));         // no second '▁'
}

TEST(TokenizerJsonSpm, Errors) {
  TempDir dir("tokjson_spm_errors");
  const auto message = [&](const nlohmann::json& j) {
    dir.write("tokenizer.json", j.dump());
    return format_error([&] { Vocab::load_tokenizer_json(dir.path()); });
  };
  const nlohmann::json good = tiny_spm({"\u2581 a", "a b"}, true);
  auto j = good;
  j["model"]["merges"] = {"\u2581 a", "a c"};
  std::string msg = message(j);
  EXPECT_NE(msg.find("tokenizer.json: model.merges[1] 'a c': 'c' is not in model.vocab"), std::string::npos) << msg;
  j = good;
  j["normalizer"] = {{"type", "NFKC"}};
  msg = message(j);
  EXPECT_NE(msg.find("normalizer {\"type\":\"NFKC\"} is not supported with byte_fallback"), std::string::npos) << msg;
  j = good;
  j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "first"}};
  msg = message(j);
  EXPECT_NE(msg.find("needs exactly one of a normalizer Replace(\" \", \"▁\") and a Metaspace pre_tokenizer (has both)"),
            std::string::npos) << msg;
  j["normalizer"] = nullptr;
  j["pre_tokenizer"]["prepend_scheme"] = "sometimes";
  msg = message(j);
  EXPECT_NE(msg.find("prepend_scheme 'sometimes' is not one of first, always, never"), std::string::npos) << msg;
  j = good;
  j["decoder"]["decoders"].erase(1);  // no ByteFallback
  msg = message(j);
  EXPECT_NE(msg.find("decoder needs Replace(\"▁\", \" \") and ByteFallback"), std::string::npos) << msg;
  j = good;
  j["pre_tokenizer"] = {{"type", "ByteLevel"}};
  msg = message(j);
  EXPECT_NE(msg.find("pre_tokenizer type 'ByteLevel' is not supported with byte_fallback"), std::string::npos) << msg;
}

}  // namespace

// --- Byte-level BPE tokenizer.json of Falcon, StarCoder, GPT-NeoX and Bloom ----------------
// Each fixture is the model's tokenizer.json less its vocab and merges, which the test fills
// from the shared llama.cpp vocabulary GGUF named in "vocab_gguf"; the ids are what Hugging
// Face tokenizers gives (tests/llm/gen_bpe_tokenizer_json.py).

const std::string kBpeDir = std::string(BIGDL_TEST_DIR) + "/llm/fixtures/bpe_tokenizers/";

nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(read_all(path));
}

// Also checks the llama.cpp name the pre-tokenizer gets (what a converted GGUF says).
int check_bpe_fixture(const std::string& name, const std::string& pre_name) {
  nlohmann::json def = read_json(kBpeDir + name + ".def.json");
  const auto file = bigdl::io::GgufFile::open(shared(def["vocab_gguf"].get<std::string>()));
  const auto& tokens = file.get_string_array("tokenizer.ggml.tokens");
  nlohmann::json vocab = nlohmann::json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  def["model"]["vocab"] = std::move(vocab);
  def["model"]["merges"] = file.get_string_array("tokenizer.ggml.merges");
  def.erase("vocab_gguf");
  TempDir dir("tokjson_bpe_" + name);
  const Vocab v = Vocab::load_tokenizer_json(dir.write("tokenizer.json", def.dump()));
  EXPECT_EQ(v.pre_tokenizer(), pre_name) << name;

  const nlohmann::json want = read_json(kBpeDir + name + ".ids.json");
  const auto& strings = want["strings"];
  EXPECT_GE(strings.size(), 50u);
  int ok = 0;
  for (size_t i = 0; i < strings.size(); ++i) {
    const std::string text = strings[i].get<std::string>();
    const auto ids_want = want["ids"][i].get<std::vector<TokenId>>();
    const auto ids = v.encode(text);
    EXPECT_EQ(ids, ids_want) << name << " text '" << text << "'\n got  " << ids_str(ids)
                             << "\n want " << ids_str(ids_want);
    ok += ids == ids_want;
  }
  // The GGUF convert writes from it tokenizes the same, normalizer included ("café" with a
  // combining accent is NFC-composed by GPT-NeoX's tokenizer.json).
  bigdl::io::GgufWriter w;
  w.set("general.architecture", bigdl::io::gguf_string("gptneox"));
  v.write_gguf(w);
  const std::string gguf = dir.write("vocab.gguf", "");
  w.write(gguf);
  const Vocab back = Vocab::load(gguf);
  for (const auto& t : strings) EXPECT_EQ(back.encode(t.get<std::string>()), v.encode(t.get<std::string>())) << name;
  EXPECT_EQ(back.encode("cafe\xCC\x81"), v.encode("cafe\xCC\x81")) << name;
  return ok;
}

TEST(TokenizerJsonBpe, FalconMatchesHfTokenizers) {
  EXPECT_EQ(check_bpe_fixture("falcon", "falcon"), 53);
}

TEST(TokenizerJsonBpe, StarCoderMatchesHfTokenizers) {
  EXPECT_EQ(check_bpe_fixture("starcoder", "starcoder"), 53);
}

TEST(TokenizerJsonBpe, GptNeoXMatchesHfTokenizers) {
  EXPECT_EQ(check_bpe_fixture("gpt-neox", "gpt-2"), 53);
  // NFC: the composed and the decomposed "é" are one text to GPT-NeoX's tokenizer.
  nlohmann::json def = read_json(kBpeDir + "gpt-neox.def.json");
  EXPECT_EQ(def["normalizer"]["type"], "NFC");
}

TEST(TokenizerJsonBpe, BloomMatchesHfTokenizers) {
  EXPECT_EQ(check_bpe_fixture("bloom", "bloom"), 53);
}
