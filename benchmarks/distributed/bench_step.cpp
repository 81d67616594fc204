// Data-parallel training step of a 10M-parameter MLP on N MPI ranks through
// dist::AllReduceParameter (BigDL's sharded synchronisation, as train::Model::fit uses
// it), timed phase by phase.
//
//   mpirun -np N bench_step [--global-batch 512] [--steps 5] [--warmup 2] [--threads 1]
//                           [--sizes 784,2048,2048,2048,10] [--link-gbit 1]
//                           [--overlap 0|1] [--wire f32|bf16|f16] [--bucket-mb 26.2]
//
// The global batch is fixed; each rank trains on global/N rows (random data, its own
// seed) and weights its gradient by 1/N. One step, after all ranks start together:
//   forward   forward + cross-entropy on the local rows
//   backward  AllReduceParameter::backward: autograd backward; with --overlap 1 the
//             gradient buckets are reduce-scattered on a communication thread meanwhile
//   wait      after backward, until the reduce-scatter of every bucket has finished
//   optim     optim::SGD (momentum 0.9) on this rank's shard of the weights
//   gather    all-gather of the updated weight shards
// Reported (medians over steps; per step the maximum over ranks unless said otherwise):
//   step_s     the whole step
//   compute_s  forward + backward
//   sync_s     wait + gather of the rank that reached the reduce-scatter last: the others'
//              wait also holds the time they idled for it (imbalance), the last one's
//              is communication only (minimum over ranks)
//   optim_s    optim
// compute_alone_s is forward + backward of a plain copy of the model on the same local
// batch on rank 0 while every other rank sleeps: what a host with its own core spends.
// Where N ranks share fewer than N cores (the simulated cluster on a 2-core machine)
// compute_s is inflated by the sharing, and compute_alone_s is the figure that projects
// a real cluster. sync_bound_s = 2 (N-1)/N * gradient bytes / link rate.
//
// Rank 0 prints one JSON line:
//   {"ranks": N, "global_batch": B, "params": P, "overlap": 0|1, "wire": "f32",
//    "step_s": .., "compute_s": .., "sync_s": .., "optim_s": .., "compute_alone_s": ..,
//    "sync_bound_s": .., "weights_agree": true}
// weights_agree: every rank ends with the same weights (a hash of their bits); false
// aborts the run with an error.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bigdl/dist/all_reduce_parameter.h"
#include "bench_common.h"
#include "bigdl/dist/group.h"
#include "bigdl/nn/loss.h"
#include "bigdl/optim/optimizer.h"
#include "bigdl/random.h"
#include "bigdl/train/zoo.h"

using namespace bigdl;

