// The ONNX operators of an imported model that run as steps of their own
// (src/nano/onnx_ops.h), on the core's ops. Semantics follow the ONNX operator
// specification (https://onnx.ai/onnx/operators/) for opsets 11-18, the range PyTorch and
// tf2onnx export.
#include "nano/onnx_ops.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>

#include "bigdl/error.h"
#include "bigdl/io/onnx.h"
#include "bigdl/ops.h"
#include "backend/cpu/kernels.h"
#include "core/internal.h"

namespace bigdl::nano::onnx_ops {
namespace {

using nlohmann::json;

struct Ctx {
  const std::string& op;
  const json& a;
  int64_t opset;
  const Tensor& value;
  bool has(const char* n) const { return a.contains(n); }
  int64_t i(const char* n, int64_t d) const { return a.contains(n) ? a.at(n).get<int64_t>() : d; }
  double f(const char* n, double d) const { return a.contains(n) ? a.at(n).get<double>() : d; }
  std::string s(const char* n, const std::string& d) const { return a.contains(n) ? a.at(n).get<std::string>() : d; }
  std::vector<int64_t> ints(const char* n) const { return a.contains(n) ? a.at(n).get<std::vector<int64_t>>() : std::vector<int64_t>{}; }
  std::string where() const { return "nano.onnx." + op; }
};

using Ins = std::vector<Tensor>;
using Fn = std::function<Tensor(const Ctx&, const Ins&)>;

// The values of an integer tensor (shapes, axes, indices).
std::vector<int64_t> ints_of(const Tensor& t, const Ctx& c, const char* what) {
  BIGDL_CHECK(t.defined(), ValueError, c.where(), what, " is not given");
  BIGDL_CHECK(is_integral(t.dtype()) || t.dtype() == DType::boolean, DTypeError, c.where(), what, " must be integers, got ",
              dtype_name(t.dtype()));
  const Tensor v = t.to(DType::i64).contiguous();
  return std::vector<int64_t>(v.data<int64_t>(), v.data<int64_t>() + v.numel());
}


double scalar_of(const Tensor& t, const Ctx& c, const char* what) {
  BIGDL_CHECK(t.defined() && t.numel() == 1, ShapeError, c.where(), what, " must hold one value");
  return t.to(DType::f64).contiguous().data<double>()[0];
}

int64_t axis_of(int64_t axis, int64_t rank, const Ctx& c) {
  BIGDL_CHECK(axis >= -rank && axis < std::max<int64_t>(rank, 1), IndexError, c.where(), "axis ", axis, " is out of range for rank ",
              rank);
  return axis < 0 ? axis + rank : axis;
}

DType dtype_of_onnx(int64_t onnx_type, const Ctx& c) {
  const std::string n = io::onnx_dtype_name(int32_t(onnx_type));
  BIGDL_CHECK(!n.empty(), DTypeError, c.where(), "ONNX data type ", onnx_type, " is not supported");
  return dtype_from_safetensors(n, "nano.onnx");
}

bool both_integral(const Tensor& a, const Tensor& b) { return is_integral(a.dtype()) && is_integral(b.dtype()); }

Tensor binary(const Ctx& c, const Ins& in) {
  BIGDL_CHECK(in.size() == 2 && in[0].defined() && in[1].defined(), ValueError, c.where(), "needs two inputs");
  const Tensor &a = in[0], &b = in[1];
  const std::string& op = c.op;
  if (op == "Add") return add(a, b);
  if (op == "Sub") return sub(a, b);
  if (op == "Mul") return mul(a, b);
  if (op == "Div") {
    if (!both_integral(a, b)) return div(a, b);
    const Tensor bz = b.to(DType::i64).contiguous();
    for (int64_t k = 0; k < bz.numel(); ++k) BIGDL_CHECK(bz.data<int64_t>()[k] != 0, ValueError, c.where(), "integer division by zero");
    return div(a.to(DType::f64), b.to(DType::f64)).to(a.dtype());  // truncates toward zero, as C
  }
  if (op == "Pow") {
    if (both_integral(a, b)) return pow(a.to(DType::f64), b.to(DType::f64)).to(a.dtype());
    if (b.numel() == 1 && b.dim() <= a.dim()) return pow(a, scalar_of(b, c, "exponent"));
    return pow(a, b.to(a.dtype()));
  }
  if (op == "Equal") return eq(a, b);
  if (op == "Less") return lt(a, b);
  if (op == "LessOrEqual") return le(a, b);
  if (op == "Greater") return gt(a, b);
  if (op == "GreaterOrEqual") return ge(a, b);
  if (op == "And") return logical_and(a, b);
  if (op == "Or") return logical_or(a, b);
  throw InternalError("[nano.onnx] no binary op " + op);
}

Tensor variadic(const Ctx& c, const Ins& in) {
  BIGDL_CHECK(!in.empty() && in[0].defined(), ValueError, c.where(), "needs an input");
  Tensor y = in[0];
  for (size_t k = 1; k < in.size(); ++k)
    y = c.op == "Max" ? maximum(y, in[k]) : c.op == "Min" ? minimum(y, in[k]) : add(y, in[k]);
  return y;
}

Tensor unary(const Ctx& c, const Ins& in) {
  BIGDL_CHECK(!in.empty() && in[0].defined(), ValueError, c.where(), "needs an input");
  const Tensor& x = in[0];
  const std::string& op = c.op;
  if (op == "Relu") return relu(x);
  if (op == "Sigmoid") return sigmoid(x);
  if (op == "Tanh") return tanh(x);
  if (op == "Erf") return erf(x);
  if (op == "Sqrt") return sqrt(x);
  if (op == "Exp") return exp(x);
  if (op == "Log") return log(x);
  if (op == "Neg") return neg(x);
  if (op == "Abs") return abs(x);
  if (op == "Reciprocal") return div(ones({}, x.dtype()), x);
  if (op == "Not") return logical_not(x);
  if (op == "Softplus") return log1p(exp(x));
  if (op == "LeakyRelu") return leaky_relu(x, c.f("alpha", 0.01));
  if (op == "Elu") return elu(x, c.f("alpha", 1.0));
  if (op == "Gelu") return gelu(x, c.s("approximate", "none") == "tanh");
  if (op == "Identity" || op == "Dropout") return x;
  if (op == "Cast") return x.to(dtype_of_onnx(c.i("to", 1), c));
  if (op == "Clip") {
    std::optional<double> lo, hi;
    if (c.opset >= 11) {
      if (in.size() > 1 && in[1].defined()) lo = scalar_of(in[1], c, "min");
      if (in.size() > 2 && in[2].defined()) hi = scalar_of(in[2], c, "max");
    } else {
      if (c.has("min")) lo = c.f("min", 0);
      if (c.has("max")) hi = c.f("max", 0);
    }
    return clamp(x, lo, hi);
  }
  throw InternalError("[nano.onnx] no unary op " + op);
}


// The axes of a Reduce*, Squeeze or Unsqueeze: an input from `input_opset` on, an attribute before.
std::vector<int64_t> axes_of(const Ctx& c, const Ins& in, int64_t input_opset) {
  if (c.opset >= input_opset) return in.size() > 1 && in[1].defined() ? ints_of(in[1], c, "axes") : std::vector<int64_t>{};
  return c.ints("axes");
}

Tensor reduce(const Ctx& c, const Ins& in) {
  const Tensor& x = in.at(0);
  std::vector<int64_t> axes = axes_of(c, in, c.op == "ReduceSum" ? 13 : 18);
  if (axes.empty() && c.i("noop_with_empty_axes", 0)) return x;
  for (int64_t& a : axes) a = axis_of(a, x.dim(), c);
  if (axes.empty())
    for (int64_t k = 0; k < x.dim(); ++k) axes.push_back(k);
  const bool keep = c.i("keepdims", 1) != 0;
  if (c.op == "ReduceMean") return mean(x, axes, keep);
  if (c.op == "ReduceSum") return sum(x, axes, keep);
  return amax(x, axes, keep);
}

Tensor softmax_op(const Ctx& c, const Ins& in) {
  const Tensor& x = in.at(0);
  const bool log = c.op == "LogSoftmax";
  if (c.opset >= 13) {
    const int64_t axis = axis_of(c.i("axis", -1), x.dim(), c);
    return log ? log_softmax(x, axis) : softmax(x, axis);
  }
  // Before opset 13: over the dims from axis on, flattened.
  const int64_t axis = axis_of(c.i("axis", 1), x.dim(), c);
  int64_t rows = 1;
  for (int64_t k = 0; k < axis; ++k) rows *= x.size(k);
  const Tensor x2 = x.reshape({rows, x.numel() / std::max<int64_t>(rows, 1)});
  return (log ? log_softmax(x2, 1) : softmax(x2, 1)).reshape(x.shape());
}

Tensor reshape_op(const Ctx& c, const Ins& in) {
  const Tensor& x = in.at(0);
  std::vector<int64_t> shape = ints_of(in.at(1), c, "shape");
  const bool allowzero = c.i("allowzero", 0) != 0;
  int64_t known = 1, infer = -1;
  for (size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] == 0 && !allowzero) {
      BIGDL_CHECK(int64_t(k) < x.dim(), ShapeError, c.where(), "shape ", shape_str(shape), " copies dim ", k, " of ", shape_str(x.shape()));
      shape[k] = x.size(int64_t(k));
    }
    if (shape[k] == -1) {
      BIGDL_CHECK(infer < 0, ShapeError, c.where(), "shape ", shape_str(shape), " has two -1");
      infer = int64_t(k);
    } else {
      BIGDL_CHECK(shape[k] >= 0, ShapeError, c.where(), "shape ", shape_str(shape), " has a negative dim");
      known *= shape[k];
    }
  }
  if (infer >= 0) {
    BIGDL_CHECK(known > 0 && x.numel() % known == 0, ShapeError, c.where(), "cannot reshape ", shape_str(x.shape()), " to ", shape_str(shape));
    shape[size_t(infer)] = x.numel() / known;
  }
  BIGDL_CHECK(std::accumulate(shape.begin(), shape.end(), int64_t(1), std::multiplies<>()) == x.numel(), ShapeError, c.where(),
              "cannot reshape ", shape_str(x.shape()), " to ", shape_str(shape));
  return x.reshape(shape);
}

