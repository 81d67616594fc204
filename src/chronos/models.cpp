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

}  // namespace bigdl::chronos
