// ONNX import (include/bigdl/nano/onnx.h): the nodes of an ONNX graph become the items of
// nano's capture graph (src/nano/graph.h) — layers and activations as our modules, the
// rest as onnx_ops steps — and graph::build does the rest, as for a captured model.
#include "bigdl/nano/onnx.h"

#include <cmath>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "bigdl/error.h"
#include "bigdl/io/tensor_io.h"
#include "bigdl/nn/modules.h"
#include "bigdl/ops.h"
#include "bigdl/random.h"
#include "nano/graph.h"
#include "nano/onnx_ops.h"

namespace bigdl::nano {
namespace {

using graph::Item;
using nlohmann::json;
constexpr const char* kOp = "nano.import_onnx";

json attrs_json(const io::OnnxNode& n, Tensor& value) {
  json j = json::object();
  for (const io::OnnxAttribute& a : n.attributes) {
    switch (a.kind) {
      case io::OnnxAttribute::floating: j[a.name] = a.f; break;
      case io::OnnxAttribute::integer: j[a.name] = a.i; break;
      case io::OnnxAttribute::string: j[a.name] = a.s; break;
      case io::OnnxAttribute::floats: j[a.name] = a.fs; break;
      case io::OnnxAttribute::ints: j[a.name] = a.is; break;
      case io::OnnxAttribute::strings: j[a.name] = a.ss; break;
      case io::OnnxAttribute::tensor: value = io::tensor_from_raw(a.t); break;
      default: break;  // graphs: no operator we run takes one
    }
  }
  return j;
}

class Importer {
 public:
  Importer(const io::OnnxModel& m, std::string what, const OptimizeOptions& o) : m_(m), what_(std::move(what)), opt_(o) {}

  std::shared_ptr<InferenceModel> run() {
    BIGDL_CHECK(!m_.inputs.empty(), ValueError, kOp, what_, ": the graph has no inputs");
    // The modules made here initialise their weights from the global generator before the
    // file's replace them: importing must not move the caller's random stream (it made
    // later random models depend on whether a model was imported first).
    struct KeepRng {
      Generator& g = default_generator();
      Generator::State s = g.state();
      ~KeepRng() { g.set_state(s); }
    } keep_rng;
    for (size_t k = 0; k < m_.inputs.size(); ++k) item_of_[m_.inputs[k].name] = -1 - int(k);
    for (const auto& [name, raw] : m_.initializers) consts_[name] = io::tensor_from_raw(raw);
    for (size_t k = 0; k < m_.nodes.size(); ++k)
      for (const std::string& in : m_.nodes[k].inputs)
        if (!in.empty()) readers_[in].push_back(k);
    for (const io::OnnxValueInfo& o : m_.outputs) graph_outputs_.insert(o.name);
    skip_.assign(m_.nodes.size(), false);
    // Constant nodes first (they read nothing): patterns that start before one (GELU's
    // Div before its Add's 1.0) see every constant.
    for (size_t k = 0; k < m_.nodes.size(); ++k)
      if (m_.nodes[k].op_type == "Constant" && (m_.nodes[k].domain.empty() || m_.nodes[k].domain == "ai.onnx")) node(k), skip_[k] = true;
    for (size_t k = 0; k < m_.nodes.size(); ++k)
      if (!skip_[k]) node(k);
    std::vector<int> outputs;
    std::vector<std::string> in_names, out_names;
    for (const io::OnnxValueInfo& o : m_.outputs) outputs.push_back(ref(o.name)), out_names.push_back(o.name);
    for (const io::OnnxValueInfo& i : m_.inputs) in_names.push_back(i.name);
    auto model = graph::build(std::move(items_), outputs, m_.inputs.size(), opt_, kOp);
    model->set_names(std::move(in_names), std::move(out_names));
    return model;
  }

