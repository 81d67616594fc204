#include "bigdl/io/raw_tensor.h"

#include "bigdl/error.h"

namespace bigdl::io {

namespace {

struct DTypeRow {
  const char* name;
  int64_t size;
};

// One row per safetensors dtype we can carry. Sub-byte types (F4, F6_*) are absent on
// purpose: their byte size is not numel * element_size.
constexpr DTypeRow kDTypes[] = {
    {"F64", 8}, {"F32", 4},     {"F16", 2},     {"BF16", 2}, {"I64", 8},
    {"I32", 4}, {"I16", 2},     {"I8", 1},      {"U8", 1},   {"BOOL", 1},
    {"U16", 2}, {"U32", 4},     {"U64", 8},     {"F8_E4M3", 1}, {"F8_E5M2", 1},
};

}  // namespace

int64_t raw_element_size(const std::string& dtype) {
  for (const DTypeRow& row : kDTypes)
    if (dtype == row.name) return row.size;
  throw DTypeError(detail::cat("[raw_element_size] unknown dtype '", dtype,
                               "' (expected one of F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL U16 "
                               "U32 U64 F8_E4M3 F8_E5M2)"));
}

}  // namespace bigdl::io
