// BigDL's sharded parameter synchronisation (AllReduceParameter, SoCC 2019) for
// synchronous data-parallel training; docs/distributed.md has the design.
//
// Construction moves every trainable parameter (and its gradient) into views of one
// contiguous f32 buffer of P elements (each parameter starts on a 64-byte boundary; the
// padding stays zero), copies rank 0's weights to every rank, and cuts the buffer into
// N = group size contiguous shards of ceil(P / N) elements (the last shorter, possibly
// empty). The parameters keep their shapes and keep working for forward, backward and
// state_dict save/load: only where their elements live changes.
//
// One training step on every rank:
//   sync.backward(loss, n_local / n_global);  // backward + reduce-scatter of gradients
//   sync.step();                              // optimizer on this rank's shard, all-gather
//
// backward() runs loss.backward(); as soon as the parameters of a bucket (consecutive
// parameters, taken from the last layer backwards, up to SyncOptions::bucket_bytes; a
// larger parameter is a bucket of its own) have their gradients, the bucket is scaled by this rank's weight and
// reduce-scattered on a communication thread while backward continues with the earlier
// layers. Buckets go out in one fixed order on every rank, so ranks whose graphs finish
// parameters in another order, or that had no rows at all, still match. Afterwards
// grad_shard() holds sum over ranks of weight_r * grad_r for this rank's shard: with
// weight = local rows / global rows and a mean loss, the gradient of the global batch's
// mean, as one process would compute it.
//
// step() runs this rank's optimizer (built by set_optimizer from a prototype of the
// same kind: SGD, Adam, AdamW, ... over the 1-D weight shard) on the shard only, so
// optimizer state takes ~1/N of the memory per rank, then all-gathers the shards.
//
// Memory per rank, in f32 elements: P weights + P gradients + P/N reduced gradient
// shard + k*P/N optimizer state (k = 1 for SGD-momentum, 2 for Adam/AdamW).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bigdl/dist/group.h"
#include "bigdl/nn/module.h"
#include "bigdl/optim/optimizer.h"
#include "bigdl/tensor.h"

namespace bigdl::dist {

struct SyncOptions {
  WireType wire = WireType::f32;     // gradient wire format (bf16/f16: half the bytes, f32 sums)
  // f32 bytes per bucket; <= 0: one bucket for everything. 25 MB as PyTorch DDP: with the
  // MPI backend's pipelined ring, 1-25 MB buckets measured the same sync time (8 hosts,
  // 40 MB, docs/distributed.md) and fewer calls cost less CPU; larger models still get
  // their first buckets reduced during backward.
  int64_t bucket_bytes = 25 << 20;
  bool overlap = true;               // reduce buckets during backward on a communication thread
  bool operator==(const SyncOptions&) const = default;
};

// Half-open element range.
struct Range {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
  bool operator==(const Range&) const = default;
};
// Shard `rank` of `size` of a buffer of `total` elements: [rank * c, min((rank + 1) * c,
// total)) with c = ceil(total / size); empty for the ranks past the end.
Range shard_range(int64_t total, int rank, int size);
// The rows of a global batch of n rows that `rank` of `size` takes: contiguous, balanced
// (the first n % size ranks take one more), empty for some ranks when n < size.
Range batch_rows(int64_t n, int rank, int size);

// Seconds spent in the phases of the last step on this rank.
struct StepStats {
  double backward_s = 0;  // backward(), including buckets reduced during it
  double wait_s = 0;      // after backward: waiting for the buckets still in flight
  double step_s = 0;      // optimizer on the shard
  double gather_s = 0;    // all-gather of the updated weights
  int buckets_early = 0;  // buckets handed to the communication thread before backward ended
};

class AllReduceParameter {
 public:
  // params: leaf f32 contiguous tensors that require grad (duplicates are kept once).
  // Collective: every rank of `group` constructs it with the same parameter shapes.
  AllReduceParameter(std::vector<Tensor> params, GroupPtr group, SyncOptions opts = {});
  ~AllReduceParameter();
  AllReduceParameter(const AllReduceParameter&) = delete;
  AllReduceParameter& operator=(const AllReduceParameter&) = delete;

