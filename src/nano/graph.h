// Internal to nano: the graph of items that capture (src/nano/inference.cpp) and the ONNX
// importer (src/nano/onnx_import.cpp) both produce, and build(), which rewrites items into
// the steps of an InferenceModel (BatchNorm folded, activations fused, layers at the
// requested precision, int8_static calibrated).
#pragma once

#include <memory>
#include <vector>

#include "bigdl/nano/inference.h"
#include "bigdl/train/keras.h"

namespace bigdl::nano::graph {

// One node: a module call (rewritten where build() knows the module: Linear / Conv2d,
// BatchNorm after them, activations, MaxPool2d, Dropout / Identity dropped), a Keras Add,
// a Keras layer run as it is, or a ready step (ONNX operators and constants). It reads
// the outputs of earlier items; -1 - k stands for the model's input k.
struct Item {
  nn::ModulePtr module;
  keras::Layer layer;  // when module and step are null and not add
  bool add = false;    // a Keras Add: the sum of its inputs
  std::vector<int> in;
  std::unique_ptr<Step> step;
};

// The InferenceModel of items (topological order) whose outputs are the items `outputs`
// (-1 - k: input k itself), with num_inputs inputs. `op` names the caller in errors.
std::shared_ptr<InferenceModel> build(std::vector<Item> items, const std::vector<int>& outputs, size_t num_inputs,
                                      const OptimizeOptions& options, const char* op);

}  // namespace bigdl::nano::graph
