#include "bigdl/llm/generate.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <utility>

#include "bigdl/error.h"

namespace bigdl::llm {

const char* to_string(StopReason reason) {
  switch (reason) {
    case StopReason::Eos: return "eos";
    case StopReason::StopString: return "stop_string";
    case StopReason::MaxTokens: return "max_tokens";
    case StopReason::ContextFull: return "context_full";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Holds back text that may be the start of a stop string; emits the rest.
class StopFilter {
 public:
  StopFilter(const std::vector<std::string>& stops, GenerateResult& r,
             const std::function<void(std::string_view)>& cb)
      : stops_(stops), result_(r), callback_(cb) {}

  // Adds text; returns true when a stop string was found (its prefix emitted).
  bool add(const std::string& piece) {
    pending_ += piece;
    size_t hit = std::string::npos;
    for (const auto& s : stops_) hit = std::min(hit, pending_.find(s));
    if (hit != std::string::npos) {
      emit(hit);
      pending_.clear();
      return true;
    }
    // Longest suffix of pending_ that is a proper prefix of some stop string.
    size_t hold = 0;
    for (const auto& s : stops_)
      for (size_t len = std::min(s.size() - 1, pending_.size()); len > hold; --len)
        if (pending_.compare(pending_.size() - len, len, s, 0, len) == 0) {
          hold = len;
          break;
        }
    emit(pending_.size() - hold);
    return false;
  }
  void finish() { emit(pending_.size()); }

 private:
  void emit(size_t n) {
    if (n == 0) return;
    const std::string_view out(pending_.data(), n);
    result_.text += out;
    if (callback_) callback_(out);
    pending_.erase(0, n);
  }

  const std::vector<std::string>& stops_;
  GenerateResult& result_;
  const std::function<void(std::string_view)>& callback_;
  std::string pending_;
};

}  // namespace

std::vector<TokenId> encode_prompt(const Vocab& vocab, std::string_view prompt, bool parse_special) {
  std::vector<TokenId> ids;
  if (vocab.add_bos() && vocab.bos_id() >= 0) ids.push_back(vocab.bos_id());
  const std::vector<TokenId> text = vocab.encode(prompt, /*add_special=*/false, parse_special);
  ids.insert(ids.end(), text.begin(), text.end());
  return ids;
}

GenerateResult generate(Context& ctx, const Vocab& vocab, std::string_view prompt,
                        const GenerateOptions& options) {
  std::vector<TokenId> nothing_cached;
  return generate(ctx, vocab, prompt, options, nothing_cached);
}

GenerateResult generate(Context& ctx, const Vocab& vocab, std::string_view prompt,
                        const GenerateOptions& options, std::vector<TokenId>& cached_ids) {
  const ModelConfig& cfg = ctx.config();
  const int64_t n_ctx = ctx.n_ctx();
  const std::vector<TokenId> tokens = encode_prompt(vocab, prompt, options.parse_special);
  const int64_t n_prompt = int64_t(tokens.size());
  BIGDL_CHECK(n_prompt > 0, ValueError, "llm", "the prompt is empty");
  BIGDL_CHECK(n_prompt <= n_ctx, ValueError, "llm", "prompt of ", n_prompt,
              " tokens exceeds the context length ", n_ctx);
  BIGDL_CHECK(int64_t(cached_ids.size()) <= n_ctx, ValueError, "llm", "cached_ids holds ",
              cached_ids.size(), " tokens, more than the context length ", n_ctx);
  for (const auto& s : options.stop_strings)
    BIGDL_CHECK(!s.empty(), ValueError, "llm", "a stop string is empty");
  std::vector<TokenId> stop_ids = options.stop_ids;
  if (stop_ids.empty() && vocab.eos_id() >= 0) stop_ids.push_back(vocab.eos_id());

  Sampler sampler(int32_t(cfg.n_vocab), options.sampler);
  GenerateResult r;
  r.n_prompt = n_prompt;

  // The longest common prefix with the cache is kept; the last prompt token is always
  // fed, since its logits start the answer. Rows past the prefix are overwritten.
  int64_t reuse = 0;
  const int64_t n_cached = std::min(int64_t(cached_ids.size()), n_prompt);
  while (reuse < n_cached && cached_ids[reuse] == tokens[reuse]) ++reuse;
  reuse = std::min(reuse, n_prompt - 1);
  cached_ids.resize(size_t(reuse));
  r.n_cached = reuse;

  const auto t0 = Clock::now();
  const float* logits = nullptr;
  // Batched prefill in chunks: the scratch of forward_batch grows with the chunk.
  constexpr int64_t kPrefillChunk = 256;
  for (int64_t p = reuse; p < n_prompt; p += kPrefillChunk) {
    const int64_t n = std::min(kPrefillChunk, n_prompt - p);
    logits = ctx.forward_batch(tokens.data() + p, n, p);
    cached_ids.insert(cached_ids.end(), tokens.begin() + p, tokens.begin() + p + n);
  }
  for (const TokenId t : tokens) sampler.accept(t);
  const auto t1 = Clock::now();
  r.prefill_s = seconds(t0, t1);

  StreamDecoder decoder(vocab, /*at_start=*/false);
  StopFilter filter(options.stop_strings, r, options.callback);
  int64_t pos = n_prompt;
  r.stop_reason = StopReason::MaxTokens;
  if (options.max_new_tokens != 0) {
    for (;;) {
      const TokenId next = sampler.sample(logits);
      r.ids.push_back(next);
      if (std::find(stop_ids.begin(), stop_ids.end(), next) != stop_ids.end()) {
        r.stop_reason = StopReason::Eos;
        break;
      }
      if (filter.add(decoder.push(next))) {
        r.stop_reason = StopReason::StopString;
        break;
      }
      if (options.max_new_tokens > 0 && int64_t(r.ids.size()) >= options.max_new_tokens) {
        r.stop_reason = StopReason::MaxTokens;
        break;
      }
      if (pos >= n_ctx) {
        r.stop_reason = StopReason::ContextFull;
        break;
      }
      sampler.accept(next);
      logits = ctx.forward(next, pos++);
      cached_ids.push_back(next);
    }
  }
  if (r.stop_reason != StopReason::StopString) {
    if (!filter.add(decoder.flush())) filter.finish();
    else r.stop_reason = StopReason::StopString;
  }
  r.decode_s = seconds(t1, Clock::now());
  r.n_generated = int64_t(r.ids.size());
  return r;
}

// ---- ChatSession ----

ChatSession::ChatSession(Context& ctx, const Vocab& vocab, std::string template_or_name,
                         GenerateOptions options, std::string system)
    : ctx_(ctx), vocab_(vocab), template_(std::move(template_or_name)), options_(std::move(options)) {
  const ChatFormat format = detect_chat_format(template_);
  eos_ = vocab.eos_id() >= 0 ? vocab.text(vocab.eos_id()) : "</s>";
  bos_ = !vocab.add_bos() && vocab.bos_id() >= 0 ? vocab.text(vocab.bos_id()) : "";
  options_.parse_special = true;
  const std::string end_of_turn = chat_end_of_turn(format, eos_);
  if (vocab.eos_id() >= 0) options_.stop_ids.push_back(vocab.eos_id());
  if (const TokenId id = vocab.find(end_of_turn); id >= 0 && id != vocab.eos_id())
    options_.stop_ids.push_back(id);
  if (!end_of_turn.empty()) options_.stop_strings.push_back(end_of_turn);  // when it is not one token
  if (!system.empty()) messages_.push_back({"system", std::move(system)});
}

std::string ChatSession::format(const std::vector<ChatMessage>& messages) const {
  return apply_chat_template(template_, messages, /*add_generation_prompt=*/true, bos_, eos_);
}

GenerateResult ChatSession::send(const std::string& message) {
  const int64_t n_ctx = ctx_.n_ctx();
  const int64_t max_new = options_.max_new_tokens;
  const int64_t room = max_new < 0 ? n_ctx / 4 : std::min(max_new, n_ctx / 2);
  std::vector<ChatMessage> conv = messages_;
  conv.push_back({"user", message});
  const size_t first_turn = !conv.empty() && conv[0].role == "system" ? 1 : 0;
  int64_t dropped = 0;
  std::string prompt = format(conv);
  int64_t n_tokens = int64_t(encode_prompt(vocab_, prompt, options_.parse_special).size());
  // Drop the oldest turn (a user message and the answers up to the next one) while the
  // conversation and room for the answer do not fit and an older turn is left.
  while (n_tokens + room > n_ctx && conv.size() > first_turn + 1) {
    size_t end = first_turn + 1;
    while (end < conv.size() - 1 && conv[end].role != "user") ++end;
    conv.erase(conv.begin() + ptrdiff_t(first_turn), conv.begin() + ptrdiff_t(end));
    ++dropped;
    prompt = format(conv);
    n_tokens = int64_t(encode_prompt(vocab_, prompt, options_.parse_special).size());
  }
  BIGDL_CHECK(n_tokens <= n_ctx, ValueError, "chat", "message of ", n_tokens,
              " tokens does not fit the context length ", n_ctx,
              " (template included); no older turn is left to drop");
  GenerateResult r = generate(ctx_, vocab_, prompt, options_, cached_ids_);
  conv.push_back({"assistant", r.text});
  messages_ = std::move(conv);
  dropped_turns_ += dropped;
  return r;
}

}  // namespace bigdl::llm
