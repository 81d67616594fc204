// The compute ops of the LLM layers (ops.h).
#include "llm/ops.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/quant/qgemm.h"
#include "bigdl/error.h"
#include "core/internal.h"

namespace bigdl::llm::detail {

// Smallest piece of a matrix product worth handing to another thread (as quant's gemv).
constexpr int64_t kMinChunkBytes = 128 * 1024;
// The same for the packed kernels, which run from a spinning pool (a region costs about
// a microsecond, not the ~10 us of a futex wake-up), so chunks can be smaller.
constexpr int64_t kMinPackedChunk = 32 * 1024;
// Decode attention: heads go over the pool from this many multiply-adds (keys * n_head *
// head_dim) on.
constexpr int64_t kMinParallelAttention = 16 * 1024;
// Quantized matmul: from this many tokens on, dequantized tiles of kTileRows rows go
// through sgemm; below it, the integer dot per (row, token) wins (measured, docs/llm.md).
constexpr int64_t kMinSgemmTokens = 16;
constexpr int64_t kTileRows = 64;
// Packed prefill: activation rows per pass over a thread's row groups (measured, docs/llm.md:
// the super-block types expand each tile once per pass, so 32 paid that 4x per 128-token
// prompt; 128 rows of a 5632-wide BlockQ8K row are 0.8 MB, in L2 on Zen 5).
constexpr int64_t kTokenChunk = 128;

namespace {

template <typename T>
T* grow(std::vector<T>& b, int64_t n) {
  if (static_cast<int64_t>(b.size()) < n) b.resize(static_cast<size_t>(n));
  return b.data();
}

// The activation rows of a quantized product rounded to int8 blocks, in a thread-local
// buffer reused across calls: [n][cols / per_block] blocks B made by quantize.
template <typename B, typename Quantize>
const B* quantize_rows_as(const float* x, int64_t n, int64_t cols, int64_t per_block, Quantize quantize) {
  thread_local std::vector<B> buf;
  const int64_t nb = cols / per_block;
  B* q = grow(buf, n * nb);
  for (int64_t t = 0; t < n; ++t) quantize(x + t * cols, q + t * nb, cols);
  return q;
}
// BlockQ8A rows (quantize_act), [n][cols / 32].
const quant::BlockQ8A* quantize_rows(const float* x, int64_t n, int64_t cols) {
  return quantize_rows_as<quant::BlockQ8A>(x, n, cols, quant::kBlockSize, quant::quant_kernels().quantize_act);
}
// BlockQ8K rows for the super-block types (QTypeInfo::act == k256), [n][cols / 256].
const quant::BlockQ8K* quantize_rows_k(const float* x, int64_t n, int64_t cols) {
  return quantize_rows_as<quant::BlockQ8K>(x, n, cols, quant::kSuperBlock, quant::quant_kernels().quantize_act_k);
}

bool is_k256(const Weight& w) { return quant::qtype_info(w.qtype).act == quant::ActQ8::k256; }
// The activation rows the int8 kernels of w take: BlockQ8A per 32 values, or BlockQ8K per
// 256 for the super-block types; and how many of them make a row.
const void* quantize_for(const Weight& w, const float* x, int64_t n) {
  if (is_k256(w)) return quantize_rows_k(x, n, w.cols);
  return quantize_rows(x, n, w.cols);
}
int64_t act_blocks(const Weight& w) { return w.cols / quant::qtype_info(w.qtype).block_size; }

int64_t group_bytes(const Weight& w) { return quant::packed_bytes(w.qtype, quant::kPackRows, w.cols); }

// Groups of a packed weight worth one parallel chunk (kMinPackedChunk bytes of weights
// times the tokens that reuse them).
int64_t group_grain(const Weight& w, int64_t n_tokens) {
  return std::max<int64_t>(1, kMinPackedChunk / std::max<int64_t>(1, group_bytes(w) * n_tokens));
}

// Rows past the packed groups (rows % 8 of them): the in-place int8 dot per (row, token),
// the same kernel in decode and prefill. xq: quantize_for(w, ...). Row r goes to
// y[t * ldy + r - y_row0].
void tail_rows(const Weight& w, const void* xq, int64_t n, float* y, int64_t ldy, int64_t y_row0 = 0) {
  const int64_t r0 = w.rows / quant::kPackRows * quant::kPackRows;
  if (r0 == w.rows) return;
  const int ti = static_cast<int>(w.qtype);
  const int64_t nb = act_blocks(w), stride = quant::row_bytes(w.qtype, w.cols);
  for (int64_t r = r0; r < w.rows; ++r)
    for (int64_t t = 0; t < n; ++t)
      y[t * ldy + r - y_row0] =
          is_k256(w) ? quant::quant_kernels().vec_dot_q8k[ti](w.cols, w.data + r * stride, static_cast<const quant::BlockQ8K*>(xq) + t * nb)
                     : quant::quant_kernels().vec_dot_q8[ti](w.cols, w.data + r * stride, static_cast<const quant::BlockQ8A*>(xq) + t * nb);
}

// One row, no packed copy.
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

// One row through several matrices (see matmul_multi).
void matvec_multi(const Weight* const* w, float* const* y, int n, const float* x) {
  BIGDL_ASSERT(n >= 1 && n <= 4);
  bool packed = true;  // and one activation format for all
  for (int i = 0; i < n; ++i) packed = packed && w[i]->packed && w[i]->cols == w[0]->cols && is_k256(*w[i]) == is_k256(*w[0]);
  if (!packed) {  // one region per matrix
    for (int i = 0; i < n; ++i) {
      if (w[i]->packed) matvec_multi(&w[i], &y[i], 1, x);
      else matvec_plain(*w[i], x, y[i]);
    }
    return;
  }
  const int64_t nb = act_blocks(*w[0]);
  const void* xq = quantize_for(*w[0], x, 1);
  int64_t first[5] = {0};  // first global group of each matrix
  for (int i = 0; i < n; ++i) first[i + 1] = first[i] + w[i]->rows / quant::kPackRows;
  const auto& pk = quant::packed_kernels();
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
    // Two groups of different types (a Q6_K attn_v beside a Q4_K attn_k in a K-quant mix)
    // go one after the other.
    const int64_t half = (g1 - g0) / 2;
    for (int64_t k = 0; k < half; ++k) {
      const uint8_t *pa = nullptr, *pb = nullptr;
      float *ya = nullptr, *yb = nullptr;
      const quant::QType ta = w[locate(g0 + k, pa, ya)]->qtype, tb = w[locate(g0 + half + k, pb, yb)]->qtype;
      if (ta == tb) {
        pk.gemv2[static_cast<int>(ta)](nb, pa, pb, xq, ya, yb);
      } else {
        pk.gemm[static_cast<int>(ta)](nb, pa, xq, 1, ya, 0);
        pk.gemm[static_cast<int>(tb)](nb, pb, xq, 1, yb, 0);
      }
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

// silu(gate) * up for one row with packed gate and up of the same shape.
void matvec_swiglu_packed(const Weight& wg, const Weight& wu, const float* x, float* h) {
  const int64_t nb = act_blocks(wg), R = quant::kPackRows;
  const void* xq = quantize_for(wg, x, 1);
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
      act_mul(Act::silu, h + g * R, up, R);
    }
  });
  const int64_t r0 = wg.rows / R * R;
  if (r0 < wg.rows) {
    float up[quant::kPackRows];
    tail_rows(wg, xq, 1, h, 0);
    tail_rows(wu, xq, 1, up, 0, r0);
    act_mul(Act::silu, h + r0, up, wg.rows - r0);
  }
}

}  // namespace

