// The decode / prefill hot path (docs/llm.md, "Decode and prefill kernels", "KV cache"):
//   * x8 packing round-trips; the AVX2 packed GEMM equals its scalar reference bit for
//     bit and the in-place vec_dot_q8 up to f32 rounding, for 1..9 tokens;
//   * KV cache kernels: E5M2 rounding against a brute-force nearest-even search, the AVX2
//     f16 store against float_to_half, AVX2 scores / mix against the reference for every
//     storage type, head sizes with and without a tail;
//   * the thread pool under many short regions;
//   * on an all-packed random-weight GGUF written here (each packed type, the K-quants
//     included): forward(), forward_batch()
//     and forward_batch_all() give bit-identical logits, for 1 and 2 threads and every
//     kv_type; the tail rows (rows % 8) go through the in-place kernel;
//   * kv_type errors and the f16 / fp8 logit error against an f32 cache on stories260K.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "backend/cpu/kernels.h"
#include "backend/cpu/quant/qgemm.h"
#include "backend/cpu/quant/quant.h"
#include "bigdl/dtype.h"
#include "bigdl/error.h"
#include "bigdl/io/gguf_writer.h"
#include "bigdl/llm/model.h"
#include "bigdl/tensor.h"
#include "core/internal.h"
#include "llm/kv_cache.h"
#include "test_util.h"
#include "llm/llm_test_util.h"

