// bigdl::nano — inference acceleration for models of the core (BigDL Nano's
// InferenceOptimizer, issue 14). optimize() captures a trained model into an
// InferenceModel: an eval-mode, no-autograd copy of the network as a flat list of steps,
// rewritten for inference:
//
//   auto net = std::make_shared<nn::Sequential>(...);         // trained
//   auto fast = nano::optimize(net);                          // fp32, fused
//   auto q8 = nano::optimize(net, {.precision = nano::Precision::int8_dynamic});
//   Tensor y = fast->forward(x);                              // same as net->forward(x) in eval
//   std::cout << fast->repr();                                // the steps
//
// What capture does (docs/nano.md):
//   * nested nn::Sequential containers are flattened, and a keras::Sequential's layers
//     become the modules they run (Dense / Conv2D: their Linear / Conv2d, then their
//     activation; Flatten, Dropout, Activation, BatchNormalization: their module); a
//     Keras layer that is more than a module call (a Conv2D that pads unevenly, pooling,
//     Reshape, LSTM, ...) runs as itself;
//   * Dropout and Identity are dropped (eval mode is a no-op for them);
//   * a BatchNorm1d / BatchNorm2d right after a Linear / Conv2d folds into its weight and
//     bias with the running statistics: W' = W * g / sqrt(var + eps) per output channel,
//     b' = (b - mean) * g / sqrt(var + eps) + beta;
//   * an activation right after a Linear / Conv2d (ReLU, LeakyReLU, Tanh, Sigmoid, SiLU,
//     GELU) runs with that layer instead of as a step of its own (in place on its output,
//     or inside the oneDNN kernel);
//   * fp32 Linear layers run on our GEMM below 128 rows and on oneDNN's inner product
//     (weights prepacked on first use) from 128 rows on;
//   * Conv2d layers run on oneDNN inference kernels with their weights prepacked once in
//     the kernel's layout (src/backend/cpu/onednn_infer.h);
//   * bf16: every Linear / Conv2d on oneDNN's bf16 kernels (weights and inputs rounded to
//     bf16, f32 sums and outputs); only where native_bf16();
//   * int8_static: every Linear / Conv2d on oneDNN's int8 kernels: weights symmetric per
//     output channel; each layer's input quantized with one scale found by running
//     calibration_data through the fp32 model (Calibration), as u8 when it never went
//     negative there (after a ReLU) and s8 otherwise; outputs f32;
//   * int8_dynamic: every Linear's weight is quantized to int8 in blocks of 32 input
//     features with one fp16 scale each (GGUF's Q8_0, the LLM engine's sym_int8: what a
//     saved model stores), and runs on oneDNN's int8 matmul with per-channel int8 weights
//     made from those blocks' values; each input row is quantized to int8 with its own
//     scale at each call (dynamic); convolutions as in fp32;
//   * every other module runs as a step of its own through its forward() (in eval mode).
// A functional keras::Model with one input and one output is captured as its graph: the
// same rewrites where a layer is the only reader of the one before, and Add (with the
// activation after it) as one step. A model that is none of these (the zoo's ResNet, a
// custom module) is one step: nothing to rewrite, still no autograd.
//
// The captured model holds copies of the Linear / Conv2d weights (folded / quantized):
// training the original afterwards does not change them. Module steps (pools, Flatten,
// LayerNorm, LSTM, ...) run the original module itself, in eval mode. Errors: an
// unsupported option, bf16 without native_bf16(), int8_static without calibration data or
// a model with nothing in it throws ValueError naming "nano.optimize".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bigdl/nn/module.h"
#include "bigdl/tensor.h"

