#include "bigdl/train/keras.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "bigdl/autograd.h"
#include "bigdl/nn/modules.h"
#include "bigdl/ops.h"

namespace bigdl::keras {

namespace detail {
struct NodeImpl {
  Layer layer;  // empty for an Input
  std::vector<Node> inputs;
  Shape shape;
  std::string name;  // Inputs only
};
}  // namespace detail

namespace {

using bigdl::detail::cat;

std::string shapes_str(const std::vector<Shape>& shapes) {
  std::string s;
  for (size_t i = 0; i < shapes.size(); ++i) s += (i ? ", " : "") + shape_str(shapes[i]);
  return s;
}

// Keras' generic_utils.to_snake_case: "MaxPooling2D" -> "max_pooling2d", "LSTM" -> "lstm".
std::string snake_case(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool upper = std::isupper(static_cast<unsigned char>(s[i]));
    if (upper && i > 0 &&
        ((i + 1 < s.size() && std::islower(static_cast<unsigned char>(s[i + 1]))) ||
         std::islower(static_cast<unsigned char>(s[i - 1]))))
      out += '_';
    out += char(std::tolower(static_cast<unsigned char>(s[i])));
  }
  return out;
}

// "<prefix>_<k>" with the next k not taken; counters live in the model.
std::string auto_name(std::vector<std::pair<std::string, int64_t>>& counters, const std::string& prefix,
                      const std::function<bool(const std::string&)>& taken) {
  auto it = std::find_if(counters.begin(), counters.end(), [&](const auto& c) { return c.first == prefix; });
  if (it == counters.end()) it = counters.insert(counters.end(), {prefix, 0});
  std::string name;
  do name = prefix + "_" + std::to_string(++it->second);
  while (taken(name));
  return name;
}

// ---- activations: one row per name ----
struct ActivationRow {
  const char* name;
  nn::ModulePtr (*make)();
};
const ActivationRow kActivations[] = {
    {"relu", [] { return nn::ModulePtr(std::make_shared<nn::ReLU>()); }},
    {"tanh", [] { return nn::ModulePtr(std::make_shared<nn::Tanh>()); }},
    {"sigmoid", [] { return nn::ModulePtr(std::make_shared<nn::Sigmoid>()); }},
    {"softmax", [] { return nn::ModulePtr(std::make_shared<nn::Softmax>(-1)); }},
    {"log_softmax", [] { return nn::ModulePtr(std::make_shared<nn::LogSoftmax>(-1)); }},
    {"gelu", [] { return nn::ModulePtr(std::make_shared<nn::GELU>()); }},
    {"silu", [] { return nn::ModulePtr(std::make_shared<nn::SiLU>()); }},
    {"elu", [] { return nn::ModulePtr(std::make_shared<nn::ELU>(1.0)); }},
    // Keras' activation "leaky_relu" (tf.keras.activations.leaky_relu) uses slope 0.2.
    {"leaky_relu", [] { return nn::ModulePtr(std::make_shared<nn::LeakyReLU>(0.2)); }},
    {"linear", [] { return nn::ModulePtr(std::make_shared<nn::Identity>()); }},
};

// Null for "linear" / "", so layers skip a no-op call.
nn::ModulePtr optional_activation(const std::string& name) {
  if (name.empty() || name == "linear") return nullptr;
  return make_activation(name);
}

// ---- padding for "same" ----
struct Pad {
  int64_t top = 0, bottom = 0, left = 0, right = 0;
  bool any() const { return top || bottom || left || right; }
  bool symmetric() const { return top == bottom && left == right; }
};

// Output length of a window over n inputs; adds TensorFlow's "same" padding to pad.
// Returns 0 when a "valid" window does not fit.
int64_t window_out(int64_t n, int64_t k, int64_t s, bool same, int64_t* before, int64_t* after) {
  if (!same) return n >= k ? (n - k) / s + 1 : 0;
  const int64_t out = (n + s - 1) / s;
  const int64_t total = std::max<int64_t>((out - 1) * s + k - n, 0);
  *before = total / 2;  // the odd one goes after, as TensorFlow
  *after = total - *before;
  return out;
}

// x [N, C, H, W] padded with `value` (differentiable: built from cat).
Tensor pad2d(const Tensor& x, const Pad& p, double value) {
  auto block = [&](const Tensor& t, int64_t dim, int64_t n) {
    Shape s = t.shape();
    s[size_t(dim)] = n;
    return full(s, value, t.dtype());
  };
  Tensor y = x;
  for (int64_t dim : {2, 3}) {
    const int64_t a = dim == 2 ? p.top : p.left, b = dim == 2 ? p.bottom : p.right;
    if (!a && !b) continue;
    std::vector<Tensor> parts;
    if (a) parts.push_back(block(y, dim, a));
    parts.push_back(y);
    if (b) parts.push_back(block(y, dim, b));
    y = bigdl::cat(parts, dim);
  }
  return y;
}

void check_padding(const LayerImpl& l, const std::string& padding) {
  BIGDL_CHECK(padding == "valid" || padding == "same", ValueError, l.tag(), "padding must be 'valid' or 'same', got '",
              padding, "'");
}

// ================================================================== layers

class DenseLayer : public LayerImpl {
 public:
  DenseLayer(int64_t units, std::string activation, LayerArgs args)
      : LayerImpl("Dense", std::move(args)), units_(units), act_name_(std::move(activation)) {
    BIGDL_CHECK(units > 0, ValueError, tag(), "units must be positive, got ", units);
    act_ = optional_activation(act_name_);
  }
  Shape do_build(const std::vector<Shape>& in) override {
    if (in[0].size() != 1) fail_shape("expects a 1-D input shape, got " + shape_str(in[0]));
    module_ = std::make_shared<nn::Linear>(in[0][0], units_, args().use_bias);
    return {units_};
  }
  Tensor call(const std::vector<Tensor>& xs) override {
    Tensor y = module_->forward(xs[0]);
    return act_ ? act_->forward(y) : y;
  }
  std::string activation() const override { return act_name_; }