namespace {

namespace quant = bigdl::detail::quant;
using bigdl::detail::Isa;
using LoadOptions = llm_test::Opts;
using llm_test::load;
using bigdl::llm::detail::KvKernels;
using bigdl::llm::detail::KvType;

const quant::QType kPacked[] = {quant::QType::sym_int4, quant::QType::asym_int4, quant::QType::sym_int5,
                                quant::QType::asym_int5, quant::QType::sym_int8,  quant::QType::nf4,
                                quant::QType::fp4,       quant::QType::iq4_nl};

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<uint8_t> quantize_matrix(quant::QType t, const std::vector<float>& w, int64_t rows, int64_t cols) {
  const int64_t rb = quant::row_bytes(t, cols);
  std::vector<uint8_t> q(static_cast<size_t>(rows * rb));
  for (int64_t r = 0; r < rows; ++r) quant::qtype_info(t).quantize_row(w.data() + r * cols, q.data() + r * rb, cols);
  return q;
}

// ---- packed GEMM ----

TEST(Hotpath, PackUnpackRoundTrips) {
  for (quant::QType t : kPacked) {
    const int64_t rows = 20, cols = 96, rb = quant::row_bytes(t, cols);
    const auto q = quantize_matrix(t, randn(size_t(rows * cols), 1), rows, cols);
    std::vector<uint8_t> p(static_cast<size_t>(quant::packed_bytes(t, rows, cols)));
    EXPECT_EQ(p.size(), size_t(16 * rb));  // the 4 tail rows are not packed
    quant::pack_rows(t, q.data(), rows, cols, p.data());
    std::vector<uint8_t> row(static_cast<size_t>(rb));
    for (int64_t r = 0; r < 16; ++r) {
      quant::unpack_row(t, p.data(), cols, r, row.data());
      EXPECT_EQ(0, std::memcmp(row.data(), q.data() + r * rb, size_t(rb))) << quant::qtype_info(t).name << " row " << r;
    }
  }
  EXPECT_FALSE(quant::packable(quant::QType::nf3));
  EXPECT_EQ(quant::packed_tile_bytes(quant::QType::nf3), 0);
  EXPECT_EQ(quant::packed_tile_bytes(quant::QType::nf4), 144);
  EXPECT_EQ(quant::packed_tile_bytes(quant::QType::fp4), 144);
  EXPECT_EQ(quant::packed_tile_bytes(quant::QType::sym_int4), 144);
  EXPECT_EQ(quant::packed_tile_bytes(quant::QType::asym_int4), 160);
  EXPECT_EQ(quant::packed_tile_bytes(quant::QType::sym_int5), 176);
  EXPECT_EQ(quant::packed_tile_bytes(quant::QType::asym_int5), 192);
  EXPECT_EQ(quant::packed_tile_bytes(quant::QType::sym_int8), 272);
}

TEST(Hotpath, PackedQ5FifthBitsLandWhereTheLayoutSays) {
  // One Q5_0 block per row with a single fifth bit set, at every weight index i: after
  // packing, exactly the qh2 bit that qgemm.h names for (row, i) is set, and the
  // reference GEMM against a one-hot activation sees level 16 + nibble there.
  const int64_t cols = 32, rows = 8, rb = quant::row_bytes(quant::QType::sym_int5, cols);
  for (int i = 0; i < 32; ++i) {
    std::vector<uint8_t> q(static_cast<size_t>(rows * rb), 0);
    for (int64_t r = 0; r < rows; ++r) {
      auto* b = reinterpret_cast<quant::BlockQ5_0*>(q.data() + r * rb);
      b->d = 0x3C00;  // 1.0
      const uint32_t qh = (r == 3) ? (1u << i) : 0u;
      std::memcpy(b->qh, &qh, 4);
    }
    std::vector<uint8_t> p(static_cast<size_t>(quant::packed_bytes(quant::QType::sym_int5, rows, cols)));
    quant::pack_rows(quant::QType::sym_int5, q.data(), rows, cols, p.data());
    const uint8_t* qh2 = p.data() + 16;
    const int j = (i % 16) / 4, b = i % 4, bit = i < 16 ? j : 4 + j;
    for (int byte = 0; byte < 32; ++byte)
      EXPECT_EQ(qh2[byte], byte == 4 * 3 + b ? (1 << bit) : 0) << "weight " << i << " byte " << byte;
    quant::BlockQ8A x{};
    x.d = 1.0f;
    x.qs[i] = 1;
    x.s = 1.0f;
    float y[8];
    quant::packed_kernels_ref().gemm[static_cast<int>(quant::QType::sym_int5)](1, p.data(), &x, 1, y, 0);
    for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(y[r], r == 3 ? 0.0f : -16.0f) << "weight " << i << " row " << r;
  }
}

TEST(Hotpath, PackedKernelsAtTheIntegerBounds) {
  // Every level at its maximum (15 / 31 / 127) or Q8_0's minimum (-128) against
  // activations of +-127: the int16 stages of the AVX2 kernels sit at their limits, the
  // results must still equal the reference exactly.
  const int64_t cols = 64, rows = 8, nb = cols / 32;
  for (quant::QType t : kPacked) {
    const int64_t rb = quant::row_bytes(t, cols), bb = quant::qtype_info(t).block_bytes;
    for (int sign : {1, -1}) {
      std::vector<uint8_t> q(static_cast<size_t>(rows * rb), 0xFF);
      for (int64_t b = 0; b < rows * nb; ++b) {
        const uint16_t one = 0x3C00;
        std::memcpy(q.data() + b * bb, &one, 2);                                 // d = 1
        if (t == quant::QType::asym_int4 || t == quant::QType::asym_int5) std::memcpy(q.data() + b * bb + 2, &one, 2);
        if (t == quant::QType::sym_int8) std::memset(q.data() + b * bb + 2, sign > 0 ? 0x7F : 0x80, 32);
      }
      std::vector<uint8_t> p(static_cast<size_t>(quant::packed_bytes(t, rows, cols)));
      quant::pack_rows(t, q.data(), rows, cols, p.data());
      std::vector<quant::BlockQ8A> x(static_cast<size_t>(4 * nb));
      for (auto& b : x) {
        b.d = 1.0f;
        for (auto& v : b.qs) v = static_cast<int8_t>(127 * sign);
        b.s = 32.0f * 127 * sign;
      }
      std::vector<float> want(32), got(32);
      quant::packed_kernels_ref().gemm[static_cast<int>(t)](nb, p.data(), x.data(), 4, want.data(), rows);
      for (Isa isa : bigdl::detail::kAllIsas) {
        const quant::PackedKernels* k = quant::packed_kernels_for(isa);
        if (!k || isa == Isa::scalar) continue;
        k->gemm[static_cast<int>(t)](nb, p.data(), x.data(), 4, got.data(), rows);
        EXPECT_EQ(0, std::memcmp(got.data(), want.data(), 32 * 4)) << k->name << " " << quant::qtype_info(t).name << " sign " << sign;
      }
    }
  }
}

TEST(Hotpath, PackedGemv2EqualsTwoGemms) {
  // gemv2 (two groups in step, the decode path) gives exactly what gemm gives for each
  // group alone, in every table; and the SIMD gemv2 equals the reference's.
  const int64_t rows = 16, cols = 320, nb = cols / 32;
  for (quant::QType t : kPacked) {
    const auto q = quantize_matrix(t, randn(size_t(rows * cols), 11, 0.05f), rows, cols);
    std::vector<uint8_t> p(static_cast<size_t>(quant::packed_bytes(t, rows, cols)));
    quant::pack_rows(t, q.data(), rows, cols, p.data());
    const auto xs = randn(size_t(cols), 12);
    std::vector<quant::BlockQ8A> xq(static_cast<size_t>(nb));
    quant::quantize_act_ref(xs.data(), xq.data(), cols);
    const uint8_t* ga = p.data();
    const uint8_t* gb = p.data() + nb * quant::packed_tile_bytes(t);
    float want[16];
    quant::packed_kernels_ref().gemm[static_cast<int>(t)](nb, ga, xq.data(), 1, want, 0);
    quant::packed_kernels_ref().gemm[static_cast<int>(t)](nb, gb, xq.data(), 1, want + 8, 0);
    for (Isa isa : bigdl::detail::kAllIsas) {
      const quant::PackedKernels* k = quant::packed_kernels_for(isa);
      if (!k) continue;
      float two[16], one[16];
      k->gemv2[static_cast<int>(t)](nb, ga, gb, xq.data(), two, two + 8);
      k->gemm[static_cast<int>(t)](nb, ga, xq.data(), 1, one, 0);
      k->gemm[static_cast<int>(t)](nb, gb, xq.data(), 1, one + 8, 0);
      EXPECT_EQ(0, std::memcmp(two, one, sizeof two)) << k->name << " " << quant::qtype_info(t).name;
      EXPECT_EQ(0, std::memcmp(two, want, sizeof two)) << k->name << " " << quant::qtype_info(t).name;
    }
  }
}

// A SIMD packed table against the reference table (bit for bit) and vec_dot_q8.
void check_packed_gemm(const quant::PackedKernels* simd);

TEST(Hotpath, PackedGemmSimdEqualsReferenceAndVecDot) {
  int tested = 0;
  for (Isa isa : bigdl::detail::kAllIsas) {
    const quant::PackedKernels* simd = quant::packed_kernels_for(isa);
    if (!simd || isa == Isa::scalar) continue;
    ++tested;
    SCOPED_TRACE(simd->name);
    check_packed_gemm(simd);
  }
  if (tested == 0) GTEST_SKIP() << "no AVX2";
}

TEST(Hotpath, PackedKernelsFollowTheChosenIsa) {
  const Isa isa = bigdl::detail::chosen_isa();
  // An AVX-512 CPU without VNNI runs the 256-bit AVX2 kernels.
  const char* want = isa == Isa::avx512 ? "avx2" : bigdl::detail::isa_name(isa);
  EXPECT_STREQ(quant::packed_kernels().name, want);
}

void check_packed_gemm(const quant::PackedKernels* simd) {
  const auto& ref = quant::packed_kernels_ref();
  const auto& qk = quant::quant_kernels_ref();
  for (quant::QType t : kPacked) {
    const int ti = static_cast<int>(t);
    for (int64_t cols : {32, 96, 576}) {
      const int64_t rows = 16, nb = cols / 32, rb = quant::row_bytes(t, cols);
      // Activations of very different sizes per block exercise the int16 sums near their
      // bound (levels 15 or 31 times +-127).
      auto xs = randn(size_t(9 * cols), 7 + uint32_t(cols));
      for (size_t i = 0; i < xs.size(); i += 97) xs[i] *= 50.0f;
      const auto q = quantize_matrix(t, randn(size_t(rows * cols), 3 + uint32_t(cols), 0.05f), rows, cols);
      std::vector<uint8_t> p(static_cast<size_t>(quant::packed_bytes(t, rows, cols)));
      quant::pack_rows(t, q.data(), rows, cols, p.data());
      std::vector<quant::BlockQ8A> xq(size_t(9 * nb));
      for (int64_t i = 0; i < 9; ++i) qk.quantize_act(xs.data() + i * cols, xq.data() + i * nb, cols);
      for (int64_t n = 1; n <= 9; ++n) {
        std::vector<float> ys(size_t(n * rows)), yr(size_t(n * rows));
        for (int64_t g = 0; g < rows / 8; ++g) {
          simd->gemm[ti](nb, p.data() + g * nb * quant::packed_tile_bytes(t), xq.data(), n, ys.data() + 8 * g, rows);
          ref.gemm[ti](nb, p.data() + g * nb * quant::packed_tile_bytes(t), xq.data(), n, yr.data() + 8 * g, rows);
        }
        ASSERT_EQ(0, std::memcmp(ys.data(), yr.data(), ys.size() * 4)) << quant::qtype_info(t).name << " cols " << cols
                                                                        << " n " << n;
        for (int64_t tok = 0; tok < n; ++tok)
          for (int64_t r = 0; r < rows; ++r) {
            const float want = qk.vec_dot_q8[ti](cols, q.data() + r * rb, xq.data() + tok * nb);
            // Same exact int32 block sums in another f32 order (and the zero point or minimum
            // folded in separately): within 1e-5 of sum_i (|w_i| + 2 max_block |w|) |x_i|.
            std::vector<float> wr(static_cast<size_t>(cols));
            quant::qtype_info(t).dequantize_row(q.data() + r * rb, wr.data(), cols);
            double mag = 0;
            for (int64_t k = 0; k < nb; ++k) {
              float amax = 0;
              for (int64_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(wr[size_t(k * 32 + i)]));
              for (int64_t i = 0; i < 32; ++i) {
                const quant::BlockQ8A& b = xq[size_t(tok * nb + k)];
                mag += (std::fabs(wr[size_t(k * 32 + i)]) + 2 * amax) * std::fabs(b.qs[i] * b.d);
              }
            }
            EXPECT_NEAR(ys[size_t(tok * rows + r)], want, 1e-5 * mag) << quant::qtype_info(t).name;
          }
      }
    }
  }
}

// ---- KV cache kernels ----

// Brute force: the E5M2 value nearest to x, ties to the even code; finite values past
// the largest finite saturate, inf and NaN stay.
uint8_t e5m2_brute(float x) {
  if (std::isnan(x)) return std::signbit(x) ? 0xFF : 0x7F;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  if (std::isinf(x)) return sign | 0x7C;
  const double a = std::fabs(double(x));
  uint8_t best = 0;
  double best_d = INFINITY;
  for (int c = 0; c <= 0x7B; ++c) {
    const double v = bigdl::llm::detail::e5m2_to_f32(uint8_t(c));
    const double d = std::fabs(v - a);
    if (d < best_d || (d == best_d && (c & 1) == 0)) {
      best_d = d;
      best = uint8_t(c);
    }
  }
  return sign | best;
}

TEST(Hotpath, E5M2RoundsToNearestEven) {
  using bigdl::llm::detail::e5m2_to_f32;
  using bigdl::llm::detail::f32_to_e5m2;
  // Decoding: the top byte of a half.
  for (int c = 0; c < 256; ++c)
    if (!std::isnan(e5m2_to_f32(uint8_t(c)))) EXPECT_EQ(f32_to_e5m2(e5m2_to_f32(uint8_t(c))), c) << c;
  EXPECT_EQ(e5m2_to_f32(0x3C), 1.0f);
  EXPECT_EQ(e5m2_to_f32(0x7B), 57344.0f);
  EXPECT_EQ(e5m2_to_f32(0x01), std::ldexp(1.0f, -16));
  std::vector<float> xs = {0.0f, -0.0f, 1.125f, 1.375f, 1.0f + 1.0f / 8, 1.0f + 3.0f / 8, 57344.0f, 60000.0f,
                           61440.0f, 1e9f, -1e9f, INFINITY, -INFINITY, NAN,
                           std::ldexp(1.0f, -17), std::ldexp(3.0f, -17), std::ldexp(1.0f, -18), 1e-30f,
                           std::ldexp(7.0f, -17), std::ldexp(1.0f, -14) * 0.875f};
  const auto r = randn(20000, 11, 3.0f);
  for (float v : r) {
    xs.push_back(v);
    xs.push_back(v * 1e-5f);
    xs.push_back(v * 1e4f);
  }
  for (float x : xs) EXPECT_EQ(f32_to_e5m2(x), e5m2_brute(x)) << x;
}

TEST(Hotpath, KvKernelsSimdMatchReference) {
  for (int ti = 0; ti < bigdl::llm::detail::kNumKvTypes; ++ti) {
    const auto type = static_cast<KvType>(ti);
    const KvKernels* simd = bigdl::llm::detail::kv_kernels_avx2(type);
    if (!simd) GTEST_SKIP() << "no AVX2";
    const KvKernels& ref = bigdl::llm::detail::kv_kernels_ref(type);
    const int64_t eb = bigdl::llm::detail::kv_type_bytes(type);
    // store: bit-exact (f16 incl. subnormals, overflow, ties)
    auto xs = randn(1003, 5, 4.0f);
    xs[0] = 65520.0f;  // rounds to inf in f16
    xs[1] = std::ldexp(1.0f, -24) * 1.5f;
    xs[2] = 1.0f + std::ldexp(1.0f, -11);  // a tie
    xs[3] = 1e6f;
    std::vector<uint8_t> a(xs.size() * size_t(eb)), b(a.size());
    simd->store(xs.data(), a.data(), int64_t(xs.size()));
    ref.store(xs.data(), b.data(), int64_t(xs.size()));
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size())) << bigdl::llm::detail::kv_type_name(type);
    // scores / mix against the reference
    for (int64_t hd : {8, 12, 64, 100}) {
      const int64_t stride = hd * 3 + 4, nt = 37, ng = 5;
      const auto kv = randn(size_t(nt * stride), 9 + uint32_t(hd));
      std::vector<uint8_t> cache(kv.size() * size_t(eb));
      ref.store(kv.data(), cache.data(), int64_t(kv.size()));
      const auto q = randn(size_t(ng * hd), 13);
      for (int64_t g = 1; g <= ng; ++g)
        for (int64_t n : {int64_t(1), int64_t(2), nt}) {
          std::vector<float> s1(size_t(g * 40)), s2(s1.size());
          simd->scores(q.data(), g, hd, cache.data(), stride, n, hd, 0.125f, s1.data(), 40);
          ref.scores(q.data(), g, hd, cache.data(), stride, n, hd, 0.125f, s2.data(), 40);
          for (int64_t i = 0; i < g; ++i)
            for (int64_t t = 0; t < n; ++t)
              EXPECT_NEAR(s1[size_t(i * 40 + t)], s2[size_t(i * 40 + t)], 2e-5 * std::sqrt(double(hd)))
                  << "scores hd " << hd;
          std::vector<float> o1(size_t(g * hd)), o2(o1.size());
          simd->mix(s2.data(), g, 40, cache.data(), stride, n, hd, o1.data(), hd);
          ref.mix(s2.data(), g, 40, cache.data(), stride, n, hd, o2.data(), hd);
          for (size_t i = 0; i < o1.size(); ++i) EXPECT_NEAR(o1[i], o2[i], 1e-4) << "mix hd " << hd;
        }
    }
  }
}

