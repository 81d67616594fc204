// Sampler: each stage of the chain against hand-computed distributions; generate():
// text in / text out on the real stories260K model, stop rules and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/llm/generate.h"
#include "bigdl/llm/model.h"
#include "llm/llm_test_util.h"
#include "bigdl/llm/sampler.h"
#include "bigdl/llm/vocab.h"

namespace {

using namespace bigdl::llm;
using LoadOptions = llm_test::Opts;
using llm_test::load;

// Every filter off: plain softmax sampling at temperature t.
SamplerOptions plain(float t, uint64_t seed = 0) {
  SamplerOptions o;
  o.temperature = t;
  o.top_k = 0;
  o.top_p = 1.0f;
  o.min_p = 0.0f;
  o.repetition_penalty = 1.0f;
  o.seed = seed;
  return o;
}

std::vector<float> log_probs(const std::vector<double>& p) {
  std::vector<float> l;
  for (double x : p) l.push_back(float(std::log(x)));
  return l;
}

std::set<int32_t> survivors(const Sampler& s) {
  std::set<int32_t> ids;
  for (const auto& c : s.candidates()) ids.insert(c.id);
  return ids;
}

TEST(Sampler, GreedyIsArgmaxFirstOnTies) {
  Sampler s(4, plain(0.0f));
  const std::vector<float> l{1.0f, 3.0f, 2.0f, 3.0f};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s.sample(l.data()), 1);
  EXPECT_TRUE(s.candidates().empty());
}

TEST(Sampler, TinyTemperatureIsGreedy) {
  // 1e-40 is a (denormal) float: logits / T overflowed to inf and the softmax of
  // infinities picked the last candidate, not the argmax (found through the server).
  const std::vector<float> l{1.0f, 34.0f, -2.0f, 30.0f, -std::numeric_limits<float>::infinity()};
  for (float t : {1e-40f, 1e-37f, 1e-30f}) {
    Sampler s(5, plain(t, 3));
    for (int i = 0; i < 20; ++i) ASSERT_EQ(s.sample(l.data()), 1) << "T=" << t;
  }
}

TEST(Sampler, TopK1IsArgmaxAtAnyTemperature) {
  const std::vector<float> l{0.5f, 0.2f, 0.9f, 0.85f, -1.0f};
  for (float t : {0.1f, 1.0f, 5.0f, 100.0f}) {
    SamplerOptions o = plain(t, 7);
    o.top_k = 1;
    Sampler s(5, o);
    for (int i = 0; i < 200; ++i) ASSERT_EQ(s.sample(l.data()), 2) << "T=" << t;
  }
}

TEST(Sampler, TopKKeepsTheKLargest) {
  SamplerOptions o = plain(1.0f);
  o.top_k = 2;
  Sampler s(5, o);
  const std::vector<float> l{0.5f, 0.2f, 0.9f, 0.85f, -1.0f};
  s.sample(l.data());
  EXPECT_EQ(survivors(s), (std::set<int32_t>{2, 3}));
  // renormalised softmax of {0.9, 0.85}
  const double p2 = 1.0 / (1.0 + std::exp(0.85 - 0.9));
  EXPECT_EQ(s.candidates()[0].id, 2);
  EXPECT_NEAR(s.candidates()[0].p, p2, 1e-6);
}

TEST(Sampler, TopPKeepsSmallestPrefixReachingP) {
  // probabilities 0.5, 0.3, 0.15, 0.05 (shuffled ids)
  const std::vector<float> l = log_probs({0.15, 0.5, 0.05, 0.3});
  struct Case { float p; std::set<int32_t> keep; };
  for (const Case& c : {Case{0.4f, {1}}, Case{0.75f, {1, 3}}, Case{0.85f, {1, 3, 0}},
                        Case{0.99f, {1, 3, 0, 2}}}) {
    SamplerOptions o = plain(1.0f);
    o.top_p = c.p;
    Sampler s(4, o);
    s.sample(l.data());
    EXPECT_EQ(survivors(s), c.keep) << "top_p=" << c.p;
  }
  SamplerOptions o = plain(1.0f);
  o.top_p = 0.75f;
  Sampler s(4, o);
  s.sample(l.data());
  ASSERT_EQ(s.candidates().size(), 2u);
  EXPECT_NEAR(s.candidates()[0].p, 0.5 / 0.8, 1e-6);  // sorted, renormalised
  EXPECT_NEAR(s.candidates()[1].p, 0.3 / 0.8, 1e-6);
}

