// Keras-style training (BigDL DLlib's compile / fit / evaluate / predict) over any
// nn::Module:
//
//   auto net = std::make_shared<nn::Sequential>(...);
//   train::Model model(net);
//   model.compile(std::make_shared<optim::Adam>(net->parameters(), optim::AdamOptions{}),
//                 std::make_shared<nn::CrossEntropyLoss>(), {"accuracy"});
//   train::FitOptions fo; fo.batch_size = 64; fo.epochs = 10; fo.val_x = xt; fo.val_y = yt;
//   auto history = model.fit(x, y, fo);
//   auto scores = model.evaluate(xt, yt);   // {"loss": ..., "accuracy": ...}
//
// fit() shows a progress bar per epoch (verbose 1), writes TensorBoard summaries
// (loss, metrics, lr) to log_dir/train and log_dir/validation when log_dir is set, and
// calls callbacks (checkpoints, early stopping, LR schedules; callbacks.h).
//
// Distributed (docs/distributed.md): the same code run under `mpirun -np N` trains
// data-parallel with no change. fit() detects the MPI launch (FitOptions::distributed),
// gives each rank its row range of every global batch of batch_size rows, synchronises
// gradients with BigDL's sharded AllReduceParameter (optimizer state sharded 1/N per
// rank) and ends each step with identical weights on every rank, equal to what one
// process with the same batch_size and seed computes. Loss and metrics are reduced over
// the ranks; only rank 0 prints and writes summaries and checkpoints; callbacks run on
// every rank with the same (reduced) logs. evaluate() and predict() stay local.
#pragma once

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bigdl/dist/all_reduce_parameter.h"
#include "bigdl/nn/loss.h"
#include "bigdl/nn/module.h"
#include "bigdl/optim/optimizer.h"
#include "bigdl/train/data.h"
#include "bigdl/train/metrics.h"

namespace bigdl::train {

using Logs = std::map<std::string, double>;
class Model;

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(Model&) {}
  virtual void on_epoch_begin(Model&, int64_t /*epoch*/) {}
  virtual void on_batch_end(Model&, int64_t /*batch*/, double /*loss*/) {}
  // logs: "loss", metrics, "val_loss", "val_<metric>", "lr"; may stop via model.stop_training.
  virtual void on_epoch_end(Model&, int64_t /*epoch*/, const Logs& /*logs*/) {}
  virtual void on_train_end(Model&) {}
};
using CallbackPtr = std::shared_ptr<Callback>;

struct FitOptions {
  int64_t batch_size = 32;
  int64_t epochs = 1;
  Tensor val_x, val_y;           // validation data (optional)
  bool shuffle = true;
  uint64_t seed = 42;            // shuffling seed (epoch e uses seed + e)
  std::vector<CallbackPtr> callbacks;
  int verbose = 1;               // 0 silent, 1 progress bar + epoch line
  std::string log_dir;           // TensorBoard summaries when non-empty
  int64_t initial_epoch = 0;     // resume: first epoch to run
  double clip_grad_norm = 0;     // > 0: clip gradients to this global L2 norm before each step
  // Data-parallel training: auto_ turns it on when an MPI launcher started more than one
  // process (dist::launched_by_mpi()); on always (the world group, or `group`); off never.
  enum class Distributed { auto_, off, on };
  Distributed distributed = Distributed::auto_;
  dist::GroupPtr group;          // the ranks to train over (default: dist::world())
  dist::SyncOptions sync;        // gradient wire format, bucket size, overlap
  // Fault recovery (docs/distributed.md "Fault recovery"). With checkpoint_every > 0,
  // every checkpoint_every optimizer steps (counted over epochs: epoch * batches per
  // epoch + batch) a step checkpoint goes to checkpoint_dir (created if missing): one
  // file per rank (weights, this rank's optimizer shard, buffers, RNG state), then a
  // manifest with their CRC-32C checksums, written last and atomically by rank 0. The
  // newest keep_checkpoints are kept. Collective under distributed training.
  std::string checkpoint_dir;
  int64_t checkpoint_every = 0;
  int64_t keep_checkpoints = 3;
  // "": start fresh. A directory: continue from its newest valid step checkpoint (an
  // invalid newer one is reported in one warning line and skipped; none valid throws
  // IOError). "auto": the same in checkpoint_dir, but none valid starts fresh. The
  // checkpoint must come from the same world size, batch size and data set size
  // (else ValueError). Overrides initial_epoch; training continues mid-epoch at the
  // exact step, with bit-identical results to an uninterrupted run.
  std::string resume;
};