TEST(Hotpath, KvTypeNamesAndErrors) {
  using bigdl::llm::detail::parse_kv_type;
  EXPECT_EQ(parse_kv_type("f16", "t"), KvType::f16);
  EXPECT_EQ(parse_kv_type("f32", "t"), KvType::f32);
  EXPECT_EQ(parse_kv_type("fp8", "t"), KvType::fp8);
  try {
    parse_kv_type("q8", "context");
    FAIL();
  } catch (const bigdl::ValueError& e) {
    EXPECT_STREQ(e.what(), "[context] unknown kv_type 'q8' (known: f16, f32, fp8)");
  }
  const std::string& dir = llm_test::kStoriesDir;
  LoadOptions o;
  o.kv_type = "bf16";
  EXPECT_THROW(load(dir + "stories260K-f32.gguf", o), bigdl::ValueError);
  EXPECT_EQ(load(dir + "stories260K-f32.gguf")->ctx.kv_type(), "f16");
}

// ---- thread pool ----

TEST(Hotpath, KvCacheSizeErrorsAreOneLine) {
  using bigdl::llm::detail::KvPool;
  const int64_t blocks = (int64_t(1) << 24) / bigdl::llm::detail::kKvBlock;
  // The size does not fit in 64 bits: checked before any allocation.
  const std::string overflow = test_util::error_of<bigdl::ValueError>(
      [&] { KvPool(KvType::f16, int64_t(1) << 20, int64_t(1) << 20, blocks); });
  EXPECT_NE(overflow.find("KV cache of 1048576 layers x 16777216 positions"), std::string::npos) << overflow;
  // Fits in 64 bits but not in any machine (2 x 512 TiB): the allocation's failure is
  // reported with the context size and what to change.
  const std::string oom =
      test_util::error_of<bigdl::ValueError>([&] { KvPool(KvType::f16, 1, int64_t(1) << 24, blocks); });
  EXPECT_NE(oom.find("cannot allocate the KV cache"), std::string::npos) << oom;
  EXPECT_NE(oom.find("--ctx"), std::string::npos) << oom;
}