TEST(Sampler, MinPDropsBelowFractionOfMax) {
  const std::vector<float> l = log_probs({0.15, 0.5, 0.05, 0.3});
  struct Case { float m; std::set<int32_t> keep; };
  // thresholds: 0.2 * 0.5 = 0.1 drops 0.05; 0.5 * 0.5 = 0.25 keeps 0.5, 0.3; 0.7 -> 0.35
  for (const Case& c : {Case{0.2f, {0, 1, 3}}, Case{0.5f, {1, 3}}, Case{0.7f, {1}},
                        Case{0.05f, {0, 1, 2, 3}}}) {
    SamplerOptions o = plain(1.0f);
    o.min_p = c.m;
    Sampler s(4, o);
    s.sample(l.data());
    EXPECT_EQ(survivors(s), c.keep) << "min_p=" << c.m;
  }
}

TEST(Sampler, FiltersSeeTemperatureOneThenTemperatureReshapes) {
  // top_p = 0.75 keeps {0.5, 0.3} regardless of T; T = 0.5 squares the ratio: 25:9.
  const std::vector<float> l = log_probs({0.5, 0.3, 0.15, 0.05});
  SamplerOptions o = plain(0.5f);
  o.top_p = 0.75f;
  Sampler s(4, o);
  s.sample(l.data());
  ASSERT_EQ(survivors(s), (std::set<int32_t>{0, 1}));
  EXPECT_NEAR(s.candidates()[0].p, 25.0 / 34.0, 1e-5);
  EXPECT_NEAR(s.candidates()[1].p, 9.0 / 34.0, 1e-5);
}

TEST(Sampler, TemperatureFirstFiltersSeeTemperatureT) {
  // transformers' order: at T = 0.5 the probabilities are 25 : 9 : 2.25 : 0.25 (/ 36.5),
  // i.e. 0.685, 0.247, 0.062, 0.007, so top_p = 0.6 keeps one token and 0.75 two; in
  // llama.cpp's order top_p sees T = 1 (0.5, 0.3, ...) and 0.6 keeps two.
  const std::vector<float> l = log_probs({0.5, 0.3, 0.15, 0.05});
  for (const auto& [p, keep] : {std::pair{0.6f, std::set<int32_t>{0}}, std::pair{0.75f, std::set<int32_t>{0, 1}}}) {
    SamplerOptions o = plain(0.5f);
    o.top_p = p;
    o.temperature_first = true;
    Sampler s(4, o);
    s.sample(l.data());
    EXPECT_EQ(survivors(s), keep) << "top_p=" << p;
  }
  SamplerOptions o = plain(0.5f);
  o.top_p = 0.6f;
  Sampler llama_order(4, o);
  llama_order.sample(l.data());
  EXPECT_EQ(survivors(llama_order), (std::set<int32_t>{0, 1}));
  // Survivors renormalised at temperature T, not divided again.
  o.temperature_first = true;
  o.top_p = 0.75f;
  Sampler s(4, o);
  s.sample(l.data());
  ASSERT_EQ(s.candidates().size(), 2u);
  EXPECT_NEAR(s.candidates()[0].p, 25.0 / 34.0, 1e-5);
  EXPECT_NEAR(s.candidates()[1].p, 9.0 / 34.0, 1e-5);
}

TEST(Sampler, RepetitionPenaltyDividesPositiveMultipliesNegative) {
  SamplerOptions o = plain(1.0f);
  o.repetition_penalty = 2.0f;
  o.repeat_last_n = 8;
  Sampler s(4, o);
  for (int32_t id : {0, 1, 0}) s.accept(id);  // 0 twice: penalized once
  const std::vector<float> l{2.0f, -1.0f, 0.5f, 3.0f};
  s.sample(l.data());
  const std::vector<float> want{1.0f, -2.0f, 0.5f, 3.0f};
  ASSERT_EQ(s.candidates().size(), 4u);
  double z = 0;
  for (float w : want) z += std::exp(w);
  for (const auto& c : s.candidates()) {
    EXPECT_FLOAT_EQ(c.logit, want[size_t(c.id)]) << c.id;
    EXPECT_NEAR(c.p, std::exp(want[size_t(c.id)]) / z, 1e-6);
  }
  // Greedy sees the penalty too: 2.0/2 = 1.0 < 1.5.
  SamplerOptions g = plain(0.0f);
  g.repetition_penalty = 2.0f;
  Sampler sg(2, g);
  sg.accept(0);
  const std::vector<float> l2{2.0f, 1.5f};
  EXPECT_EQ(sg.sample(l2.data()), 1);
}

