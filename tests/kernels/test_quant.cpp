// Low-bit block formats (src/backend/cpu/quant/): layout, reference quantization,
// SIMD tables against the reference, and real GGUF tensors.
//
// Error bounds checked (d, m are the block's fp16 scale and minimum as stored; the
// 2^-11 terms are fp16's rounding of d and m, which quantization does not see):
//   sym_int4  |w - x| <= |d| (0.5 + 8 * 2^-11), and |d| (1 + 8 * 2^-11) for the values
//             that clamp to level 15 (x/d > 7.5: the side opposite the max element)
//   sym_int5  |w - x| <= |d| (0.5 + 16 * 2^-11), |d| (1 + 16 * 2^-11) when x/d > 15.5
//   sym_int8  |w - x| <= |d| (0.5 + 127 * 2^-11)
//   asym_int4 |w - x| <= d/2 + 2^-11 (|m| + 15 d)
//   asym_int5 |w - x| <= d/2 + 2^-11 (|m| + 31 d)
//   nf4       |w - x| <= |d| (g + 2^-11), g = half the widest gap between levels (0.1519)
//   nf3       the same with nf3's levels (g = 0.2325)
//   fp4       |w - x| <= |d| (1/6 + 2^-11)   (half of e2m1's widest gap 4 -> 6, times the
//             scale d / 6; d is the fp16 block absmax)
//   fp8_e4m3  |w - x| <= |x| (2^-4 + 2^-10) + (|d| / 448) 2^-10   (half an ulp of 3 mantissa
//             bits, or of the subnormal step 2^-9, plus the fp16 rounding of d)
//   fp8_e5m2  |w - x| <= |x| (2^-3 + 2^-10) + (|d| / 57344) 2^-17
//   fp16      |w - x| <= |x| 2^-11 + 2^-25;  bf16  |w - x| <= |x| 2^-8
// each with a relative slack of 1e-4 for f32 rounding. SIMD dequantize is bit-exact;
// SIMD vec_dot is within 1e-5 * sum_i |w_i x_i| of the (double-accumulated) reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/cpu/quant/quant.h"
#include "bigdl/dtype.h"
#include "bigdl/error.h"
#include "bigdl/tensor.h"  // set_num_threads

