#include "llm/graph.h"

#include <cblas.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "bigdl/dtype.h"  // half_to_float, bf16_to_float
#include "backend/cpu/quant/qgemm.h"
#include "bigdl/tensor.h"  // shape_str
#include "bigdl/error.h"
#include "core/internal.h"

namespace bigdl::llm::detail {

namespace quant = bigdl::detail::quant;

// Smallest piece of a matrix product worth handing to another thread (as quant's gemv).
constexpr int64_t kMinChunkBytes = 128 * 1024;
// The same for the packed kernels, which run from a spinning pool (a region costs about
// a microsecond, not the ~10 us of a futex wake-up), so chunks can be smaller.
constexpr int64_t kMinPackedChunk = 32 * 1024;
// Decode attention: heads go over the pool from this many multiply-adds (pos * n_head *
// head_dim) on.
constexpr int64_t kMinParallelAttention = 16 * 1024;
// Quantized matmul: from this many tokens on, dequantized tiles of kTileRows rows go
// through sgemm; below it, the integer dot per (row, token) wins (measured, docs/llm.md).
constexpr int64_t kMinSgemmTokens = 16;
constexpr int64_t kTileRows = 64;

namespace {
// The quant type of a GGUF tensor type id, or false when no quant kernel reads it:
// q4_0..q8_0, F16 (fp16), BF16 (bf16) and bigdl's own ids 1024+ (nf4, nf3, fp4, fp8_*).
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
                "' has type ", type_name(t.type),
                "; supported: f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, nf4, nf3, fp4, fp8_e4m3, fp8_e5m2");
    BIGDL_CHECK(reinterpret_cast<uintptr_t>(t.data) % 2 == 0, FormatError, "load_model", file_.name(),
                ": tensor '", name, "' data is not 2-byte aligned");
    // An F16 / BF16 tensor (GGUF block size 1) may have rows that are not whole blocks
    // of 32, which the block kernels cannot read: it is handed over as is and
    // apply_low_bit, which every caller applies, widens it to f32.
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

namespace {

// The activation rows of a quantized product rounded to int8 blocks (quantize_act), in a
// thread-local buffer reused across calls: [n][cols / 32].
const quant::BlockQ8A* quantize_rows(const float* x, int64_t n, int64_t cols) {
  thread_local std::vector<quant::BlockQ8A> buf;
  const int64_t nb = cols / quant::kBlockSize;
  if (static_cast<int64_t>(buf.size()) < n * nb) buf.resize(static_cast<size_t>(n * nb));
  const auto& qk = quant::quant_kernels();
  quant::BlockQ8A* out = buf.data();
  // Prefill rows go over the pool (about a nanosecond per value; 16K values per chunk).
  bigdl::detail::parallel_for(n, std::max<int64_t>(1, (int64_t(16) << 10) / cols), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) qk.quantize_act(x + t * cols, out + t * nb, cols);
  });
  return out;
}

int64_t group_bytes(const Weight& w) { return w.cols / quant::kBlockSize * quant::packed_tile_bytes(w.qtype); }

// Groups of a packed weight worth one parallel chunk (kMinPackedChunk bytes of weights
// times the tokens that reuse them).
int64_t group_grain(const Weight& w, int64_t n_tokens) {
  return std::max<int64_t>(1, kMinPackedChunk / std::max<int64_t>(1, group_bytes(w) * n_tokens));
}

// Rows past the packed groups (rows % 8 of them): the in-place int8 dot per (row, token),
// the same kernel in decode and prefill. Row r goes to y[t * ldy + r - y_row0].
void tail_rows(const Weight& w, const quant::BlockQ8A* xq, int64_t n, float* y, int64_t ldy, int64_t y_row0 = 0) {
  const int64_t r0 = w.rows / quant::kPackRows * quant::kPackRows;
  if (r0 == w.rows) return;
  const auto dot = quant::quant_kernels().vec_dot_q8[static_cast<int>(w.qtype)];
  const int64_t nb = w.cols / quant::kBlockSize, stride = quant::row_bytes(w.qtype, w.cols);
  for (int64_t r = r0; r < w.rows; ++r)
    for (int64_t t = 0; t < n; ++t) y[t * ldy + r - y_row0] = dot(w.cols, w.data + r * stride, xq + t * nb);
}