Tensor flatten_op(const Ctx& c, const Ins& in) {
  const Tensor& x = in.at(0);
  const int64_t axis = c.i("axis", 1) < 0 ? c.i("axis", 1) + x.dim() : c.i("axis", 1);
  BIGDL_CHECK(axis >= 0 && axis <= x.dim(), IndexError, c.where(), "axis ", c.i("axis", 1), " is out of range for rank ", x.dim());
  int64_t rows = 1;
  for (int64_t k = 0; k < axis; ++k) rows *= x.size(k);
  return x.reshape({rows, rows ? x.numel() / rows : 0});
}

Tensor squeeze_op(const Ctx& c, const Ins& in) {
  const Tensor& x = in.at(0);
  std::vector<int64_t> axes = axes_of(c, in, 13);
  Shape out;
  for (int64_t& a : axes) a = axis_of(a, x.dim(), c);
  for (int64_t k = 0; k < x.dim(); ++k) {
    const bool drop = axes.empty() ? x.size(k) == 1 : std::count(axes.begin(), axes.end(), k) > 0;
    BIGDL_CHECK(!drop || x.size(k) == 1, ShapeError, c.where(), "dim ", k, " of ", shape_str(x.shape()), " is not 1");
    if (!drop) out.push_back(x.size(k));
  }
  return x.reshape(out);
}

