// The backward engine: topological order over Nodes, one call each, leaf accumulation.
#include <unordered_map>
#include <unordered_set>

#include "core/internal.h"

namespace bigdl {
namespace {
thread_local bool t_grad_mode = true;
thread_local LeafGradHook t_leaf_hook;

// Accumulate g into slot (sum when both defined).
void accumulate(Tensor& slot, const Tensor& g) {
  if (!g.defined()) return;
  if (!slot.defined()) {
    slot = g;
  } else {
    slot = add(slot, g);
  }
}

// Runs the graph below `roots`. For each root tensor, its starting gradient.
// When `capture` is non-empty, gradients of those tensors are returned instead of
// being accumulated into leaves.
std::vector<Tensor> run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& root_grads,
                                 bool retain_graph, const std::vector<Tensor>& capture) {
  NoGradGuard ng;  // no higher-order graphs
  // Topological order of impls reachable from the roots (DFS post-order, iterative).
  std::vector<TensorImpl*> order;
  std::unordered_set<TensorImpl*> seen;
  std::unordered_map<TensorImpl*, Tensor> impl_tensor;
  std::unordered_set<TensorImpl*> capture_set;
  for (const Tensor& c : capture) capture_set.insert(c.impl());
  struct Frame { Tensor t; size_t next; };
  std::vector<Frame> stack;
  for (const Tensor& r : roots) {
    if (!r.requires_grad() || seen.count(r.impl())) continue;
    seen.insert(r.impl());
    stack.push_back({r, 0});
    while (!stack.empty()) {
      Frame& f = stack.back();
      const auto& fn = f.t.grad_fn();
      const bool stop_here = !fn || capture_set.count(f.t.impl());
      if (!stop_here && f.next < fn->inputs.size()) {
        const Tensor& in = fn->inputs[f.next++];
        if (in.defined() && in.requires_grad() && !seen.count(in.impl())) {
          seen.insert(in.impl());
          stack.push_back({in, 0});
        }
        continue;
      }
      impl_tensor[f.t.impl()] = f.t;
      order.push_back(f.t.impl());
      stack.pop_back();
    }
  }
  std::unordered_map<TensorImpl*, Tensor> grads;
  for (size_t i = 0; i < roots.size(); ++i)
    if (roots[i].requires_grad()) accumulate(grads[roots[i].impl()], root_grads[i]);

  std::vector<Tensor> captured(capture.size());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* impl = *it;
    auto git = grads.find(impl);
    if (git == grads.end() || !git->second.defined()) continue;
    Tensor g = git->second;
    grads.erase(git);
    const Tensor& t = impl_tensor[impl];
    if (capture_set.count(impl)) {
      for (size_t i = 0; i < capture.size(); ++i)
        if (capture[i].impl() == impl) captured[i] = g;
      continue;
    }
    const auto& fn = t.grad_fn();
    if (!fn) {  // leaf
      if (!capture.empty()) continue;
      if (g.dtype() != t.dtype()) g = g.to(t.dtype());
      Tensor cur = t.grad();
      if (!cur.defined()) {
        // Own the gradient buffer: steal g when nothing else can see it (a fresh result
        // of a backward function), else copy, since g may alias another gradient.
        const bool unique = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 && g.is_contiguous() &&
                            g.offset() == 0 && g.shape() == t.shape();
        t.set_grad(unique ? g : g.clone());
      } else {
        cur.add_(g);
      }
      if (t_leaf_hook) t_leaf_hook(t);
      continue;
    }
    BIGDL_CHECK(!fn->released, ValueError, "backward", "trying to backward through the graph a second time (op '",
                fn->name, "'); pass retain_graph=true to the first backward");
    for (const auto& [weak, version] : fn->input_versions)
      if (const auto st = weak.lock())
        BIGDL_CHECK(st->version() == version, ValueError, "backward", "an input of op '", fn->name,
                    "' was modified by an in-place operation after it was used (version ", st->version(),
                    ", expected ", version, "); its gradient would be wrong: clone() the tensor before changing it");
    std::vector<Tensor> in_grads = fn->backward(g);
    BIGDL_ASSERT(in_grads.size() == fn->inputs.size());
    for (size_t i = 0; i < in_grads.size(); ++i) {
      const Tensor& in = fn->inputs[i];
      if (!in.defined() || !in.requires_grad() || !in_grads[i].defined()) continue;
      BIGDL_CHECK(in_grads[i].shape() == in.shape(), InternalError, "backward", "op '", fn->name,
                  "' produced gradient of shape ", shape_str(in_grads[i].shape()), " for input of shape ",
                  shape_str(in.shape()));
      accumulate(grads[in.impl()], in_grads[i]);
    }
    if (!retain_graph) {
      fn->backward = nullptr;
      fn->released = true;
    }
  }
  return captured;
}
}  // namespace

bool grad_mode_enabled() { return t_grad_mode; }
void set_grad_mode(bool enabled) { t_grad_mode = enabled; }

LeafGradHook set_leaf_grad_hook(LeafGradHook hook) {
  LeafGradHook prev = std::move(t_leaf_hook);
  t_leaf_hook = std::move(hook);
  return prev;
}

void Tensor::backward(const Tensor& grad_in, bool retain_graph) const {
  BIGDL_CHECK(requires_grad(), ValueError, "backward", "tensor does not require grad and has no grad_fn");
  Tensor g = grad_in;
  if (!g.defined()) {
    BIGDL_CHECK(numel() == 1, ValueError, "backward", "grad can be implicitly created only for scalar outputs, got shape ",
                shape_str(shape()));
    g = ones(shape(), dtype());
  }
  BIGDL_CHECK(g.shape() == shape(), ShapeError, "backward", "grad shape ", shape_str(g.shape()),
              " does not match tensor shape ", shape_str(shape()));
  run_backward({*this}, {g}, retain_graph, {});
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph) {
  std::vector<Tensor> gs = grad_outputs;
  if (gs.empty())
    for (const Tensor& o : outputs) gs.push_back(ones(o.shape(), o.dtype()));
  BIGDL_CHECK(gs.size() == outputs.size(), ValueError, "grad", "got ", gs.size(), " grad_outputs for ", outputs.size(),
              " outputs");
  return run_backward(outputs, gs, retain_graph, inputs);
}

namespace detail {
bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_mode) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

void record(Tensor& out, const char* name, std::vector<Tensor> inputs,
            std::function<std::vector<Tensor>(const Tensor&)> backward) {
  auto node = std::make_shared<Node>();
  node->name = name;
  for (Tensor& t : inputs) {
    if (!t.defined()) continue;
    node->input_versions.emplace_back(t.storage(), t.storage()->version());
    if (!t.requires_grad()) t = Tensor();
  }
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
}
}  // namespace detail
}  // namespace bigdl
