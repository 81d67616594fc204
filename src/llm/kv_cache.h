// The KV cache of one sequence and the attention kernels that read it.
//
// Storage types (LoadOptions::kv_type):
//   "f16" (default)  IEEE half, round to nearest even (F16C's vcvtps2ph); overflow to inf.
//                    Half the bytes of f32; relative error <= 2^-11 per element.
//   "f32"            exact.
//   "fp8"            OCP FP8 E5M2 (1 sign, 5 exponent bits of bias 15, 2 mantissa bits;
//                    the top byte of an IEEE half), bigdl-llm's FP8 KV cache format. Round
//                    to nearest even straight from f32; finite values beyond the largest
//                    finite (57344) saturate to it, inf stays inf, NaN stays NaN. A quarter
//                    of f32; relative error <= 2^-3. E5M2 keeps f16's exponent range, so
//                    no per-tensor scale is needed (E4M3 would overflow at 448).
//
// Layout: K and V are [n_layer][n_ctx][kv_dim] elements of the storage type, allocated
// without being written: pages become resident as positions are filled, so a long
// n_ctx costs address space, not memory, until it is used.
//
// Kernels (scalar reference + AVX2, the same split as backend/cpu): `scores` and `mix`
// take a group of query heads that share one KV head, so every cached row is loaded
// and converted once per group; `store` converts rows of f32 into the cache.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace bigdl::llm::detail {

enum class KvType { f32 = 0, f16 = 1, fp8 = 2 };
constexpr int kNumKvTypes = 3;

// "f16", "f32", "fp8"; anything else: ValueError "[<op>] unknown kv_type 'x' (known: f16, f32, fp8)".
KvType parse_kv_type(const std::string& name, const char* op);
const char* kv_type_name(KvType t);
int64_t kv_type_bytes(KvType t);  // 4, 2, 1

// E5M2 <-> f32 (the reference conversions; see the top of this file).
uint8_t f32_to_e5m2(float x);
float e5m2_to_f32(uint8_t v);

struct KvKernels {
  const char* name;  // "scalar", "avx2"
  // dst[i] = x[i] in the storage type, i < n.
  void (*store)(const float* x, void* dst, int64_t n);
  // s[g * lds + t] = scale * sum_i q[g * ldq + i] * k_t[i], for g < ng, t < nt, i < hd;
  // row t of k starts at element t * stride.
  void (*scores)(const float* q, int64_t ng, int64_t ldq, const void* k, int64_t stride, int64_t nt, int64_t hd,
                 float scale, float* s, int64_t lds);
  // o[g * ldo + i] = sum_t p[g * ldp + t] * v_t[i] (o overwritten), same shapes.
  void (*mix)(const float* p, int64_t ng, int64_t ldp, const void* v, int64_t stride, int64_t nt, int64_t hd,
              float* o, int64_t ldo);
};

// The table for the ISA the f32 kernels use (BIGDL_ISA applies; AVX-512 runs AVX2).
const KvKernels& kv_kernels(KvType t);
const KvKernels& kv_kernels_ref(KvType t);
// nullptr when the CPU lacks AVX2 + F16C + FMA.
const KvKernels* kv_kernels_avx2(KvType t);

// One layer's K and V: row t (position t) at element t * kv_dim.
struct KvView {
  KvType type = KvType::f32;
  const void* k = nullptr;
  const void* v = nullptr;
  int64_t kv_dim = 0;
};

class KvCache {
 public:
  void allocate(KvType type, int64_t n_layer, int64_t n_ctx, int64_t kv_dim);
  KvType type() const { return type_; }
  // Converts n rows of K and V (f32, [n][kv_dim]) into positions pos..pos+n-1 of `layer`.
  void store(int64_t layer, int64_t pos, int64_t n, const float* k, const float* v);
  KvView layer(int64_t layer) const;
  // Bytes of K plus V.
  int64_t bytes() const { return 2 * n_layer_ * n_ctx_ * kv_dim_ * kv_type_bytes(type_); }

 private:
  KvType type_ = KvType::f16;
  int64_t n_layer_ = 0, n_ctx_ = 0, kv_dim_ = 0;
  std::unique_ptr<uint8_t[]> k_, v_;
};

}  // namespace bigdl::llm::detail
