// Nano's capture of a trained model into an InferenceModel (include/bigdl/nano/inference.h):
// capture (chains and Keras graphs), BatchNorm folding, activation fusion, the fp32 / bf16 /
// int8 layer steps, int8 calibration, and save / load.
#include "bigdl/nano/inference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "backend/cpu/onednn_infer.h"
#include "bigdl/autograd.h"
#include "bigdl/error.h"
#include "bigdl/io/tensor_io.h"
#include "bigdl/nn/modules.h"
#include "bigdl/ops.h"
#include "bigdl/train/keras.h"
#include "core/internal.h"
#include "llm/weights.h"
#include "nano/graph.h"
#include "nano/onnx_ops.h"

namespace bigdl::nano {
namespace {

namespace quant = bigdl::detail::quant;
namespace lld = bigdl::llm::detail;

// An activation applied in place on a layer's output (or fused into a oneDNN kernel).
using Act = bigdl::detail::Eltwise;

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

// A Linear or Conv2d on a oneDNN inference layer (src/backend/cpu/onednn_infer.h):
// weights prepacked once, bias and activation in the kernel; fp32, bf16 or int8 (static).
class DnnlStep : public Step {
 public:
  DnnlStep(const detail::InferLayerSpec& spec, const Tensor& w, const Tensor& b)
      : layer_(spec, w.data<float>(), b.defined() ? b.data<float>() : nullptr) {}
  const detail::InferLayer& layer() const { return layer_; }
  Tensor run(const Tensor& x) override {
    const detail::InferLayerSpec& s = layer_.spec();
    const char* op = s.conv ? "nano.Conv2d" : "nano.Linear";
    BIGDL_CHECK(x.dtype() == DType::f32, DTypeError, op, "expected float32 input, got ", dtype_name(x.dtype()));
    const Tensor xc = x.contiguous();
    if (!s.conv) {
      BIGDL_CHECK(x.dim() >= 1 && x.size(-1) == s.in, ShapeError, op, "expected ", s.in, " features in the last dim, got ",
                  shape_str(x.shape()));
      Shape shape = x.shape();
      shape.back() = s.out;
      Tensor y = empty(shape);
      if (y.numel() > 0) layer_.forward(xc.data<float>(), xc.numel() / s.in, 1, 1, y.data<float>());
      return y;
    }
    BIGDL_CHECK(x.dim() == 4 && x.size(1) == s.in, ShapeError, op, "expected input [N, ", s.in, ", H, W], got ",
                shape_str(x.shape()));
    const auto [oh, ow] = layer_.out_hw(x.size(2), x.size(3));
    BIGDL_CHECK(oh > 0 && ow > 0, ShapeError, op, "input ", shape_str(x.shape()), " is smaller than the kernel");
    Tensor y = empty({x.size(0), s.out, oh, ow});
    if (y.numel() > 0) layer_.forward(xc.data<float>(), x.size(0), x.size(2), x.size(3), y.data<float>());
    return y;
  }
  std::string describe() const override {
    const detail::InferLayerSpec& s = layer_.spec();
    std::ostringstream os;
    if (s.conv) os << "Conv2d(" << s.in << " -> " << s.out << ", " << s.kh << "x" << s.kw << ")";
    else os << "Linear(" << s.in << " -> " << s.out << ")";
    if (s.act.kind) os << " + " << s.act.str();
    os << " [" << detail::infer_precision_name(s.precision);
    if (s.precision == detail::InferPrecision::int8)
      os << " static: " << (s.input_unsigned ? "u8" : "s8") << " input x " << s.input_scale << ", weights per channel";
    const std::string impl = layer_.impl_info();
    os << ", oneDNN" << (impl.empty() ? "" : " " + impl) << "]";
    return os.str();
  }

 private:
  detail::InferLayer layer_;
};

class DenseStep : public Step {
 public:
  DenseStep(Tensor w, Tensor b, Act act) : w_(std::move(w)), b_(std::move(b)), act_(act) {}
  const Tensor& weight() const { return w_; }
  const Tensor& bias() const { return b_; }
  const Act& act() const { return act_; }
  // Below kBigRows rows our GEMM (faster there: the MNIST MLP at batch 1 and 32); from it
  // on, oneDNN's f32 inner product with the weights prepacked on first use (measured 13-20 %
  // faster on all-MiniLM-L6-v2's 128 and 4096-row products on Zen 5).
  static constexpr int64_t kBigRows = 128;
  Tensor run(const Tensor& x) override {
    if (x.dtype() == DType::f32 && x.dim() >= 1 && x.size(-1) == w_.size(1) && x.numel() / std::max<int64_t>(1, w_.size(1)) >= kBigRows) {
      std::call_once(big_once_, [&] {
        detail::InferLayerSpec s;
        s.in = w_.size(1), s.out = w_.size(0), s.act = act_;
        big_ = std::make_unique<DnnlStep>(s, w_, b_);
      });
      return big_->run(x);
    }
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
  std::once_flag big_once_;
  std::unique_ptr<DnnlStep> big_;
};

// int8 dynamic: the weights quantized once to GGUF's Q8_0 blocks (what a saved model
// stores), the layer run by oneDNN's int8 matmul (detail::DynamicInt8Linear) with
// per-channel int8 weights made from those blocks' values and each input row quantized
// at each call. Measured on all-MiniLM-L6-v2 (Zen 5, 4096 rows): about twice the speed of
// the LLM engine's x8 GEMM over the same blocks, which ran at f32 speed on such products.
class Int8DenseStep : public Step {
 public:
  Int8DenseStep(const Tensor& w, Tensor b, Act act) : b_(std::move(b)), act_(act) {
    out_ = w.size(0);
    in_ = w.size(1);
    const int64_t pad = padded(in_);
    std::vector<float> rows(static_cast<size_t>(out_ * pad), 0.f);
    const float* wd = w.data<float>();
    for (int64_t o = 0; o < out_; ++o) std::memcpy(&rows[size_t(o * pad)], wd + o * in_, size_t(in_) * sizeof(float));
    blocks_ = lld::quantize_matrix(quant::QType::sym_int8, rows.data(), out_, pad);
    build();
  }
  // From the quantized blocks themselves (a saved model): no re-quantization.
  Int8DenseStep(int64_t out, int64_t in, std::vector<uint8_t> blocks, Tensor b, Act act)
      : out_(out), in_(in), blocks_(std::move(blocks)), b_(std::move(b)), act_(act) {
    const int64_t want = out_ * quant::row_bytes(quant::QType::sym_int8, padded(in_));
    BIGDL_CHECK(int64_t(blocks_.size()) == want, ValueError, "nano.load", "int8 Linear(", in_, " -> ", out_, ") needs ", want,
                " bytes of blocks, the file has ", blocks_.size());
    build();
  }
  Tensor run(const Tensor& x) override {
    BIGDL_CHECK(x.dtype() == DType::f32 && x.dim() >= 1 && x.size(-1) == in_, ShapeError, "nano.Linear", "expected input with ", in_,
                " float32 features in the last dim, got ", shape_str(x.shape()), " ", dtype_name(x.dtype()));
    const Tensor xc = x.contiguous();
    Shape s = x.shape();
    s.back() = out_;
    Tensor y = empty(s);
    if (y.numel() > 0) layer_->forward(xc.data<float>(), xc.numel() / in_, y.data<float>());
    return y;
  }
  int64_t in() const { return in_; }
  int64_t out() const { return out_; }
  const std::vector<uint8_t>& blocks() const { return blocks_; }
  const Tensor& bias() const { return b_; }
  const Act& act() const { return act_; }
  std::string describe() const override {
    std::ostringstream os;
    os << "Linear(" << in_ << " -> " << out_ << ")" << (act_.kind ? " + " + act_.str() : "")
       << " [int8 dynamic: weights per channel (from Q8_0 blocks), inputs per row, oneDNN]";
    return os.str();
  }