 private:
  [[noreturn]] void unsupported(const io::OnnxNode& n, const std::string& why) const {
    throw ValueError(bigdl::detail::cat("[", kOp, "] ", what_, ": node ", n.label(), ": ", why));
  }
  bool is_const(const std::string& v) const { return consts_.count(v) > 0; }
  const Tensor& constant(const std::string& v) const { return consts_.at(v); }
  // The item holding value v (a constant becomes a constant step the first time it is read).
  int ref(const std::string& v) {
    if (auto it = item_of_.find(v); it != item_of_.end()) return it->second;
    BIGDL_CHECK(is_const(v), InternalError, kOp, what_, ": value '", v, "' has no producer");
    items_.push_back(Item{nullptr, {}, false, {}, std::make_unique<onnx_ops::ConstStep>(constant(v))});
    return item_of_[v] = int(items_.size()) - 1;
  }
  int add_item(Item it, const std::string& out) {
    items_.push_back(std::move(it));
    return item_of_[out] = int(items_.size()) - 1;
  }
  int add_module(nn::ModulePtr m, const std::string& in, const std::string& out) {
    return add_item(Item{std::move(m), {}, false, {ref(in)}, nullptr}, out);
  }
  // The one node reading v, when v has exactly one reader and is not a graph output.
  const io::OnnxNode* sole_reader(const std::string& v, size_t* index = nullptr) const {
    auto it = readers_.find(v);
    if (it == readers_.end() || it->second.size() != 1 || graph_outputs_.count(v)) return nullptr;
    if (index) *index = it->second[0];
    return &m_.nodes[it->second[0]];
  }
  bool read(const std::string& v) const { return !v.empty() && (readers_.count(v) || graph_outputs_.count(v)); }
  static bool scalar_near(const Tensor& t, double want) {
    if (!t.defined() || t.numel() != 1 || !is_floating(t.dtype())) return false;
    return std::fabs(t.to(DType::f64).contiguous().data<double>()[0] - want) < 1e-4 * std::max(1.0, std::fabs(want));
  }
  // The other input of a two-input node, given one of them.
  static const std::string& other(const io::OnnxNode& n, const std::string& one) { return n.inputs[0] == one ? n.inputs[1] : n.inputs[0]; }

  void node(size_t k) {
    const io::OnnxNode& n = m_.nodes[k];
    const std::string& op = n.op_type;
    if (!n.domain.empty() && n.domain != "ai.onnx")
      unsupported(n, "operator '" + n.domain + "." + op + "' is not supported (only the default ONNX domain)");
    static const std::set<std::string> rewritten = {"Constant", "Conv", "MaxPool", "AveragePool"};
    if (!onnx_ops::supported(op) && !rewritten.count(op))
      unsupported(n, "operator '" + op + "' is not supported (supported: " + onnx_ops::supported_list() +
                         ", Constant, Conv, MaxPool, AveragePool)");
    for (size_t o = 1; o < n.outputs.size(); ++o)
      if (read(n.outputs[o]))
        unsupported(n, "output " + std::to_string(o) + " ('" + n.outputs[o] + "') is read; only the first output of '" + op + "' is supported");
    BIGDL_CHECK(!n.outputs.empty() && !n.outputs[0].empty(), FormatError, kOp, what_, ": node ", n.label(), " has no output");
    const std::string& out = n.outputs[0];
    const auto in = [&](size_t i) -> std::string { return i < n.inputs.size() ? n.inputs[i] : std::string(); };
    if (op == "Constant") {
      Tensor value;
      const json a = attrs_json(n, value);
      if (!value.defined()) {
        if (a.contains("value_float")) value = scalar_tensor(a.at("value_float").get<double>());
        else if (a.contains("value_int")) value = scalar_tensor(double(a.at("value_int").get<int64_t>()), DType::i64);
        else if (a.contains("value_floats")) value = from_vector(a.at("value_floats").get<std::vector<float>>(), {int64_t(a.at("value_floats").size())});
        else if (a.contains("value_ints")) value = from_vector(a.at("value_ints").get<std::vector<int64_t>>(), {int64_t(a.at("value_ints").size())});
        else unsupported(n, "a Constant without a value, value_float(s) or value_int(s) is not supported");
      }
      consts_[out] = value;
      return;
    }
    if (op == "Identity" || op == "Dropout") {  // eval mode: the input itself
      alias(in(0), out);
      return;
    }
    if (op == "MatMul" && !is_const(in(0)) && is_const(in(1)) && constant(in(1)).dim() == 2 && is_floating(constant(in(1)).dtype())) {
      linear(n, constant(in(1)).to(DType::f32).t(), 1.0);
      return;
    }
    if (op == "Gemm" && !is_const(in(0)) && is_const(in(1)) && !int_attr(n, "transA", 0) && constant(in(1)).dim() == 2 &&
        (in(2).empty() || (is_const(in(2)) && constant(in(2)).numel() == constant(in(1)).size(int_attr(n, "transB", 0) ? 0 : 1)))) {
      const Tensor b = constant(in(1)).to(DType::f32);
      linear(n, int_attr(n, "transB", 0) ? b : b.t(), float_attr(n, "alpha", 1.0));
      return;
    }
    if (op == "Conv") {
      conv(n);
      return;
    }
    if (op == "BatchNormalization" && is_const(in(1)) && is_const(in(2)) && is_const(in(3)) && is_const(in(4)) && !is_const(in(0)) &&
        after_layer(in(0))) {
      batch_norm(n);
      return;
    }
    if (op == "Div" && gelu(k)) return;
    if ((op == "Div" || op == "Mul") && attention_softmax(k)) return;
    if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "LeakyRelu" || op == "Gelu") {
      if (!is_const(in(0))) {
        nn::ModulePtr m;
        if (op == "Relu") m = std::make_shared<nn::ReLU>();
        else if (op == "Sigmoid") m = std::make_shared<nn::Sigmoid>();
        else if (op == "Tanh") m = std::make_shared<nn::Tanh>();
        else if (op == "LeakyRelu") m = std::make_shared<nn::LeakyReLU>(float_attr(n, "alpha", 0.01));
        else m = std::make_shared<nn::GELU>(string_attr(n, "approximate", "none"));
        add_module(m, in(0), out);
        return;
      }
    }
    if (op == "MaxPool" || op == "AveragePool") {
      pool(n);
      return;
    }
    generic(n);
  }