void matmul(const Weight& w, const float* x, int64_t n, float* y) {
  if (n <= 0 || w.rows == 0) return;
  if (n == 1) {
    const Weight* ws[1] = {&w};
    float* ys[1] = {y};
    matvec_multi(ws, ys, 1, x);
    return;
  }
  if (w.is_f32) {
    if (n < kMinSgemmTokens) {
      // Few rows (a decode step of several sequences): the one-row product's dot per
      // (row, token), so each sequence gets what it would alone, bit for bit.
      const auto& k = bigdl::detail::cpu_kernels();
      const float* m = reinterpret_cast<const float*>(w.data);
      const int64_t grain = std::max<int64_t>(1, kMinChunkBytes / std::max<int64_t>(1, w.cols * 4 * n));
      bigdl::detail::parallel_for(w.rows, grain, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t t = 0; t < n; ++t) y[t * w.rows + r] = k.dot(m + r * w.cols, x + t * w.cols, w.cols);
      });
      return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), int(w.rows), int(w.cols), 1.0f, x, int(w.cols),
                reinterpret_cast<const float*>(w.data), int(w.cols), 0.0f, y, int(w.rows));
    return;
  }
  BIGDL_ASSERT(w.cols % quant::kBlockSize == 0);
  const auto& qk = quant::quant_kernels();
  const int64_t nb = w.cols / quant::kBlockSize;
  const int64_t stride = quant::row_bytes(w.qtype, w.cols);
  if (w.packed) {
    // Every activation row rounded to int8 once, then the x8 GEMM over the chunk's groups
    // kTokenChunk tokens at a time: the chunk's activation rows stay in L2 while each group
    // meets them with its tiles in L1 (all n rows at once would stream a long prompt's
    // activations, 1.2 MB for 512 tokens of a 2048-wide BlockQ8K row, from L3 per group).
    const void* xq = quantize_for(w, x, n);
    const int64_t nba = act_blocks(w);
    const int64_t xrow = nba * static_cast<int64_t>(is_k256(w) ? sizeof(quant::BlockQ8K) : sizeof(quant::BlockQ8A));
    // Groups two at a time where the table has a two-group kernel (gemm2), else one by one.
    const auto& pk = quant::packed_kernels();
    const auto gemm = pk.gemm[static_cast<int>(w.qtype)];
    const auto gemm2 = pk.gemm2[static_cast<int>(w.qtype)];
    bigdl::detail::parallel_for(w.rows / quant::kPackRows, group_grain(w, n), [&](int64_t g0, int64_t g1) {
      for (int64_t t0 = 0; t0 < n; t0 += kTokenChunk) {
        const auto* xt = static_cast<const uint8_t*>(xq) + t0 * xrow;
        const int64_t nt = std::min(kTokenChunk, n - t0);
        float* yt = y + t0 * w.rows;
        int64_t g = g0;
        if (gemm2 != nullptr)
          for (; g + 2 <= g1; g += 2)
            gemm2(nba, w.packed + g * group_bytes(w), w.packed + (g + 1) * group_bytes(w), xt, nt,
                  yt + g * quant::kPackRows, yt + (g + 1) * quant::kPackRows, w.rows);
        for (; g < g1; ++g) gemm(nba, w.packed + g * group_bytes(w), xt, nt, yt + g * quant::kPackRows, w.rows);
      }
    });
    tail_rows(w, xq, n, y, w.rows);
    return;
  }
  const bool int8_act = quant::qtype_info(w.qtype).int8_act;
  const bool k256 = is_k256(w);
  const int64_t nbk = w.cols / quant::kSuperBlock;
  if (n < kMinSgemmTokens || (k256 && int8_act)) {
    // Few tokens, or a super-block type at any count: the dot of the one-row product per
    // (row, token), bit-identical to it (the super-block types' integer kernel is as fast
    // as the dequantize + sgemm path in prefill; measured, docs/llm.md).
    const int64_t grain = std::max<int64_t>(1, kMinChunkBytes / std::max<int64_t>(1, stride * n));
    // dot(cols, row r, activations of token t at xa + t * xstride)
    const auto dots = [&](auto dot, const auto* xa, int64_t xstride) {
      bigdl::detail::parallel_for(w.rows, grain, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t t = 0; t < n; ++t) y[t * w.rows + r] = dot(w.cols, w.data + r * stride, xa + t * xstride);
      });
    };
    const int ti = static_cast<int>(w.qtype);
    if (int8_act && k256) {
      // All tokens of a row in one call: the row's levels and scales are unpacked once per
      // 4 tokens (vec_dot_q8k_x), each result bit-identical to the one-row product's.
      const quant::BlockQ8K* xk = quantize_rows_k(x, n, w.cols);
      const auto dotx = qk.vec_dot_q8k_x[ti];
      bigdl::detail::parallel_for(w.rows, grain, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) dotx(w.cols, w.data + r * stride, xk, n, nbk, y + r, w.rows);
      });
      return;
    }
    if (int8_act) dots(qk.vec_dot_q8[ti], quantize_rows(x, n, w.cols), nb);
    else dots(qk.vec_dot[ti], x, w.cols);
    return;
  }
  // Many tokens: the activations as the one-row product sees them (int8-rounded rows back
  // to f32, x_i = q_i * d, exact up to one f32 rounding; or x itself for !int8_act types),
  // the weights dequantized kTileRows rows at a time into a reused buffer, one sgemm per
  // tile. Equals the per-row dots up to f32 summation order.
  const float* xa = x;
  thread_local std::vector<float> xr_tl, wt_tl;
  // count int8 blocks of `per` values back to f32, q * d.
  const auto widen = [&](const auto* blocks, int64_t count, int64_t per) {
    float* xr = grow(xr_tl, n * w.cols);
    for (int64_t b = 0; b < count; ++b)
      for (int64_t i = 0; i < per; ++i) xr[b * per + i] = static_cast<float>(blocks[b].qs[i]) * blocks[b].d;
    return xr;
  };
  if (int8_act && k256) xa = widen(quantize_rows_k(x, n, w.cols), n * nbk, quant::kSuperBlock);
  else if (int8_act) xa = widen(quantize_rows(x, n, w.cols), n * nb, quant::kBlockSize);
  float* wt = grow(wt_tl, kTileRows * w.cols);
  const auto deq = qk.dequantize_row[static_cast<int>(w.qtype)];
  for (int64_t r0 = 0; r0 < w.rows; r0 += kTileRows) {
    const int64_t nr = std::min(kTileRows, w.rows - r0);
    for (int64_t r = 0; r < nr; ++r) deq(w.data + (r0 + r) * stride, wt + r * w.cols, w.cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), int(nr), int(w.cols), 1.0f, xa, int(w.cols), wt,
                int(w.cols), 0.0f, y + r0, int(w.rows));
  }
}