 private:
  static int64_t padded(int64_t in) { return (in + quant::kBlockSize - 1) / quant::kBlockSize * quant::kBlockSize; }
  void build() {
    lld::Weight wt;
    wt.name = "nano.linear";
    wt.rows = out_;
    wt.cols = padded(in_);
    wt.is_f32 = false;
    wt.qtype = quant::QType::sym_int8;
    wt.data = blocks_.data();
    std::vector<float> w(size_t(out_ * wt.cols));
    for (int64_t o = 0; o < out_; ++o) lld::copy_row(wt, o, &w[size_t(o * wt.cols)]);
    for (int64_t o = 0; o < out_; ++o)  // drop the zero padding: rows of in_
      std::memmove(&w[size_t(o * in_)], &w[size_t(o * wt.cols)], size_t(in_) * sizeof(float));
    layer_ = std::make_unique<detail::DynamicInt8Linear>(in_, out_, w.data(), b_.defined() ? b_.data<float>() : nullptr, act_);
  }

  int64_t out_ = 0, in_ = 0;
  std::vector<uint8_t> blocks_;
  Tensor b_;
  Act act_;
  std::unique_ptr<detail::DynamicInt8Linear> layer_;
};


// MaxPool2d without the argmax indices the module keeps for its backward pass (measured:
// the module's pooling was 40 % of LeNet's fp32 inference at batch 32); NaN propagates as
// in the module. Planes are split over the thread pool.
class MaxPoolStep : public Step {
 public:
  explicit MaxPoolStep(const nn::MaxPool2d& m) : MaxPoolStep(m.kernel, m.stride, m.padding) {}
  MaxPoolStep(std::pair<int64_t, int64_t> k, std::pair<int64_t, int64_t> s, std::pair<int64_t, int64_t> p) : k_(k), s_(s), p_(p) {
    BIGDL_CHECK(k_.first > 0 && k_.second > 0 && s_.first > 0 && s_.second > 0 && p_.first >= 0 && p_.second >= 0, ValueError,
                "nano.MaxPool2d", "invalid window");
  }
  std::pair<int64_t, int64_t> kernel() const { return k_; }
  std::pair<int64_t, int64_t> stride() const { return s_; }
  std::pair<int64_t, int64_t> padding() const { return p_; }
  Tensor run(const Tensor& x) override {
    BIGDL_CHECK(x.dtype() == DType::f32 && x.dim() == 4, ShapeError, "nano.MaxPool2d", "expected float32 input [N, C, H, W], got ",
                shape_str(x.shape()), " ", dtype_name(x.dtype()));
    const Tensor xc = x.contiguous();
    const int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
    const int64_t oh = (h + 2 * p_.first - k_.first) / s_.first + 1, ow = (w + 2 * p_.second - k_.second) / s_.second + 1;
    BIGDL_CHECK(oh > 0 && ow > 0, ShapeError, "nano.MaxPool2d", "input ", shape_str(x.shape()), " is smaller than the window");
    Tensor y = empty({x.size(0), x.size(1), oh, ow});
    const float* xd = xc.data<float>();
    float* yd = y.data<float>();
    detail::parallel_for(planes, std::max<int64_t>(1, 4096 / (h * w)), [&](int64_t a, int64_t e) {
      for (int64_t pl = a; pl < e; ++pl) {
        const float* src = xd + pl * h * w;
        float* dst = yd + pl * oh * ow;
        // Row by row of the output, one window tap at a time over the whole row: branch-free
        // and vectorisable (the window's taps are few, the row's outputs many).
        for (int64_t i = 0; i < oh; ++i) {
          float* out = dst + i * ow;
          std::fill(out, out + ow, -std::numeric_limits<float>::infinity());
          const int64_t r0 = std::max<int64_t>(0, i * s_.first - p_.first), r1 = std::min(h, i * s_.first - p_.first + k_.first);
          for (int64_t r = r0; r < r1; ++r)
            for (int64_t c = 0; c < k_.second; ++c) {
              // outputs j whose tap c falls inside the row: 0 <= j * stride - pad + c < w
              const int64_t off = c - p_.second, st = s_.second;
              const int64_t j0 = off >= 0 ? 0 : (-off + st - 1) / st, j1 = std::min(ow, (w - off + st - 1) / st);
              const float* in = src + r * w + off;
              for (int64_t j = j0; j < j1; ++j) {
                const float v = in[j * st];
                out[j] = (v > out[j] || v != v) ? v : out[j];
              }
            }
        }
      }
    });
    return y;
  }
  std::string describe() const override {
    std::ostringstream os;
    os << "MaxPool2d(" << k_.first << "x" << k_.second << ", stride " << s_.first << "x" << s_.second << ")";
    return os.str();
  }

 private:
  std::pair<int64_t, int64_t> k_, s_, p_;
};

// Keras' GlobalAveragePooling2D: [N, C, H, W] -> [N, C], the mean of each plane.
class GlobalAvgPoolStep : public Step {
 public:
  Tensor run(const Tensor& x) override {
    BIGDL_CHECK(x.dtype() == DType::f32 && x.dim() == 4, ShapeError, "nano.GlobalAveragePooling2D",
                "expected float32 input [N, C, H, W], got ", shape_str(x.shape()), " ", dtype_name(x.dtype()));
    const Tensor xc = x.contiguous();
    const int64_t planes = x.size(0) * x.size(1), hw = x.size(2) * x.size(3);
    Tensor y = empty({x.size(0), x.size(1)});
    const float* xd = xc.data<float>();
    float* yd = y.data<float>();
    for (int64_t p = 0; p < planes; ++p) {
      double sum = 0;
      for (int64_t i = 0; i < hw; ++i) sum += xd[p * hw + i];
      yd[p] = static_cast<float>(sum / double(hw));
    }
    return y;
  }
  std::string describe() const override { return "GlobalAveragePooling2D"; }
};

class ModuleStep : public Step {
 public:
  explicit ModuleStep(nn::ModulePtr m) : m_(std::move(m)) {}
  const nn::ModulePtr& module() const { return m_; }
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
class KerasLayerStep : public Step {
 public:
  explicit KerasLayerStep(keras::Layer l) : l_(std::move(l)) {}
  const keras::Layer& layer() const { return l_; }
  Tensor run(const Tensor& x) override { return run_inputs({x}); }
  Tensor run_inputs(const std::vector<Tensor>& xs) override {
    std::optional<ModeGuard> mode;
    if (l_->module()) mode.emplace(*l_->module());
    return l_->call(xs);
  }
  std::string describe() const override { return l_->type() + " " + l_->name() + " (layer)"; }

