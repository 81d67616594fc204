#include "llm/graph.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "bigdl/error.h"
#include "core/internal.h"

namespace bigdl::llm::detail {

namespace quant = bigdl::detail::quant;

// Smallest piece of a matrix product worth handing to another thread (as quant's gemv).
constexpr int64_t kMinChunkBytes = 128 * 1024;
// Quantized matmul: from this many tokens on, dequantized tiles of kTileRows rows go
// through sgemm; below it, the integer dot per (row, token) wins (measured, docs/llm.md).
constexpr int64_t kMinSgemmTokens = 16;
constexpr int64_t kTileRows = 64;

namespace {
std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// The quant type of a GGUF tensor type id, or false when no quant kernel reads it.
bool qtype_of(io::GgufType t, quant::QType& out) {
  for (int i = 0; i < quant::kNumQTypes; ++i) {
    const auto& info = quant::qtype_info(static_cast<quant::QType>(i));
    if (info.ggml_type == static_cast<int>(t)) {
      out = info.type;
      return true;
    }
  }
  return false;
}

const char* type_name(io::GgufType t) {
  const auto* tr = io::gguf_type_traits(t);
  return tr ? tr->name : "unknown";
}
}  // namespace

const io::GgufTensorInfo& WeightLoader::find(const std::string& name) const {
  const io::GgufTensorInfo* t = file_.tensor(name);
  BIGDL_CHECK(t != nullptr, FormatError, "load_model", file_.name(), ": tensor '", name, "' missing");
  return *t;
}

Weight WeightLoader::matrix(const std::string& name, int64_t rows, int64_t cols) const {
  const auto& t = find(name);
  BIGDL_CHECK(t.shape == (std::vector<int64_t>{rows, cols}), ShapeError, "load_model", file_.name(),
              ": tensor '", name, "' has shape ", shape_str(t.shape), ", expected ",
              shape_str({rows, cols}));
  Weight w;
  w.name = name;
  w.rows = rows;
  w.cols = cols;
  w.data = t.data;
  if (t.type == io::GgufType::F32) {
    BIGDL_CHECK(reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0, FormatError, "load_model",
                file_.name(), ": tensor '", name, "' data is not 4-byte aligned");
    w.is_f32 = true;
  } else {
    BIGDL_CHECK(qtype_of(t.type, w.qtype), DTypeError, "load_model", file_.name(), ": tensor '", name,
                "' has type ", type_name(t.type), "; supported: f32, q4_0, q4_1, q5_0, q5_1, q8_0");
    w.is_f32 = false;
  }
  return w;
}

const float* WeightLoader::vector(const std::string& name, int64_t n) const {
  const auto& t = find(name);
  BIGDL_CHECK(t.shape == (std::vector<int64_t>{n}), ShapeError, "load_model", file_.name(), ": tensor '",
              name, "' has shape ", shape_str(t.shape), ", expected ", shape_str({n}));
  BIGDL_CHECK(t.type == io::GgufType::F32, DTypeError, "load_model", file_.name(), ": tensor '", name,
              "' has type ", type_name(t.type), ", expected f32");
  BIGDL_CHECK(reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0, FormatError, "load_model",
              file_.name(), ": tensor '", name, "' data is not 4-byte aligned");
  return reinterpret_cast<const float*>(t.data);
}

void matvec(const Weight& w, const float* x, float* y) {
  if (w.is_f32) {
    const auto& k = bigdl::detail::cpu_kernels();
    const float* m = reinterpret_cast<const float*>(w.data);
    const int64_t grain = std::max<int64_t>(1, kMinChunkBytes / std::max<int64_t>(1, w.cols * 4));
    bigdl::detail::parallel_for(w.rows, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) y[r] = k.dot(m + r * w.cols, x, w.cols);
    });
  } else {
    // ggml's path: x quantized once to int8 blocks, integer dot products, rows split
    // over the thread pool (docs/quant.md).
    quant::gemv_parallel(w.qtype, w.rows, w.cols, w.data, x, y, quant::GemvAct::int8);
  }
}