  // True when value v is the output of a Linear or Conv2d item (a BatchNormalization after
  // one becomes a BatchNorm module that folds into it; elsewhere it runs as the operator,
  // which takes any rank).
  bool after_layer(const std::string& v) const {
    auto it = item_of_.find(v);
    if (it == item_of_.end() || it->second < 0) return false;
    const nn::Module* m = items_[size_t(it->second)].module.get();
    return dynamic_cast<const nn::Linear*>(m) || dynamic_cast<const nn::Conv2d*>(m);
  }
  void alias(const std::string& from, const std::string& to) {
    if (is_const(from)) consts_[to] = constant(from);
    else item_of_[to] = ref(from);
  }
  static int64_t int_attr(const io::OnnxNode& n, const char* name, int64_t d) {
    const io::OnnxAttribute* a = n.attr(name);
    return a && a->kind == io::OnnxAttribute::integer ? a->i : d;
  }
  static double float_attr(const io::OnnxNode& n, const char* name, double d) {
    const io::OnnxAttribute* a = n.attr(name);
    return a && a->kind == io::OnnxAttribute::floating ? a->f : d;
  }
  static std::string string_attr(const io::OnnxNode& n, const char* name, const std::string& d) {
    const io::OnnxAttribute* a = n.attr(name);
    return a && a->kind == io::OnnxAttribute::string ? a->s : d;
  }
  static std::vector<int64_t> ints_attr(const io::OnnxNode& n, const char* name) {
    const io::OnnxAttribute* a = n.attr(name);
    return a && a->kind == io::OnnxAttribute::ints ? a->is : std::vector<int64_t>{};
  }

