// Elementwise primitives: binary (broadcasting), comparisons, unary, where, clamp.
// Compute runs in f32, f64 or i64 ("work dtypes"); f16/bf16 and narrow integers are
// widened first and the result is narrowed on the way out.
#include "backend/cpu/kernels.h"
#include "core/internal.h"

namespace bigdl {

using detail::for_each_strided;
using detail::ptr_of;

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    BIGDL_CHECK(da == db || da == 1 || db == 1, ShapeError, op, "shapes ", shape_str(a), " and ", shape_str(b),
                " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

enum class BinOp { add, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge, land, lor };

bool is_comparison(BinOp op) { return op >= BinOp::eq; }

DType work_dtype(DType t) {
  if (t == DType::f64) return DType::f64;
  if (is_floating(t)) return DType::f32;
  return DType::i64;
}

// Gradient for an input: reduce broadcast dims and match the input's dtype.
Tensor grad_for(const Tensor& g, const Tensor& input) {
  Tensor r = sum_to(g, input.shape());
  return r.dtype() == input.dtype() ? r : r.to(input.dtype());
}

template <typename C, typename F>
void run_binary(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  const Tensor ea = a.expand(out.shape()), eb = b.expand(out.shape());
  const C* pa = ptr_of<C>(ea);
  const C* pb = ptr_of<C>(eb);
  auto loop = [&](auto* po) {
    using O = std::remove_pointer_t<decltype(po)>;
    for_each_strided<3>(out.shape(), {&out.strides(), &ea.strides(), &eb.strides()}, [&](auto off, auto st, int64_t n) {
      O* __restrict o = po + off[0];
      const C* __restrict x = pa + off[1];
      const C* __restrict y = pb + off[2];
      // Unit-stride and broadcast-scalar runs get plain loops the compiler vectorises.
      if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
        for (int64_t i = 0; i < n; ++i) o[i] = O(f(x[i], y[i]));
      } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
        const C yv = *y;
        for (int64_t i = 0; i < n; ++i) o[i] = O(f(x[i], yv));
      } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
        const C xv = *x;
        for (int64_t i = 0; i < n; ++i) o[i] = O(f(xv, y[i]));
      } else {
        for (int64_t i = 0; i < n; ++i) o[i * st[0]] = O(f(x[i * st[1]], y[i * st[2]]));
      }
    });
  };
  if (out.dtype() == DType::boolean) loop(ptr_of<bool>(out));
  else loop(ptr_of<C>(out));
}

// f32 fast paths through the SIMD table: contiguous same-shape, or tensor op scalar.
bool try_fast_f32(BinOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  if (a.dtype() != DType::f32 || b.dtype() != DType::f32 || out.dtype() != DType::f32) return false;
  if (!a.is_contiguous() || !b.is_contiguous()) return false;
  const auto& k = detail::cpu_kernels();
  const int64_t n = out.numel();
  float* po = out.data<float>();
  if (a.shape() == out.shape() && b.shape() == out.shape()) {
    const float* pa = a.data<float>();
    const float* pb = b.data<float>();
    auto run = [&](auto fn) {
      detail::parallel_for(n, 1 << 16, [&](int64_t s, int64_t e) { fn(pa + s, pb + s, po + s, e - s); });
    };
    switch (op) {
      case BinOp::add: run(k.add); return true;
      case BinOp::sub: run(k.sub); return true;
      case BinOp::mul: run(k.mul); return true;
      case BinOp::div: run(k.div); return true;
      default: return false;
    }
  }
  if (a.shape() == out.shape() && b.numel() == 1 && (op == BinOp::add || op == BinOp::mul)) {
    const float s = *b.data<float>();
    const float* pa = a.data<float>();
    auto fn = op == BinOp::add ? k.add_scalar : k.mul_scalar;
    detail::parallel_for(n, 1 << 16, [&](int64_t s0, int64_t e) { fn(pa + s0, s, po + s0, e - s0); });
    return true;
  }
  return false;
}