 private:
  int64_t units_;
  std::string act_name_;
  nn::ModulePtr act_;
};

class Conv2DLayer : public LayerImpl {
 public:
  Conv2DLayer(int64_t filters, Size2 kernel, Size2 strides, std::string padding, std::string activation, LayerArgs args)
      : LayerImpl("Conv2D", std::move(args)),
        filters_(filters),
        kernel_(kernel),
        strides_(strides),
        same_(padding == "same"),
        act_name_(std::move(activation)) {
    BIGDL_CHECK(filters > 0 && kernel.h > 0 && kernel.w > 0 && strides.h > 0 && strides.w > 0, ValueError, tag(),
                "filters, kernel and strides must be positive, got ", filters, ", ", kernel.h, "x", kernel.w, ", ",
                strides.h, "x", strides.w);
    check_padding(*this, padding);
    act_ = optional_activation(act_name_);
  }
  Shape do_build(const std::vector<Shape>& in) override {
    const Shape& s = in[0];
    if (s.size() != 3) fail_shape("expects a 3-D input shape [C, H, W], got " + shape_str(s));
    const int64_t oh = window_out(s[1], kernel_.h, strides_.h, same_, &pad_.top, &pad_.bottom);
    const int64_t ow = window_out(s[2], kernel_.w, strides_.w, same_, &pad_.left, &pad_.right);
    if (oh == 0 || ow == 0)
      fail_shape(cat("kernel ", kernel_.h, "x", kernel_.w, " does not fit the input ", s[1], "x", s[2],
                     " with padding 'valid'"));
    nn::Conv2dOptions o;
    o.in_channels = s[0];
    o.out_channels = filters_;
    o.kernel_size = {kernel_.h, kernel_.w};
    o.stride = {strides_.h, strides_.w};
    o.bias = args().use_bias;
    if (pad_.symmetric()) {  // the convolution pads by itself; no copy
      o.padding = {pad_.top, pad_.left};
      pad_ = Pad{};
    }
    module_ = std::make_shared<nn::Conv2d>(o);
    return {filters_, oh, ow};
  }
  Tensor call(const std::vector<Tensor>& xs) override {
    Tensor y = module_->forward(pad_.any() ? pad2d(xs[0], pad_, 0.0) : xs[0]);
    return act_ ? act_->forward(y) : y;
  }
  std::string activation() const override { return act_name_; }

 private:
  int64_t filters_;
  Size2 kernel_, strides_;
  bool same_;
  Pad pad_;  // explicit padding, only when "same" needs it uneven
  std::string act_name_;
  nn::ModulePtr act_;
};

class Pooling2DLayer : public LayerImpl {
 public:
  Pooling2DLayer(bool max, Size2 pool, std::optional<Size2> strides, const std::string& padding, LayerArgs args)
      : LayerImpl(max ? "MaxPooling2D" : "AveragePooling2D", std::move(args)),
        max_(max),
        pool_(pool),
        strides_(strides.value_or(pool)),
        same_(padding == "same") {
    BIGDL_CHECK(pool_.h > 0 && pool_.w > 0 && strides_.h > 0 && strides_.w > 0, ValueError, tag(),
                "pool_size and strides must be positive, got ", pool_.h, "x", pool_.w, ", ", strides_.h, "x",
                strides_.w);
    check_padding(*this, padding);
  }
  Shape do_build(const std::vector<Shape>& in) override {
    const Shape& s = in[0];
    if (s.size() != 3) fail_shape("expects a 3-D input shape [C, H, W], got " + shape_str(s));
    const int64_t oh = window_out(s[1], pool_.h, strides_.h, same_, &pad_.top, &pad_.bottom);
    const int64_t ow = window_out(s[2], pool_.w, strides_.w, same_, &pad_.left, &pad_.right);
    if (oh == 0 || ow == 0)
      fail_shape(
          cat("pool ", pool_.h, "x", pool_.w, " does not fit the input ", s[1], "x", s[2], " with padding 'valid'"));
    const nn::Pair k{pool_.h, pool_.w}, st{strides_.h, strides_.w};
    if (max_) {
      module_ = std::make_shared<nn::MaxPool2d>(k, st);
    } else {
      module_ = std::make_shared<nn::AvgPool2d>(k, st);
      if (pad_.any()) {
        // Keras averages over the real pixels only: divide by each window's share of them.
        NoGradGuard ng;
        window_share_ = avg_pool2d(pad2d(ones({1, 1, s[1], s[2]}), pad_, 0.0), k, st);
      }
    }
    return {s[0], oh, ow};
  }
  Tensor call(const std::vector<Tensor>& xs) override {
    if (!pad_.any()) return module_->forward(xs[0]);
    const double fill = max_ ? -std::numeric_limits<double>::infinity() : 0.0;
    Tensor y = module_->forward(pad2d(xs[0], pad_, fill));
    return max_ ? y : y / window_share_;
  }

 private:
  bool max_;
  Size2 pool_, strides_;
  bool same_;
  Pad pad_;
  Tensor window_share_;  // [1, 1, H', W'] real pixels / window size
};

class GlobalAveragePooling2DLayer : public LayerImpl {
 public:
  explicit GlobalAveragePooling2DLayer(LayerArgs args) : LayerImpl("GlobalAveragePooling2D", std::move(args)) {}
  Shape do_build(const std::vector<Shape>& in) override {
    if (in[0].size() != 3) fail_shape("expects a 3-D input shape [C, H, W], got " + shape_str(in[0]));
    module_ = std::make_shared<nn::AdaptiveAvgPool2d>(nn::Pair{1, 1});
    return {in[0][0]};
  }
  Tensor call(const std::vector<Tensor>& xs) override { return module_->forward(xs[0]).flatten(1); }
};

class FlattenLayer : public LayerImpl {
 public:
  explicit FlattenLayer(LayerArgs args) : LayerImpl("Flatten", std::move(args)) {}
  Shape do_build(const std::vector<Shape>& in) override {
    module_ = std::make_shared<nn::Flatten>(1);
    return {shape_numel(in[0])};
  }
  Tensor call(const std::vector<Tensor>& xs) override { return module_->forward(xs[0]); }
};

class DropoutLayer : public LayerImpl {
 public:
  DropoutLayer(double p, LayerArgs args) : LayerImpl("Dropout", std::move(args)), p_(p) {
    BIGDL_CHECK(p >= 0.0 && p < 1.0, ValueError, tag(), "rate must be in [0, 1), got ", p);
  }
  Shape do_build(const std::vector<Shape>& in) override {
    module_ = std::make_shared<nn::Dropout>(p_);
    return in[0];
  }
  Tensor call(const std::vector<Tensor>& xs) override { return module_->forward(xs[0]); }