TEST(Hotpath, ThreadPoolManyShortRegions) {
  const int before = bigdl::get_num_threads();
  for (int threads : {2, 3}) {
    bigdl::set_num_threads(threads);
    std::vector<int64_t> v(1000);
    for (int rep = 0; rep < 3000; ++rep) {
      std::atomic<int64_t> total{0};
      const int64_t n = 1 + rep % 200;
      bigdl::detail::parallel_for(n, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) v[size_t(i)] = rep;
        total += e - b;
      });
      ASSERT_EQ(total.load(), n);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(v[size_t(i)], rep);
    }
  }
  bigdl::set_num_threads(before);
}

// CPU time (utime + stime, seconds) of this process's threads named `name`.
double thread_cpu_seconds(const std::string& name) {
  double total = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(e.path() / "comm");
    std::string n;
    std::getline(comm, n);
    if (n != name) continue;
    std::ifstream st(e.path() / "stat");
    std::string line;
    std::getline(st, line);
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    long ticks = 0;
    for (int i = 0; i < 13 && rest >> field; ++i)
      if (i >= 11) ticks += std::stol(field);  // fields 14 and 15 of stat: utime, stime
    total += double(ticks) / double(sysconf(_SC_CLK_TCK));
  }
  return total;
}

TEST(Hotpath, ThreadPoolSleepsWhenIdle) {
  // Workers spin ~0.1 ms after a region, then block: an idle pool burns no CPU. (Measured
  // on the pool's own threads: OpenBLAS's threads spin on their own schedule.)
  const int before = bigdl::get_num_threads();
  bigdl::set_num_threads(2);
  std::atomic<int64_t> total{0};
  bigdl::detail::parallel_for(64, 1, [&](int64_t b, int64_t e) { total += e - b; });
  ASSERT_EQ(total.load(), 64);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double c0 = thread_cpu_seconds("bigdl-pool");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const double used = thread_cpu_seconds("bigdl-pool") - c0;
  EXPECT_LE(used, 0.02) << "the idle pool used " << used << " s of CPU in 0.3 s";
  // And the workers do run regions: a long region is shared.
  std::atomic<int> on_worker{0};
  const auto main_id = std::this_thread::get_id();
  bigdl::detail::parallel_for(16, 1, [&](int64_t, int64_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (std::this_thread::get_id() != main_id) ++on_worker;
  });
  EXPECT_GT(on_worker.load(), 0);
  bigdl::set_num_threads(before);
}

