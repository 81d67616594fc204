// Token sampling for bigdl-llm: next-token choice from a model's logits.
//
// One Sampler holds everything one sequence needs: the options, its own random
// generator (bigdl::Generator, seeded once, so the same seed gives the same tokens), the
// last `repeat_last_n` accepted tokens (for the repetition penalty) and a candidate
// buffer of n_vocab entries allocated at construction; sample() allocates nothing.
//
// The chain is llama.cpp's default order:
//   penalties -> top_k -> top_p -> min_p -> temperature -> sample
// so top_p and min_p see the probabilities at temperature 1 (softmax of the penalized
// logits), and temperature only reshapes what survived. temperature <= 0 is greedy:
// the argmax of the penalized logits (first on ties), the RNG untouched; so is a positive
// one so small that logits / T would overflow float (its limit).
//
//   penalties    logit / r if logit > 0, logit * r otherwise, once per distinct token
//                among the last repeat_last_n accepted ones (llama.cpp / HF CTRL rule)
//   top_k        keep the k largest logits (k <= 0 or k >= n_vocab: off)
//   top_p        sort by probability, keep the smallest prefix whose mass reaches p
//                (p >= 1: off); at least one token is kept
//   min_p        drop tokens with probability < min_p * (largest probability), i.e.
//                logit < max_logit + log(min_p) (min_p <= 0: off)
//   temperature  logits / T, softmax over the survivors, one uniform draw
//
// With temperature_first (transformers' order, used by the Python API's generate):
//   penalties -> temperature -> top_k -> top_p -> min_p -> sample
// so top_p and min_p see the probabilities at temperature T, as in HF's logits warpers.
//
// Errors: ValueError "[sampler] ..." for an option outside its range (negative
// penalty, top_p outside (0, 1], ...) or n_vocab < 1.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "bigdl/random.h"

namespace bigdl::llm {

// Defaults are llama.cpp's (llama-cli), except the seed, which is fixed so that runs
// are reproducible unless a seed is given.
struct SamplerOptions {
  float temperature = 0.8f;        // 0 (or less) = greedy
  int32_t top_k = 40;              // <= 0: off
  float top_p = 0.95f;             // 1: off
  float min_p = 0.05f;             // 0: off
  float repetition_penalty = 1.0f; // 1: off; must be > 0
  int32_t repeat_last_n = 64;      // window of accepted tokens the penalties look at; 0: off
  // OpenAI's additive penalties, as llama.cpp applies them (after the repetition penalty,
  // over the same window): logit -= count * frequency_penalty + presence_penalty for each
  // token seen count > 0 times. 0: off; each in [-2, 2].
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0;
  // Divide by the temperature before top_k / top_p / min_p (transformers' order) instead
  // of after them (llama.cpp's). Greedy is unaffected.
  bool temperature_first = false;
};

// A token that survived the chain, with its final probability (after temperature).
struct Candidate {
  int32_t id;
  float logit;  // penalized, divided by the temperature
  float p;
};

class Sampler {
 public:
  Sampler(int32_t n_vocab, const SamplerOptions& options = {});

  const SamplerOptions& options() const { return options_; }
  int32_t n_vocab() const { return n_vocab_; }

  // Picks the next token from n_vocab logits (read, not modified). Does not accept it:
  // call accept() with the token actually fed to the model.
  int32_t sample(const float* logits);

  // Records a token (prompt or generated) for the repetition penalty window.
  void accept(int32_t id);

  // Forgets the accepted tokens and reseeds the generator with options().seed.
  void reset();

  // The candidates left after the last sample(), in the order the chain left them
  // (sorted by logit, descending, when top_k or top_p ran), probabilities summing to 1.
  // Empty after a greedy sample(). Valid until the next sample().
  std::span<const Candidate> candidates() const { return {cand_.data(), size_t(n_cand_)}; }

 private:
  bool penalties_active() const;  // any penalty option on, and accepted tokens to apply it to
  void apply_penalties();
  void sort_candidates();

  SamplerOptions options_;
  int32_t n_vocab_;
  Generator gen_;
  std::vector<Candidate> cand_;    // n_vocab entries, first n_cand_ alive
  int32_t n_cand_ = 0;
  bool sorted_ = false;
  std::vector<int32_t> history_;   // ring buffer of repeat_last_n accepted tokens
  int64_t n_accepted_ = 0;
  std::vector<int32_t> seen_;      // n_vocab counts, cleared after each use
};

}  // namespace bigdl::llm
