// Nano's capture of a trained model into an InferenceModel (include/bigdl/nano/inference.h):
// flatten, fold BatchNorm, fuse activations, quantize Linear weights to int8.
#include "bigdl/nano/inference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <sstream>

#include "bigdl/autograd.h"
#include "bigdl/error.h"
#include "bigdl/nn/modules.h"
#include "bigdl/ops.h"
#include "bigdl/train/keras.h"
#include "llm/ops.h"
#include "llm/weights.h"

namespace bigdl::nano {
namespace {

namespace quant = bigdl::detail::quant;
namespace lld = bigdl::llm::detail;

// ---- activations applied in place on a layer's output ----
struct Act {
  enum Kind { none, relu, leaky_relu, tanh, sigmoid, silu, gelu, gelu_tanh } kind = none;
  float slope = 0;  // leaky_relu

  std::string str() const {
    static const char* const names[] = {"", "relu", "leaky_relu", "tanh", "sigmoid", "silu", "gelu", "gelu(tanh)"};
    return names[kind];
  }
  // In place over n floats; the formulas of the ops' reference kernels.
  void apply(float* y, int64_t n) const {
    switch (kind) {
      case none: return;
      case relu: for (int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.f ? y[i] : 0.f; return;
      case leaky_relu: for (int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.f ? y[i] : y[i] * slope; return;
      case tanh: for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(y[i]); return;
      case sigmoid: for (int64_t i = 0; i < n; ++i) y[i] = 1.f / (1.f + std::exp(-y[i])); return;
      case silu: for (int64_t i = 0; i < n; ++i) y[i] = y[i] / (1.f + std::exp(-y[i])); return;
      case gelu:
        for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * y[i] * (1.f + std::erf(y[i] * 0.70710678118654752f));
        return;
      case gelu_tanh:
        for (int64_t i = 0; i < n; ++i) {
          const float v = y[i];
          y[i] = 0.5f * v * (1.f + std::tanh(0.79788456080286536f * (v + 0.044715f * v * v * v)));
        }
        return;
    }
  }
};

// The activation a module is, if it is one we fuse (kind none otherwise).
Act activation_of(const nn::Module& m) {
  Act a;
  if (dynamic_cast<const nn::ReLU*>(&m)) a.kind = Act::relu;
  else if (dynamic_cast<const nn::Tanh*>(&m)) a.kind = Act::tanh;
  else if (dynamic_cast<const nn::Sigmoid*>(&m)) a.kind = Act::sigmoid;
  else if (dynamic_cast<const nn::SiLU*>(&m)) a.kind = Act::silu;
  else if (const auto* l = dynamic_cast<const nn::LeakyReLU*>(&m)) a = {Act::leaky_relu, static_cast<float>(l->negative_slope)};
  else if (const auto* g = dynamic_cast<const nn::GELU*>(&m)) a.kind = g->approximate == "tanh" ? Act::gelu_tanh : Act::gelu;
  return a;
}

// A fresh contiguous f32 copy (weights of the captured model never alias the original's).
Tensor copy_of(const Tensor& t) { return t.defined() ? t.detach().contiguous().clone() : Tensor(); }

// Folds bn (eval statistics) into the [out, ...] weight w and bias b of the layer before it.
void fold_batchnorm(const nn::BatchNorm& bn, Tensor& w, Tensor& b) {
  const int64_t out = w.size(0), per = w.numel() / out;
  BIGDL_CHECK(bn.num_features == out, ShapeError, "nano.optimize", bn.name(), " has ", bn.num_features,
              " features after a layer with ", out, " outputs");
  if (!b.defined()) b = zeros({out});
  const Tensor mean = bn.running_mean.contiguous(), var = bn.running_var.contiguous();
  const Tensor gamma = bn.weight.defined() ? bn.weight.contiguous() : Tensor(), beta = bn.bias.defined() ? bn.bias.contiguous() : Tensor();
  float* wd = w.data<float>();
  float* bd = b.data<float>();
  for (int64_t o = 0; o < out; ++o) {
    const double inv = 1.0 / std::sqrt(double(var.data<float>()[o]) + bn.eps);
    const double s = (gamma.defined() ? gamma.data<float>()[o] : 1.0) * inv;
    for (int64_t i = 0; i < per; ++i) wd[o * per + i] = static_cast<float>(wd[o * per + i] * s);
    bd[o] = static_cast<float>((bd[o] - mean.data<float>()[o]) * s + (beta.defined() ? beta.data<float>()[o] : 0.0));
  }
}

// Adds the bias per output channel (the last dim of y) and applies act, in place.
void bias_act(Tensor& y, const Tensor& bias, const Act& act) {
  float* yd = y.data<float>();
  const int64_t out = y.size(-1), rows = y.numel() / out;
  if (bias.defined()) {
    const float* bd = bias.data<float>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < out; ++o) yd[r * out + o] += bd[o];
  }
  act.apply(yd, y.numel());
}

// ---- steps ----
// Restores a module's train/eval mode on scope exit.
struct ModeGuard {
  nn::Module& m;
  bool was;
  explicit ModeGuard(nn::Module& mod) : m(mod), was(mod.is_training()) { m.eval(); }
  ~ModeGuard() { m.train(was); }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;
};

class DenseStep : public Step {
 public:
  DenseStep(Tensor w, Tensor b, Act act) : w_(std::move(w)), b_(std::move(b)), act_(act) {}
  Tensor run(const Tensor& x) override {
    Tensor y = linear(x, w_, b_).contiguous();
    act_.apply(y.data<float>(), y.numel());
    return y;
  }
  std::string describe() const override {
    std::ostringstream os;
    os << "Linear(" << w_.size(1) << " -> " << w_.size(0) << ")" << (act_.kind ? " + " + act_.str() : "") << " [fp32]";
    return os.str();
  }

