// Multi-head attention and the Transformer encoder layer, composed from differentiable
// ops (linear, matmul, softmax, layer/batch norm), so autograd gives the backward.
#include "bigdl/nn/transformer.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "bigdl/autograd.h"
#include "bigdl/error.h"
#include "bigdl/random.h"

namespace bigdl::nn {

// ------------------------------------------------------------------ MultiheadAttention
MultiheadAttention::MultiheadAttention(int64_t e, int64_t h, double p, bool bias, bool bf)
    : embed_dim(e), num_heads(h), head_dim(h > 0 ? e / h : 0), dropout(p), batch_first(bf) {
  BIGDL_CHECK(e > 0 && h > 0 && e % h == 0, ValueError, "MultiheadAttention",
              "embed_dim must be positive and divisible by num_heads, got ", e, " and ", h);
  BIGDL_CHECK(p >= 0 && p < 1, ValueError, "MultiheadAttention", "dropout must be in [0, 1), got ", p);
  const double bound = std::sqrt(6.0 / double(e + 3 * e));  // xavier_uniform over [3E, E]
  in_proj_weight = register_parameter("in_proj_weight", uniform({3 * e, e}, -bound, bound));
  if (bias) in_proj_bias = register_parameter("in_proj_bias", zeros({3 * e}));
  out_proj = register_module("out_proj", std::make_shared<Linear>(e, e, bias));
  if (bias) {
    NoGradGuard ng;
    out_proj->bias.zero_();
  }
}

std::string MultiheadAttention::repr() const {
  std::ostringstream os;
  os << "MultiheadAttention(embed_dim=" << embed_dim << ", num_heads=" << num_heads << ", dropout=" << dropout
     << ", batch_first=" << (batch_first ? "true" : "false") << ")";
  return os.str();
}

AttentionOutput MultiheadAttention::forward_full(const Tensor& query, const Tensor& key, const Tensor& value,
                                                 const Tensor& attn_mask) {
  for (const Tensor* t : {&query, &key, &value})
    BIGDL_CHECK(t->dim() == 3 && t->size(2) == embed_dim, ShapeError, "MultiheadAttention", "expected ",
                batch_first ? "[batch, seq, " : "[seq, batch, ", embed_dim, "] inputs, got ", shape_str(t->shape()));
  const bool self = query.impl() == key.impl() && key.impl() == value.impl();
  AttentionOutput r = batch_first
                          ? attend(query, key, value, attn_mask, self, true)
                          : attend(query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1), attn_mask, self, true);
  if (!batch_first) r.output = r.output.transpose(0, 1);
  return r;
}