Tensor unsqueeze_op(const Ctx& c, const Ins& in) {
  const Tensor& x = in.at(0);
  std::vector<int64_t> axes = axes_of(c, in, 13);
  const int64_t r = x.dim() + int64_t(axes.size());
  for (int64_t& a : axes) a = axis_of(a, r, c);
  Shape out;
  for (int64_t k = 0, src = 0; k < r; ++k) out.push_back(std::count(axes.begin(), axes.end(), k) ? 1 : x.size(src++));
  return x.reshape(out);
}

Tensor transpose_op(const Ctx& c, const Ins& in) {
  const Tensor& x = in.at(0);
  std::vector<int64_t> perm = c.ints("perm");
  if (perm.empty())
    for (int64_t k = x.dim() - 1; k >= 0; --k) perm.push_back(k);
  BIGDL_CHECK(int64_t(perm.size()) == x.dim(), ShapeError, c.where(), "perm ", shape_str(perm), " for rank ", x.dim());
  return x.permute(perm);
}

Tensor concat_op(const Ctx& c, const Ins& in) {
  BIGDL_CHECK(!in.empty(), ValueError, c.where(), "needs inputs");
  return cat(in, axis_of(c.i("axis", 0), in[0].dim(), c));
}

Tensor slice_op(const Ctx& c, const Ins& in) {
  Tensor x = in.at(0);
  const std::vector<int64_t> starts = ints_of(in.at(1), c, "starts"), ends = ints_of(in.at(2), c, "ends");
  std::vector<int64_t> axes = in.size() > 3 && in[3].defined() ? ints_of(in[3], c, "axes") : std::vector<int64_t>{};
  std::vector<int64_t> steps = in.size() > 4 && in[4].defined() ? ints_of(in[4], c, "steps") : std::vector<int64_t>{};
  if (axes.empty())
    for (size_t k = 0; k < starts.size(); ++k) axes.push_back(int64_t(k));
  if (steps.empty()) steps.assign(starts.size(), 1);
  BIGDL_CHECK(ends.size() == starts.size() && axes.size() == starts.size() && steps.size() == starts.size(), ShapeError, c.where(),
              "starts, ends, axes and steps differ in length");
  for (size_t k = 0; k < starts.size(); ++k) {
    const int64_t axis = axis_of(axes[k], x.dim(), c), dim = x.size(axis), step = steps[k];
    BIGDL_CHECK(step != 0, ValueError, c.where(), "step 0");
    const auto clip = [](int64_t v, int64_t lo, int64_t hi) { return std::min(std::max(v, lo), hi); };
    int64_t s = starts[k] < 0 ? starts[k] + dim : starts[k], e = ends[k] < 0 ? ends[k] + dim : ends[k];
    if (ends[k] >= dim) e = dim;  // INT64_MAX "to the end"
    if (step > 0) s = clip(s, 0, dim), e = clip(e, 0, dim);
    else s = clip(s, -1, dim - 1), e = clip(e, -1, dim - 1);
    if (step == 1) {
      x = x.narrow(axis, s, std::max<int64_t>(0, e - s));
      continue;
    }
    std::vector<int64_t> idx;
    for (int64_t v = s; step > 0 ? v < e : v > e; v += step) idx.push_back(v);
    x = index_select(x, axis, from_vector(idx, {int64_t(idx.size())}));
  }
  return x;
}

