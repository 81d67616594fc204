// Ready-made networks used by the CLI, the tests and the benchmarks.
// Layer names follow the PyTorch definitions in benchmarks/train/torch_models.py so
// state_dicts move between the two unchanged.
#pragma once

#include <string>
#include <vector>

#include "bigdl/nn/modules.h"

namespace bigdl::train::zoo {

// Linear+ReLU stack; sizes {in, h1, ..., out}. Layers are named "fc1", "fc2", ...
// (ReLUs "relu1", ...), matching a PyTorch module with attributes fc1, fc2.
std::shared_ptr<nn::Sequential> mlp(const std::vector<int64_t>& sizes);
// Small CNN for 8x8 digits: conv3x3(16)-ReLU-conv3x3(32)-ReLU-maxpool2-flatten-fc(128)-ReLU-fc(10).
std::shared_ptr<nn::Sequential> digits_cnn();
// LeNet-5 for 1x28x28: conv5x5(6, pad 2)-ReLU-maxpool2-conv5x5(16)-ReLU-maxpool2-fc120-ReLU-fc84-ReLU-fc10.
std::shared_ptr<nn::Sequential> lenet5(int64_t num_classes = 10);
// ResNet for 3x32x32 with `stages` stages of `blocks` basic blocks (widths 16, 32, 64, ...).
std::shared_ptr<nn::Module> resnet_cifar(int64_t stages = 3, int64_t blocks = 2, int64_t num_classes = 10);

}  // namespace bigdl::train::zoo
