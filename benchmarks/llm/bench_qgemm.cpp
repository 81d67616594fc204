// The packed low-bit GEMM kernels (src/backend/cpu/quant/qgemm.h) of every ISA this CPU
// has, side by side in one process: AVX2 (vpmaddubsw) against AVX-512 VNNI (vpdpbusd)
// and the scalar reference, on the same packed matrix and the same int8 activations.
//
//   bench_qgemm [--rows 4096] [--cols 4096] [--threads 1] [--reps 5] [--types q6_k,q4_k]
//               [--n 1x2,1,16,32,64]
//
// For every packed type (quant::kPackedTypes: the 32-weight types against BlockQ8A
// activations, Q4_K / Q5_K / Q6_K / IQ4_XS against BlockQ8K; the latter only when --cols
// is a multiple of 256) and n = 1 (decode: one activation row) and
// "1x2" (decode as the engine runs it: gemv2 over the two halves of each thread's groups),
// n = 16, 32, 64 (prefill; "<table>/g2" rows: gemm2, two groups a call), prints the best-of---reps time, the weight bytes read per second
// and the integer multiply-adds per second (2 * rows * cols * n ops), plus the ratio to
// the avx2 row. Threads split the row groups evenly (std::thread, started per pass). A
// 4096 x 4096 Q4_0 matrix is 9.4 MB: it may sit in a large last-level cache, so decode
// rows measure cache bandwidth on such CPUs; use --rows 32768 for memory. The results of
// every table are checked equal to the avx2 table's bit for bit (exit 1 otherwise).
// --types and --n keep only the listed types (by name) and activation row counts.
// Errors: one line on stderr, exit 2.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backend/cpu/kernels.h"
#include "bench_args.h"
#include "backend/cpu/quant/qgemm.h"

