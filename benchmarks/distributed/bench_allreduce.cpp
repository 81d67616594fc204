// All-reduce time against the bandwidth bound, on N MPI ranks (one per simulated host).
//
//   mpirun -np N bench_allreduce [--sizes-mb 1,4,10,40] [--iters 5] [--warmup 2]
//                                [--link-gbit 1] [--algos mpi,sharded,ring]
//
// For each size (MB of f32 gradients, 1 MB = 1e6 bytes) and algorithm it times `iters`
// calls after `warmup` untimed ones. One call's time is the slowest rank's (all ranks leave
// a barrier together, each times its own call, the maximum is taken). Rank 0 prints one
// JSON line per (algo, size):
//   {"algo": "mpi_allreduce", "wire": "f32", "ranks": N, "bytes": B, "median_s": .., "min_s": ..,
//    "max_s": .., "bound_s": .., "ratio": median/bound, "cpu_busy": .., "cpu_wait": ..,
//    "all_s": [every timed call, sorted]}
// cpu_busy is the ranks' CPU time (user + system, which includes much of the kernel's TCP
// work) over the wall time of the timed calls, averaged over ranks; cpu_wait the time
// they were runnable but waited for a CPU (/proc/self/schedstat), on the same scale.
// Both near 0 means the ranks waited on the links, not on the cores.
// bound_s = 2 (N-1)/N * bytes / link_rate is the time any all-reduce needs when each host
// has one full-duplex link of link_rate: every host must send (and receive) (N-1)/N of the
// data twice, once to reduce its shard and once to gather the others' (the BigDL paper's
// sharded synchronisation reaches it).
//
// Algorithms:
//   mpi_allreduce  MPI_Allreduce in place: the peer (OpenMPI's own choice of algorithm)
//   sharded        bigdl's sharded sync through dist::Group, the BigDL scheme: rank i sums
//                  shard i (reduce_scatter), then every rank gathers all shards (all_gather);
//                  the Group's collective algorithm is its default (BIGDL_DIST_ALGO, else
//                  auto: the segmented ring for large calls on >= 3 ranks)
//   sharded_ring   the same with the Group's ring forced (CollectiveAlgo::ring)
//   sharded_mpi    the same with MPI's collectives forced (CollectiveAlgo::mpi)
//   sharded_bf16   the same with the reduce-scatter's wire in bf16 (half the bytes; its
//                  time can beat the f32 bound, which stays the reference)
//   sharded_gloo   the same sharded scheme through a Gloo group (dist::gloo_group: the Spark
//                  backend), connected over the hosts' eth0 (BIGDL_GLOO_IFACE)
//   ring           the same sharded scheme written here on MPI point-to-point: ring
//                  reduce-scatter and ring all-gather in 1 MB segments (class Ring), the
//                  prototype of the Group's ring, kept as a reference for it.
// The result of every call is checked (each rank contributes (rank+1)*(1 + i%13), exact in
// bf16, whose sum is exact in f32); a wrong sum aborts the run.
#include <mpi.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"
#include "bigdl/dist/group.h"

namespace {

using bench::fail;
using bench::usage_error;

std::vector<double> parse_list(const char* flag, const std::string& s) {
  std::vector<double> v;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find(',', pos);
    if (end == std::string::npos) end = s.size();
    std::string item = s.substr(pos, end - pos);
    char* rest = nullptr;
    double x = std::strtod(item.c_str(), &rest);
    if (item.empty() || *rest != '\0' || !(x > 0))
      usage_error(std::string(flag) + ": '" + item + "' is not a positive number");
    v.push_back(x);
    pos = end + 1;
  }
  return v;
}

