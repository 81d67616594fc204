// safetensors (https://github.com/huggingface/safetensors) reader and writer.
//
// Byte layout of a .safetensors file:
//
//   offset 0       u64 little-endian N: byte length of the JSON header
//   offset 8       N bytes of UTF-8 JSON, an object; trailing spaces pad it so that
//                  8 + N is a multiple of 8 (so the data area is 8-byte aligned)
//                    {"__metadata__": {"key": "value", ...},            (optional, str->str)
//                     "<tensor name>": {"dtype": "F32",
//                                       "shape": [d0, d1, ...],          (row-major, >= 0)
//                                       "data_offsets": [begin, end]},   (bytes into data area)
//                     ...}
//   offset 8 + N   data area: each tensor's contiguous little-endian bytes at
//                  [begin, end). Sorted by offset the tensors tile the area exactly:
//                  the first begins at 0, each begins where the previous ends, the last
//                  ends at the end of the file.
//
// dtype names: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL U16 U32 U64 F8_E4M3 F8_E5M2.
//
// The reader trusts nothing: a file shorter than 8 bytes, a header longer than the file
// or than 100 MB, JSON that is invalid, nested deeper than a header can be or has
// duplicate keys, a tensor without dtype/shape/data_offsets, negative or non-integer
// dims, an unknown dtype (DTypeError), offsets that are reversed, overlap, leave a gap or
// leave the data area, and a byte size that is not numel * element size all throw
// FormatError naming the file and the tensor:
//   [load_safetensors] m.safetensors: tensor 'fc1.weight' data_offsets [0, 100] hold 100
//   bytes, expected 96
// The writer produces the same bytes as the official library for the same tensors in
// the same order (compact JSON, keys dtype/shape/data_offsets, space padding), except
// that metadata keys are sorted where the official library writes them in hash order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bigdl/io/raw_tensor.h"

namespace bigdl::io {

// One header entry: where a tensor's bytes are inside the data area.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t data_begin = 0;  // byte offsets into the data area (after 8 + N)
  uint64_t data_end = 0;
};

// Loads every tensor of a .safetensors file, in data-offset (= file) order. Fills
// *metadata with the "__metadata__" map when given. Throws IOError if the file cannot be
// read, FormatError / DTypeError for bad content.
std::vector<std::pair<std::string, RawTensor>> load_safetensors(
    const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

// Same as load_safetensors over an in-memory file image of `size` bytes; errors read
// "[parse_safetensors] <name_for_errors>: ...". The entry point for fuzzers.
std::vector<std::pair<std::string, RawTensor>> parse_safetensors(
    const uint8_t* data, size_t size, const std::string& name_for_errors,
    std::map<std::string, std::string>* metadata = nullptr);

// Reads and validates only the header of a .safetensors file (no tensor data), entries
// in data-offset order.
std::vector<SafetensorsEntry> read_safetensors_header(
    const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

// Writes tensors (in the given order) and string metadata to `path` atomically (see
// atomic_file.h). Throws ValueError for a duplicate or reserved ("__metadata__") name or
// a data size that does not match dtype and shape, DTypeError for an unknown dtype,
// IOError if writing fails.
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, RawTensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// The bytes save_safetensors would write, as one buffer.
std::vector<uint8_t> serialize_safetensors(
    const std::vector<std::pair<std::string, RawTensor>>& tensors,
    const std::map<std::string, std::string>& metadata = {});

}  // namespace bigdl::io
