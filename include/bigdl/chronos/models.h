// bigdl::chronos forecasting networks (nn::Modules; docs/chronos.md). Input x [B, L, C]
// (L = lookback rows of C channels), output [B, H, C] (the next H rows).
#pragma once

#include <memory>
#include <vector>

#include "bigdl/nn/modules.h"

namespace bigdl::chronos {

// DLinear (Zeng et al., "Are Transformers Effective for Time Series Forecasting?", AAAI
// 2023): the series splits into a trend, its moving average over `kernel` rows (stride 1,
// the ends padded by repeating the first / last row, as the paper's code), and the
// seasonal rest; one Linear(L -> H) along time maps each, and the forecast is their sum.
// The weights are shared by the channels (the paper's default, individual = false). The
// moving average is a fixed [L, L] matrix (`decomposition`, not saved: it follows from L
// and kernel), so trend = A x is one matmul and the whole network stays linear. Parameters "seasonal.weight/bias",
// "trend.weight/bias" ([H, L], [H]), as PyTorch's Linear.
class DLinear : public nn::Module {
 public:
  // outputs: the first `outputs` channels are forecast (the targets, when the others are
  // extra features); 0: every channel.
  DLinear(int64_t lookback, int64_t horizon, int64_t kernel = 25, int64_t outputs = 0);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "DLinear"; }
  std::string repr() const override;
  int64_t lookback, horizon, kernel, outputs;
  std::shared_ptr<nn::Linear> seasonal, trend;
  Tensor decomposition;  // [L, L]: row i averages rows i - k/2 .. i + k/2 (clamped at the ends)
};

// One level of a temporal convolutional network (Bai, Kolter & Koltun, 2018): two dilated
// causal convolutions (weight-normalised, kernel k, dilation d: each output sees only the
// current and earlier steps), each followed by ReLU and dropout, plus a residual (a 1x1
// convolution when the channel counts differ), then ReLU. x and output [B, C, L].
class TemporalBlock : public nn::Module {
 public:
  TemporalBlock(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t dilation, double dropout);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "TemporalBlock"; }
  std::shared_ptr<nn::WeightNormConv1d> conv1, conv2;
  std::shared_ptr<nn::Conv1d> downsample;  // null when in == out
  std::shared_ptr<nn::Dropout> drop1, drop2;
  int64_t pad;
};

// TCN forecaster network: TemporalBlocks with dilations 1, 2, 4, ... over the channels
// `channels` (x [B, L, C_in] read as C_in channels of L steps), then Linear(L -> H) along
// time and Linear(channels.back() -> C_out) across channels: [B, H, C_out]. Parameters
// "tcn.<level>.conv1.weight_g" ..., "time.weight", "out.weight". normalization (BigDL's
// trick against distribution shift): the window's last row is subtracted from the input
// and its first C_out values added back to the forecast.
class TCN : public nn::Module {
 public:
  TCN(int64_t lookback, int64_t horizon, int64_t input_features, int64_t output_features,
      std::vector<int64_t> channels = {16, 16, 16}, int64_t kernel = 3, double dropout = 0.1,
      bool normalization = false);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "TCN"; }
  int64_t lookback, horizon, input_features, output_features;
  bool normalization;
  std::shared_ptr<nn::Sequential> tcn;
  std::shared_ptr<nn::Linear> time, out;
};

// LSTM forecaster network (BigDL's VanillaLSTM): an LSTM of `layers` layers over the
// window (batch first), dropout on its last step's output, and Linear(hidden -> H * C_out)
// shaped to [B, H, C_out]. Parameters "lstm.weight_ih_l0" ... (PyTorch's), "fc.weight".
// Dropout acts on the last layer's output only (PyTorch's LSTM(dropout=) also drops
// between layers in training). normalization: as TCN's.
class LSTMModel : public nn::Module {
 public:
  LSTMModel(int64_t lookback, int64_t horizon, int64_t input_features, int64_t output_features, int64_t hidden = 32,
            int64_t layers = 1, double dropout = 0.1, bool normalization = false);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "LSTMModel"; }
  int64_t lookback, horizon, input_features, output_features;
  bool normalization;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::Linear> fc;
};

}  // namespace bigdl::chronos
