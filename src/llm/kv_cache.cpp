// KV cache storage, E5M2 conversion and the reference attention kernels (kv_cache.h).
#include "llm/kv_cache.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <functional>
#include <cstring>
#include <new>

#include "backend/cpu/kernels.h"
#include "bigdl/dtype.h"
#include "bigdl/error.h"

namespace bigdl::llm::detail {

namespace {

uint32_t f32_bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
}

// Element e of a row of type T as f32.
float load_f32(const void* p, int64_t e) { return static_cast<const float*>(p)[e]; }
float load_f16(const void* p, int64_t e) { return half_to_float(static_cast<const uint16_t*>(p)[e]); }
float load_fp8(const void* p, int64_t e) { return e5m2_to_f32(static_cast<const uint8_t*>(p)[e]); }

void store_f32(const float* x, void* dst, int64_t n) { std::memcpy(dst, x, static_cast<size_t>(n) * 4); }
void store_f16(const float* x, void* dst, int64_t n) {
  auto* d = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = float_to_half(x[i]);
}
void store_fp8(const float* x, void* dst, int64_t n) {
  auto* d = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = f32_to_e5m2(x[i]);
}

// One scores / mix pair per type; `load` is the element reader (the spec: sequential
// f32 sums, scale applied to the finished dot).
#define BIGDL_KV_REF(T, elem_bytes)                                                                        \
  void scores_##T(const float* q, int64_t ng, int64_t ldq, const void* k, int64_t stride, int64_t nt,      \
                  int64_t hd, float scale, float* s, int64_t lds) {                                        \
    const auto* base = static_cast<const uint8_t*>(k);                                                     \
    for (int64_t g = 0; g < ng; ++g)                                                                       \
      for (int64_t t = 0; t < nt; ++t) {                                                                   \
        const void* row = base + t * stride * (elem_bytes);                                                \
        float acc = 0.0f;                                                                                  \
        for (int64_t i = 0; i < hd; ++i) acc += q[g * ldq + i] * load_##T(row, i);                         \
        s[g * lds + t] = acc * scale;                                                                      \
      }                                                                                                    \
  }                                                                                                        \
  void mix_##T(const float* p, int64_t ng, int64_t ldp, const void* v, int64_t stride, int64_t nt,         \
               int64_t hd, float* o, int64_t ldo) {                                                        \
    const auto* base = static_cast<const uint8_t*>(v);                                                     \
    for (int64_t g = 0; g < ng; ++g)                                                                       \
      for (int64_t i = 0; i < hd; ++i) {                                                                   \
        float acc = o[g * ldo + i];                                                                        \
        for (int64_t t = 0; t < nt; ++t) acc += p[g * ldp + t] * load_##T(base + t * stride * (elem_bytes), i); \
        o[g * ldo + i] = acc;                                                                              \
      }                                                                                                    \
  }
BIGDL_KV_REF(f32, 4)
BIGDL_KV_REF(f16, 2)
BIGDL_KV_REF(fp8, 1)
#undef BIGDL_KV_REF

const KvKernels kRef[kNumKvTypes] = {
    {"scalar", store_f32, scores_f32, mix_f32},
    {"scalar", store_f16, scores_f16, mix_f16},
    {"scalar", store_fp8, scores_fp8, mix_fp8},
};

}  // namespace

KvType parse_kv_type(const std::string& name, const char* op) {
  if (name == "f16") return KvType::f16;
  if (name == "f32") return KvType::f32;
  if (name == "fp8") return KvType::fp8;
  throw ValueError(bigdl::detail::cat("[", op, "] unknown kv_type '", name, "' (known: f16, f32, fp8)"));
}

const char* kv_type_name(KvType t) {
  switch (t) {
    case KvType::f32: return "f32";
    case KvType::f16: return "f16";
    case KvType::fp8: return "fp8";
  }
  return "?";
}

int64_t kv_type_bytes(KvType t) {
  switch (t) {
    case KvType::f32: return 4;
    case KvType::f16: return 2;
    case KvType::fp8: return 1;
  }
  return 4;
}