Tensor gather_op(const Ctx& c, const Ins& in) {
  const Tensor& x = in.at(0);
  const int64_t axis = axis_of(c.i("axis", 0), x.dim(), c), dim = x.size(axis);
  std::vector<int64_t> idx = ints_of(in.at(1), c, "indices");
  for (int64_t& v : idx) {
    BIGDL_CHECK(v >= -dim && v < dim, IndexError, c.where(), "index ", v, " is out of range for a dim of ", dim);
    if (v < 0) v += dim;
  }
  Shape out(x.shape().begin(), x.shape().begin() + axis);
  for (int64_t d : in[1].shape()) out.push_back(d);
  out.insert(out.end(), x.shape().begin() + axis + 1, x.shape().end());
  return index_select(x, axis, from_vector(idx, {int64_t(idx.size())})).reshape(out);
}

Tensor expand_op(const Ctx& c, const Ins& in) {
  const Tensor& x = in.at(0);
  const Shape target = ints_of(in.at(1), c, "shape");
  const Shape out = broadcast_shapes(x.shape(), target, c.where().c_str());
  Shape lifted(out.size() - size_t(x.dim()), 1);
  lifted.insert(lifted.end(), x.shape().begin(), x.shape().end());
  return x.reshape(lifted).expand(out);
}

