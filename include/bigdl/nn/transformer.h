// Attention layers with PyTorch's names, parameters and semantics:
// torch.nn.MultiheadAttention and torch.nn.TransformerEncoderLayer.
//
// Shapes: [L, B, E] (sequence first, PyTorch's default) or [B, L, E] with batch_first.
// Attention masks are additive (a float mask is added to the scores; a bool mask marks
// the positions that may NOT be attended, as PyTorch's), of shape [L, S], [B * heads, L,
// S] (PyTorch's) or anything broadcastable to [B, heads, L, S].
#pragma once

#include <optional>
#include <string>

#include "bigdl/nn/modules.h"

namespace bigdl::nn {

struct AttentionOutput {
  Tensor output;   // [L, B, E] (or [B, L, E])
  Tensor weights;  // the attention probabilities, averaged over heads: [B, L, S]
  Tensor scores;   // the scores before the softmax, mask included: [B, heads, L, S]
};

// Multi-head scaled dot-product attention (Vaswani et al. 2017) as
// torch.nn.MultiheadAttention(embed_dim, num_heads, dropout, bias, batch_first) with
// kdim = vdim = embed_dim: parameters "in_proj_weight" [3E, E] (q, k, v stacked),
// "in_proj_bias" [3E], "out_proj.weight" [E, E], "out_proj.bias" [E]; initialised as
// PyTorch does (xavier-uniform in_proj_weight, zero biases). Dropout acts on the
// attention probabilities in training. `scores` lets a caller add one layer's scores to
// the next layer's as a mask (PatchTST's residual attention).
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout = 0.0, bool bias = true,
                     bool batch_first = false);
  // Self-attention of x.
  Tensor forward(const Tensor& x) override { return forward_full(x, x, x).output; }
  AttentionOutput forward_full(const Tensor& query, const Tensor& key, const Tensor& value,
                               const Tensor& attn_mask = Tensor());
  std::string name() const override { return "MultiheadAttention"; }
  std::string repr() const override;
  int64_t embed_dim, num_heads, head_dim;
  double dropout;
  bool batch_first;
  Tensor in_proj_weight, in_proj_bias;
  std::shared_ptr<Linear> out_proj;

 private:
  friend class TransformerEncoderLayer;
  // q [B, L, E], k / v [B, S, E] (batch first); self_attention: one projection of q.
  AttentionOutput attend(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                         bool self_attention, bool need_weights);
  Tensor dropout_fn(const Tensor& p);
};

struct TransformerEncoderLayerOptions {
  int64_t d_model = 0, nhead = 1, dim_feedforward = 2048;
  double dropout = 0.1;
  std::string activation = "relu";  // "relu" | "gelu"
  double layer_norm_eps = 1e-5;
  bool batch_first = false, norm_first = false;
  // "layer" (PyTorch's LayerNorm) or "batch": BatchNorm1d over the d_model features of
  // every token of the batch (PatchTST's choice for time series; parameters and running
  // statistics "norm1.weight", "norm1.running_mean", ...).
  std::string norm = "layer";
  // Dropout on the attention probabilities; unset: `dropout`, as PyTorch's layer.
  std::optional<double> attn_dropout;
};

// torch.nn.TransformerEncoderLayer: self-attention and a feed-forward block
// (linear1 -> activation -> dropout -> linear2), each with dropout and a residual, normalised after
// (norm_first = false) or before each block. Children "self_attn", "linear1", "dropout",
// "linear2", "norm1", "norm2", "dropout1", "dropout2", as PyTorch's.
class TransformerEncoderLayer : public Module {
 public:
  explicit TransformerEncoderLayer(const TransformerEncoderLayerOptions& o);
  Tensor forward(const Tensor& src) override { return forward_full(src).output; }
  // output: the layer's output; scores: the self-attention's scores before the softmax.
  AttentionOutput forward_full(const Tensor& src, const Tensor& src_mask = Tensor());
  std::string name() const override { return "TransformerEncoderLayer"; }
  TransformerEncoderLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  ModulePtr norm1, norm2;

 private:
  Tensor normalize(const ModulePtr& norm, const Tensor& x);  // x [B, L, E]
};

}  // namespace bigdl::nn
