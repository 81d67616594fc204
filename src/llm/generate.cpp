#include "bigdl/llm/generate.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
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

}  // namespace

// Holds back text that may be the start of a stop string; emits the rest.
class Generation::StopFilter {
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

std::vector<TokenId> encode_prompt(const Vocab& vocab, std::string_view prompt, bool parse_special) {
  std::vector<TokenId> ids;
  if (vocab.add_bos() && vocab.bos_id() >= 0) ids.push_back(vocab.bos_id());
  const std::vector<TokenId> text = vocab.encode(prompt, /*add_special=*/false, parse_special);
  ids.insert(ids.end(), text.begin(), text.end());
  return ids;
}

Generation::Generation(const Vocab& vocab, int64_t n_vocab, int64_t n_ctx, std::span<const TokenId> prompt,
                       GenerateOptions options)
    : options_(std::move(options)),
      sampler_(int32_t(n_vocab), options_.sampler),
      decoder_(vocab, /*at_start=*/false),
      n_ctx_(n_ctx),
      pos_(int64_t(prompt.size())) {
  for (const auto& s : options_.stop_strings)
    BIGDL_CHECK(!s.empty(), ValueError, "llm", "a stop string is empty");
  if (options_.stop_ids.empty() && vocab.eos_id() >= 0) options_.stop_ids.push_back(vocab.eos_id());
  filter_ = std::make_unique<StopFilter>(options_.stop_strings, result_, options_.callback);
  for (const TokenId t : prompt) sampler_.accept(t);
  result_.n_prompt = int64_t(prompt.size());
  result_.stop_reason = StopReason::MaxTokens;
  if (options_.max_new_tokens == 0) finish();
}

Generation::~Generation() = default;

TokenId Generation::step(const float* logits) {
  BIGDL_ASSERT(!done_);
  const TokenId next = sampler_.sample(logits);
  result_.ids.push_back(next);
  result_.n_generated = int64_t(result_.ids.size());
  if (std::find(options_.stop_ids.begin(), options_.stop_ids.end(), next) != options_.stop_ids.end()) {
    result_.stop_reason = StopReason::Eos;
  } else if (filter_->add(decoder_.push(next))) {
    result_.stop_reason = StopReason::StopString;
  } else if (options_.max_new_tokens > 0 && result_.n_generated >= options_.max_new_tokens) {
    result_.stop_reason = StopReason::MaxTokens;
  } else if (pos_ >= n_ctx_) {
    result_.stop_reason = StopReason::ContextFull;
  } else {
    sampler_.accept(next);
    ++pos_;
    return next;
  }
  finish();
  return next;
}

void Generation::finish() {
  if (result_.stop_reason != StopReason::StopString) {
    if (!filter_->add(decoder_.flush())) filter_->finish();
    else result_.stop_reason = StopReason::StopString;
  }
  done_ = true;
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
  Generation gen(vocab, cfg.n_vocab, n_ctx, tokens, options);

  // The longest common prefix with the cache is kept; the last prompt token is always
  // fed, since its logits start the answer. Rows past the prefix are overwritten.
  int64_t reuse = 0;
  const int64_t n_cached = std::min(int64_t(cached_ids.size()), n_prompt);
  while (reuse < n_cached && cached_ids[reuse] == tokens[reuse]) ++reuse;
  reuse = std::min(reuse, n_prompt - 1);
  cached_ids.resize(size_t(reuse));

  const auto t0 = Clock::now();
  const float* logits = nullptr;
  // Batched prefill in chunks: the scratch of forward_batch grows with the chunk.
  constexpr int64_t kPrefillChunk = 256;
  for (int64_t p = reuse; p < n_prompt; p += kPrefillChunk) {
    const int64_t n = std::min(kPrefillChunk, n_prompt - p);
    logits = ctx.forward_batch(tokens.data() + p, n, p);
    cached_ids.insert(cached_ids.end(), tokens.begin() + p, tokens.begin() + p + n);
  }
  const auto t1 = Clock::now();
  while (!gen.done()) {
    const int64_t pos = gen.pos();
    const TokenId next = gen.step(logits);
    if (gen.done()) break;
    logits = ctx.forward(next, pos);
    cached_ids.push_back(next);
  }
  GenerateResult r = std::move(gen.result());
  r.n_cached = reuse;
  r.prefill_s = seconds(t0, t1);
  r.decode_s = seconds(t1, Clock::now());
  return r;
}

// ---- ChatSession ----

namespace {
// The EOS text chat templates write ("</s>" when the vocab has none).
std::string chat_eos(const Vocab& vocab) { return vocab.eos_id() >= 0 ? vocab.text(vocab.eos_id()) : "</s>"; }
}  // namespace

GenerateOptions chat_options(const Vocab& vocab, std::string_view template_or_name, GenerateOptions options) {
  const ChatFormat format = detect_chat_format(template_or_name);
  const std::string eos = chat_eos(vocab);
  options.parse_special = true;
  const std::string end_of_turn = chat_end_of_turn(format, eos);
  if (vocab.eos_id() >= 0) options.stop_ids.push_back(vocab.eos_id());
  if (const TokenId id = vocab.find(end_of_turn); id >= 0 && id != vocab.eos_id()) options.stop_ids.push_back(id);
  if (!end_of_turn.empty()) options.stop_strings.push_back(end_of_turn);  // when it is not one token
  return options;
}

std::string format_chat(const Vocab& vocab, std::string_view template_or_name, const std::vector<ChatMessage>& messages) {
  const std::string eos = chat_eos(vocab);
  const std::string bos = !vocab.add_bos() && vocab.bos_id() >= 0 ? vocab.text(vocab.bos_id()) : "";
  return apply_chat_template(template_or_name, messages, /*add_generation_prompt=*/true, bos, eos);
}

ChatSession::ChatSession(Context& ctx, const Vocab& vocab, std::string template_or_name,
                         GenerateOptions options, std::string system)
    : ctx_(ctx), vocab_(vocab), template_(std::move(template_or_name)),
      options_(chat_options(vocab, template_, std::move(options))) {
  if (!system.empty()) messages_.push_back({"system", std::move(system)});
}

std::string ChatSession::format(const std::vector<ChatMessage>& messages) const {
  return format_chat(vocab_, template_, messages);
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