// ---- whole model: an all-packed random-weight GGUF ----

// A llama GGUF with every matrix in `t` (token_embd Q8_0): n_embd 64, 2 layers, 4 heads /
// 2 KV heads (head_dim 16), n_ff 96, vocab 68 (the tied classifier has 4 tail rows); for
// the super-block types (rows of whole 256-weight blocks) n_embd 256 and n_ff 512.
std::string write_packed_model(quant::QType t, const std::string& path) {
  namespace io = bigdl::io;
  const bool k256 = quant::qtype_info(t).block_size == 256;
  const int64_t d = k256 ? 256 : 64, ff = k256 ? 512 : 96, vocab = 68, kv = d / 2;
  io::GgufWriter w;
  w.set("general.architecture", io::gguf_string("llama"));
  w.set("llama.context_length", io::gguf_u32(256));
  w.set("llama.embedding_length", io::gguf_u32(d));
  w.set("llama.block_count", io::gguf_u32(2));
  w.set("llama.feed_forward_length", io::gguf_u32(ff));
  w.set("llama.attention.head_count", io::gguf_u32(4));
  w.set("llama.attention.head_count_kv", io::gguf_u32(2));
  w.set("llama.rope.freq_base", io::gguf_f32(10000.0f));
  w.set("llama.attention.layer_norm_rms_epsilon", io::gguf_f32(1e-5f));
  uint32_t seed = 100;
  const auto mat = [&](const std::string& name, int64_t rows, int64_t cols, quant::QType q) {
    const auto bytes = quantize_matrix(q, randn(size_t(rows * cols), seed++, 0.3f), rows, cols);
    w.add_tensor(name, {rows, cols}, static_cast<io::GgufType>(quant::qtype_info(q).ggml_type), bytes);
  };
  const auto vec = [&](const std::string& name, int64_t n) {
    std::vector<float> v(size_t(n), 1.0f);
    std::vector<uint8_t> b(size_t(n) * 4);
    std::memcpy(b.data(), v.data(), b.size());
    w.add_tensor(name, {n}, io::GgufType::F32, b);
  };
  mat("token_embd.weight", vocab, d, quant::QType::sym_int8);
  for (int l = 0; l < 2; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    vec(p + "attn_norm.weight", d);
    mat(p + "attn_q.weight", d, d, t);
    mat(p + "attn_k.weight", kv, d, t);
    mat(p + "attn_v.weight", kv, d, t);
    mat(p + "attn_output.weight", d, d, t);
    vec(p + "ffn_norm.weight", d);
    mat(p + "ffn_gate.weight", ff, d, t);
    mat(p + "ffn_up.weight", ff, d, t);
    mat(p + "ffn_down.weight", d, ff, t);
  }
  vec("output_norm.weight", d);
  w.write(path);
  return path;
}