  // A Linear from w [out, in] (scaled by alpha) reading the node's first input; a bias from
  // Gemm's C, or from the Add that is the only reader of the MatMul's output.
  void linear(const io::OnnxNode& n, const Tensor& w_in, double alpha) {
    Tensor w = w_in.contiguous().clone();
    if (alpha != 1.0) w = mul(w, scalar_tensor(alpha)).contiguous();
    const int64_t out = w.size(0), inputs = w.size(1);
    Tensor b;
    std::string result = n.outputs[0];
    if (n.op_type == "Gemm" && n.inputs.size() > 2 && !n.inputs[2].empty()) {
      const Tensor c = constant(n.inputs[2]).to(DType::f32);  // one bias per output (node() checked)
      b = mul(c.reshape({out}), scalar_tensor(float_attr(n, "beta", 1.0))).contiguous();
    } else if (size_t r; const io::OnnxNode* add = sole_reader(result, &r)) {
      if (add->op_type == "Add" && add->inputs.size() == 2) {
        const std::string& bias = other(*add, result);
        if (is_const(bias) && constant(bias).numel() == out && is_floating(constant(bias).dtype()) &&
            constant(bias).dim() >= 1 && constant(bias).size(-1) == out) {
          b = constant(bias).to(DType::f32).reshape({out}).contiguous().clone();
          skip_[r] = true;
          result = add->outputs[0];
        }
      }
    }
    auto lin = std::make_shared<nn::Linear>(inputs, out, b.defined());
    nn::NamedTensors state{{"weight", w}};
    if (b.defined()) state.emplace_back("bias", b);
    lin->load_state_dict(state);  // in place: no second copy beside the initial weights
    add_module(lin, n.inputs[0], result);
  }

  void conv(const io::OnnxNode& n) {
    const std::string w_name = n.inputs.size() > 1 ? n.inputs[1] : "";
    if (!is_const(w_name) || constant(w_name).dim() != 4)
      unsupported(n, "only 2-D convolutions with constant weights are supported");
    if (is_const(n.inputs[0])) unsupported(n, "a convolution of a constant is not supported");
    const Tensor w = constant(w_name).to(DType::f32).contiguous().clone();
    const std::string pad_mode = string_attr(n, "auto_pad", "NOTSET");
    if (pad_mode != "NOTSET" && pad_mode != "VALID") unsupported(n, "auto_pad '" + pad_mode + "' is not supported (give pads)");
    std::vector<int64_t> pads = ints_attr(n, "pads"), strides = ints_attr(n, "strides"), dil = ints_attr(n, "dilations");
    if (pads.empty()) pads = {0, 0, 0, 0};
    if (strides.empty()) strides = {1, 1};
    if (dil.empty()) dil = {1, 1};
    if (pads.size() != 4 || strides.size() != 2 || dil.size() != 2) unsupported(n, "pads, strides or dilations do not fit a 2-D convolution");
    if (pads[0] != pads[2] || pads[1] != pads[3]) unsupported(n, "asymmetric pads are not supported");
    const int64_t groups = int_attr(n, "group", 1);
    if (groups < 1) unsupported(n, "group must be positive");
    nn::Conv2dOptions o;
    o.in_channels = w.size(1) * groups;
    o.out_channels = w.size(0);
    o.kernel_size = {w.size(2), w.size(3)};
    o.stride = {strides[0], strides[1]};
    o.padding = {pads[0], pads[1]};
    o.dilation = {dil[0], dil[1]};
    o.groups = groups;
    const bool has_bias = n.inputs.size() > 2 && !n.inputs[2].empty();
    if (has_bias && (!is_const(n.inputs[2]) || constant(n.inputs[2]).numel() != o.out_channels))
      unsupported(n, "the bias must be a constant with one value per output channel");
    o.bias = has_bias;
    auto c = std::make_shared<nn::Conv2d>(o);
    nn::NamedTensors state{{"weight", w}};
    if (has_bias) state.emplace_back("bias", constant(n.inputs[2]).to(DType::f32).reshape({o.out_channels}));
    c->load_state_dict(state);
    add_module(c, n.inputs[0], n.outputs[0]);
  }