 private:
  keras::Layer l_;
};

// What capture walks: a graph of items (nano/graph.h). A Sequential is a chain.
using graph::Item;

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

// Appends the items of one Keras layer reading `in`: Dense / Conv2D as their Linear /
// Conv2d then their activation, Flatten / Dropout / Activation / BatchNormalization as
// their module, Add as an add item, any other layer as itself. Returns the item that
// holds the layer's output.
int add_keras_layer(const keras::Layer& l, std::vector<int> in, std::vector<Item>& out) {
  const std::string& type = l->type();
  const auto* conv = dynamic_cast<const nn::Conv2d*>(l->module().get());
  const bool module_then_act = (type == "Dense" && dynamic_cast<const nn::Linear*>(l->module().get())) ||
                               (type == "Conv2D" && conv && conv_is_module_call(*l, *conv));
  // A MaxPooling2D that pads nothing is its module's pooling ("same" pads with -inf first).
  const auto* pool = dynamic_cast<const nn::MaxPool2d*>(l->module().get());
  const bool pool_call = type == "MaxPooling2D" && pool && l->input_shapes()[0].size() == 3 &&
                         (l->input_shapes()[0][1] - pool->kernel.first) / pool->stride.first + 1 == l->output_shape()[1] &&
                         (l->input_shapes()[0][2] - pool->kernel.second) / pool->stride.second + 1 == l->output_shape()[2];
  if (pool_call) {
    out.push_back({l->module(), {}, false, std::move(in), nullptr});
  } else if (module_then_act) {
    out.push_back({l->module(), {}, false, std::move(in), nullptr});
    const std::string act = l->activation();
    if (!act.empty() && act != "linear") out.push_back({keras::make_activation(act), {}, false, {int(out.size()) - 1}, nullptr});
  } else if ((type == "Flatten" || type == "Dropout" || type == "Activation" || type == "BatchNormalization") && l->module()) {
    out.push_back({l->module(), {}, false, std::move(in), nullptr});
  } else if (type == "Add") {
    out.push_back({nullptr, {}, true, std::move(in), nullptr});
  } else {
    out.push_back({nullptr, l, false, std::move(in), nullptr});
  }
  return int(out.size()) - 1;
}

// The items of m as a chain reading `from` (nested nn::Sequential containers flattened,
// a keras::Sequential's layers as above); returns the last item (from when m is empty).
int add_chain(const nn::ModulePtr& m, int from, std::vector<Item>& out) {
  if (const auto* seq = dynamic_cast<const nn::Sequential*>(m.get())) {
    for (size_t i = 0; i < seq->size(); ++i) from = add_chain((*seq)[i], from, out);
    return from;
  }
  if (const auto* ks = dynamic_cast<const keras::Sequential*>(m.get())) {
    for (const keras::Layer& l : ks->layers()) from = add_keras_layer(l, {from}, out);
    return from;
  }
  out.push_back({m, {}, false, {from}, nullptr});
  return int(out.size()) - 1;
}

// The items of a functional keras::Model with one input and one output, in topological
// order (depth-first from the output); returns the output's item (-1: the input itself).
int add_graph(const keras::Model& model, std::vector<Item>& out) {
  std::unordered_map<const void*, int> item_of;  // node -> item
  item_of[model.inputs()[0].impl()] = -1;
  std::vector<std::pair<keras::Node, bool>> stack{{model.outputs()[0], false}};
  while (!stack.empty()) {
    auto [n, expanded] = stack.back();
    stack.pop_back();
    if (item_of.count(n.impl())) continue;
    BIGDL_CHECK(!n.is_input(), ValueError, "nano.optimize", "the model reads an input other than its first");
    if (!expanded) {  // its inputs first, then itself
      stack.push_back({n, true});
      for (const keras::Node& i : n.inputs())
        if (!item_of.count(i.impl())) stack.push_back({i, false});
      continue;
    }
    std::vector<int> in;
    for (const keras::Node& i : n.inputs()) in.push_back(item_of.at(i.impl()));
    item_of[n.impl()] = add_keras_layer(n.layer(), std::move(in), out);
  }
  return item_of.at(model.outputs()[0].impl());
}

// The items of any model; `output` is the item holding its output.
std::vector<Item> capture(const nn::ModulePtr& m, int& output) {
  std::vector<Item> items;
  const auto* km = dynamic_cast<const keras::Model*>(m.get());
  if (km && km->inputs().size() == 1 && km->outputs().size() == 1) output = add_graph(*km, items);
  else output = add_chain(m, -1, items);
  return items;
}

// Adds the items' outputs in place: y = act(x0 + x1 + ...), the Keras Add (and the
// activation after it).
class AddStep : public Step {
 public:
  AddStep(size_t n, Act act) : n_(n), act_(act) {}
  size_t inputs() const { return n_; }
  const Act& act() const { return act_; }
  Tensor run(const Tensor& x) override { return run_inputs({x}); }
  Tensor run_inputs(const std::vector<Tensor>& xs) override {
    Tensor y = xs[0].contiguous().clone();
    for (size_t i = 1; i < xs.size(); ++i) {
      BIGDL_CHECK(xs[i].shape() == y.shape(), ShapeError, "nano.Add", "inputs ", shape_str(y.shape()), " and ",
                  shape_str(xs[i].shape()), " differ");
      const Tensor xi = xs[i].contiguous();
      float* yd = y.data<float>();
      const float* xd = xi.data<float>();
      for (int64_t k = 0, n = y.numel(); k < n; ++k) yd[k] += xd[k];
    }
    act_.apply(y.data<float>(), y.numel());
    return y;
  }
  std::string describe() const override { return "Add(" + std::to_string(n_) + " inputs)" + (act_.kind ? " + " + act_.str() : ""); }

 private:
  size_t n_;
  Act act_;
};

// ---- int8 static: the input range of each layer, from calibration data ----
// Observes the values that reach one layer: their min / max (pass 1), then a histogram of
// |x| over [0, max |x|] (pass 2, percentile and entropy only).
class RangeObserver {
 public:
  static constexpr int kBins = 2048;

  void observe_minmax(const Tensor& x) {
    const float* d = x.data<float>();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) {
      min_ = std::min(min_, d[i]);
      max_ = std::max(max_, d[i]);
    }
  }
  float amax() const { return std::max(std::fabs(min_), std::fabs(max_)); }
  bool non_negative() const { return min_ >= 0.f; }
  void observe_histogram(const Tensor& x) {
    if (hist_.empty()) hist_.assign(kBins, 0.0);
    const float a = amax();
    if (a <= 0.f) return;
    const float* d = x.data<float>();
    for (int64_t i = 0, n = x.numel(); i < n; ++i)
      ++hist_[size_t(std::min<int64_t>(kBins - 1, int64_t(std::fabs(d[i]) / a * kBins)))];
  }
  // The clipping threshold T (the input is quantized over [0, T] or [-T, T]).
  float threshold(Calibration how, double percentile) const {
    const float a = amax();
    if (how == Calibration::minmax || a <= 0.f || hist_.empty()) return a;
    const double total = std::accumulate(hist_.begin(), hist_.end(), 0.0);
    const double width = double(a) / kBins;
    if (how == Calibration::percentile) {
      double seen = 0;
      for (int i = 0; i < kBins; ++i) {
        seen += hist_[size_t(i)];
        if (seen >= total * percentile / 100.0) return float((i + 1) * width);
      }
      return a;
    }
    return float(entropy_bins() * width);
  }

