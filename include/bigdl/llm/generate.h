// Text in, text out: prompt -> tokens -> model -> sampler -> streamed text.
//
//   GenerateOptions o;
//   o.max_new_tokens = 64;
//   o.sampler.temperature = 0;                                  // greedy
//   o.callback = [](std::string_view s) { fwrite(s.data(), 1, s.size(), stdout); };
//   GenerateResult r = generate(*model, vocab, "Once upon a time", o);
//
// The prompt is encoded with a BOS when the vocab says so (tokenizer.ggml.add_bos_token),
// fed token by token at positions 0..P-1, and every prompt token is accepted into the
// sampler (so the repetition penalty sees it, as in llama.cpp). Generated text streams
// through a StreamDecoder (only complete UTF-8 characters reach the callback); text
// that might be the start of a stop string is held back until it is known not to be.
//
// Stops, in the order checked after each sampled token:
//   Eos         the token is one of stop_ids (default: the vocab's EOS); its text is
//               not emitted, but it is in ids
//   StopString  the text contains a stop string: the text before it is emitted, the stop
//               string and anything after it are not
//   MaxTokens   max_new_tokens tokens were sampled (< 0: no limit)
//   ContextFull the next position would be n_ctx (at most n_ctx - P + 1 new tokens)
//
// Errors: ValueError "[llm] prompt of N tokens exceeds the context length C" (nothing is
// fed), ValueError "[llm] the prompt is empty" (no tokens and no BOS), and the
// sampler's option errors.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bigdl/llm/model.h"
#include "bigdl/llm/sampler.h"
#include "bigdl/llm/vocab.h"

namespace bigdl::llm {

enum class StopReason { Eos, StopString, MaxTokens, ContextFull };

// "eos", "stop_string", "max_tokens", "context_full".
const char* to_string(StopReason reason);

struct GenerateOptions {
  int64_t max_new_tokens = 128;               // < 0: until EOS or the context is full
  bool parse_special = false;                 // prompt text like "<|im_start|>" maps to its control token (chat)
  SamplerOptions sampler;
  std::vector<TokenId> stop_ids;              // empty: {vocab.eos_id()} (if it has one)
  std::vector<std::string> stop_strings;      // non-empty strings
  std::function<void(std::string_view)> callback;  // each piece of text as it completes
};

struct GenerateResult {
  std::vector<TokenId> ids;   // the tokens sampled (not the prompt), a final EOS included
  std::string text;           // the generated text (not the prompt), as the callback saw it
  int64_t n_prompt = 0;       // prompt tokens fed, BOS included
  int64_t n_generated = 0;    // == ids.size()
  double prefill_s = 0.0;     // feeding the prompt (to the first logits)
  double decode_s = 0.0;      // sampling and feeding the generated tokens
  StopReason stop_reason = StopReason::MaxTokens;
};

// Generates a continuation of `prompt`. The model's KV cache is overwritten from
// position 0 (one sequence per Model).
GenerateResult generate(Model& model, const Vocab& vocab, std::string_view prompt,
                        const GenerateOptions& options = {});

}  // namespace bigdl::llm