// OpenAI's additive penalties as llama.cpp applies them: count * frequency + presence for
// each token in the window, after the multiplicative one.
TEST(Sampler, PresenceAndFrequencyPenalties) {
  SamplerOptions o = plain(1.0f);
  o.repetition_penalty = 2.0f;
  o.presence_penalty = 0.5f;
  o.frequency_penalty = 0.25f;
  o.repeat_last_n = 8;
  Sampler s(4, o);
  for (int32_t id : {0, 1, 0, 0}) s.accept(id);  // 0 three times, 1 once
  const std::vector<float> l{2.0f, -1.0f, 0.5f, 3.0f};
  s.sample(l.data());
  const std::vector<float> want{2.0f / 2 - 3 * 0.25f - 0.5f, -1.0f * 2 - 0.25f - 0.5f, 0.5f, 3.0f};
  for (const auto& c : s.candidates()) EXPECT_FLOAT_EQ(c.logit, want[size_t(c.id)]) << c.id;
  o.presence_penalty = 2.5f;
  EXPECT_THROW(Sampler(4, o), bigdl::ValueError);
}

TEST(Sampler, RepetitionPenaltyWindow) {
  SamplerOptions o = plain(1.0f);
  o.repetition_penalty = 2.0f;
  o.repeat_last_n = 2;
  Sampler s(4, o);
  for (int32_t id : {0, 1, 3}) s.accept(id);  // window holds 1, 3
  const std::vector<float> l{2.0f, 2.0f, 2.0f, 2.0f};
  s.sample(l.data());
  for (const auto& c : s.candidates()) EXPECT_FLOAT_EQ(c.logit, (c.id == 1 || c.id == 3) ? 1.0f : 2.0f);
  s.reset();  // history forgotten
  s.sample(l.data());
  for (const auto& c : s.candidates()) EXPECT_FLOAT_EQ(c.logit, 2.0f);
}