namespace {

using bench::fail;
using bench::usage_error;

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// A barrier that sleeps instead of spinning: with more ranks than cores a spinning
// MPI_Barrier would take the CPU from the ranks still computing.
void sleeping_barrier() {
  MPI_Request req;
  MPI_Ibarrier(MPI_COMM_WORLD, &req);
  int done = 0;
  while (MPI_Test(&req, &done, MPI_STATUS_IGNORE), !done) std::this_thread::sleep_for(std::chrono::microseconds(100));
}

long parse_int(const std::string& flag, const std::string& v, long lo, long hi) {
  char* rest = nullptr;
  long n = std::strtol(v.c_str(), &rest, 10);
  if (v.empty() || *rest != '\0' || n < lo || n > hi)
    usage_error(flag + ": '" + v + "' is not an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return n;
}

double parse_positive(const std::string& flag, const std::string& v) {
  char* rest = nullptr;
  double x = std::strtod(v.c_str(), &rest);
  if (v.empty() || *rest != '\0' || !(x > 0)) usage_error(flag + ": '" + v + "' is not a positive number");
  return x;
}

struct Options {
  int64_t global_batch = 512;
  int steps = 5, warmup = 2, threads = 1;
  std::vector<int64_t> sizes{784, 2048, 2048, 2048, 10};
  double link_gbit = 1.0;
  dist::SyncOptions sync;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage_error("option " + a + " needs a value");
    std::string v = argv[++i];
    if (a == "--global-batch") o.global_batch = parse_int(a, v, 1, 1 << 20);
    else if (a == "--steps") o.steps = int(parse_int(a, v, 1, 1000));
    else if (a == "--warmup") o.warmup = int(parse_int(a, v, 0, 1000));
    else if (a == "--threads") o.threads = int(parse_int(a, v, 1, 256));
    else if (a == "--link-gbit") o.link_gbit = parse_positive(a, v);
    else if (a == "--overlap") o.sync.overlap = parse_int(a, v, 0, 1) == 1;
    else if (a == "--bucket-mb") o.sync.bucket_bytes = int64_t(parse_positive(a, v) * 1e6);
    else if (a == "--wire") {
      try {
        o.sync.wire = dist::parse_wire_type(v);
      } catch (const Error& e) {
        usage_error(e.what());
      }
    } else if (a == "--sizes") {
      o.sizes.clear();
      size_t pos = 0;
      while (pos <= v.size()) {
        size_t end = v.find(',', pos);
        if (end == std::string::npos) end = v.size();
        o.sizes.push_back(parse_int("--sizes", v.substr(pos, end - pos), 1, 1 << 20));
        pos = end + 1;
      }
      if (o.sizes.size() < 2) usage_error("--sizes: need at least an input and an output size");
    } else {
      usage_error("unknown option " + a);
    }
  }
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  bench::g_prog = "bench_step";
  dist::GroupPtr g;
  try {
    g = dist::init(dist::Backend::mpi);  // starts MPI; finalised at exit
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_step: %s\n", e.what());
    return 2;
  }
  const int rank = g->rank(), n = g->size();
  bench::g_rank = rank;
  const Options opt = parse(argc, argv);
  if (opt.global_batch % n != 0)
    usage_error("--global-batch " + std::to_string(opt.global_batch) + " is not divisible by " + std::to_string(n) +
                " ranks");
  const int64_t batch = opt.global_batch / n;
  set_num_threads(opt.threads);

  try {
    manual_seed(0);
    auto net = train::zoo::mlp(opt.sizes);
    dist::AllReduceParameter sync(net->parameters(), g, opt.sync);  // broadcasts rank 0's weights
    sync.set_optimizer(optim::SGD(net->parameters(), optim::SGDOptions{0.01, 0.9}));

    manual_seed(uint64_t(1 + rank));
    const Tensor x = randn({batch, opt.sizes.front()});
    const Tensor y = randint(0, opt.sizes.back(), {batch});
    nn::CrossEntropyLoss ce;

    // compute alone: a plain copy of the model on rank 0 while every other rank sleeps
    double alone = 0;
    {
      auto copy = train::zoo::mlp(opt.sizes);
      auto fwd_bwd = [&] {
        copy->zero_grad();
        ce(copy->forward(x), y).backward();
      };
      sleeping_barrier();
      if (rank == 0) {
        fwd_bwd();  // warm-up
        std::vector<double> t;
        for (int i = 0; i < std::max(3, opt.steps); ++i) {
          const double t0 = now();
          fwd_bwd();
          t.push_back(now() - t0);
        }
        alone = median(t);
      }
      sleeping_barrier();
    }

    std::vector<double> step_t, compute_t, sync_t, optim_t;
    for (int it = 0; it < opt.warmup + opt.steps; ++it) {
      sleeping_barrier();
      const double t0 = now();
      const Tensor loss = ce(net->forward(x), y);
      const double t1 = now();
      sync.backward(loss, 1.0 / n);
      sync.step();
      const double t2 = now();
      const dist::StepStats& s = sync.last_stats();
      // max over ranks of step, compute, optim; min over ranks of sync (as -max of -sync)
      double t[4] = {t2 - t0, (t1 - t0) + s.backward_s, s.step_s, -(s.wait_s + s.gather_s)};
      g->all_reduce(t, 4, DType::f64, dist::ReduceOp::max);
      if (it >= opt.warmup) {
        step_t.push_back(t[0]);
        compute_t.push_back(t[1]);
        optim_t.push_back(t[2]);
        sync_t.push_back(-t[3]);
      }
    }

    // every rank must end with the same weights, bit for bit: equal FNV-1a hashes
    const Tensor w = sync.flat_weights();
    const float* wp = w.data<float>();
    uint64_t h = 1469598103934665603ull;
    for (int64_t i = 0; i < w.numel(); ++i) {
      uint32_t b;
      std::memcpy(&b, wp + i, 4);
      h = (h ^ b) * 1099511628211ull;
    }
    int64_t hi = int64_t(h >> 1), lo = hi;  // >> 1: fits int64 without overflow
    g->all_reduce(&hi, 1, DType::i64, dist::ReduceOp::max);
    g->all_reduce(&lo, 1, DType::i64, dist::ReduceOp::min);
    const bool agree = hi == lo;

    const double grad_bytes = double(sync.numel()) * sizeof(float);
    const double bound = 2.0 * (n - 1) / n * grad_bytes / (opt.link_gbit * 1e9 / 8);
    if (rank == 0) {
      std::printf(
          "{\"ranks\": %d, \"global_batch\": %lld, \"params\": %lld, \"overlap\": %d, \"wire\": \"%s\", "
          "\"step_s\": %.6f, \"compute_s\": %.6f, \"sync_s\": %.6f, \"optim_s\": %.6f, \"compute_alone_s\": %.6f, "
          "\"sync_bound_s\": %.6f, \"weights_agree\": %s}\n",
          n, (long long)opt.global_batch, (long long)net->num_parameters(), opt.sync.overlap ? 1 : 0,
          dist::wire_type_name(opt.sync.wire), median(step_t), median(compute_t), median(sync_t), median(optim_t),
          alone, bound, agree ? "true" : "false");
      std::fflush(stdout);
    }
    if (!agree) fail("ranks ended with different weights");
  } catch (const Error& e) {
    fail(e.what());
  }
  return 0;
}