namespace {

namespace quant = bigdl::detail::quant;
using bigdl::detail::Isa;


// One pass: the row groups split evenly over `threads` threads. n >= 1: the table's gemm
// per group with n activation rows. n = 0: decode as the engine runs it (matvec_multi in
// src/llm/ops.cpp): each thread's groups as two halves read in step by gemv2 (two memory
// streams), an odd last group through gemm with one row.
// pairs (n >= 1): the groups two at a time through the table's gemm2, as the engine's
// prefill runs them where the table has one.
double run_pass(const quant::PackedKernels& k, quant::QType t, const uint8_t* packed, int64_t rows, int64_t cols,
                const void* x, int64_t n, float* y, int threads, bool pairs) {
  const int64_t nb = cols / quant::qtype_info(t).block_size, groups = rows / quant::kPackRows, tile = quant::packed_tile_bytes(t);
  const auto fn = k.gemm[static_cast<int>(t)];
  const auto fn2 = k.gemv2[static_cast<int>(t)];
  const auto fng2 = k.gemm2[static_cast<int>(t)];
  const auto group = [&](int64_t g) { return packed + g * nb * tile; };
  const auto t0 = std::chrono::steady_clock::now();
  const auto work = [&](int id) {
    const int64_t g0 = groups * id / threads, g1 = groups * (id + 1) / threads, half = n == 0 ? (g1 - g0) / 2 : 0;
    for (int64_t i = 0; i < half; ++i)
      fn2(nb, group(g0 + i), group(g0 + half + i), x, y + (g0 + i) * quant::kPackRows, y + (g0 + half + i) * quant::kPackRows);
    int64_t g = g0 + 2 * half;
    if (pairs)
      for (; g + 2 <= g1; g += 2) fng2(nb, group(g), group(g + 1), x, n, y + g * quant::kPackRows, y + (g + 1) * quant::kPackRows, rows);
    for (; g < g1; ++g) fn(nb, group(g), x, std::max<int64_t>(n, 1), y + g * quant::kPackRows, rows);
  };
  if (threads == 1) {
    work(0);
  } else {
    std::vector<std::thread> pool;
    for (int id = 0; id < threads; ++id) pool.emplace_back(work, id);
    for (auto& th : pool) th.join();
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool kept(const std::vector<std::string>& only, const std::string& v) {
  return only.empty() || std::find(only.begin(), only.end(), v) != only.end();
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; i += 2)
    if (std::strcmp(argv[i], "--rows") != 0 && std::strcmp(argv[i], "--cols") != 0 &&
        std::strcmp(argv[i], "--threads") != 0 && std::strcmp(argv[i], "--reps") != 0 &&
        std::strcmp(argv[i], "--types") != 0 && std::strcmp(argv[i], "--n") != 0) {
      std::fprintf(stderr,
                   "bench_qgemm: unknown option '%s' (usage: bench_qgemm [--rows R] [--cols C] [--threads T] [--reps N] "
                   "[--types a,b] [--n 1x2,1,16,32,64])\n",
                   argv[i]);
      return 2;
    }
  const std::vector<std::string> only_types = bench::list_arg(argc, argv, "--types"), only_n = bench::list_arg(argc, argv, "--n");
  for (const std::string& v : only_types) {
    bool known = false;
    for (int ti = 0; ti < quant::kNumQTypes; ++ti)
      known = known || (quant::packable(static_cast<quant::QType>(ti)) && v == quant::qtype_info(static_cast<quant::QType>(ti)).name);
    if (!known) {
      std::fprintf(stderr, "bench_qgemm: --types: '%s' is not a packed type\n", v.c_str());
      return 2;
    }
  }
  for (const std::string& v : only_n)
    if (v != "1x2" && v != "1" && v != "16" && v != "32" && v != "64") {
      std::fprintf(stderr, "bench_qgemm: --n: '%s' is not one of 1x2, 1, 16, 32, 64\n", v.c_str());
      return 2;
    }
  const int64_t rows = bench::positive_arg(argc, argv, "bench_qgemm", "--rows", 4096), cols = bench::positive_arg(argc, argv, "bench_qgemm", "--cols", 4096);
  const int threads = static_cast<int>(bench::positive_arg(argc, argv, "bench_qgemm", "--threads", 1));
  const long reps = bench::positive_arg(argc, argv, "bench_qgemm", "--reps", 5);
  if (rows % 8 != 0 || cols % 32 != 0) {
    std::fprintf(stderr, "bench_qgemm: --rows must be a multiple of 8 and --cols of 32, got %lld x %lld\n",
                 (long long)rows, (long long)cols);
    return 2;
  }
  std::printf("bench_qgemm: %lld x %lld, %d thread(s), best of %ld; detected ISA %s\n", (long long)rows,
              (long long)cols, threads, reps, bigdl::detail::isa_name(bigdl::detail::detect_isa()));
  std::printf("%-10s %4s %-11s %10s %9s %10s %8s\n", "type", "n", "kernels", "ms", "GB/s w", "Gop/s", "vs avx2");
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t nmax = 64;
  std::vector<float> xf(static_cast<size_t>(nmax * cols));
  for (auto& v : xf) v = nd(rng);
  std::vector<quant::BlockQ8A> xq(static_cast<size_t>(nmax * cols / 32));
  for (int64_t r = 0; r < nmax; ++r) quant::quantize_act_ref(xf.data() + r * cols, xq.data() + r * cols / 32, cols);
  std::vector<quant::BlockQ8K> xk(static_cast<size_t>(nmax * cols / 256));
  if (cols % 256 == 0)
    for (int64_t r = 0; r < nmax; ++r)
      quant::quant_kernels_ref().quantize_act_k(xf.data() + r * cols, xk.data() + r * cols / 256, cols);
  int mismatches = 0;
  for (int ti = 0; ti < quant::kNumQTypes; ++ti) {
    const auto t = static_cast<quant::QType>(ti);
    const quant::QTypeInfo& info = quant::qtype_info(t);
    if (!quant::packable(t) || cols % info.block_size != 0 || !kept(only_types, info.name)) continue;
    const void* x = info.act == quant::ActQ8::k256 ? static_cast<const void*>(xk.data()) : xq.data();
    std::vector<uint8_t> q(static_cast<size_t>(quant::row_bytes(t, cols) * rows));
    std::vector<float> wrow(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& v : wrow) v = 0.02f * nd(rng);
      info.quantize_row(wrow.data(), q.data() + r * quant::row_bytes(t, cols), cols);
    }
    std::vector<uint8_t> packed(static_cast<size_t>(quant::packed_bytes(t, rows, cols)));
    quant::pack_rows(t, q.data(), rows, cols, packed.data());
    const double gbytes = double(packed.size()) / 1e9;
    // n = 0 stands for the decode path through gemv2 ("1x2" in the table).
    for (int64_t n : {int64_t(0), int64_t(1), int64_t(16), int64_t(32), int64_t(64)}) {
      if (!kept(only_n, n == 0 ? "1x2" : std::to_string(n))) continue;
      std::vector<float> want;
      double avx2_s = 0;
      for (int variant = 0; variant < 2 * int(std::size(bigdl::detail::kAllIsas)); ++variant) {
        const Isa isa = bigdl::detail::kAllIsas[variant / 2];
        const bool pairs = variant % 2 == 1;  // the table's gemm2 (two groups per call), where it has one
        const quant::PackedKernels* k = quant::packed_kernels_for(isa);
        if (k == nullptr || (isa == Isa::scalar && n != 1)) continue;  // the reference is slow: decode only
        if (pairs && (n == 0 || k->gemm2[ti] == nullptr)) continue;
        std::vector<float> y(static_cast<size_t>(std::max<int64_t>(n, 1) * rows));
        double best = 1e30;
        for (long rep = 0; rep < reps + 1; ++rep) {  // one warm-up pass
          const double s = run_pass(*k, t, packed.data(), rows, cols, x, n, y.data(), threads, pairs);
          if (rep > 0) best = std::min(best, s);
        }
        const std::string kname = std::string(k->name) + (pairs ? "/g2" : "");
        if (isa == Isa::avx2) {
          avx2_s = best;
          want = y;
        } else if (!want.empty() && std::memcmp(want.data(), y.data(), y.size() * sizeof(float)) != 0) {
          std::fprintf(stderr, "bench_qgemm: %s %s n=%lld differs from avx2\n", kname.c_str(), info.name, (long long)n);
          ++mismatches;
        }
        char ratio[16] = "-";
        if (avx2_s > 0 && isa != Isa::avx2) std::snprintf(ratio, sizeof ratio, "%.2fx", avx2_s / best);
        std::printf("%-10s %4s %-11s %10.3f %9.1f %10.1f %8s\n", info.name, n == 0 ? "1x2" : std::to_string(n).c_str(),
                    kname.c_str(), 1e3 * best, gbytes / best, 2.0 * double(rows) * double(cols) * double(std::max<int64_t>(n, 1)) / best / 1e9,
                    ratio);
      }
    }
  }
  return mismatches ? 1 : 0;
}