Tensor binary_values(BinOp op, const Tensor& a_in, const Tensor& b_in, const char* name) {
  BIGDL_CHECK(a_in.defined() && b_in.defined(), ValueError, name, "undefined tensor argument");
  const Shape shape = broadcast_shapes(a_in.shape(), b_in.shape(), name);
  DType res = promote_types(a_in.dtype(), b_in.dtype());
  if (op == BinOp::div && !is_floating(res)) res = DType::f32;  // true division, as torch.div
  if (op == BinOp::land || op == BinOp::lor) res = DType::boolean;
  const DType work = (op == BinOp::land || op == BinOp::lor) ? DType::i64 : work_dtype(res);
  // Logical ops see operands as bool first: a float 0.5 is true, not truncated to 0.
  const bool logical = op == BinOp::land || op == BinOp::lor;
  const Tensor a = a_in.dtype() == work ? a_in.detach() : a_in.detach().to(logical ? DType::boolean : work).to(work);
  const Tensor b = b_in.dtype() == work ? b_in.detach() : b_in.detach().to(logical ? DType::boolean : work).to(work);
  const DType out_dt = is_comparison(op) ? DType::boolean : work;
  Tensor out = empty(shape, out_dt);
  if (!try_fast_f32(op, a, b, out)) {
    auto go = [&](auto zero) {
      using C = decltype(zero);
      switch (op) {
        case BinOp::add: run_binary<C>(a, b, out, [](C x, C y) { return x + y; }); break;
        case BinOp::sub: run_binary<C>(a, b, out, [](C x, C y) { return x - y; }); break;
        case BinOp::mul: run_binary<C>(a, b, out, [](C x, C y) { return x * y; }); break;
        case BinOp::div:
          if constexpr (std::is_integral_v<C>) {
            run_binary<C>(a, b, out, [](C x, C y) { return y == 0 ? C(0) : C(x / y); });
          } else {
            run_binary<C>(a, b, out, [](C x, C y) { return x / y; });
          }
          break;
        case BinOp::pow: run_binary<C>(a, b, out, [](C x, C y) { return C(std::pow(x, y)); }); break;
        case BinOp::maximum:
          run_binary<C>(a, b, out, [](C x, C y) { return (x != x || x > y) ? x : y; });
          break;
        case BinOp::minimum:
          run_binary<C>(a, b, out, [](C x, C y) { return (x != x || x < y) ? x : y; });
          break;
        case BinOp::eq: run_binary<C>(a, b, out, [](C x, C y) { return x == y; }); break;
        case BinOp::ne: run_binary<C>(a, b, out, [](C x, C y) { return x != y; }); break;
        case BinOp::lt: run_binary<C>(a, b, out, [](C x, C y) { return x < y; }); break;
        case BinOp::le: run_binary<C>(a, b, out, [](C x, C y) { return x <= y; }); break;
        case BinOp::gt: run_binary<C>(a, b, out, [](C x, C y) { return x > y; }); break;
        case BinOp::ge: run_binary<C>(a, b, out, [](C x, C y) { return x >= y; }); break;
        case BinOp::land: run_binary<C>(a, b, out, [](C x, C y) { return C(x != 0 && y != 0); }); break;
        case BinOp::lor: run_binary<C>(a, b, out, [](C x, C y) { return C(x != 0 || y != 0); }); break;
      }
    };
    if (work == DType::f32) go(float{});
    else if (work == DType::f64) go(double{});
    else go(int64_t{});
  }
  if (!is_comparison(op) && out.dtype() != res) out = out.to(res);
  return out;
}

}  // namespace

// ------------------------------------------------------------------ binary ops
Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  if (alpha != 1.0) return add(a, mul(b, scalar_tensor(alpha, b.dtype())));
  Tensor out = binary_values(BinOp::add, a, b, "add");
  if (detail::needs_grad({&a, &b}))
    detail::record(out, "add", {a, b}, [a, b](const Tensor& g) {
      return std::vector<Tensor>{a.requires_grad() ? grad_for(g, a) : Tensor(), b.requires_grad() ? grad_for(g, b) : Tensor()};
    });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_values(BinOp::sub, a, b, "sub");
  if (detail::needs_grad({&a, &b}))
    detail::record(out, "sub", {a, b}, [a, b](const Tensor& g) {
      return std::vector<Tensor>{a.requires_grad() ? grad_for(g, a) : Tensor(), b.requires_grad() ? grad_for(neg(g), b) : Tensor()};
    });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_values(BinOp::mul, a, b, "mul");
  if (detail::needs_grad({&a, &b}))
    detail::record(out, "mul", {a, b}, [a, b](const Tensor& g) {
      return std::vector<Tensor>{a.requires_grad() ? grad_for(mul(g, b), a) : Tensor(),
                                 b.requires_grad() ? grad_for(mul(g, a), b) : Tensor()};
    });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_values(BinOp::div, a, b, "div");
  if (detail::needs_grad({&a, &b}))
    detail::record(out, "div", {a, b}, [a, b](const Tensor& g) {
      return std::vector<Tensor>{a.requires_grad() ? grad_for(div(g, b), a) : Tensor(),
                                 b.requires_grad() ? grad_for(neg(div(mul(g, a), mul(b, b))), b) : Tensor()};
    });
  return out;
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = binary_values(BinOp::pow, a, b, "pow");
  if (detail::needs_grad({&a, &b}))
    // Save the output detached: capturing `out` itself would make its node own it (a leak).
    detail::record(out, "pow", {a, b}, [a, b, o = out.detach()](const Tensor& g) {
      Tensor ga, gb;
      if (a.requires_grad()) ga = grad_for(mul(g, mul(b, pow(a, sub(b, scalar_tensor(1.0, b.dtype()))))), a);
      if (b.requires_grad()) gb = grad_for(mul(g, mul(o, log(a))), b);
      return std::vector<Tensor>{ga, gb};
    });
  return out;
}