// A step checkpoint in a checkpoint directory: "<dir>/ckpt-<step, 8 digits>.manifest"
// lists the files "<dir>/ckpt-<step>.rank<r>.safetensors" (r < world_size).
struct StepCheckpoint {
  std::string manifest;           // path of the manifest
  int64_t step = 0;               // optimizer steps done (over all epochs)
  int64_t epoch = 0, batch = 0;   // position: next batch to run is `batch` of `epoch` (0-based)
  int64_t batches_per_epoch = 0, batch_size = 0, samples = 0;
  int world_size = 1;
  bool sharded = false;           // optimizer state in AllReduceParameter shards
  double lr = 0, loss_sum = 0;    // optimizer lr; the epoch's loss sum so far
  int64_t seen = 0;               // the epoch's samples so far
  std::vector<std::string> files; // file names (relative to the directory), rank order
};
// Parses and checks one manifest (its own checksum, and with check_files each listed
// file's size and CRC-32C). Throws FormatError/IOError naming the file at fault.
StepCheckpoint verify_step_checkpoint(const std::string& manifest, bool check_files = true);
// The newest checkpoint of dir that verifies; for each newer one that does not, one
// line "[checkpoint] warning: <reason>; using the previous checkpoint" on `warn` (null:
// silent). nullopt when none verifies or dir does not exist.
std::optional<StepCheckpoint> find_step_checkpoint(const std::string& dir, std::FILE* warn = stderr);

struct History {
  std::vector<Logs> epochs;  // one entry per epoch run
  double last(const std::string& key) const;
};

class Model {
 public:
  explicit Model(nn::ModulePtr net);

  void compile(optim::OptimizerPtr optimizer, nn::LossPtr loss, const std::vector<std::string>& metrics = {});
  void compile(optim::OptimizerPtr optimizer, nn::LossPtr loss, std::vector<MetricPtr> metrics);

  History fit(const Tensor& x, const Tensor& y, const FitOptions& opts);
  History fit(DatasetPtr train, DatasetPtr validation, const FitOptions& opts);
  // Loss and metrics over the data, batch by batch in eval mode.
  Logs evaluate(const Tensor& x, const Tensor& y, int64_t batch_size = 256);
  Logs evaluate(DatasetPtr data, int64_t batch_size = 256);
  // Distributed: every rank of `group` evaluates its share (a PartitionedDataset: the rows
  // it holds; another data set: its contiguous range) and loss and metrics are averaged
  // over the ranks, weighted by rows (AUC: the row-weighted mean of the shards'). Collective.
  Logs evaluate(DatasetPtr data, int64_t batch_size, dist::Group& group);
  // Outputs for x, concatenated over batches, in eval mode, without autograd.
  Tensor predict(const Tensor& x, int64_t batch_size = 256);

  // Model + optimizer state + epoch in one safetensors checkpoint, written atomically.
  // After distributed training: collective; the optimizer state is gathered from the
  // shards into one process's format and rank 0 alone writes the file.
  void save_checkpoint(const std::string& path, int64_t epoch) const;
  // Restores a checkpoint saved by save_checkpoint (by any number of ranks); returns its
  // epoch. Under distributed training every rank reads the file and keeps its shard.
  int64_t load_checkpoint(const std::string& path);

  nn::Module& net() { return *net_; }
  const nn::ModulePtr& net_ptr() const { return net_; }
  // The optimizer given to compile(). Under distributed training it holds the
  // hyper-parameters (LR schedules set its lr), and each rank's shard optimizer, in
  // sync()->optimizer(), follows it.
  optim::Optimizer& optimizer();
  // The parameter synchronisation of distributed training; null until a distributed fit.
  dist::AllReduceParameter* sync() const { return sync_.get(); }
  bool stop_training = false;

 private:
  void check_compiled(const char* op) const;
  void setup_sync(const dist::GroupPtr& group, const dist::SyncOptions& opts);
  void save_step_checkpoint(const FitOptions& o, dist::Group* g, const StepCheckpoint& pos);
  std::optional<StepCheckpoint> resume_step_checkpoint(const FitOptions& o, dist::Group* g, const StepCheckpoint& now,
                                                       bool print);
  nn::ModulePtr net_;
  optim::OptimizerPtr opt_;
  nn::LossPtr loss_;
  std::vector<MetricPtr> metrics_;
  std::shared_ptr<dist::AllReduceParameter> sync_;
};

}  // namespace bigdl::train