  void batch_norm(const io::OnnxNode& n) {
    const Tensor scale = constant(n.inputs[1]).to(DType::f32).contiguous();
    const int64_t c = scale.numel();
    // BatchNorm1d after a Linear (a [N, C] input), BatchNorm2d after a Conv2d.
    const int producer = ref(n.inputs[0]);
    const bool after_linear = dynamic_cast<nn::Linear*>(items_[size_t(producer)].module.get()) != nullptr;
    std::shared_ptr<nn::BatchNorm> bn;
    const double eps = float_attr(n, "epsilon", 1e-5);
    if (after_linear) bn = std::make_shared<nn::BatchNorm1d>(c, eps);
    else bn = std::make_shared<nn::BatchNorm2d>(c, eps);
    const auto param = [&](size_t i) {
      const Tensor t = constant(n.inputs[i]).to(DType::f32).contiguous().clone();
      if (t.numel() != c) unsupported(n, "scale, B, mean and var must hold one value per channel");
      return t.reshape({c});
    };
    bn->load_state_dict({{"weight", param(1)}, {"bias", param(2)}, {"running_mean", param(3)}, {"running_var", param(4)}},
                        /*strict=*/false);  // num_batches_tracked: not in ONNX
    add_module(bn, n.inputs[0], n.outputs[0]);
  }

  void pool(const io::OnnxNode& n) {
    const std::vector<int64_t> k = ints_attr(n, "kernel_shape");
    std::vector<int64_t> pads = ints_attr(n, "pads"), strides = ints_attr(n, "strides"), dil = ints_attr(n, "dilations");
    if (pads.empty()) pads = {0, 0, 0, 0};
    if (strides.empty()) strides = {1, 1};
    const std::string pad_mode = string_attr(n, "auto_pad", "NOTSET");
    if (k.size() != 2 || pads.size() != 4 || strides.size() != 2 || pads[0] != pads[2] || pads[1] != pads[3])
      unsupported(n, "only 2-D pooling with symmetric pads is supported");
    if ((pad_mode != "NOTSET" && pad_mode != "VALID") || int_attr(n, "ceil_mode", 0) != 0 ||
        (!dil.empty() && (dil[0] != 1 || dil[1] != 1)))
      unsupported(n, "auto_pad, ceil_mode and dilations other than the defaults are not supported");
    if (is_const(n.inputs[0])) unsupported(n, "pooling a constant is not supported");
    const nn::Pair kernel{k[0], k[1]}, stride{strides[0], strides[1]}, padding{pads[0], pads[1]};
    if (n.op_type == "MaxPool") add_module(std::make_shared<nn::MaxPool2d>(kernel, stride, padding), n.inputs[0], n.outputs[0]);
    else
      add_module(std::make_shared<nn::AvgPool2d>(kernel, stride, padding, int_attr(n, "count_include_pad", 0) != 0), n.inputs[0],
                 n.outputs[0]);
  }

  // GELU as PyTorch exports it: y = (x * (erf(x / sqrt(2)) + 1)) * 0.5, five nodes with one
  // reader each, the Div at node k. Replaced by one GELU module (which fuses into a layer).
  bool gelu(size_t k) {
    if (!opt_.rewrite) return false;
    const io::OnnxNode& div = m_.nodes[k];
    if (div.inputs.size() != 2 || !is_const(div.inputs[1]) || !scalar_near(constant(div.inputs[1]), std::sqrt(2.0))) return false;
    const std::string& x = div.inputs[0];
    size_t ie, ia, im, ih;
    const io::OnnxNode* erf = sole_reader(div.outputs[0], &ie);
    if (!erf || erf->op_type != "Erf") return false;
    const io::OnnxNode* plus = sole_reader(erf->outputs[0], &ia);
    if (!plus || plus->op_type != "Add" || plus->inputs.size() != 2) return false;
    const std::string& one = other(*plus, erf->outputs[0]);
    if (!is_const(one) || !scalar_near(constant(one), 1.0)) return false;
    const io::OnnxNode* times = sole_reader(plus->outputs[0], &im);
    if (!times || times->op_type != "Mul" || times->inputs.size() != 2 || other(*times, plus->outputs[0]) != x) return false;
    const io::OnnxNode* half = sole_reader(times->outputs[0], &ih);
    if (!half || half->op_type != "Mul" || half->inputs.size() != 2) return false;
    const std::string& h = other(*half, times->outputs[0]);
    if (!is_const(h) || !scalar_near(constant(h), 0.5)) return false;
    if (is_const(x)) return false;
    skip_[ie] = skip_[ia] = skip_[im] = skip_[ih] = true;
    add_module(std::make_shared<nn::GELU>("none"), x, half->outputs[0]);
    return true;
  }