// matvec without the packed path.
void matvec_plain(const Weight& w, const float* x, float* y) {
  if (w.is_f32) {
    const auto& k = bigdl::detail::cpu_kernels();
    const float* m = reinterpret_cast<const float*>(w.data);
    const int64_t grain = std::max<int64_t>(1, kMinChunkBytes / std::max<int64_t>(1, w.cols * 4));
    bigdl::detail::parallel_for(w.rows, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) y[r] = k.dot(m + r * w.cols, x, w.cols);
    });
  } else {
    // x quantized once to int8 blocks, integer dots, rows over the pool (docs/quant.md);
    // gemv_parallel keeps f32 activations for the !int8_act types.
    quant::gemv_parallel(w.qtype, w.rows, w.cols, w.data, x, y, quant::GemvAct::int8);
  }
}

}  // namespace

namespace {
constexpr int64_t kHugePage = int64_t(2) << 20;
constexpr int64_t kSliceAlign = 64;
int64_t round_up(int64_t n, int64_t a) { return (n + a - 1) / a * a; }
}  // namespace

PackedArena::~PackedArena() {
  if (base_ != nullptr) munmap(base_, static_cast<size_t>(size_));
}

void PackedArena::reserve(int64_t bytes) {
  BIGDL_ASSERT(base_ == nullptr && bytes >= 0);
  if (bytes == 0) return;
  // Over-map by one huge page so the usable start can be 2 MiB aligned (THP needs
  // aligned 2 MiB ranges); the unused head and tail are unmapped again.
  const int64_t want = round_up(bytes, kHugePage);
  const size_t map_size = static_cast<size_t>(want + kHugePage);
  void* p = mmap(nullptr, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw bigdl::Error(bigdl::detail::cat("[llm] cannot map ", bytes, " bytes for packed weights: ", std::strerror(errno)));
  const auto a = reinterpret_cast<uintptr_t>(p);
  const uintptr_t start = (a + kHugePage - 1) / kHugePage * kHugePage;
  if (start > a) munmap(p, start - a);
  const uintptr_t end = a + map_size, used_end = start + static_cast<uintptr_t>(want);
  if (end > used_end) munmap(reinterpret_cast<void*>(used_end), end - used_end);
  base_ = reinterpret_cast<uint8_t*>(start);
  size_ = want;
#ifdef MADV_HUGEPAGE
  madvise(base_, static_cast<size_t>(size_), MADV_HUGEPAGE);  // advisory: a failure changes nothing
#endif
}

uint8_t* PackedArena::take(int64_t bytes) {
  const int64_t n = round_up(bytes, kSliceAlign);
  BIGDL_ASSERT(base_ != nullptr && used_ + n <= size_);
  uint8_t* p = base_ + used_;
  used_ += n;
  return p;
}

int64_t packed_weight_bytes(const Weight& w) {
  if (w.is_f32 || w.packed || !quant::packable(w.qtype) || w.rows < quant::kPackRows ||
      w.cols % quant::kBlockSize != 0)
    return 0;
  return round_up(quant::packed_bytes(w.qtype, w.rows, w.cols), kSliceAlign);
}

int64_t pack_weight(Weight& w, PackedArena& arena, bool release_source) {
  if (packed_weight_bytes(w) == 0) return 0;
  const int64_t bytes = quant::packed_bytes(w.qtype, w.rows, w.cols);
  uint8_t* const buf = arena.take(bytes);
  // In slices of about 1 MiB of source, each released right after it is packed, so the
  // peak memory is the packed copy plus one slice (not plus the whole matrix).
  const int64_t rb = quant::row_bytes(w.qtype, w.cols), R = quant::kPackRows;
  const int64_t slice = std::max<int64_t>(1, (int64_t(1) << 20) / (R * rb)) * R;
  const int64_t packed_rows = w.rows / R * R;
  for (int64_t r0 = 0; r0 < packed_rows; r0 += slice) {
    const int64_t n = std::min(slice, packed_rows - r0);
    quant::pack_rows(w.qtype, w.data + r0 * rb, n, w.cols, buf + r0 / R * group_bytes(w));
    if (release_source) release_mapped_pages(w.data + r0 * rb, static_cast<uint64_t>(n * rb));
  }
  if (release_source && packed_rows < w.rows)
    release_mapped_pages(w.data + packed_rows * rb, static_cast<uint64_t>((w.rows - packed_rows) * rb));
  w.packed = buf;
  return bytes;
}

void release_mapped_pages(const void* p, uint64_t n) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto a = reinterpret_cast<uintptr_t>(p);
  const uintptr_t b = (a + page - 1) / page * page, e = (a + n) / page * page;
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);  // advisory: a failure changes nothing
}

void matvec(const Weight& w, const float* x, float* y) {
  const Weight* ws[1] = {&w};
  float* ys[1] = {y};
  matvec_multi(ws, ys, 1, x);
}

