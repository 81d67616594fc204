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
};

// Looks tensors up by name and checks type and shape; every error names the file and
// the tensor ("[load_model] m.gguf: tensor 'x' missing" is a FormatError, a wrong shape
// a ShapeError).
class WeightLoader {
 public:
  explicit WeightLoader(const io::GgufFile& file) : file_(file) {}
  bool has(const std::string& name) const { return file_.tensor(name) != nullptr; }
  // A 2-D matrix of shape {rows, cols} (outermost first), F32 or a quant type.
  Weight matrix(const std::string& name, int64_t rows, int64_t cols) const;
  // A 1-D F32 vector of n values.
  const float* vector(const std::string& name, int64_t n) const;

 private:
  const io::GgufTensorInfo& find(const std::string& name) const;
  const io::GgufFile& file_;
};

// y[rows] = W x[cols]. Rows split over the thread pool (detail::parallel_for) in chunks
// of at least 128 KiB of weights, so small matrices run inline; each y[r] is one dot by
// one thread, so the result does not depend on the thread count.
void matvec(const Weight& w, const float* x, float* y);
// Y[n, rows] = X[n, cols] W^T: row t of y is matvec(w, row t of x) (batched prefill).
// f32: one cblas_sgemm (threaded by OpenBLAS; equals matvec up to f32 summation order).
// Quantized: every x row is rounded to int8 blocks exactly as matvec does; under 16
// tokens the same vec_dot_q8 per (row, token) follows (bit-identical to n matvec calls,
// rows over the thread pool), from 16 tokens on the weights are dequantized 64 rows at
// a time into a reused thread-local buffer and each tile is one sgemm against the
// rounded activations (equal up to f32 summation order, about 2x faster). Scratch is
// thread-local and grows to the largest n * cols seen.
void matmul(const Weight& w, const float* x, int64_t n, float* y);
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
// Grouped-query attention for one query position `pos` over cache rows 0..pos.
// q [n_head*head_dim]; k_cache/v_cache this layer's [n_ctx][n_head_kv*head_dim];
// scores scratch [n_head][n_ctx]; out [n_head*head_dim].
void attention(const float* q, const float* k_cache, const float* v_cache, int64_t pos,
               int64_t n_head, int64_t n_head_kv, int64_t head_dim, int64_t n_ctx,
               float* scores, float* out);
// attention() for n consecutive query positions pos0..pos0+n-1 (causal: token t reads
// cache rows 0..pos0+t, which must all be written). q and out are [n][n_head*head_dim].
// Tokens are split over the thread pool, each with a thread-local scores buffer.
void attention_batch(const float* q, const float* k_cache, const float* v_cache, int64_t pos0, int64_t n,
                     int64_t n_head, int64_t n_head_kv, int64_t head_dim, int64_t n_ctx, float* out);
// a[i] = silu(a[i]) * b[i].
void swiglu(float* a, const float* b, int64_t n);

// ---- low-bit weights (LoadOptions::low_bit, bigdl::llm::convert) ----

// A parsed LoadOptions::low_bit: keep the stored types (""), everything f32 ("fp32"),
// or the 2-D projection matrices in one quant type ("sym_int4", ...).
struct LowBit {
  enum Kind { keep, f32, quant } kind = keep;
  bigdl::detail::quant::QType qtype = bigdl::detail::quant::QType::sym_int8;  // when quant
};
// The accepted names: "sym_int4", "asym_int4", "sym_int5", "asym_int5", "sym_int8", "fp32".
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
