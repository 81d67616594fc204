// bigdl::chronos forecasting networks (nn::Modules; docs/chronos.md). Input x [B, L, C]
// (L = lookback rows of C channels), output [B, H, C] (the next H rows).
#pragma once

#include <memory>

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

}  // namespace bigdl::chronos
