// bigdl-llm: low-bit LLM inference on CPU.
//
// A Model is one architecture's weights plus the state of ONE sequence: a KV cache
// [layers][n_ctx][kv_dim] (fp16 by default, LoadOptions::kv_type) allocated at load and
// made resident as positions are written, and scratch buffers, so forward() allocates
// nothing. load_model(path) takes a GGUF file (weights used in place from the mapping)
// or a Hugging Face folder with config.json + safetensors (weights converted to f32 at
// load; see hf.h). Architectures live one per file in src/llm/models/<arch>.cpp and are
// found through registries keyed by GGUF's general.architecture or config.json's
// model_type (src/llm/arch.cpp).
//
// Prompts go through forward_batch() (matrix-matrix products over the prompt tokens),
// generated tokens through forward(). Weights: F32 tensors are read in place. Q4_0 /
// Q4_1 / Q8_0 matrices are copied once at load into an 8-row interleaved layout for the
// int8-activation GEMV/GEMM kernels (the file's pages are then released, so memory holds
// one copy); other quantized types are read in place by the quant gemv. Quantized
// matrices multiply int8-rounded activations (ggml's Q8 path; docs/quant.md). Norm
// weights must be F32. Threads: bigdl::set_num_threads (the library's one pool).
//
// Errors (see include/bigdl/error.h):
//   FormatError  "[load_model] m.gguf: tensor 'blk.0.attn_q.weight' missing",
//                "[gguf] m.gguf: metadata key 'llama.block_count' missing",
//                unknown architecture, unsupported tensor type
//   ShapeError   "[load_model] m.gguf: tensor 'blk.0.attn_k.weight' has shape [64, 64],
//                expected [32, 64]"
//   ValueError   "[llm] prompt of 600 tokens exceeds the context length 512"
//   IndexError   a token id outside [0, n_vocab) or a position outside [0, n_ctx)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bigdl::llm {

// Hyper-parameters read from the GGUF metadata (for llama: the llama.* keys).
struct ModelConfig {
  std::string arch;         // general.architecture, e.g. "llama"
  int64_t n_vocab = 0;      // rows of token_embd.weight
  int64_t n_embd = 0;       // model width
  int64_t n_layer = 0;
  int64_t n_head = 0;       // query heads
  int64_t n_head_kv = 0;    // key/value heads (grouped-query attention when < n_head)
  int64_t head_dim = 0;     // n_embd / n_head
  int64_t n_ff = 0;         // feed-forward hidden width
  int64_t n_ctx = 0;        // positions the KV cache holds
  std::string kv_type;      // the KV cache's storage type: "f16", "f32" or "fp8" (LoadOptions::kv_type)
  int64_t n_ctx_train = 0;  // <arch>.context_length from the file
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_output = false;  // output.weight absent: the classifier is token_embd.weight
};

struct LoadOptions {
  // Positions the KV cache holds; 0 = the file's <arch>.context_length. A larger value
  // is allowed (some converters write a default smaller than the training length).
  int64_t n_ctx = 0;
  // bigdl-llm's load_in_low_bit: "" keeps the stored types (HF weights become f32;
  // GGUF F16 / BF16 matrices stay 16-bit), "sym_int4" / "asym_int4" / "sym_int5" /
  // "asym_int5" / "sym_int8" (ggml's Q4_0..Q8_0), "nf4" / "nf3" (NormalFloat), "fp4"
  // (e2m1), "fp8_e4m3" / "fp8_e5m2" ("fp8" = e5m2, as bigdl-llm), "fp16" / "bf16" convert
  // the 2-D projection matrices (q/k/v/o, gate/up/down, an untied output) tensor by tensor
  // at load with the reference quantizer, "fp32" makes them f32. Norms and the token
  // embedding are not quantized (the embedding becomes f32 under "fp32"; a tied output
  // shares it). A matrix whose rows are not whole blocks of 32 stays as stored (f32 for a
  // GGUF F16 / BF16 one). Other names: ValueError "[load_model] unknown low-bit type 'x'
  // (known: sym_int4, ...)". Formats and error bounds: docs/quant.md; see docs/llm.md.
  std::string low_bit;
  // Storage of the KV cache: "f16" (IEEE half, round to nearest even; half the memory
  // of f32, relative error <= 2^-11 per cached value), "f32" (exact) or "fp8" (OCP E5M2,
  // bigdl-llm's FP8 KV cache: a quarter of f32, relative error <= 2^-3; finite values past
  // 57344 saturate). Attention reads it through F16C conversions. Other names: ValueError
  // "[load_model] unknown kv_type 'x' (known: f16, f32, fp8)". See docs/llm.md, "KV cache".
  std::string kv_type = "f16";
};

class Model {
 public:
  virtual ~Model() = default;
  const ModelConfig& config() const { return config_; }

  // Feeds `token` at position `pos` (0 <= pos < n_ctx) and returns the n_vocab logits
  // for the next token. Writes this position's K/V into the cache; positions 0..pos-1
  // must have been fed before (their cache rows are read). The pointer stays valid
  // until the next forward() call.
  virtual const float* forward(int32_t token, int64_t pos) = 0;

  // Batched prefill: feeds tokens[0..n) at positions pos0..pos0+n-1 in one pass and
  // returns the n_vocab logits after the LAST token (only those are computed: a prompt
  // needs no others). Same cache effect and, up to f32 summation order, the same logits
  // as n forward() calls (quantized weights see the same int8-rounded activations; see
  // docs/llm.md "Batched prefill"); every projection is one matrix product over the n
  // tokens. Positions
  // 0..pos0-1 must have been fed before. Scratch grows to the largest n seen and is
  // reused, so a caller should feed long prompts in chunks (generate() uses 256).
  // Errors: ValueError "[llm] batch of N tokens at position P exceeds the context length
  // C" (also n < 1 or pos0 < 0), IndexError for a token id outside [0, n_vocab).
  // The pointer stays valid until the next forward() / forward_batch() call.
  virtual const float* forward_batch(const int32_t* tokens, int64_t n, int64_t pos0) = 0;

  // forward_batch() that returns the logits of EVERY position: [n][n_vocab], row t the
  // logits after tokens[t] (for perplexity). The same values as n forward() calls up to
  // f32 summation order (bit-identical for packed Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 / nf4 / fp4 weights; see
  // docs/llm.md). Costs one classifier matmul over the n tokens and n * n_vocab floats of
  // scratch (kept and reused), so feed long texts in chunks. Same errors as
  // forward_batch(); the pointer stays valid until the next forward*() call.
  virtual const float* forward_batch_all(const int32_t* tokens, int64_t n, int64_t pos0) = 0;

 protected:
  ModelConfig config_;
};

// Opens a GGUF file and builds the model its general.architecture names.
std::unique_ptr<Model> load_model(const std::string& gguf_path, const LoadOptions& options = {});

// Architectures load_model accepts, in registry order ("llama", ...).
std::vector<std::string> supported_architectures();

// Index of the largest of n values (the first one on ties, like numpy.argmax).
int32_t argmax(const float* logits, int64_t n);

// Greedy decoding as llama2.c does it: feeds prompt[0..P) at positions 0..P-1, then
// feeds each argmax back in, and returns the tokens produced (not the prompt): up to
// max_new_tokens, stopping early when the next position would pass n_ctx (so at most
// n_ctx - P + 1). The prompt must be non-empty and at most n_ctx tokens, else
// ValueError "[llm] prompt of N tokens exceeds the context length C".
std::vector<int32_t> generate_greedy(Model& model, const std::vector<int32_t>& prompt,
                                     int64_t max_new_tokens);

}  // namespace bigdl::llm
