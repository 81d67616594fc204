// Shared pieces of every decoder-only architecture: weight views into a GGUF file and
// the per-token kernels the models compose (matvec, rmsnorm, rope, attention).
// Internal to src/llm; the public API is include/bigdl/llm/model.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/quant/quant.h"
#include "bigdl/io/gguf.h"
#include "llm/kv_cache.h"

namespace bigdl::io { class GgufWriter; }

namespace bigdl::llm::detail {

// A [rows, cols] row-major weight matrix inside the GGUF image: F32, or blocks of a
// quant type (used in place by the quant gemv).
struct Weight {
  std::string name;
  int64_t rows = 0;
  int64_t cols = 0;
  bool is_f32 = true;
  bigdl::detail::quant::QType qtype = bigdl::detail::quant::QType::sym_int8;  // when !is_f32
  const uint8_t* data = nullptr;
  // x8 row-interleaved copy of rows [0, 8 * (rows / 8)) (backend/cpu/quant/qgemm.h),
  // made by pack_weight for Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 / nf4 / fp4; null otherwise. When set, matvec and
  // matmul read it (and `data` only for the rows % 8 tail rows); `data` stays the
  // original blocks for copy_row, conversion and export. A model may free the original
  // of a matrix whose rows are all packed and set `data` to null: copy_row and
  // unpack_weight then read the packed copy.
  const uint8_t* packed = nullptr;
};

// Looks tensors up by name and checks type and shape; every error names the file and
// the tensor ("[load_model] m.gguf: tensor 'x' missing" is a FormatError, a wrong shape
// a ShapeError).
class WeightLoader {
 public:
  explicit WeightLoader(const io::GgufFile& file) : file_(file) {}
  bool has(const std::string& name) const { return file_.tensor(name) != nullptr; }
  // A 2-D matrix of shape {rows, cols} (outermost first), F32 or a quant type (incl.
  // F16 / BF16). An F16 / BF16 matrix whose rows are not whole blocks of 32 is returned
  // as stored, readable only by apply_low_bit (which widens it to f32): always pass
  // the result through apply_low_bit.
  Weight matrix(const std::string& name, int64_t rows, int64_t cols) const;
  // A 1-D F32 vector of n values.
  const float* vector(const std::string& name, int64_t n) const;

 private:
  const io::GgufTensorInfo& find(const std::string& name) const;
  const io::GgufFile& file_;
};

// ---- the decode / prefill kernels (docs/llm.md, "Decode and prefill kernels") ----
//
// Quantized weights multiply int8-rounded activations (quantize_act, as ggml's Q8 path):
// a packed weight through the x8 kernels (qgemm.h), any other quantized weight through
// quant::gemv_parallel / vec_dot_q8, except types whose QTypeInfo::int8_act is false
// (fp16 / bf16 / fp8 weights), which see the f32 activations. Every output element is
// computed by one thread with the same kernel whatever the thread count or the number
// of tokens, so for packed weights forward() and forward_batch() agree bit for bit.
// Parallel regions use detail::parallel_for in chunks of at least 32 KiB of weights.

// The memory every packed weight of a model lives in: one anonymous mapping, 2 MiB
// aligned, with transparent huge pages asked for (madvise MADV_HUGEPAGE; advisory, so
// a kernel with THP off just gives 4 KiB pages). Why: decode streams every weight once
// per token, and with 4 KiB pages the hardware prefetchers restart at every page
// boundary; on the Zen 3 of benchmarks/README.md huge pages raise one thread's read
// bandwidth from ~20 to ~23 GB/s (docs/llm.md). reserve() sizes it once (pages are
// committed only as they are written); take() hands out 64-byte aligned slices of it.
class PackedArena {
 public:
  PackedArena() = default;
  PackedArena(const PackedArena&) = delete;
  PackedArena& operator=(const PackedArena&) = delete;
  ~PackedArena();
  // Maps `bytes` (rounded up to 2 MiB). Once; throws bigdl::Error when the
  // mapping fails ("[llm] cannot map N bytes for packed weights: ...").
  void reserve(int64_t bytes);
  // The next `bytes` of the reservation, 64-byte aligned; BIGDL_ASSERTs that it fits.
  uint8_t* take(int64_t bytes);

