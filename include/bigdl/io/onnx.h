// ONNX model reader (https://onnx.ai, onnx.proto): the protobuf is parsed by Debian's
// libonnx-dev / libprotobuf (the message classes onnx.proto compiles to), then copied into
// the plain structs below and checked, so the importer (bigdl/nano/onnx.h) and the fuzz
// target see no protobuf types.
//
// What read_onnx checks (FormatError naming the file and the node or tensor, one line):
//   * the bytes parse as a ModelProto with a graph (a truncated file does not);
//   * every initializer / Constant tensor has a dtype we hold (float, float16, bfloat16,
//     double, int8, uint8, int32, int64, bool; not string or the unsigned 16/32/64-bit
//     types: DTypeError), non-negative dims whose product fits, and exactly numel
//     elements (raw_data or the typed field); external data is refused;
//   * nodes are in topological order: every non-empty node input is a graph input, an
//     initializer or the output of an earlier node; no name is produced twice;
//   * every graph output is produced.
// What an operator means is the importer's business: read_onnx keeps any op_type, domain
// and attribute (a subgraph attribute is kept as kind graph, without its content).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bigdl/io/raw_tensor.h"

namespace bigdl::io {

struct OnnxAttribute {
  enum Kind { floating, integer, string, tensor, floats, ints, strings, graph, other };
  std::string name;
  Kind kind = other;
  double f = 0;
  int64_t i = 0;
  std::string s;
  RawTensor t;
  std::vector<double> fs;
  std::vector<int64_t> is;
  std::vector<std::string> ss;
};

struct OnnxNode {
  std::string name, op_type, domain;
  std::vector<std::string> inputs;   // "" = an optional input left out
  std::vector<std::string> outputs;  // "" = an optional output not wanted
  std::vector<OnnxAttribute> attributes;
  // The attribute called name, or nullptr.
  const OnnxAttribute* attr(const std::string& name) const;
  // "Conv 'conv1'" (or "Conv #3" for an unnamed node at index 3), for messages.
  std::string label() const;
};

struct OnnxValueInfo {
  std::string name;
  std::string dtype;           // safetensors name ("F32", "I64", ...); "" when not given
  std::vector<int64_t> shape;  // -1 for a symbolic or unknown dim
  bool has_shape = false;
};

struct OnnxModel {
  int64_t ir_version = 0;
  int64_t opset = 0;  // of the default domain ("" / "ai.onnx"); 0 when not imported
  std::string producer;
  std::vector<OnnxNode> nodes;  // topological order
  std::vector<std::pair<std::string, RawTensor>> initializers;
  std::vector<OnnxValueInfo> inputs;  // graph inputs that are not initializers
  std::vector<OnnxValueInfo> outputs;
};

// Parses an ONNX model held in memory; `what` names it in errors.
OnnxModel parse_onnx(const uint8_t* data, size_t size, const std::string& what);
// Reads and parses the file at path (IOError when it cannot be read).
OnnxModel read_onnx(const std::string& path);

// The safetensors dtype name of an ONNX TensorProto data type, "" when we hold none.
std::string onnx_dtype_name(int32_t onnx_type);

}  // namespace bigdl::io
