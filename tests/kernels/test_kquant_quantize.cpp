// The K-quant and 4-bit i-quant quantizers (src/backend/cpu/quant/quantize_k_ref.cpp)
// and the imatrix quantizers of those and of Q4_0 / Q4_1 / Q5_0 / Q5_1 (quantize_k.h)
// against the bytes llama.cpp's ggml writes for the same rows
// (tests/kernels/gen_kquant_golden.py calls ggml_quantize_chunk through ctypes). The
// formats' scale searches are deterministic f32 arithmetic, so the match is byte for byte.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend/cpu/quant/quant.h"
#include "backend/cpu/quant/quantize_k.h"
#include "bigdl/error.h"

namespace bigdl::detail::quant {
namespace {

const nlohmann::json& fixture() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(BIGDL_TEST_DIR) + "/kernels/fixtures/kquant_quantize.json");
    if (!in.good()) return nlohmann::json();
    return nlohmann::json::parse(in);
  }();
  return j;
}

std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}

// Little-endian f32 bytes (the fixture's encoding; this machine is little endian too).
std::vector<float> floats_from_hex(const std::string& hex) {
  const auto bytes = from_hex(hex);
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);
  return out;
}

struct Case {
  const char* ggml;  // the fixture's key (ggml's type name)
  QType type;
};

class KQuantGolden : public testing::TestWithParam<Case> {};

// Each fixture case is `rows` rows of n_per_row weights; we quantize row by row (the
// imatrix paths depend on the row), ggml quantized them as one chunk.
void check(const Case& c, bool with_imatrix) {
  const auto& j = fixture();
  ASSERT_FALSE(j.is_null()) << "tests/kernels/fixtures/kquant_quantize.json missing";
  const auto& t = j.at("types").at(c.ggml);
  ASSERT_EQ(t.at("ggml_type").get<int>(), qtype_info(c.type).ggml_type);
  const int64_t rows = j.at("rows").get<int64_t>(), n = j.at("n_per_row").get<int64_t>();
  const int64_t rb = row_bytes(c.type, n);
  const auto& list = t.at(with_imatrix && t.contains("imatrix") ? "imatrix" : "plain");
  const auto& cases = j.at("cases");
  ASSERT_EQ(list.size(), cases.size());
  int64_t total_diff = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    const std::string name = cases[k].at("name").get<std::string>();
    const auto x = floats_from_hex(cases[k].at("x").get<std::string>());
    const auto qw = floats_from_hex(cases[k].at("imatrix").get<std::string>());
    const auto want = from_hex(list[k].get<std::string>());
    ASSERT_EQ(static_cast<int64_t>(x.size()), rows * n);
    ASSERT_EQ(static_cast<int64_t>(qw.size()), n);
    ASSERT_EQ(static_cast<int64_t>(want.size()), rows * rb);
    std::vector<uint8_t> got(want.size(), 0xAA);  // not zero: every byte must be written
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x.data() + r * n;
      uint8_t* yr = got.data() + r * rb;
      if (with_imatrix) quantize_row_imp(c.type, xr, yr, n, qw.data());
      else qtype_info(c.type).quantize_row(xr, yr, n);
    }
    const int64_t bb = qtype_info(c.type).block_bytes;
    int64_t diff = 0, blocks = 0, first = -1;
    for (int64_t b = 0; b < static_cast<int64_t>(want.size()) / bb; ++b) {
      int64_t d = 0;
      for (int64_t i = b * bb; i < (b + 1) * bb; ++i) d += got[static_cast<size_t>(i)] != want[static_cast<size_t>(i)];
      if (d > 0 && first < 0) first = b;
      diff += d;
      blocks += d > 0;
    }
    total_diff += diff;
    EXPECT_EQ(diff, 0) << c.ggml << (with_imatrix ? " imatrix" : " plain") << " case " << name << ": " << diff
                       << " bytes differ in " << blocks << " blocks (first: block " << first << ")";
  }
  std::printf("[ kquant ] %-7s %-7s %zu cases, %lld bytes differ\n", c.ggml, with_imatrix ? "imatrix" : "plain",
              cases.size(), static_cast<long long>(total_diff));
}

TEST_P(KQuantGolden, reference_matches_ggml) { check(GetParam(), false); }
TEST_P(KQuantGolden, imatrix_matches_ggml) { check(GetParam(), true); }

INSTANTIATE_TEST_SUITE_P(
    Quant, KQuantGolden,
    testing::Values(Case{"q2_K", QType::q2_k}, Case{"q3_K", QType::q3_k}, Case{"q4_K", QType::q4_k},
                    Case{"q5_K", QType::q5_k}, Case{"q6_K", QType::q6_k}, Case{"q8_K", QType::q8_k},
                    Case{"iq4_nl", QType::iq4_nl}, Case{"iq4_xs", QType::iq4_xs}, Case{"q4_0", QType::sym_int4},
                    Case{"q4_1", QType::asym_int4}, Case{"q5_0", QType::sym_int5}, Case{"q5_1", QType::asym_int5}),
    [](const testing::TestParamInfo<Case>& p) { return std::string(p.param.ggml); });

// qw == nullptr is the reference quantizer; Q8_K (and Q8_0) ignore the imatrix.
TEST(KQuant, imatrix_null_and_ignored) {
  std::vector<float> x(512), qw(512);
  for (int i = 0; i < 512; ++i) {
    x[i] = static_cast<float>((i * 37) % 101 - 50) * 0.013f;
    qw[i] = 0.5f + static_cast<float>(i % 7);
  }
  for (QType t : {QType::q2_k, QType::q3_k, QType::q4_k, QType::q5_k, QType::q6_k, QType::q8_k, QType::iq4_nl,
                  QType::iq4_xs, QType::sym_int4, QType::asym_int4, QType::sym_int5, QType::asym_int5,
                  QType::sym_int8}) {
    const size_t nb = static_cast<size_t>(row_bytes(t, 512));
    std::vector<uint8_t> a(nb), b(nb);
    qtype_info(t).quantize_row(x.data(), a.data(), 512);
    quantize_row_imp(t, x.data(), b.data(), 512, nullptr);
    EXPECT_EQ(a, b) << qtype_info(t).name;
    if (t == QType::q8_k || t == QType::sym_int8) {
      quantize_row_imp(t, x.data(), b.data(), 512, qw.data());
      EXPECT_EQ(a, b) << qtype_info(t).name << " with imatrix";
    }
  }
  std::vector<uint8_t> out(1024);
  EXPECT_THROW(quantize_row_imp(QType::q4_k, x.data(), out.data(), 128, qw.data()), ValueError);
}

}  // namespace
}  // namespace bigdl::detail::quant
