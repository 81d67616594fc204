// Chat templates (bigdl/llm/chat.h): exact strings per format and detection from real
// Jinja templates.
#include "bigdl/llm/chat.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "bigdl/error.h"

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

}  // namespace
