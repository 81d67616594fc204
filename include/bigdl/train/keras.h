// bigdl::keras — BigDL DLlib's Keras-style model building (bigdl.dllib.keras) over
// the nn modules. Two styles, both ending in an nn::Module that train::Model fits:
//
//   // Sequential: each add() infers shapes and creates the layer's weights at once.
//   auto net = std::make_shared<keras::Sequential>();
//   net->add(keras::Dense(128, "relu", {.input_shape = {784}}));
//   net->add(keras::Dense(10, "softmax"));
//
//   // Functional: layers called on symbolic nodes; a Model runs the graph.
//   keras::Node x = keras::Input({784});
//   keras::Node h = keras::Dense(128, "relu")(x);
//   auto net = std::make_shared<keras::Model>(x, keras::Dense(10, "softmax")(h));
//
//   // compile by Keras names; fit / evaluate / predict are train::Model's.
//   train::Model m = keras::compile(net, "adam", "sparse_categorical_crossentropy", {"accuracy"});
//   m.fit(x_train, y_train, {.batch_size = 32, .epochs = 10, .val_x = x_val, .val_y = y_val});
//
// Shapes given to and reported by layers exclude the batch dim. Image layers are
// channels-first ([C, H, W], BigDL's default dim_ordering "th"); recurrent layers are
// batch-first ([T, F] per sample, like Keras).
//
// A layer is a builder: the first time it sees its input shape(s) it creates its
// nn::Module (module()) and its output shape; calling it again (another node, another
// model) reuses that module, so the weights are shared. Models register each layer's
// module under the layer's name, so state_dict keys read "dense_1.weight".
// Unnamed layers are named when they join a model, Keras-style "<snake_case type>_<k>"
// with counters per model ("dense_1", "conv2d_1", "max_pooling2d_1"), so a model built
// the same way always has the same state_dict keys. Names must be unique in a model.
//
// Errors: a bad input shape throws ShapeError naming the layer
// ("[Dense dense_2] expects a 1-D input shape, got [3, 4]"); a bad argument (unknown
// activation, padding, optimizer or loss name; a disconnected graph) throws ValueError.
#pragma once

#include <concepts>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bigdl/nn/loss.h"
#include "bigdl/nn/module.h"
#include "bigdl/optim/optimizer.h"
#include "bigdl/train/model.h"

namespace bigdl::keras {

// Keyword arguments every layer accepts.
struct LayerArgs {
  Shape input_shape;     // without the batch dim; required on the first layer of a Sequential
  std::string name;      // "" = automatic ("dense_1") when the layer joins a model
  bool use_bias = true;  // Dense, Conv2D, LSTM, GRU
};

// A kernel, stride or pool size: one int for both dims, or {h, w}.
struct Size2 {
  Size2(int64_t k) : h(k), w(k) {}  // NOLINT: implicit on purpose, Keras accepts an int
  Size2(int64_t h, int64_t w) : h(h), w(w) {}
  int64_t h, w;
};

class Node;

// Base of all layers. Subclass it (do_build + call) for a custom layer and wrap it in
// a Layer handle.
class LayerImpl {
 public:
  // type: Keras class name ("Dense"); arity: inputs taken, 1, or 0 for "two or more".
  LayerImpl(std::string type, LayerArgs args, int arity = 1);
  virtual ~LayerImpl() = default;
  LayerImpl(const LayerImpl&) = delete;
  LayerImpl& operator=(const LayerImpl&) = delete;

  const std::string& type() const { return type_; }
  const std::string& name() const { return args_.name; }  // "" until the layer joins a model
  const LayerArgs& args() const { return args_; }

  // Creates the module on the first call; later calls must bring the same shapes
  // (a shared layer is one set of weights). Throws ShapeError / ValueError.
  void build(const std::vector<Shape>& input_shapes);
  bool built() const { return built_; }
  const std::vector<Shape>& input_shapes() const { return input_shapes_; }
  const Shape& output_shape() const { return output_shape_; }

  // Runs the built layer on batched tensors ([B, ...input_shape]) -> [B, ...output_shape].
  virtual Tensor call(const std::vector<Tensor>& inputs) = 0;

  // The module holding the weights and buffers (null for Add, Concatenate, Reshape).
  const nn::ModulePtr& module() const { return module_; }
  // The activation applied last ("softmax", "relu", ...; "" if none). compile() uses
  // the model's final activation to read outputs as probabilities or logits.
  virtual std::string activation() const { return ""; }
  // Weights and buffers (Keras' count: BatchNormalization's moving mean/var count as
  // non-trainable). Zero before build.
  int64_t count_params() const;
  int64_t count_trainable_params() const;

  // "Dense dense_2", or "Dense" while unnamed: the prefix of this layer's errors.
  std::string tag() const;

