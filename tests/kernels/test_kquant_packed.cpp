// The x8-interleaved layout and packed GEMM / GEMV of the super-block types Q4_K, Q5_K,
// Q6_K and IQ4_XS (qgemm.h, qgemm_k_x86.inc): packing round-trips byte for byte, every
// SIMD table equals the packed reference bit for bit (1..9 activation rows, gemv2, the
// integer extremes), and the packed reference equals the in-place reference dot
// (vec_dot_q8k, quant_k_ref.cpp) up to f32 summation order.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/quant/qgemm.h"
#include "backend/cpu/quant/quant.h"
#include "bigdl/dtype.h"

namespace bigdl::detail::quant {
namespace {

const QType kPackedK[] = {QType::q4_k, QType::q5_k, QType::q6_k, QType::iq4_xs};

// Byte offsets of the fp16 super-block scales (d, and dmin where there is one).
int d_offset(QType t) { return t == QType::q6_k ? 208 : 0; }
bool has_dmin(QType t) { return t == QType::q4_k || t == QType::q5_k; }

// rows x cols of random blocks with sane fp16 scales (every byte pattern of the other
// fields is a valid block).
std::vector<uint8_t> random_matrix(QType t, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(0.001f, 0.02f);
  const int64_t bb = qtype_info(t).block_bytes, nb = rows * cols / 256;
  std::vector<uint8_t> w(static_cast<size_t>(nb * bb));
  for (auto& v : w) v = static_cast<uint8_t>(byte(rng));
  for (int64_t b = 0; b < nb; ++b) {
    const uint16_t d = float_to_half(scale(rng)), m = float_to_half(scale(rng));
    std::memcpy(w.data() + b * bb + d_offset(t), &d, 2);
    if (has_dmin(t)) std::memcpy(w.data() + b * bb + 2, &m, 2);
  }
  return w;
}

std::vector<BlockQ8K> activations(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(rows * cols));
  for (auto& v : x) v = normal(rng);
  for (size_t i = 0; i < x.size(); i += 97) x[i] *= 30.0f;  // blocks of very different scales
  std::vector<BlockQ8K> q(static_cast<size_t>(rows * cols / 256));
  for (int64_t r = 0; r < rows; ++r) quant_kernels_ref().quantize_act_k(x.data() + r * cols, q.data() + r * cols / 256, cols);
  return q;
}

std::vector<uint8_t> pack(QType t, const std::vector<uint8_t>& w, int64_t rows, int64_t cols) {
  std::vector<uint8_t> p(static_cast<size_t>(packed_bytes(t, rows, cols)));
  pack_rows(t, w.data(), rows, cols, p.data());
  return p;
}

std::vector<const PackedKernels*> simd_tables() {
  std::vector<const PackedKernels*> v;
  for (Isa isa : kAllIsas)
    if (isa != Isa::scalar)
      if (const PackedKernels* k = packed_kernels_for(isa)) v.push_back(k);
  return v;
}

TEST(KQuantPacked, tiles_and_round_trip) {
  EXPECT_EQ(packed_tile_bytes(QType::q4_k), 8 * 144);
  EXPECT_EQ(packed_tile_bytes(QType::q5_k), 8 * 176);
  EXPECT_EQ(packed_tile_bytes(QType::q6_k), 8 * 210);
  EXPECT_EQ(packed_tile_bytes(QType::iq4_xs), 8 * 138);  // scales decoded to 8 bytes a row (6 in the block)
  EXPECT_FALSE(packable(QType::q2_k));
  EXPECT_FALSE(packable(QType::q3_k));
  for (QType t : kPackedK) {
    const int64_t rows = 20, cols = 768, rb = row_bytes(t, cols);
    const auto w = random_matrix(t, rows, cols, 3);
    const auto p = pack(t, w, rows, cols);
    EXPECT_EQ(p.size(), size_t(2 * 3 * packed_tile_bytes(t)));  // two groups; the 4 tail rows are not packed
    std::vector<uint8_t> row(static_cast<size_t>(rb));
    for (int64_t r = 0; r < 16; ++r) {
      unpack_row(t, p.data(), cols, r, row.data());
      ASSERT_EQ(0, std::memcmp(row.data(), w.data() + r * rb, size_t(rb))) << qtype_info(t).name << " row " << r;
    }
  }
}

// IQ4_XS's tile holds the decoded scales ls - 32: the 6 bits of every sub-block scale,
// split over scales_l and scales_h in the block, come back together.
TEST(KQuantPacked, iq4_xs_scales_decoded_at_packing) {
  const int64_t rows = 8, cols = 256;
  std::vector<uint8_t> w(static_cast<size_t>(rows * sizeof(BlockIQ4XS)), 0);
  for (int64_t r = 0; r < rows; ++r) {
    auto* b = reinterpret_cast<BlockIQ4XS*>(w.data() + r * sizeof(BlockIQ4XS));
    for (int j = 0; j < 8; ++j) {  // ls_j = 8j + r (0..63)
      const int ls = 8 * j + static_cast<int>(r);
      b->scales_l[j / 2] = static_cast<uint8_t>(b->scales_l[j / 2] | ((ls & 15) << (4 * (j % 2))));
      b->scales_h = static_cast<uint16_t>(b->scales_h | ((ls >> 4) << (2 * j)));
    }
  }
  const auto p = pack(QType::iq4_xs, w, rows, cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int j = 0; j < 8; ++j)
      EXPECT_EQ(static_cast<int8_t>(p[size_t(16 + 32 * (j / 4) + 4 * r + j % 4)]), 8 * j + r - 32) << "row " << r << " j " << j;
}

// Every SIMD table against the packed reference, bit for bit: gemm for 1..9, 11, 14 and 32
// activation rows (tiles of 4, then 3 / 2 / 1; from 8 rows on over expanded tiles,
// kExpandRows of qgemm_k_x86.inc), gemm2 (two groups per call, 512-bit) where the table
// has it, and gemv2 (two groups in step) against two gemms; and
// the packed reference against the in-place reference dot within 1e-5 of sum |w x| (the
// same exact integer sums, in f32 instead of double).
TEST(KQuantPacked, simd_equals_reference_and_reference_equals_vec_dot) {
  const auto simd = simd_tables();
  const auto& ref = packed_kernels_ref();
  int gemm2_checked = 0;
  for (QType t : kPackedK) {
    const int ti = static_cast<int>(t);
    for (int64_t cols : {256, 512, 2816}) {
      const int64_t rows = 16, nb = cols / 256, rb = row_bytes(t, cols), tb = packed_tile_bytes(t);
      const auto w = random_matrix(t, rows, cols, 7 + uint32_t(cols));
      const auto p = pack(t, w, rows, cols);
      const auto xq = activations(32, cols, 11 + uint32_t(cols));
      for (int64_t n : {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 14, 32}) {
        std::vector<float> yr(size_t(n * rows));
        for (int64_t g = 0; g < 2; ++g) ref.gemm[ti](nb, p.data() + g * nb * tb, xq.data(), n, yr.data() + 8 * g, rows);
        for (const PackedKernels* k : simd) {
          std::vector<float> ys(size_t(n * rows));
          for (int64_t g = 0; g < 2; ++g) k->gemm[ti](nb, p.data() + g * nb * tb, xq.data(), n, ys.data() + 8 * g, rows);
          ASSERT_EQ(0, std::memcmp(ys.data(), yr.data(), ys.size() * 4))
              << k->name << " " << qtype_info(t).name << " cols " << cols << " n " << n;
          if (k->gemm2[ti] == nullptr) continue;
          std::fill(ys.begin(), ys.end(), -1.0f);
          k->gemm2[ti](nb, p.data(), p.data() + nb * tb, xq.data(), n, ys.data(), ys.data() + 8, rows);
          ASSERT_EQ(0, std::memcmp(ys.data(), yr.data(), ys.size() * 4))
              << k->name << " gemm2 " << qtype_info(t).name << " cols " << cols << " n " << n;
          ++gemm2_checked;
        }
        if (n > 2) continue;
        std::vector<float> wd(static_cast<size_t>(cols));
        for (int64_t tok = 0; tok < n; ++tok)
          for (int64_t r = 0; r < rows; ++r) {
            const BlockQ8K* xr = xq.data() + tok * nb;
            qtype_info(t).dequantize_row(w.data() + r * rb, wd.data(), cols);
            double mag = 0;
            for (int64_t i = 0; i < cols; ++i) mag += std::fabs(wd[size_t(i)] * xr[i / 256].qs[i % 256] * xr[i / 256].d);
            const float want = quant_kernels_ref().vec_dot_q8k[ti](cols, w.data() + r * rb, xr);
            EXPECT_NEAR(yr[size_t(tok * rows + r)], want, 1e-5 * mag) << qtype_info(t).name << " row " << r;
          }
      }
      for (const PackedKernels* k : simd) {
        float two[16], one[16];
        k->gemv2[ti](nb, p.data(), p.data() + nb * tb, xq.data(), two, two + 8);
        k->gemm[ti](nb, p.data(), xq.data(), 1, one, 0);
        k->gemm[ti](nb, p.data() + nb * tb, xq.data(), 1, one + 8, 0);
        EXPECT_EQ(0, std::memcmp(two, one, sizeof two)) << k->name << " " << qtype_info(t).name;
        ref.gemv2[ti](nb, p.data(), p.data() + nb * tb, xq.data(), one, one + 8);
        EXPECT_EQ(0, std::memcmp(two, one, sizeof two)) << k->name << " " << qtype_info(t).name << " vs reference gemv2";
      }
    }
  }
  // The AVX-512 VNNI table has the two-group prefill of every super-block type.
  if (packed_kernels_for(Isa::avx512vnni) != nullptr) EXPECT_EQ(gemm2_checked, 4 * 3 * 12);
}

// The int16 stages of the SIMD kernels at their limits: every level and scale at its
// extreme (Q4_K / Q5_K 15 / 31 with scales and mins 63; Q6_K 63 - 32 with scales -128 and
// 127; IQ4_XS's -127 with scale -32) against activations all +127 or all -127 (Q8_K's
// range): the results equal the reference exactly (gemm2 too, where a table has it).
TEST(KQuantPacked, integer_extremes_equal_reference) {
  const auto simd = simd_tables();
  if (simd.empty()) GTEST_SKIP() << "no AVX2";
  const int64_t rows = 8, cols = 512, nb = 2;
  for (QType t : kPackedK) {
    const int64_t bb = qtype_info(t).block_bytes;
    for (int variant = 0; variant < 2; ++variant) {
      std::vector<uint8_t> w(static_cast<size_t>(rows * nb * bb), t == QType::iq4_xs ? 0x00 : 0xFF);
      for (int64_t b = 0; b < rows * nb; ++b) {
        uint8_t* p = w.data() + b * bb;
        const uint16_t one = 0x3C00;
        std::memcpy(p + d_offset(t), &one, 2);
        if (has_dmin(t)) std::memcpy(p + 2, &one, 2);
        if (t == QType::q6_k) std::memset(p + 192, variant == 0 ? 0x80 : 0x7F, 16);
        if (t == QType::iq4_xs && variant == 1) std::memset(p + 8, 0xFF, 128);  // code 15: level 113
      }
      const auto pk = pack(t, w, rows, cols);
      for (int sign : {1, -1}) {
        std::vector<BlockQ8K> x(static_cast<size_t>(12 * nb));
        for (auto& b : x) {
          b.d = 1.0f;
          for (auto& v : b.qs) v = static_cast<int8_t>(127 * sign);
          for (auto& s : b.bsums) s = static_cast<int16_t>(16 * 127 * sign);
        }
        float want[96], got[96];
        for (int64_t n : {4, 12}) {  // the direct kernels, then the expanded tiles
          packed_kernels_ref().gemm[static_cast<int>(t)](nb, pk.data(), x.data(), n, want, rows);
          for (const PackedKernels* k : simd) {
            k->gemm[static_cast<int>(t)](nb, pk.data(), x.data(), n, got, rows);
            EXPECT_EQ(0, std::memcmp(got, want, size_t(n * rows) * sizeof(float)))
                << k->name << " " << qtype_info(t).name << " n " << n << " variant " << variant << " sign " << sign << ": "
                << got[0] << " vs " << want[0];
            if (k->gemm2[static_cast<int>(t)] == nullptr) continue;
            float got2[192];  // the same group twice: rows 0..7 and 8..15 of each activation row
            k->gemm2[static_cast<int>(t)](nb, pk.data(), pk.data(), x.data(), n, got2, got2 + 8, 16);
            for (int64_t r = 0; r < n; ++r)
              for (int half = 0; half < 2; ++half)
                EXPECT_EQ(0, std::memcmp(got2 + 16 * r + 8 * half, want + rows * r, rows * sizeof(float)))
                    << k->name << " gemm2 " << qtype_info(t).name << " n " << n << " row " << r;
          }
        }
        // And the value itself: all weights equal, so the dot is 512 * w * 127 * sign.
        std::vector<float> wd(static_cast<size_t>(cols));
        qtype_info(t).dequantize_row(w.data(), wd.data(), cols);
        double exact = 0;
        for (float v : wd) exact += double(v) * 127 * sign;
        EXPECT_NEAR(want[0], exact, 1e-6 * std::fabs(exact) + 1e-3) << qtype_info(t).name;
      }
    }
  }
}

}  // namespace
}  // namespace bigdl::detail::quant