TEST(Hotpath, PackedModelDecodeEqualsPrefillBitForBit) {
  const test_util::TempDir tmp("hotpath");
  const std::string& dir = tmp.path();
  const int before = bigdl::get_num_threads();
  std::vector<quant::QType> types(std::begin(kPacked), std::end(kPacked));
  for (quant::QType t : {quant::QType::q4_k, quant::QType::q5_k, quant::QType::q6_k, quant::QType::iq4_xs}) types.push_back(t);
  for (quant::QType t : types) {
    const std::string path = write_packed_model(t, dir + "/m-" + quant::qtype_info(t).ggml_name + ".gguf");
    for (const char* kv : {"f16", "f32", "fp8"}) {
      LoadOptions o;
      o.kv_type = kv;
      std::vector<int32_t> toks(180);
      for (size_t i = 0; i < toks.size(); ++i) toks[i] = int32_t((i * 37 + 5) % 68);
      std::vector<float> serial;  // forward() logits, position by position
      for (int threads : {1, 2}) {
        bigdl::set_num_threads(threads);
        auto m = load(path, o);
        const int64_t V = m->config().n_vocab;
        std::vector<float> s;
        for (int64_t p = 0; p < 180; ++p) {
          const float* l = m->forward(toks[size_t(p)], p);
          s.insert(s.end(), l, l + V);
        }
        if (serial.empty()) serial = s;
        ASSERT_EQ(0, std::memcmp(s.data(), serial.data(), s.size() * 4)) << "threads " << threads;
        // Batches of 1, 7 and 32 (positions 0, 1, 8), then all-position logits; the last
        // batch, 140 rows, is more than one prefill chunk (kTokenChunk, 128 in ops.cpp).
        auto b = load(path, o);
        const float* l = b->forward_batch(toks.data(), 1, 0);
        ASSERT_EQ(0, std::memcmp(l, serial.data(), size_t(V) * 4));
        l = b->forward_batch(toks.data() + 1, 7, 1);
        ASSERT_EQ(0, std::memcmp(l, serial.data() + 7 * V, size_t(V) * 4)) << quant::qtype_info(t).name << " " << kv;
        l = b->forward_batch_all(toks.data() + 8, 32, 8);
        ASSERT_EQ(0, std::memcmp(l, serial.data() + 8 * V, size_t(32 * V) * 4))
            << quant::qtype_info(t).name << " kv " << kv << " threads " << threads;
        l = b->forward_batch_all(toks.data() + 40, 140, 40);
        ASSERT_EQ(0, std::memcmp(l, serial.data() + 40 * V, size_t(140 * V) * 4))
            << quant::qtype_info(t).name << " kv " << kv << " threads " << threads << " (140 rows)";
      }
    }
  }
  bigdl::set_num_threads(before);
}

