#include "bigdl/nn/loss.h"

#include "bigdl/autograd.h"
#include "bigdl/ops.h"

namespace bigdl::nn {

Reduction reduction_from_string(const std::string& s) {
  if (s == "mean") return Reduction::mean;
  if (s == "sum") return Reduction::sum;
  if (s == "none") return Reduction::none;
  throw ValueError("[loss] reduction must be 'mean', 'sum' or 'none', got '" + s + "'");
}

namespace functional {
namespace {

Tensor reduce(const Tensor& l, Reduction r) {
  switch (r) {
    case Reduction::none: return l;
    case Reduction::sum: return sum(l);
    case Reduction::mean: return mean(l);
  }
  return l;
}

void check_same(const Tensor& input, const Tensor& target, const char* op) {
  BIGDL_CHECK(input.shape() == target.shape(), ShapeError, op, "input ", shape_str(input.shape()), " and target ",
              shape_str(target.shape()), " must have the same shape");
}

// [N, C, d...] -> [M, C] with the class dim last.
Tensor classes_last(const Tensor& x) {
  if (x.dim() == 2) return x;
  std::vector<int64_t> perm{0};
  for (int64_t d = 2; d < x.dim(); ++d) perm.push_back(d);
  perm.push_back(1);
  return x.permute(perm).reshape({-1, x.size(1)});
}

struct Picked {
  Tensor logp;    // [M, C]
  Tensor target;  // [M] valid class ids (ignored rows mapped to 0)
  Tensor mask;    // [M] float, 0 for ignored rows
  Tensor w;       // [M] weight of each row's target class times mask
  Shape out_shape;
};

Picked pick(const Tensor& logp_in, const Tensor& target, const Tensor& weight, int64_t ignore_index, const char* op) {
  BIGDL_CHECK(logp_in.dim() >= 2, ShapeError, op, "input must be [N, C] or [N, C, d...], got ", shape_str(logp_in.shape()));
  BIGDL_CHECK(is_integral(target.dtype()), DTypeError, op, "class-index target must be an integer tensor, got ",
              dtype_name(target.dtype()));
  Shape expect = logp_in.shape();
  expect.erase(expect.begin() + 1);
  BIGDL_CHECK(target.shape() == expect, ShapeError, op, "target ", shape_str(target.shape()), " does not match input ",
              shape_str(logp_in.shape()), " (expected ", shape_str(expect), ")");
  const int64_t C = logp_in.size(1);
  BIGDL_CHECK(!weight.defined() || (weight.dim() == 1 && weight.size(0) == C), ShapeError, op, "weight ",
              shape_str(weight.defined() ? weight.shape() : Shape{}), " must be [", C, "]");
  Picked p;
  p.out_shape = expect;
  p.logp = classes_last(logp_in);
  std::vector<int64_t> t = target.to_int_vector();
  std::vector<float> m(t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == ignore_index) {
      t[i] = 0;
      m[i] = 0.f;
      continue;
    }
    BIGDL_CHECK(t[i] >= 0 && t[i] < C, IndexError, op, "target ", t[i], " is out of bounds for ", C, " classes");
    m[i] = 1.f;
  }
  const int64_t M = int64_t(t.size());
  p.target = from_vector(t, {M});
  p.mask = from_vector(m, {M}, logp_in.dtype());
  p.w = weight.defined() ? mul(index_select(weight.detach(), 0, p.target), p.mask) : p.mask;
  return p;
}

Tensor nll_from(const Picked& p, Reduction r) {
  Tensor picked = gather(p.logp, 1, p.target.unsqueeze(1)).squeeze(1);  // [M]
  Tensor l = neg(mul(picked, p.w));
  if (r == Reduction::none) return l.reshape(p.out_shape);
  if (r == Reduction::sum) return sum(l);
  return div(sum(l), sum(p.w));
}

}  // namespace

Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index, Reduction r) {
  return nll_from(pick(input, target, weight, ignore_index, "nll_loss"), r);
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index, Reduction r,
                     double ls) {
  const char* op = "cross_entropy";
  BIGDL_CHECK(ls >= 0.0 && ls <= 1.0, ValueError, op, "label_smoothing must be in [0, 1], got ", ls);
  BIGDL_CHECK(input.dim() >= 1, ShapeError, op, "input must have a class dim");
  Tensor logp = log_softmax(input, input.dim() == 1 ? 0 : 1);
  if (is_floating(target.dtype())) {
    // Class probabilities.
    check_same(input, target, op);
    const int64_t C = input.dim() == 1 ? input.size(0) : input.size(1);
    Tensor t = target;
    if (ls > 0) t = add(mul(t, scalar_tensor(1.0 - ls, t.dtype())), scalar_tensor(ls / double(C), t.dtype()));
    Tensor lp = input.dim() == 1 ? logp.unsqueeze(0) : classes_last(logp);
    Tensor tt = input.dim() == 1 ? t.unsqueeze(0) : classes_last(t);
    Tensor prod = mul(lp, tt);
    if (weight.defined()) prod = mul(prod, weight);
    Tensor l = neg(sum(prod, {1}));  // [M]
    if (r == Reduction::none) {
      Shape s = input.shape();
      s.erase(s.begin() + (input.dim() == 1 ? 0 : 1));
      return l.reshape(s);
    }
    if (r == Reduction::sum) return sum(l);
    return div(sum(l), scalar_tensor(double(input.dim() == 1 ? 1 : input.size(0)), l.dtype()));
  }
  Picked p = pick(input.dim() == 1 ? logp.unsqueeze(0) : logp, input.dim() == 1 ? target.reshape({1}) : target, weight,
                  ignore_index, op);
  Tensor nll = nll_from(p, r);
  if (ls <= 0) return nll;
  const int64_t C = p.logp.size(1);
  // Smoothing term: -sum_c w_c logp_c per row, rows of ignored targets dropped.
  Tensor lp = weight.defined() ? mul(p.logp, weight) : p.logp;
  Tensor smooth = mul(neg(sum(lp, {1})), p.mask);
  Tensor sm;
  if (r == Reduction::none) sm = smooth.reshape(p.out_shape);
  else if (r == Reduction::sum) sm = sum(smooth);
  else sm = div(sum(smooth), sum(p.w));
  return add(mul(nll, scalar_tensor(1.0 - ls, nll.dtype())), mul(sm, scalar_tensor(ls / double(C), sm.dtype())));
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction r) {
  check_same(input, target, "mse_loss");
  Tensor d = sub(input, target);
  return reduce(mul(d, d), r);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction r) {
  check_same(input, target, "l1_loss");
  return reduce(abs(sub(input, target)), r);
}

