// libFuzzer target: parse_safetensors over arbitrary bytes, and the same bytes as a file
// through load_safetensors and read_safetensors_header (their own header-reading path).
// The two readers must agree; bad input must throw a bigdl::Error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/io/safetensors.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file;
  using Tensors = std::vector<std::pair<std::string, bigdl::io::RawTensor>>;
  Tensors from_memory, from_file;
  bool memory_ok = false, file_ok = false;
  try {
    from_memory = bigdl::io::parse_safetensors(data, size, "fuzz.safetensors");
    memory_ok = true;
  } catch (const bigdl::Error&) {
  }
  const std::string& path = file.write(data, size);
  try {
    from_file = bigdl::io::load_safetensors(path);
    file_ok = true;
    if (bigdl::io::read_safetensors_header(path).size() != from_file.size()) __builtin_trap();
  } catch (const bigdl::Error&) {
  }
  if (memory_ok != file_ok || from_memory.size() != from_file.size()) __builtin_trap();
  for (size_t i = 0; i < from_memory.size(); ++i) {
    const auto& [a_name, a] = from_memory[i];
    const auto& [b_name, b] = from_file[i];
    if (a_name != b_name || a.dtype != b.dtype || a.shape != b.shape || a.data != b.data) __builtin_trap();
  }
  return 0;
}
