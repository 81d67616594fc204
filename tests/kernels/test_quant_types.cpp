// bigdl-only low-bit formats (nf4, nf3, fp4, fp8_e4m3, fp8_e5m2) and the raw fp16 / bf16
// blocks (src/backend/cpu/quant/quant.h): golden blocks from an independent Python
// implementation (tests/kernels/gen_quant_golden.py: ml_dtypes / torch roundings, an
// argmin for the NormalFloat codes), hand-made blocks for the layout and the rounding
// rules, every minifloat code through every table, the int8 level tables, and GGUF files
// with the private type ids. The generic checks (round-trip bounds, SIMD vs reference,
// int8 activations) run for these types in test_quant.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "backend/cpu/quant/quant.h"
#include "bigdl/dtype.h"
#include "bigdl/io/gguf.h"
#include "bigdl/io/gguf_writer.h"

namespace bigdl::detail::quant {
namespace {


std::vector<uint8_t> quantize(QType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(static_cast<size_t>(row_bytes(t, static_cast<int64_t>(x.size()))));
  qtype_info(t).quantize_row(x.data(), q.data(), static_cast<int64_t>(x.size()));
  return q;
}
std::vector<float> dequantize(const QuantKernels& k, QType t, const uint8_t* q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  k.dequantize_row[static_cast<int>(t)](q, y.data(), n);
  return y;
}
uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
QType qtype_named(const std::string& name) {
  for (int i = 0; i < kNumQTypes; ++i)
    if (name == qtype_info(static_cast<QType>(i)).name) return static_cast<QType>(i);
  throw std::runtime_error("no quant type " + name);
}

// ---------------------------------------------------------------- golden blocks

class QuantGolden : public testing::TestWithParam<const char*> {};

// Our reference quantizer writes the generator's bytes exactly, and every table
// dequantizes them to the generator's floats bit for bit.
TEST_P(QuantGolden, bytes_and_dequant_match_generator) {
  std::ifstream in(std::string(BIGDL_TEST_DIR) + "/kernels/fixtures/quant_golden.json");
  ASSERT_TRUE(in.good()) << "tests/kernels/fixtures/quant_golden.json";
  const auto j = nlohmann::json::parse(in);
  const std::string name = GetParam();
  const QType t = qtype_named(name);
  const auto& g = j.at(name);
  std::vector<float> x;
  for (uint32_t u : g.at("x").get<std::vector<uint32_t>>()) x.push_back(from_bits(u));
  const std::string hex = g.at("blocks").get<std::string>();
  std::vector<uint8_t> want(hex.size() / 2);
  for (size_t i = 0; i < want.size(); ++i) want[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  const auto want_deq = g.at("dequant").get<std::vector<uint32_t>>();
  const int64_t n = static_cast<int64_t>(x.size());
  ASSERT_EQ(n, 256);
  ASSERT_EQ(static_cast<int64_t>(want.size()), row_bytes(t, n));

  const auto got = quantize(t, x);
  int64_t diff = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    diff += got[i] != want[i];
    EXPECT_EQ(got[i], want[i]) << name << " byte " << i << " (block " << i / qtype_info(t).block_bytes << ")";
  }
  for (Isa isa : kAllIsas) {
    const QuantKernels* k = quant_kernels_for(isa);
    if (k == nullptr) continue;
    const auto w = dequantize(*k, t, want.data(), n);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(bits(w[static_cast<size_t>(i)]), want_deq[static_cast<size_t>(i)])
          << name << " " << k->name << " i " << i << " got " << w[static_cast<size_t>(i)] << " want "
          << from_bits(want_deq[static_cast<size_t>(i)]);
  }
  std::printf("[ golden ] %-8s %zu bytes, %lld differ; dequantize bit-exact on every table\n", name.c_str(),
              got.size(), static_cast<long long>(diff));
}

INSTANTIATE_TEST_SUITE_P(Quant, QuantGolden,
                         testing::Values("nf4", "nf3", "fp4", "fp8_e4m3", "fp8_e5m2", "fp16", "bf16"),
                         [](const testing::TestParamInfo<const char*>& p) { return std::string(p.param); });

// ---------------------------------------------------------------- hand-made blocks

TEST(QuantTypes, nf4_levels_round_trip_exactly) {
  // max|x| = 1 (fp16 0x3C00), so every level maps to itself: codes 0..15, then again.
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = kNf4Levels[i % 16];
  const auto q = quantize(QType::nf4, x);
  ASSERT_EQ(q.size(), 18u);
  EXPECT_EQ(q[0] | q[1] << 8, 0x3C00);
  // Weight j in the low nibble, weight j + 16 in the high one: both are code j.
  for (int j = 0; j < 16; ++j) EXPECT_EQ(q[2 + j], 0x11 * j) << j;
  const auto w = dequantize(quant_kernels_ref(), QType::nf4, q.data(), 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(w[i], x[i]) << i;
}

TEST(QuantTypes, nf4_midpoint_takes_the_lower_level) {
  std::vector<float> x(32, 0.0f);
  x[0] = 1.0f;                                       // scale 1
  x[1] = (kNf4Levels[8] + kNf4Levels[9]) * 0.5f;     // exactly between codes 8 and 9
  x[2] = std::nextafter(x[1], 1.0f);                 // just above: code 9
  x[3] = (kNf4Levels[6] + kNf4Levels[7]) * 0.5f;     // between codes 6 and 7
  const auto q = quantize(QType::nf4, x);
  EXPECT_EQ(q[2 + 1] & 0x0F, 8);
  EXPECT_EQ(q[2 + 2] & 0x0F, 9);
  EXPECT_EQ(q[2 + 3] & 0x0F, 6);
  EXPECT_EQ(q[2 + 4] & 0x0F, 7);  // 0 is level 7
}

TEST(QuantTypes, nf3_packing) {
  // Weight i gets code i % 8, so weight j + 8k has code j: qs[j] repeats j's low two bits
  // in all four bit pairs, and the third bit is set for j >= 4 in every byte of qh.
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = kNf3Levels[i % 8];
  const auto q = quantize(QType::nf3, x);
  ASSERT_EQ(q.size(), 14u);
  EXPECT_EQ(q[0] | q[1] << 8, 0x3C00);
  for (int j = 0; j < 8; ++j) EXPECT_EQ(q[2 + j], (j & 3) * 0x55) << j;
  for (int k = 0; k < 4; ++k) EXPECT_EQ(q[10 + k], 0xF0) << k;
  for (Isa isa : kAllIsas) {
    const QuantKernels* k = quant_kernels_for(isa);
    if (k == nullptr) continue;
    const auto w = dequantize(*k, QType::nf3, q.data(), 32);
    for (int i = 0; i < 32; ++i) EXPECT_EQ(w[i], x[i]) << k->name << " " << i;
  }
}

TEST(QuantTypes, fp4_rounds_to_nearest_even_and_never_writes_minus_zero) {
  // max|x| = 6 gives the scale d / 6 = 1: x is v.
  std::vector<float> x(32, 0.0f);
  const float v[] = {6, 0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5, -5, -0.2f, -0.0f, 5.1f, 0.26f};
  const int code[] = {7, 0, 2, 2, 4, 4, 6, 6, 14, 0, 0, 7, 1};  // ties to the even code
  for (size_t i = 0; i < std::size(v); ++i) x[i] = v[i];
  const auto q = quantize(QType::fp4, x);
  EXPECT_EQ(q[0] | q[1] << 8, 0x4600);  // fp16 6.0
  for (size_t i = 0; i < std::size(v); ++i) EXPECT_EQ(q[2 + i] & 0x0F, code[i]) << "x = " << v[i];
  // Code 8 (-0) is never written but reads as +0 in every table.
  std::vector<uint8_t> blk(q);
  blk[2] = 0x88;
  for (Isa isa : kAllIsas) {
    const QuantKernels* k = quant_kernels_for(isa);
    if (k == nullptr) continue;
    const auto w = dequantize(*k, QType::fp4, blk.data(), 32);
    EXPECT_EQ(bits(w[0]), 0u) << k->name;
    EXPECT_EQ(bits(w[16]), 0u) << k->name;
  }
}

// Every byte through every table: block scale 1 (d = 448 / 57344), so dequantize gives
// the code's value. The reference decodes by formula; the SIMD tables via fp16.
TEST(QuantTypes, fp8_every_code_decodes_bit_exactly) {
  struct Case {
    QType t;
    float top;
    uint8_t max_code;
  };
  for (const Case c : {Case{QType::fp8_e4m3, 448.0f, 0x7E}, Case{QType::fp8_e5m2, 57344.0f, 0x7B}}) {
    std::vector<uint8_t> blocks(8 * 34);
    for (int b = 0; b < 8; ++b) {
      const uint16_t d = float_to_half(c.top);
      std::memcpy(&blocks[b * 34], &d, 2);
      for (int i = 0; i < 32; ++i) blocks[b * 34 + 2 + i] = static_cast<uint8_t>(b * 32 + i);
    }
    const auto ref = dequantize(quant_kernels_ref(), c.t, blocks.data(), 256);
    EXPECT_EQ(ref[c.max_code], c.top);
    EXPECT_EQ(ref[0x80 | c.max_code], -c.top);
    EXPECT_EQ(ref[1], c.t == QType::fp8_e4m3 ? std::ldexp(1.0f, -9) : std::ldexp(1.0f, -16));  // smallest subnormal
    EXPECT_EQ(ref[c.t == QType::fp8_e4m3 ? 0x08 : 0x04], c.t == QType::fp8_e4m3 ? std::ldexp(1.0f, -6)
                                                                                : std::ldexp(1.0f, -14));  // smallest normal
    if (c.t == QType::fp8_e4m3) EXPECT_EQ(ref[0x7F], 480.0f);  // the NaN code, never written (quant.h)
    if (c.t == QType::fp8_e5m2) EXPECT_TRUE(std::isinf(ref[0x7C]));
    // Ascending: positive codes 0..max_code (the quantizer's binary search relies on it).
    for (int b = 1; b <= c.max_code; ++b) EXPECT_LT(ref[b - 1], ref[b]) << b;
    for (Isa isa : kAllIsas) {
      const QuantKernels* k = quant_kernels_for(isa);
      if (k == nullptr) continue;
      const auto w = dequantize(*k, c.t, blocks.data(), 256);
      for (int b = 0; b < 256; ++b) {
        if (std::isnan(ref[b])) {
          EXPECT_TRUE(std::isnan(w[b])) << k->name << " code " << b;
        } else {
          EXPECT_EQ(bits(w[b]), bits(ref[b])) << k->name << " code " << b;
        }
      }
    }
  }
}

// Every 16-bit pattern through every table's fp16 / bf16 dequantize.
TEST(QuantTypes, fp16_bf16_every_pattern_decodes_bit_exactly) {
  std::vector<uint16_t> all(65536);
  for (int i = 0; i < 65536; ++i) all[i] = static_cast<uint16_t>(i);
  for (QType t : {QType::fp16, QType::bf16}) {
    for (Isa isa : kAllIsas) {
      const QuantKernels* k = quant_kernels_for(isa);
      if (k == nullptr) continue;
      const auto w = dequantize(*k, t, reinterpret_cast<const uint8_t*>(all.data()), 65536);
      int64_t bad = 0;
      for (int i = 0; i < 65536; ++i) {
        const float want = t == QType::fp16 ? half_to_float(all[i]) : bf16_to_float(all[i]);
        bad += std::isnan(want) ? !std::isnan(w[i]) : bits(w[i]) != bits(want);
      }
      EXPECT_EQ(bad, 0) << qtype_info(t).name << " " << k->name;
    }
  }
}

// The int8 levels of vec_dot_q8: nf4 / nf3 are round(127 * level), within half a step of
// 1/127; fp4's are exactly twice the levels.
TEST(QuantTypes, int8_level_tables) {
  double worst = 0;
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(kNf4Levels8[i], static_cast<int>(std::lround(127.0 * kNf4Levels[i]))) << i;
    worst = std::max(worst, std::fabs(kNf4Levels8[i] / 127.0 - kNf4Levels[i]));
    EXPECT_EQ(static_cast<float>(kFp4Levels8[i]), 2.0f * kFp4Levels[i]) << i;
  }
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(kNf3Levels8[i], static_cast<int>(std::lround(127.0 * kNf3Levels[i]))) << i;
    worst = std::max(worst, std::fabs(kNf3Levels8[i] / 127.0 - kNf3Levels[i]));
  }
  EXPECT_LE(worst, 0.5 / 127);
  std::printf("[ measured ] nf4 / nf3 int8 levels: max |level8 / 127 - level| = %.5f (x d)\n", worst);
}

// ---------------------------------------------------------------- GGUF

// A file with one tensor of each bigdl-only type (ids 1024+) and F16 / BF16 reads back
// with the same types, shapes and bytes; the next id is still refused.
TEST(QuantTypes, gguf_private_type_ids_round_trip) {
  namespace fs = std::filesystem;
  const std::string path = (fs::temp_directory_path() / ("bigdl_qtypes_" + std::to_string(::getpid()) + ".gguf")).string();
  struct T {
    QType q;
    io::GgufType g;
    const char* name;
  };
  const T types[] = {{QType::nf4, io::GgufType::BIGDL_NF4, "nf4"},
                     {QType::nf3, io::GgufType::BIGDL_NF3, "nf3"},
                     {QType::fp4, io::GgufType::BIGDL_FP4, "fp4"},
                     {QType::fp8_e4m3, io::GgufType::BIGDL_FP8_E4M3, "fp8_e4m3"},
                     {QType::fp8_e5m2, io::GgufType::BIGDL_FP8_E5M2, "fp8_e5m2"},
                     {QType::fp16, io::GgufType::F16, "f16"},
                     {QType::bf16, io::GgufType::BF16, "bf16"}};
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(3 * 64);
  for (auto& v : x) v = normal(rng);
  io::GgufWriter w;
  std::vector<std::vector<uint8_t>> data;
  for (const T& t : types) {
    EXPECT_EQ(static_cast<int>(t.g), qtype_info(t.q).ggml_type) << t.name;
    const io::GgufTypeTraits* tr = io::gguf_type_traits(t.g);
    ASSERT_NE(tr, nullptr) << t.name;
    EXPECT_STREQ(tr->name, t.name);
    EXPECT_EQ(tr->block_bytes * (32 / tr->block_size), qtype_info(t.q).block_bytes) << t.name;
    data.push_back(quantize(t.q, x));
    w.add_tensor(std::string("w.") + t.name, {3, 64}, t.g, data.back());
  }
  w.write(path);
  const io::GgufFile f = io::GgufFile::open(path);
  for (size_t i = 0; i < std::size(types); ++i) {
    const io::GgufTensorInfo* ti = f.tensor(std::string("w.") + types[i].name);
    ASSERT_NE(ti, nullptr);
    EXPECT_EQ(ti->type, types[i].g);
    EXPECT_EQ(ti->shape, (std::vector<int64_t>{3, 64}));
    ASSERT_EQ(ti->nbytes, data[i].size());
    EXPECT_EQ(std::memcmp(ti->data, data[i].data(), data[i].size()), 0) << types[i].name;
  }
  fs::remove(path);
  EXPECT_EQ(io::gguf_type_traits(io::GgufType(1029)), nullptr);
  EXPECT_EQ(io::gguf_type_traits(io::GgufType(1023)), nullptr);
}

}  // namespace
}  // namespace bigdl::detail::quant