  // Attention's Softmax(Add(Div(S, c), M)) (also without the Add, or Mul by c for the
  // Div), each node the only reader of the one before, the Softmax over the last dim: one
  // bigdl.ScaledMaskedSoftmax step, one pass over the scores instead of three.
  bool attention_softmax(size_t k) {
    const io::OnnxNode& div = m_.nodes[k];
    if (!opt_.rewrite || div.inputs.size() != 2 || !is_const(div.inputs[1]) || constant(div.inputs[1]).numel() != 1 ||
        is_const(div.inputs[0]))
      return false;
    const double c = constant(div.inputs[1]).to(DType::f64).contiguous().data<double>()[0];
    if (div.op_type == "Div" && c == 0) return false;
    std::vector<size_t> used;
    size_t idx = 0;
    std::string mask;
    const io::OnnxNode* n = sole_reader(div.outputs[0], &idx);
    if (n && n->op_type == "Add" && n->inputs.size() == 2) {
      mask = other(*n, div.outputs[0]);
      used.push_back(idx);
      n = sole_reader(n->outputs[0], &idx);
    }
    if (!n || n->op_type != "Softmax") return false;
    used.push_back(idx);
    const int64_t axis = int_attr(*n, "axis", m_.opset >= 13 ? -1 : 1), rank = rank_of(div.inputs[0]);
    if (!(axis == -1 || (rank > 0 && axis == rank - 1))) return false;
    for (size_t u : used) skip_[u] = true;
    std::vector<int> refs{ref(div.inputs[0])};
    if (!mask.empty()) refs.push_back(ref(mask));
    const json attrs = {{"scale", div.op_type == "Div" ? 1.0 / c : c}};
    auto step = std::make_unique<onnx_ops::OpStep>("bigdl.ScaledMaskedSoftmax", attrs, std::vector<bool>{true, !mask.empty()}, m_.opset);
    add_item(Item{nullptr, {}, false, std::move(refs), std::move(step)}, n->outputs[0]);
    return true;
  }
  // The rank of a value when the graph says it (a graph input's shape), else -1.
  int64_t rank_of(const std::string& v) const {
    for (const io::OnnxValueInfo& i : m_.inputs)
      if (i.name == v && i.has_shape) return int64_t(i.shape.size());
    return -1;
  }

  void generic(const io::OnnxNode& n) {
    Tensor value;
    json attrs = attrs_json(n, value);
    std::vector<bool> present;
    std::vector<std::string> ins;
    for (const std::string& i : n.inputs) {
      present.push_back(!i.empty());
      if (!i.empty()) ins.push_back(i);
    }
    auto step = std::make_unique<onnx_ops::OpStep>(n.op_type, std::move(attrs), std::move(present), m_.opset, value);
    const bool all_const = std::all_of(ins.begin(), ins.end(), [&](const std::string& i) { return is_const(i); });
    if (all_const && !ins.empty()) {  // folded now, once
      std::vector<Tensor> xs;
      for (const std::string& i : ins) xs.push_back(constant(i));
      try {
        consts_[n.outputs[0]] = step->run_inputs(xs).contiguous();
      } catch (const Error& e) {
        unsupported(n, e.what());
      }
      return;
    }
    std::vector<int> refs;
    for (const std::string& i : ins) refs.push_back(ref(i));
    add_item(Item{nullptr, {}, false, std::move(refs), std::move(step)}, n.outputs[0]);
  }

  const io::OnnxModel& m_;
  std::string what_;
  OptimizeOptions opt_;
  std::vector<Item> items_;
  std::unordered_map<std::string, int> item_of_;
  std::unordered_map<std::string, Tensor> consts_;
  std::unordered_map<std::string, std::vector<size_t>> readers_;
  std::set<std::string> graph_outputs_;
  std::vector<bool> skip_;
};

}  // namespace

std::shared_ptr<InferenceModel> import_onnx(const io::OnnxModel& model, const std::string& what, const OptimizeOptions& options) {
  return Importer(model, what, options).run();
}

std::shared_ptr<InferenceModel> import_onnx(const std::string& path, const OptimizeOptions& options) {
  return import_onnx(io::read_onnx(path), path, options);
}

}  // namespace bigdl::nano
