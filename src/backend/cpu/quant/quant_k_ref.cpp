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
// double. The SIMD kernels sum the same terms in f32.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "backend/cpu/quant/quant.h"
#include "bigdl/dtype.h"

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
};

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
  const float d = h2f(b.d), dmin = h2f(b.dmin);
  for (int g = 0; g < 16; ++g) {
    o.s[g] = d * static_cast<float>(b.scales[g] & 0x0F);
    o.m[g] = dmin * static_cast<float>(b.scales[g] >> 4);
  }
  // Chunk c (32 bytes of qs) holds weights 128c + 32s + l in bits 2s of byte l.
  for (int i = 0; i < 256; ++i) {
    const int c = i / 128, s = (i % 128) / 32, l = i % 32;
    o.q[i] = static_cast<int16_t>((b.qs[32 * c + l] >> (2 * s)) & 3);
  }
}

void decode(const BlockQ3K& b, Decoded& o) {
  o.n = 256;
  o.has_min = false;
  const float d = h2f(b.d);
  for (int g = 0; g < 16; ++g) o.s[g] = d * static_cast<float>(scale_q3k(b.scales, g));
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
  const float d = h2f(b.d), dmin = h2f(b.dmin);
  for (int j = 0; j < 8; ++j) {
    int sc = 0, mn = 0;
    scale_min_k4(b.scales, j, sc, mn);
    o.s[2 * j] = o.s[2 * j + 1] = d * static_cast<float>(sc);
    o.m[2 * j] = o.m[2 * j + 1] = dmin * static_cast<float>(mn);
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
  const float d = h2f(b.d);
  for (int g = 0; g < 16; ++g) o.s[g] = d * static_cast<float>(b.scales[g]);
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
  for (int g = 0; g < 16; ++g) o.s[g] = b.d;
  for (int i = 0; i < 256; ++i) o.q[i] = b.qs[i];
}

void decode(const BlockIQ4NL& b, Decoded& o) {
  o.n = 32;
  o.has_min = false;
  o.s[0] = o.s[1] = h2f(b.d);
  for (int j = 0; j < 16; ++j) {
    o.q[j] = kIq4nlLevels[b.qs[j] & 0x0F];
    o.q[j + 16] = kIq4nlLevels[b.qs[j] >> 4];
  }
}

void decode(const BlockIQ4XS& b, Decoded& o) {
  o.n = 256;
  o.has_min = false;
  const float d = h2f(b.d);
  for (int j = 0; j < 8; ++j) {
    const int ls = ((b.scales_l[j / 2] >> (4 * (j % 2))) & 0x0F) | (((b.scales_h >> (2 * j)) & 3) << 4);
    o.s[2 * j] = o.s[2 * j + 1] = d * static_cast<float>(ls - 32);
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

}  // namespace bigdl::detail::quant