namespace bigdl::detail::quant {
namespace {

const QType kAllTypes[] = {QType::sym_int4, QType::asym_int4, QType::sym_int5, QType::asym_int5,
                           QType::sym_int8, QType::nf4,       QType::nf3,      QType::fp4,
                           QType::fp8_e4m3, QType::fp8_e5m2,  QType::fp16,     QType::bf16};

std::string type_name(const testing::TestParamInfo<QType>& p) { return qtype_info(p.param).name; }

std::vector<uint8_t> quantize(QType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(static_cast<size_t>(row_bytes(t, static_cast<int64_t>(x.size()))));
  qtype_info(t).quantize_row(x.data(), q.data(), static_cast<int64_t>(x.size()));
  return q;
}
std::vector<float> dequantize(QType t, const uint8_t* q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  qtype_info(t).dequantize_row(q, y.data(), n);
  return y;
}

uint16_t u16_at(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

// fp16 / bf16 blocks are raw values with no scale.
bool has_scale(QType t) { return t != QType::fp16 && t != QType::bf16; }
// The fp16 scale / minimum of block b (all scaled formats start with d; asym ones have m
// next); 0 for fp16 / bf16.
float block_d(QType t, const uint8_t* q, int64_t b) {
  return has_scale(t) ? half_to_float(u16_at(q + b * qtype_info(t).block_bytes)) : 0.0f;
}
float block_m(QType t, const uint8_t* q, int64_t b) {
  return half_to_float(u16_at(q + b * qtype_info(t).block_bytes + 2));
}

// Half the widest gap between adjacent levels of an ascending table.
double half_widest_gap(const float* levels, int n) {
  double g = 0;
  for (int k = 0; k + 1 < n; ++k) g = std::max(g, (static_cast<double>(levels[k + 1]) - levels[k]) / 2);
  return g;
}

// Largest allowed |w - x| for value x in a block with stored d, m (see the top).
double error_bound(QType t, double x, double d, double m) {
  const double e = std::ldexp(1.0, -11);
  const double ax = std::fabs(x), ad = std::fabs(d);
  double b = 0;
  switch (t) {
    case QType::sym_int4:
      b = std::fabs(d) * ((x / d > 7.4 ? 1.0 : 0.5) + 8 * e);
      break;
    case QType::sym_int5:
      b = std::fabs(d) * ((x / d > 15.4 ? 1.0 : 0.5) + 16 * e);
      break;
    case QType::sym_int8:
      b = std::fabs(d) * (0.5 + 127 * e);
      break;
    case QType::asym_int4:
      b = d / 2 + e * (std::fabs(m) + 15 * d);
      break;
    case QType::asym_int5:
      b = d / 2 + e * (std::fabs(m) + 31 * d);
      break;
    case QType::nf4:
      b = ad * (half_widest_gap(kNf4Levels, 16) + e);
      break;
    case QType::nf3:
      b = ad * (half_widest_gap(kNf3Levels, 8) + e);
      break;
    case QType::fp4:
      b = ad * (1.0 / 6 + e);
      break;
    case QType::fp8_e4m3:
      b = ax * (std::ldexp(1.0, -4) + 2 * e) + ad / 448 * std::ldexp(1.0, -10);
      break;
    case QType::fp8_e5m2:
      b = ax * (std::ldexp(1.0, -3) + 2 * e) + ad / 57344 * std::ldexp(1.0, -17);
      break;
    case QType::fp16:
      b = ax * e + std::ldexp(1.0, -25);
      break;
    case QType::bf16:
      b = ax * std::ldexp(1.0, -8);
      break;
  }
  return b * (1 + 1e-4) + 1e-30;
}
bool is_asym(QType t) { return t == QType::asym_int4 || t == QType::asym_int5; }

// ---------------------------------------------------------------- layout / table

TEST(QuantLayout, sizes_and_offsets_match_ggml) {
  EXPECT_EQ(sizeof(BlockQ4_0), 18u);
  EXPECT_EQ(offsetof(BlockQ4_0, d), 0u);
  EXPECT_EQ(offsetof(BlockQ4_0, qs), 2u);
  EXPECT_EQ(sizeof(BlockQ4_1), 20u);
  EXPECT_EQ(offsetof(BlockQ4_1, d), 0u);
  EXPECT_EQ(offsetof(BlockQ4_1, m), 2u);
  EXPECT_EQ(offsetof(BlockQ4_1, qs), 4u);
  EXPECT_EQ(sizeof(BlockQ5_0), 22u);
  EXPECT_EQ(offsetof(BlockQ5_0, d), 0u);
  EXPECT_EQ(offsetof(BlockQ5_0, qh), 2u);
  EXPECT_EQ(offsetof(BlockQ5_0, qs), 6u);
  EXPECT_EQ(sizeof(BlockQ5_1), 24u);
  EXPECT_EQ(offsetof(BlockQ5_1, d), 0u);
  EXPECT_EQ(offsetof(BlockQ5_1, m), 2u);
  EXPECT_EQ(offsetof(BlockQ5_1, qh), 4u);
  EXPECT_EQ(offsetof(BlockQ5_1, qs), 8u);
  EXPECT_EQ(sizeof(BlockQ8_0), 34u);
  EXPECT_EQ(offsetof(BlockQ8_0, d), 0u);
  EXPECT_EQ(offsetof(BlockQ8_0, qs), 2u);
  EXPECT_EQ(sizeof(BlockNF4), 18u);
  EXPECT_EQ(offsetof(BlockNF4, qs), 2u);
  EXPECT_EQ(sizeof(BlockNF3), 14u);
  EXPECT_EQ(offsetof(BlockNF3, qs), 2u);
  EXPECT_EQ(offsetof(BlockNF3, qh), 10u);
  EXPECT_EQ(sizeof(BlockFP4), 18u);
  EXPECT_EQ(offsetof(BlockFP4, qs), 2u);
  EXPECT_EQ(sizeof(BlockFP8E4M3), 34u);
  EXPECT_EQ(offsetof(BlockFP8E4M3, qs), 2u);
  EXPECT_EQ(sizeof(BlockFP8E5M2), 34u);
  EXPECT_EQ(offsetof(BlockFP8E5M2, qs), 2u);
  EXPECT_EQ(sizeof(BlockF16), 64u);
  EXPECT_EQ(sizeof(BlockBF16), 64u);
}

TEST(QuantLayout, type_table) {
  struct Row {
    QType t;
    const char *name, *ggml;
    int id;
    int64_t bytes;
    bool int8_act;
    int64_t block = 32;
  };
  const Row rows[] = {{QType::sym_int4, "sym_int4", "q4_0", 2, 18, true},
                      {QType::asym_int4, "asym_int4", "q4_1", 3, 20, true},
                      {QType::sym_int5, "sym_int5", "q5_0", 6, 22, true},
                      {QType::asym_int5, "asym_int5", "q5_1", 7, 24, true},
                      {QType::sym_int8, "sym_int8", "q8_0", 8, 34, true},
                      {QType::nf4, "nf4", "nf4", 1024, 18, true},
                      {QType::nf3, "nf3", "nf3", 1025, 14, true},
                      {QType::fp4, "fp4", "fp4", 1026, 18, true},
                      {QType::fp8_e4m3, "fp8_e4m3", "fp8_e4m3", 1027, 34, false},
                      {QType::fp8_e5m2, "fp8_e5m2", "fp8_e5m2", 1028, 34, false},
                      {QType::fp16, "fp16", "f16", 1, 64, false},
                      {QType::bf16, "bf16", "bf16", 30, 64, false},
                      {QType::q2_k, "q2_k", "q2_K", 10, 84, true, 256},
                      {QType::q3_k, "q3_k", "q3_K", 11, 110, true, 256},
                      {QType::q4_k, "q4_k", "q4_K", 12, 144, true, 256},
                      {QType::q5_k, "q5_k", "q5_K", 13, 176, true, 256},
                      {QType::q6_k, "q6_k", "q6_K", 14, 210, true, 256},
                      {QType::q8_k, "q8_k", "q8_K", 15, 292, true, 256},
                      {QType::iq4_nl, "iq4_nl", "iq4_nl", 20, 18, true},
                      {QType::iq4_xs, "iq4_xs", "iq4_xs", 23, 136, true, 256}};
  ASSERT_EQ(kNumQTypes, 20);
  for (const Row& r : rows) {
    const QTypeInfo& info = qtype_info(r.t);
    EXPECT_EQ(info.type, r.t);
    EXPECT_STREQ(info.name, r.name);
    EXPECT_STREQ(info.ggml_name, r.ggml);
    EXPECT_EQ(info.ggml_type, r.id);
    EXPECT_EQ(info.block_size, r.block);
    EXPECT_EQ(info.block_bytes, r.bytes);
    EXPECT_EQ(info.int8_act, r.int8_act);
    EXPECT_EQ(row_bytes(r.t, 4096), 4096 / r.block * r.bytes);
  }
}

TEST(QuantDispatch, tables) {
  EXPECT_EQ(quant_kernels_for(Isa::scalar), &quant_kernels_ref());
  const QuantKernels& k = quant_kernels();
  EXPECT_NE(k.name, nullptr);
  for (int t = 0; t < kNumQTypes; ++t) {
    EXPECT_NE(k.dequantize_row[t], nullptr);
    EXPECT_NE(k.vec_dot[t], nullptr);
    EXPECT_NE(k.vec_dot_q8[t], nullptr);
  }
  EXPECT_NE(k.quantize_act, nullptr);
  if (detect_isa() == Isa::scalar) EXPECT_EQ(quant_kernels_for(Isa::avx2), nullptr);
  EXPECT_EQ(&quant_kernels(), quant_kernels_for(chosen_isa()));
  EXPECT_STREQ(k.name, isa_name(chosen_isa()));
  for (Isa isa : kAllIsas) EXPECT_EQ(quant_kernels_for(isa) != nullptr, static_cast<int>(isa) <= static_cast<int>(detect_isa()));
}

TEST(QuantDispatch, vnni_table_replaces_only_the_int8_kernels) {
  const QuantKernels* vnni = quant_kernels_for(Isa::avx512vnni);
  if (vnni == nullptr) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  const QuantKernels* base = quant_kernels_for(Isa::avx512);
  ASSERT_NE(base, nullptr);
  for (int t = 0; t < kNumQTypes; ++t) {
    EXPECT_EQ(vnni->dequantize_row[t], base->dequantize_row[t]);
    EXPECT_EQ(vnni->vec_dot[t], base->vec_dot[t]);
    // The float formats keep the avx512 widening path; so do the K-quants and the i-quants
    // (quant_k_x86.inc: their scale step needs the int16 pair sums of maddubs, which
    // vpdpbusd does not produce; quant_avx512vnni.cpp). Every other int8 format has its own.
    const QType type = static_cast<QType>(t);
    const bool k_family = qtype_info(type).act == ActQ8::k256 || type == QType::iq4_nl;
    EXPECT_EQ(vnni->vec_dot_q8[t] == base->vec_dot_q8[t], !qtype_info(type).int8_act || k_family) << t;
    EXPECT_EQ(vnni->vec_dot_q8k[t], base->vec_dot_q8k[t]) << t;
  }
}

// ---------------------------------------------------------------- known blocks

std::vector<float> iota_block(float start) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = start + static_cast<float>(j);
  return x;
}

TEST(QuantKnown, sym_int8_0_to_31) {
  // d = 31/127 = 0.24409... -> fp16 2000 * 2^-13 = 0.244140625 = 0x33D0;
  // q_j = round(j * 127/31) (no ties: 31 does not divide 2 * 127 * j for 0 < j < 31).
  const uint8_t expect_q[32] = {0,  4,  8,  12, 16, 20, 25,  29,  33,  37,  41,  45,  49,  53,  57,  61,
                                66, 70, 74, 78, 82, 86, 90, 94, 98, 102, 107, 111, 115, 119, 123, 127};
  const auto q = quantize(QType::sym_int8, iota_block(0));
  ASSERT_EQ(q.size(), 34u);
  EXPECT_EQ(u16_at(q.data()), 0x33D0);
  EXPECT_EQ(half_to_float(0x33D0), 0.244140625f);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(q[2 + j], expect_q[j]) << j;
  const auto w = dequantize(QType::sym_int8, q.data(), 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(w[j], static_cast<float>(expect_q[j]) * 0.244140625f);
}

TEST(QuantKnown, sym_int4_minus16_to_15) {
  // max |x| = 16 at x = -16, so d = -16 / -8 = 2 (0x4000); q = min(15, trunc(x/2 + 8.5))
  // = floor((j + 1) / 2) clamped to 15; qs[j] = q_j | q_{j+16} << 4.
  const uint8_t expect_qs[16] = {0x80, 0x91, 0x91, 0xA2, 0xA2, 0xB3, 0xB3, 0xC4,
                                 0xC4, 0xD5, 0xD5, 0xE6, 0xE6, 0xF7, 0xF7, 0xF8};
  const auto q = quantize(QType::sym_int4, iota_block(-16));
  ASSERT_EQ(q.size(), 18u);
  EXPECT_EQ(u16_at(q.data()), 0x4000);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(q[2 + j], expect_qs[j]) << j;
  const auto w = dequantize(QType::sym_int4, q.data(), 32);
  for (int j = 0; j < 32; ++j) {
    const int level = j + 1 < 31 ? (j + 1) / 2 : 15;
    EXPECT_EQ(w[j], 2.0f * static_cast<float>(level - 8)) << j;
  }
}

TEST(QuantKnown, asym_int4_0_to_31) {
  // d = 31/15 -> fp16 1058 * 2^-9 = 2.06640625 (0x4022), m = 0; q = round(15 j / 31).
  const uint8_t expect_qs[16] = {0x80, 0x80, 0x91, 0x91, 0xA2, 0xA2, 0xB3, 0xB3,
                                 0xC4, 0xC4, 0xD5, 0xD5, 0xE6, 0xE6, 0xF7, 0xF7};
  const auto q = quantize(QType::asym_int4, iota_block(0));
  ASSERT_EQ(q.size(), 20u);
  EXPECT_EQ(u16_at(q.data()), 0x4022);
  EXPECT_EQ(u16_at(q.data() + 2), 0x0000);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(q[4 + j], expect_qs[j]) << j;
  const auto w = dequantize(QType::asym_int4, q.data(), 32);
  EXPECT_EQ(w[31], 15 * 2.06640625f);
}

TEST(QuantKnown, sym_int5_minus16_to_15_is_exact) {
  // d = -16 / -16 = 1 (0x3C00), q_j = j: qs[j] = 0x11 * j, fifth bits set for j >= 16.
  const auto q = quantize(QType::sym_int5, iota_block(-16));
  ASSERT_EQ(q.size(), 22u);
  EXPECT_EQ(u16_at(q.data()), 0x3C00);
  const uint8_t expect_qh[4] = {0x00, 0x00, 0xFF, 0xFF};
  for (int k = 0; k < 4; ++k) EXPECT_EQ(q[2 + k], expect_qh[k]) << k;
  for (int j = 0; j < 16; ++j) EXPECT_EQ(q[6 + j], 0x11 * j) << j;
  const auto w = dequantize(QType::sym_int5, q.data(), 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(w[j], static_cast<float>(j - 16));
}

TEST(QuantKnown, asym_int5_0_to_31_is_exact) {
  const auto q = quantize(QType::asym_int5, iota_block(0));
  ASSERT_EQ(q.size(), 24u);
  EXPECT_EQ(u16_at(q.data()), 0x3C00);
  EXPECT_EQ(u16_at(q.data() + 2), 0x0000);
  const uint8_t expect_qh[4] = {0x00, 0x00, 0xFF, 0xFF};
  for (int k = 0; k < 4; ++k) EXPECT_EQ(q[4 + k], expect_qh[k]) << k;
  for (int j = 0; j < 16; ++j) EXPECT_EQ(q[8 + j], 0x11 * j) << j;
  const auto w = dequantize(QType::asym_int5, q.data(), 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(w[j], static_cast<float>(j));
}

// ---------------------------------------------------------------- round trip

class QuantRoundTrip : public testing::TestWithParam<QType> {};

TEST_P(QuantRoundTrip, error_within_bound) {
  const QType t = GetParam();
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  const int64_t nb = 512;
  std::vector<float> x(static_cast<size_t>(nb * 32));
  for (int64_t b = 0; b < nb; ++b) {
    // Mix of shapes: normal, uniform, offset (all positive), one outlier, all zero, constant.
    const int kind = static_cast<int>(b % 6);
    for (int j = 0; j < 32; ++j) {
      float v = 0;
      switch (kind) {
        case 0: v = normal(rng); break;
        case 1: v = uni(rng) * 0.01f; break;
        case 2: v = 10.0f + uni(rng); break;
        case 3: v = (j == 7 ? 50.0f : 0.0f) + normal(rng) * 0.1f; break;
        case 4: v = 0.0f; break;
        case 5: v = -3.25f; break;
      }
      x[static_cast<size_t>(b * 32 + j)] = v;
    }
  }
  const auto q = quantize(t, x);
  const auto w = dequantize(t, q.data(), static_cast<int64_t>(x.size()));
  double worst_ratio = 0;  // max over elements of |w - x| / |d|
  double worst_amax = 0;   // max over elements of |w - x| / (the block's max |x|)
  for (int64_t b = 0; b < nb; ++b) {
    const double d = block_d(t, q.data(), b);
    const double m = is_asym(t) ? block_m(t, q.data(), b) : 0.0;
    double amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(static_cast<double>(x[static_cast<size_t>(b * 32 + j)])));
    for (int j = 0; j < 32; ++j) {
      const size_t i = static_cast<size_t>(b * 32 + j);
      const double err = std::fabs(static_cast<double>(w[i]) - x[i]);
      ASSERT_LE(err, error_bound(t, x[i], d, m)) << "block " << b << " j " << j << " x " << x[i] << " d " << d;
      if (d != 0) worst_ratio = std::max(worst_ratio, err / std::fabs(d));
      if (amax != 0) worst_amax = std::max(worst_amax, err / amax);
    }
    if (b % 6 == 4) {
      for (int j = 0; j < 32; ++j) EXPECT_EQ(w[static_cast<size_t>(b * 32 + j)], 0.0f);
    }
  }
  std::printf("[ measured ] %s max |w - x| / |d| = %.4f, / block max|x| = %.4g\n", qtype_info(t).name, worst_ratio,
              worst_amax);
}

INSTANTIATE_TEST_SUITE_P(Quant, QuantRoundTrip, testing::ValuesIn(kAllTypes), type_name);

// ---------------------------------------------------------------- SIMD vs reference

struct SimdCase {
  Isa isa;
  QType type;
};
std::string simd_name(const testing::TestParamInfo<SimdCase>& p) {
  return std::string(isa_name(p.param.isa)) + "_" + qtype_info(p.param.type).name;
}
std::vector<SimdCase> simd_cases() {
  std::vector<SimdCase> v;
  for (Isa isa : kAllIsas)
    for (QType t : kAllTypes) v.push_back({isa, t});
  return v;
}

class QuantSimd : public testing::TestWithParam<SimdCase> {
 protected:
  const QuantKernels* table() {
    const QuantKernels* k = quant_kernels_for(GetParam().isa);
    if (k == nullptr) return nullptr;
    return k;
  }
};

// Random weights quantized with the reference, at byte offset `woff` (2 keeps the
// blocks' 2-byte alignment but nothing more) and floats at element offset `xoff`.
struct Data {
  std::vector<uint8_t> wbuf;
  std::vector<float> xbuf, ybuf;
  const uint8_t* w;
  const float* x;
  float* y;
};
Data make_data(QType t, int64_t n, size_t woff, size_t xoff, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> src(static_cast<size_t>(n));
  for (auto& v : src) v = normal(rng) + (is_asym(t) ? 0.3f : 0.0f);
  const auto q = quantize(t, src);
  Data d;
  d.wbuf.assign(q.size() + 64, 0);
  std::memcpy(d.wbuf.data() + woff, q.data(), q.size());
  d.xbuf.assign(static_cast<size_t>(n) + 16, 0.0f);
  d.ybuf.assign(static_cast<size_t>(n) + 16, 0.0f);
  for (int64_t i = 0; i < n; ++i) d.xbuf[xoff + static_cast<size_t>(i)] = normal(rng);
  d.w = d.wbuf.data() + woff;
  d.x = d.xbuf.data() + xoff;
  d.y = d.ybuf.data() + xoff;
  return d;
}

TEST_P(QuantSimd, dequantize_bit_exact) {
  const QuantKernels* k = table();
  if (k == nullptr) GTEST_SKIP() << "CPU lacks " << isa_name(GetParam().isa);
  const QType t = GetParam().type;
  for (int64_t n : {32, 64, 4096}) {
    for (size_t woff : {0u, 2u, 6u}) {
      for (size_t xoff : {0u, 1u, 3u}) {
        Data d = make_data(t, n, woff, xoff, static_cast<uint32_t>(n + woff * 7 + xoff));
        const auto ref = dequantize(t, d.w, n);
        k->dequantize_row[static_cast<int>(t)](d.w, d.y, n);
        for (int64_t i = 0; i < n; ++i) {
          uint32_t a, b;
          std::memcpy(&a, &ref[static_cast<size_t>(i)], 4);
          std::memcpy(&b, &d.y[i], 4);
          ASSERT_EQ(a, b) << "n " << n << " i " << i << " ref " << ref[static_cast<size_t>(i)] << " got " << d.y[i];
        }
        // Nothing written past n.
        EXPECT_EQ(d.y[n], 0.0f);
      }
    }
  }
}

TEST_P(QuantSimd, vec_dot_matches_reference) {
  const QuantKernels* k = table();
  if (k == nullptr) GTEST_SKIP() << "CPU lacks " << isa_name(GetParam().isa);
  const QType t = GetParam().type;
  for (int64_t n : {32, 64, 96, 4096}) {
    for (size_t woff : {0u, 2u}) {
      for (size_t xoff : {0u, 1u}) {
        Data d = make_data(t, n, woff, xoff, static_cast<uint32_t>(3 * n + woff + xoff));
        const auto w = dequantize(t, d.w, n);
        double abs_sum = 0, exact = 0;
        for (int64_t i = 0; i < n; ++i) {
          abs_sum += std::fabs(static_cast<double>(w[static_cast<size_t>(i)]) * d.x[i]);
          exact += static_cast<double>(w[static_cast<size_t>(i)]) * d.x[i];
        }
        const float ref = quant_kernels_ref().vec_dot[static_cast<int>(t)](n, d.w, d.x);
        const float got = k->vec_dot[static_cast<int>(t)](n, d.w, d.x);
        EXPECT_NEAR(ref, exact, 1e-6 * abs_sum) << "reference vs exact, n " << n;
        EXPECT_NEAR(got, ref, 1e-5 * abs_sum) << "n " << n << " woff " << woff << " xoff " << xoff;
      }
    }
  }
}

TEST_P(QuantSimd, gemv_rows) {
  const QuantKernels* k = table();
  if (k == nullptr) GTEST_SKIP() << "CPU lacks " << isa_name(GetParam().isa);
  const QType t = GetParam().type;
  const int64_t rows = 7, cols = 96;
  Data d = make_data(t, rows * cols, 0, 1, 99);
  std::vector<float> y(rows);
  gemv(t, rows, cols, d.w, d.x, y.data(), *k);
  const int64_t stride = row_bytes(t, cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float ref = quant_kernels_ref().vec_dot[static_cast<int>(t)](cols, d.w + r * stride, d.x);
    const auto w = dequantize(t, d.w + r * stride, cols);
    double abs_sum = 0;
    for (int64_t c = 0; c < cols; ++c) abs_sum += std::fabs(w[static_cast<size_t>(c)] * d.x[c]);
    EXPECT_NEAR(y[static_cast<size_t>(r)], ref, 1e-5 * abs_sum) << r;
  }
}

INSTANTIATE_TEST_SUITE_P(Quant, QuantSimd, testing::ValuesIn(simd_cases()), simd_name);

TEST(QuantGemv, rejects_cols_not_multiple_of_32) {
  std::vector<uint8_t> w(64);
  std::vector<float> x(40), y(1);
  try {
    gemv(QType::sym_int4, 1, 40, w.data(), x.data(), y.data());
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("[quant::gemv] sym_int4 needs cols to be a multiple of 32"), std::string::npos)
        << e.what();
  }
}

// ---------------------------------------------------------------- int8 activations

std::vector<BlockQ8A> quantize_act(const QuantKernels& k, const float* x, int64_t n) {
  std::vector<BlockQ8A> q(static_cast<size_t>(n / kBlockSize));
  k.quantize_act(x, q.data(), n);
  return q;
}

TEST(QuantAct, reference_rule) {
  // amax 127 gives d = 1, so q = round_half_even(x): 2.5 -> 2, 3.5 -> 4, -2.5 -> -2.
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f, x[1] = 2.5f, x[2] = 3.5f, x[3] = -2.5f, x[4] = 0.49f, x[5] = -127.0f;
  BlockQ8A b;
  quantize_act_ref(x.data(), &b, 32);
  EXPECT_EQ(b.d, 1.0f);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], 2);
  EXPECT_EQ(b.qs[2], 4);
  EXPECT_EQ(b.qs[3], -2);
  EXPECT_EQ(b.qs[4], 0);
  EXPECT_EQ(b.qs[5], -127);
  EXPECT_EQ(b.s, 127.0f + 2 + 4 - 2 + 0 - 127);
  // An all-zero block: d = 0, every q = 0.
  std::vector<float> z(32, 0.0f);
  quantize_act_ref(z.data(), &b, 32);
  EXPECT_EQ(b.d, 0.0f);
  EXPECT_EQ(b.s, 0.0f);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(b.qs[i], 0);
}

TEST(QuantAct, simd_quantize_bit_exact_and_within_half_step) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n = 4096;
  std::vector<float> xbuf(static_cast<size_t>(n) + 1);
  float* x = xbuf.data() + 1;  // misaligned floats
  for (int64_t i = 0; i < n; ++i) x[i] = normal(rng);
  for (int i = 0; i < 32; ++i) x[32 + i] = 0.0f;                         // zero block
  for (int i = 0; i < 32; ++i) x[64 + i] = 1e-30f * normal(rng);         // tiny
  for (int i = 0; i < 32; ++i) x[96 + i] = static_cast<float>(i - 16) + 0.5f;  // half-integers
  x[128] = 1e4f;                                                         // outlier
  for (int i = 0; i < 32; ++i) x[160 + i] = (i % 2 ? 1.0f : -1.0f) * static_cast<float>(i) * 127.0f / 31.0f;
  const auto ref = quantize_act(quant_kernels_ref(), x, n);
  // q comes from the f32 d = max|x| / 127 and is within half a step of x / d; the stored d
  // is that value rounded to fp16 (relative error <= 2^-11, absolute <= 2^-25 below fp16's
  // normal range; a block of values below ~3e-8 gets d = 0), which moves q * d by up to
  // 127 times that.
  for (int64_t b = 0; b < n / kBlockSize; ++b) {
    double amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(static_cast<double>(x[b * 32 + i])));
    const double d = amax / 127, d16 = std::max(d * std::ldexp(1.0, -11), std::ldexp(1.0, -25));
    for (int i = 0; i < 32; ++i) {
      const float xi = x[b * 32 + i];
      ASSERT_LE(std::fabs(static_cast<double>(ref[b].qs[i]) * ref[b].d - xi), (0.5 * d + 127 * d16) * (1 + 1e-5) + 1e-45)
          << "block " << b << " i " << i;
    }
    EXPECT_EQ(ref[b].d, half_to_float(float_to_half(ref[b].d))) << "d is an fp16 value, block " << b;
  }
  for (Isa isa : kAllIsas) {
    const QuantKernels* k = quant_kernels_for(isa);
    if (k == nullptr) continue;
    const auto got = quantize_act(*k, x, n);
    ASSERT_EQ(std::memcmp(got.data(), ref.data(), ref.size() * sizeof(BlockQ8A)), 0) << k->name;
  }
}