Tensor constant_of_shape(const Ctx& c, const Ins& in) {
  const Shape shape = ints_of(in.at(0), c, "shape");
  for (int64_t d : shape) BIGDL_CHECK(d >= 0 && d < (int64_t(1) << 32), ShapeError, c.where(), "bad shape ", shape_str(shape));
  if (!c.value.defined()) return zeros(shape);
  BIGDL_CHECK(c.value.numel() == 1, ShapeError, c.where(), "value must hold one element");
  return full(shape, c.value.to(DType::f64).contiguous().data<double>()[0], c.value.dtype());
}

Tensor range_op(const Ctx& c, const Ins& in) {
  const double start = scalar_of(in.at(0), c, "start"), limit = scalar_of(in.at(1), c, "limit"), delta = scalar_of(in.at(2), c, "delta");
  BIGDL_CHECK(delta != 0, ValueError, c.where(), "delta 0");
  BIGDL_CHECK(std::fabs((limit - start) / delta) < double(int64_t(1) << 32), ValueError, c.where(), "range too long");
  return arange(start, limit, delta, in[0].dtype());
}

Tensor shape_op(const Ctx& c, const Ins& in) {
  const Shape& s = in.at(0).shape();
  const int64_t r = int64_t(s.size());
  int64_t a = c.i("start", 0), e = c.i("end", r);
  a = std::clamp<int64_t>(a < 0 ? a + r : a, 0, r);
  e = std::clamp<int64_t>(e < 0 ? e + r : e, 0, r);
  const std::vector<int64_t> dims(s.begin() + a, s.begin() + std::max(a, e));
  return from_vector(dims, {int64_t(dims.size())});
}

// Pad, constant mode: pads [x1_begin, x2_begin, ..., x1_end, x2_end, ...] (negative crops).
Tensor pad_op(const Ctx& c, const Ins& in) {
  const Tensor& x = in.at(0);
  BIGDL_CHECK(c.s("mode", "constant") == "constant", ValueError, c.where(), "mode '", c.s("mode", ""), "' is not supported (constant only)");
  std::vector<int64_t> pads = c.opset >= 11 ? ints_of(in.at(1), c, "pads") : c.ints("pads");
  const int64_t r = x.dim();
  std::vector<int64_t> axes;
  if (in.size() > 3 && in[3].defined()) axes = ints_of(in[3], c, "axes");
  else
    for (int64_t k = 0; k < r; ++k) axes.push_back(k);
  BIGDL_CHECK(pads.size() == 2 * axes.size(), ShapeError, c.where(), "pads holds ", pads.size(), " values for ", axes.size(), " axes");
  const double value = c.opset >= 11 ? (in.size() > 2 && in[2].defined() ? scalar_of(in[2], c, "constant_value") : 0.0) : c.f("value", 0.0);
  Shape out = x.shape();
  std::vector<int64_t> begin(size_t(r), 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    const int64_t a = axis_of(axes[k], r, c);
    begin[size_t(a)] = pads[k];
    out[size_t(a)] += pads[k] + pads[k + axes.size()];
    BIGDL_CHECK(out[size_t(a)] >= 0, ShapeError, c.where(), "pads crop dim ", a, " below zero");
  }
  Tensor y = full(out, value, x.dtype());
  // The overlap of x and y along each dim: x from max(0, -begin), y from max(0, begin).
  Tensor src = x, dst = y;
  for (int64_t a = 0; a < r; ++a) {
    const int64_t xs = std::max<int64_t>(0, -begin[size_t(a)]), ys = std::max<int64_t>(0, begin[size_t(a)]);
    const int64_t len = std::min(x.size(a) - xs, out[size_t(a)] - ys);
    if (len <= 0) return y;
    src = src.narrow(a, xs, len);
    dst = dst.narrow(a, ys, len);
  }
  dst.copy_(src);
  return y;
}

Tensor where_op(const Ctx& c, const Ins& in) { return where(in.at(0).to(DType::boolean), in.at(1), in.at(2)); }

Tensor matmul_op(const Ctx& c, const Ins& in) { return matmul(in.at(0), in.at(1)); }

