// bigdl_cpp._native.core: the core library seen from Python with PyTorch's names, as the
// C++ headers have them (include/bigdl/tensor.h, ops.h, autograd.h, nn/, optim/):
//   Tensor       NumPy in and out without copies (the buffer protocol and tensor() /
//                from_numpy() share memory), autograd (requires_grad, backward, grad),
//                arithmetic operators and the common ops as methods
//   Module       nn modules (Linear, Conv2d, ..., Sequential): __call__ on Tensors,
//                parameters(), state_dict(), train() / eval()
//   Loss         criterions (CrossEntropyLoss, MSELoss, ...)
//   Optimizer    SGD, Adam, AdamW, RMSprop, Adagrad over a module's parameters(): step(),
//                zero_grad(), lr
// bigdl_cpp.dllib.{tensor, nn, optim} re-export them. Long calls (forward of a module,
// backward, step) release the GIL. Errors: the engine's typed errors as ValueError /
// TypeError / IndexError (native.cpp).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bigdl/autograd.h"
#include "bigdl/error.h"
#include "bigdl/nn/loss.h"
#include "bigdl/nn/module.h"
#include "bigdl/nn/modules.h"
#include "bigdl/nn/transformer.h"
#include "bigdl/ops.h"
#include "bigdl/optim/optimizer.h"
#include "bigdl/random.h"
#include "bigdl/tensor.h"
#include "native.h"

namespace py = pybind11;

namespace {

using namespace bigdl;

// The other operand of an arithmetic operator: a Tensor, a Python number (a 0-d tensor of
// the same dtype family) or an array-like.
Tensor operand(const py::handle& o, const Tensor& like) {
  if (py::isinstance<Tensor>(o)) return o.cast<Tensor>();
  if (py::isinstance<py::bool_>(o) || py::isinstance<py::int_>(o) || py::isinstance<py::float_>(o))
    return scalar_tensor(o.cast<double>(), py::isinstance<py::float_>(o) ? DType::f32 : like.dtype());
  return bigdl_py::to_tensor(o, "operand");
}

// A dims argument: None (all), one int or a sequence of ints.
std::vector<int64_t> dims_of(const py::object& d) {
  if (d.is_none()) return {};
  if (py::isinstance<py::int_>(d)) return {d.cast<int64_t>()};
  return d.cast<std::vector<int64_t>>();
}

Shape shape_of(const py::args& args) {
  if (args.size() == 1 && !py::isinstance<py::int_>(args[0])) return args[0].cast<Shape>();
  return args.cast<Shape>();
}

template <class F>
auto no_gil(F&& f) {
  py::gil_scoped_release release;
  return f();
}

Tensor call_module(nn::Module& m, const py::handle& x) {
  const Tensor in = bigdl_py::to_tensor(x, "input");
  return no_gil([&] { return m.forward(in); });
}

nn::Reduction reduction(const std::string& r) {
  if (r == "mean") return nn::Reduction::mean;
  if (r == "sum") return nn::Reduction::sum;
  if (r == "none") return nn::Reduction::none;
  throw ValueError("reduction: expected 'mean', 'sum' or 'none', got '" + r + "'");
}

template <class Opt, class Options>
optim::OptimizerPtr make_opt(const py::iterable& params, const Options& o) {
  std::vector<Tensor> ps;
  for (const auto& p : params) ps.push_back(p.cast<Tensor>());
  if (ps.empty()) throw ValueError("optimizer got an empty parameter list");
  return std::make_shared<Opt>(std::move(ps), o);
}

}  // namespace

