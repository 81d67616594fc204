// Scalar reference dequantize / vec_dot / vec_dot_q8 for ggml's K-quants (Q2_K ... Q6_K,
// Q8_K) and 4-bit i-quants (IQ4_NL, IQ4_XS): the specification the SIMD kernels
// (quant_k_x86.inc) are tested against. The quantizers are in quantize_k_ref.cpp.
//
// Every format is read through one decoded form: per group of 16 weights an f32 scale
// s_g and an f32 min m_g (0 for the formats without mins), and per weight a small signed
// integer level q_i, so that
//   weight_i = s_g * q_i - m_g           (Q2_K, Q4_K, Q5_K: two roundings, never an FMA)
//   weight_i = s_g * q_i                 (Q3_K, Q6_K, Q8_K, IQ4_NL, IQ4_XS)
// with s_g = d * sc_g and m_g = dmin * mn_g each one f32 product of the fp16 super-block
// scale and the small integer sub-block scale, exactly as ggml's dequantize_row_* and
// gguf-py's gguf.quants compute them; dequantize here is bit-exact with both
// (tests/kernels/test_kquant.cpp checks it on random and real blocks).
//
//   type    levels q_i                     sub-block scale sc (min mn)
//   Q2_K    0..3                           4-bit sc, 4-bit mn per 16
//   Q3_K    -4..3 (2 bits - 4 * !hbit)     6-bit sc - 32 per 16
//   Q4_K    0..15                          6-bit sc, 6-bit mn per 32
//   Q5_K    0..31                          6-bit sc, 6-bit mn per 32
//   Q6_K    -32..31                        int8 sc per 16
//   Q8_K    -128..127                      none (s = d, the f32 scale)
//   IQ4_NL  kIq4nlLevels[code] (-127..113) none (s = d)
//   IQ4_XS  kIq4nlLevels[code]             6-bit ls - 32 per 32
//
// vec_dot (f32 activations): sum over groups of s_g * sum_i q_i x_i - m_g * sum_i x_i,
// in double. vec_dot_q8 (BlockQ8A activations, one per 32 weights, so a super-block
// meets 8 of them): per group g of activation block b, the exact int32 sums
// isum_g = sum_i q_i qx_i and xsum_g = sum_i qx_i, and the term
// (s_g * d_b) * isum_g - (m_g * d_b) * xsum_g, each bracket one f32 product, summed in
// double. The SIMD kernels sum the same terms in f32. vec_dot_q8k (BlockQ8K activations,
// one per super-block, llama.cpp's vec_dot_type for these formats): the whole
// super-block's integer sum sum_g sc_g * sum_i q_i qx_i in int64 (int32 suffices: at
// most 256 * 32 * 127 * 128), times the one f32 product d * d_x, and the mins through
// Q8_K's bsums; see vec_dot_q8k_k.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "backend/cpu/quant/quant.h"
#include "bigdl/dtype.h"
#include "bigdl/error.h"