void matmul(const Weight& w, const float* x, int64_t n, float* y) {
  if (n <= 0 || w.rows == 0) return;
  if (w.is_f32) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), int(w.rows), int(w.cols), 1.0f, x, int(w.cols),
                reinterpret_cast<const float*>(w.data), int(w.cols), 0.0f, y, int(w.rows));
    return;
  }
  // Every activation row is rounded to int8 blocks as matvec does (quantize_act), so
  // prefill and decode see the same numbers.
  const auto& qk = quant::quant_kernels();
  BIGDL_ASSERT(w.cols % quant::kBlockSize == 0);
  const int64_t nb = w.cols / quant::kBlockSize;
  const int64_t stride = quant::row_bytes(w.qtype, w.cols);
  thread_local std::vector<quant::BlockQ8A> xq_tl;
  if (static_cast<int64_t>(xq_tl.size()) < n * nb) xq_tl.resize(static_cast<size_t>(n * nb));
  quant::BlockQ8A* xq = xq_tl.data();
  for (int64_t t = 0; t < n; ++t) qk.quantize_act(x + t * w.cols, xq + t * nb, w.cols);
  if (n < kMinSgemmTokens) {
    // Few tokens: the integer dot of matvec per (row, token), bit-identical to it.
    const auto dot = qk.vec_dot_q8[static_cast<int>(w.qtype)];
    const int64_t grain = std::max<int64_t>(1, kMinChunkBytes / std::max<int64_t>(1, stride * n));
    bigdl::detail::parallel_for(w.rows, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t t = 0; t < n; ++t) y[t * w.rows + r] = dot(w.cols, w.data + r * stride, xq + t * nb);
    });
    return;
  }
  // Many tokens: the int8-rounded activations back to f32 (x_i = q_i * d, exact up to
  // one f32 rounding), the weights dequantized kTileRows rows at a time into a reused
  // buffer, one sgemm per tile. Equals the integer path up to f32 summation order and
  // runs about 2x faster from 32 tokens on (docs/llm.md, "Batched prefill").
  thread_local std::vector<float> xr_tl, wt_tl;
  if (static_cast<int64_t>(xr_tl.size()) < n * w.cols) xr_tl.resize(static_cast<size_t>(n * w.cols));
  if (static_cast<int64_t>(wt_tl.size()) < kTileRows * w.cols) wt_tl.resize(static_cast<size_t>(kTileRows * w.cols));
  float* xr = xr_tl.data();
  float* wt = wt_tl.data();
  for (int64_t b = 0; b < n * nb; ++b)
    for (int64_t i = 0; i < quant::kBlockSize; ++i)
      xr[b * quant::kBlockSize + i] = static_cast<float>(xq[b].qs[i]) * xq[b].d;
  const auto deq = qk.dequantize_row[static_cast<int>(w.qtype)];
  for (int64_t r0 = 0; r0 < w.rows; r0 += kTileRows) {
    const int64_t nr = std::min(kTileRows, w.rows - r0);
    for (int64_t r = 0; r < nr; ++r) deq(w.data + (r0 + r) * stride, wt + r * w.cols, w.cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), int(nr), int(w.cols), 1.0f, xr, int(w.cols), wt,
                int(w.cols), 0.0f, y + r0, int(w.rows));
  }
}

void copy_row(const Weight& w, int64_t row, float* y) {
  if (w.is_f32) {
    const float* src = reinterpret_cast<const float*>(w.data) + row * w.cols;
    for (int64_t c = 0; c < w.cols; ++c) y[c] = src[c];
  } else {
    const int64_t rb = quant::row_bytes(w.qtype, w.cols);
    quant::quant_kernels().dequantize_row[static_cast<int>(w.qtype)](w.data + row * rb, y, w.cols);
  }
}

void rmsnorm(const float* x, const float* weight, float* y, int64_t n, float eps) {
  const float ss = bigdl::detail::cpu_kernels().dot(x, x, n) / static_cast<float>(n) + eps;
  const float scale = 1.0f / std::sqrt(ss);
  for (int64_t i = 0; i < n; ++i) y[i] = weight[i] * (x[i] * scale);
}

void rope_tables(int64_t n_ctx, int64_t head_dim, float base, std::vector<float>& cos,
                 std::vector<float>& sin) {
  const int64_t half = head_dim / 2;
  cos.assign(n_ctx * half, 0.0f);
  sin.assign(n_ctx * half, 0.0f);
  for (int64_t p = 0; p < n_ctx; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double theta = std::pow(static_cast<double>(base), -2.0 * i / static_cast<double>(head_dim));
      const double a = static_cast<double>(p) * theta;
      cos[p * half + i] = static_cast<float>(std::cos(a));
      sin[p * half + i] = static_cast<float>(std::sin(a));
    }
}

void rope_adjacent(float* v, int64_t n_heads, int64_t head_dim, const float* cos, const float* sin) {
  for (int64_t h = 0; h < n_heads; ++h) {
    float* x = v + h * head_dim;
    for (int64_t i = 0; i < head_dim / 2; ++i) {
      const float x0 = x[2 * i], x1 = x[2 * i + 1];
      x[2 * i] = x0 * cos[i] - x1 * sin[i];
      x[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
    }
  }
}

void attention(const float* q, const float* k_cache, const float* v_cache, int64_t pos,
               int64_t n_head, int64_t n_head_kv, int64_t head_dim, int64_t n_ctx,
               float* scores, float* out) {
  const auto& k = bigdl::detail::cpu_kernels();
  const int64_t kv_dim = n_head_kv * head_dim;
  const int64_t group = n_head / n_head_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  for (int64_t h = 0; h < n_head; ++h) {
    const float* qh = q + h * head_dim;
    const int64_t kvh = h / group;
    float* s = scores + h * n_ctx;
    for (int64_t t = 0; t <= pos; ++t) s[t] = k.dot(qh, k_cache + t * kv_dim + kvh * head_dim, head_dim) * scale;
    k.softmax_row(s, s, pos + 1);
    float* o = out + h * head_dim;
    for (int64_t d = 0; d < head_dim; ++d) o[d] = 0.0f;
    for (int64_t t = 0; t <= pos; ++t) k.axpy(s[t], v_cache + t * kv_dim + kvh * head_dim, o, head_dim);
  }
}

void attention_batch(const float* q, const float* k_cache, const float* v_cache, int64_t pos0, int64_t n,
                     int64_t n_head, int64_t n_head_kv, int64_t head_dim, int64_t n_ctx, float* out) {
  const int64_t dim = n_head * head_dim;
  bigdl::detail::parallel_for(n, 1, [&](int64_t t0, int64_t t1) {
    thread_local std::vector<float> scores;
    if (static_cast<int64_t>(scores.size()) < n_head * n_ctx) scores.resize(static_cast<size_t>(n_head * n_ctx));
    for (int64_t t = t0; t < t1; ++t)
      attention(q + t * dim, k_cache, v_cache, pos0 + t, n_head, n_head_kv, head_dim, n_ctx, scores.data(),
                out + t * dim);
  });
}

void swiglu(float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] = a[i] / (1.0f + std::exp(-a[i])) * b[i];
}