Tensor gemm_op(const Ctx& c, const Ins& in) {
  Tensor a = in.at(0), b = in.at(1);
  BIGDL_CHECK(a.dim() == 2 && b.dim() == 2, ShapeError, c.where(), "A and B must be matrices, got ", shape_str(a.shape()), " and ",
              shape_str(b.shape()));
  if (c.i("transA", 0)) a = a.t();
  if (c.i("transB", 0)) b = b.t();
  Tensor y = matmul(a, b);
  if (const double alpha = c.f("alpha", 1.0); alpha != 1.0) y = mul(y, scalar_tensor(alpha));
  if (in.size() > 2 && in[2].defined()) y = add(y, in[2], c.f("beta", 1.0));
  return y;
}

Tensor layer_norm_op(const Ctx& c, const Ins& in) {
  const Tensor& x = in.at(0);
  const int64_t axis = axis_of(c.i("axis", -1), x.dim(), c);
  const Shape ns(x.shape().begin() + axis, x.shape().end());
  const auto fit = [&](const Tensor& t) { return t.defined() ? t.reshape(ns) : t; };
  return layer_norm(x, ns, fit(in.at(1)), fit(in.size() > 2 ? in[2] : Tensor()), c.f("epsilon", 1e-5));
}

Tensor batch_norm_op(const Ctx& c, const Ins& in) {
  const Tensor& x = in.at(0);
  BIGDL_CHECK(x.dim() >= 2 && in.size() >= 5, ShapeError, c.where(), "needs X [N, C, ...], scale, B, mean and var");
  Shape ps{x.size(1)};
  for (int64_t k = 2; k < x.dim(); ++k) ps.push_back(1);
  const auto p = [&](size_t k) { return in.at(k).reshape(ps); };
  const Tensor inv = rsqrt(add(p(4), scalar_tensor(c.f("epsilon", 1e-5))));
  return add(mul(mul(sub(x, p(3)), inv), p(1)), p(2));
}

Tensor global_pool(const Ctx& c, const Ins& in) {
  const Tensor& x = in.at(0);
  BIGDL_CHECK(x.dim() >= 3, ShapeError, c.where(), "expected input [N, C, ...], got ", shape_str(x.shape()));
  std::vector<int64_t> dims;
  for (int64_t k = 2; k < x.dim(); ++k) dims.push_back(k);
  return c.op == "GlobalAveragePool" ? mean(x, dims, true) : amax(x, dims, true);
}

// Not an ONNX operator: attention's Softmax(Add(Div(S, c), M)) as one pass per row,
// softmax(S * scale + M) over the last dim, M (optional) broadcast to S. The importer
// makes it from those three nodes (src/nano/onnx_import.cpp); saved as any other op.
Tensor scaled_masked_softmax(const Ctx& c, const Ins& in) {
  const Tensor s = in.at(0).to(DType::f32).contiguous();
  BIGDL_CHECK(s.dim() >= 1, ShapeError, c.where(), "needs an input with a last dim");
  const int64_t len = s.size(-1), rows = len ? s.numel() / len : 0;
  Tensor m;
  if (in.size() > 1 && in[1].defined()) {
    const Shape out = broadcast_shapes(s.shape(), in[1].shape(), c.where().c_str());
    BIGDL_CHECK(out == s.shape(), ShapeError, c.where(), "mask ", shape_str(in[1].shape()), " does not broadcast to ",
                shape_str(s.shape()));
    Shape lifted(size_t(s.dim() - in[1].dim()), 1);
    lifted.insert(lifted.end(), in[1].shape().begin(), in[1].shape().end());
    m = in[1].to(DType::f32).reshape(lifted).expand(s.shape());
  }
  const float scale = float(c.f("scale", 1.0));
  Tensor y = empty(s.shape());
  const float* sd = s.data<float>();
  const float* md = m.defined() ? m.data<float>() : nullptr;
  float* yd = y.data<float>();
  const detail::CpuKernels& k = detail::cpu_kernels();
  detail::parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(len, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* sr = sd + r * len;
      float* rw = yd + r * len;  // S * scale + M, then the softmax in place
      if (md) {
        int64_t off = 0;  // the mask row of row r, through the broadcast strides
        for (int64_t d = s.dim() - 2, rest = r; d >= 0; --d) {
          off += (rest % s.size(d)) * m.strides()[size_t(d)];
          rest /= s.size(d);
        }
        const int64_t ms = m.strides().back();
        const float* mr = md + off;
        if (ms == 1)  // a mask row in memory (vectorised)
          for (int64_t i = 0; i < len; ++i) rw[i] = sr[i] * scale + mr[i];
        else
          for (int64_t i = 0; i < len; ++i) rw[i] = sr[i] * scale + mr[i * ms];
      } else {
        for (int64_t i = 0; i < len; ++i) rw[i] = sr[i] * scale;
      }
      k.softmax_row(rw, rw, len);
    }
  });
  return y;
}

