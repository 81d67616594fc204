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

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t u;
  if (exp == 0) {
    if (mant == 0) {
      u = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ff;
      u = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    u = sign | 0x7f800000u | (mant << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00 | uint16_t((abs >> 13) & 0x3ff);  // NaN stays NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00;                                  // overflow -> inf
  if (abs < 0x38800000u) {                                                       // subnormal or zero
    if (abs < 0x33000000u) return sign;  // below half of the smallest subnormal
    const uint32_t e = abs >> 23;
    const uint32_t m = (abs & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - e;  // 113..125 -> bits to drop + 13
    uint32_t r = m >> (shift - 1 + 1);
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;
    return sign | uint16_t(r);
  }
  uint32_t r = abs - 0x38000000u;  // rebias exponent
  const uint32_t lsb = (r >> 13) & 1;
  r += 0xfff + lsb;
  return sign | uint16_t(r >> 13);
}

}  // namespace bigdl
