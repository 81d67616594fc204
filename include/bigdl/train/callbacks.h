// Built-in fit() callbacks: checkpoints, early stopping, learning-rate schedules.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "bigdl/optim/lr_scheduler.h"
#include "bigdl/train/model.h"

namespace bigdl::train {

enum class MonitorMode { auto_, min, max };

// Saves a checkpoint after each epoch (or only when `monitor` improves). `path` may
// contain "{epoch}", replaced by the 1-based epoch number.
class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(std::string path, std::string monitor = "val_loss", bool save_best_only = false,
                           MonitorMode mode = MonitorMode::auto_);
  void on_epoch_end(Model& m, int64_t epoch, const Logs& logs) override;
  double best() const { return best_; }

 private:
  std::string path_, monitor_;
  bool save_best_only_;
  MonitorMode mode_;
  double best_;
};

// Stops training when `monitor` has not improved by min_delta for `patience` epochs;
// optionally restores the best weights seen.
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(std::string monitor = "val_loss", int64_t patience = 0, double min_delta = 0.0,
                         MonitorMode mode = MonitorMode::auto_, bool restore_best_weights = false);
  void on_train_begin(Model& m) override;
  void on_epoch_end(Model& m, int64_t epoch, const Logs& logs) override;
  int64_t stopped_epoch() const { return stopped_epoch_; }

 private:
  std::string monitor_;
  int64_t patience_;
  double min_delta_;
  MonitorMode mode_;
  bool restore_;
  double best_ = 0;
  int64_t wait_ = 0, stopped_epoch_ = -1;
  nn::NamedTensors best_weights_;
};

// Steps an epoch-based scheduler (StepLR, CosineAnnealingLR, LinearLR, ...) after each epoch.
class LRSchedulerCallback : public Callback {
 public:
  explicit LRSchedulerCallback(std::shared_ptr<optim::LRScheduler> s) : s_(std::move(s)) {}
  void on_epoch_end(Model&, int64_t, const Logs&) override { s_->step(); }

 private:
  std::shared_ptr<optim::LRScheduler> s_;
};

// Feeds `monitor` to a ReduceLROnPlateau after each epoch.
class ReduceLROnPlateauCallback : public Callback {
 public:
  ReduceLROnPlateauCallback(std::shared_ptr<optim::ReduceLROnPlateau> s, std::string monitor = "val_loss")
      : s_(std::move(s)), monitor_(std::move(monitor)) {}
  void on_epoch_end(Model&, int64_t, const Logs& logs) override;

 private:
  std::shared_ptr<optim::ReduceLROnPlateau> s_;
  std::string monitor_;
};

// Keras' ReduceLROnPlateau: when `monitor` has not improved by more than min_delta
// (absolute) for `patience` epochs, lr becomes max(lr * factor, min_lr), then `cooldown`
// epochs pass before counting again. (optim::ReduceLROnPlateau above is PyTorch's: a
// relative threshold and patience + 1 epochs.) Under distributed training every rank sees
// the same reduced logs and so sets the same lr.
class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(std::string monitor = "val_loss", double factor = 0.1, int64_t patience = 10,
                             MonitorMode mode = MonitorMode::auto_, double min_delta = 1e-4, int64_t cooldown = 0,
                             double min_lr = 0.0);
  void on_train_begin(Model& m) override;
  void on_epoch_end(Model& m, int64_t epoch, const Logs& logs) override;

 private:
  std::string monitor_;
  double factor_;
  int64_t patience_;
  MonitorMode mode_;
  double min_delta_;
  int64_t cooldown_;
  double min_lr_;
  double best_ = 0;
  int64_t wait_ = 0, cooldown_counter_ = 0;
};

// Any per-epoch rule: lr = f(epoch, current lr), as Keras' LearningRateScheduler.
class LearningRateScheduler : public Callback {
 public:
  explicit LearningRateScheduler(std::function<double(int64_t, double)> f) : f_(std::move(f)) {}
  void on_epoch_begin(Model& m, int64_t epoch) override;

 private:
  std::function<double(int64_t, double)> f_;
};

}  // namespace bigdl::train