 private:
  double p_;
};

class BatchNormalizationLayer : public LayerImpl {
 public:
  BatchNormalizationLayer(double eps, double momentum, LayerArgs args)
      : LayerImpl("BatchNormalization", std::move(args)), eps_(eps), momentum_(momentum) {
    BIGDL_CHECK(eps > 0 && momentum >= 0 && momentum <= 1, ValueError, tag(),
                "epsilon must be positive and momentum in [0, 1], got ", eps, ", ", momentum);
  }
  Shape do_build(const std::vector<Shape>& in) override {
    const Shape& s = in[0];
    // Keras' momentum keeps that share of the running value; PyTorch's takes the batch's.
    if (s.size() == 1 || s.size() == 2)
      module_ = std::make_shared<nn::BatchNorm1d>(s[0], eps_, 1.0 - momentum_);
    else if (s.size() == 3)
      module_ = std::make_shared<nn::BatchNorm2d>(s[0], eps_, 1.0 - momentum_);
    else
      fail_shape("expects an input shape [F], [C, L] or [C, H, W], got " + shape_str(s));
    return s;
  }
  Tensor call(const std::vector<Tensor>& xs) override { return module_->forward(xs[0]); }

 private:
  double eps_, momentum_;
};

class ActivationLayer : public LayerImpl {
 public:
  ActivationLayer(std::string activation, LayerArgs args)
      : LayerImpl("Activation", std::move(args)), act_name_(std::move(activation)) {
    module_ = make_activation(act_name_);  // stateless: exists before build
  }
  Shape do_build(const std::vector<Shape>& in) override { return in[0]; }
  Tensor call(const std::vector<Tensor>& xs) override { return module_->forward(xs[0]); }
  std::string activation() const override { return act_name_; }

 private:
  std::string act_name_;
};

class EmbeddingLayer : public LayerImpl {
 public:
  EmbeddingLayer(int64_t input_dim, int64_t output_dim, LayerArgs args)
      : LayerImpl("Embedding", std::move(args)), input_dim_(input_dim), output_dim_(output_dim) {
    BIGDL_CHECK(input_dim > 0 && output_dim > 0, ValueError, tag(), "input_dim and output_dim must be positive, got ",
                input_dim, ", ", output_dim);
  }
  Shape do_build(const std::vector<Shape>& in) override {
    module_ = std::make_shared<nn::Embedding>(input_dim_, output_dim_);
    Shape out = in[0];
    out.push_back(output_dim_);
    return out;
  }
  Tensor call(const std::vector<Tensor>& xs) override {
    // Ids often arrive as floats (a float data set, a float Input); they are exact integers.
    const Tensor& x = xs[0];
    return module_->forward(is_floating(x.dtype()) ? x.to(DType::i64) : x);
  }

 private:
  int64_t input_dim_, output_dim_;
};

class RecurrentLayer : public LayerImpl {
 public:
  RecurrentLayer(bool lstm, int64_t units, bool return_sequences, LayerArgs args)
      : LayerImpl(lstm ? "LSTM" : "GRU", std::move(args)), lstm_(lstm), units_(units), seq_(return_sequences) {
    BIGDL_CHECK(units > 0, ValueError, tag(), "units must be positive, got ", units);
  }
  Shape do_build(const std::vector<Shape>& in) override {
    const Shape& s = in[0];
    if (s.size() != 2) fail_shape("expects a 2-D input shape [T, F], got " + shape_str(s));
    nn::RNNOptions o;
    o.input_size = s[1];
    o.hidden_size = units_;
    o.bias = args().use_bias;
    o.batch_first = true;
    if (lstm_)
      module_ = std::make_shared<nn::LSTM>(o);
    else
      module_ = std::make_shared<nn::GRU>(o);
    return seq_ ? Shape{s[0], units_} : Shape{units_};
  }
  Tensor call(const std::vector<Tensor>& xs) override {
    nn::RNNOutput r = lstm_ ? static_cast<nn::LSTM&>(*module_).forward_full(xs[0])
                            : static_cast<nn::GRU&>(*module_).forward_full(xs[0]);
    return seq_ ? r.output : r.h_n.select(0, 0);  // h_n [1, B, H]: the last step of the one layer
  }

 private:
  bool lstm_;
  int64_t units_;
  bool seq_;
};

class ReshapeLayer : public LayerImpl {
 public:
  ReshapeLayer(Shape target, LayerArgs args) : LayerImpl("Reshape", std::move(args)), target_(std::move(target)) {
    const auto infer = std::count(target_.begin(), target_.end(), int64_t(-1));
    const bool ok = !target_.empty() && infer <= 1 &&
                    std::all_of(target_.begin(), target_.end(), [](int64_t d) { return d > 0 || d == -1; });
    BIGDL_CHECK(ok, ValueError, tag(), "target_shape needs positive dims and at most one -1, got ", shape_str(target_));
  }
  Shape do_build(const std::vector<Shape>& in) override {
    const int64_t n = shape_numel(in[0]);
    int64_t known = 1;
    for (int64_t d : target_)
      if (d != -1) known *= d;
    Shape out = target_;
    for (int64_t& d : out)
      if (d == -1) d = known > 0 && n % known == 0 ? n / known : 0;
    if (shape_numel(out) != n)
      fail_shape(cat("cannot reshape ", shape_str(in[0]), " (", n, " elements) to ", shape_str(target_)));
    return out;
  }
  Tensor call(const std::vector<Tensor>& xs) override {
    Shape s{xs[0].size(0)};
    s.insert(s.end(), output_shape().begin(), output_shape().end());
    return xs[0].reshape(s);
  }

