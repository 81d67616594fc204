#include "bigdl/optim/optimizer.h"

#include <cmath>

#include "bigdl/autograd.h"
#include "core/internal.h"

namespace bigdl::optim {

Optimizer::Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {
  BIGDL_CHECK(lr >= 0, ValueError, "optimizer", "learning rate must be non-negative, got ", lr);
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    BIGDL_CHECK(p.defined() && p.requires_grad() && p.is_leaf(), ValueError, "optimizer", "parameter ", i,
                " must be a leaf tensor that requires grad");
    BIGDL_CHECK(p.dtype() == DType::f32 && p.is_contiguous(), DTypeError, "optimizer", "parameter ", i,
                " must be contiguous f32, got ", dtype_name(p.dtype()));
  }
  state_.resize(params_.size());
  param_steps_.assign(params_.size(), 0);
}

std::shared_ptr<Optimizer> Optimizer::clone_for(std::vector<Tensor>) const {
  throw ValueError("[" + name() + "] clone_for is not implemented, so this optimizer cannot be sharded");
}

void Optimizer::zero_grad() {
  for (auto& p : params_) p.set_grad(Tensor());
}

bool Optimizer::has_state(size_t i, const std::string& name) const {
  for (auto& [n, t] : state_[i])
    if (n == name) return true;
  return false;
}

float* Optimizer::state(size_t i, const std::string& name, float init) {
  for (auto& [n, t] : state_[i])
    if (n == name) return t.data<float>();
  Tensor t = full(params_[i].shape(), init);
  state_[i].emplace_back(name, t);
  return t.data<float>();
}

void Optimizer::step() {
  NoGradGuard ng;
  ++steps_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = params_[i].grad();
    if (!g.defined()) continue;
    if (g.dtype() != DType::f32 || !g.is_contiguous()) g = g.to(DType::f32).contiguous();
    BIGDL_CHECK(g.shape() == params_[i].shape(), ShapeError, name(), "grad of parameter ", i, " has shape ",
                shape_str(g.shape()), ", parameter has ", shape_str(params_[i].shape()));
    ++param_steps_[i];
    update(i, params_[i].data<float>(), g.data<float>(), params_[i].numel());
    params_[i].storage()->bump_version();  // an in-place change, as for Tensor's in-place ops
  }
}

nn::NamedTensors Optimizer::state_dict() const {
  nn::NamedTensors out;
  for (size_t i = 0; i < state_.size(); ++i) {
    for (auto& [n, t] : state_[i]) out.emplace_back("state." + std::to_string(i) + "." + n, t);
    out.emplace_back("state." + std::to_string(i) + ".step", scalar_tensor(double(param_steps_[i]), DType::f64));
  }
  out.emplace_back("step", scalar_tensor(double(steps_), DType::f64));
  out.emplace_back("lr", scalar_tensor(lr_, DType::f64));
  return out;
}

void Optimizer::load_state_dict(const nn::NamedTensors& state) {
  NoGradGuard ng;
  for (auto& s : state_) s.clear();
  for (const auto& [key, t] : state) {
    if (key == "step") { steps_ = int64_t(t.item()); continue; }
    if (key == "lr") { lr_ = t.item(); continue; }
    BIGDL_CHECK(key.rfind("state.", 0) == 0, ValueError, "optimizer.load_state_dict", "unexpected key '", key, "'");
    const size_t dot = key.find('.', 6);
    BIGDL_CHECK(dot != std::string::npos, ValueError, "optimizer.load_state_dict", "malformed key '", key, "'");
    const size_t i = std::stoul(key.substr(6, dot - 6));
    BIGDL_CHECK(i < params_.size(), IndexError, "optimizer.load_state_dict", "key '", key, "' names parameter ", i,
                " but the optimizer has ", params_.size());
    if (key.substr(dot + 1) == "step") {
      param_steps_[i] = int64_t(t.item());
      continue;
    }
    BIGDL_CHECK(t.shape() == params_[i].shape(), ShapeError, "optimizer.load_state_dict", "key '", key, "' has shape ",
                shape_str(t.shape()), ", parameter has ", shape_str(params_[i].shape()));
    state_[i].emplace_back(key.substr(dot + 1), t.to(DType::f32).contiguous().clone());
  }
}

// ------------------------------------------------------------------ SGD
SGD::SGD(std::vector<Tensor> params, const SGDOptions& o) : Optimizer(std::move(params), o.lr), options(o) {
  BIGDL_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), ValueError, "SGD",
              "nesterov momentum requires a momentum and zero dampening");
}

void SGD::update(size_t i, float* __restrict p, const float* __restrict g, int64_t n) {
  const float wd = float(options.weight_decay), mom = float(options.momentum), damp = float(options.dampening),
              lr = float(lr_);
  // One branch-free loop per case so the compiler vectorises each.
  if (mom == 0) {
    for (int64_t k = 0; k < n; ++k) p[k] -= lr * (g[k] + wd * p[k]);
    return;
  }
  const bool first = !has_state(i, "momentum_buffer");
  float* __restrict buf = state(i, "momentum_buffer");
  const float keep = first ? 0.0f : mom, take = first ? 1.0f : 1 - damp;
  if (options.nesterov) {
    for (int64_t k = 0; k < n; ++k) {
      const float d = g[k] + wd * p[k];
      buf[k] = keep * buf[k] + take * d;
      p[k] -= lr * (d + mom * buf[k]);
    }
  } else {
    for (int64_t k = 0; k < n; ++k) {
      buf[k] = keep * buf[k] + take * (g[k] + wd * p[k]);
      p[k] -= lr * buf[k];
    }
  }
}