 protected:
  // Checks input_shapes (all of them, arity already checked), creates module_ and
  // whatever else the layer needs, and returns the output shape.
  virtual Shape do_build(const std::vector<Shape>& input_shapes) = 0;
  [[noreturn]] void fail_shape(const std::string& message) const;  // ShapeError "[tag] message"
  [[noreturn]] void fail_value(const std::string& message) const;  // ValueError "[tag] message"

  nn::ModulePtr module_;

 private:
  friend class Sequential;
  friend class Model;
  std::string type_;
  LayerArgs args_;
  int arity_;
  bool built_ = false;
  std::vector<Shape> input_shapes_;
  Shape output_shape_;
};

// Shared handle to a layer (copies share it, and so share its weights). Calling it on
// nodes builds the layer and returns the output node, as `Dense(10)(x)` in Keras.
class Layer {
 public:
  Layer() = default;
  template <std::derived_from<LayerImpl> L>
  Layer(std::shared_ptr<L> impl) : impl_(std::move(impl)) {}  // NOLINT: implicit, from make_shared
  Node operator()(const Node& input) const;
  Node operator()(const std::vector<Node>& inputs) const;  // merge layers
  LayerImpl* operator->() const { return impl_.get(); }
  LayerImpl& operator*() const { return *impl_; }
  const std::shared_ptr<LayerImpl>& ptr() const { return impl_; }
  explicit operator bool() const { return impl_ != nullptr; }

 private:
  std::shared_ptr<LayerImpl> impl_;
};

namespace detail {
struct NodeImpl;
}

// A symbolic tensor of the functional API: an Input, or a layer applied to nodes.
class Node {
 public:
  Node() = default;
  explicit Node(std::shared_ptr<detail::NodeImpl> impl) : impl_(std::move(impl)) {}
  const Shape& shape() const;  // without the batch dim
  bool is_input() const;
  const Layer& layer() const;  // empty for an Input
  const std::vector<Node>& inputs() const;
  const std::string& name() const;  // an Input's name ("" until named by a Model)
  detail::NodeImpl* impl() const { return impl_.get(); }

 private:
  std::shared_ptr<detail::NodeImpl> impl_;
};

// A model input of the given per-sample shape (Keras' Input(shape=...)).
Node Input(Shape shape, std::string name = "");

// ---- layers (factories; Keras argument order, LayerArgs last) ----
// Activations by name: relu, tanh, sigmoid, softmax (last axis), log_softmax, gelu,
// silu, elu, leaky_relu (slope 0.2, as Keras' activation), linear. Others: ValueError.

// [F] -> [units]: activation(x W^T + b).
Layer Dense(int64_t units, const std::string& activation = "linear", LayerArgs args = {});
// [C, H, W] -> [filters, H', W']. padding "valid" (H' = (H - k) / s + 1) or "same"
// (H' = ceil(H / s), zero padding split as TensorFlow: the odd pixel goes bottom/right).
Layer Conv2D(int64_t filters, Size2 kernel, Size2 strides = 1, const std::string& padding = "valid",
             const std::string& activation = "linear", LayerArgs args = {});
// [C, H, W] -> [C, H', W']; strides default to pool_size. "same" pads with -inf (max)
// or leaves the padding out of the average, as Keras.
Layer MaxPooling2D(Size2 pool_size = 2, std::optional<Size2> strides = std::nullopt,
                   const std::string& padding = "valid", LayerArgs args = {});
Layer AveragePooling2D(Size2 pool_size = 2, std::optional<Size2> strides = std::nullopt,
                       const std::string& padding = "valid", LayerArgs args = {});
Layer GlobalAveragePooling2D(LayerArgs args = {});  // [C, H, W] -> [C]
Layer Flatten(LayerArgs args = {});                 // [d1, ..., dn] -> [d1 * ... * dn]
Layer Dropout(double p, LayerArgs args = {});       // p: fraction dropped in training
// Over the channel dim: [F] and [C, L] (BatchNorm1d), [C, H, W] (BatchNorm2d).
// Keras defaults: epsilon 1e-3, momentum 0.99 (running = m * running + (1 - m) * batch).
Layer BatchNormalization(double epsilon = 1e-3, double momentum = 0.99, LayerArgs args = {});
Layer Activation(const std::string& activation, LayerArgs args = {});
// Integer ids [...] -> [..., output_dim]; ids in [0, input_dim).
Layer Embedding(int64_t input_dim, int64_t output_dim, LayerArgs args = {});
// [T, F] -> [units] (last hidden state) or [T, units] with return_sequences.
// PyTorch gates and two bias vectors, so a layer has 4 * units more parameters than
// Keras' LSTM (3 * units more for GRU).
Layer LSTM(int64_t units, bool return_sequences = false, LayerArgs args = {});
Layer GRU(int64_t units, bool return_sequences = false, LayerArgs args = {});
// [...] -> target_shape (one entry may be -1).
Layer Reshape(Shape target_shape, LayerArgs args = {});
// Merge layers, two or more inputs. Add: equal shapes. Concatenate: axis counts the
// batch dim as Keras does (-1 = last; 0 is refused); other dims must match.
Layer Add(LayerArgs args = {});
Layer Concatenate(int64_t axis = -1, LayerArgs args = {});

// The activation module for a name (table above); ValueError for an unknown one.
nn::ModulePtr make_activation(const std::string& name);

// ---- models ----

// A linear stack of layers. add() builds the layer right away from the previous
// layer's output shape (the first layer needs args.input_shape), so parameters()
// is complete after each add().
class Sequential : public nn::Module {
 public:
  Sequential() = default;
  explicit Sequential(const std::vector<Layer>& layers);
  Sequential& add(Layer layer);
  // x [B, ...input_shape] -> [B, ...output_shape]; ShapeError on another input shape.
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Sequential"; }
  // Keras' table: "name (Type)", "Output Shape" as (None, ...), "Param #", then
  // Total / Trainable / Non-trainable params.
  std::string summary() const;
  const std::vector<Layer>& layers() const { return layers_; }
  Layer get_layer(const std::string& name) const;  // ValueError if absent
  const Shape& input_shape() const;
  const Shape& output_shape() const;