 private:
  Shape target_;
};

class AddLayer : public LayerImpl {
 public:
  explicit AddLayer(LayerArgs args) : LayerImpl("Add", std::move(args), 0) {}
  Shape do_build(const std::vector<Shape>& in) override {
    for (const Shape& s : in)
      if (s != in[0]) fail_shape("inputs must have equal shapes, got " + shapes_str(in));
    return in[0];
  }
  Tensor call(const std::vector<Tensor>& xs) override {
    Tensor y = xs[0];
    for (size_t i = 1; i < xs.size(); ++i) y = y + xs[i];
    return y;
  }
};

class ConcatenateLayer : public LayerImpl {
 public:
  ConcatenateLayer(int64_t axis, LayerArgs args) : LayerImpl("Concatenate", std::move(args), 0), axis_(axis) {}
  Shape do_build(const std::vector<Shape>& in) override {
    const int64_t rank = int64_t(in[0].size()) + 1;  // with the batch dim, as Keras counts axes
    const int64_t a = axis_ < 0 ? axis_ + rank : axis_;
    if (a == 0) fail_value("cannot concatenate along the batch axis");
    if (a < 0 || a >= rank) fail_shape(cat("axis ", axis_, " is out of range for inputs ", shapes_str(in)));
    Shape out = in[0];
    out[size_t(a - 1)] = 0;
    for (const Shape& s : in) {
      bool ok = int64_t(s.size()) + 1 == rank;
      for (int64_t d = 0; ok && d + 1 < rank; ++d) ok = d == a - 1 || s[size_t(d)] == in[0][size_t(d)];
      if (!ok) fail_shape(cat("inputs must match except along axis ", axis_, ", got ", shapes_str(in)));
      out[size_t(a - 1)] += s[size_t(a - 1)];
    }
    batch_axis_ = a;
    return out;
  }
  Tensor call(const std::vector<Tensor>& xs) override { return bigdl::cat(xs, batch_axis_); }

 private:
  int64_t axis_, batch_axis_ = 1;
};

// ================================================================== summary

std::string keras_shape(const Shape& s) {
  std::string out = "(None";
  for (int64_t d : s) out += ", " + std::to_string(d);
  return out + ")";
}

std::string thousands(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// One table line: each field starts at the previous column's end (a space at least).
std::string table_line(const std::vector<std::string>& fields, const std::vector<size_t>& ends) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i && !line.empty() && line.back() != ' ') line += ' ';
    line += fields[i];
    if (i + 1 < fields.size() && line.size() < ends[i]) line.resize(ends[i], ' ');
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line + "\n";
}

struct SummaryRow {
  std::vector<std::string> fields;
  std::vector<std::string> more;  // extra lines of the last column ("Connected to")
};

std::string render_summary(const std::string& model, const std::vector<std::string>& header,
                           const std::vector<size_t>& ends, const std::vector<SummaryRow>& rows, int64_t total,
                           int64_t trainable) {
  const size_t width = ends.back();
  std::ostringstream os;
  os << "Model: \"" << model << "\"\n" << std::string(width, '_') << "\n";
  os << table_line(header, ends) << std::string(width, '=') << "\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    os << table_line(rows[r].fields, ends);
    for (const std::string& m : rows[r].more) {
      std::vector<std::string> f(header.size());
      f.back() = m;
      os << table_line(f, ends);
    }
    os << std::string(width, r + 1 == rows.size() ? '=' : '_') << "\n";
  }
  if (rows.empty()) os << std::string(width, '=') << "\n";
  os << "Total params: " << thousands(total) << "\n";
  os << "Trainable params: " << thousands(trainable) << "\n";
  os << "Non-trainable params: " << thousands(total - trainable) << "\n";
  os << std::string(width, '_') << "\n";
  return os.str();
}

void check_model_input(const Tensor& x, const Shape& shape, const std::string& op, const std::string& what) {
  bool ok = x.defined() && x.dim() == int64_t(shape.size()) + 1;
  for (size_t d = 0; ok && d < shape.size(); ++d) ok = x.size(int64_t(d) + 1) == shape[d];
  if (!ok) {
    Shape want{-1};
    want.insert(want.end(), shape.begin(), shape.end());
    std::string w = shape_str(want);
    w.replace(1, 2, "B");  // "[-1, ..." -> "[B, ..."
    throw ShapeError(cat("[", op, "] ", what, " expects ", w, ", got ",
                         x.defined() ? shape_str(x.shape()) : std::string("an undefined tensor")));
  }
}

}  // namespace

// ================================================================== LayerImpl

LayerImpl::LayerImpl(std::string type, LayerArgs args, int arity)
    : type_(std::move(type)), args_(std::move(args)), arity_(arity) {}

std::string LayerImpl::tag() const { return args_.name.empty() ? type_ : type_ + " " + args_.name; }

void LayerImpl::fail_shape(const std::string& message) const { throw ShapeError("[" + tag() + "] " + message); }
void LayerImpl::fail_value(const std::string& message) const { throw ValueError("[" + tag() + "] " + message); }

void LayerImpl::build(const std::vector<Shape>& in) {
  if (arity_ == 1 && in.size() != 1) fail_value(cat("takes one input, got ", in.size()));
  if (arity_ == 0 && in.size() < 2) fail_value(cat("merges two or more inputs, got ", in.size()));
  if (built_) {
    if (in != input_shapes_)
      fail_shape("was built for input shape " + shapes_str(input_shapes_) + " and cannot be called on " +
                 shapes_str(in) + " (a shared layer keeps one set of weights)");
    return;
  }
  for (const Shape& s : in) {
    const bool ok = !s.empty() && std::all_of(s.begin(), s.end(), [](int64_t d) { return d > 0; });
    if (!ok) fail_shape("input shapes need positive dims, got " + shapes_str(in));
  }
  if (!args_.input_shape.empty() && in.size() == 1 && in[0] != args_.input_shape)
    fail_shape("was declared with input_shape " + shape_str(args_.input_shape) + " but receives " + shape_str(in[0]));
  output_shape_ = do_build(in);
  input_shapes_ = in;
  built_ = true;
}