 private:
  Tensor w_, b_;
  Act act_;
};

class Int8DenseStep : public Step {
 public:
  Int8DenseStep(const Tensor& w, Tensor b, Act act) : b_(std::move(b)), act_(act) {
    out_ = w.size(0);
    in_ = w.size(1);
    in_pad_ = (in_ + quant::kBlockSize - 1) / quant::kBlockSize * quant::kBlockSize;
    std::vector<float> padded(static_cast<size_t>(out_ * in_pad_), 0.f);
    const float* wd = w.data<float>();
    for (int64_t o = 0; o < out_; ++o) std::memcpy(&padded[size_t(o * in_pad_)], wd + o * in_, size_t(in_) * sizeof(float));
    blocks_ = lld::quantize_matrix(quant::QType::sym_int8, padded.data(), out_, in_pad_);
    weight_.name = "nano.linear";
    weight_.rows = out_;
    weight_.cols = in_pad_;
    weight_.is_f32 = false;
    weight_.qtype = quant::QType::sym_int8;
    weight_.data = blocks_.data();
    if (const int64_t bytes = lld::packed_weight_bytes(weight_); bytes > 0) {
      arena_.reserve(bytes);
      lld::pack_weight(weight_, arena_);
    }
  }
  Tensor run(const Tensor& x) override {
    BIGDL_CHECK(x.dtype() == DType::f32 && x.dim() >= 1 && x.size(-1) == in_, ShapeError, "nano.Linear", "expected input with ", in_,
                " float32 features in the last dim, got ", shape_str(x.shape()), " ", dtype_name(x.dtype()));
    const Tensor xc = x.contiguous();
    const int64_t n = xc.numel() / in_;
    const float* xd = xc.data<float>();
    if (in_pad_ != in_) {  // into a per-thread buffer kept across calls (no allocation per batch)
      thread_local std::vector<float> xp;
      if (xp.size() < size_t(n * in_pad_)) xp.resize(size_t(n * in_pad_));
      for (int64_t r = 0; r < n; ++r) {
        std::memcpy(&xp[size_t(r * in_pad_)], xd + r * in_, size_t(in_) * sizeof(float));
        std::fill(&xp[size_t(r * in_pad_ + in_)], &xp[size_t((r + 1) * in_pad_)], 0.f);
      }
      xd = xp.data();
    }
    Shape s = x.shape();
    s.back() = out_;
    Tensor y = empty(s);
    lld::matmul(weight_, xd, n, y.data<float>());
    bias_act(y, b_, act_);
    return y;
  }
  std::string describe() const override {
    std::ostringstream os;
    os << "Linear(" << in_ << " -> " << out_ << ")" << (act_.kind ? " + " + act_.str() : "") << " [int8 weights, blocks of 32"
       << (in_pad_ != in_ ? ", input padded to " + std::to_string(in_pad_) : "") << "]";
    return os.str();
  }

