// Layers with PyTorch names, options and default initialisation
// (kaiming-uniform(a=sqrt(5)) weights and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) biases for
// Linear/Conv; U(-1/sqrt(hidden), 1/sqrt(hidden)) for LSTM/GRU; N(0,1) for Embedding).
// Shapes: Linear [..., in] -> [..., out]; Conv2d/pools NCHW; Conv1d NCL;
// LSTM/GRU [T, B, in] (or [B, T, in] with batch_first).
#pragma once

#include <optional>

#include "bigdl/nn/module.h"
#include "bigdl/ops.h"

namespace bigdl::nn {

using Pair = std::pair<int64_t, int64_t>;

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Linear"; }
  std::string repr() const override;
  Tensor weight, bias;  // [out, in], [out]
  int64_t in_features, out_features;
};

struct Conv2dOptions {
  int64_t in_channels = 0, out_channels = 0;
  Pair kernel_size{1, 1}, stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
  bool bias = true;
};
class Conv2d : public Module {
 public:
  explicit Conv2d(const Conv2dOptions& o);
  Conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t padding = 0);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Conv2d"; }
  std::string repr() const override;
  Conv2dOptions options;
  Tensor weight, bias;  // [out, in/groups, kh, kw], [out]
};

struct Conv1dOptions {
  int64_t in_channels = 0, out_channels = 0, kernel_size = 1, stride = 1, padding = 0, dilation = 1, groups = 1;
  bool bias = true;
};
class Conv1d : public Module {
 public:
  explicit Conv1d(const Conv1dOptions& o);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Conv1d"; }
  Conv1dOptions options;
  Tensor weight, bias;  // [out, in/groups, k], [out]
};

// torch.nn.utils.weight_norm(nn.Conv1d(...)) (over dim 0): the weight is
// weight_g * weight_v / ||weight_v||, the norm taken per output channel, so direction and
// length train apart (Salimans & Kingma, 2016). weight_g [out, 1, 1] starts at the norm of
// weight_v [out, in/groups, k], which starts as Conv1d's weight.
class WeightNormConv1d : public Module {
 public:
  explicit WeightNormConv1d(const Conv1dOptions& o);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "WeightNormConv1d"; }
  Tensor weight() const;  // the effective weight
  Conv1dOptions options;
  Tensor weight_g, weight_v, bias;
};

// torch.nn.ConvTranspose2d / ConvTranspose1d: weight [in, out / groups, kH, kW] (kaiming-uniform with
// fan_in = out / groups * kH * kW, as PyTorch computes it for this layout), bias [out].
struct ConvTranspose2dOptions {
  int64_t in_channels = 0, out_channels = 0;
  Pair kernel_size{1, 1}, stride{1, 1}, padding{0, 0}, output_padding{0, 0};
  int64_t groups = 1;
  bool bias = true;
  Pair dilation{1, 1};
};
class ConvTranspose2d : public Module {
 public:
  explicit ConvTranspose2d(const ConvTranspose2dOptions& o);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "ConvTranspose2d"; }
  ConvTranspose2dOptions options;
  Tensor weight, bias;
};
struct ConvTranspose1dOptions {
  int64_t in_channels = 0, out_channels = 0, kernel_size = 1, stride = 1, padding = 0, output_padding = 0, groups = 1;
  bool bias = true;
  int64_t dilation = 1;
};
class ConvTranspose1d : public Module {
 public:
  explicit ConvTranspose1d(const ConvTranspose1dOptions& o);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "ConvTranspose1d"; }
  ConvTranspose1dOptions options;
  Tensor weight, bias;
};

// torch.nn.AvgPool1d over x [N, C, L]; AvgPool1d(k, 1) is a moving average.
class AvgPool1d : public Module {
 public:
  explicit AvgPool1d(int64_t kernel, std::optional<int64_t> stride = std::nullopt, int64_t padding = 0,
                     bool count_include_pad = true)
      : kernel(kernel), stride(stride.value_or(kernel)), padding(padding), count_include_pad(count_include_pad) {}
  Tensor forward(const Tensor& x) override { return avg_pool1d(x, kernel, stride, padding, count_include_pad); }
  std::string name() const override { return "AvgPool1d"; }
  int64_t kernel, stride, padding;
  bool count_include_pad;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Pair kernel, std::optional<Pair> stride = std::nullopt, Pair padding = {0, 0});
  explicit MaxPool2d(int64_t kernel) : MaxPool2d(Pair{kernel, kernel}) {}
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "MaxPool2d"; }
  Pair kernel, stride, padding;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Pair kernel, std::optional<Pair> stride = std::nullopt, Pair padding = {0, 0},
                     bool count_include_pad = true);
  explicit AvgPool2d(int64_t kernel) : AvgPool2d(Pair{kernel, kernel}) {}
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "AvgPool2d"; }
  Pair kernel, stride, padding;
  bool count_include_pad;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Pair output_size) : output_size(output_size) {}
  Tensor forward(const Tensor& x) override { return bigdl::adaptive_avg_pool2d(x, output_size); }
  std::string name() const override { return "AdaptiveAvgPool2d"; }
  Pair output_size;
};