// The int8 level of weight i of a codebook block (nf4, nf3, fp4), decoded here
// independently of the kernels from the layout in quant.h.
int int8_level(QType t, const uint8_t* blk, int i) {
  if (t == QType::nf3) {
    const uint8_t* qs = blk + 2;
    const uint32_t qh = static_cast<uint32_t>(blk[10] | blk[11] << 8 | blk[12] << 16) | static_cast<uint32_t>(blk[13]) << 24;
    const int code = ((qs[i % 8] >> (2 * (i / 8))) & 3) | static_cast<int>((qh >> i) & 1u) << 2;
    return kNf3Levels8[code];
  }
  const int code = i < 16 ? (blk[2 + i] & 0x0F) : (blk[2 + i - 16] >> 4);
  return t == QType::nf4 ? kNf4Levels8[code] : kFp4Levels8[code];
}
bool is_codebook(QType t) { return t == QType::nf4 || t == QType::nf3 || t == QType::fp4; }

// Weights and activations whose scales are powers of two and whose levels are small
// integers: every per-block term and every partial sum is then exact in f32 (n <= 1024
// keeps |sum| < 2^24 units), so any summation order gives the same float, and SIMD vs
// reference checks the integer part (levels, zero points, high bits, sign trick, the
// codebook lookups) bit for bit. Weight bytes are random, so every level and every qh
// bit occurs. The codebook formats' final / 127 or / 12 is then one f32 operation on
// the same exact float. The float formats have no integer part (skipped; their
// vec_dot_q8 is checked by vec_dot_q8_matches_reference).
TEST_P(QuantSimd, vec_dot_q8_integer_part_exact) {
  const QuantKernels* k = table();
  if (k == nullptr) GTEST_SKIP() << "CPU lacks " << isa_name(GetParam().isa);
  const QType t = GetParam().type;
  if (!qtype_info(t).int8_act) GTEST_SKIP() << qtype_info(t).name << " has no integer path";
  const int64_t bb = qtype_info(t).block_bytes;
  for (int64_t n : {32, 64, 96, 1024}) {
    std::mt19937 rng(static_cast<uint32_t>(n));
    std::uniform_int_distribution<int> byte(0, 255), lvl(-127, 127), small(-15, 15);
    const int64_t nb = n / kBlockSize;
    std::vector<uint8_t> wbuf(static_cast<size_t>(nb * bb) + 2);
    uint8_t* w = wbuf.data() + 2;
    for (int64_t i = 0; i < nb * bb; ++i) w[i] = static_cast<uint8_t>(byte(rng));
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* blk = w + b * bb;
      const uint16_t d = 0x2C00;  // fp16 2^-4
      std::memcpy(blk, &d, 2);
      if (is_asym(t)) {
        const uint16_t m = float_to_half(static_cast<float>(small(rng)) / 16.0f);
        std::memcpy(blk + 2, &m, 2);
      }
      if (t == QType::sym_int8 && b == 0) blk[2] = 0x80, blk[3] = 0x80;  // level -128
    }
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t b = 0; b < nb; ++b) {
      for (int i = 0; i < 32; ++i) x[static_cast<size_t>(b * 32 + i)] = static_cast<float>(lvl(rng)) / 8.0f;
      x[static_cast<size_t>(b * 32 + b % 32)] = (b % 2 ? -127.0f : 127.0f) / 8.0f;  // d_x = 2^-3 exactly
    }
    if (nb > 2) std::fill(x.begin() + 64, x.begin() + 96, 0.0f);  // a zero block
    const auto xq = quantize_act(quant_kernels_ref(), x.data(), n);
    const auto wd = dequantize(t, w, n);
    double exact = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double wi = is_codebook(t) ? int8_level(t, w + i / 32 * bb, static_cast<int>(i % 32)) * (1.0 / 16)
                                       : static_cast<double>(wd[static_cast<size_t>(i)]);
      exact += wi * xq[static_cast<size_t>(i / 32)].qs[i % 32] * xq[static_cast<size_t>(i / 32)].d;
    }
    const float ref = quant_kernels_ref().vec_dot_q8[static_cast<int>(t)](n, w, xq.data());
    const float got = k->vec_dot_q8[static_cast<int>(t)](n, w, xq.data());
    if (is_codebook(t)) {
      const float f = static_cast<float>(exact);  // exact in f32 (see above)
      ASSERT_EQ(static_cast<double>(f), exact);
      EXPECT_EQ(ref, t == QType::fp4 ? f / 12.0f : f / 127.0f) << "reference, n " << n;
    } else {
      EXPECT_EQ(static_cast<double>(ref), exact) << "reference, n " << n;
    }
    EXPECT_EQ(got, ref) << "n " << n;
  }
}