const std::map<std::string, Fn>& table() {
  static const std::map<std::string, Fn> t = [] {
    std::map<std::string, Fn> m;
    for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or"})
      m[op] = binary;
    for (const char* op : {"Max", "Min", "Sum"}) m[op] = variadic;
    for (const char* op : {"Relu", "Sigmoid", "Tanh", "Erf", "Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Not", "Softplus",
                           "LeakyRelu", "Elu", "Gelu", "Identity", "Dropout", "Cast", "Clip"})
      m[op] = unary;
    for (const char* op : {"ReduceMean", "ReduceSum", "ReduceMax"}) m[op] = reduce;
    for (const char* op : {"Softmax", "LogSoftmax"}) m[op] = softmax_op;
    for (const char* op : {"GlobalAveragePool", "GlobalMaxPool"}) m[op] = global_pool;
    m["Reshape"] = reshape_op;
    m["Flatten"] = flatten_op;
    m["Squeeze"] = squeeze_op;
    m["Unsqueeze"] = unsqueeze_op;
    m["Transpose"] = transpose_op;
    m["Concat"] = concat_op;
    m["Slice"] = slice_op;
    m["Gather"] = gather_op;
    m["Expand"] = expand_op;
    m["ConstantOfShape"] = constant_of_shape;
    m["Range"] = range_op;
    m["Shape"] = shape_op;
    m["Where"] = where_op;
    m["Pad"] = pad_op;
    m["bigdl.ScaledMaskedSoftmax"] = scaled_masked_softmax;
    m["MatMul"] = matmul_op;
    m["Gemm"] = gemm_op;
    m["LayerNormalization"] = layer_norm_op;
    m["BatchNormalization"] = batch_norm_op;
    return m;
  }();
  return t;
}

}  // namespace

bool supported(const std::string& op_type) { return table().count(op_type) > 0; }

std::string supported_list() {
  std::string s;
  for (const auto& [name, fn] : table()) s += (s.empty() ? "" : ", ") + name;
  return s;
}

OpStep::OpStep(std::string op, json attrs, std::vector<bool> present, int64_t opset, Tensor value)
    : op_(std::move(op)), attrs_(std::move(attrs)), present_(std::move(present)), opset_(opset), value_(std::move(value)) {
  BIGDL_CHECK(supported(op_), ValueError, "nano.onnx", "operator '", op_, "' is not supported");
  BIGDL_CHECK(attrs_.is_object(), ValueError, "nano.onnx", op_, ": attributes must be an object");
}

Tensor OpStep::run_inputs(const std::vector<Tensor>& xs) {
  std::vector<Tensor> in;
  size_t k = 0;
  for (bool p : present_) in.push_back(p && k < xs.size() ? xs[k++] : Tensor());
  const Ctx c{op_, attrs_, opset_, value_};
  try {
    return table().at(op_)(c, in);
  } catch (const nlohmann::json::exception& e) {
    throw ValueError("[nano.onnx." + op_ + "] bad attribute: " + e.what());
  }
}

std::string OpStep::describe() const {
  std::string a = attrs_.empty() ? "" : attrs_.dump();
  if (a.size() > 60) a = a.substr(0, 57) + "...";
  return op_ + (a.empty() ? "" : " " + a) + " (onnx)";
}

std::string ConstStep::describe() const {
  return std::string("Constant ") + dtype_name(value_.dtype()) + " " + shape_str(value_.shape());
}

}  // namespace bigdl::nano::onnx_ops