// ---- KV storage error on a real model ----

double max_rel_err(const float* a, const float* b, int64_t n) {
  double m = 0, s = 0, d = 0;
  for (int64_t i = 0; i < n; ++i) m += b[i];
  m /= double(n);
  for (int64_t i = 0; i < n; ++i) s += (b[i] - m) * (b[i] - m);
  for (int64_t i = 0; i < n; ++i) d = std::max(d, std::fabs(double(a[i]) - b[i]));
  return d / std::sqrt(s / double(n));
}

TEST(Hotpath, F16CacheBatchCloseToSerialOnF32Models) {
  // f32 weights: sgemm (batch) and dot (serial) differ by f32 rounding, which the f16
  // cache can turn into one f16 ulp of a cached value; bounded by 2e-3 x std (measured up
  // to 1.6e-4). Test_prefill checks the f32 cache at 1e-4.
  const std::string fx = std::string(BIGDL_TEST_DIR) + "/llm/fixtures/";
  const std::string& st = llm_test::kStoriesF32;
  for (const std::string& path : {st, fx + "hf_llama", fx + "hf_llama_tied", fx + "hf_qwen2"}) {
    LoadOptions o{.n_ctx = 128};
    auto a = load(path, o), b = load(path, o);
    const int64_t V = a->config().n_vocab;
    std::vector<int32_t> toks(65);
    for (size_t i = 0; i < toks.size(); ++i) toks[i] = int32_t((i * 13 + 3) % size_t(V));
    const float* lb = b->forward_batch_all(toks.data(), 64, 0);
    const std::vector<float> all(lb, lb + 64 * V);
    double worst = 0;
    for (int64_t p = 0; p < 64; ++p) worst = std::max(worst, max_rel_err(all.data() + p * V, a->forward(toks[size_t(p)], p), V));
    worst = std::max(worst, max_rel_err(b->forward(toks[64], 64), a->forward(toks[64], 64), V));
    EXPECT_LT(worst, 2e-3) << path;
  }
}