struct Options {
  std::vector<double> sizes_mb{1, 4, 10, 40};
  int iters = 5;
  int warmup = 2;
  double link_gbit = 1.0;
  std::vector<std::string> algos{"mpi_allreduce", "sharded", "ring"};
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage_error("option " + a + " needs a value");
    std::string v = argv[++i];
    if (a == "--sizes-mb") {
      o.sizes_mb = parse_list("--sizes-mb", v);
    } else if (a == "--iters" || a == "--warmup") {
      char* rest = nullptr;
      long n = std::strtol(v.c_str(), &rest, 10);
      const long lo = a == "--iters" ? 1 : 0;
      if (v.empty() || *rest != '\0' || n < lo || n > 1000)
        usage_error(a + ": '" + v + "' is not a count in [" + std::to_string(lo) + ", 1000]");
      (a == "--iters" ? o.iters : o.warmup) = int(n);
    } else if (a == "--link-gbit") {
      o.link_gbit = parse_list("--link-gbit", v).at(0);
    } else if (a == "--algos") {
      o.algos.clear();
      size_t pos = 0;
      while (pos <= v.size()) {
        size_t end = v.find(',', pos);
        if (end == std::string::npos) end = v.size();
        std::string name = v.substr(pos, end - pos);
        if (name == "mpi") name = "mpi_allreduce";
        if (name != "mpi_allreduce" && name != "sharded" && name != "sharded_ring" && name != "sharded_mpi" &&
            name != "sharded_bf16" && name != "sharded_gloo" && name != "ring")
          usage_error("--algos: unknown algorithm '" + name +
                      "' (mpi, sharded, sharded_ring, sharded_mpi, sharded_bf16, sharded_gloo, ring)");
        o.algos.push_back(name);
        pos = end + 1;
      }
    } else {
      usage_error("unknown option " + a);
    }
  }
  return o;
}

// Each algorithm sums `buf` (n floats, n a multiple of the rank count) over all ranks in place.
using AllReduce = std::function<void(float* buf, size_t n)>;

// Ring reduce-scatter + all-gather on MPI_COMM_WORLD; rank r's summed block is block r.
// Reduce-scatter step s (0..N-2): rank r sends block (r-s-1) to rank r+1 and receives
// block (r-s-2) from rank r-1, adding it into its own copy; after N-1 steps block r holds
// the sum. All-gather step s: rank r forwards block (r-s) to r+1 and receives block
// (r-s-1). Blocks travel as 1 MB messages, all posted at once: each received segment is
// summed while the next ones are still on the wire.
class Ring {
 public:
  void operator()(float* buf, size_t n) {
    int rank = 0, ranks = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    if (ranks == 1) return;
    const size_t m = n / size_t(ranks);
    auto block = [&](int b) { return buf + size_t(((b % ranks) + ranks) % ranks) * m; };
    tmp_.resize(m);
    for (int s = 0; s < ranks - 1; ++s) step(block(rank - s - 1), block(rank - s - 2), m, rank, ranks, true);
    for (int s = 0; s < ranks - 1; ++s) step(block(rank - s), block(rank - s - 1), m, rank, ranks, false);
  }

 private:
  // Sends `out` (m floats) to the right neighbour while receiving m floats from the left
  // one, added into `in` (reduce) or written to it.
  void step(const float* out, float* in, size_t m, int rank, int ranks, bool reduce) {
    const int right = (rank + 1) % ranks, left = (rank + ranks - 1) % ranks;
    const size_t seg = std::min<size_t>(m, kSegment);
    const size_t nseg = (m + seg - 1) / seg;
    float* dst = reduce ? tmp_.data() : in;
    std::vector<MPI_Request> recv(nseg), send(nseg);
    for (size_t j = 0; j < nseg; ++j)
      MPI_Irecv(dst + j * seg, int(std::min(seg, m - j * seg)), MPI_FLOAT, left, int(j), MPI_COMM_WORLD, &recv[j]);
    for (size_t j = 0; j < nseg; ++j)
      MPI_Isend(out + j * seg, int(std::min(seg, m - j * seg)), MPI_FLOAT, right, int(j), MPI_COMM_WORLD, &send[j]);
    for (size_t k = 0; k < nseg; ++k) {
      int j = 0;
      MPI_Waitany(int(nseg), recv.data(), &j, MPI_STATUS_IGNORE);
      if (reduce) {
        const size_t off = size_t(j) * seg, len = std::min(seg, m - off);
        for (size_t i = 0; i < len; ++i) in[off + i] += tmp_[off + i];
      }
    }
    MPI_Waitall(int(nseg), send.data(), MPI_STATUSES_IGNORE);
  }

