// Chat templates written out by hand; see include/bigdl/llm/chat.h.
#include "bigdl/llm/chat.h"

#include "bigdl/error.h"

namespace bigdl::llm {

namespace {

constexpr const char* kOp = "chat";

struct FormatName {
  ChatFormat format;
  const char* name;
};
constexpr FormatName kFormats[] = {
    {ChatFormat::ChatML, "chatml"}, {ChatFormat::Llama2, "llama2"}, {ChatFormat::Llama3, "llama3"},
    {ChatFormat::Zephyr, "zephyr"}, {ChatFormat::Mistral, "mistral"},
};

std::string known_list() {
  std::string s;
  for (const auto& f : kFormats) s += std::string(s.empty() ? "" : ", ") + f.name;
  return s;
}

bool has(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

// [INST] formats: an optional leading system message is folded into the first user turn.
std::string format_inst(ChatFormat f, const std::vector<ChatMessage>& messages, bool add_prompt,
                        std::string_view bos, std::string_view eos) {
  const char* name = to_string(f);
  std::string out, system;
  bool first_user = true;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "system" && i == 0) {
      system = m.content;
    } else if (m.role == "user") {
      out += bos;
      out += "[INST] ";
      if (first_user && !system.empty())
        out += f == ChatFormat::Llama2 ? "<<SYS>>\n" + system + "\n<</SYS>>\n\n" : system + "\n\n";
      first_user = false;
      out += m.content + " [/INST]";
    } else if (m.role == "assistant") {
      if (f == ChatFormat::Llama2) {
        out += " " + m.content + " ";
        out += eos;
      } else {
        out += m.content;
        out += eos;
        bos = "";  // Mistral: one BOS at the start only
      }
    } else {
      throw ValueError(detail::cat("[", kOp, "] role '", m.role, "' is not supported by ", name,
                                   m.role == "system" ? " (only as the first message)" : ""));
    }
  }
  (void)add_prompt;  // the prompt ends with [/INST] already
  return out;
}

}  // namespace

const char* to_string(ChatFormat format) {
  for (const auto& f : kFormats)
    if (f.format == format) return f.name;
  return "?";
}

std::vector<std::string> chat_format_names() {
  std::vector<std::string> out;
  for (const auto& f : kFormats) out.emplace_back(f.name);
  return out;
}

ChatFormat detect_chat_format(std::string_view t) {
  if (t.empty()) throw ValueError(detail::cat("[", kOp, "] the model has no chat template (known: ", known_list(), ")"));
  for (const auto& f : kFormats)
    if (t == f.name) return f.format;
  if (has(t, "<|im_start|>")) return ChatFormat::ChatML;
  if (has(t, "[INST]")) return has(t, "<<SYS>>") ? ChatFormat::Llama2 : ChatFormat::Mistral;
  if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>")) return ChatFormat::Llama3;
  if (has(t, "<|user|>") && (has(t, "<|assistant|>") || has(t, "<|system|>"))) return ChatFormat::Zephyr;
  const std::string head(t.substr(0, 60));
  throw ValueError(detail::cat("[", kOp, "] unknown chat template '", head, t.size() > 60 ? "..." : "",
                               "' (known: ", known_list(), ")"));
}

std::string chat_end_of_turn(ChatFormat format, std::string_view eos) {
  switch (format) {
    case ChatFormat::ChatML: return "<|im_end|>";
    case ChatFormat::Llama3: return "<|eot_id|>";
    default: return std::string(eos);
  }
}

std::string apply_chat_template(std::string_view template_or_name,
                                const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt, std::string_view bos,
                                std::string_view eos) {
  const ChatFormat f = detect_chat_format(template_or_name);
  std::string out;
  switch (f) {
    case ChatFormat::ChatML:
      for (const auto& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      return out;
    case ChatFormat::Llama3:
      out += bos;
      for (const auto& m : messages)
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + m.content + "<|eot_id|>";
      if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      return out;
    case ChatFormat::Zephyr:
      for (const auto& m : messages) {
        out += "<|" + m.role + "|>\n" + m.content;
        out += eos;
        out += "\n";
      }
      if (add_generation_prompt) out += "<|assistant|>\n";
      return out;
    case ChatFormat::Llama2:
    case ChatFormat::Mistral:
      return format_inst(f, messages, add_generation_prompt, bos, eos);
  }
  return out;
}

}  // namespace bigdl::llm
