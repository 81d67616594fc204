#include "bigdl/llm/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "bigdl/error.h"
#include "bigdl/llm/model.h"  // argmax

namespace bigdl::llm {

namespace {
bool by_logit_desc(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// p_i = softmax(logit_i) over c[0..n), max-subtracted. Returns nothing; fills .p.
void softmax(Candidate* c, int32_t n) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int32_t i = 0; i < n; ++i) mx = std::max(mx, c[i].logit);
  double sum = 0.0;
  for (int32_t i = 0; i < n; ++i) {
    c[i].p = std::exp(c[i].logit - mx);
    sum += c[i].p;
  }
  for (int32_t i = 0; i < n; ++i) c[i].p = float(c[i].p / sum);
}
}  // namespace

Sampler::Sampler(int32_t n_vocab, const SamplerOptions& options)
    : options_(options), n_vocab_(n_vocab), gen_(options.seed) {
  BIGDL_CHECK(n_vocab >= 1, ValueError, "sampler", "n_vocab must be >= 1, got ", n_vocab);
  BIGDL_CHECK(options.repetition_penalty > 0.0f, ValueError, "sampler",
              "repetition_penalty must be > 0, got ", options.repetition_penalty);
  BIGDL_CHECK(options.repeat_last_n >= 0, ValueError, "sampler",
              "repeat_last_n must be >= 0, got ", options.repeat_last_n);
  BIGDL_CHECK(options.top_p > 0.0f && options.top_p <= 1.0f, ValueError, "sampler",
              "top_p must be in (0, 1], got ", options.top_p);
  BIGDL_CHECK(options.min_p >= 0.0f && options.min_p <= 1.0f, ValueError, "sampler",
              "min_p must be in [0, 1], got ", options.min_p);
  BIGDL_CHECK(!std::isnan(options.temperature), ValueError, "sampler", "temperature is NaN");
  BIGDL_CHECK(options.presence_penalty >= -2.0f && options.presence_penalty <= 2.0f, ValueError, "sampler",
              "presence_penalty must be in [-2, 2], got ", options.presence_penalty);
  BIGDL_CHECK(options.frequency_penalty >= -2.0f && options.frequency_penalty <= 2.0f, ValueError, "sampler",
              "frequency_penalty must be in [-2, 2], got ", options.frequency_penalty);
  cand_.resize(size_t(n_vocab));
  seen_.assign(size_t(n_vocab), 0);
  history_.assign(size_t(options.repeat_last_n), 0);
}

void Sampler::reset() {
  n_accepted_ = 0;
  gen_.seed_(options_.seed);
}

void Sampler::accept(int32_t id) {
  BIGDL_CHECK(id >= 0 && id < n_vocab_, IndexError, "sampler", "token id ", id,
              " outside [0, ", n_vocab_, ")");
  if (history_.empty()) return;
  history_[size_t(n_accepted_ % int64_t(history_.size()))] = id;
  ++n_accepted_;
}

bool Sampler::penalties_active() const {
  return (options_.repetition_penalty != 1.0f || options_.presence_penalty != 0.0f ||
          options_.frequency_penalty != 0.0f) && !history_.empty() && n_accepted_ > 0;
}

void Sampler::apply_penalties() {
  if (!penalties_active()) return;
  const float r = options_.repetition_penalty, pres = options_.presence_penalty, freq = options_.frequency_penalty;
  const int64_t n = std::min<int64_t>(n_accepted_, int64_t(history_.size()));
  for (int64_t i = 0; i < n; ++i) ++seen_[size_t(history_[size_t(i)])];
  // cand_ is still indexed by id here; each distinct token is penalized once.
  for (int64_t i = 0; i < n; ++i) {
    const int32_t id = history_[size_t(i)];
    const int32_t count = seen_[size_t(id)];
    if (count == 0) continue;  // done already
    seen_[size_t(id)] = 0;
    float& l = cand_[size_t(id)].logit;
    if (r != 1.0f) l = l > 0.0f ? l / r : l * r;
    if (pres != 0.0f || freq != 0.0f) l -= float(count) * freq + pres;
  }
}

void Sampler::sort_candidates() {
  if (!sorted_) std::sort(cand_.begin(), cand_.begin() + n_cand_, by_logit_desc);
  sorted_ = true;
}

int32_t Sampler::sample(const float* logits) {
  if (options_.temperature <= 0.0f && !penalties_active()) {  // plain greedy: no candidate copy (the server's default)
    n_cand_ = 0;
    return argmax(logits, n_vocab_);
  }
  for (int32_t i = 0; i < n_vocab_; ++i) cand_[size_t(i)] = {i, logits[i], 0.0f};
  n_cand_ = n_vocab_;
  sorted_ = false;
  apply_penalties();

  // A positive temperature so small that logits / T would overflow (1e-40 is a float) is the
  // greedy limit, not a softmax of infinities (that picked an arbitrary token).
  float max_abs = 0.0f;
  if (options_.temperature > 0.0f)
    for (int32_t i = 0; i < n_vocab_; ++i)
      if (std::isfinite(cand_[size_t(i)].logit)) max_abs = std::max(max_abs, std::fabs(cand_[size_t(i)].logit));
  if (options_.temperature <= 0.0f || double(max_abs) / double(options_.temperature) > 0.5 * double(std::numeric_limits<float>::max())) {
    // greedy: argmax, first on ties
    int32_t best = 0;
    for (int32_t i = 1; i < n_vocab_; ++i)
      if (cand_[size_t(i)].logit > cand_[size_t(best)].logit) best = i;
    n_cand_ = 0;
    return best;
  }
  const float inv_t = 1.0f / options_.temperature;
  if (options_.temperature_first)
    for (int32_t i = 0; i < n_cand_; ++i) cand_[size_t(i)].logit *= inv_t;

  const int32_t k = options_.top_k;
  if (k > 0 && k < n_cand_) {
    std::partial_sort(cand_.begin(), cand_.begin() + k, cand_.begin() + n_cand_, by_logit_desc);
    n_cand_ = k;
    sorted_ = true;
  }

  if (options_.top_p < 1.0f) {
    sort_candidates();
    softmax(cand_.data(), n_cand_);
    double cum = 0.0;
    int32_t keep = n_cand_;
    for (int32_t i = 0; i < n_cand_; ++i) {
      cum += cand_[size_t(i)].p;
      if (cum >= options_.top_p) {
        keep = i + 1;
        break;
      }
    }
    n_cand_ = keep;
  }

  if (options_.min_p > 0.0f) {
    float mx = -std::numeric_limits<float>::infinity();
    for (int32_t i = 0; i < n_cand_; ++i) mx = std::max(mx, cand_[size_t(i)].logit);
    const float threshold = mx + std::log(options_.min_p);
    int32_t w = 0;  // stable compaction keeps the sort order
    for (int32_t i = 0; i < n_cand_; ++i)
      if (cand_[size_t(i)].logit >= threshold) cand_[size_t(w++)] = cand_[size_t(i)];
    n_cand_ = w;
  }

  if (!options_.temperature_first)
    for (int32_t i = 0; i < n_cand_; ++i) cand_[size_t(i)].logit *= inv_t;
  softmax(cand_.data(), n_cand_);

  const double u = gen_.next_double();
  double cum = 0.0;
  for (int32_t i = 0; i < n_cand_; ++i) {
    cum += cand_[size_t(i)].p;
    if (u < cum) return cand_[size_t(i)].id;
  }
  return cand_[size_t(n_cand_ - 1)].id;  // u within rounding of 1
}

}  // namespace bigdl::llm