// General data: the kernels sum the same per-block terms in different orders (f32
// lanes vs double), so they agree to f32 summation error; 1e-5 * sum |w_i xq_i| as for
// vec_dot (measured: below 1e-6).
TEST_P(QuantSimd, vec_dot_q8_matches_reference) {
  const QuantKernels* k = table();
  if (k == nullptr) GTEST_SKIP() << "CPU lacks " << isa_name(GetParam().isa);
  const QType t = GetParam().type;
  for (int64_t n : {32, 64, 96, 4096}) {
    for (size_t woff : {0u, 2u}) {
      Data d = make_data(t, n, woff, 1, static_cast<uint32_t>(5 * n + woff));
      const auto xq = quantize_act(quant_kernels_ref(), d.x, n);
      const auto w = dequantize(t, d.w, n);
      double abs_sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double m = is_asym(t) ? std::fabs(block_m(t, d.w, i / 32)) : 0.0;
        abs_sum += (std::fabs(w[static_cast<size_t>(i)]) + 2 * m) *
                   std::fabs(xq[static_cast<size_t>(i / 32)].qs[i % 32] * xq[static_cast<size_t>(i / 32)].d);
      }
      const float ref = quant_kernels_ref().vec_dot_q8[static_cast<int>(t)](n, d.w, xq.data());
      const float got = k->vec_dot_q8[static_cast<int>(t)](n, d.w, xq.data());
      EXPECT_NEAR(got, ref, 1e-5 * abs_sum) << "n " << n << " woff " << woff;
    }
  }
}

