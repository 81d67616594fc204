#include "bigdl/nn/modules.h"

#include <cmath>
#include <sstream>

#include "bigdl/autograd.h"
#include "bigdl/random.h"

namespace bigdl::nn {
namespace {
// U(-bound, bound): the kaiming_uniform(a=sqrt(5)) weights and the biases of PyTorch's
// Linear/Conv both reduce to bound = 1/sqrt(fan_in).
Tensor uniform_init(const Shape& shape, int64_t fan_in) {
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(double(fan_in)) : 0.0;
  return uniform(shape, -bound, bound);
}
// Convolutions: channel counts positive and divisible by the groups.
void check_channels(const char* layer, int64_t in, int64_t out, int64_t groups) {
  BIGDL_CHECK(in > 0 && out > 0 && groups > 0 && in % groups == 0 && out % groups == 0, ValueError, layer,
              "in_channels ", in, " and out_channels ", out, " must be positive and divisible by groups ", groups);
}
}  // namespace

// ------------------------------------------------------------------ Linear
Linear::Linear(int64_t in, int64_t out, bool has_bias) : in_features(in), out_features(out) {
  BIGDL_CHECK(in > 0 && out > 0, ValueError, "Linear", "in_features and out_features must be positive, got ", in, ", ", out);
  weight = register_parameter("weight", uniform_init({out, in}, in));
  if (has_bias) bias = register_parameter("bias", uniform_init({out}, in));
}
Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }
std::string Linear::repr() const {
  std::ostringstream os;
  os << "Linear(in_features=" << in_features << ", out_features=" << out_features << ", bias=" << (bias.defined() ? "true" : "false") << ")";
  return os.str();
}

// ------------------------------------------------------------------ Conv
Conv2d::Conv2d(const Conv2dOptions& o) : options(o) {
  check_channels("Conv2d", o.in_channels, o.out_channels, o.groups);
  const int64_t fan_in = o.in_channels / o.groups * o.kernel_size.first * o.kernel_size.second;
  weight = register_parameter("weight", uniform_init({o.out_channels, o.in_channels / o.groups, o.kernel_size.first,
                                                      o.kernel_size.second},
                                                     fan_in));
  if (o.bias) bias = register_parameter("bias", uniform_init({o.out_channels}, fan_in));
}
Conv2d::Conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding)
    : Conv2d(Conv2dOptions{in, out, {kernel, kernel}, {stride, stride}, {padding, padding}}) {}
Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, weight, bias, options.stride, options.padding, options.dilation, options.groups);
}
std::string Conv2d::repr() const {
  std::ostringstream os;
  os << "Conv2d(" << options.in_channels << ", " << options.out_channels << ", kernel_size=(" << options.kernel_size.first
     << ", " << options.kernel_size.second << "), stride=(" << options.stride.first << ", " << options.stride.second
     << "), padding=(" << options.padding.first << ", " << options.padding.second << "))";
  return os.str();
}

Conv1d::Conv1d(const Conv1dOptions& o) : options(o) {
  check_channels("Conv1d", o.in_channels, o.out_channels, o.groups);
  const int64_t fan_in = o.in_channels / o.groups * o.kernel_size;
  weight = register_parameter("weight", uniform_init({o.out_channels, o.in_channels / o.groups, o.kernel_size}, fan_in));
  if (o.bias) bias = register_parameter("bias", uniform_init({o.out_channels}, fan_in));
}
Tensor Conv1d::forward(const Tensor& x) {
  return conv1d(x, weight, bias, options.stride, options.padding, options.dilation, options.groups);
}

WeightNormConv1d::WeightNormConv1d(const Conv1dOptions& o) : options(o) {
  const Conv1d init(o);  // the same checks and initial weight as Conv1d
  Tensor v = init.weight.detach();
  Tensor g = sqrt(sum(mul(v, v), {1, 2}, true));
  weight_g = register_parameter("weight_g", g);
  weight_v = register_parameter("weight_v", v);
  if (o.bias) bias = register_parameter("bias", init.bias.detach());
}
Tensor WeightNormConv1d::weight() const {
  return mul(weight_v, div(weight_g, sqrt(sum(mul(weight_v, weight_v), {1, 2}, true))));
}
Tensor WeightNormConv1d::forward(const Tensor& x) {
  return conv1d(x, weight(), bias, options.stride, options.padding, options.dilation, options.groups);
}

