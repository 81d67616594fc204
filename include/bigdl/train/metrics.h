// Validation metrics (Keras / BigDL names): accuracy, top-k accuracy, MAE, MSE, AUC.
// A metric accumulates over batches: reset(), update(output, target) per batch,
// result() at the end, so epoch figures are exact, not averages of batch figures.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bigdl/tensor.h"

namespace bigdl::train {

class Metric {
 public:
  virtual ~Metric() = default;
  virtual std::string name() const = 0;
  virtual void reset() = 0;
  // output: model output for the batch; target: labels (class ids or values).
  virtual void update(const Tensor& output, const Tensor& target) = 0;
  virtual double result() const = 0;
  // Whether larger is better (for checkpoint/early-stopping "auto" mode).
  virtual bool higher_is_better() const { return true; }
};
using MetricPtr = std::shared_ptr<Metric>;

// Class ids: argmax of output [N, C] vs target [N]. Binary: output [N] or [N, 1]
// probabilities thresholded at 0.5 vs 0/1 targets.
class Accuracy : public Metric {
 public:
  std::string name() const override { return "accuracy"; }
  void reset() override { correct_ = total_ = 0; }
  void update(const Tensor& output, const Tensor& target) override;
  double result() const override { return total_ ? double(correct_) / double(total_) : 0.0; }

 private:
  int64_t correct_ = 0, total_ = 0;
};

class TopKAccuracy : public Metric {
 public:
  explicit TopKAccuracy(int64_t k) : k_(k) {}
  std::string name() const override { return "top" + std::to_string(k_) + "_accuracy"; }
  void reset() override { correct_ = total_ = 0; }
  void update(const Tensor& output, const Tensor& target) override;
  double result() const override { return total_ ? double(correct_) / double(total_) : 0.0; }

 private:
  int64_t k_, correct_ = 0, total_ = 0;
};

class MAE : public Metric {
 public:
  std::string name() const override { return "mae"; }
  void reset() override { sum_ = 0; n_ = 0; }
  void update(const Tensor& output, const Tensor& target) override;
  double result() const override { return n_ ? sum_ / double(n_) : 0.0; }
  bool higher_is_better() const override { return false; }

 private:
  double sum_ = 0;
  int64_t n_ = 0;
};

class MSE : public Metric {
 public:
  std::string name() const override { return "mse"; }
  void reset() override { sum_ = 0; n_ = 0; }
  void update(const Tensor& output, const Tensor& target) override;
  double result() const override { return n_ ? sum_ / double(n_) : 0.0; }
  bool higher_is_better() const override { return false; }

 private:
  double sum_ = 0;
  int64_t n_ = 0;
};

// Area under the ROC curve for binary labels; scores from output [N], [N, 1]
// or column 1 of [N, 2]. Ties get average ranks (Mann-Whitney U).
class AUC : public Metric {
 public:
  std::string name() const override { return "auc"; }
  void reset() override { scores_.clear(); labels_.clear(); }
  void update(const Tensor& output, const Tensor& target) override;
  double result() const override;

 private:
  std::vector<double> scores_;
  std::vector<int> labels_;
};

// "accuracy"/"acc", "top5_accuracy" (any k), "mae", "mse", "auc"; throws ValueError otherwise.
MetricPtr make_metric(const std::string& name);

}  // namespace bigdl::train