 private:
  // The number of histogram bins to keep that minimises the KL divergence between the
  // clipped distribution and its quantized version (TensorRT's entropy calibration), with
  // 128 levels for a signed input (|x| over [0, T]) or 256 for a non-negative one.
  int entropy_bins() const {
    const int levels = non_negative() ? 256 : 128;
    int best = kBins;
    double best_kl = std::numeric_limits<double>::infinity();
    std::vector<double> p, q;
    for (int i = levels; i <= kBins; ++i) {
      p.assign(hist_.begin(), hist_.begin() + i);
      p[size_t(i - 1)] += std::accumulate(hist_.begin() + i, hist_.end(), 0.0);  // the clipped tail
      q.assign(size_t(i), 0.0);
      for (int l = 0; l < levels; ++l) {  // bins [b0, b1) merge into one level, spread over their non-empty bins
        const int b0 = int(int64_t(l) * i / levels), b1 = int(int64_t(l + 1) * i / levels);
        double sum = 0;
        int nonzero = 0;
        for (int b = b0; b < b1; ++b) sum += hist_[size_t(b)], nonzero += hist_[size_t(b)] > 0;
        for (int b = b0; b < b1; ++b)
          if (hist_[size_t(b)] > 0) q[size_t(b)] = sum / nonzero;
      }
      const double ps = std::accumulate(p.begin(), p.end(), 0.0), qs = std::accumulate(q.begin(), q.end(), 0.0);
      if (ps <= 0 || qs <= 0) continue;
      double kl = 0;
      for (int b = 0; b < i; ++b) {
        if (p[size_t(b)] <= 0) continue;
        const double pb = p[size_t(b)] / ps, qb = q[size_t(b)] / qs;
        kl += qb > 0 ? pb * std::log(pb / qb) : pb * 1e3;  // mass with nothing quantized to it: heavily penalised
      }
      if (kl < best_kl) best_kl = kl, best = i;
    }
    return best;
  }

  float min_ = std::numeric_limits<float>::infinity(), max_ = -std::numeric_limits<float>::infinity();
  std::vector<double> hist_;
};

// A Linear or Conv2d of the captured model: weights folded, activation to fuse.
struct LayerPlan {
  bool conv = false;
  Tensor w, b;
  nn::Conv2dOptions o;
  Act act;
};

detail::InferLayerSpec spec_of(const LayerPlan& l, detail::InferPrecision precision) {
  detail::InferLayerSpec s;
  s.conv = l.conv;
  s.in = l.w.size(1) * (l.conv ? l.o.groups : 1);
  s.out = l.w.size(0);
  if (l.conv) {
    s.kh = l.o.kernel_size.first, s.kw = l.o.kernel_size.second;
    s.sh = l.o.stride.first, s.sw = l.o.stride.second;
    s.ph = l.o.padding.first, s.pw = l.o.padding.second;
    s.dh = l.o.dilation.first, s.dw = l.o.dilation.second;
    s.groups = l.o.groups;
  }
  s.precision = precision;
  s.act = l.act;
  return s;
}

// The step for a layer at a precision (fp32 Linear: our own GEMM, measured faster than
// oneDNN's at these sizes, docs/nano.md; convolutions: oneDNN, prepacked).
std::unique_ptr<Step> layer_step(const LayerPlan& l, Precision p) {
  switch (p) {
    case Precision::fp32:
      if (!l.conv) return std::make_unique<DenseStep>(l.w, l.b, l.act);
      return std::make_unique<DnnlStep>(spec_of(l, detail::InferPrecision::f32), l.w, l.b);
    case Precision::bf16:
      return std::make_unique<DnnlStep>(spec_of(l, detail::InferPrecision::bf16), l.w, l.b);
    case Precision::int8_dynamic:
      if (!l.conv) return std::make_unique<Int8DenseStep>(l.w, l.b, l.act);
      return std::make_unique<DnnlStep>(spec_of(l, detail::InferPrecision::f32), l.w, l.b);
    case Precision::int8_static:
      break;  // built after calibration
  }
  return nullptr;
}

// The step after which each slot is last read (slots 0 .. n_in - 1: the inputs; step k
// writes n_in + k); outputs are never released (their entry is the step count).
std::vector<size_t> last_reads(const std::vector<std::vector<size_t>>& args, size_t n_in, const std::vector<size_t>& outputs) {
  std::vector<size_t> last(args.size() + n_in, 0);
  for (size_t k = 0; k < args.size(); ++k)
    for (size_t a : args[k]) last[a] = k;
  for (size_t o : outputs) last[o] = args.size();
  return last;
}

// Runs steps over slots: slots 0 .. n_in - 1 hold the inputs, step k reads the slots
// args[k] and writes slot n_in + k; a slot is released after its last reader (last:
// last_reads). observe(k, inputs), when given, sees each step's inputs first (calibration).
using StepObserver = std::function<void(size_t, const std::vector<Tensor>&)>;
std::vector<Tensor> run_graph(const std::vector<std::unique_ptr<Step>>& steps, const std::vector<std::vector<size_t>>& args,
                              const std::vector<size_t>& last, const std::vector<size_t>& outputs, const std::vector<Tensor>& xs,
                              const StepObserver* observe) {
  const size_t n_in = xs.size();
  std::vector<Tensor> slots(steps.size() + n_in);
  std::copy(xs.begin(), xs.end(), slots.begin());
  for (size_t k = 0; k < steps.size(); ++k) {
    const std::vector<size_t>& a = args[k];
    if (a.size() == 1 && !observe) {
      slots[n_in + k] = steps[k]->run(slots[a[0]]);
    } else {
      std::vector<Tensor> ins;
      for (size_t i : a) ins.push_back(slots[i]);
      if (observe) (*observe)(k, ins);
      slots[n_in + k] = ins.size() == 1 ? steps[k]->run(ins[0]) : steps[k]->run_inputs(ins);
    }
    for (size_t i : a)
      if (last[i] == k) slots[i] = Tensor();
  }
  std::vector<Tensor> out;
  for (size_t o : outputs) out.push_back(slots[o]);
  return out;
}

}  // namespace

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::bf16: return "bf16";
    case Precision::int8_static: return "int8_static";
    case Precision::int8_dynamic: return "int8_dynamic";
  }
  return "?";
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  if (name == "int8_static" || name == "int8") return Precision::int8_static;
  if (name == "int8_dynamic") return Precision::int8_dynamic;
  throw ValueError(bigdl::detail::cat("[nano.optimize] unknown precision '", name,
                                      "' (known: fp32, bf16, int8_static, int8_dynamic)"));
}