// End to end: int8-activation gemv against the f32-activation reference gemv on a
// 64 x 4096 matrix with N(0,1) activations. Reported as ||y8 - y|| / ||y|| (what ggml's
// Q8_0 activations give is ~1e-3); bound 5e-3, 8e-3 for nf4 / nf3 whose int8 levels
// add their own rounding (docs/quant.md). gemv_parallel with f32 activations must equal
// gemv bit for bit, GemvAct::int8 must equal it too for the float formats (no integer
// path), and the thread count must not change any result.
TEST_P(QuantSimd, gemv_int8_activation_error) {
  const QuantKernels* k = table();
  if (k == nullptr) GTEST_SKIP() << "CPU lacks " << isa_name(GetParam().isa);
  const QType t = GetParam().type;
  const int64_t rows = 64, cols = 4096;
  Data d = make_data(t, rows * cols, 0, 0, 11);
  std::vector<float> yref(rows), yf(rows), y8(rows), y8b(rows);
  gemv(t, rows, cols, d.w, d.x, yref.data(), quant_kernels_ref());
  gemv(t, rows, cols, d.w, d.x, yf.data(), *k);
  const int saved = get_num_threads();
  set_num_threads(2);
  std::vector<float> yp(rows);
  gemv_parallel(t, rows, cols, d.w, d.x, yp.data(), GemvAct::f32, *k);
  gemv_parallel(t, rows, cols, d.w, d.x, y8.data(), GemvAct::int8, *k);
  set_num_threads(1);
  gemv_parallel(t, rows, cols, d.w, d.x, y8b.data(), GemvAct::int8, *k);
  set_num_threads(saved);
  double num = 0, den = 0, worst = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const double e = static_cast<double>(y8[static_cast<size_t>(r)]) - yref[static_cast<size_t>(r)];
    num += e * e;
    den += static_cast<double>(yref[static_cast<size_t>(r)]) * yref[static_cast<size_t>(r)];
    worst = std::max(worst, std::fabs(e));
    ASSERT_EQ(yp[static_cast<size_t>(r)], yf[static_cast<size_t>(r)]) << "f32 gemv_parallel row " << r;
    ASSERT_EQ(y8[static_cast<size_t>(r)], y8b[static_cast<size_t>(r)]) << "1 vs 2 threads, row " << r;
    if (!qtype_info(t).int8_act) ASSERT_EQ(y8[static_cast<size_t>(r)], yf[static_cast<size_t>(r)]) << "f32 fallback, row " << r;
  }
  const double rel = std::sqrt(num / den);
  std::printf("[ measured ] %s %s int8-activation gemv 64x4096: rel L2 error %.2e, max |err| %.3g (rms y %.3g)\n",
              k->name, qtype_info(t).name, rel, worst, std::sqrt(den / rows));
  EXPECT_LT(rel, t == QType::nf4 || t == QType::nf3 ? 8e-3 : 5e-3);
}

