// Perplexity of a model on a text, computed as llama.cpp's llama-perplexity does it
// (examples/perplexity, the default mode), so the two numbers can be compared:
//
//   1. The whole text is tokenized once, with a BOS in front when the vocab says so
//      (tokenizer.ggml.add_bos_token; llama.cpp's common_tokenize(text, add_special=true)),
//      special-token text not parsed.
//   2. The tokens are cut into non-overlapping chunks of n_ctx; a tail shorter than n_ctx is
//      dropped. With add_bos, each chunk's first token is replaced by the BOS.
//   3. Each chunk is run through the model from position 0 (a fresh sequence), and only
//      the second half is scored: the logits at positions first = n_ctx/2 .. n_ctx-2
//      predict tokens first+1 .. n_ctx-1, i.e. n_ctx-1-n_ctx/2 tokens per chunk (255 for
//      n_ctx = 512). Every scored token has at least n_ctx/2 tokens of context. The first
//      half is one Context::forward_batch, the scored half Context::forward_batch_all in
//      batches of up to 256 positions (fewer for a large vocabulary: 32 MB of logits), so
//      the evaluation runs at prefill speed; the values equal token-by-token forward()
//      up to f32 summation order.
//   4. nll = -log softmax(logits)[next] (in double); PPL = exp(mean nll); the error is
//      PPL * sqrt(var(nll) / (N-1)), llama.cpp's "+/-".
//
// The text must give at least 2*n_ctx tokens (llama.cpp's rule, even with max_chunks = 1):
// ValueError "[perplexity] the text gives 300 tokens; a context of 128 needs at least 256".
// n_ctx must be in [4, ctx.n_ctx()] (ValueError otherwise). perplexity_file()
// reads a file (IOError "[perplexity] x.txt: cannot open") and, as llama.cpp's -f, drops
// one trailing '\n'.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "bigdl/llm/model.h"
#include "bigdl/llm/vocab.h"

namespace bigdl::llm {

struct PerplexityResult {
  double ppl = 0.0;        // exp(mean nll) over all scored tokens
  double ppl_err = 0.0;    // standard error of ppl (llama.cpp's "+/-")
  double mean_nll = 0.0;   // nats per scored token
  int64_t n_tokens = 0;    // tokens of the whole text (BOS included)
  int64_t n_scored = 0;    // tokens scored: chunks * (n_ctx - 1 - n_ctx/2)
  int64_t chunks = 0;      // chunks evaluated
  double seconds = 0.0;    // wall time of the forward passes and scoring
};

// After each chunk: its 1-based index, the chunk count and the running estimate.
struct PerplexityProgress {
  int64_t chunk = 0;
  int64_t n_chunks = 0;
  double ppl = 0.0;
  double seconds = 0.0;  // since the first chunk began
};

using PerplexityCallback = std::function<void(const PerplexityProgress&)>;

// Perplexity of `text` with chunks of n_ctx tokens; at most max_chunks of them (<= 0:
// all whole chunks). Overwrites the context's KV cache.
PerplexityResult perplexity(Context& ctx, const Vocab& vocab, std::string_view text, int64_t n_ctx,
                            int64_t max_chunks = -1, const PerplexityCallback& callback = {});

// The same on the contents of a text file.
PerplexityResult perplexity_file(Context& ctx, const Vocab& vocab, const std::string& path, int64_t n_ctx,
                                 int64_t max_chunks = -1, const PerplexityCallback& callback = {});

}  // namespace bigdl::llm
