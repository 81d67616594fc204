// Hugging Face tokenizer.json loading (Vocab::load_tokenizer_json) against llama.cpp's test
// vectors, and the Llama 3 / Qwen2 / GPT-2 pre-tokenizer splits on hand-made strings; see
// docs/tokenizer.md.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/llm/chat.h"
#include "bigdl/llm/vocab.h"
#include "llm/vocab_vectors.h"

namespace {

using bigdl::llm::PreTokenizer;
using bigdl::llm::TokenId;
using bigdl::llm::TokenType;
using bigdl::llm::Vocab;
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
  EXPECT_EQ(v.pre_tokenizer(), PreTokenizer::Qwen2);
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
  EXPECT_EQ(v.pre_tokenizer(), PreTokenizer::Gpt2);
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

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) : path(fs::temp_directory_path() / name) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& file, const std::string& text) const {
    std::ofstream(path / file, std::ios::binary) << text;
    return (path / file).string();
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
  TempDir dir("bigdl_tokjson_" + tag);
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
  TempDir dir("bigdl_tokjson_llama3_pre");
  const Vocab v = Vocab::load_tokenizer_json(dir.write("tokenizer.json", split_probe({}, split_pre(kLlama3Regex)).dump()));
  EXPECT_EQ(v.pre_tokenizer(), PreTokenizer::Llama3);
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
    TempDir dir("bigdl_tokjson_merges");
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
  TempDir dir("bigdl_tokjson_errors");
  const std::string bad = dir.write("tokenizer.json", "{\"model\": {\"vocab\": ");
  std::string msg = format_error([&] { Vocab::load_tokenizer_json(bad); });
  EXPECT_NE(msg.find("[vocab] " + bad + ": invalid JSON"), std::string::npos) << msg;

  auto j = split_probe({}, split_pre(kQwen2Regex));
  j["model"].erase("vocab");
  const std::string no_vocab = dir.write("tokenizer.json", j.dump());
  msg = format_error([&] { Vocab::load_tokenizer_json(dir.path.string()); });
  EXPECT_NE(msg.find(no_vocab + ": field 'model.vocab' missing"), std::string::npos) << msg;

  j = split_probe({}, split_pre(R"(\p{L}+|\s+)"));
  dir.write("tokenizer.json", j.dump());
  msg = format_error([&] { Vocab::load_tokenizer_json(dir.path.string()); });
  EXPECT_NE(msg.find("is not a known pattern (known: gpt-2, llama3, qwen2)"), std::string::npos) << msg;

  j = split_probe({}, split_pre(kQwen2Regex));
  j["model"]["type"] = "Unigram";
  dir.write("tokenizer.json", j.dump());
  msg = format_error([&] { Vocab::load_tokenizer_json(dir.path.string()); });
  EXPECT_NE(msg.find("model.type \"Unigram\" is not supported"), std::string::npos) << msg;

  j = split_probe({}, split_pre(kQwen2Regex));
  j["normalizer"] = {{"type", "NFKC"}};
  dir.write("tokenizer.json", j.dump());
  msg = format_error([&] { Vocab::load_tokenizer_json(dir.path.string()); });
  EXPECT_NE(msg.find("normalizer \"NFKC\" is not supported"), std::string::npos) << msg;
}

}  // namespace