TEST(Hotpath, KvTypesStayCloseToF32OnStories260K) {
  // Teacher-forced on the f32-cache model's greedy ids from BOS. stories260K has head_dim
  // 8, so E5M2's 2 mantissa bits (<= 12.5% per cached value) move its logits a lot more
  // than they would a real model's; the bounds are what this tiny model gives with margin.
  const std::string& dir = llm_test::kStoriesDir;
  LoadOptions o32{.n_ctx = 128, .kv_type = "f32"}, o16{.n_ctx = 128, .kv_type = "f16"},
      o8{.n_ctx = 128, .kv_type = "fp8"};
  auto a = load(dir + "stories260K-f32.gguf", o32);
  auto b = load(dir + "stories260K-f32.gguf", o16);
  auto c = load(dir + "stories260K-f32.gguf", o8);
  double e16 = 0, e8 = 0, mean8 = 0;
  int agree16 = 0, agree8 = 0;
  int32_t tok = 1;
  const int n = 100;
  for (int64_t p = 0; p < n; ++p) {
    const float* la = a->forward(tok, p);
    const float* lb = b->forward(tok, p);
    const float* lc = c->forward(tok, p);
    const double x16 = max_rel_err(lb, la, 512), x8 = max_rel_err(lc, la, 512);
    e16 = std::max(e16, x16);
    e8 = std::max(e8, x8);
    mean8 += x8 / n;
    tok = bigdl::llm::argmax(la, 512);
    agree16 += bigdl::llm::argmax(lb, 512) == tok;
    agree8 += bigdl::llm::argmax(lc, 512) == tok;
  }
  std::printf("[hotpath] stories260K vs f32 KV, %d positions: f16 max %.2e x std, argmax %d/%d; "
              "fp8 max %.2f x std, mean %.2f x std, argmax %d/%d\n",
              n, e16, agree16, n, e8, mean8, agree8, n);
  EXPECT_LT(e16, 1e-2);
  EXPECT_GE(agree16, 99);
  EXPECT_LT(mean8, 0.5);
  EXPECT_GE(agree8, 85);
}

}  // namespace
