// Chat templates: a conversation (role, content) -> the prompt text a chat model expects.
//
// There is no Jinja interpreter. As llama.cpp's llm_chat_detect_template does, a model's
// Jinja template (GGUF tokenizer.chat_template or tokenizer_config.json's chat_template)
// is recognised by marker strings it contains, and the matching format is written out by
// hand. A template may also be given by name. Known formats, for system S, user U,
// assistant A (bos/eos are the strings passed in; "" to leave them out):
//
//   chatml   <|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n
//            <|im_start|>assistant\nA<|im_end|>\n ...   prompt: <|im_start|>assistant\n
//   llama2   {bos}[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST] A {eos}{bos}[INST] U2 [/INST]
//   llama3   {bos}<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|> ...
//            prompt: <|start_header_id|>assistant<|end_header_id|>\n\n
//   zephyr   <|system|>\nS{eos}\n<|user|>\nU{eos}\n<|assistant|>\nA{eos}\n ...
//            prompt: <|assistant|>\n
//   mistral  {bos}[INST] S\n\nU [/INST]A{eos}[INST] U2 [/INST]
//
// Detection order (first match wins): "<|im_start|>" -> chatml; "[INST]" -> llama2 when
// the template contains "<<SYS>>", else mistral; "<|start_header_id|>" and
// "<|end_header_id|>" -> llama3; "<|user|>" and "<|assistant|>" (or "<|system|>") ->
// zephyr. Contents are inserted verbatim (no strip()).
//
// Errors: ValueError "[chat] unknown chat template '<first 60 chars>' (known: chatml,
// llama2, llama3, zephyr, mistral)"; "[chat] the model has no chat template" for "";
// "[chat] role 'x' is not supported by llama2" (llama2/mistral accept system only as the
// first message, then user/assistant).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bigdl::llm {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

enum class ChatFormat { ChatML, Llama2, Llama3, Zephyr, Mistral };

// "chatml", "llama2", "llama3", "zephyr", "mistral".
const char* to_string(ChatFormat format);
// All known format names, in the order above.
std::vector<std::string> chat_format_names();

// A format name, or a Jinja template recognised by its markers.
ChatFormat detect_chat_format(std::string_view template_or_name);

// The text that ends a model's turn, to stop generation on: "<|im_end|>", "<|eot_id|>",
// or eos for llama2 / zephyr / mistral.
std::string chat_end_of_turn(ChatFormat format, std::string_view eos);

// The conversation formatted for the model; with add_generation_prompt the text that
// opens an assistant turn is appended.
std::string apply_chat_template(std::string_view template_or_name,
                                const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt, std::string_view bos = "",
                                std::string_view eos = "</s>");

}  // namespace bigdl::llm
