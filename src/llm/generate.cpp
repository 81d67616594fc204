#include "bigdl/llm/generate.h"

#include <algorithm>
#include <chrono>

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

GenerateResult generate(Model& model, const Vocab& vocab, std::string_view prompt,
                        const GenerateOptions& options) {
  const ModelConfig& cfg = model.config();
  const std::vector<TokenId> tokens = vocab.encode(prompt, vocab.add_bos(), options.parse_special);
  const int64_t n_prompt = int64_t(tokens.size());
  BIGDL_CHECK(n_prompt > 0, ValueError, "llm", "the prompt is empty");
  BIGDL_CHECK(n_prompt <= cfg.n_ctx, ValueError, "llm", "prompt of ", n_prompt,
              " tokens exceeds the context length ", cfg.n_ctx);
  for (const auto& s : options.stop_strings)
    BIGDL_CHECK(!s.empty(), ValueError, "llm", "a stop string is empty");
  std::vector<TokenId> stop_ids = options.stop_ids;
  if (stop_ids.empty() && vocab.eos_id() >= 0) stop_ids.push_back(vocab.eos_id());

  Sampler sampler(int32_t(cfg.n_vocab), options.sampler);
  GenerateResult r;
  r.n_prompt = n_prompt;

  const auto t0 = Clock::now();
  const float* logits = nullptr;
  // Batched prefill in chunks: the scratch of forward_batch grows with the chunk.
  constexpr int64_t kPrefillChunk = 256;
  for (int64_t p = 0; p < n_prompt; p += kPrefillChunk)
    logits = model.forward_batch(tokens.data() + p, std::min(kPrefillChunk, n_prompt - p), p);
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
      if (pos >= cfg.n_ctx) {
        r.stop_reason = StopReason::ContextFull;
        break;
      }
      sampler.accept(next);
      logits = model.forward(next, pos++);
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

}  // namespace bigdl::llm