Tensor quantile_loss(const Tensor& input, const Tensor& target, const std::vector<double>& quantiles, Reduction r) {
  BIGDL_CHECK(!quantiles.empty(), ValueError, "quantile_loss", "no quantiles given");
  for (double q : quantiles)
    BIGDL_CHECK(q > 0 && q < 1, ValueError, "quantile_loss", "quantiles must be in (0, 1), got ", q);
  const int64_t nq = int64_t(quantiles.size());
  Shape want = target.shape();
  want.push_back(nq);
  BIGDL_CHECK(input.shape() == want, ShapeError, "quantile_loss", "input must be target's shape plus ", nq,
              " quantiles, ", shape_str(want), ", got ", shape_str(input.shape()));
  const Tensor q = from_vector(std::vector<double>(quantiles), {nq}, input.dtype());
  const Tensor d = sub(target.unsqueeze(-1), input);  // [..., Q]
  return reduce(maximum(mul(d, q), mul(d, sub(q, scalar_tensor(1.0, input.dtype())))), r);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction r, double beta) {
  check_same(input, target, "smooth_l1_loss");
  BIGDL_CHECK(beta >= 0, ValueError, "smooth_l1_loss", "beta must be non-negative, got ", beta);
  Tensor d = sub(input, target);
  Tensor ad = abs(d);
  if (beta == 0) return reduce(ad, r);
  const DType t = d.dtype();
  Tensor quad = mul(mul(d, d), scalar_tensor(0.5 / beta, t));
  Tensor lin = sub(ad, scalar_tensor(0.5 * beta, t));
  return reduce(where(lt(ad, scalar_tensor(beta, t)), quad, lin), r);
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction r) {
  const char* op = "binary_cross_entropy";
  check_same(input, target, op);
  {
    NoGradGuard ng;
    const double lo = amin(input.detach()).item(), hi = amax(input.detach()).item();
    BIGDL_CHECK(input.numel() == 0 || (lo >= 0.0 && hi <= 1.0), ValueError, op,
                "input values must be probabilities in [0, 1], got range [", lo, ", ", hi, "]");
  }
  const DType t = input.dtype();
  // PyTorch clamps the logs at -100 so that 0 and 1 inputs give finite losses.
  Tensor l1 = clamp(log(input), -100.0, std::nullopt);
  Tensor l0 = clamp(log(sub(scalar_tensor(1.0, t), input)), -100.0, std::nullopt);
  Tensor l = neg(add(mul(target, l1), mul(sub(scalar_tensor(1.0, t), target), l0)));
  if (weight.defined()) l = mul(l, weight);
  return reduce(l, r);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight,
                                        const Tensor& pos_weight, Reduction r) {
  check_same(input, target, "binary_cross_entropy_with_logits");
  const DType t = input.dtype();
  // log(1 + exp(-|x|)) + max(-x, 0) == -log(sigmoid(x)), stable for any x.
  Tensor softplus_neg = add(log1p(exp(neg(abs(input)))), relu(neg(input)));
  Tensor l;
  if (pos_weight.defined()) {
    Tensor lw = add(mul(sub(pos_weight, scalar_tensor(1.0, t)), target), scalar_tensor(1.0, t));
    l = add(mul(sub(scalar_tensor(1.0, t), target), input), mul(lw, softplus_neg));
  } else {
    l = add(mul(sub(scalar_tensor(1.0, t), target), input), softplus_neg);
  }
  if (weight.defined()) l = mul(l, weight);
  return reduce(l, r);
}

}  // namespace functional
}  // namespace bigdl::nn

namespace bigdl::nn {
QuantileLoss::QuantileLoss(std::vector<double> quantiles, Reduction r) : quantiles_(std::move(quantiles)), r_(r) {
  BIGDL_CHECK(!quantiles_.empty(), ValueError, "QuantileLoss", "no quantiles given");
  for (double q : quantiles_) BIGDL_CHECK(q > 0 && q < 1, ValueError, "QuantileLoss", "quantiles must be in (0, 1), got ", q);
}
}  // namespace bigdl::nn