void matmul_multi(const Weight* const* w, float* const* y, int k, const float* x, int64_t n) {
  if (n == 1) {
    matvec_multi(w, y, k, x);
    return;
  }
  for (int i = 0; i < k; ++i) matmul(*w[i], x, n, y[i]);
}

const char* act_name(Act a) {
  switch (a) {
    case Act::silu: return "silu";
    case Act::gelu_tanh: return "gelu_tanh";
    case Act::gelu_erf: return "gelu_erf";
    case Act::relu: return "relu";
  }
  return "?";
}

void act_inplace(Act act, float* x, int64_t n) {
  const auto& k = bigdl::detail::cpu_kernels();
  float s[256];
  for (int64_t i0 = 0; i0 < n; i0 += 256) {
    const int64_t m = std::min<int64_t>(256, n - i0);
    float* a = x + i0;
    switch (act) {
      case Act::silu:
        k.sigmoid(a, s, m);
        for (int64_t i = 0; i < m; ++i) a[i] = a[i] * s[i];
        break;
      case Act::gelu_tanh: {
        constexpr float kC = 0.7978845608028654f;  // sqrt(2 / pi)
        for (int64_t i = 0; i < m; ++i) s[i] = kC * (a[i] + 0.044715f * a[i] * a[i] * a[i]);
        k.tanh(s, s, m);
        for (int64_t i = 0; i < m; ++i) a[i] = 0.5f * a[i] * (1.0f + s[i]);
        break;
      }
      case Act::gelu_erf:
        for (int64_t i = 0; i < m; ++i) s[i] = a[i] * 0.70710678118654752f;
        k.erf(s, s, m);
        for (int64_t i = 0; i < m; ++i) a[i] = 0.5f * a[i] * (1.0f + s[i]);
        break;
      case Act::relu:
        for (int64_t i = 0; i < m; ++i) a[i] = a[i] > 0.0f ? a[i] : 0.0f;
        break;
    }
  }
}

