// bigdl-llm: low-bit LLM inference on CPU.
//
// Two objects, as llama.cpp's llama_model / llama_context:
//
//   Model    the weights of one architecture, immutable after load_model() and shared
//            (std::shared_ptr<const Model>) by every context and thread;
//   Context  one sequence: its KV cache (fp16 by default, ContextOptions::kv_type) in
//            blocks of a pool, and its logits. Many contexts run on one model.
//
//   auto model = load_model("SmolLM2-135M.gguf", {.low_bit = LowBit::parse("sym_int4")});
//   Context ctx(model, {.n_ctx = 2048});
//   const float* logits = ctx.forward_batch(prompt.data(), prompt.size(), 0);
//
// load_model(path) takes a GGUF file (weights used in place from the mapping) or a
// Hugging Face folder with config.json + safetensors (weights converted to f32 at load,
// then to LoadOptions::low_bit; see hf.h). The architecture is found in a registry keyed
// by GGUF's general.architecture and config.json's model_type (src/llm/arch.cpp; the list:
// supported_architectures(); docs/llm.md says how to add one). Every architecture runs
// through one forward over a batch of tokens of one or more sequences (prefill and decode
// alike), so forward(), forward_batch() and the multi-context forward_batch() below share
// the layer code.
//
// Weights: F32 tensors are read in place. Matrices of the packable types (Q4_0 / Q4_1 /
// Q5_0 / Q5_1 / Q8_0 / nf4 / fp4 / IQ4_NL and Q4_K / Q5_K / Q6_K / IQ4_XS) are copied once
// at load into an 8-row interleaved layout for the int8-activation GEMV/GEMM kernels (the
// file's pages are then released, so memory holds one copy); other quantized types are
// read in place. Quantized matrices multiply
// int8-rounded activations (ggml's Q8 path; docs/quant.md). Norm weights are f32.
// Threads: bigdl::set_num_threads (the library's one pool).
//
// Errors (see include/bigdl/error.h), each one line naming the file and the field:
//   FormatError  "[load_model] m.gguf: tensor 'blk.0.attn_q.weight' missing",
//                "[gguf] m.gguf: metadata key 'llama.block_count' missing",
//                "[load_model] dir/config.json: model_type 'x' is not supported (supported: ...)",
//                "[load_model] dir/config.json: rope_scaling type 'x' is not supported (...)"
//   ShapeError   "[load_model] m.gguf: tensor 'blk.0.attn_k.weight' has shape [64, 64],
//                expected [32, 64]"
//   DTypeError   a tensor type no kernel reads
//   ValueError   "[llm] batch of 600 tokens at position 0 exceeds the context length 512"
//   IndexError   a token id outside [0, n_vocab)
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bigdl/llm/low_bit.h"

