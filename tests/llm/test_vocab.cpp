// Tokenizers against llama.cpp's own test vectors (models/ggml-vocab-*.gguf.inp/.out) and
// the stories260K goldens; see docs/tokenizer.md.
#include "bigdl/llm/vocab.h"
#include "llm/pre_tokenizer.h"
#include "llm/unicode.h"
#include "llm/vocab_vectors.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/io/gguf.h"
#include "bigdl/io/gguf_writer.h"
#include "test_util.h"

namespace {

using bigdl::llm::StreamDecoder;
using bigdl::llm::TokenId;
using bigdl::llm::TokenType;
using bigdl::llm::Vocab;
using bigdl::llm::VocabKind;
using test_util::TempDir;

using vocab_vectors::shared;
std::string vocab_path(const std::string& name) {
  return shared("tokenizers/ggml-vocab/ggml-vocab-" + name + ".gguf");
}
const std::string kStories = "llm/stories260K/stories260K";

using vocab_vectors::Case;
using vocab_vectors::load_cases;
using vocab_vectors::read_all;

std::string ids_str(const std::vector<TokenId>& ids) {
  std::string s;
  for (TokenId id : ids) s += std::to_string(id) + " ";
  return s;
}

const Vocab& cached(const std::string& name) {
  static std::map<std::string, Vocab> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, Vocab::load(vocab_path(name))).first;
  return it->second;
}

// All 46 llama.cpp vectors, then the round trip decode(encode(s)) == s.
void check_vectors(const std::string& name, size_t* n_checked) {
  const Vocab& v = cached(name);
  const auto cases = load_cases(name);
  ASSERT_EQ(cases.size(), 46u);
  for (const Case& c : cases) {
    const auto ids = v.encode(c.text, /*add_bos=*/false);
    EXPECT_EQ(ids, c.ids) << name << " text '" << c.text << "'\n got  " << ids_str(ids)
                          << "\n want " << ids_str(c.ids);
    EXPECT_EQ(v.decode(ids), c.text) << name << " round trip of '" << c.text << "'";
    ++*n_checked;
  }
}

TEST(VocabSpm, LlamaSpmMatchesLlamaCppVectors) {
  const Vocab& v = cached("llama-spm");
  EXPECT_EQ(v.kind(), VocabKind::Spm);
  EXPECT_EQ(v.size(), 32000);
  EXPECT_EQ(v.bos_id(), 1);
  EXPECT_EQ(v.eos_id(), 2);
  EXPECT_EQ(v.unk_id(), 0);
  EXPECT_TRUE(v.add_bos());
  EXPECT_TRUE(v.add_space_prefix());
  size_t n = 0;
  check_vectors("llama-spm", &n);
  EXPECT_EQ(n, 46u);
}

TEST(VocabSpm, Phi3MatchesLlamaCppVectors) {
  size_t n = 0;
  check_vectors("phi-3", &n);
  EXPECT_EQ(n, 46u);
  const Vocab& v = cached("phi-3");
  EXPECT_EQ(v.size(), 32064);
  EXPECT_EQ(v.eos_id(), 32000);
  EXPECT_EQ(v.type(2), TokenType::UserDefined);
}

