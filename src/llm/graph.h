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

// y[rows] = W x[cols]. Single-threaded.
void matvec(const Weight& w, const float* x, float* y);
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
// a[i] = silu(a[i]) * b[i].
void swiglu(float* a, const float* b, int64_t n);

}  // namespace bigdl::llm::detail