namespace bigdl::llm {

// Hyper-parameters of a loaded model (GGUF metadata or config.json, in GGUF's terms).
struct ModelConfig {
  std::string arch;         // the GGUF architecture it runs as: "llama", "qwen2", "gemma2", "bert", ...
  std::string source_type;  // config.json's model_type ("mistral"), or the GGUF architecture
  int64_t n_vocab = 0;      // rows of token_embd.weight
  int64_t n_embd = 0;       // model width
  int64_t n_layer = 0;
  int64_t n_head = 0;       // query heads
  int64_t n_head_kv = 0;    // key/value heads (grouped-query attention when < n_head)
  int64_t head_dim = 0;     // values per head (may differ from n_embd / n_head: Gemma)
  int64_t n_ff = 0;         // feed-forward hidden width (per expert for MoE: n_ff_exp)
  int64_t n_ctx_train = 0;  // the context length it was trained for
  int64_t n_rot = 0;        // rotary dimensions per head (0: no RoPE; < head_dim: partial)
  float rope_freq_base = 10000.0f;
  std::string rope_scaling = "none";  // "none", "linear", "llama3", "yarn", "longrope"
  float rope_scaling_factor = 1.0f;
  float norm_eps = 1e-5f;   // RMSNorm or LayerNorm epsilon
  int64_t n_expert = 0;     // MoE: experts per layer (0: dense)
  int64_t n_expert_used = 0;
  int64_t n_ff_exp = 0;     // MoE: an expert's hidden width
  int64_t n_ff_shexp = 0;   // MoE: the shared expert's hidden width (0: none)
  int64_t sliding_window = 0;  // > 0: (some) layers attend to the last sliding_window positions
  float attn_softcap = 0;   // > 0: attention scores soft-capped (Gemma 2)
  float final_softcap = 0;  // > 0: logits soft-capped
  bool tied_output = false;  // the classifier is token_embd.weight
  bool causal = true;        // false: an encoder (BERT); its outputs are hidden states
  std::string pooling = "none";  // encoders: "mean", "cls", "last" (bert.pooling_type)
};

struct LoadOptions {
  // bigdl-llm's load_in_low_bit (bigdl/llm/low_bit.h): the default keeps the stored types
  // (HF weights become f32; GGUF matrices stay as stored). A quant type converts the 2-D
  // projection matrices tensor by tensor at load with the reference quantizer; the output
  // matrix follows docs/llm.md's policy ("Low-bit at load"); a llama-quantize file type
  // (q4_k_m, ...) gives each tensor llama-quantize's type; norms are never quantized. A
  // matrix whose rows are not whole blocks of 32 stays as stored; one that is not whole
  // super-blocks of a K-quant takes llama-quantize's fallback type (Q4_K -> Q5_0, ...).
  LowBit low_bit;
  // An importance matrix file of llama.cpp's llama-imatrix (GGUF or its legacy .dat format)
  // for the quantizers, as llama-quantize --imatrix: each matrix's quantization error is
  // weighted per input column (K-quants, IQ4, Q4_0..Q5_1; the same bytes as
  // llama-quantize; docs/quant.md). Empty: none. Needs a quantized low_bit.
  std::string imatrix;
};

// Immutable weights of one model; share it with std::shared_ptr<const Model>.
class Model {
 public:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const;
  // Bytes of weights held in memory (packed copies, converted tensors; a file's mapped
  // tensors counted once).
  int64_t weight_bytes() const;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// Opens a GGUF file or a Hugging Face folder and builds the model its architecture names.
std::shared_ptr<const Model> load_model(const std::string& path, const LoadOptions& options = {});

// Architectures load_model accepts: GGUF names then config.json model_types, each once.
std::vector<std::string> supported_architectures();

// What a context has been fed since it was made (or reset_stats()): llama.cpp's perf counters.
struct ContextStats {
  int64_t n_single = 0;         // forward() calls (one token each)
  int64_t n_batch_tokens = 0;   // tokens fed through forward_batch*() and the multi-context forward_batch()
  int64_t first_batch_pos = INT64_MAX;  // the lowest position a batch started at
};

namespace detail {
class KvPool;
}

// A KV-cache block pool several contexts of one model share (ContextOptions::cache), as
// vLLM's block manager: blocks of 64 positions go to whichever sequence needs them, so
// memory follows the sequences' real lengths, and Context::share_prefix() lets a context
// start from another's positions without computing or copying them (blocks shared, copy
// on write). The memory for n_positions is reserved at once but made resident only as
// blocks are first written. Thread-safe; each context still runs on one thread at a time.
class KvCache {
 public:
  // Room for n_positions positions (rounded up to whole blocks) of `model`'s layers.
  // Errors: ValueError for an unknown kv_type, n_positions < 1, or memory that cannot be
  // reserved.
  KvCache(const Model& model, int64_t n_positions, const std::string& kv_type = "f16");
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  const std::string& kv_type() const { return kv_type_; }
  int64_t n_blocks() const;
  int64_t blocks_used() const;  // distinct blocks holding positions of any context
  int64_t bytes() const;        // reserved for all blocks
  const Model& model() const { return *model_; }
  const std::shared_ptr<detail::KvPool>& pool() const { return pool_; }

 private:
  const Model* model_;
  std::string kv_type_;
  std::shared_ptr<detail::KvPool> pool_;
};

struct ContextOptions {
  // Positions the KV cache holds; 0 = the model's n_ctx_train. Larger is allowed (some
  // converters write a default smaller than the training length), up to 2^24.
  int64_t n_ctx = 0;
  // Storage of the KV cache: "f16" (IEEE half, round to nearest even; half the memory of
  // f32, relative error <= 2^-11 per cached value), "f32" (exact) or "fp8" (OCP E5M2,
  // bigdl-llm's FP8 KV cache: a quarter of f32, relative error <= 2^-3). Other names:
  // ValueError "[context] unknown kv_type 'x' (known: f16, f32, fp8)". docs/llm.md "KV cache".
  std::string kv_type = "f16";
  // Store the positions in this shared pool (a KvCache of the same model) instead of a
  // pool of the context's own; its kv_type is used and the one above is ignored. n_ctx
  // still bounds the positions. ValueError when the cache belongs to another model.
  std::shared_ptr<KvCache> cache = nullptr;
};

// One sequence on a model: a KV cache and the logits of its last forward. Not
// thread-safe itself; different contexts may run on different threads at once.
class Context {
 public:
  // Errors: ValueError for n_ctx < 0 or > 2^24, an unknown kv_type, or a KV cache that
  // cannot be allocated ("[llm] cannot allocate the KV cache: ...").
  explicit Context(std::shared_ptr<const Model> model, const ContextOptions& options = {});
  ~Context();
  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;

