// Text in, text out: prompt -> tokens -> model -> sampler -> streamed text.
//
//   GenerateOptions o;
//   o.max_new_tokens = 64;
//   o.sampler.temperature = 0;                                  // greedy
//   o.callback = [](std::string_view s) { fwrite(s.data(), 1, s.size(), stdout); };
//   Context ctx(model);
//   GenerateResult r = generate(ctx, vocab, "Once upon a time", o);
//
// The prompt is encoded with a BOS when the vocab says so (tokenizer.ggml.add_bos_token;
// encode_prompt),
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
//
// KV-cache reuse: the overload taking `cached_ids` keeps a list of the token ids whose
// K/V the model's cache holds (positions 0..size-1). It feeds only the prompt tokens
// after the longest common prefix of the new prompt and that list (positions past the
// prefix are simply overwritten), so a chat turn costs the new tokens, not the whole
// history. ChatSession (below) does this for a conversation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bigdl/llm/chat.h"
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
  int64_t n_prompt = 0;       // prompt tokens, BOS included
  int64_t n_cached = 0;       // of those, already in the KV cache and not fed again (reuse)
  int64_t n_generated = 0;    // == ids.size()
  double prefill_s = 0.0;     // feeding the prompt (to the first logits)
  double decode_s = 0.0;      // sampling and feeding the generated tokens
  StopReason stop_reason = StopReason::MaxTokens;
};

// A prompt's tokens as generate() feeds them: a BOS first when the vocab adds one, then
// the text (no EOS, whatever add_eos() says: the model is to continue it).
std::vector<TokenId> encode_prompt(const Vocab& vocab, std::string_view prompt, bool parse_special = false);

// Generates a continuation of `prompt`. The context's KV cache is overwritten from
// position 0.
GenerateResult generate(Context& ctx, const Vocab& vocab, std::string_view prompt,
                        const GenerateOptions& options = {});

// The same, reusing the KV cache. cached_ids: the token ids the context's cache holds at
// positions 0..size-1 (empty for a fresh model; what the previous call left otherwise).
// The prompt's tokens after its longest common prefix with cached_ids are fed (at least
// the last one: its logits start the answer); result.n_cached counts the others. On
// return cached_ids is what the cache holds: the prompt and every generated token fed
// back (all but the last one sampled). If a call throws, cached_ids still describes
// the cache (it may be shorter). The sampler sees the whole prompt either way, so the
// tokens equal those of the plain overload (up to f32 rounding: a prefix fed one turn
// earlier was fed in other batches). ValueError "[llm] cached_ids holds N tokens, more
// than the context length C" for a list that cannot describe the cache.
GenerateResult generate(Context& ctx, const Vocab& vocab, std::string_view prompt,
                        const GenerateOptions& options, std::vector<TokenId>& cached_ids);

// One sequence's generation driven step by step: generate()'s sampler, stop checks and
// text stream for callers that run the forward passes themselves (the server's continuous
// batching feeds many sequences in one forward_batch per step):
//
//   Generation gen(vocab, cfg.n_vocab, ctx.n_ctx(), prompt_ids, options);
//   const float* logits = ctx.forward_batch(prompt_ids.data(), n, 0);
//   while (!gen.done()) {
//     const int64_t pos = gen.pos();
//     const TokenId next = gen.step(logits);
//     if (!gen.done()) logits = ctx.forward(next, pos);
//   }
//
// The prompt's tokens are accepted into the sampler at construction. step() samples from
// the logits after the last fed token and applies generate()'s stops in generate()'s
// order; when it returns with done() false, the token is to be fed at the position pos()
// had before the call. Text goes to options.callback as in generate(); result() has the
// ids, text, n_prompt, n_generated and stop_reason (not the timings or n_cached).
// max_new_tokens == 0 is done at construction. Errors: an empty stop string (ValueError)
// and the sampler's option errors.
class Generation {
 public:
  Generation(const Vocab& vocab, int64_t n_vocab, int64_t n_ctx, std::span<const TokenId> prompt,
             GenerateOptions options);
  ~Generation();
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  TokenId step(const float* logits);
  bool done() const { return done_; }
  int64_t pos() const { return pos_; }  // where the token step() returns is fed
  GenerateResult& result() { return result_; }
  const GenerateOptions& options() const { return options_; }
  // Replaces options.callback (a Generation made before its text has somewhere to go).
  void set_callback(std::function<void(std::string_view)> callback) { options_.callback = std::move(callback); }