const char* calibration_name(Calibration c) {
  return c == Calibration::minmax ? "minmax" : c == Calibration::percentile ? "percentile" : "entropy";
}

Calibration parse_calibration(const std::string& name) {
  if (name == "minmax") return Calibration::minmax;
  if (name == "percentile") return Calibration::percentile;
  if (name == "entropy" || name == "kl") return Calibration::entropy;
  throw ValueError(bigdl::detail::cat("[nano.optimize] unknown calibration '", name, "' (known: minmax, percentile, entropy)"));
}

bool native_bf16() { return detail::native_bf16(); }
int int8_weight_max() { return detail::int8_weight_max(); }

InferenceModel::InferenceModel(std::vector<std::unique_ptr<Step>> steps, std::vector<std::vector<size_t>> args,
                               std::vector<size_t> outputs, OptimizeOptions options, size_t num_inputs)
    : steps_(std::move(steps)), args_(std::move(args)), outputs_(std::move(outputs)), num_inputs_(num_inputs), options_(options) {
  BIGDL_ASSERT(args_.size() == steps_.size() && num_inputs_ >= 1 && !outputs_.empty());
  for (size_t o : outputs_) BIGDL_ASSERT(o < steps_.size() + num_inputs_);
  for (size_t k = 0; k < args_.size(); ++k)
    for (size_t a : args_[k]) BIGDL_ASSERT(a < num_inputs_ + k);
  last_ = last_reads(args_, num_inputs_, outputs_);
  training_ = false;
}

Tensor InferenceModel::forward(const Tensor& x) {
  BIGDL_CHECK(num_inputs_ == 1, ValueError, "nano.InferenceModel", "the model takes ", num_inputs_,
              " inputs; call forward_inputs with all of them");
  return forward_inputs({x}).at(0);
}

std::vector<Tensor> InferenceModel::forward_inputs(const std::vector<Tensor>& xs) {
  BIGDL_CHECK(xs.size() == num_inputs_, ValueError, "nano.InferenceModel", "the model takes ", num_inputs_, " inputs, got ",
              xs.size());
  for (size_t i = 0; i < xs.size(); ++i)
    BIGDL_CHECK(xs[i].defined(), ValueError, "nano.InferenceModel", "input ", i, " is not given");
  NoGradGuard ng;
  return run_graph(steps_, args_, last_, outputs_, xs, nullptr);
}

void InferenceModel::set_names(std::vector<std::string> inputs, std::vector<std::string> outputs) {
  BIGDL_CHECK((inputs.empty() || inputs.size() == num_inputs_) && (outputs.empty() || outputs.size() == outputs_.size()), ValueError,
              "nano.InferenceModel", "names for ", inputs.size(), " inputs and ", outputs.size(), " outputs; the model has ",
              num_inputs_, " and ", outputs_.size());
  input_names_ = std::move(inputs);
  output_names_ = std::move(outputs);
}

std::string InferenceModel::repr() const {
  std::ostringstream os;
  os << "InferenceModel(" << precision_name(options_.precision) << "):";
  for (size_t i = 0; i < steps_.size(); ++i) {
    os << "\n  (" << i << ") " << steps_[i]->describe();
    const bool chained = args_[i].size() == 1 && args_[i][0] == i + num_inputs_ - 1 && !(i == 0 && num_inputs_ > 1);  // reads the step before
    if (!chained && !args_[i].empty()) {
      os << "  <- ";
      for (size_t k = 0; k < args_[i].size(); ++k) {
        const size_t a = args_[i][k];
        os << (k ? ", " : "")
           << (a < num_inputs_ ? (num_inputs_ == 1 ? std::string("input") : "input " + std::to_string(a)) : "(" + std::to_string(a - num_inputs_) + ")");
      }
    }
  }
  return os.str();
}

std::shared_ptr<InferenceModel> optimize(const nn::ModulePtr& model, const OptimizeOptions& options) {
  BIGDL_CHECK(model != nullptr, ValueError, "nano.optimize", "no model given");
  ModeGuard mode(*model);
  NoGradGuard ng;
  int output_item = -1;
  std::vector<Item> items = capture(model, output_item);
  return graph::build(std::move(items), {output_item}, 1, options, "nano.optimize");
}