int64_t LayerImpl::count_trainable_params() const { return module_ ? module_->num_parameters() : 0; }

int64_t LayerImpl::count_params() const {
  int64_t n = count_trainable_params();
  if (module_)
    for (auto& [k, b] : module_->named_buffers())
      if (is_floating(b.dtype())) n += b.numel();  // moving mean/var; not num_batches_tracked
  return n;
}

// ================================================================== Layer / Node

Node Layer::operator()(const Node& input) const { return (*this)(std::vector<Node>{input}); }

Node Layer::operator()(const std::vector<Node>& inputs) const {
  BIGDL_CHECK(impl_ != nullptr, ValueError, "Layer", "calling an empty layer handle");
  std::vector<Shape> shapes;
  for (const Node& n : inputs) {
    BIGDL_CHECK(n.impl() != nullptr, ValueError, impl_->tag(), "called on an empty node");
    shapes.push_back(n.shape());
  }
  impl_->build(shapes);
  auto node = std::make_shared<detail::NodeImpl>();
  node->layer = *this;
  node->inputs = inputs;
  node->shape = impl_->output_shape();
  return Node(node);
}

const Shape& Node::shape() const { return impl_->shape; }
bool Node::is_input() const { return !impl_->layer; }
const Layer& Node::layer() const { return impl_->layer; }
const std::vector<Node>& Node::inputs() const { return impl_->inputs; }
const std::string& Node::name() const { return impl_->name; }

Node Input(Shape shape, std::string name) {
  const bool ok = !shape.empty() && std::all_of(shape.begin(), shape.end(), [](int64_t d) { return d > 0; });
  BIGDL_CHECK(ok, ShapeError, "Input", "shape needs one or more positive dims (batch excluded), got ",
              shape_str(shape));
  auto node = std::make_shared<detail::NodeImpl>();
  node->shape = std::move(shape);
  node->name = std::move(name);
  return Node(node);
}

// ================================================================== factories

nn::ModulePtr make_activation(const std::string& name) {
  for (const auto& row : kActivations)
    if (name == row.name) return row.make();
  std::string known;
  for (const auto& row : kActivations) known += std::string(known.empty() ? "" : ", ") + row.name;
  throw ValueError(cat("[activation] unknown activation '", name, "' (known: ", known, ")"));
}

Layer Dense(int64_t units, const std::string& activation, LayerArgs args) {
  return std::make_shared<DenseLayer>(units, activation, std::move(args));
}
Layer Conv2D(int64_t filters, Size2 kernel, Size2 strides, const std::string& padding, const std::string& activation,
             LayerArgs args) {
  return std::make_shared<Conv2DLayer>(filters, kernel, strides, padding, activation, std::move(args));
}
Layer MaxPooling2D(Size2 pool_size, std::optional<Size2> strides, const std::string& padding, LayerArgs args) {
  return std::make_shared<Pooling2DLayer>(true, pool_size, strides, padding, std::move(args));
}
Layer AveragePooling2D(Size2 pool_size, std::optional<Size2> strides, const std::string& padding, LayerArgs args) {
  return std::make_shared<Pooling2DLayer>(false, pool_size, strides, padding, std::move(args));
}
Layer GlobalAveragePooling2D(LayerArgs args) { return std::make_shared<GlobalAveragePooling2DLayer>(std::move(args)); }
Layer Flatten(LayerArgs args) { return std::make_shared<FlattenLayer>(std::move(args)); }
Layer Dropout(double p, LayerArgs args) { return std::make_shared<DropoutLayer>(p, std::move(args)); }
Layer BatchNormalization(double epsilon, double momentum, LayerArgs args) {
  return std::make_shared<BatchNormalizationLayer>(epsilon, momentum, std::move(args));
}
Layer Activation(const std::string& activation, LayerArgs args) {
  return std::make_shared<ActivationLayer>(activation, std::move(args));
}
Layer Embedding(int64_t input_dim, int64_t output_dim, LayerArgs args) {
  return std::make_shared<EmbeddingLayer>(input_dim, output_dim, std::move(args));
}
Layer LSTM(int64_t units, bool return_sequences, LayerArgs args) {
  return std::make_shared<RecurrentLayer>(true, units, return_sequences, std::move(args));
}
Layer GRU(int64_t units, bool return_sequences, LayerArgs args) {
  return std::make_shared<RecurrentLayer>(false, units, return_sequences, std::move(args));
}
Layer Reshape(Shape target_shape, LayerArgs args) {
  return std::make_shared<ReshapeLayer>(std::move(target_shape), std::move(args));
}
Layer Add(LayerArgs args) { return std::make_shared<AddLayer>(std::move(args)); }
Layer Concatenate(int64_t axis, LayerArgs args) { return std::make_shared<ConcatenateLayer>(axis, std::move(args)); }

// ================================================================== Sequential

Sequential::Sequential(const std::vector<Layer>& layers) {
  for (const Layer& l : layers) add(l);
}

