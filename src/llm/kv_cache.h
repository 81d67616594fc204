// The KV cache: a pool of fixed-size blocks shared by sequences (paged, as vLLM's block
// manager), each sequence's block table, and the attention kernels that read cached rows.
//
// Storage types (ContextOptions::kv_type):
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
// Layout: a block holds kKvBlock consecutive positions of one sequence for every layer:
// block b, layer l, K (V) row r (0 <= r < kKvBlock) is kv_dim elements at element
// ((b * n_layer + l) * 2 + 0 (1)) * kKvBlock * kv_dim + r * kv_dim. The pool's memory is
// reserved at once and not written, and blocks are handed out lowest index first, so
// pages become resident as positions are filled: a long context costs address space,
// not memory, until it is used.
//
// Kernels (scalar reference + AVX2, the same split as backend/cpu): `scores` and `mix`
// take a group of query heads that share one KV head and a run of rows with a stride (one
// block's rows), so every cached row is loaded and converted once per group; `store`
// converts rows of f32 into the cache.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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
  // o[g * ldo + i] += sum_t p[g * ldp + t] * v_t[i], same shapes (o accumulates, so a
  // sequence's blocks are mixed one after the other into one output; each o element is
  // summed over t in order, whatever the block boundaries).
  void (*mix)(const float* p, int64_t ng, int64_t ldp, const void* v, int64_t stride, int64_t nt, int64_t hd,
              float* o, int64_t ldo);
};

// The table for the ISA the f32 kernels use (BIGDL_ISA applies; AVX-512 runs AVX2).
const KvKernels& kv_kernels(KvType t);
const KvKernels& kv_kernels_ref(KvType t);
// nullptr when the CPU lacks AVX2 + F16C + FMA.
const KvKernels* kv_kernels_avx2(KvType t);

// Positions per block.
constexpr int64_t kKvBlock = 64;

// Blocks for sequences of one model. Thread-safe (alloc / retain / release take a lock);
// the rows of a block are written by the one sequence that owns it.
class KvPool {
 public:
  // Reserves n_blocks blocks. ValueError "[llm] cannot allocate the KV cache: ..." when
  // the memory cannot be had (or its size overflows).
  KvPool(KvType type, int64_t n_layer, int64_t kv_dim, int64_t n_blocks);
  KvPool(const KvPool&) = delete;
  KvPool& operator=(const KvPool&) = delete;

  KvType type() const { return type_; }
  int64_t n_layer() const { return n_layer_; }
  int64_t kv_dim() const { return kv_dim_; }
  int64_t n_blocks() const { return n_blocks_; }
  int64_t free_blocks() const;
  int64_t bytes() const { return n_blocks_ * block_bytes_; }  // K plus V of all blocks

  // A free block with reference count 1, the lowest index first; -1 when none is free.
  int32_t alloc();
  void retain(int32_t block);
  // Drops one reference; the block is free again at zero.
  void release(int32_t block);
  // References to a block (0: free).
  int32_t refs(int32_t block) const;
  // A free block (reference count 1) holding a copy of block b's rows, every layer; -1
  // when none is free.
  int32_t copy(int32_t b);

  // Row 0 of block b's K (V) rows for `layer`; rows follow at kv_dim elements each.
  uint8_t* k(int32_t b, int64_t layer) const { return base(b, layer, 0); }
  uint8_t* v(int32_t b, int64_t layer) const { return base(b, layer, 1); }

 private:
  uint8_t* base(int32_t b, int64_t layer, int kv) const {
    return mem_.get() + b * block_bytes_ + (layer * 2 + kv) * kKvBlock * kv_dim_ * kv_type_bytes(type_);
  }
  KvType type_;
  int64_t n_layer_, kv_dim_, n_blocks_, block_bytes_ = 0;
  std::unique_ptr<uint8_t[]> mem_;
  mutable std::mutex mu_;
  std::vector<int32_t> free_;  // a stack, lowest index on top
  std::vector<int32_t> refs_;
};

// One sequence's positions in a pool: position p lives in block table[p / kKvBlock], row
// p % kKvBlock. Blocks are taken as positions are reserved and released when the
// sequence shrinks or dies.
class KvSeq {
 public:
  KvSeq(std::shared_ptr<KvPool> pool, int64_t n_ctx);
  ~KvSeq();
  KvSeq(const KvSeq&) = delete;
  KvSeq& operator=(const KvSeq&) = delete;

  int64_t n_ctx() const { return n_ctx_; }
  KvPool& pool() const { return *pool_; }
  // Makes positions [0, n) writable (takes blocks as needed). ValueError "[llm] the KV
  // cache pool is full (...)" when no block is free; n <= n_ctx is the caller's to check.
  void reserve(int64_t n);
  // Keeps positions [0, n) only (later blocks go back to the pool).
  void truncate(int64_t n);
  // Copy on write: gives this sequence its own copy of every block of positions
  // [pos0, pos1) that another sequence shares, before they are written. ValueError (the
  // pool is full) when no block is free for a copy.
  void make_writable(int64_t pos0, int64_t pos1);
  // Positions [0, n) become those of `src` (same pool; n <= src's reserved positions):
  // src's whole blocks are shared (retained), a last partial block is copied; the
  // positions this sequence held are dropped first.
  void share(const KvSeq& src, int64_t n);
  int64_t reserved() const { return int64_t(table_.size()) * kKvBlock; }  // positions its blocks cover
  const std::vector<int32_t>& table() const { return table_; }
  // Converts n rows of K and V (f32, [n][kv_dim]) into positions pos..pos+n-1 of `layer`
  // (reserved before).
  void store(int64_t layer, int64_t pos, int64_t n, const float* k, const float* v) const;
  int32_t block(int64_t i) const { return table_[static_cast<size_t>(i)]; }

 private:
  std::shared_ptr<KvPool> pool_;
  int64_t n_ctx_;
  std::vector<int32_t> table_;
};

}  // namespace bigdl::llm::detail