// ------------------------------------------------------------------ pooling
MaxPool2d::MaxPool2d(Pair k, std::optional<Pair> s, Pair p) : kernel(k), stride(s.value_or(k)), padding(p) {}
Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, kernel, stride, padding); }
AvgPool2d::AvgPool2d(Pair k, std::optional<Pair> s, Pair p, bool cip)
    : kernel(k), stride(s.value_or(k)), padding(p), count_include_pad(cip) {}
Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, kernel, stride, padding, count_include_pad); }

// ------------------------------------------------------------------ normalisation
BatchNorm::BatchNorm(int64_t n, int64_t lo, int64_t hi, double eps_, double momentum_, bool affine, const char* cls)
    : num_features(n), eps(eps_), momentum(momentum_), lo_(lo), hi_(hi), cls_(cls) {
  BIGDL_CHECK(n > 0, ValueError, cls, "num_features must be positive, got ", n);
  if (affine) {
    weight = register_parameter("weight", ones({n}));
    bias = register_parameter("bias", zeros({n}));
  }
  running_mean = register_buffer("running_mean", zeros({n}));
  running_var = register_buffer("running_var", ones({n}));
  num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, DType::i64));
}

Tensor BatchNorm::forward(const Tensor& x) {
  BIGDL_CHECK(x.dim() >= lo_ && x.dim() <= hi_ && x.size(1) == num_features, ShapeError, cls_, "expected input with ",
              lo_, lo_ == hi_ ? "" : " or 3", " dims and ", num_features, " channels in dim 1, got ", shape_str(x.shape()));
  Tensor y = batch_norm(x, running_mean, running_var, weight, bias, training_, momentum, eps);
  if (training_) {
    NoGradGuard ng;
    num_batches_tracked.add_(ones({}, DType::i64));
  }
  return y;
}

LayerNorm::LayerNorm(Shape ns, double eps_, bool affine) : normalized_shape(std::move(ns)), eps(eps_) {
  if (affine) {
    weight = register_parameter("weight", ones(normalized_shape));
    bias = register_parameter("bias", zeros(normalized_shape));
  }
}
Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, normalized_shape, weight, bias, eps); }

RMSNorm::RMSNorm(Shape ns, double eps_) : normalized_shape(std::move(ns)), eps(eps_) {
  weight = register_parameter("weight", ones(normalized_shape));
}
Tensor RMSNorm::forward(const Tensor& x) { return rms_norm(x, normalized_shape, weight, eps); }

Dropout::Dropout(double p_) : p(p_) {
  BIGDL_CHECK(p >= 0 && p <= 1, ValueError, "Dropout", "probability must be in [0, 1], got ", p);
}
Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, training_); }

Embedding::Embedding(int64_t n, int64_t d, std::optional<int64_t> pad) : num_embeddings(n), embedding_dim(d) {
  BIGDL_CHECK(n > 0 && d > 0, ValueError, "Embedding", "sizes must be positive, got ", n, ", ", d);
  padding_idx = pad ? (*pad < 0 ? *pad + n : *pad) : -1;
  BIGDL_CHECK(!pad || (padding_idx >= 0 && padding_idx < n), IndexError, "Embedding", "padding_idx ", *pad,
              " out of range for ", n, " embeddings");
  Tensor w = randn({n, d});
  if (padding_idx >= 0) w.narrow(0, padding_idx, 1).zero_();
  weight = register_parameter("weight", w);
}
Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices, padding_idx); }