// ------------------------------------------------------------------ Adam / AdamW
Adam::Adam(std::vector<Tensor> params, const AdamOptions& o) : Optimizer(std::move(params), o.lr), options(o) {
  BIGDL_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, ValueError, name(), "betas must be in [0, 1)");
  BIGDL_CHECK(o.eps >= 0, ValueError, name(), "eps must be non-negative");
}

AdamW::AdamW(std::vector<Tensor> params, AdamOptions o) : Adam(std::move(params), o) { decoupled_ = true; }

void Adam::update(size_t i, float* p, const float* g, int64_t n) {
  const double b1 = options.beta1, b2 = options.beta2;
  float* m = state(i, "exp_avg");
  float* v = state(i, "exp_avg_sq");
  float* vmax = options.amsgrad ? state(i, "max_exp_avg_sq") : nullptr;
  const double t = double(param_step(i));
  const float bc1 = float(1 - std::pow(b1, t));
  const float bc2_sqrt = float(std::sqrt(1 - std::pow(b2, t)));
  const float step_size = float(lr_) / bc1;
  const float wd = float(options.weight_decay), eps = float(options.eps), fb1 = float(b1), fb2 = float(b2);
  const float decay = decoupled_ ? 1.0f - float(lr_) * wd : 1.0f;
  for (int64_t k = 0; k < n; ++k) {
    float gk = g[k];
    if (decoupled_) p[k] *= decay;
    else gk += wd * p[k];
    m[k] = fb1 * m[k] + (1 - fb1) * gk;
    v[k] = fb2 * v[k] + (1 - fb2) * gk * gk;
    float vv = v[k];
    if (vmax) {
      vmax[k] = std::max(vmax[k], v[k]);
      vv = vmax[k];
    }
    const float denom = std::sqrt(vv) / bc2_sqrt + eps;
    p[k] -= step_size * m[k] / denom;
  }
}

// ------------------------------------------------------------------ RMSprop
RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& o) : Optimizer(std::move(params), o.lr), options(o) {}

void RMSprop::update(size_t i, float* p, const float* g, int64_t n) {
  const float a = float(options.alpha), eps = float(options.eps), wd = float(options.weight_decay),
              mom = float(options.momentum), lr = float(lr_);
  float* sq = state(i, "square_avg");
  float* ga = options.centered ? state(i, "grad_avg") : nullptr;
  float* buf = mom > 0 ? state(i, "momentum_buffer") : nullptr;
  for (int64_t k = 0; k < n; ++k) {
    const float gk = g[k] + wd * p[k];
    sq[k] = a * sq[k] + (1 - a) * gk * gk;
    float avg;
    if (ga) {
      ga[k] = a * ga[k] + (1 - a) * gk;
      avg = std::sqrt(sq[k] - ga[k] * ga[k]) + eps;
    } else {
      avg = std::sqrt(sq[k]) + eps;
    }
    if (buf) {
      buf[k] = mom * buf[k] + gk / avg;
      p[k] -= lr * buf[k];
    } else {
      p[k] -= lr * gk / avg;
    }
  }
}

// ------------------------------------------------------------------ Adagrad
Adagrad::Adagrad(std::vector<Tensor> params, const AdagradOptions& o) : Optimizer(std::move(params), o.lr), options(o) {}

void Adagrad::update(size_t i, float* p, const float* g, int64_t n) {
  float* s = state(i, "sum", float(options.initial_accumulator_value));
  const float clr = float(lr_ / (1 + double(param_step(i) - 1) * options.lr_decay));
  const float wd = float(options.weight_decay), eps = float(options.eps);
  for (int64_t k = 0; k < n; ++k) {
    const float gk = g[k] + wd * p[k];
    s[k] += gk * gk;
    p[k] -= clr * gk / (std::sqrt(s[k]) + eps);
  }
}

// ------------------------------------------------------------------ clone_for
namespace {
template <typename Opt, typename Options>
std::shared_ptr<Optimizer> clone_with_lr(std::vector<Tensor> params, Options o, double lr) {
  o.lr = lr;
  return std::make_shared<Opt>(std::move(params), o);
}
}  // namespace
std::shared_ptr<Optimizer> SGD::clone_for(std::vector<Tensor> p) const {
  return clone_with_lr<SGD>(std::move(p), options, lr_);
}
std::shared_ptr<Optimizer> Adam::clone_for(std::vector<Tensor> p) const {
  return clone_with_lr<Adam>(std::move(p), options, lr_);
}
std::shared_ptr<Optimizer> AdamW::clone_for(std::vector<Tensor> p) const {
  return clone_with_lr<AdamW>(std::move(p), options, lr_);
}
std::shared_ptr<Optimizer> RMSprop::clone_for(std::vector<Tensor> p) const {
  return clone_with_lr<RMSprop>(std::move(p), options, lr_);
}
std::shared_ptr<Optimizer> Adagrad::clone_for(std::vector<Tensor> p) const {
  return clone_with_lr<Adagrad>(std::move(p), options, lr_);
}

// ------------------------------------------------------------------ clipping
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  NoGradGuard ng;
  double total = 0.0;
  const bool inf = std::isinf(norm_type);
  BIGDL_CHECK(inf || norm_type > 0, ValueError, "clip_grad_norm_", "norm_type must be positive or inf, got ", norm_type);
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    for (double v : g.to_double_vector()) {
      if (inf) total = std::max(total, std::fabs(v));
      else total += std::pow(std::fabs(v), norm_type);
    }
  }
  if (!inf) total = std::pow(total, 1.0 / norm_type);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0)
    for (const Tensor& p : params) {
      Tensor g = p.grad();
      if (g.defined()) g.mul_(coef);
    }
  return total;
}

}  // namespace bigdl::optim