 private:
  std::vector<Layer> layers_;
  std::vector<std::pair<std::string, int64_t>> counters_;  // auto-name counter per prefix
};

// A graph of layers from Input nodes to output nodes, run in topological order.
// Every output must depend only on the given inputs, and every input must be used,
// else ValueError. Layers are named in topological order, inputs "input_1", ...
class Model : public nn::Module {
 public:
  Model(const Node& input, const Node& output);
  Model(const std::vector<Node>& inputs, const std::vector<Node>& outputs);
  // One input, one output.
  Tensor forward(const Tensor& x) override;
  // One tensor per input, in order; returns one per output.
  std::vector<Tensor> forward_multi(const std::vector<Tensor>& inputs);
  std::string name() const override { return "Model"; }
  // Keras' functional table, with a "Connected to" column ("dense_1[0][0]").
  std::string summary() const;
  const std::vector<Layer>& layers() const { return layers_; }  // distinct, topological order
  Layer get_layer(const std::string& name) const;
  const std::vector<Node>& inputs() const { return inputs_; }
  const std::vector<Node>& outputs() const { return outputs_; }

 private:
  struct Step {
    Layer layer;
    std::vector<size_t> args;  // slots of the inputs
  };
  std::vector<Node> inputs_, outputs_;
  std::vector<Node> order_;  // every node, topologically; slot i holds order_[i]'s value
  std::vector<Step> steps_;  // steps_[i] computes slot i (layer empty for inputs)
  std::vector<size_t> input_slots_, output_slots_;
  std::vector<Layer> layers_;
};

// ---- compile by Keras names ----

// "sgd" (lr 0.01), "adam" (1e-3), "adamw" (1e-3, weight decay 0.01), "rmsprop"
// (1e-3, rho 0.9), "adagrad" (0.01): BigDL's compile() defaults. lr > 0 overrides;
// -1 keeps the default. Case-insensitive; ValueError for other names.
optim::OptimizerPtr make_optimizer(const std::string& name, std::vector<Tensor> params, double lr = -1);

// Keras losses by name, targets as Keras takes them (class ids for sparse, one-hot or
// probabilities for categorical, 0/1 for binary; [N] targets match [N, 1] outputs).
//   "sparse_categorical_crossentropy", "categorical_crossentropy",
//   "binary_crossentropy", "bce_with_logits", "mse"/"mean_squared_error",
//   "mae"/"mean_absolute_error".
// final_activation says what the model outputs are: for the categorical losses
// "softmax" = probabilities (loss = NLL of log(clamp(p, 1e-7, 1 - 1e-7)), as Keras),
// "log_softmax" = log-probabilities, anything else = logits (log_softmax applied
// inside). binary_crossentropy reads "sigmoid"/"softmax" outputs as probabilities
// (clamped), anything else as logits. Pass output_activation(net).
nn::LossPtr make_loss(const std::string& name, const std::string& final_activation = "");

// The final activation of a network: a keras::Sequential's last layer, a
// keras::Model's single output layer, or an nn::Sequential ending in nn::Softmax /
// nn::LogSoftmax / nn::Sigmoid; "" otherwise.
std::string output_activation(const nn::Module& net);

// Keras' model.compile(optimizer, loss, metrics): a train::Model over `net` with
// make_optimizer(optimizer, net->parameters(), lr), make_loss(loss,
// output_activation(*net)) and train::make_metric for each metric. Then call its
// fit / evaluate / predict.
train::Model compile(nn::ModulePtr net, const std::string& optimizer, const std::string& loss,
                     const std::vector<std::string>& metrics = {}, double lr = -1);

}  // namespace bigdl::keras