TEST(Sampler, SameSeedSameSequence) {
  const std::vector<float> l{0.1f, 1.0f, -0.5f, 2.0f, 0.3f, 0.0f, 1.2f, 0.7f};
  SamplerOptions o;  // llama.cpp defaults
  o.temperature = 1.5f;
  o.top_k = 0;
  o.top_p = 1.0f;
  o.min_p = 0.0f;
  auto run = [&](uint64_t seed) {
    o.seed = seed;
    Sampler s(8, o);
    std::vector<int32_t> r;
    for (int i = 0; i < 200; ++i) r.push_back(s.sample(l.data()));
    return r;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
  o.seed = 42;
  Sampler s(8, o);
  const int32_t first = s.sample(l.data());
  s.sample(l.data());
  s.reset();
  EXPECT_EQ(s.sample(l.data()), first);
}

TEST(Sampler, EmpiricalFrequenciesMatchSoftmax) {
  const std::vector<float> l{0.1f, 1.0f, -0.5f, 2.0f, 0.3f};
  for (float t : {1.0f, 0.7f}) {
    Sampler s(5, plain(t, 2024));
    const int n = 20000;
    std::vector<int> count(5, 0);
    for (int i = 0; i < n; ++i) ++count[size_t(s.sample(l.data()))];
    double z = 0;
    for (float x : l) z += std::exp(x / t);
    for (size_t i = 0; i < 5; ++i) {
      const double p = std::exp(l[i] / t) / z;
      const double sigma = std::sqrt(n * p * (1 - p));
      EXPECT_NEAR(count[i], n * p, 4 * sigma) << "T=" << t << " token " << i;
    }
  }
}

TEST(Sampler, RejectsBadOptions) {
  SamplerOptions o;
  o.repetition_penalty = 0.0f;
  EXPECT_THROW(Sampler(4, o), bigdl::ValueError);
  o = {};
  o.top_p = 0.0f;
  EXPECT_THROW(Sampler(4, o), bigdl::ValueError);
  o = {};
  o.min_p = 1.5f;
  EXPECT_THROW(Sampler(4, o), bigdl::ValueError);
  EXPECT_THROW(Sampler(0, {}), bigdl::ValueError);
  Sampler s(4, {});
  EXPECT_THROW(s.accept(4), bigdl::IndexError);
}

// ---- generate() on stories260K ------------------------------------------------------

const std::string kModel = std::string(BIGDL_SHARED_DATA) + "/llm/stories260K/stories260K-f32.gguf";

GenerateOptions greedy(int64_t n) {
  GenerateOptions o;
  o.max_new_tokens = n;
  o.sampler.temperature = 0.0f;
  return o;
}

TEST(Generate, GreedyMatchesGenerateGreedyAndStreams) {
  auto m = load(kModel);
  const Vocab v = Vocab::load(kModel);
  GenerateOptions o = greedy(30);
  std::string streamed;
  o.callback = [&](std::string_view s) { streamed += s; };
  const GenerateResult r = generate(*m, v, "Once upon a time", o);
  const std::vector<int32_t> prompt{1, 403, 407, 261, 378};
  EXPECT_EQ(r.n_prompt, 5);
  EXPECT_EQ(r.ids, generate_greedy(*m, prompt, 30));
  EXPECT_EQ(r.n_generated, 30);
  EXPECT_EQ(r.stop_reason, StopReason::MaxTokens);
  EXPECT_EQ(streamed, r.text);
  // llama.cpp (llama-simple, f32): ", there was a little girl named Lily. She loved to ..."
  EXPECT_EQ(r.text.rfind(", there was a little girl named Lily. She loved to play outside in the park.", 0), 0u)
      << r.text;
  EXPECT_GT(r.prefill_s, 0.0);
  EXPECT_GT(r.decode_s, 0.0);
}

TEST(Generate, StopStringIsNotEmitted) {
  auto m = load(kModel);
  const Vocab v = Vocab::load(kModel);
  GenerateOptions o = greedy(30);
  o.stop_strings = {"Lily", "zzz"};
  std::string streamed;
  o.callback = [&](std::string_view s) { streamed += s; };
  const GenerateResult r = generate(*m, v, "Once upon a time", o);
  EXPECT_EQ(r.stop_reason, StopReason::StopString);
  EXPECT_EQ(r.text, ", there was a little girl named ");
  EXPECT_EQ(streamed, r.text);
  // A stop string split over tokens: "little g" spans "little" and " g...".
  o.stop_strings = {"e g"};
  const GenerateResult r2 = generate(*m, v, "Once upon a time", o);
  EXPECT_EQ(r2.stop_reason, StopReason::StopString);
  EXPECT_EQ(r2.text, ", there was a littl");
}

TEST(Generate, StopsOnEosId) {
  auto m = load(kModel);
  const Vocab v = Vocab::load(kModel);
  const GenerateResult full = generate(*m, v, "Once upon a time", greedy(10));
  GenerateOptions o = greedy(10);
  o.stop_ids = {full.ids[3]};
  const GenerateResult r = generate(*m, v, "Once upon a time", o);
  EXPECT_EQ(r.stop_reason, StopReason::Eos);
  ASSERT_EQ(r.ids.size(), 4u);
  StreamDecoder d(v, false);
  std::string want;
  for (int i = 0; i < 3; ++i) want += d.push(full.ids[size_t(i)]);
  want += d.flush();
  EXPECT_EQ(r.text, want);
}

TEST(Generate, ContextFullAndPromptTooLong) {
  LoadOptions lo;
  lo.n_ctx = 16;
  auto m = load(kModel, lo);
  const Vocab v = Vocab::load(kModel);
  GenerateOptions o = greedy(-1);
  o.stop_ids = {-1};  // never matches: EOS does not stop
  const GenerateResult r = generate(*m, v, "Once upon a time", o);
  EXPECT_EQ(r.stop_reason, StopReason::ContextFull);
  EXPECT_EQ(r.n_generated, 16 - 5 + 1);
  try {
    generate(*m, v, "Once upon a time there was a little girl named Lily who liked to play", o);
    FAIL() << "no error";
  } catch (const bigdl::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("[llm] prompt of "), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(" tokens exceeds the context length 16"), std::string::npos) << e.what();
  }
}

TEST(Generate, SampledRunIsReproducible) {
  auto m = load(kModel);
  const Vocab v = Vocab::load(kModel);
  GenerateOptions o;
  o.max_new_tokens = 40;
  o.sampler.temperature = 1.0f;
  o.sampler.seed = 99;
  const GenerateResult a = generate(*m, v, "Once upon a time", o);
  const GenerateResult b = generate(*m, v, "Once upon a time", o);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.text, b.text);
  o.sampler.seed = 100;
  EXPECT_NE(generate(*m, v, "Once upon a time", o).ids, a.ids);
}

// Chat prompts carry control-token text; with parse_special it becomes the token itself.
TEST(Generate, ParseSpecialTurnsControlTextIntoTokens) {
  auto m = load(kModel);
  const Vocab v = Vocab::load(kModel);
  GenerateOptions o;
  o.max_new_tokens = 1;
  o.sampler.temperature = 0.0f;
  const std::string bos = v.text(v.bos_id());
  const GenerateResult plain = generate(*m, v, bos + "Once", o);
  o.parse_special = true;
  const GenerateResult special = generate(*m, v, bos + "Once", o);
  // BOS added by the vocab + the "<s>" text as one BOS token + "Once".
  EXPECT_EQ(special.n_prompt, int64_t(2 + v.encode("Once", false).size()));
  EXPECT_EQ(v.encode(bos + "Once", false, true)[0], v.bos_id());
  EXPECT_GT(plain.n_prompt, special.n_prompt);  // without it, "<s>" is spelled out
}

}  // namespace