TEST(QuantGemv, parallel_rejects_cols_not_multiple_of_32) {
  std::vector<uint8_t> w(64);
  std::vector<float> x(40), y(1);
  for (GemvAct act : {GemvAct::f32, GemvAct::int8}) {
    try {
      gemv_parallel(QType::sym_int4, 1, 40, w.data(), x.data(), y.data(), act);
      FAIL() << "expected ValueError";
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("[quant::gemv] sym_int4 needs cols to be a multiple of 32"),
                std::string::npos)
          << e.what();
    }
  }
}

// ---------------------------------------------------------------- real GGUF data

// Just enough GGUF (v2/v3) to find a tensor's type, shape and bytes. The project's
// GGUF reader lives elsewhere; this one stays private to the test on purpose.
struct GgufTensor {
  uint32_t type = 0;
  std::vector<uint64_t> dims;  // dims[0] is the contiguous (row) dimension
  const uint8_t* data = nullptr;
  uint64_t n_elements() const {
    uint64_t n = 1;
    for (uint64_t v : dims) n *= v;
    return n;
  }
};
struct GgufFile {
  std::vector<uint8_t> bytes;
  std::map<std::string, GgufTensor> tensors;
};

class Cursor {
 public:
  Cursor(const std::vector<uint8_t>& b) : b_(b) {}
  template <typename T>
  T get() {
    if (pos_ + sizeof(T) > b_.size()) throw std::runtime_error("gguf: truncated");
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str() {
    const uint64_t len = get<uint64_t>();
    if (pos_ + len > b_.size()) throw std::runtime_error("gguf: truncated string");
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), len);
    pos_ += len;
    return s;
  }
  void skip_value(uint32_t type) {
    static const size_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};  // by GGUF value type
    if (type == 8) {
      str();
    } else if (type == 9) {
      const uint32_t et = get<uint32_t>();
      const uint64_t count = get<uint64_t>();
      for (uint64_t i = 0; i < count; ++i) skip_value(et);
    } else if (type < 13) {
      pos_ += sizes[type];
    } else {
      throw std::runtime_error("gguf: bad value type");
    }
  }
  size_t pos() const { return pos_; }

 private:
  const std::vector<uint8_t>& b_;
  size_t pos_ = 0;
};