void matvec_multi(const Weight* const* w, float* const* y, int n, const float* x) {
  BIGDL_ASSERT(n >= 1 && n <= 4);
  bool packed = true;
  for (int i = 0; i < n; ++i) packed = packed && w[i]->packed && w[i]->cols == w[0]->cols;
  if (!packed && n > 1) {  // one region per matrix
    for (int i = 0; i < n; ++i) matvec_multi(&w[i], &y[i], 1, x);
    return;
  }
  if (!packed) {
    matvec_plain(*w[0], x, y[0]);
    return;
  }
  const int64_t nb = w[0]->cols / quant::kBlockSize;
  const quant::BlockQ8A* xq = quantize_rows(x, 1, w[0]->cols);
  int64_t first[5] = {0};  // first global group of each matrix
  for (int i = 0; i < n; ++i) first[i + 1] = first[i] + w[i]->rows / quant::kPackRows;
  const auto& pk = quant::packed_kernels();
  bool same_type = true;
  for (int i = 1; i < n; ++i) same_type = same_type && w[i]->qtype == w[0]->qtype;
  bigdl::detail::parallel_for(first[n], group_grain(*w[0], 1), [&](int64_t g0, int64_t g1) {
    // Global group g -> its matrix, packed bytes and outputs.
    const auto locate = [&](int64_t g, const uint8_t*& packed, float*& out) {
      int i = 0;
      while (g >= first[i + 1]) ++i;
      const int64_t lg = g - first[i];
      packed = w[i]->packed + lg * group_bytes(*w[i]);
      out = y[i] + lg * quant::kPackRows;
      return i;
    };
    // The chunk's two halves in step (gemv2: two memory streams), then an odd last group.
    const int64_t half = same_type ? (g1 - g0) / 2 : 0;
    for (int64_t k = 0; k < half; ++k) {
      const uint8_t *pa = nullptr, *pb = nullptr;
      float *ya = nullptr, *yb = nullptr;
      locate(g0 + k, pa, ya);
      locate(g0 + half + k, pb, yb);
      pk.gemv2[static_cast<int>(w[0]->qtype)](nb, pa, pb, xq, ya, yb);
    }
    for (int64_t g = g0 + 2 * half; g < g1; ++g) {
      const uint8_t* p = nullptr;
      float* out = nullptr;
      const int i = locate(g, p, out);
      pk.gemm[static_cast<int>(w[i]->qtype)](nb, p, xq, 1, out, 0);
    }
  });
  for (int i = 0; i < n; ++i) tail_rows(*w[i], xq, 1, y[i], 0);
}

void matvec_swiglu(const Weight& wg, const Weight& wu, const float* x, float* h) {
  if (!(wg.packed && wu.packed && wg.rows == wu.rows && wg.cols == wu.cols)) {
    thread_local std::vector<float> up;
    if (static_cast<int64_t>(up.size()) < wu.rows) up.resize(static_cast<size_t>(wu.rows));
    const Weight* ws[2] = {&wg, &wu};
    float* ys[2] = {h, up.data()};
    matvec_multi(ws, ys, 2, x);
    swiglu(h, up.data(), wg.rows);
    return;
  }
  const int64_t nb = wg.cols / quant::kBlockSize, R = quant::kPackRows;
  const quant::BlockQ8A* xq = quantize_rows(x, 1, wg.cols);
  const auto& pk = quant::packed_kernels();
  const auto gate = pk.gemm[static_cast<int>(wg.qtype)], upk = pk.gemm[static_cast<int>(wu.qtype)];
  // Gate and up groups of the same rows read in step (gemv2) when they share a type.
  const auto both = wg.qtype == wu.qtype ? pk.gemv2[static_cast<int>(wg.qtype)] : nullptr;
  bigdl::detail::parallel_for(wg.rows / R, std::max<int64_t>(1, group_grain(wg, 1) / 2), [&](int64_t g0, int64_t g1) {
    float up[quant::kPackRows];
    for (int64_t g = g0; g < g1; ++g) {
      if (both != nullptr) {
        both(nb, wg.packed + g * group_bytes(wg), wu.packed + g * group_bytes(wu), xq, h + g * R, up);
      } else {
        gate(nb, wg.packed + g * group_bytes(wg), xq, 1, h + g * R, 0);
        upk(nb, wu.packed + g * group_bytes(wu), xq, 1, up, 0);
      }
      swiglu(h + g * R, up, R);
    }
  });
  const int64_t r0 = wg.rows / R * R;
  if (r0 < wg.rows) {
    float up[quant::kPackRows];
    tail_rows(wg, xq, 1, h, 0);
    tail_rows(wu, xq, 1, up, 0, r0);
    swiglu(h + r0, up, wg.rows - r0);
  }
}