Tensor pow(const Tensor& a, double e) {
  if (e == 2.0) return mul(a, a);
  if (e == 1.0) return a;
  if (e == 0.5) return sqrt(a);
  return pow(a, scalar_tensor(e, is_floating(a.dtype()) ? a.dtype() : DType::f32));
}

static Tensor minmax(BinOp op, const Tensor& a, const Tensor& b, const char* name) {
  Tensor out = binary_values(op, a, b, name);
  if (detail::needs_grad({&a, &b}))
    detail::record(out, name, {a, b}, [a, b, op](const Tensor& g) {
      // Ties split the gradient evenly, as PyTorch does.
      Tensor wa = add(binary_values(op == BinOp::maximum ? BinOp::gt : BinOp::lt, a, b, "minmax").to(g.dtype()),
                      mul(eq(a, b).to(g.dtype()), scalar_tensor(0.5, g.dtype())));
      Tensor wb = sub(scalar_tensor(1.0, g.dtype()), wa);
      return std::vector<Tensor>{a.requires_grad() ? grad_for(mul(g, wa), a) : Tensor(),
                                 b.requires_grad() ? grad_for(mul(g, wb), b) : Tensor()};
    });
  return out;
}
Tensor maximum(const Tensor& a, const Tensor& b) { return minmax(BinOp::maximum, a, b, "maximum"); }
Tensor minimum(const Tensor& a, const Tensor& b) { return minmax(BinOp::minimum, a, b, "minimum"); }