namespace bigdl::nano {

enum class Precision { fp32, bf16, int8_static, int8_dynamic };
// "fp32", "bf16", "int8_static", "int8_dynamic".
const char* precision_name(Precision p);
// The precision of a name above ("int8" = int8_static); ValueError naming nano.optimize
// for another.
Precision parse_precision(const std::string& name);

// How int8_static picks each layer's input range from the calibration data: the largest
// |x| seen (minmax), the given percentile of |x| (percentile), or the clipping threshold
// whose quantized distribution is closest in KL divergence to the observed one (entropy,
// TensorRT's method; 2048-bin histograms).
enum class Calibration { minmax, percentile, entropy };
const char* calibration_name(Calibration c);
Calibration parse_calibration(const std::string& name);  // "minmax", "percentile", "entropy" ("kl")

struct OptimizeOptions {
  Precision precision = Precision::fp32;
  bool fold_batchnorm = true;   // Linear / Conv2d + BatchNorm -> one layer
  bool fuse_activation = true;  // Linear / Conv2d + activation -> one step
  // int8_static: inputs (a batch, e.g. a few hundred training rows) run through the fp32
  // model to observe each layer's input range; required for int8_static.
  Tensor calibration_data;
  Calibration calibration = Calibration::minmax;
  double percentile = 99.99;  // Calibration::percentile
  // false: no rewrite at all, every module runs as itself (an imported ONNX model's
  // "original": each operator as the file says; bigdl/nano/onnx.h).
  bool rewrite = true;
};

// The int8 weights' range, [-q, q]: 127 where the int8 kernels use VNNI, 63 elsewhere (the
// AVX2 kernels' int16 sums saturate with 8-bit weights; docs/nano.md).
int int8_weight_max();

// True when this CPU runs bf16 natively (AVX-512 BF16 or AMX-BF16, and oneDNN uses it);
// Precision::bf16 is refused elsewhere rather than emulated.
bool native_bf16();

// One step of a captured model (src/nano/inference.cpp defines the kinds).
class Step {
 public:
  virtual ~Step() = default;
  virtual Tensor run(const Tensor& x) = 0;
  // A step with several inputs (a Keras Add / Concatenate) overrides this; others read xs[0].
  virtual Tensor run_inputs(const std::vector<Tensor>& xs) { return run(xs.at(0)); }
  // "Linear(784 -> 500) + relu [int8]", "MaxPool2d (module)", ...
  virtual std::string describe() const = 0;
};

// The captured model: steps over value slots. Slots 0 .. num_inputs - 1 are the inputs,
// step k reads the slots args[k] and writes slot num_inputs + k; `outputs` are the slots
// returned (a chain with one input: args[k] = {k}, outputs = {the last}).
class InferenceModel : public nn::Module {
 public:
  InferenceModel(std::vector<std::unique_ptr<Step>> steps, std::vector<std::vector<size_t>> args, std::vector<size_t> outputs,
                 OptimizeOptions options, size_t num_inputs = 1);
  // Runs the steps in order with autograd off; x as the original model takes it. Returns
  // the first output; ValueError for a model with several inputs.
  Tensor forward(const Tensor& x) override;
  // All inputs (num_inputs(), in order) -> all outputs.
  std::vector<Tensor> forward_inputs(const std::vector<Tensor>& xs);
  std::string name() const override { return "InferenceModel"; }
  // "InferenceModel(int8_dynamic):" then one line per step ("<- (2), (5)" when a step
  // reads other than the step before it).
  std::string repr() const override;
  const OptimizeOptions& options() const { return options_; }
  size_t num_steps() const { return steps_.size(); }
  const std::vector<std::unique_ptr<Step>>& steps() const { return steps_; }
  const std::vector<std::vector<size_t>>& args() const { return args_; }
  size_t output_slot() const { return outputs_[0]; }
  const std::vector<size_t>& outputs() const { return outputs_; }
  size_t num_inputs() const { return num_inputs_; }
  // The inputs' and outputs' names where the model has them (an imported ONNX graph's);
  // empty otherwise. Saved and loaded with the model.
  const std::vector<std::string>& input_names() const { return input_names_; }
  const std::vector<std::string>& output_names() const { return output_names_; }
  void set_names(std::vector<std::string> inputs, std::vector<std::string> outputs);

 private:
  std::vector<std::unique_ptr<Step>> steps_;
  std::vector<std::vector<size_t>> args_;
  std::vector<size_t> outputs_;
  size_t num_inputs_;
  std::vector<size_t> last_;  // the step after which each slot is last read (then released)
  std::vector<std::string> input_names_, output_names_;
  OptimizeOptions options_;
};

// Captures `model` (see above). The model's own modules are not modified (it is put in
// eval mode while captured and its mode restored after).
std::shared_ptr<InferenceModel> optimize(const nn::ModulePtr& model, const OptimizeOptions& options = {});

// The captured model as one file, written atomically: safetensors holding each step's
// tensors (oneDNN layers' f32 weights, which load() converts / quantizes again with the
// saved scales, so outputs are identical; dynamic int8 Linear blocks as they are) and, as
// the "nano" metadata entry, JSON with the steps, their parameters and the graph. No
// original model is needed to load it. ValueError naming nano.save for a step that is a
// module or Keras layer other than MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten,
// Softmax, LogSoftmax, the activations, GlobalAveragePooling2D and Add.
void save(const InferenceModel& model, const std::string& path);
// What save() writes, in memory: the JSON description (returned) and the tensors it names
// ("step<k>.weight", ...), appended to `tensors`. The ONNX export reads this.
std::string describe(const InferenceModel& model, nn::NamedTensors& tensors);
// IOError / FormatError from reading the file; ValueError naming nano.load and the path for
// a file nano.save did not write or whose steps do not fit together.
std::shared_ptr<InferenceModel> load(const std::string& path);

}  // namespace bigdl::nano
