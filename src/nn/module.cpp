#include "bigdl/nn/module.h"

#include <functional>
#include <set>

#include "bigdl/autograd.h"

namespace bigdl::nn {

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  if (t.defined() && requires_grad) t.requires_grad_(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  buffers_.emplace_back(name, t);
  return t;
}

void Module::collect(const std::string& prefix, bool params, bool recurse, NamedTensors* out) const {
  for (const auto& [n, t] : params ? params_ : buffers_)
    if (t.defined()) out->emplace_back(prefix + n, t);
  if (!recurse) return;
  for (const auto& [n, m] : children_) m->collect(prefix + n + ".", params, true, out);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  collect("", true, recurse, &out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  collect("", false, recurse, &out);
  return out;
}

NamedTensors Module::state_dict() const {
  // PyTorch orders each module's parameters then its buffers, depth first.
  NamedTensors out;
  std::function<void(const Module&, const std::string&)> walk = [&](const Module& m, const std::string& prefix) {
    for (const auto& [n, t] : m.params_)
      if (t.defined()) out.emplace_back(prefix + n, t);
    for (const auto& [n, t] : m.buffers_)
      if (t.defined()) out.emplace_back(prefix + n, t);
    for (const auto& [n, c] : m.children_) walk(*c, prefix + n + ".");
  };
  walk(*this, "");
  return out;
}

void Module::load_state_dict(const NamedTensors& state, bool strict) {
  NamedTensors mine = state_dict();
  std::set<std::string> used;
  NoGradGuard ng;
  for (auto& [name, t] : mine) {
    const Tensor* src = nullptr;
    for (const auto& [n, s] : state)
      if (n == name) {
        src = &s;
        break;
      }
    if (!src) {
      BIGDL_CHECK(!strict, ValueError, "load_state_dict", "missing key '", name, "'");
      continue;
    }
    BIGDL_CHECK(src->shape() == t.shape(), ShapeError, "load_state_dict", "key '", name, "' has shape ",
                shape_str(src->shape()), ", module expects ", shape_str(t.shape()));
    t.copy_(*src);
    used.insert(name);
  }
  if (strict)
    for (const auto& [n, s] : state)
      BIGDL_CHECK(used.count(n), ValueError, "load_state_dict", "unexpected key '", n, "'");
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() {
  for (auto& p : parameters()) p.set_grad(Tensor());
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace bigdl::nn
