// Learning-rate schedules with PyTorch's closed forms. Call step() once per epoch
// (after the optimizer steps); ReduceLROnPlateau::step(metric) takes the monitored value.
#pragma once

#include <limits>
#include <vector>

#include "bigdl/optim/optimizer.h"

namespace bigdl::optim {

class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& opt) : opt_(opt), base_lr_(opt.lr()) {}
  virtual ~LRScheduler() = default;
  // Advances one epoch and sets the optimizer's lr.
  virtual void step();
  int64_t last_epoch() const { return epoch_; }
  double get_lr() const { return opt_.lr(); }

 protected:
  // lr for epoch e (0 = initial).
  virtual double lr_at(int64_t e) const = 0;
  Optimizer& opt_;
  double base_lr_;
  int64_t epoch_ = 0;
};

class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);
 protected:
  double lr_at(int64_t e) const override;
  int64_t step_size_;
  double gamma_;
};

class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma = 0.1);
 protected:
  double lr_at(int64_t e) const override;
  std::vector<int64_t> milestones_;
  double gamma_;
};

class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& opt, double gamma) : LRScheduler(opt), gamma_(gamma) {}
 protected:
  double lr_at(int64_t e) const override;
  double gamma_;
};

class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, int64_t t_max, double eta_min = 0.0);
 protected:
  double lr_at(int64_t e) const override;
  int64_t t_max_;
  double eta_min_;
};

// Linear warm-up: factor goes from start_factor to end_factor over total_iters epochs.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& opt, double start_factor = 1.0 / 3, double end_factor = 1.0, int64_t total_iters = 5);
 protected:
  double lr_at(int64_t e) const override;
  double start_, end_;
  int64_t total_;
};

class ReduceLROnPlateau {
 public:
  enum class Mode { min, max };
  ReduceLROnPlateau(Optimizer& opt, Mode mode = Mode::min, double factor = 0.1, int64_t patience = 10,
                    double threshold = 1e-4, int64_t cooldown = 0, double min_lr = 0.0, double eps = 1e-8);
  void step(double metric);

 private:
  bool better(double a, double best) const;
  Optimizer& opt_;
  Mode mode_;
  double factor_, threshold_, min_lr_, eps_;
  int64_t patience_, cooldown_, cooldown_counter_ = 0, bad_epochs_ = 0;
  double best_;
};

}  // namespace bigdl::optim
