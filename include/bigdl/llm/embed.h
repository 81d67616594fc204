// Sentence embeddings (`bigdl llm embed`, the server's /v1/embeddings): a text's final
// hidden states pooled into one vector, as sentence-transformers and llama.cpp's
// llama-embedding compute them.
//
//   auto model = load_model("all-MiniLM-L6-v2/");   // an HF folder or GGUF
//   Context ctx(model);
//   const Vocab vocab = Vocab::load("all-MiniLM-L6-v2/");
//   std::vector<float> e = embed(ctx, vocab, "A sentence.");   // n_embd values, unit length
//
// The text is encoded with the vocabulary's special tokens (WordPiece: [CLS] ... [SEP];
// a decoder: BOS / EOS as its vocab says) and run in one batch from position 0 (an
// encoder sees the whole text at once). Pooling (EmbedOptions::pooling; "" takes the
// model's own: ModelConfig::pooling from sentence-transformers' 1_Pooling/config.json or
// GGUF <arch>.pooling_type, else "mean" for an encoder and "last" for a decoder):
//   mean   the average of every position's state ([CLS] and [SEP] included, as
//          sentence-transformers' mean over the attention mask)
//   cls    the first position's state
//   last   the last position's state (decoder embedding models)
// normalize (default): divided by its L2 norm (sentence-transformers' Normalize,
// llama.cpp's default).
//
// Errors: ValueError "[embed] text of N tokens exceeds the context length C"; "[embed]
// unknown pooling 'x' (known: mean, cls, last)".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bigdl/llm/model.h"
#include "bigdl/llm/vocab.h"

namespace bigdl::llm {

struct EmbedOptions {
  std::string pooling;    // "", "mean", "cls", "last"
  bool normalize = true;  // unit L2 norm
};

// The pooling embed() uses for this model and options.
std::string embed_pooling(const ModelConfig& config, const EmbedOptions& options = {});

std::vector<float> embed(Context& ctx, const Vocab& vocab, std::string_view text, const EmbedOptions& options = {});

}  // namespace bigdl::llm
