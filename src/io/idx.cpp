#include "bigdl/tensor.h"  // shape_str
#include "bigdl/io/idx.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "bigdl/error.h"
#include "bigdl/io/gzip.h"

namespace bigdl::io {

namespace {

constexpr const char* kOp = "read_idx";

template <typename T>
float load_as_float(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return static_cast<float>(v);
}

struct IdxTypeRow {
  IdxType type;
  const char* name;
  int size;
  float (*to_float)(const uint8_t*);  // reads one host-order element
};

const IdxTypeRow kIdxTypes[] = {
    {IdxType::u8, "u8", 1, load_as_float<uint8_t>},
    {IdxType::i8, "i8", 1, load_as_float<int8_t>},
    {IdxType::i16, "i16", 2, load_as_float<int16_t>},
    {IdxType::i32, "i32", 4, load_as_float<int32_t>},
    {IdxType::f32, "f32", 4, load_as_float<float>},
    {IdxType::f64, "f64", 8, load_as_float<double>},
};

const IdxTypeRow* find_type(uint8_t code) {
  for (const IdxTypeRow& row : kIdxTypes)
    if (static_cast<uint8_t>(row.type) == code) return &row;
  return nullptr;
}

const IdxTypeRow& type_row(IdxType type) {
  const IdxTypeRow* row = find_type(static_cast<uint8_t>(type));
  BIGDL_ASSERT(row != nullptr);
  return *row;
}

uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string hex(uint32_t v, int digits) {
  static const char* kHex = "0123456789abcdef";
  std::string s = "0x";
  for (int i = digits - 1; i >= 0; --i) s += kHex[(v >> (4 * i)) & 0xf];
  return s;
}

}  // namespace

const char* idx_type_name(IdxType type) { return type_row(type).name; }
int idx_type_size(IdxType type) { return type_row(type).size; }

int64_t IdxArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<float> IdxArray::to_float() const {
  const IdxTypeRow& row = type_row(type);
  const size_t n = static_cast<size_t>(numel());
  BIGDL_ASSERT(data.size() == n * static_cast<size_t>(row.size));
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = row.to_float(data.data() + i * row.size);
  return out;
}

IdxArray parse_idx(const uint8_t* data, size_t size, const std::string& name) {
  BIGDL_CHECK(size >= 4, FormatError, kOp, name, ": file has ", size,
              " bytes, too short for an IDX header (needs 4)");
  const uint32_t magic = load_be32(data);
  BIGDL_CHECK(data[0] == 0 && data[1] == 0, FormatError, kOp, name, ": bad magic ",
              hex(magic, 8), " (an IDX file starts with 00 00, a type code and ndims)");
  const IdxTypeRow* row = find_type(data[2]);
  BIGDL_CHECK(row != nullptr, FormatError, kOp, name, ": unknown element type code ",
              hex(data[2], 2));

  IdxArray a;
  a.type = row->type;
  const size_t ndims = data[3];
  const size_t header = 4 + 4 * ndims;
  BIGDL_CHECK(size >= header, FormatError, kOp, name, ": truncated: expected at least ",
              header, " bytes for the header of a ", ndims, "-dim array, found ", size);
  uint64_t expected = static_cast<uint64_t>(row->size);
  for (size_t i = 0; i < ndims; ++i) {
    uint32_t d = load_be32(data + 4 + 4 * i);
    a.shape.push_back(d);
    BIGDL_CHECK(!__builtin_mul_overflow(expected, uint64_t{d}, &expected), FormatError, kOp,
                name, ": dims ", shape_str(a.shape), "... overflow a 64-bit size");
  }
  BIGDL_CHECK(!__builtin_add_overflow(expected, uint64_t{header}, &expected), FormatError, kOp,
              name, ": dims ", shape_str(a.shape), " overflow a 64-bit size");
  BIGDL_CHECK(size >= expected, FormatError, kOp, name, ": truncated: expected ", expected,
              " bytes for ", row->name, " ", shape_str(a.shape), ", found ", size);
  BIGDL_CHECK(size == expected, FormatError, kOp, name, ": expected ", expected, " bytes for ",
              row->name, " ", shape_str(a.shape), ", found ", size, " (trailing data)");

  a.data.assign(data + header, data + size);
  if constexpr (std::endian::native == std::endian::little) {
    const size_t es = static_cast<size_t>(row->size);
    if (es > 1)
      for (size_t i = 0; i < a.data.size(); i += es) std::reverse(&a.data[i], &a.data[i] + es);
  }
  return a;
}

IdxArray read_idx(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_maybe_gzip(path);
  return parse_idx(bytes.data(), bytes.size(), path);
}

}  // namespace bigdl::io