// Batch normalisation over [N, C] / [N, C, L] (BatchNorm1d) or [N, C, H, W] (BatchNorm2d).
// Training uses batch statistics and updates running_mean/var (unbiased var) with
// momentum; eval uses the running statistics.
class BatchNorm : public Module {
 public:
  BatchNorm(int64_t num_features, int64_t expected_dims_lo, int64_t expected_dims_hi, double eps, double momentum,
            bool affine, const char* cls);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return cls_; }
  int64_t num_features;
  double eps, momentum;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  int64_t lo_, hi_;
  const char* cls_;
};
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t n, double eps = 1e-5, double momentum = 0.1, bool affine = true)
      : BatchNorm(n, 2, 3, eps, momentum, affine, "BatchNorm1d") {}
};
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t n, double eps = 1e-5, double momentum = 0.1, bool affine = true)
      : BatchNorm(n, 4, 4, eps, momentum, affine, "BatchNorm2d") {}
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "LayerNorm"; }
  Shape normalized_shape;
  double eps;
  Tensor weight, bias;
};

// torch.nn.GroupNorm: channels in num_groups groups, each normalised over its channels and
// positions; weight / bias [C] (ones / zeros) when affine.
class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "GroupNorm"; }
  int64_t num_groups, num_channels;
  double eps;
  Tensor weight, bias;
};

class RMSNorm : public Module {
 public:
  explicit RMSNorm(Shape normalized_shape, double eps = 1e-6);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "RMSNorm"; }
  Shape normalized_shape;
  double eps;
  Tensor weight;
};

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Dropout"; }
  double p;
};

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx = std::nullopt);
  Tensor forward(const Tensor& indices) override;
  std::string name() const override { return "Embedding"; }
  int64_t num_embeddings, embedding_dim, padding_idx;
  Tensor weight;
};

struct RNNOptions {
  int64_t input_size = 0, hidden_size = 0, num_layers = 1;
  bool bias = true, batch_first = false;
};
struct RNNOutput {
  Tensor output;  // [T, B, H] (or [B, T, H])
  Tensor h_n;     // [layers, B, H]
  Tensor c_n;     // [layers, B, H] (LSTM only)
};
// LSTM with gates (i, f, g, o) in PyTorch's order and parameter names
// weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}.
class LSTM : public Module {
 public:
  explicit LSTM(const RNNOptions& o);
  Tensor forward(const Tensor& x) override { return forward_full(x).output; }
  RNNOutput forward_full(const Tensor& x, const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor());
  std::string name() const override { return "LSTM"; }
  RNNOptions options;
};
// GRU with gates (r, z, n) in PyTorch's order.
class GRU : public Module {
 public:
  explicit GRU(const RNNOptions& o);
  Tensor forward(const Tensor& x) override { return forward_full(x).output; }
  RNNOutput forward_full(const Tensor& x, const Tensor& h0 = Tensor());
  std::string name() const override { return "GRU"; }
  RNNOptions options;
};

// Parameter-free layers.
#define BIGDL_SIMPLE_MODULE(Cls, expr)                          \
  class Cls : public Module {                                   \
   public:                                                      \
    Tensor forward(const Tensor& x) override { return expr; }   \
    std::string name() const override { return #Cls; }          \
  };
BIGDL_SIMPLE_MODULE(ReLU, bigdl::relu(x))
BIGDL_SIMPLE_MODULE(SiLU, bigdl::silu(x))
BIGDL_SIMPLE_MODULE(Tanh, bigdl::tanh(x))
BIGDL_SIMPLE_MODULE(Sigmoid, bigdl::sigmoid(x))
BIGDL_SIMPLE_MODULE(Identity, x)
#undef BIGDL_SIMPLE_MODULE

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "LeakyReLU"; }
  double negative_slope;
};
class ELU : public Module {
 public:
  explicit ELU(double alpha = 1.0) : alpha(alpha) {}
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "ELU"; }
  double alpha;
};
class GELU : public Module {
 public:
  explicit GELU(std::string approximate = "none");
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "GELU"; }
  std::string approximate;
};
class Softmax : public Module {
 public:
  explicit Softmax(int64_t dim) : dim(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Softmax"; }
  int64_t dim;
};
class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(int64_t dim) : dim(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "LogSoftmax"; }
  int64_t dim;
};
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_dim, end_dim); }
  std::string name() const override { return "Flatten"; }
  int64_t start_dim, end_dim;
};

// Children named "0", "1", ... as in torch.nn.Sequential.
class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<ModulePtr> layers);
  Sequential& add(ModulePtr m);
  // Named child, e.g. add("fc1", linear) so the state_dict key is "fc1.weight".
  Sequential& add(const std::string& name, ModulePtr m);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Sequential"; }
  std::string repr() const override;
  size_t size() const { return layers_.size(); }
  const ModulePtr& operator[](size_t i) const { return layers_.at(i); }

 private:
  std::vector<ModulePtr> layers_;
};

}  // namespace bigdl::nn