namespace bigdl::detail::quant {
namespace {

float h2f(uint16_t h) { return ::bigdl::half_to_float(h); }

// One block in decoded form: n weights (256, or 32 for IQ4_NL), n / 16 groups.
struct Decoded {
  int n = 0;
  bool has_min = false;
  float s[16];
  float m[16];
  int16_t q[256];  // int16: Q8_K's -128 and IQ4's -127 fit int8, but the sums read cleaner
  // The integer sub-block scales and mins and the super-block's f32 d / dmin, with
  // s[g] = d * sc[g], m[g] = dmin * mn[g] (for vec_dot_q8k).
  int16_t sc[16];
  int16_t mn[16];
  float d = 0, dmin = 0;
};
// Records the integer scales and fills s / m from them (one f32 product each).
void set_scales(Decoded& o, float d, float dmin, const int* sc, const int* mn) {
  o.d = d;
  o.dmin = dmin;
  for (int g = 0; g < 16; ++g) {
    o.sc[g] = static_cast<int16_t>(sc[g]);
    o.mn[g] = static_cast<int16_t>(mn != nullptr ? mn[g] : 0);
    o.s[g] = d * static_cast<float>(sc[g]);
    o.m[g] = dmin * static_cast<float>(o.mn[g]);
  }
}

// Q4_K / Q5_K's 12 bytes of 6-bit scales and mins (ggml's get_scale_min_k4): sub-blocks
// 0-3 keep theirs in the low 6 bits of bytes 0-3 (scale) and 4-7 (min); sub-blocks 4-7
// take their low 4 bits from the nibbles of bytes 8-11 and their top 2 bits from the top
// bits of bytes 0-3 (scale) and 4-7 (min).
void scale_min_k4(const uint8_t* sc, int j, int& scale, int& min) {
  if (j < 4) {
    scale = sc[j] & 63;
    min = sc[j + 4] & 63;
  } else {
    scale = (sc[j + 4] & 0x0F) | ((sc[j - 4] >> 6) << 4);
    min = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
  }
}

// Q3_K's 16 six-bit scales: low 4 bits of scale j in the low (j < 8) or high (j >= 8)
// nibble of byte j % 8; top 2 bits of scale j in bits 2 * (j / 4) of byte 8 + j % 4.
int scale_q3k(const uint8_t* sc, int j) {
  const int lo = (sc[j % 8] >> (j < 8 ? 0 : 4)) & 0x0F;
  const int hi = (sc[8 + j % 4] >> (2 * (j / 4))) & 0x03;
  return (lo | (hi << 4)) - 32;
}

void decode(const BlockQ2K& b, Decoded& o) {
  o.n = 256;
  o.has_min = true;
  int sc[16], mn[16];
  for (int g = 0; g < 16; ++g) sc[g] = b.scales[g] & 0x0F, mn[g] = b.scales[g] >> 4;
  set_scales(o, h2f(b.d), h2f(b.dmin), sc, mn);
  // Chunk c (32 bytes of qs) holds weights 128c + 32s + l in bits 2s of byte l.
  for (int i = 0; i < 256; ++i) {
    const int c = i / 128, s = (i % 128) / 32, l = i % 32;
    o.q[i] = static_cast<int16_t>((b.qs[32 * c + l] >> (2 * s)) & 3);
  }
}

void decode(const BlockQ3K& b, Decoded& o) {
  o.n = 256;
  o.has_min = false;
  int sc[16];
  for (int g = 0; g < 16; ++g) sc[g] = scale_q3k(b.scales, g);
  set_scales(o, h2f(b.d), 0.0f, sc, nullptr);
  for (int i = 0; i < 256; ++i) {
    const int c = i / 128, s = (i % 128) / 32, l = i % 32;
    const int low = (b.qs[32 * c + l] >> (2 * s)) & 3;
    const int hbit = (b.hmask[l] >> (i / 32)) & 1;
    o.q[i] = static_cast<int16_t>(low - (hbit ? 0 : 4));
  }
}

// Q4_K / Q5_K: sub-block j (32 weights) is the low (j even) or high (j odd) nibbles of
// qs chunk j / 2; Q5_K's fifth bit of weight l of sub-block j is bit j of qh[l].
template <typename Block>
void decode_q45k(const Block& b, const uint8_t* qh, Decoded& o) {
  o.n = 256;
  o.has_min = true;
  int sc[16], mn[16];
  for (int j = 0; j < 8; ++j) {
    scale_min_k4(b.scales, j, sc[2 * j], mn[2 * j]);
    sc[2 * j + 1] = sc[2 * j], mn[2 * j + 1] = mn[2 * j];
  }
  set_scales(o, h2f(b.d), h2f(b.dmin), sc, mn);
  for (int j = 0; j < 8; ++j) {
    for (int l = 0; l < 32; ++l) {
      int q = (b.qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0x0F;
      if (qh != nullptr) q |= ((qh[l] >> j) & 1) << 4;
      o.q[32 * j + l] = static_cast<int16_t>(q);
    }
  }
}
void decode(const BlockQ4K& b, Decoded& o) { decode_q45k(b, nullptr, o); }
void decode(const BlockQ5K& b, Decoded& o) { decode_q45k(b, b.qh, o); }

// Q6_K: each half (128 weights) uses 64 bytes of ql and 32 of qh; weight 32s + l of the
// half (s = 0..3) has its low 4 bits in the low (s < 2) or high (s >= 2) nibble of
// ql[l + 32 * (s % 2)] and its top 2 bits in bits 2s of qh[l].
void decode(const BlockQ6K& b, Decoded& o) {
  o.n = 256;
  o.has_min = false;
  int sc[16];
  for (int g = 0; g < 16; ++g) sc[g] = b.scales[g];
  set_scales(o, h2f(b.d), 0.0f, sc, nullptr);
  for (int i = 0; i < 256; ++i) {
    const int h = i / 128, s = (i % 128) / 32, l = i % 32;
    const uint8_t* ql = b.ql + 64 * h;
    const uint8_t* qh = b.qh + 32 * h;
    const int low = (ql[l + 32 * (s % 2)] >> (s < 2 ? 0 : 4)) & 0x0F;
    const int high = (qh[l] >> (2 * s)) & 3;
    o.q[i] = static_cast<int16_t>((low | (high << 4)) - 32);
  }
}

void decode(const BlockQ8K& b, Decoded& o) {
  o.n = 256;
  o.has_min = false;
  const int sc[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  set_scales(o, b.d, 0.0f, sc, nullptr);
  for (int i = 0; i < 256; ++i) o.q[i] = b.qs[i];
}

void decode(const BlockIQ4NL& b, Decoded& o) {
  o.n = 32;
  o.has_min = false;
  const int sc[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  set_scales(o, h2f(b.d), 0.0f, sc, nullptr);
  for (int j = 0; j < 16; ++j) {
    o.q[j] = kIq4nlLevels[b.qs[j] & 0x0F];
    o.q[j + 16] = kIq4nlLevels[b.qs[j] >> 4];
  }
}

void decode(const BlockIQ4XS& b, Decoded& o) {
  o.n = 256;
  o.has_min = false;
  int sc[16];
  for (int j = 0; j < 8; ++j) {
    const int ls = ((b.scales_l[j / 2] >> (4 * (j % 2))) & 0x0F) | (((b.scales_h >> (2 * j)) & 3) << 4);
    sc[2 * j] = sc[2 * j + 1] = ls - 32;
  }
  set_scales(o, h2f(b.d), 0.0f, sc, nullptr);
  for (int j = 0; j < 8; ++j) {
    const uint8_t* qs = b.qs + 16 * j;
    for (int l = 0; l < 16; ++l) {
      o.q[32 * j + l] = kIq4nlLevels[qs[l] & 0x0F];
      o.q[32 * j + l + 16] = kIq4nlLevels[qs[l] >> 4];
    }
  }
}

template <typename Block>
void dequantize_k(const Block* blocks, float* y, int64_t n) {
  Decoded o;
  for (int64_t done = 0; done < n; ++blocks) {
    decode(*blocks, o);
    for (int i = 0; i < o.n; ++i) {
      const float w = o.s[i / 16] * static_cast<float>(o.q[i]);
      y[i] = o.has_min ? w - o.m[i / 16] : w;
    }
    y += o.n;
    done += o.n;
  }
}

template <typename Block>
float vec_dot_k(int64_t n, const Block* blocks, const float* x) {
  Decoded o;
  double total = 0.0;
  for (int64_t done = 0; done < n; ++blocks) {
    decode(*blocks, o);
    for (int g = 0; g < o.n / 16; ++g) {
      double qx = 0.0, sx = 0.0;
      for (int i = 16 * g; i < 16 * g + 16; ++i) {
        qx += static_cast<double>(o.q[i]) * x[i];
        sx += x[i];
      }
      total += static_cast<double>(o.s[g]) * qx - (o.has_min ? static_cast<double>(o.m[g]) * sx : 0.0);
    }
    x += o.n;
    done += o.n;
  }
  return static_cast<float>(total);
}

template <typename Block>
float vec_dot_q8_k(int64_t n, const Block* blocks, const BlockQ8A* xb) {
  Decoded o;
  double total = 0.0;
  for (int64_t done = 0; done < n; ++blocks) {
    decode(*blocks, o);
    for (int g = 0; g < o.n / 16; ++g) {
      const BlockQ8A& a = xb[g / 2];
      const int8_t* qx = a.qs + 16 * (g % 2);
      int32_t isum = 0, xsum = 0;
      for (int i = 0; i < 16; ++i) {
        isum += o.q[16 * g + i] * qx[i];
        xsum += qx[i];
      }
      total += static_cast<double>(o.s[g] * a.d) * isum;
      if (o.has_min) total -= static_cast<double>(o.m[g] * a.d) * xsum;
    }
    xb += o.n / kBlockSize;
    done += o.n;
  }
  return static_cast<float>(total);
}

// Per super-block: (d * d_x) times the exact int32 sum_g sc_g * sum_i q_i qx_i, minus
// (dmin * d_x) times sum_g mn_g * bsum_g, each product one f32 multiply, summed in double.
template <typename Block>
float vec_dot_q8k_k(int64_t n, const Block* blocks, const BlockQ8K* x) {
  Decoded o;
  double total = 0.0;
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    decode(blocks[b], o);
    int64_t isum = 0, msum = 0;
    for (int g = 0; g < 16; ++g) {
      int32_t s = 0;
      for (int i = 16 * g; i < 16 * g + 16; ++i) s += o.q[i] * x[b].qs[i];
      isum += static_cast<int64_t>(o.sc[g]) * s;
      msum += static_cast<int64_t>(o.mn[g]) * x[b].bsums[g];
    }
    total += static_cast<double>(o.d * x[b].d) * static_cast<double>(isum);
    if (o.has_min) total -= static_cast<double>(o.dmin * x[b].d) * static_cast<double>(msum);
  }
  return static_cast<float>(total);
}

}  // namespace

#define BIGDL_K_REF(name, Block)                                                                                   \
  void dequantize_row_##name##_ref(const Block* blocks, float* y, int64_t n) { dequantize_k(blocks, y, n); }      \
  float vec_dot_##name##_ref(int64_t n, const Block* blocks, const float* x) { return vec_dot_k(n, blocks, x); }  \
  float vec_dot_q8_##name##_ref(int64_t n, const Block* blocks, const BlockQ8A* x) { return vec_dot_q8_k(n, blocks, x); }
BIGDL_K_REF(q2_k, BlockQ2K)
BIGDL_K_REF(q3_k, BlockQ3K)
BIGDL_K_REF(q4_k, BlockQ4K)
BIGDL_K_REF(q5_k, BlockQ5K)
BIGDL_K_REF(q6_k, BlockQ6K)
BIGDL_K_REF(q8_k, BlockQ8K)
BIGDL_K_REF(iq4_nl, BlockIQ4NL)
BIGDL_K_REF(iq4_xs, BlockIQ4XS)
#undef BIGDL_K_REF

#define BIGDL_K_REF_Q8K(name, Block)                                                    \
  float vec_dot_q8k_##name##_ref(int64_t n, const Block* blocks, const BlockQ8K* x) { \
    return vec_dot_q8k_k(n, blocks, x);                                                \
  }
BIGDL_K_REF_Q8K(q2_k, BlockQ2K)
BIGDL_K_REF_Q8K(q3_k, BlockQ3K)
BIGDL_K_REF_Q8K(q4_k, BlockQ4K)
BIGDL_K_REF_Q8K(q5_k, BlockQ5K)
BIGDL_K_REF_Q8K(q6_k, BlockQ6K)
BIGDL_K_REF_Q8K(q8_k, BlockQ8K)
BIGDL_K_REF_Q8K(iq4_xs, BlockIQ4XS)
#undef BIGDL_K_REF_Q8K

void decode_k_ints(QType type, const void* block, KBlockInts& out) {
  Decoded o;
  switch (type) {
    case QType::q2_k: decode(*static_cast<const BlockQ2K*>(block), o); break;
    case QType::q3_k: decode(*static_cast<const BlockQ3K*>(block), o); break;
    case QType::q4_k: decode(*static_cast<const BlockQ4K*>(block), o); break;
    case QType::q5_k: decode(*static_cast<const BlockQ5K*>(block), o); break;
    case QType::q6_k: decode(*static_cast<const BlockQ6K*>(block), o); break;
    case QType::q8_k: decode(*static_cast<const BlockQ8K*>(block), o); break;
    case QType::iq4_xs: decode(*static_cast<const BlockIQ4XS*>(block), o); break;
    default: BIGDL_ASSERT(false && "decode_k_ints: not a super-block type");
  }
  out.d = o.d;
  out.dmin = o.dmin;
  out.has_min = o.has_min;
  std::memcpy(out.sc, o.sc, sizeof out.sc);
  std::memcpy(out.mn, o.mn, sizeof out.mn);
  std::memcpy(out.q, o.q, sizeof out.q);
}

}  // namespace bigdl::detail::quant