void act_mul(Act act, float* a, const float* b, int64_t n) {
  if (act == Act::silu) {  // a * sigmoid(a) * b in one pass (the SwiGLU of every Llama)
    const auto& k = bigdl::detail::cpu_kernels();
    float s[256];
    for (int64_t i0 = 0; i0 < n; i0 += 256) {
      const int64_t m = std::min<int64_t>(256, n - i0);
      k.sigmoid(a + i0, s, m);
      for (int64_t i = 0; i < m; ++i) a[i0 + i] = a[i0 + i] * s[i] * b[i0 + i];
    }
    return;
  }
  act_inplace(act, a, n);
  for (int64_t i = 0; i < n; ++i) a[i] *= b[i];
}

void matmul_gated(const Weight& wg, const Weight& wu, Act act, const float* x, int64_t n, float* h) {
  if (n == 1 && act == Act::silu && wg.packed && wu.packed && wg.rows == wu.rows && wg.cols == wu.cols &&
      is_k256(wg) == is_k256(wu)) {
    matvec_swiglu_packed(wg, wu, x, h);
    return;
  }
  thread_local std::vector<float> up_tl;
  float* up = grow(up_tl, n * wu.rows);
  const Weight* ws[2] = {&wg, &wu};
  float* ys[2] = {h, up};
  matmul_multi(ws, ys, 2, x, n);
  act_mul(act, h, up, n * wg.rows);
}