// ------------------------------------------------------------------ activations
Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(x, negative_slope); }
Tensor ELU::forward(const Tensor& x) { return elu(x, alpha); }
GELU::GELU(std::string a) : approximate(std::move(a)) {
  BIGDL_CHECK(approximate == "none" || approximate == "tanh", ValueError, "GELU", "approximate must be 'none' or 'tanh', got '",
              approximate, "'");
}
Tensor GELU::forward(const Tensor& x) { return gelu(x, approximate == "tanh"); }
Tensor Softmax::forward(const Tensor& x) { return softmax(x, dim); }
Tensor LogSoftmax::forward(const Tensor& x) { return log_softmax(x, dim); }

// ------------------------------------------------------------------ Sequential
Sequential::Sequential(std::vector<ModulePtr> layers) {
  for (auto& l : layers) add(l);
}
Sequential& Sequential::add(ModulePtr m) { return add(std::to_string(layers_.size()), std::move(m)); }
Sequential& Sequential::add(const std::string& name, ModulePtr m) {
  BIGDL_CHECK(m != nullptr, ValueError, "Sequential", "cannot add a null module");
  for (auto& [n, c] : children()) BIGDL_CHECK(n != name, ValueError, "Sequential", "duplicate layer name '", name, "'");
  register_module(name, m);
  layers_.push_back(std::move(m));
  return *this;
}
Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& l : layers_) y = l->forward(y);
  return y;
}
std::string Sequential::repr() const {
  std::ostringstream os;
  os << "Sequential(\n";
  for (size_t i = 0; i < layers_.size(); ++i) os << "  (" << i << "): " << layers_[i]->repr() << "\n";
  os << ")";
  return os.str();
}

// ------------------------------------------------------------------ transposed convolutions, GroupNorm
ConvTranspose2d::ConvTranspose2d(const ConvTranspose2dOptions& o) : options(o) {
  check_channels("ConvTranspose2d", o.in_channels, o.out_channels, o.groups);
  const int64_t fan_in = o.out_channels / o.groups * o.kernel_size.first * o.kernel_size.second;
  weight = register_parameter("weight", uniform_init({o.in_channels, o.out_channels / o.groups, o.kernel_size.first,
                                                      o.kernel_size.second}, fan_in));
  if (o.bias) bias = register_parameter("bias", uniform_init({o.out_channels}, fan_in));
}
Tensor ConvTranspose2d::forward(const Tensor& x) {
  const auto& o = options;
  return conv_transpose2d(x, weight, bias, o.stride, o.padding, o.output_padding, o.groups, o.dilation);
}

ConvTranspose1d::ConvTranspose1d(const ConvTranspose1dOptions& o) : options(o) {
  check_channels("ConvTranspose1d", o.in_channels, o.out_channels, o.groups);
  const int64_t fan_in = o.out_channels / o.groups * o.kernel_size;
  weight = register_parameter("weight", uniform_init({o.in_channels, o.out_channels / o.groups, o.kernel_size}, fan_in));
  if (o.bias) bias = register_parameter("bias", uniform_init({o.out_channels}, fan_in));
}
Tensor ConvTranspose1d::forward(const Tensor& x) {
  const auto& o = options;
  return conv_transpose1d(x, weight, bias, o.stride, o.padding, o.output_padding, o.groups, o.dilation);
}

GroupNorm::GroupNorm(int64_t g, int64_t c, double eps_, bool affine) : num_groups(g), num_channels(c), eps(eps_) {
  BIGDL_CHECK(g > 0 && c > 0 && c % g == 0, ValueError, "GroupNorm", "num_channels ", c,
              " must be positive and divisible by num_groups ", g);
  if (affine) {
    weight = register_parameter("weight", ones({c}));
    bias = register_parameter("bias", zeros({c}));
  }
}
Tensor GroupNorm::forward(const Tensor& x) {
  BIGDL_CHECK(x.dim() >= 2 && x.size(1) == num_channels, ShapeError, "GroupNorm", "expected [N, ", num_channels,
              ", ...], got ", shape_str(x.shape()));
  return group_norm(x, num_groups, weight, bias, eps);
}

}  // namespace bigdl::nn