  const Model& model() const;
  const ModelConfig& config() const { return model().config(); }
  int64_t n_ctx() const;
  const std::string& kv_type() const;
  int64_t kv_bytes() const;  // bytes the KV cache may grow to (n_ctx positions; a shared KvCache: all its blocks)
  // KV-cache blocks (of 64 positions) holding positions now; 0 after clear(). Blocks
  // shared with other contexts (share_prefix) count in each.
  int64_t kv_blocks_used() const;
  // Those blocks' ids in the pool, position order (accounting across a shared KvCache).
  std::span<const int32_t> kv_blocks() const;
  // Positions [0, n) of this context become those of `src` (a context on the same
  // KvCache whose positions [0, n) have been fed): src's whole blocks are shared, not
  // computed or copied; a last partial block is copied. A later write to a shared block
  // copies it first (copy on write), so neither context sees the other's later tokens.
  // The positions this context held are dropped. Errors: ValueError when the contexts do
  // not share a KvCache, n exceeds the positions src's blocks hold or this context's
  // n_ctx, or the pool has no free block for the copy.
  void share_prefix(const Context& src, int64_t n);

  // Feeds `token` at position `pos` (0 <= pos < n_ctx) and returns the n_vocab logits
  // for the next token. Positions 0..pos-1 must have been fed before (their cache rows are
  // read). The pointer stays valid until the next forward*() call.
  const float* forward(int32_t token, int64_t pos);
  // Feeds tokens[0..n) at positions pos0..pos0+n-1 in one pass (one matrix product per
  // projection) and returns the logits after the LAST token. Same cache effect and, up to
  // f32 summation order, the same logits as n forward() calls (bit for bit for packed
  // weights: docs/llm.md "Batched prefill"). Errors: ValueError "[llm] batch of N tokens
  // at position P exceeds the context length C" (also n < 1 or pos0 < 0), IndexError for a
  // token id outside [0, n_vocab).
  const float* forward_batch(const int32_t* tokens, int64_t n, int64_t pos0);
  // forward_batch() that returns the logits of EVERY position: [n][n_vocab], row t the
  // logits after tokens[t] (for perplexity). For an encoder (config().causal false) the
  // rows are the final hidden states [n][n_embd] instead.
  const float* forward_batch_all(const int32_t* tokens, int64_t n, int64_t pos0);
  // forward_batch_all() returning the final hidden states [n][n_embd] (after the output
  // norm, before the classifier) instead of logits: what embedding models pool.
  const float* forward_batch_embd(const int32_t* tokens, int64_t n, int64_t pos0);
  // Forgets every position (the cache's blocks go back to its pool).
  void clear();

  const ContextStats& stats() const;
  void reset_stats();

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// One sequence's part of a multi-sequence step: tokens[0..n) at positions pos0.. of ctx.
struct BatchSeq {
  Context* ctx = nullptr;
  const int32_t* tokens = nullptr;
  int64_t n = 0;
  int64_t pos0 = 0;
  bool all_logits = false;  // every position's logits, or the last one's
};
// One forward over several contexts of the same model (continuous batching): the tokens
// of all sequences go through every projection together, so a decode step of N sequences
// reads each weight matrix once; attention reads each sequence's own cache. Returns each
// item's logits (as forward_batch / forward_batch_all would; valid until that context's
// next forward). Each item's result equals its own forward_batch*() (bit for bit for
// packed weights). Errors: as forward_batch; ValueError "[llm] ..." when contexts of
// different models are mixed or a context appears twice.
std::vector<const float*> forward_batch(std::span<const BatchSeq> items);

// Index of the largest of n values (the first one on ties, like numpy.argmax).
int32_t argmax(const float* logits, int64_t n);

// Greedy decoding as llama2.c does it: feeds prompt[0..P) at positions 0..P-1, then
// feeds each argmax back in, and returns the tokens produced (not the prompt): up to
// max_new_tokens, stopping early when the next position would pass n_ctx (so at most
// n_ctx - P + 1). The prompt must be non-empty and at most n_ctx tokens, else
// ValueError "[llm] prompt of N tokens exceeds the context length C".
std::vector<int32_t> generate_greedy(Context& ctx, const std::vector<int32_t>& prompt, int64_t max_new_tokens);

}  // namespace bigdl::llm