AttentionOutput MultiheadAttention::attend(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                           const Tensor& attn_mask, bool self_attention, bool need_weights) {
  const int64_t b = q_in.size(0), l = q_in.size(1), s = k_in.size(1), e = embed_dim, h = num_heads, d = head_dim;
  BIGDL_CHECK(k_in.size(0) == b && v_in.size(0) == b && v_in.size(1) == s, ShapeError, "MultiheadAttention",
              "query, key and value disagree in batch or key length: ", shape_str(q_in.shape()), ", ",
              shape_str(k_in.shape()), ", ", shape_str(v_in.shape()));
  Tensor q, k, v;
  if (self_attention) {
    const auto qkv = chunk(linear(q_in, in_proj_weight, in_proj_bias), 3, 2);
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else {
    auto part = [&](const Tensor& x, int64_t i) {
      return linear(x, in_proj_weight.narrow(0, i * e, e), in_proj_bias.defined() ? in_proj_bias.narrow(0, i * e, e) : Tensor());
    };
    q = part(q_in, 0), k = part(k_in, 1), v = part(v_in, 2);
  }
  auto heads = [&](const Tensor& x, int64_t n) { return x.reshape({b, n, h, d}).permute({0, 2, 1, 3}); };  // [B, h, n, d]
  // As PyTorch: q scaled by 1/sqrt(d) before the product.
  Tensor scores = matmul(mul(heads(q, l), scalar_tensor(1.0 / std::sqrt(double(d)))), heads(k, s).permute({0, 1, 3, 2}));
  if (attn_mask.defined()) {
    Tensor m = attn_mask;
    if (m.dtype() == DType::boolean)
      m = where(m, full(m.shape(), -std::numeric_limits<double>::infinity()), zeros(m.shape()));
    if (m.dim() == 3) {
      BIGDL_CHECK(m.size(0) == b * h && m.size(1) == l && m.size(2) == s, ShapeError, "MultiheadAttention",
                  "a 3-d attn_mask must be [batch * heads, L, S] = [", b * h, ", ", l, ", ", s, "], got ",
                  shape_str(m.shape()));
      m = m.reshape({b, h, l, s});
    }
    BIGDL_CHECK(m.dim() == 2 || m.dim() == 4, ShapeError, "MultiheadAttention",
                "attn_mask must be [L, S], [batch * heads, L, S] or [batch, heads, L, S], got ", shape_str(m.shape()));
    scores = add(scores, m);
  }
  Tensor p = dropout_fn(softmax(scores, -1));
  Tensor o = matmul(p, heads(v, s)).permute({0, 2, 1, 3}).reshape({b, l, e});
  return {out_proj->forward(o), need_weights ? mean(p, {1}) : Tensor(), scores};
}

Tensor MultiheadAttention::dropout_fn(const Tensor& p) { return dropout > 0 ? bigdl::dropout(p, dropout, training_) : p; }

// ------------------------------------------------------------------ TransformerEncoderLayer
TransformerEncoderLayer::TransformerEncoderLayer(const TransformerEncoderLayerOptions& o) : options(o) {
  BIGDL_CHECK(o.d_model > 0 && o.nhead > 0 && o.dim_feedforward > 0, ValueError, "TransformerEncoderLayer",
              "d_model, nhead and dim_feedforward must be positive");
  BIGDL_CHECK(o.activation == "relu" || o.activation == "gelu", ValueError, "TransformerEncoderLayer",
              "activation must be 'relu' or 'gelu', got '", o.activation, "'");
  BIGDL_CHECK(o.norm == "layer" || o.norm == "batch", ValueError, "TransformerEncoderLayer",
              "norm must be 'layer' or 'batch', got '", o.norm, "'");
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(
                                               o.d_model, o.nhead, o.attn_dropout.value_or(o.dropout), true, true));
  linear1 = register_module("linear1", std::make_shared<Linear>(o.d_model, o.dim_feedforward));
  dropout = register_module("dropout", std::make_shared<Dropout>(o.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(o.dim_feedforward, o.d_model));
  auto make_norm = [&]() -> ModulePtr {
    if (o.norm == "batch") return std::make_shared<BatchNorm1d>(o.d_model, o.layer_norm_eps);
    return std::make_shared<LayerNorm>(Shape{o.d_model}, o.layer_norm_eps);
  };
  norm1 = register_module("norm1", make_norm());
  norm2 = register_module("norm2", make_norm());
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout));
}

Tensor TransformerEncoderLayer::normalize(const ModulePtr& norm, const Tensor& x) {
  if (options.norm == "layer") return norm->forward(x);
  return norm->forward(x.transpose(1, 2)).transpose(1, 2);  // BatchNorm1d over [B, E, L]
}

AttentionOutput TransformerEncoderLayer::forward_full(const Tensor& src, const Tensor& src_mask) {
  BIGDL_CHECK(src.dim() == 3 && src.size(2) == options.d_model, ShapeError, "TransformerEncoderLayer", "expected ",
              options.batch_first ? "[batch, seq, " : "[seq, batch, ", options.d_model, "], got ", shape_str(src.shape()));
  Tensor x = options.batch_first ? src : src.transpose(0, 1);
  Tensor scores;
  auto sa = [&](const Tensor& in) {
    AttentionOutput a = self_attn->attend(in, in, in, src_mask, true, false);
    scores = a.scores;
    return dropout1->forward(a.output);
  };
  auto ff = [&](const Tensor& in) {
    const Tensor h = linear1->forward(in);
    return dropout2->forward(linear2->forward(dropout->forward(options.activation == "gelu" ? gelu(h) : relu(h))));
  };
  if (options.norm_first) {
    x = add(x, sa(normalize(norm1, x)));
    x = add(x, ff(normalize(norm2, x)));
  } else {
    x = normalize(norm1, add(x, sa(x)));
    x = normalize(norm2, add(x, ff(x)));
  }
  return {options.batch_first ? x : x.transpose(0, 1), Tensor(), scores};
}

}  // namespace bigdl::nn
