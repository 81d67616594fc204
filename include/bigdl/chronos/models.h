// bigdl::chronos forecasting networks (nn::Modules; docs/chronos.md). Input x [B, L, C]
// (L = lookback rows of C channels), output [B, H, C] (the next H rows).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bigdl/nn/modules.h"
#include "bigdl/nn/transformer.h"

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
// and its first C_out values added back to the forecast. quantiles Q > 1 (for
// nn::QuantileLoss): the output is [B, H, C_out, Q], Q forecasts per value (the last
// Linear gives C_out * Q).
class TCN : public nn::Module {
 public:
  TCN(int64_t lookback, int64_t horizon, int64_t input_features, int64_t output_features,
      std::vector<int64_t> channels = {16, 16, 16}, int64_t kernel = 3, double dropout = 0.1,
      bool normalization = false, int64_t quantiles = 1);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "TCN"; }
  int64_t lookback, horizon, input_features, output_features, quantiles;
  bool normalization;
  std::shared_ptr<nn::Sequential> tcn;
  std::shared_ptr<nn::Linear> time, out;
};

// LSTM forecaster network (BigDL's VanillaLSTM): an LSTM of `layers` layers over the
// window (batch first), dropout on its last step's output, and Linear(hidden -> H * C_out)
// shaped to [B, H, C_out]. Parameters "lstm.weight_ih_l0" ... (PyTorch's), "fc.weight".
// Dropout acts on the last layer's output only (PyTorch's LSTM(dropout=) also drops
// between layers in training). normalization and quantiles: as TCN's.
class LSTMModel : public nn::Module {
 public:
  LSTMModel(int64_t lookback, int64_t horizon, int64_t input_features, int64_t output_features, int64_t hidden = 32,
            int64_t layers = 1, double dropout = 0.1, bool normalization = false, int64_t quantiles = 1);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "LSTMModel"; }
  int64_t lookback, horizon, input_features, output_features, quantiles;
  bool normalization;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::Linear> fc;
};

struct PatchTSTOptions {
  int64_t lookback = 0, horizon = 0, input_features = 0, output_features = 0;
  int64_t patch_len = 16, stride = 8;
  int64_t d_model = 16, heads = 4, d_ff = 128, layers = 3;  // the PatchTST paper's sizes for ETTh1
  double dropout = 0.3, head_dropout = 0.0;
  bool revin = true;            // reversible instance normalisation
  bool res_attention = true;    // each layer's attention scores added to the next layer's
  std::string norm = "batch";   // "batch" (the paper's) or "layer"
};

// PatchTST (Nie et al., "A Time Series is Worth 64 Words", ICLR 2023), the supervised
// model: every channel is forecast on its own by the same network (channel independence).
// RevIN (Kim et al. 2022) normalises each window and channel by its own mean and standard
// deviation (treated as constants), with a learnable affine per channel
// ("revin_weight", "revin_bias" [C]), undone on the forecast. The window, padded at the end
// with `stride` copies of its last value, is cut into N = (L - patch_len) / stride + 2
// patches of patch_len steps; each patch is embedded by Linear(patch_len -> d_model)
// ("embed") plus a learnt position ("pos" [N, d_model], U(-0.02, 0.02)), then dropout and
// `layers` nn::TransformerEncoderLayers (post-norm, GELU, "layers.<i>.self_attn...", no
// dropout on the attention probabilities; with res_attention the scores of one layer
// are added to the next layer's before the softmax). The head flattens the [d_model, N]
// representation (d_model-major) and maps it by Linear(d_model * N -> H) ("head"). x [B, L,
// C_in] -> [B, H, C_out]: the first C_out channels.
class PatchTST : public nn::Module {
 public:
  explicit PatchTST(const PatchTSTOptions& o);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "PatchTST"; }
  std::string repr() const override;
  PatchTSTOptions options;
  int64_t num_patches;
  Tensor revin_weight, revin_bias, pos;
  std::shared_ptr<nn::Linear> embed, head;
  std::shared_ptr<nn::Dropout> drop, head_drop;
  std::shared_ptr<nn::Sequential> layers;  // of TransformerEncoderLayer

 private:
  Tensor patch_index;  // [N * patch_len]: the padded window's step of each patch element
};

struct NBeatsOptions {
  int64_t lookback = 0, horizon = 0, input_features = 1, output_features = 1;
  std::vector<std::string> stack_types = {"generic", "generic"};  // "generic" | "trend" | "seasonality"
  int64_t blocks_per_stack = 3;
  std::vector<int64_t> thetas_dim = {4, 8};  // per stack: generic's theta size, trend's polynomial degree + 1
  bool share_weights_in_stack = false;
  int64_t hidden = 256;
  int64_t harmonics = 0;  // seasonality: Fourier harmonics; 0: horizon / 2 - 1 (at least 1)
  double dropout = 0.1;
};

// N-BEATS (Oreshkin et al., ICLR 2020), BigDL Chronos' NBeatsForecaster network. Stacks of
// blocks; a block reads the residual window r [.., L] through 4 Linear + ReLU (+ dropout)
// layers of `hidden` units, projects them to theta_b and theta_f (Linear, no bias) and
// maps those by a basis to a backcast [.., L] and a forecast [.., H]; the next block reads
// r - backcast (doubly residual) and the forecasts add up. Bases: "generic" a learnt
// Linear; "trend" the polynomial t^0 .. t^(p-1) (t = i / L on the window, i / H on the
// forecast; p = thetas_dim); "seasonality" 1, cos(2 pi k t), sin(2 pi k t) for k = 1 ..
// harmonics. Channels are forecast one by one by the same network (x [B, L, C] -> [B, H,
// C], the first C_out channels kept). Parameters "stacks.<s>.<b>.fc1.weight", ...,
// "theta_b.weight", "theta_f.weight", generic blocks also "backcast.weight/bias",
// "forecast.weight/bias". With share_weights_in_stack a stack repeats its block 0.
class NBeats : public nn::Module {
 public:
  explicit NBeats(const NBeatsOptions& o);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "NBeats"; }
  NBeatsOptions options;

 private:
  struct Block;
  std::vector<std::shared_ptr<Block>> blocks_;  // in order (a shared block appears blocks_per_stack times)
};

// LSTM encoder-decoder (BigDL Chronos' Seq2SeqForecaster network, LSTMSeq2Seq): an LSTM
// encodes the window x [B, L, C_in]; a second LSTM of the same size, started from the
// encoder's final states, decodes H steps, each fed the previous step's forecast (the
// first step: the window's last target values x[:, L-1, :C_out]); dropout and
// Linear(hidden -> C_out) turn each decoder output into that step's forecast: [B, H,
// C_out]. Parameters "encoder.weight_ih_l0" ..., "decoder.weight_ih_l0" ...,
// "fc.weight/bias". (BigDL's teacher forcing is not offered.) quantiles Q > 1: each step
// gives Q forecasts per value ([B, H, C_out, Q]) and the next step is fed the middle one
// (index Q / 2: the median for symmetric quantile sets).
class Seq2Seq : public nn::Module {
 public:
  Seq2Seq(int64_t lookback, int64_t horizon, int64_t input_features, int64_t output_features, int64_t hidden = 64,
          int64_t layers = 2, double dropout = 0.25, int64_t quantiles = 1);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Seq2Seq"; }
  int64_t lookback, horizon, input_features, output_features, quantiles;
  std::shared_ptr<nn::LSTM> encoder, decoder;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::Linear> fc;
};

}  // namespace bigdl::chronos