void add_rows(float* y, const float* b, int64_t n, int64_t dim) {
  const auto& k = bigdl::detail::cpu_kernels();
  for (int64_t t = 0; t < n; ++t) k.add(y + t * dim, b, y + t * dim, dim);
}

void rms_norm_rows(const float* x, const float* w, float* y, int64_t n, int64_t dim, float eps) {
  const auto& k = bigdl::detail::cpu_kernels();
  for (int64_t t = 0; t < n; ++t) {
    const float* xr = x + t * dim;
    float* yr = y + t * dim;
    const float ss = k.dot(xr, xr, dim) / static_cast<float>(dim) + eps;
    const float scale = 1.0f / std::sqrt(ss);
    if (w) for (int64_t i = 0; i < dim; ++i) yr[i] = w[i] * (xr[i] * scale);
    else for (int64_t i = 0; i < dim; ++i) yr[i] = xr[i] * scale;
  }
}

void layer_norm_rows(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t dim, float eps) {
  const auto& k = bigdl::detail::cpu_kernels();
  for (int64_t t = 0; t < n; ++t) {
    const float* xr = x + t * dim;
    float* yr = y + t * dim;
    const float mean = k.sum(xr, dim) / static_cast<float>(dim);
    float var = 0.0f;
    for (int64_t i = 0; i < dim; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    const float scale = 1.0f / std::sqrt(var / static_cast<float>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) {
      float v = (xr[i] - mean) * scale;
      if (w) v *= w[i];
      if (b) v += b[i];
      yr[i] = v;
    }
  }
}

void rope_angles(int64_t pos, const double* inv_freq, int64_t n_pairs, double pos_div, float attn_factor,
                 float* cos, float* sin) {
  const double p = static_cast<double>(pos) / pos_div;
  for (int64_t i = 0; i < n_pairs; ++i) {
    const double a = p * inv_freq[i];
    cos[i] = static_cast<float>(std::cos(a)) * attn_factor;
    sin[i] = static_cast<float>(std::sin(a)) * attn_factor;
  }
}

void rope(float* v, int64_t n_heads, int64_t head_dim, int64_t n_rot, bool neox, const float* cos, const float* sin) {
  const int64_t half = n_rot / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* x = v + h * head_dim;
    if (neox) {
      for (int64_t i = 0; i < half; ++i) {
        const float x0 = x[i], x1 = x[i + half];
        x[i] = x0 * cos[i] - x1 * sin[i];
        x[i + half] = x0 * sin[i] + x1 * cos[i];
      }
    } else {
      for (int64_t i = 0; i < half; ++i) {
        const float x0 = x[2 * i], x1 = x[2 * i + 1];
        x[2 * i] = x0 * cos[i] - x1 * sin[i];
        x[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
      }
    }
  }
}

namespace {

// Query heads [h0, h1) of one row; scores is [n_head][ld] scratch with ld >= the keys seen.
void attention_heads(const float* q, const AttnRow& row, int64_t layer, const AttnParams& p, float* scores, int64_t ld,
                     float* out, int64_t h0, int64_t h1) {
  const auto& k = bigdl::detail::cpu_kernels();
  const KvPool& pool = row.kv->pool();
  const KvKernels& kk = kv_kernels(pool.type());
  const int64_t group = p.n_head / p.n_head_kv, hd = p.head_dim, kv_dim = pool.kv_dim();
  const int64_t eb = kv_type_bytes(pool.type());
  const int64_t lo = p.window > 0 ? std::max<int64_t>(0, row.pos - p.window + 1) : 0, hi = row.n_keys;
  const int64_t nt = hi - lo;
  for (int64_t h = h0; h < h1;) {
    const int64_t kvh = h / group, he = std::min(h1, (kvh + 1) * group), ng = he - h;
    float* s = scores + h * ld;
    // scores, block by block
    for (int64_t t = lo; t < hi;) {
      const int64_t b = t / kKvBlock, r = t % kKvBlock, m = std::min(kKvBlock - r, hi - t);
      const int32_t blk = row.kv->block(b);
      kk.scores(q + h * hd, ng, hd, pool.k(blk, layer) + (r * kv_dim + kvh * hd) * eb, kv_dim, m, hd, p.scale,
                s + (t - lo), ld);
      t += m;
    }
    for (int64_t g = 0; g < ng; ++g) {
      float* sg = s + g * ld;
      if (p.softcap > 0.0f) softcap(sg, nt, p.softcap);
      if (p.alibi) {
        const float slope = p.alibi[h + g];
        for (int64_t t = 0; t < nt; ++t) sg[t] += slope * static_cast<float>(lo + t - row.pos);
      }
      k.softmax_row(sg, sg, nt);
    }
    float* o = out + h * hd;
    std::fill(o, o + ng * hd, 0.0f);
    for (int64_t t = lo; t < hi;) {
      const int64_t b = t / kKvBlock, r = t % kKvBlock, m = std::min(kKvBlock - r, hi - t);
      const int32_t blk = row.kv->block(b);
      kk.mix(s + (t - lo), ng, ld, pool.v(blk, layer) + (r * kv_dim + kvh * hd) * eb, kv_dim, m, hd, o, hd);
      t += m;
    }
    h = he;
  }
}

int64_t keys_seen(const AttnRow& row, const AttnParams& p) {
  const int64_t lo = p.window > 0 ? std::max<int64_t>(0, row.pos - p.window + 1) : 0;
  return row.n_keys - lo;
}

}  // namespace

void attention(const float* q, const AttnRow* rows, int64_t n, int64_t layer, const AttnParams& p, float* out) {
  const int64_t dim = p.n_head * p.head_dim;
  if (n == 1) {
    thread_local std::vector<float> scores_tl;
    const int64_t ld = std::max<int64_t>(1, keys_seen(rows[0], p));
    float* scores = grow(scores_tl, p.n_head * ld);
    const auto heads = [&](int64_t h0, int64_t h1) { attention_heads(q, rows[0], layer, p, scores, ld, out, h0, h1); };
    // Each head's scores and output do not depend on the split.
    if (ld * p.n_head * p.head_dim >= kMinParallelAttention) bigdl::detail::parallel_for(p.n_head, 1, heads);
    else heads(0, p.n_head);
    return;
  }
  bigdl::detail::parallel_for(n, 1, [&](int64_t t0, int64_t t1) {
    thread_local std::vector<float> scores;
    int64_t ld = 1;
    for (int64_t t = t0; t < t1; ++t) ld = std::max(ld, keys_seen(rows[t], p));
    float* s = grow(scores, p.n_head * ld);
    for (int64_t t = t0; t < t1; ++t)
      attention_heads(q + t * dim, rows[t], layer, p, s, ld, out + t * dim, 0, p.n_head);
  });
}

void alibi_slopes(int64_t n_head, float max_bias, float* slopes) {
  int64_t n2 = 1;
  while (n2 * 2 <= n_head) n2 *= 2;
  const double m0 = std::pow(2.0, -double(max_bias) / double(n2));
  const double m1 = std::pow(2.0, -double(max_bias) / 2.0 / double(n2));
  for (int64_t h = 0; h < n_head; ++h)
    slopes[h] = static_cast<float>(h < n2 ? std::pow(m0, double(h + 1)) : std::pow(m1, double(2 * (h - n2) + 1)));
}

void softcap(float* x, int64_t n, float cap) {
  const auto& k = bigdl::detail::cpu_kernels();
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
  k.tanh(x, x, n);
  for (int64_t i = 0; i < n; ++i) x[i] *= cap;
}

}  // namespace bigdl::llm::detail
