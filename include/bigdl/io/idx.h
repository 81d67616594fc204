// IDX reader: the format of MNIST, Fashion-MNIST, EMNIST and KMNIST.
//
// Layout, all integers big-endian:
//   offset 0        uint8  0x00
//   offset 1        uint8  0x00
//   offset 2        uint8  element type code (IdxType below)
//   offset 3        uint8  ndims
//   offset 4        uint32 dims[ndims]
//   offset 4+4*nd   prod(dims) elements, big-endian, row-major
// MNIST images are magic 0x00000803 (u8, 3 dims: N x 28 x 28), labels 0x00000801
// (u8, 1 dim: N). Files may be gzipped (detected by magic bytes, see gzip.h).
//
// Errors (FormatError, naming the file):
//   [read_idx] digits.csv: bad magic 0x302c302c (an IDX file starts with 00 00, a type code and ndims)
//   [read_idx] t10k-images-idx3-ubyte: unknown element type code 0x07
//   [read_idx] t10k-images-idx3-ubyte: truncated: expected 7840016 bytes for u8 [10000, 28, 28], found 5000
//   [read_idx] t10k-images-idx3-ubyte: expected 7840016 bytes for u8 [10000, 28, 28], found 7840020 (trailing data)
// A missing file is an IOError from read_file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bigdl::io {

// Element type codes; the enum value is the byte in the file. A new type is a new value
// plus one row in the table in idx.cpp.
enum class IdxType : uint8_t {
  u8 = 0x08,
  i8 = 0x09,
  i16 = 0x0B,
  i32 = 0x0C,
  f32 = 0x0D,
  f64 = 0x0E,
};

// Name ("u8", "f32", ...) and size in bytes of an element type.
const char* idx_type_name(IdxType type);
int idx_type_size(IdxType type);

struct IdxArray {
  IdxType type = IdxType::u8;
  std::vector<int64_t> shape;  // e.g. {10000, 28, 28}
  // numel() * idx_type_size(type) bytes, row-major, converted to host byte order: for u8
  // these are the pixels / labels themselves; for other types reinterpret (or use
  // to_float()).
  std::vector<uint8_t> data;

  int64_t numel() const;
  // Every element converted to float (f64 and i32 may round).
  std::vector<float> to_float() const;
};

// Reads an IDX file, gzipped or not.
IdxArray read_idx(const std::string& path);

// Parses IDX bytes held in memory; `name` stands for the file in error messages.
IdxArray parse_idx(const uint8_t* data, size_t size, const std::string& name = "<memory>");

}  // namespace bigdl::io
