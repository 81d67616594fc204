// Optimizers with PyTorch's update rules, option names and defaults (torch 1.13):
// SGD (momentum, dampening, nesterov, weight_decay), Adam (amsgrad), AdamW,
// RMSprop (momentum, centered), Adagrad (lr_decay, initial_accumulator_value).
// Parameters must be contiguous f32 tensors that require grad; a parameter whose grad
// is undefined after backward is skipped, as in PyTorch.
//
// Optimizer state (momentum buffers, moments, step counts) is exposed as named
// tensors so checkpoints can save and restore it (state_dict / load_state_dict).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bigdl/nn/module.h"
#include "bigdl/tensor.h"

namespace bigdl::optim {

class Optimizer {
 public:
  Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;
  // One update of every parameter from its .grad().
  void step();
  // Sets every parameter's grad to undefined (PyTorch's set_to_none=True).
  void zero_grad();
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  int64_t step_count() const { return steps_; }
  const std::vector<Tensor>& params() const { return params_; }
  virtual std::string name() const = 0;
  // A new optimizer of the same kind and options (current lr) over other parameters,
  // with empty state. Data-parallel training builds each rank's optimizer over its shard
  // of the flat parameter buffer this way (bigdl/dist), which is exact for elementwise
  // update rules (all of the built-in ones). The base throws ValueError.
  virtual std::shared_ptr<Optimizer> clone_for(std::vector<Tensor> params) const;

  // "state.<param index>.<buffer>" tensors plus "step" and "lr" as 0-d f64 tensors.
  nn::NamedTensors state_dict() const;
  void load_state_dict(const nn::NamedTensors& state);

 protected:
  // Update parameter i (n floats) given its gradient.
  virtual void update(size_t i, float* p, const float* g, int64_t n) = 0;
  // Per-parameter state buffer `name` (zeros, created on first use).
  float* state(size_t i, const std::string& name, float init = 0.0f);
  bool has_state(size_t i, const std::string& name) const;

  // Updates applied to parameter i so far, counting the one in progress (PyTorch keeps
  // a step per parameter, so a parameter skipped for lack of a grad does not advance).
  int64_t param_step(size_t i) const { return param_steps_[i]; }

  std::vector<Tensor> params_;
  double lr_;
  int64_t steps_ = 0;
  std::vector<int64_t> param_steps_;

 private:
  std::vector<nn::NamedTensors> state_;
};
using OptimizerPtr = std::shared_ptr<Optimizer>;

struct SGDOptions {
  double lr = 0.01, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& o);
  std::string name() const override { return "SGD"; }
  std::shared_ptr<Optimizer> clone_for(std::vector<Tensor> params) const override;
  SGDOptions options;

 protected:
  void update(size_t i, float* p, const float* g, int64_t n) override;
};

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool amsgrad = false;
};
// Adam with L2 weight decay added to the gradient.
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& o);
  std::string name() const override { return "Adam"; }
  std::shared_ptr<Optimizer> clone_for(std::vector<Tensor> params) const override;
  AdamOptions options;

 protected:
  void update(size_t i, float* p, const float* g, int64_t n) override;
  bool decoupled_ = false;
};
// AdamW: decoupled weight decay (p *= 1 - lr*wd before the Adam step); default wd 1e-2.
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamOptions o);
  std::string name() const override { return "AdamW"; }
  std::shared_ptr<Optimizer> clone_for(std::vector<Tensor> params) const override;
};

struct RMSpropOptions {
  double lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0.0, momentum = 0.0;
  bool centered = false;
};
class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, const RMSpropOptions& o);
  std::string name() const override { return "RMSprop"; }
  std::shared_ptr<Optimizer> clone_for(std::vector<Tensor> params) const override;
  RMSpropOptions options;

 protected:
  void update(size_t i, float* p, const float* g, int64_t n) override;
};

struct AdagradOptions {
  double lr = 1e-2, lr_decay = 0.0, weight_decay = 0.0, initial_accumulator_value = 0.0, eps = 1e-10;
};
class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<Tensor> params, const AdagradOptions& o);
  std::string name() const override { return "Adagrad"; }
  std::shared_ptr<Optimizer> clone_for(std::vector<Tensor> params) const override;
  AdagradOptions options;

 protected:
  void update(size_t i, float* p, const float* g, int64_t n) override;
};

// Scales all gradients so their joint norm is at most max_norm (norm_type 2 or
// infinity); returns the norm before clipping, as torch.nn.utils.clip_grad_norm_.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

}  // namespace bigdl::optim