  // ---- layout ----
  Group& group() const { return *group_; }
  const GroupPtr& group_ptr() const { return group_; }
  const SyncOptions& options() const { return opts_; }
  const std::vector<Tensor>& params() const { return params_; }
  int64_t numel() const { return total_; }                 // P, padding included
  int64_t param_offset(size_t i) const { return offsets_[i]; }
  Range shard() const { return shard_of(group_->rank()); }
  Range shard_of(int rank) const { return shard_range(total_, rank, group_->size()); }
  int num_buckets() const { return int(buckets_.size()); }
  Range bucket(int k) const { return buckets_[size_t(k)].range; }  // bucket 0 holds the last parameters
  Tensor flat_weights() const { return flat_w_; }   // [P]; the parameters are views of it
  Tensor flat_grads() const { return flat_g_; }     // [P]; this rank's own (unreduced) gradients
  Tensor weight_shard() const { return w_shard_; }  // [shard size] view of flat_weights, a leaf
  Tensor grad_shard() const { return g_shard_; }    // [shard size] reduced gradient; weight_shard's grad

  // ---- one step ----
  // Zeroes the gradients, runs loss.backward() (loss: a scalar; undefined when this rank
  // has no rows this step) and reduce-scatters weight * gradient into grad_shard().
  // Collective. Rethrows a communication error from the communication thread.
  void backward(const Tensor& loss, double weight);
  // Scales grad_shard() so the gradient's global L2 norm is at most max_norm (as
  // optim::clip_grad_norm_ over all parameters; the squared norms of the shards are
  // summed with all_reduce). Returns the norm before clipping. Collective.
  double clip_grad_norm(double max_norm);
  // The optimizer on weight_shard() (set_optimizer first), then all_gather_weights().
  void step();
  // Every rank's weight shard to every rank: the parameters are whole again. Collective.
  void all_gather_weights();
  const StepStats& last_stats() const { return stats_; }

  // ---- the sharded optimizer ----
  // This rank's optimizer: proto's kind and options (clone_for) over weight_shard(),
  // with empty state.
  void set_optimizer(const optim::Optimizer& proto);
  optim::Optimizer& optimizer() const;
  bool has_optimizer() const { return opt_ != nullptr; }
  // This rank's shard of the optimizer state, as the shard optimizer names it
  // ("state.0.exp_avg" [shard size], "state.0.step", "step", "lr"); restore it with
  // load_shard_state_dict on a rank with the same shard (same P and group size).
  nn::NamedTensors shard_state_dict() const;
  void load_shard_state_dict(const nn::NamedTensors& state);
  // The whole optimizer state in one process's format ("state.<i>.<buffer>" shaped as
  // parameter i, "state.<i>.step", "step", "lr"; i indexes the params given to the
  // constructor), gathered from every shard: a checkpoint written from it loads with
  // any group size, or into a single-process optimizer. Collective.
  nn::NamedTensors full_state_dict() const;
  // Takes this rank's shard of a state in that format (each rank keeps only its shard).
  void load_full_state_dict(const nn::NamedTensors& state);

 private:
  struct Bucket {
    Range range;
    int params = 0;                 // parameters in the bucket
    int pending = 0;                // parameters whose gradient is not complete yet
    std::vector<int64_t> counts;    // elements of the bucket in each rank's shard
  };
  void on_leaf_grad(const Tensor& leaf);
  void launch_ready();              // hands ready buckets, in order, to the communication
  void reduce_bucket(size_t k);     // scale + reduce-scatter (communication thread or inline)
  void reduce_range(Range r, const std::vector<int64_t>& counts);  // scale + reduce-scatter of r
  void comm_loop();
  void finish();                    // launches the rest, waits for all

  GroupPtr group_;
  SyncOptions opts_;
  std::vector<Tensor> params_;
  std::vector<int64_t> offsets_;
  std::vector<int> first_index_;              // constructor index -> params_ index
  std::vector<size_t> param_bucket_;
  std::unordered_map<const TensorImpl*, size_t> index_of_;
  std::vector<Tensor> grad_views_;
  std::vector<char> reported_;
  int64_t total_ = 0;
  Tensor flat_w_, flat_g_, w_shard_, g_shard_;
  std::vector<Bucket> buckets_;
  size_t next_launch_ = 0;
  double weight_ = 1.0;
  optim::OptimizerPtr opt_;
  StepStats stats_;

  // communication thread
  std::thread comm_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<size_t> queue_;
  size_t done_ = 0;
  bool stop_ = false;
  std::exception_ptr comm_error_;
};

// Makes the module's buffers (batch-norm running statistics and counters) agree across
// the group: floating-point buffers are averaged, the others copied from rank 0.
// Collective. fit() calls it at the end of every epoch, before validation.
void sync_buffers(nn::Module& net, Group& g);
// Copies rank 0's parameters and buffers to every rank. Collective.
void broadcast_module(nn::Module& net, Group& g);

}  // namespace bigdl::dist