 private:
  int64_t out_ = 0, in_ = 0, in_pad_ = 0;
  std::vector<uint8_t> blocks_;
  lld::PackedArena arena_;
  lld::Weight weight_;
  Tensor b_;
  Act act_;
};

class ConvStep : public Step {
 public:
  ConvStep(Tensor w, Tensor b, const nn::Conv2dOptions& o, Act act) : w_(std::move(w)), b_(std::move(b)), o_(o), act_(act) {}
  Tensor run(const Tensor& x) override {
    Tensor y = conv2d(x, w_, b_, o_.stride, o_.padding, o_.dilation, o_.groups).contiguous();
    act_.apply(y.data<float>(), y.numel());
    return y;
  }
  std::string describe() const override {
    std::ostringstream os;
    os << "Conv2d(" << o_.in_channels << " -> " << o_.out_channels << ", " << o_.kernel_size.first << "x"
       << o_.kernel_size.second << ")" << (act_.kind ? " + " + act_.str() : "") << " [fp32]";
    return os.str();
  }

 private:
  Tensor w_, b_;
  nn::Conv2dOptions o_;
  Act act_;
};

class ModuleStep : public Step {
 public:
  explicit ModuleStep(nn::ModulePtr m) : m_(std::move(m)) {}
  // The original module itself (shared, not copied), run in eval mode whatever mode its
  // owner has set since.
  Tensor run(const Tensor& x) override {
    ModeGuard mode(*m_);
    return m_->forward(x);
  }
  std::string describe() const override { return m_->repr() + " (module)"; }

 private:
  nn::ModulePtr m_;
};

// A Keras layer that is not a module call (padding, pooling, reshapes, ...): the layer
// itself, in eval mode.
class LayerStep : public Step {
 public:
  explicit LayerStep(keras::Layer l) : l_(std::move(l)) {}
  Tensor run(const Tensor& x) override {
    std::optional<ModeGuard> mode;
    if (l_->module()) mode.emplace(*l_->module());
    return l_->call({x});
  }
  std::string describe() const override { return l_->type() + " " + l_->name() + " (layer)"; }

 private:
  keras::Layer l_;
};

// What capture walks: a module (rewritten where it is one we know) or a Keras layer run
// as it is.
struct Item {
  nn::ModulePtr module;
  keras::Layer layer;  // when module is null
};

// True when a built Conv2D layer is its module's convolution alone (no explicit padding
// copy): the output shape the module gives for the layer's input equals the layer's.
bool conv_is_module_call(const keras::LayerImpl& l, const nn::Conv2d& c) {
  const Shape& in = l.input_shapes()[0];
  const Shape& out = l.output_shape();
  const auto& o = c.options;
  const auto dim = [](int64_t n, int64_t k, int64_t s, int64_t p, int64_t d) { return (n + 2 * p - d * (k - 1) - 1) / s + 1; };
  return in.size() == 3 && out.size() == 3 &&
         dim(in[1], o.kernel_size.first, o.stride.first, o.padding.first, o.dilation.first) == out[1] &&
         dim(in[2], o.kernel_size.second, o.stride.second, o.padding.second, o.dilation.second) == out[2];
}

// The leaves of nested nn::Sequential containers, in order; a keras::Sequential's layers
// as the modules they run (Dense / Conv2D as their Linear / Conv2d then their activation,
// Flatten / Dropout / Activation / BatchNormalization as their module) or as themselves.
void flatten(const nn::ModulePtr& m, std::vector<Item>& out) {
  if (const auto* seq = dynamic_cast<const nn::Sequential*>(m.get())) {
    for (size_t i = 0; i < seq->size(); ++i) flatten((*seq)[i], out);
    return;
  }
  if (const auto* ks = dynamic_cast<const keras::Sequential*>(m.get())) {
    for (const keras::Layer& l : ks->layers()) {
      const std::string& type = l->type();
      const auto* conv = dynamic_cast<const nn::Conv2d*>(l->module().get());
      const bool module_then_act = (type == "Dense" && dynamic_cast<const nn::Linear*>(l->module().get())) ||
                                   (type == "Conv2D" && conv && conv_is_module_call(*l, *conv));
      if (module_then_act) {
        out.push_back({l->module(), {}});
        const std::string act = l->activation();
        if (!act.empty() && act != "linear") out.push_back({keras::make_activation(act), {}});
      } else if ((type == "Flatten" || type == "Dropout" || type == "Activation" || type == "BatchNormalization") &&
                 l->module()) {
        out.push_back({l->module(), {}});
      } else {
        out.push_back({nullptr, l});
      }
    }
    return;
  }
  out.push_back({m, {}});
}

}  // namespace

const char* precision_name(Precision p) { return p == Precision::fp32 ? "fp32" : "int8_dynamic"; }

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "int8_dynamic" || name == "int8") return Precision::int8_dynamic;
  throw ValueError(bigdl::detail::cat("[nano.optimize] unknown precision '", name, "' (known: fp32, int8_dynamic)"));
}