std::vector<std::string> low_bit_names() {
  std::vector<std::string> r;
  for (int i = 0; i < quant::kNumQTypes; ++i) r.emplace_back(quant::qtype_info(static_cast<quant::QType>(i)).name);
  r.emplace_back("fp32");
  return r;
}

LowBit parse_low_bit(const std::string& name, const char* op) {
  LowBit lb;
  if (name.empty()) return lb;
  if (name == "fp32") {
    lb.kind = LowBit::f32;
    return lb;
  }
  for (int i = 0; i < quant::kNumQTypes; ++i)
    if (name == quant::qtype_info(static_cast<quant::QType>(i)).name) {
      lb.kind = LowBit::quant;
      lb.qtype = static_cast<quant::QType>(i);
      return lb;
    }
  std::string known;
  for (const auto& n : low_bit_names()) known += (known.empty() ? "" : ", ") + n;
  throw ValueError(bigdl::detail::cat("[", op, "] unknown low-bit type '", name, "' (known: ", known, ")"));
}

std::vector<uint8_t> quantize_matrix(quant::QType q, const float* x, int64_t rows, int64_t cols) {
  BIGDL_ASSERT(cols % quant::kBlockSize == 0);
  const int64_t rb = quant::row_bytes(q, cols);
  std::vector<uint8_t> out(static_cast<size_t>(rows * rb));
  const auto fn = quant::qtype_info(q).quantize_row;
  for (int64_t r = 0; r < rows; ++r) fn(x + r * cols, out.data() + r * rb, cols);
  return out;
}

Weight apply_low_bit(const Weight& w, const LowBit& lb, std::vector<std::vector<uint8_t>>& store) {
  if (lb.kind == LowBit::keep) return w;
  if (lb.kind == LowBit::f32 && w.is_f32) return w;
  if (lb.kind == LowBit::quant && ((!w.is_f32 && w.qtype == lb.qtype) || w.cols % quant::kBlockSize != 0)) return w;
  std::vector<float> deq;
  const float* src = reinterpret_cast<const float*>(w.data);
  if (!w.is_f32) {
    deq.resize(static_cast<size_t>(w.rows * w.cols));
    for (int64_t r = 0; r < w.rows; ++r) copy_row(w, r, deq.data() + r * w.cols);
    src = deq.data();
  }
  Weight out = w;
  if (lb.kind == LowBit::f32) {
    std::vector<uint8_t> bytes(deq.size() * sizeof(float));
    std::memcpy(bytes.data(), deq.data(), bytes.size());
    store.push_back(std::move(bytes));
    out.is_f32 = true;
  } else {
    store.push_back(quantize_matrix(lb.qtype, src, w.rows, w.cols));
    out.is_f32 = false;
    out.qtype = lb.qtype;
  }
  out.data = store.back().data();
  return out;
}

io::GgufType gguf_type_of(const Weight& w) {
  return w.is_f32 ? io::GgufType::F32 : static_cast<io::GgufType>(quant::qtype_info(w.qtype).ggml_type);
}

uint64_t weight_bytes(const Weight& w) {
  return static_cast<uint64_t>(w.rows) * (w.is_f32 ? w.cols * 4 : quant::row_bytes(w.qtype, w.cols));
}

void rope_permute_rows(std::vector<float>& v, int64_t head_dim, int64_t cols) {
  const int64_t rows = static_cast<int64_t>(v.size()) / cols;
  const int64_t half = head_dim / 2;
  std::vector<float> head(static_cast<size_t>(head_dim * cols));
  for (int64_t h = 0; h < rows / head_dim; ++h) {
    float* base = v.data() + h * head_dim * cols;
    std::copy(base, base + head_dim * cols, head.data());
    for (int64_t i = 0; i < half; ++i)
      for (int j = 0; j < 2; ++j) {
        const float* src = head.data() + (i + j * half) * cols;
        std::copy(src, src + cols, base + (2 * i + j) * cols);
      }
  }
}

}  // namespace bigdl::llm::detail
