// RawTensor: a dtype-tagged, contiguous, row-major little-endian byte buffer with a
// shape. It is the neutral currency of the file readers and writers in io/
// (safetensors, torch.save zip/pickle, GGUF); bigdl::Tensor converts to and from it
// (bigdl/io/tensor_io.h), so the parsers stay free of the tensor engine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bigdl::io {

struct RawTensor {
  // safetensors dtype names: "F64","F32","F16","BF16","I64","I32","I16","I8","U8","BOOL"
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // numel * element_size(dtype) bytes

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

// Bytes per element for a safetensors dtype name; throws DTypeError for an unknown name.
int64_t raw_element_size(const std::string& dtype);

}  // namespace bigdl::io