Sequential& Sequential::add(Layer layer) {
  BIGDL_CHECK(layer, ValueError, "Sequential", "cannot add an empty layer");
  LayerImpl& l = *layer;
  BIGDL_CHECK(l.arity_ == 1, ValueError, "Sequential", l.tag(),
              " merges several inputs; build it with the functional API (keras::Model)");
  Shape in;
  if (layers_.empty()) {
    BIGDL_CHECK(!l.args_.input_shape.empty() || l.built_, ValueError, "Sequential", "the first layer (", l.tag(),
                ") needs an input_shape");
    in = l.built_ ? l.input_shapes_[0] : l.args_.input_shape;
  } else {
    in = output_shape();
  }
  const bool present =
      std::any_of(layers_.begin(), layers_.end(), [&](const Layer& o) { return o.ptr() == layer.ptr(); });
  const bool auto_named = l.args_.name.empty();
  const auto counters_before = counters_;  // a failed add leaves the model and the layer as they were
  auto undo = [&] {
    if (auto_named && !l.built_) l.args_.name.clear();
    counters_ = counters_before;
  };
  if (auto_named)
    l.args_.name = auto_name(counters_, snake_case(l.type_), [&](const std::string& n) {
      return std::any_of(layers_.begin(), layers_.end(), [&](const Layer& o) { return o->name() == n; });
    });
  for (const Layer& o : layers_)
    if (o.ptr() != layer.ptr() && o->name() == l.name()) {
      undo();
      throw ValueError(cat("[Sequential] duplicate layer name '", l.name(), "'"));
    }
  try {
    l.build({in});
  } catch (...) {
    undo();
    throw;
  }
  if (l.module_ && !present) register_module(l.name(), l.module_);
  layers_.push_back(std::move(layer));
  return *this;
}

const Shape& Sequential::input_shape() const {
  BIGDL_CHECK(!layers_.empty(), ValueError, "Sequential", "the model has no layers");
  return layers_.front()->input_shapes()[0];
}

const Shape& Sequential::output_shape() const {
  BIGDL_CHECK(!layers_.empty(), ValueError, "Sequential", "the model has no layers");
  return layers_.back()->output_shape();
}

Tensor Sequential::forward(const Tensor& x) {
  check_model_input(x, input_shape(), "Sequential", "input");
  Tensor y = x;
  for (const Layer& l : layers_) y = l->call({y});
  return y;
}

Layer Sequential::get_layer(const std::string& name) const {
  for (const Layer& l : layers_)
    if (l->name() == name) return l;
  throw ValueError(cat("[Sequential] no layer named '", name, "'"));
}

std::string Sequential::summary() const {
  std::vector<SummaryRow> rows;
  std::set<const LayerImpl*> counted;
  int64_t total = 0, trainable = 0;
  for (const Layer& l : layers_) {
    rows.push_back(
        {{l->name() + " (" + l->type() + ")", keras_shape(l->output_shape()), std::to_string(l->count_params())}, {}});
    if (counted.insert(l.ptr().get()).second) {
      total += l->count_params();
      trainable += l->count_trainable_params();
    }
  }
  return render_summary("sequential", {"Layer (type)", "Output Shape", "Param #"}, {29, 55, 65}, rows, total,
                        trainable);
}

// ================================================================== Model

Model::Model(const Node& input, const Node& output) : Model(std::vector<Node>{input}, std::vector<Node>{output}) {}

Model::Model(const std::vector<Node>& inputs, const std::vector<Node>& outputs) : inputs_(inputs), outputs_(outputs) {
  BIGDL_CHECK(!inputs_.empty() && !outputs_.empty(), ValueError, "Model", "needs at least one input and one output");
  std::set<const detail::NodeImpl*> input_set;
  for (const Node& n : inputs_) {
    BIGDL_CHECK(n.impl() && n.is_input(), ValueError, "Model", "inputs must be keras::Input nodes");
    BIGDL_CHECK(input_set.insert(n.impl()).second, ValueError, "Model", "an Input is listed twice");
  }
  for (const Node& n : outputs_) BIGDL_CHECK(n.impl(), ValueError, "Model", "an output node is empty");

  // Depth-first post-order from the outputs: every node after the nodes it reads.
  // Nodes only point at nodes made before them, so there are no cycles.
  std::map<const detail::NodeImpl*, size_t> slot;
  std::function<void(const Node&)> visit = [&](const Node& n) {
    if (slot.count(n.impl())) return;
    if (n.is_input()) {
      BIGDL_CHECK(input_set.count(n.impl()), ValueError, "Model", "the outputs depend on an Input",
                  n.name().empty() ? "" : " '" + n.name() + "'", " of shape ", shape_str(n.shape()),
                  " that is not among the model's inputs (graph disconnected)");
    } else {
      for (const Node& i : n.inputs()) visit(i);
    }
    slot[n.impl()] = order_.size();
    order_.push_back(n);
  };
  for (const Node& n : outputs_) visit(n);

  // Names: inputs first ("input_1", ...), then layers in topological order.
  std::vector<std::pair<std::string, int64_t>> counters;
  std::set<std::string> taken;
  for (const Node& n : order_) {
    if (n.is_input() && !n.name().empty()) taken.insert(n.name());
    if (!n.is_input() && !n.layer()->name().empty()) taken.insert(n.layer()->name());
  }
  auto is_taken = [&](const std::string& s) { return taken.count(s) > 0; };
  for (const Node& n : inputs_) {
    if (n.name().empty()) taken.insert(n.impl()->name = auto_name(counters, "input", is_taken));
    BIGDL_CHECK(slot.count(n.impl()), ValueError, "Model", "input '", n.name(), "' (shape ", shape_str(n.shape()),
                ") is not used by any output");
    input_slots_.push_back(slot[n.impl()]);
  }
  std::map<std::string, const void*> owner;  // name -> the Input or layer holding it
  for (const Node& n : order_) {
    const void* who =
        n.is_input() ? static_cast<const void*>(n.impl()) : static_cast<const void*>(n.layer().ptr().get());
    if (!n.is_input() && n.layer()->name().empty())
      taken.insert(n.layer()->args_.name = auto_name(counters, snake_case(n.layer()->type()), is_taken));
    const std::string& nm = n.is_input() ? n.name() : n.layer()->name();
    auto [it, fresh] = owner.emplace(nm, who);
    BIGDL_CHECK(fresh || it->second == who, ValueError, "Model", "two layers are named '", nm, "'");
    if (!n.is_input() && fresh) {
      layers_.push_back(n.layer());
      if (n.layer()->module_) register_module(nm, n.layer()->module_);
    }
    Step st{n.is_input() ? Layer() : n.layer(), {}};
    for (const Node& i : n.inputs()) st.args.push_back(slot[i.impl()]);
    steps_.push_back(std::move(st));
  }
  for (const Node& n : outputs_) output_slots_.push_back(slot[n.impl()]);
}