uint8_t f32_to_e5m2(float x) {
  uint32_t b = f32_bits(x);
  const uint8_t sign = static_cast<uint8_t>((b >> 24) & 0x80);
  b &= 0x7FFFFFFFu;
  if (b > 0x7F800000u) return sign | 0x7F;          // NaN
  if (b == 0x7F800000u) return sign | 0x7C;         // inf
  if (b >= 0x47600000u) return sign | 0x7B;         // >= 57344: saturate to the largest finite
  if (b < 0x38800000u) {                            // below 2^-14: E5M2 subnormals, step 2^-16
    float a;
    std::memcpy(&a, &b, 4);
    return sign | static_cast<uint8_t>(std::nearbyint(a * 65536.0f));  // exact scaling; RNE; 4 = 2^-14
  }
  // Normal: round the 21 dropped mantissa bits to nearest even (a carry moves into the
  // exponent correctly), then rebias the exponent from 127 to 15.
  b += 0xFFFFFu + ((b >> 21) & 1u);
  return sign | static_cast<uint8_t>((b >> 21) - (112u << 2));
}

float e5m2_to_f32(uint8_t v) { return half_to_float(static_cast<uint16_t>(v) << 8); }

const KvKernels& kv_kernels_ref(KvType t) { return kRef[static_cast<int>(t)]; }

const KvKernels& kv_kernels(KvType t) {
  static const bool simd = &bigdl::detail::cpu_kernels() != bigdl::detail::cpu_kernels_for(bigdl::detail::Isa::scalar);
  const KvKernels* k = simd ? kv_kernels_avx2(t) : nullptr;
  return k ? *k : kv_kernels_ref(t);
}

KvPool::KvPool(KvType type, int64_t n_layer, int64_t kv_dim, int64_t n_blocks)
    : type_(type), n_layer_(n_layer), kv_dim_(kv_dim), n_blocks_(n_blocks) {
  int64_t bytes = 0;
  const bool overflow = n_layer < 0 || kv_dim < 0 || n_blocks < 0 || n_blocks > INT32_MAX ||
                        __builtin_mul_overflow(n_layer * 2 * kKvBlock, kv_dim, &block_bytes_) ||
                        __builtin_mul_overflow(block_bytes_, kv_type_bytes(type), &block_bytes_) ||
                        __builtin_mul_overflow(block_bytes_, n_blocks, &bytes);
  BIGDL_CHECK(!overflow, ValueError, "llm", "KV cache of ", n_layer, " layers x ", n_blocks * kKvBlock,
              " positions x ", kv_dim, " values does not fit in 64 bits");
  // Not value-initialised: a large allocation is fresh mmap'd memory whose pages are
  // only made resident when a position is first written (attention never reads a row
  // before it is written).
  try {
    mem_ = std::make_unique_for_overwrite<uint8_t[]>(static_cast<size_t>(std::max<int64_t>(bytes, 1)));
  } catch (const std::bad_alloc&) {
    throw ValueError(bigdl::detail::cat("[llm] cannot allocate the KV cache: ", bytes, " bytes for ",
                                        n_blocks * kKvBlock, " positions (use a smaller --ctx, or --kv-type fp8)"));
  }
  refs_.assign(static_cast<size_t>(n_blocks), 0);
  free_.reserve(static_cast<size_t>(n_blocks));
  for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

int64_t KvPool::free_blocks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(free_.size());
}

int32_t KvPool::alloc() {
  std::lock_guard<std::mutex> lock(mu_);
  if (free_.empty()) return -1;
  const int32_t b = free_.back();
  free_.pop_back();
  refs_[static_cast<size_t>(b)] = 1;
  return b;
}

void KvPool::retain(int32_t block) {
  std::lock_guard<std::mutex> lock(mu_);
  BIGDL_ASSERT(block >= 0 && block < n_blocks_ && refs_[static_cast<size_t>(block)] > 0);
  ++refs_[static_cast<size_t>(block)];
}

void KvPool::release(int32_t block) {
  std::lock_guard<std::mutex> lock(mu_);
  BIGDL_ASSERT(block >= 0 && block < n_blocks_ && refs_[static_cast<size_t>(block)] > 0);
  if (--refs_[static_cast<size_t>(block)] > 0) return;
  // Keep the stack sorted (lowest on top) so the lowest, most likely resident, blocks
  // are reused first.
  auto it = std::upper_bound(free_.begin(), free_.end(), block, std::greater<int32_t>());
  free_.insert(it, block);
}

