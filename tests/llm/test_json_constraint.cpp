// JSON-constrained decoding (bigdl/llm/json_constraint.h): the recognizer accepts exactly
// the prefixes of valid JSON objects, and a decode walk under the mask, on random logits
// over a real vocabulary, always writes text that nlohmann::json parses once complete.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "bigdl/llm/json_constraint.h"
#include "bigdl/llm/vocab.h"
#include "llm/llm_test_util.h"

namespace {

namespace llm = bigdl::llm;

const llm::Vocab& vocab() {
  static const llm::Vocab v = llm::Vocab::load(llm_test::kStoriesF32);
  return v;
}

// Feeds `text` one character at a time; the index of the first refused one, or -1.
int first_refused(const std::string& text) {
  llm::JsonConstraint jc(vocab(), {vocab().eos_id()});
  std::string done;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!jc.allows(done + text[i])) return int(i);
    done += text[i];
  }
  return -1;
}

TEST(JsonConstraint, AcceptsValidObjectsCharByChar) {
  for (const char* ok : {"{}", " { } ", R"({"a": 1})", R"({"a": -0.5e+10, "b": [1, 2.0, true, false, null], "c": {"d": "x\"y\\u00e9"}})",
                         "{\"k\":[[],{}]}", "{\"s\": \"caf\xc3\xa9\"}"}) {
    EXPECT_EQ(first_refused(ok), -1) << ok;
  }
}

TEST(JsonConstraint, RefusesAtTheFirstBadCharacter) {
  EXPECT_EQ(first_refused("[1]"), 0);                 // the document must be an object
  EXPECT_EQ(first_refused("{a: 1}"), 1);              // keys are strings
  EXPECT_EQ(first_refused(R"({"a" 1})"), 5);          // colon missing
  EXPECT_EQ(first_refused(R"({"a": 01})"), 7);        // no leading zeros
  EXPECT_EQ(first_refused(R"({"a": 1,})"), 8);        // no trailing comma
  EXPECT_EQ(first_refused(R"({"a": tru})"), 9);       // literal cut short
  EXPECT_EQ(first_refused(R"({"a": "\q"})"), 8);      // bad escape
  EXPECT_EQ(first_refused(R"({"a": "\u12G4"})"), 11); // bad hex digit
  EXPECT_EQ(first_refused("{\"a\": \"x\ny\"}"), 8);   // raw control character in a string
  EXPECT_EQ(first_refused(R"({} x)"), 3);             // only whitespace after the object
  EXPECT_EQ(first_refused("{" + std::string(17, '\n') + "}"), 17);  // whitespace runs are bounded
  EXPECT_EQ(first_refused(R"({"a": 1.})"), 8);        // fraction needs a digit
  EXPECT_EQ(first_refused("{\"s\": \"\xc3(\"}"), 8);    // a UTF-8 lead byte without its continuation
  EXPECT_EQ(first_refused("{\"s\": \"\xed\xa0\x80\"}"), 8);  // a surrogate (ED A0..)
}

TEST(JsonConstraint, MaskedRandomWalkWritesValidJson) {
  const llm::Vocab& v = vocab();
  const int64_t n = v.size();
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 3.0f);
    llm::JsonConstraint jc(v, {v.eos_id()});
    std::string text;
    bool ended = false;
    std::vector<float> logits(static_cast<size_t>(n));
    for (int step = 0; step < 400 && !ended; ++step) {
      for (auto& x : logits) x = nd(rng);
      // Nudge the walk towards closing: the closing tokens get a bonus late in the walk.
      if (step > 60)
        for (int32_t id = 0; id < n; ++id) {
          const std::string p = v.token_to_piece(id);
          if (p.find('}') != std::string::npos || p.find(']') != std::string::npos || p.find('"') != std::string::npos) logits[size_t(id)] += 8.0f;
          if (id == v.eos_id()) logits[size_t(id)] += 20.0f;
        }
      jc.mask(logits.data(), n);
      int32_t best = 0;
      for (int32_t id = 1; id < n; ++id)
        if (logits[size_t(id)] > logits[size_t(best)]) best = id;
      ASSERT_GT(logits[size_t(best)], -1e30f) << "no token allowed after: " << text;
      if (best == v.eos_id()) {
        ended = true;
        break;
      }
      jc.accept(best);
      text += v.token_to_piece(best);
    }
    ASSERT_TRUE(ended) << "seed " << seed << ": no end in 400 steps: " << text;
    EXPECT_TRUE(jc.complete());
    const auto j = nlohmann::json::parse(text);  // throws (and fails) on invalid JSON
    EXPECT_TRUE(j.is_object()) << text;
  }
}

}  // namespace
