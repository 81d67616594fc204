// Chat templates (bigdl/llm/chat.h): exact strings per format and detection from real
// Jinja templates. KV-cache reuse across turns (ChatSession, generate with cached_ids,
// bigdl/llm/generate.h) on the real stories260K model: the same tokens as feeding the
// whole prompt from scratch, and only the new tokens fed.
#include "bigdl/llm/chat.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/llm/generate.h"
#include "bigdl/llm/model.h"
#include "bigdl/llm/vocab.h"
#include "llm/llm_test_util.h"

namespace {

using bigdl::llm::apply_chat_template;
using bigdl::llm::ChatFormat;
using bigdl::llm::ChatMessage;
using bigdl::llm::detect_chat_format;

const std::vector<ChatMessage> kConversation = {
    {"system", "You are terse."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "2+2?"}};

TEST(Chat, ChatML) {
  EXPECT_EQ(apply_chat_template("chatml", kConversation, true),
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(apply_chat_template("chatml", {{"user", "Hi"}}, false), "<|im_start|>user\nHi<|im_end|>\n");
}

TEST(Chat, Llama2) {
  EXPECT_EQ(apply_chat_template("llama2", kConversation, true, "<s>", "</s>"),
            "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] 2+2? [/INST]");
}

TEST(Chat, Llama3) {
  EXPECT_EQ(apply_chat_template("llama3", kConversation, true, "<|begin_of_text|>", "<|end_of_text|>"),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(Chat, Zephyr) {
  EXPECT_EQ(apply_chat_template("zephyr", kConversation, true, "<s>", "</s>"),
            "<|system|>\nYou are terse.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n"
            "<|user|>\n2+2?</s>\n<|assistant|>\n");
}

TEST(Chat, Mistral) {
  EXPECT_EQ(apply_chat_template("mistral", kConversation, true, "<s>", "</s>"),
            "<s>[INST] You are terse.\n\nHi [/INST]Hello.</s>[INST] 2+2? [/INST]");
}

TEST(Chat, DetectsFromJinja) {
  std::ifstream f(std::string(BIGDL_SHARED_DATA) + "/tokenizers/qwen3/tokenizer_config.json");
  ASSERT_TRUE(f.good());
  const auto config = nlohmann::json::parse(f);
  const std::string qwen3 = config["chat_template"].get<std::string>();
  EXPECT_EQ(detect_chat_format(qwen3), ChatFormat::ChatML);
  // Qwen3's own template gives exactly this for a conversation without tool calls.
  EXPECT_EQ(apply_chat_template(qwen3, kConversation, true),
            apply_chat_template("chatml", kConversation, true));

  // Abbreviated forms of the published templates (markers only).
  EXPECT_EQ(detect_chat_format("{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + "
                               "m['role'] + '<|end_header_id|>\n\n' }}{% endfor %}"),
            ChatFormat::Llama3);
  EXPECT_EQ(detect_chat_format("{{ bos_token + '[INST] <<SYS>>\\n' + system }}"), ChatFormat::Llama2);
  EXPECT_EQ(detect_chat_format("{{ bos_token }}{% for m in messages %}{{ '[INST] ' + m['content'] + ' [/INST]' }}"),
            ChatFormat::Mistral);
  EXPECT_EQ(detect_chat_format("{{ '<|user|>\n' + message['content'] + eos_token }}{{ '<|assistant|>' }}"),
            ChatFormat::Zephyr);
  EXPECT_EQ(bigdl::llm::chat_end_of_turn(ChatFormat::ChatML, "</s>"), "<|im_end|>");
  EXPECT_EQ(bigdl::llm::chat_end_of_turn(ChatFormat::Llama3, "</s>"), "<|eot_id|>");
  EXPECT_EQ(bigdl::llm::chat_end_of_turn(ChatFormat::Zephyr, "</s>"), "</s>");
}

TEST(Chat, Errors) {
  try {
    detect_chat_format("{% for m in messages %}### {{ m.role }}: {{ m.content }}{% endfor %}");
    FAIL() << "no ValueError";
  } catch (const bigdl::ValueError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("[chat] unknown chat template '{% for m in messages %}### "), std::string::npos) << msg;
    EXPECT_NE(msg.find("(known: chatml, llama2, llama3, zephyr, mistral)"), std::string::npos) << msg;
  }
  EXPECT_THROW(detect_chat_format(""), bigdl::ValueError);
  EXPECT_THROW(apply_chat_template("llama2", {{"user", "a"}, {"system", "late"}}, true), bigdl::ValueError);
}

// ---- KV-cache reuse across turns ----------------------------------------------------

using bigdl::llm::ChatSession;
using bigdl::llm::GenerateOptions;
using bigdl::llm::GenerateResult;
using bigdl::llm::TokenId;
using bigdl::llm::Vocab;

const std::string& kStories = llm_test::kStoriesF32;

// A real model and its context, whose stats() say exactly which positions a turn
// recomputes.
struct Counted {
  llm_test::Loaded l;
  bigdl::llm::Context& ctx() { return l.ctx; }
  int64_t fed_one_by_one() const { return l.ctx.stats().n_single; }
  int64_t fed_in_batches() const { return l.ctx.stats().n_batch_tokens; }
  int64_t first_batch_pos() const { return l.ctx.stats().first_batch_pos; }
  void reset() { l.ctx.reset_stats(); }
};

GenerateOptions greedy(int64_t n) {
  GenerateOptions o;
  o.max_new_tokens = n;
  o.sampler.temperature = 0;
  return o;
}

std::unique_ptr<Counted> stories(int64_t n_ctx = 0) {
  bigdl::llm::ContextOptions co;
  co.n_ctx = n_ctx;
  return std::make_unique<Counted>(Counted{llm_test::open(kStories, {}, co)});
}

size_t common_prefix(const std::vector<TokenId>& a, const std::vector<TokenId>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

TEST(ChatReuse, SecondTurnFeedsOnlyTheNewTokensAndMatchesFromScratch) {
  const Vocab vocab = Vocab::load(kStories);
  auto m = stories();
  ChatSession chat(m->ctx(), vocab, "chatml", greedy(8));

  const GenerateResult r1 = chat.send("Once upon a time");
  EXPECT_EQ(r1.n_cached, 0);
  EXPECT_EQ(m->fed_in_batches(), r1.n_prompt);
  ASSERT_EQ(r1.stop_reason, bigdl::llm::StopReason::MaxTokens);
  // The cache holds the prompt and every answer token but the last (sampled, never fed).
  const std::vector<TokenId> cache1 = chat.cached_ids();
  ASSERT_EQ(int64_t(cache1.size()), r1.n_prompt + r1.n_generated - 1);
  EXPECT_TRUE(std::equal(r1.ids.begin(), r1.ids.end() - 1, cache1.end() - (r1.n_generated - 1)));

  m->reset();
  const GenerateResult r2 = chat.send("The cat");
  ASSERT_EQ(chat.messages().size(), 4u);
  const std::string prompt2 = chat.format({chat.messages()[0], chat.messages()[1], chat.messages()[2]});
  const std::vector<TokenId> tokens2 = vocab.encode(prompt2, vocab.add_bos(), /*parse_special=*/true);
  const size_t lcp = common_prefix(tokens2, cache1);
  EXPECT_GE(int64_t(lcp), r1.n_prompt);  // at least the whole first prompt is reused
  EXPECT_EQ(r2.n_prompt, int64_t(tokens2.size()));
  EXPECT_EQ(r2.n_cached, int64_t(lcp));
  // The prefill fed exactly the tokens after the common prefix, starting right after it.
  EXPECT_EQ(m->fed_in_batches(), int64_t(tokens2.size() - lcp));
  EXPECT_EQ(m->first_batch_pos(), int64_t(lcp));
  EXPECT_EQ(m->fed_one_by_one(), r2.n_generated - 1);

  // A fresh model fed the whole second-turn prompt from position 0 gives the same tokens.
  auto fresh = stories();
  const GenerateResult scratch = bigdl::llm::generate(fresh->ctx(), vocab, prompt2, chat.options());
  EXPECT_EQ(scratch.n_cached, 0);
  EXPECT_EQ(fresh->fed_in_batches(), int64_t(tokens2.size()));
  EXPECT_EQ(r2.ids, scratch.ids);
  EXPECT_EQ(r2.text, scratch.text);
  EXPECT_EQ(chat.messages()[3].content, r2.text);
}

TEST(GenerateReuse, CachedIdsTrackTheCache) {
  const Vocab vocab = Vocab::load(kStories);
  auto m = stories();
  std::vector<TokenId> cache;
  const GenerateResult a = bigdl::llm::generate(m->ctx(), vocab, "Once upon a time", greedy(6), cache);
  const std::vector<TokenId> prompt = vocab.encode("Once upon a time", vocab.add_bos());
  std::vector<TokenId> want = prompt;
  want.insert(want.end(), a.ids.begin(), a.ids.end() - 1);
  EXPECT_EQ(cache, want);

  // The same prompt again: only its last token is fed (its logits start the answer).
  m->reset();
  const GenerateResult b = bigdl::llm::generate(m->ctx(), vocab, "Once upon a time", greedy(6), cache);
  EXPECT_EQ(b.n_cached, b.n_prompt - 1);
  EXPECT_EQ(m->fed_in_batches(), 1);
  EXPECT_EQ(b.ids, a.ids);

  // A prompt that continues the cached text feeds just its new tokens and matches a
  // fresh run.
  m->reset();
  const std::string longer = "Once upon a time, there was a big dog";
  const GenerateResult c = bigdl::llm::generate(m->ctx(), vocab, longer, greedy(6), cache);
  const size_t lcp = common_prefix(vocab.encode(longer, vocab.add_bos()), want);
  EXPECT_GT(lcp, prompt.size() - 1);
  EXPECT_EQ(c.n_cached, int64_t(lcp));
  EXPECT_EQ(m->fed_in_batches(), c.n_prompt - int64_t(lcp));
  auto fresh = stories();
  EXPECT_EQ(c.ids, bigdl::llm::generate(fresh->ctx(), vocab, longer, greedy(6)).ids);

  // A list longer than the context cannot describe the cache.
  std::vector<TokenId> too_long(size_t(m->ctx().n_ctx()) + 1, 1);
  EXPECT_THROW(bigdl::llm::generate(m->ctx(), vocab, "x", greedy(1), too_long), bigdl::ValueError);
}

TEST(ChatReuse, DropsTheOldestTurnsWhenTheContextIsFull) {
  const Vocab vocab = Vocab::load(kStories);
  auto m = stories(/*n_ctx=*/96);
  ChatSession chat(m->ctx(), vocab, "chatml", greedy(8), "Be kind.");
  const char* turns[] = {"Once upon a time", "The cat", "The dog ran", "A bird"};
  GenerateResult last;
  int sent = 0;
  for (const char* t : turns) {
    m->reset();
    last = chat.send(t);
    ++sent;
    if (chat.dropped_turns() > 0) break;
  }
  ASSERT_GT(chat.dropped_turns(), 0) << "the context never filled";
  const auto& msgs = chat.messages();
  EXPECT_EQ(msgs[0].role, "system");  // kept
  EXPECT_EQ(int64_t(msgs.size()), 1 + 2 * (sent - chat.dropped_turns()));
  EXPECT_NE(msgs[1].content, "Once upon a time");  // the first turn is gone
  EXPECT_LE(int64_t(chat.cached_ids().size()), m->ctx().n_ctx());
  // The shortened conversation is fed again from where it differs: after the system turn.
  EXPECT_GT(last.n_cached, 0);
  EXPECT_EQ(m->fed_in_batches(), last.n_prompt - last.n_cached);
  const std::vector<bigdl::llm::ChatMessage> asked(msgs.begin(), msgs.end() - 1);
  auto fresh = stories(96);
  EXPECT_EQ(last.ids, bigdl::llm::generate(fresh->ctx(), vocab, chat.format(asked), chat.options()).ids);
}

TEST(ChatReuse, MessageLongerThanTheContextIsRefused) {
  const Vocab vocab = Vocab::load(kStories);
  auto m = stories(/*n_ctx=*/64);
  ChatSession chat(m->ctx(), vocab, "chatml", greedy(4));
  std::string long_message;
  for (int i = 0; i < 40; ++i) long_message += "the cat sat ";
  try {
    chat.send(long_message);
    FAIL() << "no ValueError";
  } catch (const bigdl::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("[chat] message of "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("does not fit the context length 64"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(chat.messages().empty());
  EXPECT_EQ(m->fed_in_batches(), 0);
  const GenerateResult r = chat.send("Hi");  // the session is still usable
  EXPECT_EQ(r.n_cached, 0);
  EXPECT_EQ(chat.messages().size(), 2u);
}

}  // namespace