 private:
  uint8_t* base_ = nullptr;
  int64_t size_ = 0, used_ = 0;
};

// Bytes pack_weight gives w (0 when w is not packed: f32, not Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 / nf4 / fp4, fewer
// than 8 rows, or already packed), plus the 64-byte alignment a PackedArena slice takes.
int64_t packed_weight_bytes(const Weight& w);
// Packs w for the x8 kernels when packed_weight_bytes(w) > 0 (sets w.packed to a slice of
// `arena`). Returns the packed bytes (0: not packable). release_source: w.data is an
// unmodified file mapping whose pages are released (release_mapped_pages) slice by slice
// as they are packed.
int64_t pack_weight(Weight& w, PackedArena& arena, bool release_source = false);
// Drops the resident pages of [p, p + n) from a read-only file mapping (madvise
// MADV_DONTNEED on the whole pages inside it); a later read faults them back in from
// the file. Only for memory that is a mapping of an unmodified file.
void release_mapped_pages(const void* p, uint64_t n);

// y[rows] = W x[cols].
void matvec(const Weight& w, const float* x, float* y);
// y_i = W_i x for i < n (n <= 4): matrices with the same cols that read the same x, e.g.
// q/k/v. When all are packed, x is rounded once and one parallel region covers all rows;
// otherwise one matvec each. Results equal n matvec calls.
void matvec_multi(const Weight* const* w, float* const* y, int n, const float* x);
// h[rows] = silu(Wg x) * (Wu x) (the SwiGLU feed-forward input): one parallel region in
// which the thread that computes a group of gate rows also computes the same up rows and
// applies swiglu to them. Equals matvec, matvec, swiglu.
void matvec_swiglu(const Weight& wg, const Weight& wu, const float* x, float* h);
// Y[n, rows] = X[n, cols] W^T: row t of y is matvec(w, row t of x) (batched prefill).
// f32: one cblas_sgemm (threaded by OpenBLAS; equals matvec up to f32 summation order).
// Packed: every x row is rounded to int8 once, then the x8 GEMM over the pool, 8 rows x
// up to 4 tokens per kernel step: bit-identical to n matvec calls. Other quantized
// types: int8-rounded rows (f32 rows for !int8_act types); under 16 tokens the matvec
// dot per (row, token) (bit-identical), from 16 on dequantized 64-row tiles through
// sgemm (equal up to f32 summation order). Scratch is thread-local and grows to the
// largest n * cols seen.
void matmul(const Weight& w, const float* x, int64_t n, float* y);
// The original row-major blocks of a packed weight (for export when `data` is null).
std::vector<uint8_t> unpack_weight(const Weight& w);
// y[cols] = row `row` of W, dequantized when W is quantized.
void copy_row(const Weight& w, int64_t row, float* y);
// y = x / sqrt(mean(x^2) + eps) * weight, n values; y may alias x.
void rmsnorm(const float* x, const float* weight, float* y, int64_t n, float eps);
// Rotates n_heads heads of head_dim values in place, pairs (2i, 2i+1) of each head by
// angle pos * theta_i (ggml rope mode 0, llama2.c); cos/sin hold head_dim/2 values.
void rope_adjacent(float* v, int64_t n_heads, int64_t head_dim, const float* cos, const float* sin);
// cos/sin tables [n_ctx][head_dim/2] for theta_i = base^(-2i/head_dim).
void rope_tables(int64_t n_ctx, int64_t head_dim, float base, std::vector<float>& cos,
                 std::vector<float>& sin);
// Grouped-query attention for one query position `pos` over the cache rows 0..pos of
// one layer (`kv`, any KvType; read through kv_kernels). q [n_head*head_dim]; scores
// scratch [n_head][ld_scores] with ld_scores >= pos + 1; out [n_head*head_dim]. Query
// heads are split over the thread pool when the work is large enough (each head's
// result does not depend on the split).
void attention(const float* q, const KvView& kv, int64_t pos, int64_t n_head, int64_t n_head_kv, int64_t head_dim,
               float* scores, int64_t ld_scores, float* out);
// attention() for n consecutive query positions pos0..pos0+n-1 (causal: token t reads
// cache rows 0..pos0+t, which must all be written). q and out are [n][n_head*head_dim].
// Tokens are split over the thread pool, each with a thread-local scores buffer.
void attention_batch(const float* q, const KvView& kv, int64_t pos0, int64_t n, int64_t n_head, int64_t n_head_kv,
                     int64_t head_dim, float* out);
// a[i] = silu(a[i]) * b[i] = a[i] * sigmoid(a[i]) * b[i] (the dispatched sigmoid kernel).
void swiglu(float* a, const float* b, int64_t n);

// ---- low-bit weights (LoadOptions::low_bit, bigdl::llm::convert) ----

// A parsed LoadOptions::low_bit: keep the stored types (""), everything f32 ("fp32"),
// or the 2-D projection matrices in one quant type ("sym_int4", ...).
struct LowBit {
  enum Kind { keep, f32, quant } kind = keep;
  bigdl::detail::quant::QType qtype = bigdl::detail::quant::QType::sym_int8;  // when quant
};
// The accepted names: every quant type's name ("sym_int4", ..., "nf4", "fp16", "bf16";
// quant.h's table order), then "fp32". parse_low_bit also takes bigdl-llm's alias "fp8"
// (= "fp8_e5m2").
std::vector<std::string> low_bit_names();
// ValueError "[<op>] unknown low-bit type 'x' (known: sym_int4, ...)" for other names.
LowBit parse_low_bit(const std::string& name, const char* op);
// Row by row with the reference quantizer; cols a multiple of 32. rows * row_bytes bytes.
std::vector<uint8_t> quantize_matrix(bigdl::detail::quant::QType q, const float* x, int64_t rows, int64_t cols);
// w converted as `lb` asks: w itself when nothing changes (keep; already that type; or a
// row length that is not whole blocks of 32, which stays as stored, like llama-quantize's
// fallback), else a converted copy whose bytes are appended to `store`. A quantized w is
// dequantized first when it must change type.
Weight apply_low_bit(const Weight& w, const LowBit& lb, std::vector<std::vector<uint8_t>>& store);
// The GGUF tensor type and byte size of w.
io::GgufType gguf_type_of(const Weight& w);
uint64_t weight_bytes(const Weight& w);

// Reorders the rows of every head in place from HF's rotate_half pairing (i, i + d/2) to
// adjacent pairs (2i, 2i+1): new row h*d + 2i = old row h*d + i, new row h*d + 2i + 1 =
// old row h*d + i + d/2. `v` holds rows of `cols` values (cols = 1 for a bias).
void rope_permute_rows(std::vector<float>& v, int64_t head_dim, int64_t cols);

// Models that can be written back as a GGUF file (bigdl::llm::convert). The tensors are
// borrowed from the model and stay valid while it lives.
class GgufExportable {
 public:
  virtual ~GgufExportable() = default;
  virtual void export_gguf(io::GgufWriter& w) const = 0;
};

}  // namespace bigdl::llm::detail