namespace bigdl_py {

void bind_core(py::module_ m) {
  // ---- Tensor ----
  py::class_<Tensor> t(m, "Tensor", py::buffer_protocol());
  // The buffer protocol exposes the tensor's own memory with its strides (a transposed
  // view too). It must not throw (pybind11 calls it from C), so every dtype has a format:
  // bf16 shows its raw bits as uint16.
  t.def_buffer([](Tensor& x) -> py::buffer_info {
    std::string fmt;
    py::ssize_t item = 0;
    switch (x.dtype()) {
      case DType::f32: fmt = "f"; item = 4; break;
      case DType::f16: fmt = "e"; item = 2; break;
      case DType::bf16: fmt = "H"; item = 2; break;
      case DType::f64: fmt = "d"; item = 8; break;
      case DType::i8: fmt = "b"; item = 1; break;
      case DType::u8: fmt = "B"; item = 1; break;
      case DType::i32: fmt = "i"; item = 4; break;
      case DType::i64: fmt = "q"; item = 8; break;
      case DType::boolean: fmt = "?"; item = 1; break;
    }
    std::vector<py::ssize_t> shape(x.shape().begin(), x.shape().end()), strides;
    for (int64_t st : x.strides()) strides.push_back(static_cast<py::ssize_t>(st) * item);
    return py::buffer_info(x.raw_data(), item, fmt, x.dim(), shape, strides);
  });
  t.def_property_readonly("shape", [](const Tensor& x) { return py::tuple(py::cast(x.shape())); })
      .def_property_readonly("dtype", [](const Tensor& x) { return std::string(dtype_name(x.dtype())); })
      .def_property_readonly("ndim", &Tensor::dim)
      .def("numel", &Tensor::numel)
      .def("dim", &Tensor::dim)
      .def("size", [](const Tensor& x, std::optional<int64_t> d) -> py::object {
        if (d) return py::int_(x.size(*d));
        return py::tuple(py::cast(x.shape()));
      }, py::arg("dim") = std::nullopt)
      .def_property("requires_grad", &Tensor::requires_grad, [](Tensor& x, bool on) { x.requires_grad_(on); })
      .def("requires_grad_", [](Tensor& x, bool on) { return x.requires_grad_(on); }, py::arg("requires_grad") = true)
      .def_property_readonly("is_leaf", &Tensor::is_leaf)
      .def_property_readonly("grad", [](const Tensor& x) -> std::optional<Tensor> {
        Tensor g = x.grad();
        if (!g.defined()) return std::nullopt;
        return g;
      })
      .def("backward", [](const Tensor& x, std::optional<Tensor> grad, bool retain_graph) {
        no_gil([&] { x.backward(grad ? *grad : Tensor(), retain_graph); return 0; });
      }, py::arg("gradient") = std::nullopt, py::arg("retain_graph") = false)
      .def("detach", &Tensor::detach)
      .def("clone", &Tensor::clone)
      .def("contiguous", &Tensor::contiguous)
      .def("item", &Tensor::item)
      .def("numpy", [](const Tensor& x) { return to_numpy(x); },
           "A NumPy array over this tensor's memory when it is contiguous f32 / i64 (else a copy).")
      .def("tolist", [](const Tensor& x) { return to_numpy(x).attr("tolist")(); })
      .def("float", [](const Tensor& x) { return x.to(DType::f32); })
      .def("long", [](const Tensor& x) { return x.to(DType::i64); })
      .def("reshape", [](const Tensor& x, const py::args& s) { return x.reshape(shape_of(s)); })
      .def("view", [](const Tensor& x, const py::args& s) { return x.view(shape_of(s)); })
      .def("transpose", &Tensor::transpose)
      .def("t", &Tensor::t)
      .def("permute", [](const Tensor& x, const py::args& d) { return x.permute(shape_of(d)); })
      .def("flatten", &Tensor::flatten, py::arg("start_dim") = 0, py::arg("end_dim") = -1)
      .def("squeeze", [](const Tensor& x, std::optional<int64_t> d) { return d ? x.squeeze(*d) : x.squeeze(); },
           py::arg("dim") = std::nullopt)
      .def("unsqueeze", &Tensor::unsqueeze)
      .def("zero_", [](Tensor& x) { return x.zero_(); })
      .def("sum", [](const Tensor& x, const py::object& d, bool k) { return sum(x, dims_of(d), k); },
           py::arg("dim") = py::none(), py::arg("keepdim") = false)
      .def("mean", [](const Tensor& x, const py::object& d, bool k) { return mean(x, dims_of(d), k); },
           py::arg("dim") = py::none(), py::arg("keepdim") = false)
      .def("argmax", [](const Tensor& x, int64_t d, bool k) { return argmax(x, d, k); }, py::arg("dim"),
           py::arg("keepdim") = false)
      .def("relu", [](const Tensor& x) { return relu(x); })
      .def("sigmoid", [](const Tensor& x) { return sigmoid(x); })
      .def("tanh", [](const Tensor& x) { return tanh(x); })
      .def("exp", [](const Tensor& x) { return exp(x); })
      .def("log", [](const Tensor& x) { return log(x); })
      .def("sqrt", [](const Tensor& x) { return sqrt(x); })
      .def("abs", [](const Tensor& x) { return abs(x); })
      .def("softmax", [](const Tensor& x, int64_t d) { return softmax(x, d); }, py::arg("dim"))
      .def("log_softmax", [](const Tensor& x, int64_t d) { return log_softmax(x, d); }, py::arg("dim"))
      .def("pow", [](const Tensor& x, double e) { return pow(x, e); })
      .def("matmul", [](const Tensor& a, const py::handle& b) { return matmul(a, operand(b, a)); })
      .def("__add__", [](const Tensor& a, const py::handle& b) { return add(a, operand(b, a)); })
      .def("__radd__", [](const Tensor& a, const py::handle& b) { return add(operand(b, a), a); })
      .def("__sub__", [](const Tensor& a, const py::handle& b) { return sub(a, operand(b, a)); })
      .def("__rsub__", [](const Tensor& a, const py::handle& b) { return sub(operand(b, a), a); })
      .def("__mul__", [](const Tensor& a, const py::handle& b) { return mul(a, operand(b, a)); })
      .def("__rmul__", [](const Tensor& a, const py::handle& b) { return mul(operand(b, a), a); })
      .def("__truediv__", [](const Tensor& a, const py::handle& b) { return div(a, operand(b, a)); })
      .def("__rtruediv__", [](const Tensor& a, const py::handle& b) { return div(operand(b, a), a); })
      .def("__pow__", [](const Tensor& a, double e) { return pow(a, e); })
      .def("__matmul__", [](const Tensor& a, const py::handle& b) { return matmul(a, operand(b, a)); })
      .def("__neg__", [](const Tensor& a) { return neg(a); })
      .def("__len__", [](const Tensor& x) { return x.dim() ? x.size(0) : throw IndexError("len() of a 0-d tensor"); })
      .def("__repr__", [](const Tensor& x) {
        return "tensor(" + std::string(py::repr(to_numpy(x))) + (x.requires_grad() ? ", requires_grad=True)" : ")");
      });

  m.def("tensor", [](const py::handle& data, bool requires_grad) {
    Tensor x = to_tensor(data, "tensor");
    if (requires_grad) x.requires_grad_(true);
    return x;
  }, py::arg("data"), py::arg("requires_grad") = false,
     "A tensor over a C-contiguous float32 / int64 array's memory (no copy), else over a converted copy.");
  m.def("zeros", [](const py::args& s) { return zeros(shape_of(s)); });
  m.def("ones", [](const py::args& s) { return ones(shape_of(s)); });
  m.def("matmul", [](const Tensor& a, const Tensor& b) { return matmul(a, b); });
  m.def("cat", [](const std::vector<Tensor>& ts, int64_t d) { return cat(ts, d); }, py::arg("tensors"), py::arg("dim") = 0);
  m.def("stack", [](const std::vector<Tensor>& ts, int64_t d) { return stack(ts, d); }, py::arg("tensors"), py::arg("dim") = 0);
  m.def("cumsum", [](const py::handle& x, int64_t d) { return cumsum(to_tensor(x, "cumsum"), d); }, py::arg("input"),
        py::arg("dim"));
  m.def("masked_fill", [](const py::handle& x, const py::handle& mask, double v) {
    // A NumPy bool array arrives as i64 (to_tensor): any nonzero is true.
    Tensor mk = to_tensor(mask, "masked_fill mask");
    if (mk.dtype() != DType::boolean) mk = ne(mk, zeros({}, mk.dtype()));
    return masked_fill(to_tensor(x, "masked_fill"), mk, v);
  }, py::arg("input"), py::arg("mask"), py::arg("value"));
  m.def("sort", [](const py::handle& x, int64_t d, bool desc) { return sort(to_tensor(x, "sort"), d, desc); },
        py::arg("input"), py::arg("dim") = -1, py::arg("descending") = false);
  m.def("topk", [](const py::handle& x, int64_t k, int64_t d, bool largest) {
    return topk(to_tensor(x, "topk"), k, d, largest);
  }, py::arg("input"), py::arg("k"), py::arg("dim") = -1, py::arg("largest") = true);
  m.def("einsum", [](const std::string& eq, const py::args& xs) {
    std::vector<Tensor> ts;
    for (const auto& x : xs) ts.push_back(to_tensor(x, "einsum"));
    return no_gil([&] { return einsum(eq, ts); });
  }, py::arg("equation"));
  m.def("manual_seed", &bigdl::manual_seed, py::arg("seed"));
  m.def("is_grad_enabled", &grad_mode_enabled);
  m.def("set_grad_enabled", &set_grad_mode, py::arg("mode"));

  // ---- nn modules ----
  py::class_<nn::Module, std::shared_ptr<nn::Module>>(m, "Module")
      .def("__call__", &call_module, py::arg("input"))
      .def("forward", &call_module, py::arg("input"))
      .def("parameters", [](const nn::Module& x) { return x.parameters(); },
           "The parameter tensors themselves (an optimizer updates them in place).")
      .def("named_parameters", [](const nn::Module& x) { return x.named_parameters(); })
      .def("num_parameters", &nn::Module::num_parameters)
      .def("state_dict", [](const nn::Module& net) {
        py::dict out;
        for (const auto& [name, v] : net.state_dict()) out[py::str(name)] = to_numpy(v.clone());
        return out;
      }, "{name: NumPy copy} of the parameters and buffers.")
      .def("load_state_dict", [](nn::Module& net, const py::dict& state, bool strict) {
        nn::NamedTensors in;
        for (const auto& [k, v] : state) in.emplace_back(py::cast<std::string>(k), to_tensor(v, "load_state_dict"));
        py::gil_scoped_release release;
        net.load_state_dict(in, strict);
      }, py::arg("state"), py::arg("strict") = true)
      .def("predict_numpy", [](nn::Module& net, const py::handle& x) {
        const Tensor in = to_tensor(x, "x");
        const Tensor out = no_gil([&] {
          NoGradGuard no_grad;
          net.eval();
          return net.forward(in);
        });
        return to_numpy(out);
      }, py::arg("x"), "Evaluation-mode outputs without autograd, as a NumPy array.")
      .def("train", [](nn::Module& x, bool on) -> nn::Module& { x.train(on); return x; }, py::arg("mode") = true,
           py::return_value_policy::reference)
      .def("eval", [](nn::Module& x) -> nn::Module& { x.eval(); return x; }, py::return_value_policy::reference)
      .def_property_readonly("training", &nn::Module::is_training)
      .def("zero_grad", &nn::Module::zero_grad)
      .def("__repr__", &nn::Module::repr);

  using nn::Module;
  py::class_<nn::Linear, Module, std::shared_ptr<nn::Linear>>(m, "Linear")
      .def(py::init<int64_t, int64_t, bool>(), py::arg("in_features"), py::arg("out_features"), py::arg("bias") = true)
      .def_readonly("weight", &nn::Linear::weight)
      .def_readonly("bias", &nn::Linear::bias);
  py::class_<nn::Conv2d, Module, std::shared_ptr<nn::Conv2d>>(m, "Conv2d")
      .def(py::init([](int64_t in, int64_t out, std::pair<int64_t, int64_t> k, std::pair<int64_t, int64_t> s,
                       std::pair<int64_t, int64_t> p, int64_t groups, bool bias) {
             nn::Conv2dOptions o;
             o.in_channels = in;
             o.out_channels = out;
             o.kernel_size = k;
             o.stride = s;
             o.padding = p;
             o.groups = groups;
             o.bias = bias;
             return std::make_shared<nn::Conv2d>(o);
           }),
           py::arg("in_channels"), py::arg("out_channels"), py::arg("kernel_size"), py::arg("stride"),
           py::arg("padding"), py::arg("groups"), py::arg("bias"))
      .def_readonly("weight", &nn::Conv2d::weight)
      .def_readonly("bias", &nn::Conv2d::bias);
  py::class_<nn::MaxPool2d, Module, std::shared_ptr<nn::MaxPool2d>>(m, "MaxPool2d")
      .def(py::init([](std::pair<int64_t, int64_t> k, std::optional<std::pair<int64_t, int64_t>> s,
                       std::pair<int64_t, int64_t> p) { return std::make_shared<nn::MaxPool2d>(k, s, p); }),
           py::arg("kernel_size"), py::arg("stride"), py::arg("padding"));
  py::class_<nn::BatchNorm1d, Module, std::shared_ptr<nn::BatchNorm1d>>(m, "BatchNorm1d")
      .def(py::init<int64_t, double, double, bool>(), py::arg("num_features"), py::arg("eps") = 1e-5,
           py::arg("momentum") = 0.1, py::arg("affine") = true);
  py::class_<nn::BatchNorm2d, Module, std::shared_ptr<nn::BatchNorm2d>>(m, "BatchNorm2d")
      .def(py::init<int64_t, double, double, bool>(), py::arg("num_features"), py::arg("eps") = 1e-5,
           py::arg("momentum") = 0.1, py::arg("affine") = true);
  py::class_<nn::LayerNorm, Module, std::shared_ptr<nn::LayerNorm>>(m, "LayerNorm")
      .def(py::init<Shape, double, bool>(), py::arg("normalized_shape"), py::arg("eps") = 1e-5,
           py::arg("elementwise_affine") = true);
  py::class_<nn::GroupNorm, Module, std::shared_ptr<nn::GroupNorm>>(m, "GroupNorm")
      .def(py::init<int64_t, int64_t, double, bool>(), py::arg("num_groups"), py::arg("num_channels"), py::arg("eps") = 1e-5,
           py::arg("affine") = true);
  py::class_<nn::AvgPool1d, Module, std::shared_ptr<nn::AvgPool1d>>(m, "AvgPool1d")
      .def(py::init<int64_t, std::optional<int64_t>, int64_t, bool>(), py::arg("kernel_size"),
           py::arg("stride") = std::nullopt, py::arg("padding") = 0, py::arg("count_include_pad") = true);
  py::class_<nn::ConvTranspose1d, Module, std::shared_ptr<nn::ConvTranspose1d>>(m, "ConvTranspose1d")
      .def(py::init([](int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, int64_t op, int64_t g, bool b,
                       int64_t d) { return std::make_shared<nn::ConvTranspose1d>(nn::ConvTranspose1dOptions{in, out, k, s, p, op, g, b, d}); }),
           py::arg("in_channels"), py::arg("out_channels"), py::arg("kernel_size"), py::arg("stride") = 1,
           py::arg("padding") = 0, py::arg("output_padding") = 0, py::arg("groups") = 1, py::arg("bias") = true,
           py::arg("dilation") = 1);
  py::class_<nn::ConvTranspose2d, Module, std::shared_ptr<nn::ConvTranspose2d>>(m, "ConvTranspose2d")
      .def(py::init([](int64_t in, int64_t out, nn::Pair k, nn::Pair s, nn::Pair p, nn::Pair op, int64_t g, bool b,
                       nn::Pair d) { return std::make_shared<nn::ConvTranspose2d>(nn::ConvTranspose2dOptions{in, out, k, s, p, op, g, b, d}); }),
           py::arg("in_channels"), py::arg("out_channels"), py::arg("kernel_size"), py::arg("stride") = nn::Pair{1, 1},
           py::arg("padding") = nn::Pair{0, 0}, py::arg("output_padding") = nn::Pair{0, 0}, py::arg("groups") = 1,
           py::arg("bias") = true, py::arg("dilation") = nn::Pair{1, 1});
  py::class_<nn::MultiheadAttention, Module, std::shared_ptr<nn::MultiheadAttention>>(m, "MultiheadAttention")
      .def(py::init<int64_t, int64_t, double, bool, bool>(), py::arg("embed_dim"), py::arg("num_heads"),
           py::arg("dropout") = 0.0, py::arg("bias") = true, py::arg("batch_first") = false)
      .def("attend", [](nn::MultiheadAttention& a, const py::handle& q, const py::handle& k, const py::handle& v,
                        const py::object& mask) {
        const Tensor tq = to_tensor(q, "query"), tk = to_tensor(k, "key"), tv = to_tensor(v, "value");
        const Tensor tm = mask.is_none() ? Tensor() : to_tensor(mask, "attn_mask");
        auto r = no_gil([&] { return a.forward_full(tq, tk, tv, tm); });
        return py::make_tuple(r.output, r.weights);
      }, py::arg("query"), py::arg("key"), py::arg("value"), py::arg("attn_mask") = py::none(),
         "(output, attention weights averaged over heads), as torch's forward; a float mask is added to the scores.");
  py::class_<nn::TransformerEncoderLayer, Module, std::shared_ptr<nn::TransformerEncoderLayer>>(m, "TransformerEncoderLayer")
      .def(py::init([](int64_t d_model, int64_t nhead, int64_t ff, double dropout, const std::string& act, double eps,
                       bool batch_first, bool norm_first, const std::string& norm) {
             nn::TransformerEncoderLayerOptions o;
             o.d_model = d_model;
             o.nhead = nhead;
             o.dim_feedforward = ff;
             o.dropout = dropout;
             o.activation = act;
             o.layer_norm_eps = eps;
             o.batch_first = batch_first;
             o.norm_first = norm_first;
             o.norm = norm;
             return std::make_shared<nn::TransformerEncoderLayer>(o);
           }),
           py::arg("d_model"), py::arg("nhead"), py::arg("dim_feedforward") = 2048, py::arg("dropout") = 0.1,
           py::arg("activation") = "relu", py::arg("layer_norm_eps") = 1e-5, py::arg("batch_first") = false,
           py::arg("norm_first") = false, py::arg("norm") = "layer");
  py::class_<nn::Dropout, Module, std::shared_ptr<nn::Dropout>>(m, "Dropout").def(py::init<double>(), py::arg("p") = 0.5);
  py::class_<nn::Embedding, Module, std::shared_ptr<nn::Embedding>>(m, "Embedding")
      .def(py::init<int64_t, int64_t, std::optional<int64_t>>(), py::arg("num_embeddings"), py::arg("embedding_dim"),
           py::arg("padding_idx") = std::nullopt);
  py::class_<nn::Flatten, Module, std::shared_ptr<nn::Flatten>>(m, "Flatten")
      .def(py::init<int64_t, int64_t>(), py::arg("start_dim") = 1, py::arg("end_dim") = -1);
  py::class_<nn::Softmax, Module, std::shared_ptr<nn::Softmax>>(m, "Softmax").def(py::init<int64_t>(), py::arg("dim"));
  py::class_<nn::LogSoftmax, Module, std::shared_ptr<nn::LogSoftmax>>(m, "LogSoftmax").def(py::init<int64_t>(), py::arg("dim"));
  py::class_<nn::LeakyReLU, Module, std::shared_ptr<nn::LeakyReLU>>(m, "LeakyReLU")
      .def(py::init<double>(), py::arg("negative_slope") = 0.01);
  py::class_<nn::GELU, Module, std::shared_ptr<nn::GELU>>(m, "GELU").def(py::init<std::string>(), py::arg("approximate") = "none");
  py::class_<nn::ReLU, Module, std::shared_ptr<nn::ReLU>>(m, "ReLU").def(py::init<>());
  py::class_<nn::SiLU, Module, std::shared_ptr<nn::SiLU>>(m, "SiLU").def(py::init<>());
  py::class_<nn::Tanh, Module, std::shared_ptr<nn::Tanh>>(m, "Tanh").def(py::init<>());
  py::class_<nn::Sigmoid, Module, std::shared_ptr<nn::Sigmoid>>(m, "Sigmoid").def(py::init<>());
  py::class_<nn::Identity, Module, std::shared_ptr<nn::Identity>>(m, "Identity").def(py::init<>());
  py::class_<nn::Sequential, Module, std::shared_ptr<nn::Sequential>>(m, "Sequential")
      .def(py::init([](const py::args& mods) {
        auto s = std::make_shared<nn::Sequential>();
        for (const auto& x : mods) s->add(x.cast<nn::ModulePtr>());
        return s;
      }))
      .def("add", [](nn::Sequential& s, nn::ModulePtr x) { s.add(std::move(x)); })
      .def("__len__", &nn::Sequential::size)
      .def("__getitem__", [](const nn::Sequential& s, size_t i) {
        if (i >= s.size()) throw IndexError("Sequential index " + std::to_string(i) + " out of range");
        return s[i];
      });

  // ---- losses ----
  py::class_<nn::Loss, std::shared_ptr<nn::Loss>>(m, "Loss")
      .def("__call__", [](nn::Loss& l, const py::handle& in, const py::handle& target) {
        const Tensor a = to_tensor(in, "input"), b = to_tensor(target, "target");
        return no_gil([&] { return l.forward(a, b); });
      }, py::arg("input"), py::arg("target"));
  py::class_<nn::CrossEntropyLoss, nn::Loss, std::shared_ptr<nn::CrossEntropyLoss>>(m, "CrossEntropyLoss")
      .def(py::init([](const std::string& r, double smoothing, int64_t ignore_index) {
             nn::CrossEntropyLossOptions o;
             o.reduction = reduction(r);
             o.label_smoothing = smoothing;
             o.ignore_index = ignore_index;
             return std::make_shared<nn::CrossEntropyLoss>(o);
           }),
           py::arg("reduction") = "mean", py::arg("label_smoothing") = 0.0, py::arg("ignore_index") = -100);
  py::class_<nn::QuantileLoss, nn::Loss, std::shared_ptr<nn::QuantileLoss>>(m, "QuantileLoss")
      .def(py::init([](std::vector<double> q, const std::string& r) {
             return std::make_shared<nn::QuantileLoss>(std::move(q), reduction(r));
           }),
           py::arg("quantiles"), py::arg("reduction") = "mean")
      .def_property_readonly("quantiles", &nn::QuantileLoss::quantiles);
  py::class_<nn::MSELoss, nn::Loss, std::shared_ptr<nn::MSELoss>>(m, "MSELoss")
      .def(py::init([](const std::string& r) { return std::make_shared<nn::MSELoss>(reduction(r)); }),
           py::arg("reduction") = "mean");
  py::class_<nn::L1Loss, nn::Loss, std::shared_ptr<nn::L1Loss>>(m, "L1Loss")
      .def(py::init([](const std::string& r) { return std::make_shared<nn::L1Loss>(reduction(r)); }),
           py::arg("reduction") = "mean");
  py::class_<nn::BCEWithLogitsLoss, nn::Loss, std::shared_ptr<nn::BCEWithLogitsLoss>>(m, "BCEWithLogitsLoss")
      .def(py::init([](const std::string& r) { return std::make_shared<nn::BCEWithLogitsLoss>(Tensor(), Tensor(), reduction(r)); }),
           py::arg("reduction") = "mean");
  py::class_<nn::BCELoss, nn::Loss, std::shared_ptr<nn::BCELoss>>(m, "BCELoss")
      .def(py::init([](const std::string& r) { return std::make_shared<nn::BCELoss>(Tensor(), reduction(r)); }),
           py::arg("reduction") = "mean");

  // ---- optimizers ----
  py::class_<optim::Optimizer, std::shared_ptr<optim::Optimizer>>(m, "Optimizer")
      .def("step", [](optim::Optimizer& o) { no_gil([&] { o.step(); return 0; }); })
      .def("zero_grad", &optim::Optimizer::zero_grad)
      .def_property("lr", &optim::Optimizer::lr, &optim::Optimizer::set_lr)
      .def("__repr__", [](const optim::Optimizer& o) { return o.name() + "(lr=" + std::to_string(o.lr()) + ")"; });
  m.def("SGD", [](const py::iterable& params, double lr, double momentum, double dampening, double weight_decay,
                  bool nesterov) {
    return make_opt<optim::SGD>(params, optim::SGDOptions{lr, momentum, dampening, weight_decay, nesterov});
  }, py::arg("params"), py::arg("lr"), py::arg("momentum") = 0.0, py::arg("dampening") = 0.0,
     py::arg("weight_decay") = 0.0, py::arg("nesterov") = false);
  const auto adam_opts = [](double lr, std::pair<double, double> betas, double eps, double wd, bool ams) {
    return optim::AdamOptions{lr, betas.first, betas.second, eps, wd, ams};
  };
  m.def("Adam", [adam_opts](const py::iterable& params, double lr, std::pair<double, double> betas, double eps,
                            double wd, bool ams) { return make_opt<optim::Adam>(params, adam_opts(lr, betas, eps, wd, ams)); },
        py::arg("params"), py::arg("lr") = 1e-3, py::arg("betas") = std::pair<double, double>{0.9, 0.999},
        py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0, py::arg("amsgrad") = false);
  m.def("AdamW", [adam_opts](const py::iterable& params, double lr, std::pair<double, double> betas, double eps,
                             double wd, bool ams) { return make_opt<optim::AdamW>(params, adam_opts(lr, betas, eps, wd, ams)); },
        py::arg("params"), py::arg("lr") = 1e-3, py::arg("betas") = std::pair<double, double>{0.9, 0.999},
        py::arg("eps") = 1e-8, py::arg("weight_decay") = 1e-2, py::arg("amsgrad") = false);
  m.def("RMSprop", [](const py::iterable& params, double lr, double alpha, double eps, double wd, double momentum,
                      bool centered) {
    return make_opt<optim::RMSprop>(params, optim::RMSpropOptions{lr, alpha, eps, wd, momentum, centered});
  }, py::arg("params"), py::arg("lr") = 1e-2, py::arg("alpha") = 0.99, py::arg("eps") = 1e-8,
     py::arg("weight_decay") = 0.0, py::arg("momentum") = 0.0, py::arg("centered") = false);
  m.def("Adagrad", [](const py::iterable& params, double lr, double lr_decay, double wd, double init, double eps) {
    return make_opt<optim::Adagrad>(params, optim::AdagradOptions{lr, lr_decay, wd, init, eps});
  }, py::arg("params"), py::arg("lr") = 1e-2, py::arg("lr_decay") = 0.0, py::arg("weight_decay") = 0.0,
     py::arg("initial_accumulator_value") = 0.0, py::arg("eps") = 1e-10);
}

}  // namespace bigdl_py