TEST(VocabSpm, BosAndEmptyText) {
  const Vocab& v = cached("llama-spm");
  EXPECT_EQ(v.encode(""), std::vector<TokenId>{});
  EXPECT_EQ(v.encode("", true), std::vector<TokenId>{1});
  const auto ids = v.encode("Hello world", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(std::vector<TokenId>(ids.begin() + 1, ids.end()), v.encode("Hello world"));
  // llama.cpp's detokenize: a leading BOS is dropped and then the prefix space stays.
  EXPECT_EQ(v.decode(ids), " Hello world");
  EXPECT_EQ(v.decode(v.encode("Hello world")), "Hello world");
}

TEST(VocabSpm, PiecesBytesAndSpecials) {
  const Vocab& v = cached("llama-spm");
  EXPECT_EQ(v.text(0x0A + 3), "<0x0A>");
  EXPECT_EQ(v.type(0x0A + 3), TokenType::Byte);
  EXPECT_EQ(v.token_to_piece(0x0A + 3), "\n");
  EXPECT_EQ(v.token_to_piece(0xE4 + 3), "\xE4");
  const TokenId the = v.find("\xE2\x96\x81the");  // "▁the"
  ASSERT_GE(the, 0);
  EXPECT_EQ(v.token_to_piece(the), " the");
  EXPECT_EQ(v.token_to_piece(1), "");
  EXPECT_EQ(v.token_to_piece(1, /*render_special=*/true), "<s>");
  EXPECT_EQ(v.token_to_piece(0), "\xE2\x96\x85");  // <unk> renders as '▅' (llama.cpp)
  EXPECT_THROW(v.token_to_piece(32000), bigdl::IndexError);
  EXPECT_THROW(v.token_to_piece(-1), bigdl::IndexError);
  // Control tokens are only matched as tokens with parse_special.
  EXPECT_NE(v.encode("<s>x"), (std::vector<TokenId>{1, v.encode("x")[0]}));
  const auto parsed = v.encode("<s>x", false, /*parse_special=*/true);
  ASSERT_FALSE(parsed.empty());
  EXPECT_EQ(parsed[0], 1);
  EXPECT_EQ(std::vector<TokenId>(parsed.begin() + 1, parsed.end()), v.encode("x"));
  // A character the vocab lacks falls back to its UTF-8 bytes.
  const auto cat = v.encode("\xF0\x9F\x90\xB1");  // U+1F431 cat face
  const TokenId space = v.find("\xE2\x96\x81");
  EXPECT_EQ(cat, (std::vector<TokenId>{space, 0xF0 + 3, 0x9F + 3, 0x90 + 3, 0xB1 + 3}));
}

TEST(VocabSpm, UserDefinedTokensAreAlwaysMatched) {
  const Vocab& v = cached("phi-3");  // "</s>" is user-defined (type 4) in Phi-3
  const auto ids = v.encode("a</s>b");
  // "a" then </s> then " b" (llama.cpp adds the prefix space after a special token).
  EXPECT_EQ(ids.size(), v.encode("a").size() + 1 + v.encode("b").size());
  EXPECT_NE(std::find(ids.begin(), ids.end(), 2), ids.end());
  EXPECT_EQ(v.decode(ids), "a</s> b");
}

TEST(VocabStories, EncodeMatchesLlamaTokenize) {
  const Vocab v = Vocab::load(shared(kStories + "-f32.gguf"));
  EXPECT_EQ(v.size(), 512);
  EXPECT_EQ(v.encode("Once upon a time", true), (std::vector<TokenId>{1, 403, 407, 261, 378}));
}

TEST(VocabStories, DecodeMatchesGreedyGolden) {
  const Vocab v = Vocab::load(shared(kStories + "-f32.gguf"));
  const auto golden = nlohmann::json::parse(read_all(shared(kStories + ".greedy-golden.json")));
  const auto ids = golden.at("generated_token_ids").get<std::vector<TokenId>>();
  const auto text = golden.at("generated_text").get<std::string>();
  // The golden follows llama2.c: the ids start after BOS and the first piece's leading
  // space is stripped, which is decode()'s rule for a text's first token.
  EXPECT_EQ(v.decode(ids), text);
  EXPECT_EQ(text.rfind("Once upon a time", 0), 0u);
  // Streaming token by token gives the same text.
  StreamDecoder stream(v);
  std::string streamed;
  for (TokenId id : ids) streamed += stream.push(id);
  streamed += stream.flush();
  EXPECT_EQ(streamed, text);
  // After a prompt (at_start = false) the first piece keeps its space.
  StreamDecoder cont(v, /*at_start=*/false);
  EXPECT_EQ(cont.push(403), " Once");
}

TEST(VocabStream, HoldsBackSplitUtf8) {
  const Vocab& v = cached("llama-spm");
  // "é🐱!" where U+1F431 is not in the vocab: 4 byte tokens.
  const std::string text = "\xC3\xA9\xF0\x9F\x90\xB1!";
  const auto ids = v.encode(text);
  StreamDecoder stream(v);
  std::vector<std::string> chunks;
  std::string all;
  for (TokenId id : ids) {
    chunks.push_back(stream.push(id));
    all += chunks.back();
    // Every chunk is whole UTF-8: no chunk ends inside a character.
    const std::string& c = chunks.back();
    if (!c.empty()) {
      const auto last = uint8_t(c.back());
      EXPECT_TRUE(last < 0x80 || (last & 0xC0) == 0x80) << "chunk ends on a lead byte";
    }
  }
  all += stream.flush();
  EXPECT_EQ(all, text);
  EXPECT_EQ(all, v.decode(ids));
  // Feed the four cat bytes one by one: nothing until the last.
  StreamDecoder s2(v, /*at_start=*/false);
  EXPECT_EQ(s2.push(0xF0 + 3), "");
  EXPECT_EQ(s2.push(0x9F + 3), "");
  EXPECT_EQ(s2.push(0x90 + 3), "");
  EXPECT_EQ(s2.push(0xB1 + 3), "\xF0\x9F\x90\xB1");
  // An unfinished sequence comes out on flush.
  EXPECT_EQ(s2.push(0xE4 + 3), "");
  EXPECT_EQ(s2.flush(), "\xE4");
}

TEST(VocabBpe, Gpt2MatchesLlamaCppVectors) {
  const Vocab& v = cached("gpt-2");
  EXPECT_EQ(v.kind(), VocabKind::Bpe);
  EXPECT_EQ(v.size(), 50257);
  EXPECT_FALSE(v.add_bos());
  EXPECT_FALSE(v.add_space_prefix());
  size_t n = 0;
  check_vectors("gpt-2", &n);
  EXPECT_EQ(n, 46u);
  EXPECT_EQ(v.token_to_piece(v.find("\xC4\xA0the")), " the");  // "Ġthe"
  EXPECT_EQ(v.token_to_piece(50256), "");
  EXPECT_EQ(v.token_to_piece(50256, true), "<|endoftext|>");
}

TEST(VocabErrors, GgufWithoutTokenizerNamesTheKey) {
  // A valid GGUF v3 with no tensors and one unrelated key.
  std::vector<uint8_t> b;
  auto put = [&](uint64_t x, int bytes) {
    for (int i = 0; i < bytes; ++i) b.push_back(uint8_t(x >> (8 * i)));
  };
  auto u32 = [&](uint32_t x) { put(x, 4); };
  auto u64 = [&](uint64_t x) { put(x, 8); };
  auto str = [&](const std::string& s) {
    u64(s.size());
    b.insert(b.end(), s.begin(), s.end());
  };
  u32(0x46554747);  // "GGUF"
  u32(3);
  u64(0);  // tensors
  u64(1);  // kv
  str("general.architecture");
  u32(8);
  str("llama");
  const auto file = bigdl::io::GgufFile::parse(b.data(), b.size(), "notok.gguf");
  try {
    Vocab v(file);
    FAIL() << "expected FormatError";
  } catch (const bigdl::FormatError& e) {
    const std::string want = "[vocab] notok.gguf: metadata key 'tokenizer.ggml.model' missing";
    EXPECT_NE(std::string(e.what()).find(want), std::string::npos)
        << e.what();
  }
}

TEST(VocabErrors, UnsupportedModelIsRefused) {
  TempDir dir("vocab_unsupported");
  const auto write = [&](const std::string& model, const std::string& pre) {
    bigdl::io::GgufWriter w;
    w.set("general.architecture", bigdl::io::gguf_string("llama"));
    w.set("tokenizer.ggml.model", bigdl::io::gguf_string(model));
    w.set("tokenizer.ggml.tokens", bigdl::io::gguf_string_array({"a", "b"}));
    w.set("tokenizer.ggml.merges", bigdl::io::gguf_string_array({"a b"}));
    if (!pre.empty()) w.set("tokenizer.ggml.pre", bigdl::io::gguf_string(pre));
    const std::string path = dir.file(model + pre + ".gguf");
    w.write(path);
    return path;
  };
  EXPECT_EQ(test_util::error_of<bigdl::FormatError>([&] { Vocab::load(write("t5", "")); }),
            "[vocab] " + dir.file("t5.gguf") + ": tokenizer.ggml.model 't5' is not supported (supported: llama, gpt2, bert)");
  // A byte-level BPE vocab with a pre-tokenizer we do not know would split text wrongly: refused.
  const std::string msg = test_util::error_of<bigdl::FormatError>([&] { Vocab::load(write("gpt2", "no-such-pre")); });
  EXPECT_NE(msg.find("tokenizer.ggml.pre 'no-such-pre' is not supported for model 'gpt2' (supported: "), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("falcon"), std::string::npos) << msg;
}

// llama.cpp's vectors of the byte-level BPE pre-tokenizers beyond GPT-2's: Falcon (punctuation,
// then GPT-2, then digit triples), MPT (GPT-2's with multi-space user-defined tokens),
// StarCoder (single digits, then GPT-2's); and BERT's WordPiece (bge).
TEST(VocabBpe, FalconMptStarcoderMatchLlamaCppVectors) {
  for (const char* name : {"falcon", "mpt", "starcoder"}) {
    const Vocab& v = cached(name);
    EXPECT_EQ(v.kind(), VocabKind::Bpe) << name;
    EXPECT_EQ(v.pre_tokenizer(), name);
    size_t n = 0;
    check_vectors(name, &n);
    EXPECT_EQ(n, 46u) << name;
  }
}

TEST(VocabWpm, BertBgeMatchesLlamaCppVectors) {
  const Vocab& v = cached("bert-bge");
  EXPECT_EQ(v.kind(), VocabKind::Wpm);
  EXPECT_EQ(v.bos_id(), 101);  // [CLS]
  EXPECT_EQ(v.sep_id(), 102);
  EXPECT_EQ(v.unk_id(), 100);
  const auto cases = load_cases("bert-bge");
  ASSERT_EQ(cases.size(), 46u);
  for (const Case& c : cases) {
    const auto ids = v.encode(c.text, /*add_special=*/false);
    EXPECT_EQ(ids, c.ids) << "text '" << c.text << "'\n got  " << ids_str(ids) << "\n want " << ids_str(c.ids);
  }
  // add_special: [CLS] ... [SEP]; decode joins the words (lower-cased, as BERT sees them).
  const auto ids = v.encode("Hello world!", true);
  EXPECT_EQ(ids, (std::vector<TokenId>{101, 7592, 2088, 999, 102}));
  EXPECT_EQ(v.decode(std::vector<TokenId>(ids.begin() + 1, ids.end() - 1)), "hello world !");
}

// Every llama.cpp pre-tokenizer name we accept compiles (PCRE2 or a hand-written splitter)
// and cuts a mixed string into pieces that put the string back together.
TEST(VocabBpe, EveryNamedPreTokenizerCompiles) {
  const auto names = bigdl::llm::detail::PreTokenizer::names();
  EXPECT_GE(names.size(), 60u);
  const std::string text = "Hello, world! 12345 don't\n\n  tabs\tand ümlaut 中文 日本語 😀 x+y=z";
  const std::vector<uint32_t> cpts = bigdl::llm::detail::utf8_to_cpts(text);
  const auto& bu = bigdl::llm::detail::byte_unicode();
  std::string joined_want;
  for (const char ch : text) bigdl::llm::detail::append_utf8(joined_want, bu.to_cp[static_cast<uint8_t>(ch)]);
  for (const std::string& name : names) {
    const auto p = bigdl::llm::detail::PreTokenizer::named(name);
    ASSERT_TRUE(p.has_value()) << name;
    std::string joined;
    for (const std::string& w : p->words(cpts)) joined += w;
    EXPECT_EQ(joined, joined_want) << name;
  }
}

}  // namespace
