#include "bigdl/train/callbacks.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "bigdl/autograd.h"

namespace bigdl::train {
namespace {
bool minimizing(MonitorMode mode, const std::string& monitor) {
  if (mode != MonitorMode::auto_) return mode == MonitorMode::min;
  // Keras' rule: accuracy-like and auc metrics grow, everything else shrinks.
  return !(monitor.find("acc") != std::string::npos || monitor.find("auc") != std::string::npos);
}
double lookup(const Logs& logs, const std::string& key, const char* op) {
  auto it = logs.find(key);
  BIGDL_CHECK(it != logs.end(), ValueError, op, "monitored value '", key, "' is not in the epoch logs");
  return it->second;
}
}  // namespace

ModelCheckpoint::ModelCheckpoint(std::string path, std::string monitor, bool save_best_only, MonitorMode mode)
    : path_(std::move(path)), monitor_(std::move(monitor)), save_best_only_(save_best_only), mode_(mode) {
  best_ = minimizing(mode_, monitor_) ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

void ModelCheckpoint::on_epoch_end(Model& m, int64_t epoch, const Logs& logs) {
  std::string path = path_;
  const auto pos = path.find("{epoch}");
  if (pos != std::string::npos) path.replace(pos, 7, std::to_string(epoch + 1));
  if (save_best_only_) {
    const double v = lookup(logs, monitor_, "ModelCheckpoint");
    const bool better = minimizing(mode_, monitor_) ? v < best_ : v > best_;
    if (!better) return;
    best_ = v;
  }
  m.save_checkpoint(path, epoch + 1);
}

EarlyStopping::EarlyStopping(std::string monitor, int64_t patience, double min_delta, MonitorMode mode, bool restore)
    : monitor_(std::move(monitor)), patience_(patience), min_delta_(std::fabs(min_delta)), mode_(mode), restore_(restore) {}

void EarlyStopping::on_train_begin(Model&) {
  best_ = minimizing(mode_, monitor_) ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  wait_ = 0;
  stopped_epoch_ = -1;
  best_weights_.clear();
}

void EarlyStopping::on_epoch_end(Model& m, int64_t epoch, const Logs& logs) {
  const double v = lookup(logs, monitor_, "EarlyStopping");
  const bool better = minimizing(mode_, monitor_) ? v < best_ - min_delta_ : v > best_ + min_delta_;
  if (better) {
    best_ = v;
    wait_ = 0;
    if (restore_) {
      best_weights_.clear();
      for (auto& [k, t] : m.net().state_dict()) best_weights_.emplace_back(k, t.detach().clone());
    }
    return;
  }
  if (++wait_ >= patience_) {  // Keras': the patience-th epoch without improvement stops (0 and 1 alike)
    stopped_epoch_ = epoch;
    m.stop_training = true;
    if (restore_ && !best_weights_.empty()) m.net().load_state_dict(best_weights_);
  }
}

void ReduceLROnPlateauCallback::on_epoch_end(Model&, int64_t, const Logs& logs) {
  s_->step(lookup(logs, monitor_, "ReduceLROnPlateau"));
}

ReduceLROnPlateau::ReduceLROnPlateau(std::string monitor, double factor, int64_t patience, MonitorMode mode,
                                     double min_delta, int64_t cooldown, double min_lr)
    : monitor_(std::move(monitor)), factor_(factor), patience_(patience), mode_(mode), min_delta_(std::fabs(min_delta)),
      cooldown_(cooldown), min_lr_(min_lr) {
  BIGDL_CHECK(factor > 0 && factor < 1, ValueError, "ReduceLROnPlateau", "factor must be in (0, 1), got ", factor);
  BIGDL_CHECK(patience >= 0 && cooldown >= 0 && min_lr >= 0, ValueError, "ReduceLROnPlateau",
              "patience, cooldown and min_lr must be >= 0");
}

void ReduceLROnPlateau::on_train_begin(Model&) {
  best_ = minimizing(mode_, monitor_) ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  wait_ = 0;
  cooldown_counter_ = 0;
}

void ReduceLROnPlateau::on_epoch_end(Model& m, int64_t, const Logs& logs) {
  const double v = lookup(logs, monitor_, "ReduceLROnPlateau");
  const bool in_cooldown = cooldown_counter_ > 0;
  if (in_cooldown) {
    --cooldown_counter_;
    wait_ = 0;
  }
  const bool better = minimizing(mode_, monitor_) ? v < best_ - min_delta_ : v > best_ + min_delta_;
  if (better) {
    best_ = v;
    wait_ = 0;
  } else if (!in_cooldown && ++wait_ >= patience_) {
    const double lr = m.optimizer().lr();
    if (lr > min_lr_) m.optimizer().set_lr(std::max(lr * factor_, min_lr_));
    cooldown_counter_ = cooldown_;
    wait_ = 0;
  }
}

void LearningRateScheduler::on_epoch_begin(Model& m, int64_t epoch) {
  m.optimizer().set_lr(f_(epoch, m.optimizer().lr()));
}

}  // namespace bigdl::train
