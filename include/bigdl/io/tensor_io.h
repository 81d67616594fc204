// Tensors in files: the bridge between bigdl::Tensor and the format parsers
// (safetensors.h, torch_pickle.h), plus model/optimizer checkpoints.
//
// A checkpoint is two files written atomically: <path> (safetensors holding the
// model's state_dict under "model.<key>" and the optimizer state under
// "optimizer.<key>") and its __metadata__ carrying JSON strings ("format":
// "bigdl-checkpoint", "epoch", "user" metadata). PyTorch's safetensors can read it:
// keys and dtypes are plain.
#pragma once

#include <map>
#include <string>

#include "bigdl/io/raw_tensor.h"
#include "bigdl/nn/module.h"

namespace bigdl::io {

Tensor tensor_from_raw(const RawTensor& r);  // copies
RawTensor tensor_to_raw(const Tensor& t);    // contiguous copy

// Loads named tensors from a .safetensors file or a torch.save zip (.pt/.pth/.bin),
// chosen by content (zip magic "PK" vs safetensors header).
nn::NamedTensors load_tensors(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);
// Saves named tensors as safetensors, atomically.
void save_tensors(const std::string& path, const nn::NamedTensors& tensors,
                  const std::map<std::string, std::string>& metadata = {});

}  // namespace bigdl::io