Tensor eq(const Tensor& a, const Tensor& b) { return binary_values(BinOp::eq, a, b, "eq"); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_values(BinOp::ne, a, b, "ne"); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_values(BinOp::lt, a, b, "lt"); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_values(BinOp::le, a, b, "le"); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_values(BinOp::gt, a, b, "gt"); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_values(BinOp::ge, a, b, "ge"); }
Tensor logical_and(const Tensor& a, const Tensor& b) { return binary_values(BinOp::land, a, b, "logical_and"); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return binary_values(BinOp::lor, a, b, "logical_or"); }
Tensor logical_not(const Tensor& a) { return eq(a, zeros({}, a.dtype())); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
static DType scalar_dtype(const Tensor& a) { return is_floating(a.dtype()) ? a.dtype() : DType::f32; }
static DType scalar_dtype_int(const Tensor& a, double s) {
  return (is_floating(a.dtype()) || s != std::floor(s)) ? scalar_dtype(a) : a.dtype();
}
Tensor operator+(const Tensor& a, double s) { return add(a, scalar_tensor(s, scalar_dtype_int(a, s))); }
Tensor operator-(const Tensor& a, double s) { return sub(a, scalar_tensor(s, scalar_dtype_int(a, s))); }
Tensor operator*(const Tensor& a, double s) { return mul(a, scalar_tensor(s, scalar_dtype_int(a, s))); }
Tensor operator/(const Tensor& a, double s) { return div(a, scalar_tensor(s, scalar_dtype(a))); }
Tensor operator+(double s, const Tensor& a) { return add(scalar_tensor(s, scalar_dtype_int(a, s)), a); }
Tensor operator-(double s, const Tensor& a) { return sub(scalar_tensor(s, scalar_dtype_int(a, s)), a); }
Tensor operator*(double s, const Tensor& a) { return mul(scalar_tensor(s, scalar_dtype_int(a, s)), a); }
Tensor operator/(double s, const Tensor& a) { return div(scalar_tensor(s, scalar_dtype(a)), a); }

// ------------------------------------------------------------------ unary ops
namespace {
enum class UnOp { neg, exp, log, sqrt, rsqrt, abs, sign, sin, cos, tanh, sigmoid, relu, erf, log1p };

bool keeps_int(UnOp op) { return op == UnOp::neg || op == UnOp::abs || op == UnOp::sign || op == UnOp::relu; }

template <typename C>
C apply_un(UnOp op, C x) {
  switch (op) {
    case UnOp::neg: return -x;
    case UnOp::abs: return x < 0 ? -x : x;
    case UnOp::sign: return C((x > 0) - (x < 0));
    case UnOp::relu: return x > 0 ? x : C(0);
    default: break;
  }
  if constexpr (std::is_floating_point_v<C>) {
    switch (op) {
      case UnOp::exp: return std::exp(x);
      case UnOp::log: return std::log(x);
      case UnOp::sqrt: return std::sqrt(x);
      case UnOp::rsqrt: return C(1) / std::sqrt(x);
      case UnOp::sin: return std::sin(x);
      case UnOp::cos: return std::cos(x);
      case UnOp::tanh: return std::tanh(x);
      case UnOp::sigmoid: return x >= 0 ? C(1) / (C(1) + std::exp(-x)) : std::exp(x) / (C(1) + std::exp(x));
      case UnOp::erf: return std::erf(x);
      case UnOp::log1p: return std::log1p(x);
      default: break;
    }
  }
  return x;
}

Tensor unary_values(UnOp op, const Tensor& a_in, const char* name) {
  BIGDL_CHECK(a_in.defined(), ValueError, name, "undefined tensor argument");
  DType res = a_in.dtype();
  if (!is_floating(res) && !keeps_int(op)) res = DType::f32;
  if (res == DType::boolean) res = DType::i64;
  const DType work = work_dtype(res);
  const Tensor a = a_in.dtype() == work ? a_in.detach() : a_in.detach().to(work);
  Tensor out = empty(a.shape(), work);
  bool done = false;
  if (work == DType::f32 && a.is_contiguous()) {
    const auto& k = detail::cpu_kernels();
    void (*fn)(const float*, float*, int64_t) = nullptr;
    switch (op) {
      case UnOp::exp: fn = k.exp; break;
      case UnOp::log: fn = k.log; break;
      case UnOp::tanh: fn = k.tanh; break;
      case UnOp::sigmoid: fn = k.sigmoid; break;
      case UnOp::relu: fn = k.relu; break;
      default: break;
    }
    if (fn) {
      const float* pa = a.data<float>();
      float* po = out.data<float>();
      detail::parallel_for(a.numel(), 1 << 14, [&](int64_t s, int64_t e) { fn(pa + s, po + s, e - s); });
      done = true;
    }
  }
  if (!done) {
    auto go = [&](auto zero) {
      using C = decltype(zero);
      const C* pa = ptr_of<C>(a);
      C* po = ptr_of<C>(out);
      for_each_strided<2>(out.shape(), {&out.strides(), &a.strides()}, [&](auto off, auto st, int64_t n) {
        for (int64_t i = 0; i < n; ++i) po[off[0] + i * st[0]] = apply_un<C>(op, pa[off[1] + i * st[1]]);
      }, 1 << 14);
    };
    if (work == DType::f32) go(float{});
    else if (work == DType::f64) go(double{});
    else go(int64_t{});
  }
  return out.dtype() == res ? out : out.to(res);
}

Tensor scalar_like(double v, const Tensor& t) { return scalar_tensor(v, t.dtype()); }

Tensor unary(UnOp op, const Tensor& a, const char* name) {
  Tensor out = unary_values(op, a, name);
  if (!detail::needs_grad({&a})) return out;
  // The saved output is detached: capturing `out` would make its node own it (a leak).
  detail::record(out, name, {a}, [op, a, out = out.detach()](const Tensor& g) {
    Tensor r;
    switch (op) {
      case UnOp::neg: r = neg(g); break;
      case UnOp::exp: r = mul(g, out); break;
      case UnOp::log: r = div(g, a); break;
      case UnOp::sqrt: r = div(mul(g, scalar_like(0.5, g)), out); break;
      case UnOp::rsqrt: r = mul(g, mul(scalar_like(-0.5, g), mul(out, mul(out, out)))); break;
      case UnOp::abs: r = mul(g, sign(a)); break;
      case UnOp::sign: r = zeros_like(a); break;
      case UnOp::sin: r = mul(g, cos(a)); break;
      case UnOp::cos: r = neg(mul(g, sin(a))); break;
      case UnOp::tanh: r = mul(g, sub(scalar_like(1.0, out), mul(out, out))); break;
      case UnOp::sigmoid: r = mul(g, mul(out, sub(scalar_like(1.0, out), out))); break;
      case UnOp::relu:
        if (g.dtype() == DType::f32 && a.dtype() == DType::f32 && g.is_contiguous() && a.is_contiguous() &&
            g.shape() == a.shape()) {
          r = empty(a.shape(), DType::f32);
          detail::cpu_kernels().relu_backward(g.data<float>(), a.data<float>(), r.data<float>(), a.numel());
        } else {
          r = mul(g, gt(a, scalar_like(0.0, a)).to(g.dtype()));
        }
        break;
      case UnOp::erf:
        r = mul(g, mul(scalar_like(1.1283791670955126, a), exp(neg(mul(a, a)))));
        break;
      case UnOp::log1p: r = div(g, add(a, scalar_like(1.0, a))); break;
    }
    return std::vector<Tensor>{r};
  });
  return out;
}
}  // namespace

Tensor neg(const Tensor& a) { return unary(UnOp::neg, a, "neg"); }
Tensor exp(const Tensor& a) { return unary(UnOp::exp, a, "exp"); }
Tensor log(const Tensor& a) { return unary(UnOp::log, a, "log"); }
Tensor sqrt(const Tensor& a) { return unary(UnOp::sqrt, a, "sqrt"); }
Tensor rsqrt(const Tensor& a) { return unary(UnOp::rsqrt, a, "rsqrt"); }
Tensor abs(const Tensor& a) { return unary(UnOp::abs, a, "abs"); }
Tensor sign(const Tensor& a) { return unary(UnOp::sign, a, "sign"); }
Tensor sin(const Tensor& a) { return unary(UnOp::sin, a, "sin"); }
Tensor cos(const Tensor& a) { return unary(UnOp::cos, a, "cos"); }
Tensor tanh(const Tensor& a) { return unary(UnOp::tanh, a, "tanh"); }
Tensor sigmoid(const Tensor& a) { return unary(UnOp::sigmoid, a, "sigmoid"); }
Tensor relu(const Tensor& a) { return unary(UnOp::relu, a, "relu"); }
Tensor erf(const Tensor& a) { return unary(UnOp::erf, a, "erf"); }
Tensor log1p(const Tensor& a) { return unary(UnOp::log1p, a, "log1p"); }

Tensor clamp(const Tensor& a, std::optional<double> lo, std::optional<double> hi) {
  BIGDL_CHECK(!(lo && hi && *lo > *hi), ValueError, "clamp", "min ", *lo, " is greater than max ", *hi);
  Tensor out;
  Tensor mask;
  {
    NoGradGuard ng;
    out = a;
    const DType sd = is_floating(a.dtype()) ? a.dtype() : DType::f64;
    if (lo) out = maximum(out, scalar_tensor(*lo, sd)).to(a.dtype());
    if (hi) out = minimum(out, scalar_tensor(*hi, sd)).to(a.dtype());
    if (out.impl() == a.impl()) out = a.clone();
  }
  if (detail::needs_grad({&a})) {
    detail::record(out, "clamp", {a}, [a, lo, hi](const Tensor& g) {
      Tensor m = ones(a.shape(), DType::boolean);
      if (lo) m = logical_and(m, ge(a, scalar_tensor(*lo, a.dtype())));
      if (hi) m = logical_and(m, le(a, scalar_tensor(*hi, a.dtype())));
      return std::vector<Tensor>{mul(g, m.to(g.dtype()))};
    });
  }
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  const Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  const DType res = promote_types(a.dtype(), b.dtype());
  const Tensor c = (cond.dtype() == DType::boolean ? cond : ne(cond, zeros({}, cond.dtype()))).expand(shape);
  const Tensor ea = a.detach().to(res).expand(shape), eb = b.detach().to(res).expand(shape);
  Tensor out = empty(shape, res);
  detail::dispatch_dtype(res, [&](auto zero) {
    using T = decltype(zero);
    const bool* pc = ptr_of<bool>(c);
    const T* pa = ptr_of<T>(ea);
    const T* pb = ptr_of<T>(eb);
    T* po = ptr_of<T>(out);
    for_each_strided<4>(shape, {&out.strides(), &c.strides(), &ea.strides(), &eb.strides()},
                        [&](auto off, auto st, int64_t n) {
                          for (int64_t i = 0; i < n; ++i)
                            po[off[0] + i * st[0]] = pc[off[1] + i * st[1]] ? pa[off[2] + i * st[2]] : pb[off[3] + i * st[3]];
                        });
    return 0;
  });
  if (detail::needs_grad({&a, &b}))
    detail::record(out, "where", {a, b}, [c, a, b](const Tensor& g) {
      Tensor z = zeros({}, g.dtype());
      return std::vector<Tensor>{a.requires_grad() ? grad_for(where(c, g, z), a) : Tensor(),
                                 b.requires_grad() ? grad_for(where(c, z, g), b) : Tensor()};
    });
  return out;
}

}  // namespace bigdl