GgufFile read_gguf(const std::string& path) {
  GgufFile f;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  f.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  Cursor c(f.bytes);
  if (c.get<uint32_t>() != 0x46554747u) throw std::runtime_error("not GGUF: " + path);  // "GGUF"
  const uint32_t version = c.get<uint32_t>();
  if (version < 2) throw std::runtime_error("GGUF v1 not supported");
  const uint64_t n_tensors = c.get<uint64_t>();
  const uint64_t n_kv = c.get<uint64_t>();
  uint64_t alignment = 32;
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string key = c.str();
    const uint32_t type = c.get<uint32_t>();
    if (key == "general.alignment" && type == 4) {
      alignment = c.get<uint32_t>();
    } else {
      c.skip_value(type);
    }
  }
  std::vector<std::pair<std::string, uint64_t>> offsets;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    const std::string name = c.str();
    const uint32_t n_dims = c.get<uint32_t>();
    for (uint32_t k = 0; k < n_dims; ++k) t.dims.push_back(c.get<uint64_t>());
    t.type = c.get<uint32_t>();
    offsets.emplace_back(name, c.get<uint64_t>());
    f.tensors[name] = t;
  }
  const size_t data_start = (c.pos() + alignment - 1) / alignment * alignment;
  for (const auto& [name, off] : offsets) f.tensors[name].data = f.bytes.data() + data_start + off;
  return f;
}

std::string stories_path(const char* suffix) {
  return std::string(BIGDL_SHARED_DATA) + "/llm/stories260K/stories260K-" + suffix + ".gguf";
}

// Dequantizes `name` from the quantized file and compares with the F32 file.
void check_against_f32(const GgufFile& qf, const GgufFile& ff, const std::string& name, QType t) {
  const GgufTensor& qt = qf.tensors.at(name);
  const GgufTensor& ft = ff.tensors.at(name);
  ASSERT_EQ(qt.type, static_cast<uint32_t>(qtype_info(t).ggml_type)) << name;
  ASSERT_EQ(ft.type, 0u) << name;  // F32
  ASSERT_EQ(qt.dims, ft.dims) << name;
  const int64_t n = static_cast<int64_t>(qt.n_elements());
  ASSERT_EQ(n % 32, 0);
  const float* ref = reinterpret_cast<const float*>(ft.data);
  for (Isa isa : kAllIsas) {
    const QuantKernels* k = quant_kernels_for(isa);
    if (k == nullptr) continue;
    std::vector<float> w(static_cast<size_t>(n));
    k->dequantize_row[static_cast<int>(t)](qt.data, w.data(), n);
    double worst = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t b = i / 32;
      const double d = block_d(t, qt.data, b);
      const double err = std::fabs(static_cast<double>(w[static_cast<size_t>(i)]) - ref[i]);
      ASSERT_LE(err, error_bound(t, ref[i], d, 0)) << name << " " << k->name << " i " << i;
      if (d != 0) worst = std::max(worst, err / std::fabs(d));
    }
    std::printf("[ measured ] %s %s (%s): max |w - x| / |d| = %.4f over %lld weights\n", name.c_str(),
                qtype_info(t).ggml_name, k->name, worst, static_cast<long long>(n));
  }
}