int32_t KvPool::refs(int32_t block) const {
  std::lock_guard<std::mutex> lock(mu_);
  BIGDL_ASSERT(block >= 0 && block < n_blocks_);
  return refs_[static_cast<size_t>(block)];
}

int32_t KvPool::copy(int32_t b) {
  const int32_t nb = alloc();
  if (nb >= 0) std::memcpy(mem_.get() + nb * block_bytes_, mem_.get() + b * block_bytes_, size_t(block_bytes_));
  return nb;
}

namespace {
[[noreturn]] void pool_full(const KvPool& pool) {
  throw ValueError(bigdl::detail::cat("[llm] the KV cache pool is full (", pool.n_blocks(), " blocks of ", kKvBlock,
                                      " positions in use)"));
}
}  // namespace

KvSeq::KvSeq(std::shared_ptr<KvPool> pool, int64_t n_ctx) : pool_(std::move(pool)), n_ctx_(n_ctx) {}

KvSeq::~KvSeq() { truncate(0); }

void KvSeq::reserve(int64_t n) {
  const int64_t need = (n + kKvBlock - 1) / kKvBlock;
  while (static_cast<int64_t>(table_.size()) < need) {
    const int32_t b = pool_->alloc();
    if (b < 0) pool_full(*pool_);
    table_.push_back(b);
  }
}

void KvSeq::truncate(int64_t n) {
  const int64_t keep = (std::max<int64_t>(n, 0) + kKvBlock - 1) / kKvBlock;
  while (static_cast<int64_t>(table_.size()) > keep) {
    pool_->release(table_.back());
    table_.pop_back();
  }
}

void KvSeq::make_writable(int64_t pos0, int64_t pos1) {
  const int64_t end = std::min<int64_t>((pos1 + kKvBlock - 1) / kKvBlock, int64_t(table_.size()));
  for (int64_t i = std::max<int64_t>(pos0, 0) / kKvBlock; i < end; ++i) {
    int32_t& b = table_[static_cast<size_t>(i)];
    if (pool_->refs(b) == 1) continue;
    const int32_t nb = pool_->copy(b);
    if (nb < 0) pool_full(*pool_);
    pool_->release(b);
    b = nb;
  }
}

void KvSeq::share(const KvSeq& src, int64_t n) {
  BIGDL_CHECK(pool_ == src.pool_, ValueError, "llm", "share_prefix: the contexts do not share a KV cache");
  BIGDL_CHECK(n >= 0 && n <= src.reserved() && n <= n_ctx_, ValueError, "llm", "share_prefix: ", n,
              " positions, but the source holds ", src.reserved(), " and this context ", n_ctx_);
  if (&src == this) {
    truncate(n);
    return;
  }
  truncate(0);
  const int64_t full = n / kKvBlock;
  for (int64_t i = 0; i < full; ++i) {
    const int32_t b = src.table_[static_cast<size_t>(i)];
    pool_->retain(b);
    table_.push_back(b);
  }
  if (n % kKvBlock != 0) {
    const int32_t nb = pool_->copy(src.table_[static_cast<size_t>(full)]);
    if (nb < 0) pool_full(*pool_);
    table_.push_back(nb);
  }
}

void KvSeq::store(int64_t layer, int64_t pos, int64_t n, const float* k, const float* v) const {
  const KvKernels& kk = kv_kernels(pool_->type());
  const int64_t kv_dim = pool_->kv_dim(), eb = kv_type_bytes(pool_->type());
  for (int64_t p = pos; p < pos + n;) {
    const int64_t b = p / kKvBlock, r = p % kKvBlock, m = std::min(kKvBlock - r, pos + n - p);
    BIGDL_ASSERT(b < static_cast<int64_t>(table_.size()));
    const int32_t blk = table_[static_cast<size_t>(b)];
    kk.store(k + (p - pos) * kv_dim, pool_->k(blk, layer) + r * kv_dim * eb, m * kv_dim);
    kk.store(v + (p - pos) * kv_dim, pool_->v(blk, layer) + r * kv_dim * eb, m * kv_dim);
    p += m;
  }
}

}  // namespace bigdl::llm::detail
