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
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

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
};

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
  // Outputs for x, concatenated over batches, in eval mode, without autograd.
  Tensor predict(const Tensor& x, int64_t batch_size = 256);

  // Model + optimizer state + epoch in one safetensors checkpoint, written atomically.
  void save_checkpoint(const std::string& path, int64_t epoch) const;
  // Restores a checkpoint saved by save_checkpoint; returns its epoch.
  int64_t load_checkpoint(const std::string& path);

  nn::Module& net() { return *net_; }
  const nn::ModulePtr& net_ptr() const { return net_; }
  optim::Optimizer& optimizer();
  bool stop_training = false;

 private:
  void check_compiled(const char* op) const;
  nn::ModulePtr net_;
  optim::OptimizerPtr opt_;
  nn::LossPtr loss_;
  std::vector<MetricPtr> metrics_;
};

}  // namespace bigdl::train
