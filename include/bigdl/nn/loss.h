// Criterions with PyTorch's names, options and reductions ("mean", "sum", "none").
// Each is also a plain function in bigdl::nn::functional.
//   CrossEntropyLoss: input [N, C] or [N, C, d...] logits; target class indices (i64,
//     shape [N] / [N, d...]) or class probabilities (float, input's shape).
//   NLLLoss: input log-probabilities, same layouts.
//   BCELoss: input probabilities in [0, 1]; BCEWithLogitsLoss: input logits.
//   QuantileLoss: input [..., Q] forecasts of the quantiles q_1..q_Q of target [...].
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bigdl/tensor.h"

namespace bigdl::nn {

enum class Reduction { none, mean, sum };
Reduction reduction_from_string(const std::string& s);  // throws ValueError

namespace functional {
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                     int64_t ignore_index = -100, Reduction reduction = Reduction::mean, double label_smoothing = 0.0);
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(), int64_t ignore_index = -100,
                Reduction reduction = Reduction::mean);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean, double beta = 1.0);
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                            Reduction reduction = Reduction::mean);
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                                        const Tensor& pos_weight = Tensor(), Reduction reduction = Reduction::mean);
// The pinball loss of quantile forecasts: input [..., Q], target [...]; element (i, k) is
// max(q_k * (y_i - p_ik), (q_k - 1) * (y_i - p_ik)); reduced over all of them. Its
// minimiser is the q_k-quantile of y's distribution (Koenker & Bassett, 1978).
Tensor quantile_loss(const Tensor& input, const Tensor& target, const std::vector<double>& quantiles,
                     Reduction reduction = Reduction::mean);
}  // namespace functional

// Base class of criterions: loss = forward(prediction, target).
class Loss {
 public:
  virtual ~Loss() = default;
  virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
  Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }
  virtual std::string name() const = 0;
};
using LossPtr = std::shared_ptr<Loss>;

struct CrossEntropyLossOptions {
  Tensor weight;
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
  double label_smoothing = 0.0;
};
class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(CrossEntropyLossOptions o = {}) : o_(std::move(o)) {}
  Tensor forward(const Tensor& input, const Tensor& target) override {
    return functional::cross_entropy(input, target, o_.weight, o_.ignore_index, o_.reduction, o_.label_smoothing);
  }
  std::string name() const override { return "CrossEntropyLoss"; }

 private:
  CrossEntropyLossOptions o_;
};

class NLLLoss : public Loss {
 public:
  explicit NLLLoss(Tensor weight = Tensor(), int64_t ignore_index = -100, Reduction r = Reduction::mean)
      : weight_(std::move(weight)), ignore_index_(ignore_index), r_(r) {}
  Tensor forward(const Tensor& input, const Tensor& target) override {
    return functional::nll_loss(input, target, weight_, ignore_index_, r_);
  }
  std::string name() const override { return "NLLLoss"; }

 private:
  Tensor weight_;
  int64_t ignore_index_;
  Reduction r_;
};

class MSELoss : public Loss {
 public:
  explicit MSELoss(Reduction r = Reduction::mean) : r_(r) {}
  Tensor forward(const Tensor& i, const Tensor& t) override { return functional::mse_loss(i, t, r_); }
  std::string name() const override { return "MSELoss"; }

 private:
  Reduction r_;
};

class L1Loss : public Loss {
 public:
  explicit L1Loss(Reduction r = Reduction::mean) : r_(r) {}
  Tensor forward(const Tensor& i, const Tensor& t) override { return functional::l1_loss(i, t, r_); }
  std::string name() const override { return "L1Loss"; }

 private:
  Reduction r_;
};

class SmoothL1Loss : public Loss {
 public:
  explicit SmoothL1Loss(Reduction r = Reduction::mean, double beta = 1.0) : r_(r), beta_(beta) {}
  Tensor forward(const Tensor& i, const Tensor& t) override { return functional::smooth_l1_loss(i, t, r_, beta_); }
  std::string name() const override { return "SmoothL1Loss"; }

 private:
  Reduction r_;
  double beta_;
};

class BCELoss : public Loss {
 public:
  explicit BCELoss(Tensor weight = Tensor(), Reduction r = Reduction::mean) : weight_(std::move(weight)), r_(r) {}
  Tensor forward(const Tensor& i, const Tensor& t) override { return functional::binary_cross_entropy(i, t, weight_, r_); }
  std::string name() const override { return "BCELoss"; }

 private:
  Tensor weight_;
  Reduction r_;
};

class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(Tensor weight = Tensor(), Tensor pos_weight = Tensor(), Reduction r = Reduction::mean)
      : weight_(std::move(weight)), pos_weight_(std::move(pos_weight)), r_(r) {}
  Tensor forward(const Tensor& i, const Tensor& t) override {
    return functional::binary_cross_entropy_with_logits(i, t, weight_, pos_weight_, r_);
  }
  std::string name() const override { return "BCEWithLogitsLoss"; }

 private:
  Tensor weight_, pos_weight_;
  Reduction r_;
};

class QuantileLoss : public Loss {
 public:
  explicit QuantileLoss(std::vector<double> quantiles, Reduction r = Reduction::mean);
  Tensor forward(const Tensor& i, const Tensor& t) override { return functional::quantile_loss(i, t, quantiles_, r_); }
  std::string name() const override { return "QuantileLoss"; }
  const std::vector<double>& quantiles() const { return quantiles_; }

 private:
  std::vector<double> quantiles_;
  Reduction r_;
};

}  // namespace bigdl::nn
