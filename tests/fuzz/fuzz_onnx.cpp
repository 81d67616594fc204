// libFuzzer target: parse_onnx (the protobuf parse and every check after it) over
// arbitrary bytes. Bad input must throw a bigdl::Error; what parses must hold what its
// header promises: initializers of numel * element size bytes, node inputs defined.
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_set>

#include "bigdl/error.h"
#include "bigdl/io/onnx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const bigdl::io::OnnxModel m = bigdl::io::parse_onnx(data, size, "fuzz.onnx");
    std::unordered_set<std::string> defined;
    for (const auto& [name, t] : m.initializers) {
      if (int64_t(t.data.size()) != t.numel() * bigdl::io::raw_element_size(t.dtype)) __builtin_trap();
      defined.insert(name);
    }
    for (const auto& i : m.inputs) defined.insert(i.name);
    for (const auto& n : m.nodes) {
      for (const std::string& in : n.inputs)
        if (!in.empty() && !defined.count(in)) __builtin_trap();
      for (const std::string& out : n.outputs) defined.insert(out);
    }
  } catch (const bigdl::Error&) {
  }
  return 0;
}
