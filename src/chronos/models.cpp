#include "bigdl/chronos/models.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/ops.h"
#include "bigdl/random.h"

namespace bigdl::chronos {
namespace {
// The sizes every forecasting network checks: lookback, horizon and the feature counts
// >= 1; with targets_first, the outputs are the first input channels (so out <= in).
void check_sizes(const char* model, int64_t lookback, int64_t horizon, int64_t in, int64_t out, bool targets_first) {
  BIGDL_CHECK(lookback >= 1 && horizon >= 1 && in >= 1 && out >= 1, ValueError, model,
              "lookback, horizon and the feature counts must be >= 1, got ", lookback, ", ", horizon, ", ", in, ", ", out);
  BIGDL_CHECK(!targets_first || out <= in, ValueError, model, "output_features ", out, " exceeds input_features ", in,
              " (the targets are the first channels)");
}
// x must be [batch, lookback, features].
void check_window(const char* model, const Tensor& x, int64_t lookback, int64_t features) {
  BIGDL_CHECK(x.dim() == 3 && x.size(1) == lookback && x.size(2) == features, ShapeError, model, "expected x [batch, ",
              lookback, ", ", features, "], got ", shape_str(x.shape()));
}
void check_quantiles(const char* model, int64_t q) {
  BIGDL_CHECK(q >= 1, ValueError, model, "quantiles must be >= 1, got ", q);
}
// y [B, H, C * Q] -> [B, H, C, Q] (Q > 1), plus the window's last values `last` [B, 1, C].
Tensor quantile_output(Tensor y, int64_t c, int64_t q, const Tensor& last) {
  if (q > 1) y = y.reshape({y.size(0), y.size(1), c, q});
  if (!last.defined()) return y;
  return add(y, q > 1 ? last.unsqueeze(-1) : last);
}
}  // namespace

DLinear::DLinear(int64_t lookback_, int64_t horizon_, int64_t kernel_, int64_t outputs_)
    : lookback(lookback_), horizon(horizon_), kernel(kernel_), outputs(outputs_) {
  BIGDL_CHECK(outputs >= 0, ValueError, "DLinear", "outputs must be >= 0, got ", outputs);
  BIGDL_CHECK(lookback >= 1 && horizon >= 1, ValueError, "DLinear", "lookback and horizon must be >= 1, got ", lookback,
              " and ", horizon);
  BIGDL_CHECK(kernel >= 1 && kernel % 2 == 1, ValueError, "DLinear", "kernel must be odd and >= 1, got ", kernel);
  seasonal = register_module("seasonal", std::make_shared<nn::Linear>(lookback, horizon));
  trend = register_module("trend", std::make_shared<nn::Linear>(lookback, horizon));
  // Moving average of the series padded with (k - 1) / 2 copies of its first and last row.
  const int64_t pad = (kernel - 1) / 2;
  std::vector<float> a(size_t(lookback * lookback), 0.0f);
  for (int64_t i = 0; i < lookback; ++i)
    for (int64_t t = 0; t < kernel; ++t) {
      const int64_t j = std::clamp<int64_t>(i + t - pad, 0, lookback - 1);
      a[size_t(i * lookback + j)] += 1.0f / float(kernel);
    }
  decomposition = from_vector(a, {lookback, lookback});  // a function of (L, k): not in the state_dict
}

Tensor DLinear::forward(const Tensor& x) {
  BIGDL_CHECK(x.dim() == 3 && x.size(1) == lookback, ShapeError, "DLinear", "expected x [batch, ", lookback,
              ", channels], got ", shape_str(x.shape()));
  const Tensor tr = matmul(decomposition, x);  // [B, L, C]
  const Tensor se = sub(x, tr);
  // Linear along time: [B, C, L] -> [B, C, H] -> [B, H, C].
  const Tensor out = add(seasonal->forward(se.transpose(1, 2)), trend->forward(tr.transpose(1, 2)));
  if (outputs > 0) {
    BIGDL_CHECK(outputs <= x.size(2), ShapeError, "DLinear", "outputs ", outputs, " exceeds the ", x.size(2),
                " input channels");
    if (outputs < x.size(2)) return out.narrow(1, 0, outputs).transpose(1, 2);
  }
  return out.transpose(1, 2);
}

std::string DLinear::repr() const {
  return "DLinear(lookback=" + std::to_string(lookback) + ", horizon=" + std::to_string(horizon) +
         ", kernel=" + std::to_string(kernel) + (outputs ? ", outputs=" + std::to_string(outputs) : "") + ")";
}

TemporalBlock::TemporalBlock(int64_t in, int64_t out, int64_t kernel, int64_t dilation, double dropout)
    : pad((kernel - 1) * dilation) {
  BIGDL_CHECK(kernel >= 1 && dilation >= 1, ValueError, "TemporalBlock", "kernel and dilation must be >= 1");
  nn::Conv1dOptions o1{in, out, kernel, 1, pad, dilation, 1, true}, o2{out, out, kernel, 1, pad, dilation, 1, true};
  conv1 = register_module("conv1", std::make_shared<nn::WeightNormConv1d>(o1));
  conv2 = register_module("conv2", std::make_shared<nn::WeightNormConv1d>(o2));
  drop1 = register_module("drop1", std::make_shared<nn::Dropout>(dropout));
  drop2 = register_module("drop2", std::make_shared<nn::Dropout>(dropout));
  if (in != out) downsample = register_module("downsample", std::make_shared<nn::Conv1d>(nn::Conv1dOptions{in, out, 1}));
}

Tensor TemporalBlock::forward(const Tensor& x) {
  const int64_t len = x.size(2);
  // Padding on both sides, then the last `pad` steps dropped: causal.
  Tensor h = drop1->forward(relu(conv1->forward(x).narrow(2, 0, len)));
  h = drop2->forward(relu(conv2->forward(h).narrow(2, 0, len)));
  return relu(add(h, downsample ? downsample->forward(x) : x));
}

TCN::TCN(int64_t lookback_, int64_t horizon_, int64_t input_features_, int64_t output_features_,
         std::vector<int64_t> channels, int64_t kernel, double dropout, bool normalization_, int64_t quantiles_)
    : lookback(lookback_),
      horizon(horizon_),
      input_features(input_features_),
      output_features(output_features_),
      quantiles(quantiles_),
      normalization(normalization_) {
  check_quantiles("TCN", quantiles);
  BIGDL_CHECK(!channels.empty(), ValueError, "TCN", "num_channels is empty");
  check_sizes("TCN", lookback, horizon, input_features, output_features, normalization);
  tcn = register_module("tcn", std::make_shared<nn::Sequential>());
  int64_t in = input_features, dilation = 1;
  for (int64_t c : channels) {
    tcn->add(std::make_shared<TemporalBlock>(in, c, kernel, dilation, dropout));
    in = c;
    dilation *= 2;
  }
  time = register_module("time", std::make_shared<nn::Linear>(lookback, horizon));
  out = register_module("out", std::make_shared<nn::Linear>(in, output_features * quantiles));
}

Tensor TCN::forward(const Tensor& x) {
  check_window("TCN", x, lookback, input_features);
  const Tensor last = normalization ? x.narrow(1, lookback - 1, 1) : Tensor();  // [B, 1, C_in]
  const Tensor h = tcn->forward((normalization ? sub(x, last) : x).transpose(1, 2));  // [B, C, L]
  const Tensor y = out->forward(time->forward(h).transpose(1, 2));  // [B, C, H] -> [B, H, C] -> [B, H, C_out * Q]
  return quantile_output(y, output_features, quantiles, normalization ? last.narrow(2, 0, output_features) : Tensor());
}

LSTMModel::LSTMModel(int64_t lookback_, int64_t horizon_, int64_t input_features_, int64_t output_features_,
                     int64_t hidden, int64_t layers, double dropout, bool normalization_, int64_t quantiles_)
    : lookback(lookback_),
      horizon(horizon_),
      input_features(input_features_),
      output_features(output_features_),
      quantiles(quantiles_),
      normalization(normalization_) {
  check_quantiles("LSTMModel", quantiles);
  check_sizes("LSTMModel", lookback, horizon, input_features, output_features, normalization);
  BIGDL_CHECK(hidden >= 1 && layers >= 1, ValueError, "LSTMModel", "hidden and layers must be >= 1");
  nn::RNNOptions o;
  o.input_size = input_features;
  o.hidden_size = hidden;
  o.num_layers = layers;
  o.batch_first = true;
  lstm = register_module("lstm", std::make_shared<nn::LSTM>(o));
  drop = register_module("drop", std::make_shared<nn::Dropout>(dropout));
  fc = register_module("fc", std::make_shared<nn::Linear>(hidden, horizon * output_features * quantiles));
}

Tensor LSTMModel::forward(const Tensor& x) {
  check_window("LSTMModel", x, lookback, input_features);
  const Tensor last = normalization ? x.narrow(1, lookback - 1, 1) : Tensor();
  const Tensor h = lstm->forward(normalization ? sub(x, last) : x).select(1, lookback - 1);  // [B, hidden]
  const Tensor y = fc->forward(drop->forward(h)).reshape({x.size(0), horizon, output_features * quantiles});
  return quantile_output(y, output_features, quantiles, normalization ? last.narrow(2, 0, output_features) : Tensor());
}


PatchTST::PatchTST(const PatchTSTOptions& o) : options(o) {
  check_sizes("PatchTST", o.lookback, o.horizon, o.input_features, o.output_features, true);
  BIGDL_CHECK(o.patch_len >= 1 && o.stride >= 1 && o.patch_len <= o.lookback, ValueError, "PatchTST",
              "patch_len must be in [1, lookback] and stride >= 1, got patch_len ", o.patch_len, ", stride ", o.stride,
              ", lookback ", o.lookback);
  BIGDL_CHECK(o.layers >= 1, ValueError, "PatchTST", "layers must be >= 1");
  num_patches = (o.lookback - o.patch_len) / o.stride + 2;
  if (o.revin) {
    revin_weight = register_parameter("revin_weight", ones({o.input_features}));
    revin_bias = register_parameter("revin_bias", zeros({o.input_features}));
  }
  embed = register_module("embed", std::make_shared<nn::Linear>(o.patch_len, o.d_model));
  pos = register_parameter("pos", uniform({num_patches, o.d_model}, -0.02, 0.02));
  drop = register_module("drop", std::make_shared<nn::Dropout>(o.dropout));
  layers = register_module("layers", std::make_shared<nn::Sequential>());
  nn::TransformerEncoderLayerOptions lo;
  lo.d_model = o.d_model;
  lo.nhead = o.heads;
  lo.dim_feedforward = o.d_ff;
  lo.dropout = o.dropout;
  lo.attn_dropout = 0.0;
  lo.activation = "gelu";
  lo.batch_first = true;
  lo.norm = o.norm;
  for (int64_t i = 0; i < o.layers; ++i) layers->add(std::make_shared<nn::TransformerEncoderLayer>(lo));
  head = register_module("head", std::make_shared<nn::Linear>(o.d_model * num_patches, o.horizon));
  head_drop = register_module("head_drop", std::make_shared<nn::Dropout>(o.head_dropout));
  std::vector<int64_t> idx;
  for (int64_t n = 0; n < num_patches; ++n)
    for (int64_t j = 0; j < o.patch_len; ++j) idx.push_back(n * o.stride + j);
  patch_index = from_vector(idx, {int64_t(idx.size())});
}

Tensor PatchTST::forward(const Tensor& x) {
  const PatchTSTOptions& o = options;
  check_window("PatchTST", x, o.lookback, o.input_features);
  const int64_t b = x.size(0), c = o.input_features, n = num_patches, d = o.d_model;
  Tensor z = x, mu, sigma;
  if (o.revin) {
    mu = mean(x, {1}, true).detach();                                             // [B, 1, C]
    sigma = sqrt(add(var(x, {1}, false, true), scalar_tensor(1e-5))).detach();  // [B, 1, C]
    z = add(mul(div(sub(x, mu), sigma), revin_weight), revin_bias);
  }
  const Tensor series = z.transpose(1, 2);  // [B, C, L]
  const Tensor padded = cat({series, series.narrow(2, o.lookback - 1, 1).expand({b, c, o.stride})}, 2);
  const Tensor patches = index_select(padded, 2, patch_index).reshape({b * c, n, o.patch_len});
  Tensor u = drop->forward(add(embed->forward(patches), pos));  // [B * C, N, D]
  Tensor scores;
  for (size_t i = 0; i < layers->size(); ++i) {
    auto layer = std::static_pointer_cast<nn::TransformerEncoderLayer>((*layers)[i]);
    nn::AttentionOutput r = layer->forward_full(u, o.res_attention ? scores : Tensor());
    u = r.output;
    scores = r.scores;
  }
  const Tensor flat = u.reshape({b, c, n, d}).transpose(2, 3).reshape({b, c, d * n});
  Tensor y = head_drop->forward(head->forward(flat)).transpose(1, 2);  // [B, H, C]
  if (o.revin)
    y = add(mul(div(sub(y, revin_bias), add(revin_weight, scalar_tensor(1e-10))), sigma), mu);
  return o.output_features < c ? y.narrow(2, 0, o.output_features) : y;
}

std::string PatchTST::repr() const {
  const PatchTSTOptions& o = options;
  return "PatchTST(lookback=" + std::to_string(o.lookback) + ", horizon=" + std::to_string(o.horizon) +
         ", patch_len=" + std::to_string(o.patch_len) + ", stride=" + std::to_string(o.stride) +
         ", d_model=" + std::to_string(o.d_model) + ", heads=" + std::to_string(o.heads) +
         ", layers=" + std::to_string(o.layers) + ")";
}


// ------------------------------------------------------------------ N-BEATS
struct NBeats::Block : nn::Module {
  Block(const std::string& type_, int64_t l, int64_t h, int64_t hidden, int64_t dim, double dropout) : type(type_) {
    for (int i = 0; i < 4; ++i)
      fc[i] = register_module("fc" + std::to_string(i + 1), std::make_shared<nn::Linear>(i == 0 ? l : hidden, hidden));
    drop = register_module("drop", std::make_shared<nn::Dropout>(dropout));
    theta_b = register_module("theta_b", std::make_shared<nn::Linear>(hidden, dim, false));
    theta_f = register_module("theta_f", std::make_shared<nn::Linear>(hidden, dim, false));
    if (type == "generic") {
      backcast = register_module("backcast", std::make_shared<nn::Linear>(dim, l));
      forecast = register_module("forecast", std::make_shared<nn::Linear>(dim, h));
    } else {
      basis_b = basis(dim, l);
      basis_f = basis(dim, h);
    }
  }
  // [dim, n]: row i is the i-th basis function on t = j / n.
  Tensor basis(int64_t dim, int64_t n) const {
    std::vector<float> v(size_t(dim * n));
    const int64_t k_max = (dim - 1) / 2;  // seasonality: 1, cos k, sin k
    for (int64_t i = 0; i < dim; ++i)
      for (int64_t j = 0; j < n; ++j) {
        const double t = double(j) / double(n);
        double b;
        if (type == "trend") b = std::pow(t, double(i));
        else if (i == 0) b = 1.0;
        else if (i <= k_max) b = std::cos(2 * M_PI * double(i) * t);
        else b = std::sin(2 * M_PI * double(i - k_max) * t);
        v[size_t(i * n + j)] = float(b);
      }
    return from_vector(v, {dim, n});
  }
  std::pair<Tensor, Tensor> run(const Tensor& r) {
    Tensor h = r;
    for (auto& f : fc) h = drop->forward(relu(f->forward(h)));
    const Tensor tb = theta_b->forward(h), tf = theta_f->forward(h);
    if (type == "generic") return {backcast->forward(tb), forecast->forward(tf)};
    return {matmul(tb, basis_b), matmul(tf, basis_f)};
  }
  Tensor forward(const Tensor& r) override { return run(r).second; }
  std::string name() const override { return "NBeatsBlock"; }
  std::string type;
  std::shared_ptr<nn::Linear> fc[4], theta_b, theta_f, backcast, forecast;
  std::shared_ptr<nn::Dropout> drop;
  Tensor basis_b, basis_f;  // fixed (trend / seasonality): not parameters
};

NBeats::NBeats(const NBeatsOptions& o) : options(o) {
  check_sizes("NBeats", o.lookback, o.horizon, o.input_features, o.output_features, true);
  BIGDL_CHECK(o.hidden >= 1 && o.blocks_per_stack >= 1, ValueError, "NBeats", "hidden and blocks_per_stack must be >= 1");
  BIGDL_CHECK(!o.stack_types.empty(), ValueError, "NBeats", "stack_types is empty");
  BIGDL_CHECK(o.thetas_dim.size() == o.stack_types.size(), ValueError, "NBeats", "thetas_dim has ", o.thetas_dim.size(),
              " entries for ", o.stack_types.size(), " stacks");
  auto stacks = register_module("stacks", std::make_shared<nn::Sequential>());
  for (size_t s = 0; s < o.stack_types.size(); ++s) {
    const std::string& type = o.stack_types[s];
    BIGDL_CHECK(type == "generic" || type == "trend" || type == "seasonality", ValueError, "NBeats",
                "stack_types[", s, "] must be 'generic', 'trend' or 'seasonality', got '", type, "'");
    int64_t dim = o.thetas_dim[s];
    if (type == "seasonality") dim = 2 * (o.harmonics > 0 ? o.harmonics : std::max<int64_t>(1, o.horizon / 2 - 1)) + 1;
    BIGDL_CHECK(dim >= 1, ValueError, "NBeats", "thetas_dim[", s, "] must be >= 1, got ", dim);
    auto stack = std::make_shared<nn::Sequential>();
    std::shared_ptr<Block> first;
    for (int64_t b = 0; b < o.blocks_per_stack; ++b) {
      if (o.share_weights_in_stack && first) {
        blocks_.push_back(first);
        continue;
      }
      auto block = std::make_shared<Block>(type, o.lookback, o.horizon, o.hidden, dim, o.dropout);
      stack->add(block);
      blocks_.push_back(block);
      if (!first) first = block;
    }
    stacks->add(stack);
  }
}

Tensor NBeats::forward(const Tensor& x) {
  const NBeatsOptions& o = options;
  check_window("NBeats", x, o.lookback, o.input_features);
  const int64_t b = x.size(0), c = o.input_features;
  Tensor r = x.transpose(1, 2).reshape({b * c, o.lookback}), forecast;
  for (auto& block : blocks_) {
    auto [back, fore] = block->run(r);
    r = sub(r, back);
    forecast = forecast.defined() ? add(forecast, fore) : fore;
  }
  const Tensor y = forecast.reshape({b, c, o.horizon}).transpose(1, 2);
  return o.output_features < c ? y.narrow(2, 0, o.output_features) : y;
}

// ------------------------------------------------------------------ Seq2Seq
Seq2Seq::Seq2Seq(int64_t lookback_, int64_t horizon_, int64_t input_features_, int64_t output_features_,
                 int64_t hidden, int64_t layers, double dropout, int64_t quantiles_)
    : lookback(lookback_),
      horizon(horizon_),
      input_features(input_features_),
      output_features(output_features_),
      quantiles(quantiles_) {
  check_quantiles("Seq2Seq", quantiles);
  check_sizes("Seq2Seq", lookback, horizon, input_features, output_features, true);
  BIGDL_CHECK(hidden >= 1 && layers >= 1, ValueError, "Seq2Seq", "hidden and layers must be >= 1");
  nn::RNNOptions e{input_features, hidden, layers, true, true}, d{output_features, hidden, layers, true, true};
  encoder = register_module("encoder", std::make_shared<nn::LSTM>(e));
  decoder = register_module("decoder", std::make_shared<nn::LSTM>(d));
  drop = register_module("drop", std::make_shared<nn::Dropout>(dropout));
  fc = register_module("fc", std::make_shared<nn::Linear>(hidden, output_features * quantiles));
}

Tensor Seq2Seq::forward(const Tensor& x) {
  check_window("Seq2Seq", x, lookback, input_features);
  nn::RNNOutput state = encoder->forward_full(x);
  Tensor in = x.narrow(1, lookback - 1, 1).narrow(2, 0, output_features);  // [B, 1, C_out]
  std::vector<Tensor> steps;
  for (int64_t t = 0; t < horizon; ++t) {
    state = decoder->forward_full(in, state.h_n, state.c_n);
    const Tensor y = quantile_output(fc->forward(drop->forward(state.output)), output_features, quantiles, Tensor());
    steps.push_back(y);
    in = quantiles > 1 ? y.select(3, quantiles / 2) : y;  // [B, 1, C_out]
  }
  return cat(steps, 1);
}

}  // namespace bigdl::chronos