  static constexpr size_t kSegment = (1 << 20) / sizeof(float);  // 1 MB
  std::vector<float> tmp_;
};

// The Gloo group of sharded_gloo: the same ranks, connected by Gloo over TCP on the
// interface BIGDL_GLOO_IFACE (the simulated hosts' eth0 by default), the rendezvous an MPI
// all-gather of the address bytes (Spark uses BarrierTaskContext.allGather instead).
bigdl::dist::GroupPtr gloo_over_mpi(bigdl::dist::Group& mpi) {
  const int n = mpi.size();
  bigdl::dist::GlooOptions o;
  const char* iface = std::getenv("BIGDL_GLOO_IFACE");
  o.iface = iface && *iface ? iface : "eth0";
  auto exchange = [&mpi, n](const std::string& mine) {
    std::vector<int64_t> lens(size_t(n), 0);
    lens[size_t(mpi.rank())] = int64_t(mine.size());
    mpi.all_reduce(lens.data(), n, bigdl::DType::i64, bigdl::dist::ReduceOp::sum);
    int64_t total = 0;
    for (int64_t l : lens) total += l;
    std::string all(size_t(total), '\0');
    mpi.all_gather(mine.data(), all.data(), lens, bigdl::DType::u8);
    std::vector<std::string> out;
    int64_t at = 0;
    for (int64_t l : lens) {
      out.push_back(all.substr(size_t(at), size_t(l)));
      at += l;
    }
    return out;
  };
  return bigdl::dist::gloo_group(mpi.rank(), n, exchange, o);
}