// Quantizes the F32 tensor with our reference and counts bytes that differ from the file.
int64_t requantize_diff(const GgufFile& qf, const GgufFile& ff, const std::string& name, QType t) {
  const GgufTensor& ft = ff.tensors.at(name);
  const int64_t n = static_cast<int64_t>(ft.n_elements());
  std::vector<float> x(reinterpret_cast<const float*>(ft.data), reinterpret_cast<const float*>(ft.data) + n);
  const auto q = quantize(t, x);
  int64_t diff = 0;
  for (size_t i = 0; i < q.size(); ++i) diff += q[i] != qf.tensors.at(name).data[i];
  return diff;
}

class QuantGguf : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    f32_ = new GgufFile(read_gguf(stories_path("f32")));
    q8_ = new GgufFile(read_gguf(stories_path("q8_0")));
    q4_ = new GgufFile(read_gguf(stories_path("q4_0")));
  }
  static void TearDownTestSuite() {
    delete f32_;
    delete q8_;
    delete q4_;
  }
  static GgufFile *f32_, *q8_, *q4_;
};
GgufFile *QuantGguf::f32_ = nullptr, *QuantGguf::q8_ = nullptr, *QuantGguf::q4_ = nullptr;

TEST_F(QuantGguf, q8_0_attn_q_dequantizes_within_bound) {
  check_against_f32(*q8_, *f32_, "blk.0.attn_q.weight", QType::sym_int8);
}

TEST_F(QuantGguf, q4_0_attn_q_dequantizes_within_bound) {
  check_against_f32(*q4_, *f32_, "blk.0.attn_q.weight", QType::sym_int4);
}

TEST_F(QuantGguf, q8_0_attn_q_requantizes_byte_identical) {
  const GgufTensor& t = q8_->tensors.at("blk.0.attn_q.weight");
  EXPECT_EQ(row_bytes(QType::sym_int8, static_cast<int64_t>(t.n_elements())), 34 * static_cast<int64_t>(t.n_elements()) / 32);
  EXPECT_EQ(requantize_diff(*q8_, *f32_, "blk.0.attn_q.weight", QType::sym_int8), 0);
}

// Every tensor stored as Q8_0 / Q4_0 in the quantized files: dequantization bound and
// byte-identical requantization (diff counts printed for the report).
TEST_F(QuantGguf, all_q8_0_and_q4_0_tensors) {
  for (const auto& [file, t] : {std::pair{q8_, QType::sym_int8}, std::pair{q4_, QType::sym_int4}}) {
    int64_t tensors = 0, bytes = 0, diff = 0;
    for (const auto& [name, qt] : file->tensors) {
      if (qt.type != static_cast<uint32_t>(qtype_info(t).ggml_type)) continue;
      const auto it = f32_->tensors.find(name);
      ASSERT_NE(it, f32_->tensors.end()) << name;
      if (it->second.type != 0) continue;
      const int64_t d = requantize_diff(*file, *f32_, name, t);
      ++tensors;
      bytes += row_bytes(t, static_cast<int64_t>(qt.n_elements()));
      diff += d;
      EXPECT_EQ(d, 0) << name;
    }
    std::printf("[ measured ] %s: %lld tensors, %lld bytes requantized, %lld differ\n", qtype_info(t).ggml_name,
                static_cast<long long>(tensors), static_cast<long long>(bytes), static_cast<long long>(diff));
    EXPECT_GT(tensors, 0);
  }
}

// ---------------------------------------------------------------- micro-benchmark

// Run with --gtest_also_run_disabled_tests --gtest_filter='QuantBench*'.
TEST(QuantBench, DISABLED_gemv_4096x4096_one_thread) {
  const int64_t rows = 4096, cols = 4096;
  for (QType t : kAllTypes) {
    Data d = make_data(t, rows * cols, 0, 0, 5);
    std::vector<float> y(rows);
    const double gbytes = static_cast<double>(row_bytes(t, cols) * rows) / 1e9;
    for (Isa isa : kAllIsas) {
      const QuantKernels* k = quant_kernels_for(isa);
      if (k == nullptr) continue;
      gemv(t, rows, cols, d.w, d.x, y.data(), *k);  // warm up
      double best = 1e30;
      for (int rep = 0; rep < (isa == Isa::scalar ? 3 : 20); ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        gemv(t, rows, cols, d.w, d.x, y.data(), *k);
        const auto t1 = std::chrono::steady_clock::now();
        best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
      }
      std::printf("[ bench ] gemv %s 4096x4096 %-6s %8.3f ms  %6.2f GB/s of weights\n", qtype_info(t).name, k->name,
                  best * 1e3, gbytes / best);
    }
  }
}


// f32- vs int8-activation gemv with the chosen table at 1 and 2 threads. Run with
// --gtest_also_run_disabled_tests --gtest_filter='QuantBench*'. The two activation
// modes alternate inside each repetition so machine noise hits both alike; best of 30.
TEST(QuantBench, DISABLED_gemv_threads_f32_vs_int8_activations) {
  const int saved = get_num_threads();
  const QuantKernels& k = quant_kernels();
  for (int64_t rows : {4096, 1024}) {
    const int64_t cols = 4096;
    for (QType t : kAllTypes) {
      Data d = make_data(t, rows * cols, 0, 0, 5);
      std::vector<float> y(static_cast<size_t>(rows));
      const double gbytes = static_cast<double>(row_bytes(t, cols) * rows) / 1e9;
      for (int threads : {1, 2}) {
        set_num_threads(threads);
        double best[2] = {1e30, 1e30};
        for (int rep = 0; rep < 31; ++rep) {
          for (int a = 0; a < 2; ++a) {
            const auto t0 = std::chrono::steady_clock::now();
            gemv_parallel(t, rows, cols, d.w, d.x, y.data(), a ? GemvAct::int8 : GemvAct::f32, k);
            const auto t1 = std::chrono::steady_clock::now();
            if (rep > 0) best[a] = std::min(best[a], std::chrono::duration<double>(t1 - t0).count());
          }
        }
        std::printf("[ bench ] %s gemv %-9s %4lldx%lld %d thr: f32-act %7.3f ms %6.2f GB/s | int8-act %7.3f ms %6.2f GB/s | x%.2f\n",
                    k.name, qtype_info(t).name, static_cast<long long>(rows), static_cast<long long>(cols), threads,
                    best[0] * 1e3, gbytes / best[0], best[1] * 1e3, gbytes / best[1], best[0] / best[1]);
      }
    }
  }
  set_num_threads(saved);
}

}  // namespace
}  // namespace bigdl::detail::quant
