// Element types of bigdl tensors.
//
// One X-macro table (BIGDL_FORALL_DTYPES) lists every dtype with its C++ storage
// type, size and names; everything else (element_size, names, promotion, the
// safetensors mapping) is derived from that table, so adding a dtype adds one row.
//
// f16 and bf16 are stored as raw 16-bit patterns (Half / BFloat16); arithmetic on
// them runs in f32 and rounds back to nearest-even on store, as PyTorch does on CPU.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace bigdl {

struct Half { uint16_t bits; };
struct BFloat16 { uint16_t bits; };

//          enum     C++ type   bytes  short  safetensors  kind(0 bool,1 int,2 float)
#define BIGDL_FORALL_DTYPES(X)              \
  X(f32, float, 4, "f32", "F32", 2)         \
  X(f16, ::bigdl::Half, 2, "f16", "F16", 2) \
  X(bf16, ::bigdl::BFloat16, 2, "bf16", "BF16", 2) \
  X(f64, double, 8, "f64", "F64", 2)        \
  X(i8, int8_t, 1, "i8", "I8", 1)           \
  X(u8, uint8_t, 1, "u8", "U8", 1)          \
  X(i32, int32_t, 4, "i32", "I32", 1)       \
  X(i64, int64_t, 8, "i64", "I64", 1)       \
  X(boolean, bool, 1, "bool", "BOOL", 0)

enum class DType : uint8_t {
#define BIGDL_DTYPE_ENUM(e, T, size, name, st, kind) e,
  BIGDL_FORALL_DTYPES(BIGDL_DTYPE_ENUM)
#undef BIGDL_DTYPE_ENUM
};

// Bytes per element.
int64_t element_size(DType t);
// Short name: "f32", "bf16", "bool", ...
const char* dtype_name(DType t);
bool is_floating(DType t);
bool is_integral(DType t);  // integers, not bool
// PyTorch's type promotion for two tensor operands: bool < integers < floats;
// among integers the wider wins (u8 with i8 gives i32... we follow torch: i16, here i32);
// f16 with bf16 gives f32.
DType promote_types(DType a, DType b);
// safetensors name ("F32") <-> dtype; throws DTypeError naming the op for unknown names.
DType dtype_from_safetensors(const std::string& name, const char* op = "dtype");
const char* safetensors_name(DType t);

// Scalar conversions, round to nearest even.
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
inline float bf16_to_float(uint16_t b) {
  uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

}  // namespace bigdl
