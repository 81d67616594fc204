#include "bigdl/dtype.h"

#include "bigdl/error.h"

namespace bigdl {
namespace {
struct DTypeInfo {
  int64_t size;
  const char* name;
  const char* st_name;
  int kind;  // 0 bool, 1 int, 2 float
};
constexpr DTypeInfo kInfo[] = {
#define BIGDL_DTYPE_INFO(e, T, size, name, st, kind) {size, name, st, kind},
    BIGDL_FORALL_DTYPES(BIGDL_DTYPE_INFO)
#undef BIGDL_DTYPE_INFO
};
const DTypeInfo& info(DType t) { return kInfo[static_cast<int>(t)]; }

// Rank of integer types for promotion (signed wider wins; u8 + i8 -> i32 since we have no i16).
int int_rank(DType t) {
  switch (t) {
    case DType::u8: return 1;
    case DType::i8: return 1;
    case DType::i32: return 3;
    case DType::i64: return 4;
    default: return 0;
  }
}
}  // namespace

int64_t element_size(DType t) { return info(t).size; }
const char* dtype_name(DType t) { return info(t).name; }
bool is_floating(DType t) { return info(t).kind == 2; }
bool is_integral(DType t) { return info(t).kind == 1; }
const char* safetensors_name(DType t) { return info(t).st_name; }

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  const int ka = info(a).kind, kb = info(b).kind;
  if (ka != kb) return ka > kb ? a : b;
  if (ka == 2) {
    if (a == DType::f64 || b == DType::f64) return DType::f64;
    if (a == DType::f32 || b == DType::f32) return DType::f32;
    return DType::f32;  // f16 with bf16
  }
  // both integers
  if ((a == DType::u8 && b == DType::i8) || (a == DType::i8 && b == DType::u8)) return DType::i32;
  return int_rank(a) >= int_rank(b) ? a : b;
}

DType dtype_from_safetensors(const std::string& name, const char* op) {
  for (size_t i = 0; i < sizeof(kInfo) / sizeof(kInfo[0]); ++i)
    if (name == kInfo[i].st_name) return static_cast<DType>(i);
  throw DTypeError(detail::cat("[", op, "] unknown dtype '", name, "'"));
}

namespace {
uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
}  // namespace

// IEEE binary16 <-> binary32, round to nearest even. This is the scalar reference the
// SIMD conversion kernels are tested against (kernels_ref.cpp calls it).
float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) {  // inf, or NaN made quiet
    return float_of(sign | 0x7f800000u | (mant << 13) | (mant ? 0x00400000u : 0u));
  }
  if (exp == 0) {  // zero or subnormal: mant * 2^-24 is exact in f32
    const float v = static_cast<float>(mant) * 0x1p-24f;
    return float_of(sign | bits_of(v));
  }
  return float_of(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t float_to_half(float f) {
  const uint32_t u = bits_of(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (a < 0x38800000u) {                                               // below 2^-14: f16 subnormal or zero
    const uint32_t exp = a >> 23;
    if (exp < 102) return static_cast<uint16_t>(sign);  // below 2^-25: rounds to 0
    // value = mant * 2^(exp - 150) = (mant >> shift) units of 2^-24
    const uint32_t mant = (a & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - exp;  // 14..24
    uint32_t q = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t h = (a >> 13) - (112u << 10);  // rebias exponent, keep 10 mantissa bits
  const uint32_t rem = a & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry may bump the exponent
  return static_cast<uint16_t>(sign | h);
}


}  // namespace bigdl