std::shared_ptr<InferenceModel> graph::build(std::vector<Item> items, const std::vector<int>& outputs, size_t num_inputs,
                                             const OptimizeOptions& options, const char* op) {
  BIGDL_CHECK(options.precision != Precision::bf16 || native_bf16(), ValueError, op,
              "bf16 needs a CPU with AVX-512 BF16 or AMX-BF16; this one would only emulate it");
  const bool calibrate = options.precision == Precision::int8_static;
  if (calibrate) {
    const Tensor& c = options.calibration_data;
    BIGDL_CHECK(num_inputs == 1, ValueError, op, "int8_static calibrates models with one input; this one has ", num_inputs,
                " (use int8_dynamic)");
    BIGDL_CHECK(c.defined() && c.dim() >= 1 && c.size(0) > 0, ValueError, op,
                "int8_static needs calibration_data (a batch of inputs, e.g. training rows)");
    BIGDL_CHECK(c.dtype() == DType::f32, DTypeError, op, "calibration_data must be float32, got ", dtype_name(c.dtype()));
    BIGDL_CHECK(options.percentile > 0 && options.percentile <= 100, ValueError, op, "percentile must be in (0, 100], got ",
                options.percentile);
  }
  NoGradGuard ng;
  const int n = int(items.size());
  // Who reads each item: fusing a layer with what follows needs that to be its only reader.
  std::vector<int> readers(size_t(n), 0), sole_reader(size_t(n), -1);
  for (const Item& it : items)
    for (int i : it.in)
      if (i >= 0) ++readers[size_t(i)];
  for (int o : outputs)
    if (o >= 0) ++readers[size_t(o)];
  for (int j = 0; j < n; ++j)
    for (int i : items[size_t(j)].in)
      if (i >= 0 && readers[size_t(i)] == 1) sole_reader[size_t(i)] = j;
  const auto mod = [&](int j) { return items[size_t(j)].module.get(); };
  const auto noop = [&](int j) { return dynamic_cast<nn::Dropout*>(mod(j)) || dynamic_cast<nn::Identity*>(mod(j)); };
  // The item after j when j has one reader, skipping (and absorbing) no-ops in eval mode.
  const auto follow = [&](int j, std::vector<int>& absorbed) {
    int r = sole_reader[size_t(j)];
    while (r >= 0 && mod(r) && noop(r)) absorbed.push_back(r), r = sole_reader[size_t(r)];
    return r;
  };
  std::vector<size_t> slot_of(size_t(n), 0);  // the slot holding each item's output
  const auto slots_of = [&](const std::vector<int>& in) {
    std::vector<size_t> v;
    for (int i : in) v.push_back(i < 0 ? size_t(-1 - i) : slot_of[size_t(i)]);
    return v;
  };
  std::vector<bool> done(size_t(n), false);
  std::vector<std::unique_ptr<Step>> steps;
  std::vector<std::vector<size_t>> args;
  std::vector<std::pair<size_t, LayerPlan>> layers;  // (step index, layer) of each Linear / Conv2d
  // Adds a step for items `absorbed` (the first one's inputs); they all hold its output.
  const auto emit = [&](std::unique_ptr<Step> step, const std::vector<int>& absorbed) {
    args.push_back(slots_of(items[size_t(absorbed[0])].in));
    steps.push_back(std::move(step));
    for (int a : absorbed) slot_of[size_t(a)] = num_inputs + steps.size() - 1, done[size_t(a)] = true;
  };
  for (int i = 0; i < n; ++i) {
    if (done[size_t(i)]) continue;
    const Item& it = items[size_t(i)];
    if (it.step) {
      emit(std::move(items[size_t(i)].step), {i});
      continue;
    }
    if (it.module && !options.rewrite) {
      emit(std::make_unique<ModuleStep>(it.module), {i});
      continue;
    }
    if (it.module && noop(i)) {
      slot_of[size_t(i)] = slots_of(it.in)[0];
      continue;
    }
    std::vector<int> absorbed{i};
    if (it.add) {
      Act act;
      const int r = follow(i, absorbed);
      if (options.fuse_activation && r >= 0 && mod(r) && (act = activation_of(*mod(r))).kind != Act::none) absorbed.push_back(r);
      emit(std::make_unique<AddStep>(it.in.size(), act), absorbed);
      continue;
    }
    if (!it.module) {
      if (it.layer->type() == "GlobalAveragePooling2D") emit(std::make_unique<GlobalAvgPoolStep>(), absorbed);
      else emit(std::make_unique<KerasLayerStep>(it.layer), absorbed);
      continue;
    }
    auto* lin = dynamic_cast<nn::Linear*>(mod(i));
    auto* conv = dynamic_cast<nn::Conv2d*>(mod(i));
    if (!lin && !conv) {
      if (const auto* pool = dynamic_cast<const nn::MaxPool2d*>(mod(i))) emit(std::make_unique<MaxPoolStep>(*pool), absorbed);
      else emit(std::make_unique<ModuleStep>(it.module), absorbed);
      continue;
    }
    LayerPlan l;
    l.conv = conv != nullptr;
    l.w = copy_of(lin ? lin->weight : conv->weight);
    l.b = copy_of(lin ? lin->bias : conv->bias);
    if (conv) l.o = conv->options;
    // What follows, when this layer is its only input: BatchNorm to fold, then an
    // activation to fuse (Dropout / Identity between them are no-ops in eval).
    int r = follow(i, absorbed);
    if (options.fold_batchnorm && r >= 0 && mod(r))
      if (const auto* bn = dynamic_cast<const nn::BatchNorm*>(mod(r))) {
        fold_batchnorm(*bn, l.w, l.b);
        absorbed.push_back(r);
        r = follow(r, absorbed);
      }
    if (options.fuse_activation && r >= 0 && mod(r)) {
      l.act = activation_of(*mod(r));
      if (l.act.kind != Act::none) absorbed.push_back(r);
    }
    emit(layer_step(l, calibrate ? Precision::fp32 : options.precision), absorbed);
    layers.emplace_back(steps.size() - 1, std::move(l));
  }
  BIGDL_CHECK(!steps.empty(), ValueError, op, "the model has no layers to run");
  std::vector<size_t> out_slots;
  for (int o : outputs) out_slots.push_back(o < 0 ? size_t(-1 - o) : slot_of[size_t(o)]);
  if (calibrate) {
    // Run the calibration data through the fp32 steps, observing what reaches each layer
    // (twice for a histogram: its range comes from the first pass), then replace each
    // layer by its int8 form with the input scale of its threshold.
    std::vector<RangeObserver> obs(steps.size());
    const std::vector<size_t> last = last_reads(args, 1, out_slots);
    const bool histogram = options.calibration != Calibration::minmax;
    const Tensor& data = options.calibration_data;
    for (int pass = 0; pass < (histogram ? 2 : 1); ++pass) {
      const StepObserver see = [&](size_t k, const std::vector<Tensor>& ins) {
        if (ins.empty() || ins[0].dtype() != DType::f32) return;
        const Tensor x = ins[0].contiguous();
        if (pass == 0) obs[k].observe_minmax(x);
        else obs[k].observe_histogram(x);
      };
      for (int64_t r0 = 0; r0 < data.size(0); r0 += 256)
        run_graph(steps, args, last, out_slots, {data.narrow(0, r0, std::min<int64_t>(256, data.size(0) - r0)).contiguous()}, &see);
    }
    for (auto& [k, l] : layers) {
      detail::InferLayerSpec s = spec_of(l, detail::InferPrecision::int8);
      s.input_unsigned = obs[k].non_negative();
      const float t = obs[k].threshold(options.calibration, options.percentile);
      s.input_scale = t > 0.f && std::isfinite(t) ? t / (s.input_unsigned ? 255.f : 127.f) : 1.f;
      steps[k] = std::make_unique<DnnlStep>(s, l.w, l.b);
    }
  }
  return std::make_shared<InferenceModel>(std::move(steps), std::move(args), std::move(out_slots), options, num_inputs);
}