void matmul(const Weight& w, const float* x, int64_t n, float* y) {
  if (n <= 0 || w.rows == 0) return;
  if (w.is_f32) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), int(w.rows), int(w.cols), 1.0f, x, int(w.cols),
                reinterpret_cast<const float*>(w.data), int(w.cols), 0.0f, y, int(w.rows));
    return;
  }
  BIGDL_ASSERT(w.cols % quant::kBlockSize == 0);
  const auto& qk = quant::quant_kernels();
  const int64_t nb = w.cols / quant::kBlockSize;
  const int64_t stride = quant::row_bytes(w.qtype, w.cols);
  if (w.packed) {
    // Every activation row rounded to int8 once, then the x8 GEMM: each group of 8 rows
    // meets all n tokens while its tiles sit in L1.
    const quant::BlockQ8A* xq = quantize_rows(x, n, w.cols);
    const auto gemm = quant::packed_kernels().gemm[static_cast<int>(w.qtype)];
    bigdl::detail::parallel_for(w.rows / quant::kPackRows, group_grain(w, n), [&](int64_t g0, int64_t g1) {
      for (int64_t g = g0; g < g1; ++g)
        gemm(nb, w.packed + g * group_bytes(w), xq, n, y + g * quant::kPackRows, w.rows);
    });
    tail_rows(w, xq, n, y, w.rows);
    return;
  }
  const bool int8_act = quant::qtype_info(w.qtype).int8_act;
  if (n < kMinSgemmTokens) {
    // Few tokens: the dot of matvec per (row, token), bit-identical to it.
    const int64_t grain = std::max<int64_t>(1, kMinChunkBytes / std::max<int64_t>(1, stride * n));
    if (int8_act) {
      const quant::BlockQ8A* xq = quantize_rows(x, n, w.cols);
      const auto dot = qk.vec_dot_q8[static_cast<int>(w.qtype)];
      bigdl::detail::parallel_for(w.rows, grain, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t t = 0; t < n; ++t) y[t * w.rows + r] = dot(w.cols, w.data + r * stride, xq + t * nb);
      });
    } else {
      const auto dot = qk.vec_dot[static_cast<int>(w.qtype)];
      bigdl::detail::parallel_for(w.rows, grain, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t t = 0; t < n; ++t) y[t * w.rows + r] = dot(w.cols, w.data + r * stride, x + t * w.cols);
      });
    }
    return;
  }
  // Many tokens: the activations as matvec sees them (int8-rounded rows back to f32,
  // x_i = q_i * d, exact up to one f32 rounding; or x itself for !int8_act types), the
  // weights dequantized kTileRows rows at a time into a reused buffer, one sgemm per
  // tile. Equals the per-row dots up to f32 summation order.
  const float* xa = x;
  thread_local std::vector<float> xr_tl, wt_tl;
  if (int8_act) {
    const quant::BlockQ8A* xq = quantize_rows(x, n, w.cols);
    if (static_cast<int64_t>(xr_tl.size()) < n * w.cols) xr_tl.resize(static_cast<size_t>(n * w.cols));
    float* xr = xr_tl.data();
    for (int64_t b = 0; b < n * nb; ++b)
      for (int64_t i = 0; i < quant::kBlockSize; ++i)
        xr[b * quant::kBlockSize + i] = static_cast<float>(xq[b].qs[i]) * xq[b].d;
    xa = xr;
  }
  if (static_cast<int64_t>(wt_tl.size()) < kTileRows * w.cols) wt_tl.resize(static_cast<size_t>(kTileRows * w.cols));
  float* wt = wt_tl.data();
  const auto deq = qk.dequantize_row[static_cast<int>(w.qtype)];
  for (int64_t r0 = 0; r0 < w.rows; r0 += kTileRows) {
    const int64_t nr = std::min(kTileRows, w.rows - r0);
    for (int64_t r = 0; r < nr; ++r) deq(w.data + (r0 + r) * stride, wt + r * w.cols, w.cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), int(nr), int(w.cols), 1.0f, xa, int(w.cols), wt,
                int(w.cols), 0.0f, y + r0, int(w.rows));
  }
}

std::vector<uint8_t> unpack_weight(const Weight& w) {
  const int64_t rb = quant::row_bytes(w.qtype, w.cols);
  std::vector<uint8_t> out(static_cast<size_t>(w.rows * rb));
  for (int64_t r = 0; r < w.rows; ++r) quant::unpack_row(w.qtype, w.packed, w.cols, r, out.data() + r * rb);
  return out;
}

