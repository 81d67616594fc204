// Reverse-mode automatic differentiation over the eager op graph.
//
// Each differentiable op whose inputs require grad (while grad mode is on) gives its
// output a Node: the op name, the input tensors it depends on, and a backward
// function mapping the output's gradient to one gradient per input. backward()
// orders the nodes topologically and runs them once each; leaf gradients accumulate
// (+=) across calls, so gradient accumulation over micro-batches works by calling
// backward several times before the optimizer step.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bigdl/tensor.h"

namespace bigdl {

struct Node {
  const char* name = "";
  std::vector<Tensor> inputs;  // inputs that require grad (others are undefined)
  // Gradient wrt each entry of `inputs` (undefined where not needed).
  std::function<std::vector<Tensor>(const Tensor& grad_output)> backward;
  bool released = false;  // saved state freed by a backward without retain_graph
  // The storage versions of all inputs at record time (those that need no grad too: a
  // backward reads them). A backward that finds one changed, by an in-place op on that
  // tensor or a view of it, throws ValueError instead of computing a wrong gradient, as
  // PyTorch does. Weak: a storage nobody holds any more cannot be read by the backward.
  std::vector<std::pair<std::weak_ptr<Storage>, uint64_t>> input_versions;
};

// Is grad recording on for this thread?
bool grad_mode_enabled();
void set_grad_mode(bool enabled);

// RAII: turns grad recording off in scope (like torch.no_grad()).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_mode_enabled()) { set_grad_mode(false); }
  ~NoGradGuard() { set_grad_mode(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// Gradients of `outputs` wrt `inputs` without touching .grad() (like torch.autograd.grad).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false);

// A function backward() calls, on its own thread, as soon as a leaf's gradient for the
// pass is complete (accumulated into leaf.grad()); leaves are reached in reverse
// topological order, so a layer's parameters finish while earlier layers still run.
// Data-parallel training uses it to send gradients during backward (bigdl/dist).
// Installs `hook` for backward passes on this thread (empty: none); returns the previous.
using LeafGradHook = std::function<void(const Tensor& leaf)>;
LeafGradHook set_leaf_grad_hook(LeafGradHook hook);

namespace detail {
// True when any input requires grad and grad mode is on.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
// Attach a Node to `out` (marks it requires_grad). Inputs not requiring grad are stored
// undefined so their gradient is skipped.
void record(Tensor& out, const char* name, std::vector<Tensor> inputs,
            std::function<std::vector<Tensor>(const Tensor&)> backward);
}  // namespace detail

}  // namespace bigdl