// ---- one file: safetensors with the steps' tensors and the graph as JSON metadata ----
namespace {

using nlohmann::json;

json act_json(const Act& a) { return {{"act", a.str()}, {"alpha", a.alpha}}; }
Act act_from(const json& j) {
  static const char* const names[] = {"", "relu", "leaky_relu", "tanh", "sigmoid", "silu", "gelu", "gelu(tanh)"};
  const std::string n = j.at("act").get<std::string>();
  for (int k = 0; k < 8; ++k)
    if (n == names[k]) return {static_cast<Act::Kind>(k), j.at("alpha").get<float>()};
  throw ValueError("[nano.load] unknown activation '" + n + "'");
}

// The module steps a file can hold: the module's name and its parameters.
json module_json(const nn::Module& m) {
  json j = {{"module", m.name()}};
  if (const auto* f = dynamic_cast<const nn::Flatten*>(&m)) j["start_dim"] = f->start_dim, j["end_dim"] = f->end_dim;
  else if (const auto* sm = dynamic_cast<const nn::Softmax*>(&m)) j["dim"] = sm->dim;
  else if (const auto* ls = dynamic_cast<const nn::LogSoftmax*>(&m)) j["dim"] = ls->dim;
  else if (const auto* l = dynamic_cast<const nn::LeakyReLU*>(&m)) j["negative_slope"] = l->negative_slope;
  else if (const auto* g = dynamic_cast<const nn::GELU*>(&m)) j["approximate"] = g->approximate;
  else if (const auto* ap = dynamic_cast<const nn::AdaptiveAvgPool2d*>(&m)) j["output_size"] = {ap->output_size.first, ap->output_size.second};
  else if (const auto* av = dynamic_cast<const nn::AvgPool2d*>(&m))
    j["kernel"] = {av->kernel.first, av->kernel.second}, j["stride"] = {av->stride.first, av->stride.second},
    j["padding"] = {av->padding.first, av->padding.second}, j["count_include_pad"] = av->count_include_pad;
  else if (!dynamic_cast<const nn::ReLU*>(&m) && !dynamic_cast<const nn::Tanh*>(&m) && !dynamic_cast<const nn::Sigmoid*>(&m) &&
           !dynamic_cast<const nn::SiLU*>(&m) && !dynamic_cast<const nn::Identity*>(&m))
    return nullptr;
  return j;
}

nn::ModulePtr module_from(const json& j) {
  const std::string n = j.at("module").get<std::string>();
  const auto pair = [&](const char* k) { return nn::Pair{j.at(k).at(0).get<int64_t>(), j.at(k).at(1).get<int64_t>()}; };
  if (n == "Flatten") return std::make_shared<nn::Flatten>(j.at("start_dim").get<int64_t>(), j.at("end_dim").get<int64_t>());
  if (n == "Softmax") return std::make_shared<nn::Softmax>(j.at("dim").get<int64_t>());
  if (n == "LogSoftmax") return std::make_shared<nn::LogSoftmax>(j.at("dim").get<int64_t>());
  if (n == "LeakyReLU") return std::make_shared<nn::LeakyReLU>(j.at("negative_slope").get<double>());
  if (n == "GELU") return std::make_shared<nn::GELU>(j.at("approximate").get<std::string>());
  if (n == "AdaptiveAvgPool2d") return std::make_shared<nn::AdaptiveAvgPool2d>(pair("output_size"));
  if (n == "AvgPool2d")
    return std::make_shared<nn::AvgPool2d>(pair("kernel"), pair("stride"), pair("padding"), j.at("count_include_pad").get<bool>());
  if (n == "ReLU") return std::make_shared<nn::ReLU>();
  if (n == "Tanh") return std::make_shared<nn::Tanh>();
  if (n == "Sigmoid") return std::make_shared<nn::Sigmoid>();
  if (n == "SiLU") return std::make_shared<nn::SiLU>();
  if (n == "Identity") return std::make_shared<nn::Identity>();
  throw ValueError("[nano.load] unknown module '" + n + "'");
}

}  // namespace

std::string describe(const InferenceModel& model, nn::NamedTensors& tensors) {
  json steps = json::array();
  for (size_t k = 0; k < model.num_steps(); ++k) {
    const Step* st = model.steps()[k].get();
    const std::string pre = "step" + std::to_string(k) + ".";
    json e = {{"args", model.args()[k]}};
    if (const auto* d = dynamic_cast<const DnnlStep*>(st)) {
      const detail::InferLayerSpec& sp = d->layer().spec();
      e.update({{"kind", "onednn"}, {"conv", sp.conv}, {"in", sp.in}, {"out", sp.out}, {"kernel", {sp.kh, sp.kw}},
                {"stride", {sp.sh, sp.sw}}, {"padding", {sp.ph, sp.pw}}, {"dilation", {sp.dh, sp.dw}}, {"groups", sp.groups},
                {"precision", detail::infer_precision_name(sp.precision)}, {"input_scale", sp.input_scale},
                {"input_unsigned", sp.input_unsigned}});
      e.update(act_json(sp.act));
      tensors.emplace_back(pre + "weight", from_vector(d->layer().weight(), sp.conv ? Shape{sp.out, sp.in / sp.groups, sp.kh, sp.kw}
                                                                                  : Shape{sp.out, sp.in}));
      if (!d->layer().bias().empty()) tensors.emplace_back(pre + "bias", from_vector(d->layer().bias(), {sp.out}));
    } else if (const auto* l = dynamic_cast<const DenseStep*>(st)) {
      e.update({{"kind", "linear"}});
      e.update(act_json(l->act()));
      tensors.emplace_back(pre + "weight", l->weight());
      if (l->bias().defined()) tensors.emplace_back(pre + "bias", l->bias());
    } else if (const auto* q = dynamic_cast<const Int8DenseStep*>(st)) {
      e.update({{"kind", "linear_int8_dynamic"}, {"in", q->in()}, {"out", q->out()}});
      e.update(act_json(q->act()));
      Tensor blocks = empty({int64_t(q->blocks().size())}, DType::u8);
      std::memcpy(blocks.data<uint8_t>(), q->blocks().data(), q->blocks().size());
      tensors.emplace_back(pre + "blocks", blocks);
      if (q->bias().defined()) tensors.emplace_back(pre + "bias", q->bias());
    } else if (const auto* mp = dynamic_cast<const MaxPoolStep*>(st)) {
      e.update({{"kind", "max_pool"}, {"kernel", {mp->kernel().first, mp->kernel().second}},
                {"stride", {mp->stride().first, mp->stride().second}}, {"padding", {mp->padding().first, mp->padding().second}}});
    } else if (const auto* ad = dynamic_cast<const AddStep*>(st)) {
      e.update({{"kind", "add"}, {"inputs", ad->inputs()}});
      e.update(act_json(ad->act()));
    } else if (dynamic_cast<const GlobalAvgPoolStep*>(st)) {
      e["kind"] = "global_avg_pool";
    } else if (const auto* op = dynamic_cast<const onnx_ops::OpStep*>(st)) {
      e.update({{"kind", "onnx_op"}, {"op", op->op()}, {"attrs", op->attrs()}, {"present", op->present()}, {"opset", op->opset()}});
      if (op->value().defined()) tensors.emplace_back(pre + "value", op->value());
    } else if (const auto* c = dynamic_cast<const onnx_ops::ConstStep*>(st)) {
      e["kind"] = "const";
      tensors.emplace_back(pre + "value", c->value());
    } else {
      const auto* ms = dynamic_cast<const ModuleStep*>(st);
      json mj = ms ? module_json(*ms->module()) : json(nullptr);
      BIGDL_CHECK(!mj.is_null(), ValueError, "nano.save", "step (", k, ") '", st->describe(),
                  "' cannot be saved (a file holds Linear / Conv2d layers, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Add, "
                  "GlobalAveragePooling2D, Flatten, Softmax, LogSoftmax and activations)");
      e.update({{"kind", "module"}});
      e.update(mj);
    }
    steps.push_back(std::move(e));
  }
  const auto& o = model.options();
  const json meta = {{"format", "bigdl-nano"}, {"version", 1}, {"precision", precision_name(o.precision)},
                     {"calibration", calibration_name(o.calibration)}, {"inputs", model.num_inputs()}, {"output", model.output_slot()},
                     {"outputs", model.outputs()}, {"input_names", model.input_names()},
                     {"output_names", model.output_names()}, {"steps", steps}};
  return meta.dump();
}

void save(const InferenceModel& model, const std::string& path) {
  nn::NamedTensors tensors;
  const std::string meta = describe(model, tensors);
  io::save_tensors(path, tensors, {{"nano", meta}});
}