AllReduce make_algo(const std::string& name, bigdl::dist::Group& g) {
  if (name == "ring") return [ring = std::make_shared<Ring>()](float* buf, size_t n) { (*ring)(buf, n); };
  if (name == "mpi_allreduce") {
    return [](float* buf, size_t n) { MPI_Allreduce(MPI_IN_PLACE, buf, int(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); };
  }
  const auto wire = name == "sharded_bf16" ? bigdl::dist::WireType::bf16 : bigdl::dist::WireType::f32;
  const auto algo = name == "sharded_ring"  ? bigdl::dist::CollectiveAlgo::ring
                    : name == "sharded_mpi" ? bigdl::dist::CollectiveAlgo::mpi
                                            : g.collective_algo();
  // sharded_gloo: the same scheme on a Gloo group (kept alive by the closure)
  bigdl::dist::GroupPtr gloo = name == "sharded_gloo" ? gloo_over_mpi(g) : nullptr;
  bigdl::dist::Group* use = gloo ? gloo.get() : &g;
  // rank r's summed shard goes to its own block of buf, where all_gather (in place)
  // expects it; reduce_scatter needs a separate receive buffer, kept between calls
  auto mine = std::make_shared<std::vector<float>>();
  return [&g = *use, gloo, wire, algo, mine](float* buf, size_t n) {
    g.set_collective_algo(algo);
    const size_t shard = n / size_t(g.size());
    const std::vector<int64_t> counts(size_t(g.size()), int64_t(shard));
    mine->resize(shard);
    g.reduce_scatter(buf, mine->data(), counts, wire);
    float* own = buf + size_t(g.rank()) * shard;
    std::copy(mine->begin(), mine->end(), own);
    g.all_gather(own, buf, counts, bigdl::DType::f32);
  };
}

// CPU seconds (user + system) this process has used so far.
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// Seconds this process has waited, runnable, for a CPU (Linux /proc/self/schedstat,
// second field); 0 where that file is missing.
double runqueue_wait_seconds() {
  FILE* f = std::fopen("/proc/self/schedstat", "r");
  if (!f) return 0;
  unsigned long long run_ns = 0, wait_ns = 0;
  const int got = std::fscanf(f, "%llu %llu", &run_ns, &wait_ns);
  std::fclose(f);
  return got == 2 ? 1e-9 * double(wait_ns) : 0;
}

void fill(std::vector<float>& buf, int rank) {
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = float(rank + 1) * float(1 + i % 13);
}

void check(const std::vector<float>& buf, int ranks, const std::string& algo) {
  const float tri = float(ranks) * float(ranks + 1) / 2;
  for (size_t i = 0; i < buf.size(); ++i) {
    if (buf[i] != tri * float(1 + i % 13)) {
      fail(algo + ": wrong sum at element " + std::to_string(i) + ": " + std::to_string(buf[i]) + ", expected " +
           std::to_string(tri * float(1 + i % 13)));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::g_prog = "bench_allreduce";
  // dist::init starts MPI (MPI_THREAD_SERIALIZED) and finalises it at exit
  bigdl::dist::GroupPtr g;
  try {
    g = bigdl::dist::init(bigdl::dist::Backend::mpi);
  } catch (const bigdl::Error& e) {
    std::fprintf(stderr, "bench_allreduce: %s\n", e.what());
    return 2;
  }
  const int rank = g->rank(), ranks = g->size();
  bench::g_rank = rank;
  const Options opt = parse(argc, argv);
  const double link_bytes_per_s = opt.link_gbit * 1e9 / 8;

  for (const auto& algo : opt.algos) {
    const AllReduce run = make_algo(algo, *g);
    for (double mb : opt.sizes_mb) {
      // round the element count up to a multiple of the rank count (sharded needs equal shards)
      size_t n = size_t(std::llround(mb * 1e6 / sizeof(float)));
      n = (n + size_t(ranks) - 1) / size_t(ranks) * size_t(ranks);
      std::vector<float> buf(n);
      std::vector<double> times;
      double cpu = 0, runq = 0;  // CPU seconds, and seconds waiting for a CPU, inside the timed calls
      for (int it = 0; it < opt.warmup + opt.iters; ++it) {
        fill(buf, rank);
        MPI_Barrier(MPI_COMM_WORLD);
        const double c0 = cpu_seconds(), q0 = runqueue_wait_seconds();
        const double t0 = MPI_Wtime();
        try {
          run(buf.data(), n);
        } catch (const bigdl::Error& e) {
          fail(algo + ": " + e.what());
        }
        double dt = MPI_Wtime() - t0, slowest = 0;
        if (it >= opt.warmup) {
          cpu += cpu_seconds() - c0;
          runq += runqueue_wait_seconds() - q0;
        }
        MPI_Allreduce(&dt, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        check(buf, ranks, algo);
        if (it >= opt.warmup) times.push_back(slowest);
      }
      std::sort(times.begin(), times.end());
      // busy = CPU time / wall time of the calls, averaged over ranks: near 1 means the
      // ranks were computing or copying all the time (CPU-bound), near 0 that they waited
      // runq = time spent runnable but waiting for a CPU over the same wall time: near 0
      // means the ranks got a core whenever they wanted one
      double load[2] = {cpu, runq}, total_time = 0;
      for (double t : times) total_time += t;
      MPI_Allreduce(MPI_IN_PLACE, load, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
      const double busy = load[0] / (ranks * total_time), runq_frac = load[1] / (ranks * total_time);
      const double median = times.size() % 2 ? times[times.size() / 2]
                                              : (times[times.size() / 2 - 1] + times[times.size() / 2]) / 2;
      const double bytes = double(n) * sizeof(float);
      const double bound = 2.0 * (ranks - 1) / ranks * bytes / link_bytes_per_s;
      if (rank == 0) {
        std::string all;
        for (double t : times) all += (all.empty() ? "" : ", ") + std::to_string(t);
        std::printf(
            "{\"algo\": \"%s\", \"wire\": \"%s\", \"ranks\": %d, \"bytes\": %.0f, \"median_s\": %.6f, "
            "\"min_s\": %.6f, \"max_s\": %.6f, \"bound_s\": %.6f, \"ratio\": %.3f, \"cpu_busy\": %.2f, "
            "\"cpu_wait\": %.2f, \"all_s\": [%s]}\n",
            algo.c_str(), algo == "sharded_bf16" ? "bf16" : "f32", ranks, bytes, median, times.front(), times.back(),
            bound, ranks > 1 ? median / bound : 0.0, busy, runq_frac, all.c_str());
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
