#include "bigdl/chronos/models.h"

#include <algorithm>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/ops.h"

namespace bigdl::chronos {

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
         std::vector<int64_t> channels, int64_t kernel, double dropout, bool normalization_)
    : lookback(lookback_),
      horizon(horizon_),
      input_features(input_features_),
      output_features(output_features_),
      normalization(normalization_) {
  BIGDL_CHECK(!channels.empty(), ValueError, "TCN", "num_channels is empty");
  BIGDL_CHECK(!normalization || output_features <= input_features, ValueError, "TCN",
              "normalization needs output_features <= input_features (the targets come first)");
  BIGDL_CHECK(lookback >= 1 && horizon >= 1 && input_features >= 1 && output_features >= 1, ValueError, "TCN",
              "lookback, horizon and the feature counts must be >= 1");
  tcn = register_module("tcn", std::make_shared<nn::Sequential>());
  int64_t in = input_features, dilation = 1;
  for (int64_t c : channels) {
    tcn->add(std::make_shared<TemporalBlock>(in, c, kernel, dilation, dropout));
    in = c;
    dilation *= 2;
  }
  time = register_module("time", std::make_shared<nn::Linear>(lookback, horizon));
  out = register_module("out", std::make_shared<nn::Linear>(in, output_features));
}

Tensor TCN::forward(const Tensor& x) {
  BIGDL_CHECK(x.dim() == 3 && x.size(1) == lookback && x.size(2) == input_features, ShapeError, "TCN", "expected x [batch, ",
              lookback, ", ", input_features, "], got ", shape_str(x.shape()));
  if (normalization) {
    const Tensor last = x.narrow(1, lookback - 1, 1);  // [B, 1, C_in]
    const Tensor h = tcn->forward(sub(x, last).transpose(1, 2));
    return add(out->forward(time->forward(h).transpose(1, 2)), last.narrow(2, 0, output_features));
  }
  const Tensor h = tcn->forward(x.transpose(1, 2));  // [B, C, L]
  return out->forward(time->forward(h).transpose(1, 2));  // [B, C, H] -> [B, H, C] -> [B, H, C_out]
}

LSTMModel::LSTMModel(int64_t lookback_, int64_t horizon_, int64_t input_features_, int64_t output_features_,
                     int64_t hidden, int64_t layers, double dropout, bool normalization_)
    : lookback(lookback_),
      horizon(horizon_),
      input_features(input_features_),
      output_features(output_features_),
      normalization(normalization_) {
  BIGDL_CHECK(lookback >= 1 && horizon >= 1 && input_features >= 1 && output_features >= 1 && hidden >= 1 && layers >= 1,
              ValueError, "LSTMModel", "sizes must be >= 1");
  BIGDL_CHECK(!normalization || output_features <= input_features, ValueError, "LSTMModel",
              "normalization needs output_features <= input_features (the targets come first)");
  nn::RNNOptions o;
  o.input_size = input_features;
  o.hidden_size = hidden;
  o.num_layers = layers;
  o.batch_first = true;
  lstm = register_module("lstm", std::make_shared<nn::LSTM>(o));
  drop = register_module("drop", std::make_shared<nn::Dropout>(dropout));
  fc = register_module("fc", std::make_shared<nn::Linear>(hidden, horizon * output_features));
}

Tensor LSTMModel::forward(const Tensor& x) {
  BIGDL_CHECK(x.dim() == 3 && x.size(1) == lookback && x.size(2) == input_features, ShapeError, "LSTMModel",
              "expected x [batch, ", lookback, ", ", input_features, "], got ", shape_str(x.shape()));
  const Tensor last = normalization ? x.narrow(1, lookback - 1, 1) : Tensor();
  const Tensor h = lstm->forward(normalization ? sub(x, last) : x).select(1, lookback - 1);  // [B, hidden]
  Tensor y = fc->forward(drop->forward(h)).reshape({x.size(0), horizon, output_features});
  return normalization ? add(y, last.narrow(2, 0, output_features)) : y;
}

}  // namespace bigdl::chronos
