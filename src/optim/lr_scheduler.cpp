#include "bigdl/optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>

namespace bigdl::optim {

void LRScheduler::step() {
  ++epoch_;
  opt_.set_lr(lr_at(epoch_));
}

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma) : LRScheduler(opt), step_size_(step_size), gamma_(gamma) {
  BIGDL_CHECK(step_size > 0, ValueError, "StepLR", "step_size must be positive, got ", step_size);
}
double StepLR::lr_at(int64_t e) const { return base_lr_ * std::pow(gamma_, double(e / step_size_)); }

MultiStepLR::MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(opt), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
}
double MultiStepLR::lr_at(int64_t e) const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), e) - milestones_.begin();
  return base_lr_ * std::pow(gamma_, double(passed));
}

double ExponentialLR::lr_at(int64_t e) const { return base_lr_ * std::pow(gamma_, double(e)); }

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t t_max, double eta_min)
    : LRScheduler(opt), t_max_(t_max), eta_min_(eta_min) {
  BIGDL_CHECK(t_max > 0, ValueError, "CosineAnnealingLR", "T_max must be positive, got ", t_max);
}
double CosineAnnealingLR::lr_at(int64_t e) const {
  return eta_min_ + (base_lr_ - eta_min_) * (1 + std::cos(M_PI * double(e) / double(t_max_))) / 2;
}

LinearLR::LinearLR(Optimizer& opt, double start_factor, double end_factor, int64_t total_iters)
    : LRScheduler(opt), start_(start_factor), end_(end_factor), total_(total_iters) {
  BIGDL_CHECK(start_factor > 0 && start_factor <= 1 && end_factor >= 0 && end_factor <= 1, ValueError, "LinearLR",
              "factors must be in (0, 1] and [0, 1]");
  opt.set_lr(lr_at(0));
}
double LinearLR::lr_at(int64_t e) const {
  const double f = start_ + (end_ - start_) * double(std::min(e, total_)) / double(std::max<int64_t>(total_, 1));
  return base_lr_ * f;
}

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& opt, Mode mode, double factor, int64_t patience, double threshold,
                                     int64_t cooldown, double min_lr, double eps)
    : opt_(opt), mode_(mode), factor_(factor), threshold_(threshold), min_lr_(min_lr), eps_(eps), patience_(patience),
      cooldown_(cooldown) {
  BIGDL_CHECK(factor < 1.0, ValueError, "ReduceLROnPlateau", "factor must be < 1, got ", factor);
  best_ = mode == Mode::min ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::better(double a, double best) const {
  // threshold_mode 'rel', PyTorch's default.
  return mode_ == Mode::min ? a < best * (1 - threshold_) : a > best * (1 + threshold_);
}

void ReduceLROnPlateau::step(double metric) {
  if (better(metric, best_)) {
    best_ = metric;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    bad_epochs_ = 0;
  }
  if (bad_epochs_ > patience_) {
    const double old_lr = opt_.lr();
    const double new_lr = std::max(old_lr * factor_, min_lr_);
    if (old_lr - new_lr > eps_) opt_.set_lr(new_lr);
    cooldown_counter_ = cooldown_;
    bad_epochs_ = 0;
  }
}

}  // namespace bigdl::optim
