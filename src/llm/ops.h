// The compute ops every architecture's layer is made of: matrix products over Weights,
// norms, RoPE, activations and attention over the paged KV cache. Each works on n rows
// (tokens) at once; n == 1 is decode, and takes the fused single-row kernels.
// Internal to src/llm (docs/llm.md, "Decode and prefill kernels").
//
// Quantized weights multiply int8-rounded activations (quantize_act, as ggml's Q8 path):
// a packed weight through the x8 kernels (qgemm.h), any other quantized weight through
// quant::gemv_parallel / vec_dot_q8, except types whose QTypeInfo::int8_act is false
// (fp16 / bf16 / fp8 weights), which see the f32 activations. Every output element is
// computed by one thread with the same kernel whatever the thread count or the number
// of rows, so for packed weights a product over n rows equals n one-row products bit for
// bit (f32 weights: up to f32 summation order, sgemm against dot). Parallel regions use
// detail::parallel_for in chunks of at least 32 KiB of weights.
#pragma once

#include <cstdint>

#include "llm/kv_cache.h"
#include "llm/weights.h"

namespace bigdl::llm::detail {

// ---- matrix products ----

// Y[n, rows] = X[n, cols] W^T: row t of y is W times row t of x. n == 1: the threaded
// gemv (two row groups in step for packed weights). Packed, n > 1: every x row is rounded
// to int8 once, then the x8 GEMM, 8 rows x up to 4 tokens per kernel step. f32 and other
// quantized types: under 16 rows the one-row product's dot per (row, token) (so a decode
// step of several sequences equals each one alone, bit for bit), from 16 on one
// cblas_sgemm (quantized: over dequantized 64-row tiles). Scratch is thread-local and grows to
// the largest n * cols seen.
void matmul(const Weight& w, const float* x, int64_t n, float* y);
// y_i = W_i x for i < k (k <= 4): matrices with the same cols that read the same x (q/k/v).
// n == 1 and all packed: x is rounded once and one parallel region covers all rows.
// Results equal k matmul calls.
void matmul_multi(const Weight* const* w, float* const* y, int k, const float* x, int64_t n);

enum class Act { silu, gelu_tanh, gelu_erf, relu };
// "silu", "gelu_tanh", "gelu_erf", "relu".
const char* act_name(Act a);
// x[i] = act(x[i]). gelu_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (PyTorch's
// approximate="tanh", HF's gelu_new / gelu_pytorch_tanh); gelu_erf: 0.5 x (1 + erf(x / sqrt 2)).
void act_inplace(Act act, float* x, int64_t n);
// a[i] = act(a[i]) * b[i] (a gated FFN's input).
void act_mul(Act act, float* a, const float* b, int64_t n);
// h[n, rows] = act(X Wg^T) * (X Wu^T), the gated feed-forward input. n == 1 with silu and
// packed weights: gate and up rows in one parallel region (the thread that computes a
// group of gate rows computes the same up rows and applies swiglu). Equals two matmuls
// and act_mul.
void matmul_gated(const Weight& wg, const Weight& wu, Act act, const float* x, int64_t n, float* h);

// y[t * dim + i] += b[i] for t < n.
void add_rows(float* y, const float* b, int64_t n, int64_t dim);

// ---- norms (y may alias x) ----

// RMSNorm: y = x / sqrt(mean(x^2) + eps) * w (w null: no scale), for n rows of dim.
void rms_norm_rows(const float* x, const float* w, float* y, int64_t n, int64_t dim, float eps);
// LayerNorm: y = (x - mean) / sqrt(var + eps) * w + b (biased variance, as PyTorch; w / b
// null: none), for n rows of dim.
void layer_norm_rows(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t dim, float eps);

// ---- RoPE ----

// The rotation angles of one position: cos/sin[i] of (pos / pos_div) * inv_freq[i] (in
// double, rounded to f32; pos_div is linear RoPE scaling's factor), times attn_factor
// (YaRN / LongRoPE's magnitude scale), for i < n_pairs.
void rope_angles(int64_t pos, const double* inv_freq, int64_t n_pairs, double pos_div, float attn_factor,
                 float* cos, float* sin);
// Rotates the first n_rot values of each of n_heads heads (head_dim apart) in place.
// neox false (ggml mode 0, llama2.c, GGUF "llama"): pairs (2i, 2i+1); neox true (ggml
// mode 2, HF's rotate_half): pairs (i, i + n_rot/2). cos/sin hold n_rot/2 values.
void rope(float* v, int64_t n_heads, int64_t head_dim, int64_t n_rot, bool neox, const float* cos, const float* sin);

// ---- attention ----

struct AttnParams {
  int64_t n_head = 0, n_head_kv = 0, head_dim = 0;
  float scale = 1.0f;              // applied to q.k
  float softcap = 0.0f;            // > 0: s = softcap * tanh(s / softcap) (Gemma 2)
  const float* alibi = nullptr;    // [n_head] slopes: s += slope_h * (t - pos) (Bloom, MPT)
  int64_t window = 0;              // > 0: key t is seen only when pos - t < window
};

// One row's query (n_head * head_dim values) at position `pos` against keys [0, n_keys)
// of `layer` in `kv` (n_keys = pos + 1 for causal attention), the window applied: out
// gets n_head * head_dim values. GQA: query head h reads KV head h / (n_head / n_head_kv).
struct AttnRow {
  const KvSeq* kv;
  int64_t pos;
  int64_t n_keys;
};
// Attention for n rows: q and out are [n][n_head * head_dim]. One row: query heads over
// the thread pool when the work is large enough; several: rows over the pool. Each
// row's result does not depend on the split.
void attention(const float* q, const AttnRow* rows, int64_t n, int64_t layer, const AttnParams& p, float* out);

// ---- misc ----

// Bloom's ALiBi slopes (llama.cpp's, ggml_soft_max_ext with max_bias): for n_head heads,
// m0 = 2^(-max_bias / n2), m1 = 2^(-max_bias / 2 / n2) with n2 the largest power of 2
// <= n_head; head h < n2 gets m0^(h+1), later heads m1^(2 (h - n2) + 1).
void alibi_slopes(int64_t n_head, float max_bias, float* slopes);
// x[i] = cap * tanh(x[i] / cap).
void softcap(float* x, int64_t n, float cap);

}  // namespace bigdl::llm::detail
