// nn::Module — the base of every layer, with PyTorch's names and semantics:
// register_parameter / register_buffer / register_module build a tree whose
// named_parameters() are "child.sub.weight"; train()/eval() switch mode
// recursively; state_dict()/load_state_dict() copy values in place so handles to
// parameters held by optimizers stay valid.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bigdl/tensor.h"

namespace bigdl::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  // One input, one output; multi-output modules (LSTM) offer richer methods too.
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
  // Class name as in PyTorch ("Linear").
  virtual std::string name() const = 0;
  // One-line description: "Linear(in_features=4, out_features=8, bias=true)".
  virtual std::string repr() const { return name() + "()"; }

  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  // Parameters then buffers, in registration order, PyTorch key names.
  NamedTensors state_dict() const;
  // Copies values into this module's tensors. strict: every key must match both ways.
  // Throws ShapeError/ValueError naming the key.
  void load_state_dict(const NamedTensors& state, bool strict = true);
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();
  int64_t num_parameters() const;

 protected:
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

  bool training_ = true;

 private:
  void collect(const std::string& prefix, bool params, bool recurse, NamedTensors* out) const;
  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

using ModulePtr = std::shared_ptr<Module>;

}  // namespace bigdl::nn
