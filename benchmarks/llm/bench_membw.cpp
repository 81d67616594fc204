// Memory read bandwidth, the bound LLM decode runs against (benchmarks/llm/run.py).
//
//   bench_membw [--threads N] [--mib 1024] [--reps 7]
//
// Each of N threads sums its own contiguous 1/N of a buffer of --mib MiB (far larger than
// the last-level cache) with independent 256-bit accumulators (AVX2, checked at run time),
// so the loop is bound by loads, not by an add chain. Prints one JSON line: {"threads": N, "mib": M, "gb_per_s": X}, the
// best of --reps passes (GB = 1e9 bytes; the wall time of a pass includes starting and
// joining the threads, ~0.1% of a 1 GiB pass).
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

// 4 x 256-bit loads per iteration into 4 independent accumulators; on a CPU without
// AVX2 the portable loop below is used.
__attribute__((target("avx2"))) uint64_t sum_range_avx2(const uint64_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
    a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
    a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                     _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
  uint64_t s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (; i < n; ++i) s += p[i];
  return s;
}

uint64_t sum_range_portable(const uint64_t* p, size_t n) {
  uint64_t a[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) a[k] += p[i + k];
  for (; i < n; ++i) a[0] += p[i];
  uint64_t s = 0;
  for (uint64_t v : a) s += v;
  return s;
}

uint64_t sum_range(const uint64_t* p, size_t n) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2 ? sum_range_avx2(p, n) : sum_range_portable(p, n);
}

long parse_arg(int argc, char** argv, const char* name, long def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) {
      char* end = nullptr;
      const long v = std::strtol(argv[i + 1], &end, 10);
      if (end == argv[i + 1] || *end != '\0' || v < 1) {
        std::fprintf(stderr, "bench_membw: %s expects a positive integer, got '%s'\n", name, argv[i + 1]);
        std::exit(2);
      }
      return v;
    }
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; i += 2)
    if (std::strcmp(argv[i], "--threads") != 0 && std::strcmp(argv[i], "--mib") != 0 &&
        std::strcmp(argv[i], "--reps") != 0) {
      std::fprintf(stderr, "bench_membw: unknown option '%s' (usage: bench_membw [--threads N] [--mib M] [--reps R])\n",
                   argv[i]);
      return 2;
    }
  const long threads = parse_arg(argc, argv, "--threads", 1);
  const long mib = parse_arg(argc, argv, "--mib", 1024);
  const long reps = parse_arg(argc, argv, "--reps", 7);
  const size_t n = size_t(mib) << 17;  // uint64 words
  std::vector<uint64_t> buf(n);
  for (size_t i = 0; i < n; ++i) buf[i] = i;  // touch every page before timing
  std::vector<uint64_t> sums(size_t(threads), 0);
  double best = 1e30;
  for (long r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (long t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const size_t lo = n * size_t(t) / size_t(threads), hi = n * size_t(t + 1) / size_t(threads);
        sums[size_t(t)] += sum_range(buf.data() + lo, hi - lo);
      });
    for (auto& th : pool) th.join();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  uint64_t check = 0;
  for (uint64_t s : sums) check += s;
  // check is printed so the sums cannot be optimized away.
  std::printf("{\"threads\": %ld, \"mib\": %ld, \"gb_per_s\": %.2f, \"check\": %llu}\n", threads, mib,
              double(n * sizeof(uint64_t)) / best / 1e9, (unsigned long long)check);
  return 0;
}