InferenceModel::InferenceModel(std::vector<std::unique_ptr<Step>> steps, OptimizeOptions options)
    : steps_(std::move(steps)), options_(options) {
  training_ = false;
}

Tensor InferenceModel::forward(const Tensor& x) {
  NoGradGuard ng;
  Tensor y = x;
  for (auto& s : steps_) y = s->run(y);
  return y;
}

std::string InferenceModel::repr() const {
  std::ostringstream os;
  os << "InferenceModel(" << precision_name(options_.precision) << "):";
  for (size_t i = 0; i < steps_.size(); ++i) os << "\n  (" << i << ") " << steps_[i]->describe();
  return os.str();
}

std::shared_ptr<InferenceModel> optimize(const nn::ModulePtr& model, const OptimizeOptions& options) {
  BIGDL_CHECK(model != nullptr, ValueError, "nano.optimize", "no model given");
  ModeGuard mode(*model);
  NoGradGuard ng;
  std::vector<Item> items;
  flatten(model, items);
  // The module of item j, or null (a Keras layer run as itself).
  const auto mod = [&](size_t j) { return items[j].module.get(); };
  const auto noop = [&](size_t j) { return dynamic_cast<nn::Dropout*>(mod(j)) || dynamic_cast<nn::Identity*>(mod(j)); };
  std::vector<std::unique_ptr<Step>> steps;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].module) {
      steps.push_back(std::make_unique<LayerStep>(items[i].layer));
      continue;
    }
    if (noop(i)) continue;
    auto* lin = dynamic_cast<nn::Linear*>(mod(i));
    auto* conv = dynamic_cast<nn::Conv2d*>(mod(i));
    if (!lin && !conv) {
      steps.push_back(std::make_unique<ModuleStep>(items[i].module));
      continue;
    }
    Tensor w = copy_of(lin ? lin->weight : conv->weight), b = copy_of(lin ? lin->bias : conv->bias);
    // What follows: BatchNorm to fold, then an activation to fuse (Dropout / Identity
    // between them are no-ops in eval and skipped).
    size_t j = i + 1;
    const auto skip_noops = [&] {
      while (j < items.size() && items[j].module && noop(j)) ++j;
    };
    skip_noops();
    if (options.fold_batchnorm && j < items.size())
      if (const auto* bn = dynamic_cast<const nn::BatchNorm*>(mod(j))) {
        fold_batchnorm(*bn, w, b);
        ++j;
        skip_noops();
      }
    Act act;
    if (options.fuse_activation && j < items.size() && items[j].module) {
      act = activation_of(*items[j].module);
      if (act.kind != Act::none) ++j;
    }
    if (conv) steps.push_back(std::make_unique<ConvStep>(w, b, conv->options, act));
    else if (options.precision == Precision::int8_dynamic) steps.push_back(std::make_unique<Int8DenseStep>(w, b, act));
    else steps.push_back(std::make_unique<DenseStep>(w, b, act));
    i = j - 1;
  }
  BIGDL_CHECK(!steps.empty(), ValueError, "nano.optimize", "the model has no layers to run");
  return std::make_shared<InferenceModel>(std::move(steps), options);
}

}  // namespace bigdl::nano
