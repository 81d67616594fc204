// Memory read bandwidth, the bound LLM decode runs against (benchmarks/llm/run.py).
//
//   bench_membw [--threads N] [--mib 1024] [--reps 7]
//
// Each of N threads sums its own contiguous 1/N of a buffer of --mib MiB (far larger than
// the last-level cache) with independent 256-bit accumulators (AVX2, checked at run time),
// so the loop is bound by loads, not by an add chain. The buffer is asked for transparent
// huge pages (as the packed LLM weights are, src/llm/graph.h PackedArena), and each thread
// reads its part as two interleaved streams (its two halves in step): of the patterns
// tried on the Zen 3 of benchmarks/README.md this reads fastest (one thread: 4 KiB pages
// and one stream ~20 GB/s, huge pages ~23, huge pages and two streams ~28), so the bound
// is the best rate found, not an easy one. Prints one JSON line: {"threads": N, "mib": M,
// "gb_per_s": X}, the best of --reps passes (GB = 1e9 bytes; the wall time of a pass
// includes starting and joining the threads, ~0.1% of a 1 GiB pass).
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_args.h"

namespace {

// Two streams (the halves of [p, p + n)) of 2 x 256-bit loads each per iteration into 4
// independent accumulators; on a CPU without AVX2 the portable loop below is used.
__attribute__((target("avx2"))) uint64_t sum_range_avx2(const uint64_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  const size_t half = n / 2 / 8 * 8;
  const uint64_t* q = p + half;
  size_t i = 0;
  for (; i + 8 <= half; i += 8) {
    a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
    a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i)));
    a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i + 4)));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                     _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
  uint64_t s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (i = 2 * half; i < n; ++i) s += p[i];
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


}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; i += 2)
    if (std::strcmp(argv[i], "--threads") != 0 && std::strcmp(argv[i], "--mib") != 0 &&
        std::strcmp(argv[i], "--reps") != 0) {
      std::fprintf(stderr, "bench_membw: unknown option '%s' (usage: bench_membw [--threads N] [--mib M] [--reps R])\n",
                   argv[i]);
      return 2;
    }
  const long threads = bench::positive_arg(argc, argv, "bench_membw", "--threads", 1);
  const long mib = bench::positive_arg(argc, argv, "bench_membw", "--mib", 1024);
  const long reps = bench::positive_arg(argc, argv, "bench_membw", "--reps", 7);
  const size_t n = size_t(mib) << 17;  // uint64 words
  const size_t bytes = n * sizeof(uint64_t), huge = size_t(2) << 20;
  auto* buf = static_cast<uint64_t*>(std::aligned_alloc(huge, (bytes + huge - 1) / huge * huge));
  if (buf == nullptr) {
    std::fprintf(stderr, "bench_membw: cannot allocate %ld MiB\n", mib);
    return 1;
  }
  madvise(buf, bytes, MADV_HUGEPAGE);  // advisory: without THP the pages stay 4 KiB
  for (size_t i = 0; i < n; ++i) buf[i] = i;  // touch every page before timing
  std::vector<uint64_t> sums(size_t(threads), 0);
  double best = 1e30;
  for (long r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (long t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const size_t lo = n * size_t(t) / size_t(threads), hi = n * size_t(t + 1) / size_t(threads);
        sums[size_t(t)] += sum_range(buf + lo, hi - lo);
      });
    for (auto& th : pool) th.join();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::free(buf);
  uint64_t check = 0;
  for (uint64_t s : sums) check += s;
  // check is printed so the sums cannot be optimized away.
  std::printf("{\"threads\": %ld, \"mib\": %ld, \"gb_per_s\": %.2f, \"check\": %llu}\n", threads, mib,
              double(n * sizeof(uint64_t)) / best / 1e9, (unsigned long long)check);
  return 0;
}