std::vector<Tensor> Model::forward_multi(const std::vector<Tensor>& xs) {
  BIGDL_CHECK(xs.size() == inputs_.size(), ValueError, "Model", "expects ", inputs_.size(), " input tensors, got ",
              xs.size());
  std::vector<Tensor> values(order_.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    check_model_input(xs[i], inputs_[i].shape(), "Model", "input '" + inputs_[i].name() + "'");
    values[input_slots_[i]] = xs[i];
  }
  std::vector<Tensor> args;
  for (size_t i = 0; i < steps_.size(); ++i) {
    if (!steps_[i].layer) continue;
    args.clear();
    for (size_t a : steps_[i].args) args.push_back(values[a]);
    values[i] = steps_[i].layer->call(args);
  }
  std::vector<Tensor> out;
  for (size_t s : output_slots_) out.push_back(values[s]);
  return out;
}

Tensor Model::forward(const Tensor& x) {
  BIGDL_CHECK(inputs_.size() == 1 && outputs_.size() == 1, ValueError, "Model",
              "forward() needs one input and one output; this model has ", inputs_.size(), " and ", outputs_.size(),
              " (use forward_multi)");
  return forward_multi({x})[0];
}

Layer Model::get_layer(const std::string& name) const {
  for (const Layer& l : layers_)
    if (l->name() == name) return l;
  throw ValueError(cat("[Model] no layer named '", name, "'"));
}

std::string Model::summary() const {
  // "dense_1[k][0]": the k-th call of that layer within this model, output 0.
  std::map<const detail::NodeImpl*, size_t> call_index;
  std::map<const LayerImpl*, size_t> calls;
  for (const Node& n : order_) call_index[n.impl()] = n.is_input() ? 0 : calls[n.layer().ptr().get()]++;
  auto ref = [&](const Node& n) {
    const std::string& nm = n.is_input() ? n.name() : n.layer()->name();
    return nm + "[" + std::to_string(call_index[n.impl()]) + "][0]";
  };
  std::vector<SummaryRow> rows;
  std::map<const LayerImpl*, size_t> row_of;
  int64_t total = 0, trainable = 0;
  for (const Node& n : inputs_) rows.push_back({{n.name() + " (InputLayer)", keras_shape(n.shape()), "0", ""}, {}});
  for (const Node& n : order_) {
    if (n.is_input()) continue;
    const LayerImpl* l = n.layer().ptr().get();
    std::vector<std::string> links;
    for (const Node& i : n.inputs()) links.push_back(ref(i));
    auto it = row_of.find(l);
    if (it == row_of.end()) {
      row_of[l] = rows.size();
      total += l->count_params();
      trainable += l->count_trainable_params();
      SummaryRow r{{l->name() + " (" + l->type() + ")", keras_shape(l->output_shape()),
                    std::to_string(l->count_params()), links.empty() ? "" : links[0]},
                   {}};
      r.more.assign(links.begin() + (links.empty() ? 0 : 1), links.end());
      rows.push_back(std::move(r));
    } else {
      auto& more = rows[it->second].more;
      more.insert(more.end(), links.begin(), links.end());
    }
  }
  return render_summary("model", {"Layer (type)", "Output Shape", "Param #", "Connected to"}, {32, 53, 65, 98}, rows,
                        total, trainable);
}

// ================================================================== compile

namespace {

enum class Form { logits, probs, log_probs };
constexpr double kEps = 1e-7;  // Keras' backend epsilon, the clip of probabilities

// Keras lets [N] targets meet [N, 1] outputs; make targets the outputs' shape and dtype.
Tensor like_output(const Tensor& out, const Tensor& target, const char* op) {
  Tensor t = target;
  if (t.shape() != out.shape()) {
    BIGDL_CHECK(t.numel() == out.numel(), ShapeError, op, "targets ", shape_str(t.shape()), " do not match outputs ",
                shape_str(out.shape()));
    t = t.reshape(out.shape());
  }
  return t.dtype() == out.dtype() ? t : t.to(out.dtype());
}

Tensor sparse_cce(const Tensor& out, const Tensor& target, Form f) {
  Tensor t = target;
  if (t.dim() == out.dim() && t.dim() >= 2 && t.size(-1) == 1) t = t.squeeze(-1);  // [N, 1] class ids
  if (!is_integral(t.dtype())) t = t.to(DType::i64);
  switch (f) {
    case Form::probs:
      return nn::functional::nll_loss(log(clamp(out, kEps, 1.0 - kEps)), t);
    case Form::log_probs:
      return nn::functional::nll_loss(out, t);
    default:
      return nn::functional::cross_entropy(out, t);
  }
}

Tensor cce(const Tensor& out, const Tensor& target, Form f) {
  const char* op = "categorical_crossentropy";
  BIGDL_CHECK(target.shape() == out.shape(), ShapeError, op,
              "targets must be one-hot or probabilities shaped like the outputs ", shape_str(out.shape()), ", got ",
              shape_str(target.shape()), "; class ids need sparse_categorical_crossentropy");
  Tensor t = target.dtype() == out.dtype() ? target : target.to(out.dtype());
  switch (f) {
    case Form::probs:
      return neg(sum(t * log(clamp(out, kEps, 1.0 - kEps)), {-1})).mean();
    case Form::log_probs:
      return neg(sum(t * out, {-1})).mean();
    default:
      return nn::functional::cross_entropy(out, t);
  }
}

Tensor bce(const Tensor& out, const Tensor& target, Form f) {
  Tensor t = like_output(out, target, "binary_crossentropy");
  if (f == Form::probs) return nn::functional::binary_cross_entropy(clamp(out, kEps, 1.0 - kEps), t);
  return nn::functional::binary_cross_entropy_with_logits(out, t);
}

Tensor mse(const Tensor& out, const Tensor& target, Form) {
  return nn::functional::mse_loss(out, like_output(out, target, "mean_squared_error"));
}
Tensor mae(const Tensor& out, const Tensor& target, Form) {
  return nn::functional::l1_loss(out, like_output(out, target, "mean_absolute_error"));
}

// How a loss reads the model's outputs.
enum class Reads { classes, binary, logits, values };

struct LossRow {
  const char* name;
  const char* canonical;
  Reads reads;
  Tensor (*fn)(const Tensor&, const Tensor&, Form);
};
const LossRow kLosses[] = {
    {"sparse_categorical_crossentropy", "sparse_categorical_crossentropy", Reads::classes, sparse_cce},
    {"categorical_crossentropy", "categorical_crossentropy", Reads::classes, cce},
    {"binary_crossentropy", "binary_crossentropy", Reads::binary, bce},
    {"bce_with_logits", "bce_with_logits", Reads::logits, bce},
    {"mse", "mean_squared_error", Reads::values, mse},
    {"mean_squared_error", "mean_squared_error", Reads::values, mse},
    {"mae", "mean_absolute_error", Reads::values, mae},
    {"mean_absolute_error", "mean_absolute_error", Reads::values, mae},
};

class KerasLoss : public nn::Loss {
 public:
  KerasLoss(const LossRow& row, Form form) : row_(row), form_(form) {}
  Tensor forward(const Tensor& input, const Tensor& target) override { return row_.fn(input, target, form_); }
  std::string name() const override { return row_.canonical; }