std::shared_ptr<InferenceModel> load(const std::string& path) {
  std::map<std::string, std::string> meta;
  nn::NamedTensors list = io::load_tensors(path, &meta);
  BIGDL_CHECK(meta.count("nano"), ValueError, "nano.load", path, ": not a model saved by nano.save (no 'nano' metadata)");
  std::map<std::string, Tensor> tensors(list.begin(), list.end());
  const auto tensor = [&](const std::string& name, bool required) -> Tensor {
    auto it = tensors.find(name);
    BIGDL_CHECK(it != tensors.end() || !required, ValueError, "nano.load", path, ": tensor '", name, "' is missing");
    return it == tensors.end() ? Tensor() : it->second.contiguous();
  };
  try {
    const json j = json::parse(meta.at("nano"));
    BIGDL_CHECK(j.at("format") == "bigdl-nano" && j.at("version") == 1, ValueError, "nano.load", path,
                ": unsupported format ", j.at("format").dump(), " version ", j.at("version").dump());
    OptimizeOptions o;
    o.precision = parse_precision(j.at("precision").get<std::string>());
    o.calibration = parse_calibration(j.at("calibration").get<std::string>());
    const size_t n_in = j.value("inputs", size_t(1));
    BIGDL_CHECK(n_in >= 1 && n_in <= 1024, ValueError, "nano.load", path, ": bad input count ", n_in);
    std::vector<std::unique_ptr<Step>> steps;
    std::vector<std::vector<size_t>> args;
    for (const json& e : j.at("steps")) {
      const std::string pre = "step" + std::to_string(steps.size()) + ".";
      const std::string kind = e.at("kind").get<std::string>();
      auto a = e.at("args").get<std::vector<size_t>>();
      BIGDL_CHECK(std::all_of(a.begin(), a.end(), [&](size_t s) { return s < n_in + steps.size(); }), ValueError,
                  "nano.load", path, ": step ", steps.size(), " reads a slot that is not written before it");
      if (kind == "onednn") {
        detail::InferLayerSpec sp;
        sp.conv = e.at("conv").get<bool>();
        sp.in = e.at("in").get<int64_t>(), sp.out = e.at("out").get<int64_t>();
        sp.kh = e.at("kernel").at(0), sp.kw = e.at("kernel").at(1), sp.sh = e.at("stride").at(0), sp.sw = e.at("stride").at(1);
        sp.ph = e.at("padding").at(0), sp.pw = e.at("padding").at(1), sp.dh = e.at("dilation").at(0), sp.dw = e.at("dilation").at(1);
        sp.groups = e.at("groups").get<int64_t>();
        const std::string prec = e.at("precision").get<std::string>();
        sp.precision = prec == "bf16" ? detail::InferPrecision::bf16 : prec == "int8" ? detail::InferPrecision::int8 : detail::InferPrecision::f32;
        sp.input_scale = e.at("input_scale").get<float>(), sp.input_unsigned = e.at("input_unsigned").get<bool>();
        sp.act = act_from(e);
        const Tensor w = tensor(pre + "weight", true), b = tensor(pre + "bias", false);
        const int64_t per = sp.conv ? sp.in / std::max<int64_t>(1, sp.groups) * sp.kh * sp.kw : sp.in;
        BIGDL_CHECK(sp.in > 0 && sp.out > 0 && w.dtype() == DType::f32 && w.numel() == sp.out * per &&
                        (!b.defined() || (b.dtype() == DType::f32 && b.numel() == sp.out)),
                    ValueError, "nano.load", path, ": tensor '", pre, "weight' or its bias does not fit the layer");
        steps.push_back(std::make_unique<DnnlStep>(sp, w, b));
      } else if (kind == "linear") {
        const Tensor w = tensor(pre + "weight", true), b = tensor(pre + "bias", false);
        BIGDL_CHECK(w.dtype() == DType::f32 && w.dim() == 2 && (!b.defined() || (b.dtype() == DType::f32 && b.numel() == w.size(0))),
                    ValueError, "nano.load", path, ": tensor '", pre, "weight' or its bias does not fit a Linear");
        steps.push_back(std::make_unique<DenseStep>(w, b, act_from(e)));
      } else if (kind == "linear_int8_dynamic") {
        const Tensor blocks = tensor(pre + "blocks", true);
        const Tensor b = tensor(pre + "bias", false);
        const int64_t in = e.at("in").get<int64_t>(), out = e.at("out").get<int64_t>();
        BIGDL_CHECK(blocks.dtype() == DType::u8 && in > 0 && out > 0 && (!b.defined() || (b.dtype() == DType::f32 && b.numel() == out)),
                    ValueError, "nano.load", path, ": tensor '", pre, "blocks' or its bias does not fit an int8 Linear");
        std::vector<uint8_t> bytes(blocks.data<uint8_t>(), blocks.data<uint8_t>() + blocks.numel());
        steps.push_back(std::make_unique<Int8DenseStep>(out, in, std::move(bytes), b, act_from(e)));
      } else if (kind == "max_pool") {
        const auto pr = [&](const char* k) { return std::pair<int64_t, int64_t>{e.at(k).at(0), e.at(k).at(1)}; };
        steps.push_back(std::make_unique<MaxPoolStep>(pr("kernel"), pr("stride"), pr("padding")));
      } else if (kind == "add") {
        steps.push_back(std::make_unique<AddStep>(e.at("inputs").get<size_t>(), act_from(e)));
      } else if (kind == "global_avg_pool") {
        steps.push_back(std::make_unique<GlobalAvgPoolStep>());
      } else if (kind == "onnx_op") {
        const std::string op = e.at("op").get<std::string>();
        const auto present = e.at("present").get<std::vector<bool>>();
        BIGDL_CHECK(onnx_ops::supported(op) && size_t(std::count(present.begin(), present.end(), true)) == a.size(), ValueError,
                    "nano.load", path, ": step ", steps.size(), " is an unknown ONNX operator '", op, "' or has the wrong inputs");
        steps.push_back(std::make_unique<onnx_ops::OpStep>(op, e.at("attrs"), present, e.at("opset").get<int64_t>(),
                                                           tensor(pre + "value", false)));
      } else if (kind == "const") {
        BIGDL_CHECK(a.empty(), ValueError, "nano.load", path, ": constant step ", steps.size(), " reads inputs");
        steps.push_back(std::make_unique<onnx_ops::ConstStep>(tensor(pre + "value", true)));
      } else if (kind == "module") {
        steps.push_back(std::make_unique<ModuleStep>(module_from(e)));
      } else {
        throw ValueError("[nano.load] " + path + ": unknown step kind '" + kind + "'");
      }
      args.push_back(std::move(a));
    }
    const std::vector<size_t> outputs =
        j.contains("outputs") ? j.at("outputs").get<std::vector<size_t>>() : std::vector<size_t>{j.at("output").get<size_t>()};
    BIGDL_CHECK(!steps.empty() && !outputs.empty() &&
                    std::all_of(outputs.begin(), outputs.end(), [&](size_t s) { return s < n_in + steps.size(); }),
                ValueError, "nano.load", path, ": no steps or a bad output slot");
    auto model = std::make_shared<InferenceModel>(std::move(steps), std::move(args), outputs, o, n_in);
    model->set_names(j.value("input_names", std::vector<std::string>{}), j.value("output_names", std::vector<std::string>{}));
    return model;
  } catch (const json::exception& e) {
    throw ValueError(std::string("[nano.load] ") + path + ": bad 'nano' metadata: " + e.what());
  }
}

}  // namespace bigdl::nano