void copy_row(const Weight& w, int64_t row, float* y) {
  if (!w.data) {  // only the packed copy is kept (graph.h, Weight::packed)
    std::vector<uint8_t> blocks(static_cast<size_t>(quant::row_bytes(w.qtype, w.cols)));
    quant::unpack_row(w.qtype, w.packed, w.cols, row, blocks.data());
    quant::quant_kernels().dequantize_row[static_cast<int>(w.qtype)](blocks.data(), y, w.cols);
    return;
  }
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

void attention(const float* q, const KvView& kv, int64_t pos, int64_t n_head, int64_t n_head_kv, int64_t head_dim,
               float* scores, int64_t ld_scores, float* out) {
  const auto& k = bigdl::detail::cpu_kernels();
  const KvKernels& kk = kv_kernels(kv.type);
  const int64_t group = n_head / n_head_kv, nt = pos + 1, eb = kv_type_bytes(kv.type);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const auto* kb = static_cast<const uint8_t*>(kv.k);
  const auto* vb = static_cast<const uint8_t*>(kv.v);
  // Query heads [h0, h1), in runs that share a KV head.
  const auto heads = [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1;) {
      const int64_t kvh = h / group, he = std::min(h1, (kvh + 1) * group), ng = he - h;
      float* s = scores + h * ld_scores;
      kk.scores(q + h * head_dim, ng, head_dim, kb + kvh * head_dim * eb, kv.kv_dim, nt, head_dim, scale, s,
                ld_scores);
      for (int64_t g = 0; g < ng; ++g) k.softmax_row(s + g * ld_scores, s + g * ld_scores, nt);
      kk.mix(s, ng, ld_scores, vb + kvh * head_dim * eb, kv.kv_dim, nt, head_dim, out + h * head_dim, head_dim);
      h = he;
    }
  };
  // Each head's scores and output do not depend on the split.
  if (nt * n_head * head_dim >= kMinParallelAttention) bigdl::detail::parallel_for(n_head, 1, heads);
  else heads(0, n_head);
}

void attention_batch(const float* q, const KvView& kv, int64_t pos0, int64_t n, int64_t n_head, int64_t n_head_kv,
                     int64_t head_dim, float* out) {
  const int64_t dim = n_head * head_dim;
  bigdl::detail::parallel_for(n, 1, [&](int64_t t0, int64_t t1) {
    thread_local std::vector<float> scores;
    const int64_t ld = pos0 + t1;  // the longest row of this chunk
    if (static_cast<int64_t>(scores.size()) < n_head * ld) scores.resize(static_cast<size_t>(n_head * ld));
    for (int64_t t = t0; t < t1; ++t)
      attention(q + t * dim, kv, pos0 + t, n_head, n_head_kv, head_dim, scores.data(), ld, out + t * dim);
  });
}

void swiglu(float* a, const float* b, int64_t n) {
  const auto& k = bigdl::detail::cpu_kernels();
  float s[256];
  for (int64_t i0 = 0; i0 < n; i0 += 256) {
    const int64_t m = std::min<int64_t>(256, n - i0);
    k.sigmoid(a + i0, s, m);
    for (int64_t i = 0; i < m; ++i) a[i0 + i] = a[i0 + i] * s[i] * b[i0 + i];
  }
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
  // bigdl-llm's "fp8" is e5m2 (ggml_tensor_qtype["fp8"] == ["fp8_e5m2"]).
  const std::string& key = name == "fp8" ? std::string("fp8_e5m2") : name;
  for (int i = 0; i < quant::kNumQTypes; ++i)
    if (key == quant::qtype_info(static_cast<quant::QType>(i)).name) {
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
  if (!w.is_f32 && w.cols % quant::kBlockSize != 0) {
    // Only a GGUF F16 / BF16 tensor gets here (every other quant type is whole blocks):
    // the block kernels cannot read it, so it becomes f32 whatever lb asks (a quant
    // type would leave such a row length as stored anyway).
    BIGDL_ASSERT(w.qtype == quant::QType::fp16 || w.qtype == quant::QType::bf16);
    const auto* h = reinterpret_cast<const uint16_t*>(w.data);
    const int64_t n = w.rows * w.cols;
    std::vector<uint8_t> bytes(static_cast<size_t>(n) * sizeof(float));
    float* f = reinterpret_cast<float*>(bytes.data());
    for (int64_t i = 0; i < n; ++i) f[i] = w.qtype == quant::QType::fp16 ? half_to_float(h[i]) : bf16_to_float(h[i]);
    store.push_back(std::move(bytes));
    Weight out = w;
    out.is_f32 = true;
    out.data = store.back().data();
    return out;
  }
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