 private:
  class StopFilter;
  void finish();

  GenerateOptions options_;
  Sampler sampler_;
  StreamDecoder decoder_;
  GenerateResult result_;
  std::unique_ptr<StopFilter> filter_;
  int64_t n_ctx_ = 0;
  int64_t pos_ = 0;
  bool done_ = false;
};

// The options ChatSession generates with for a chat template: parse_special (the
// template's markers become their control tokens), and stops on the vocab's EOS id, on the
// end-of-turn token (chat_end_of_turn) when that text is one token, and on the end-of-turn
// text as a stop string; added to what `options` has. Errors: those of detect_chat_format.
GenerateOptions chat_options(const Vocab& vocab, std::string_view template_or_name, GenerateOptions options = {});
// A conversation formatted as ChatSession feeds it: the template applied with the
// generation prompt, the vocab's EOS text, and the template's BOS text left out when the
// vocab adds BOS itself (encode_prompt puts it first).
std::string format_chat(const Vocab& vocab, std::string_view template_or_name, const std::vector<ChatMessage>& messages);

// A conversation with one Context, turn by turn, reusing the KV cache between turns:
//
//   ChatSession chat(ctx, vocab, vocab.chat_template(), options, "You are terse.");
//   GenerateResult r = chat.send("Hi");  // r.text: the answer (also streamed by the callback)
//   r = chat.send("And then?");          // feeds only what the cache does not hold yet
//
// send() appends the user message, formats the whole conversation with the template
// (apply_chat_template, generation prompt added) and calls the cached_ids generate():
// only the tokens after the common prefix with the cache are fed (the end of the last
// answer as the template writes it, the new message and the markers), counted by
// result.n_prompt - result.n_cached. The answer (result.text) is appended to the
// conversation.
//
// Context: when the formatted conversation plus room for the answer does not fit n_ctx,
// the oldest turns (a user message and its answer; a leading system message stays) are
// dropped, one at a time, and the shortened conversation is fed again from where it
// differs from the cache (usually right after the system message). Room for the answer
// is max_new_tokens, at most n_ctx / 2 (n_ctx / 4 when max_new_tokens < 0); an answer
// that outgrows it still stops at ContextFull. dropped_turns() counts the turns dropped
// so far. A message that does not fit with no older turn left throws ValueError
// "[chat] message of N tokens does not fit the context length C (template included); no
// older turn is left to drop" and leaves the conversation as it was.
//
// The options are adjusted for chat: parse_special = true (the template's markers become
// their control tokens, as llama.cpp's chat does; user text is parsed the same way), and
// the answer stops on the vocab's EOS id, the end-of-turn token (chat_end_of_turn) when
// that text is one token, and the end-of-turn text as a stop string. The template's bos
// is left out when the vocab adds BOS itself (generate() puts it first).
// The context and vocab must outlive the session, and only the session may feed the
// context (anything else invalidates cached_ids()). Constructor errors: those of
// detect_chat_format.
class ChatSession {
 public:
  ChatSession(Context& ctx, const Vocab& vocab, std::string template_or_name,
              GenerateOptions options = {}, std::string system = "");

  // One turn: the answer to `message`.
  GenerateResult send(const std::string& message);

  // The conversation formatted with this session's template, bos and eos, generation
  // prompt appended: the text send() feeds for `messages`.
  std::string format(const std::vector<ChatMessage>& messages) const;

  const std::vector<ChatMessage>& messages() const { return messages_; }
  const std::vector<TokenId>& cached_ids() const { return cached_ids_; }  // the context's KV cache
  const GenerateOptions& options() const { return options_; }            // as adjusted for chat
  int64_t dropped_turns() const { return dropped_turns_; }

 private:
  Context& ctx_;
  const Vocab& vocab_;
  std::string template_;
  GenerateOptions options_;
  std::vector<ChatMessage> messages_;
  std::vector<TokenId> cached_ids_;
  int64_t dropped_turns_ = 0;
};

}  // namespace bigdl::llm