 private:
  const LossRow& row_;
  Form form_;
};

struct OptimizerRow {
  const char* name;
  double lr;
  optim::OptimizerPtr (*make)(std::vector<Tensor>, double);
};
const OptimizerRow kOptimizers[] = {
    {"sgd", 0.01,
     [](std::vector<Tensor> p, double lr) -> optim::OptimizerPtr {
       optim::SGDOptions o;
       o.lr = lr;
       return std::make_shared<optim::SGD>(std::move(p), o);
     }},
    {"adam", 1e-3,
     [](std::vector<Tensor> p, double lr) -> optim::OptimizerPtr {
       optim::AdamOptions o;
       o.lr = lr;
       return std::make_shared<optim::Adam>(std::move(p), o);
     }},
    {"adamw", 1e-3,
     [](std::vector<Tensor> p, double lr) -> optim::OptimizerPtr {
       optim::AdamOptions o;
       o.lr = lr;
       o.weight_decay = 0.01;
       return std::make_shared<optim::AdamW>(std::move(p), o);
     }},
    {"rmsprop", 1e-3,
     [](std::vector<Tensor> p, double lr) -> optim::OptimizerPtr {
       optim::RMSpropOptions o;
       o.lr = lr;
       o.alpha = 0.9;  // Keras' rho
       return std::make_shared<optim::RMSprop>(std::move(p), o);
     }},
    {"adagrad", 0.01,
     [](std::vector<Tensor> p, double lr) -> optim::OptimizerPtr {
       optim::AdagradOptions o;
       o.lr = lr;
       return std::make_shared<optim::Adagrad>(std::move(p), o);
     }},
};

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

optim::OptimizerPtr make_optimizer(const std::string& name, std::vector<Tensor> params, double lr) {
  BIGDL_CHECK(lr == -1 || lr > 0, ValueError, "make_optimizer", "lr must be positive (or -1 for the default), got ",
              lr);
  const std::string key = lower(name);
  for (const auto& row : kOptimizers)
    if (key == row.name) return row.make(std::move(params), lr == -1 ? row.lr : lr);
  std::string known;
  for (const auto& row : kOptimizers) known += std::string(known.empty() ? "" : ", ") + row.name;
  throw ValueError(cat("[make_optimizer] unknown optimizer '", name, "' (known: ", known, ")"));
}

nn::LossPtr make_loss(const std::string& name, const std::string& final_activation) {
  const std::string key = lower(name);
  for (const auto& row : kLosses) {
    if (key != row.name) continue;
    Form f = Form::logits;
    if (row.reads == Reads::classes && final_activation == "softmax") f = Form::probs;
    if (row.reads == Reads::classes && final_activation == "log_softmax") f = Form::log_probs;
    if (row.reads == Reads::binary && (final_activation == "sigmoid" || final_activation == "softmax")) f = Form::probs;
    return std::make_shared<KerasLoss>(row, f);
  }
  std::string known;
  for (const auto& row : kLosses) known += std::string(known.empty() ? "" : ", ") + row.name;
  throw ValueError(cat("[make_loss] unknown loss '", name, "' (known: ", known, ")"));
}

std::string output_activation(const nn::Module& net) {
  if (auto* s = dynamic_cast<const Sequential*>(&net))
    return s->layers().empty() ? "" : s->layers().back()->activation();
  if (auto* m = dynamic_cast<const Model*>(&net)) {
    if (m->outputs().size() != 1 || m->outputs()[0].is_input()) return "";
    return m->outputs()[0].layer()->activation();
  }
  if (auto* s = dynamic_cast<const nn::Sequential*>(&net)) {
    if (s->size() == 0) return "";
    const nn::Module* last = (*s)[s->size() - 1].get();
    if (dynamic_cast<const nn::Softmax*>(last)) return "softmax";
    if (dynamic_cast<const nn::LogSoftmax*>(last)) return "log_softmax";
    if (dynamic_cast<const nn::Sigmoid*>(last)) return "sigmoid";
  }
  return "";
}

train::Model compile(nn::ModulePtr net, const std::string& optimizer, const std::string& loss,
                     const std::vector<std::string>& metrics, double lr) {
  BIGDL_CHECK(net != nullptr, ValueError, "compile", "network is null");
  train::Model m(net);
  m.compile(make_optimizer(optimizer, net->parameters(), lr), make_loss(loss, output_activation(*net)), metrics);
  return m;
}

}  // namespace bigdl::keras
