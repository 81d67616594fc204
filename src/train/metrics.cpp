#include "bigdl/train/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "bigdl/autograd.h"
#include "bigdl/ops.h"

namespace bigdl::train {

void Accuracy::update(const Tensor& output, const Tensor& target) {
  NoGradGuard ng;
  const bool binary = output.dim() == 1 || (output.dim() == 2 && output.size(1) == 1);
  std::vector<int64_t> pred;
  if (binary) {
    for (float v : output.to_vector()) pred.push_back(v >= 0.5f ? 1 : 0);
  } else {
    BIGDL_CHECK(output.dim() >= 2, ShapeError, "accuracy", "output must be [N, C], got ", shape_str(output.shape()));
    pred = argmax(output, 1).to_int_vector();
  }
  std::vector<int64_t> t;
  for (double v : target.to_double_vector()) t.push_back(int64_t(std::llround(v)));
  BIGDL_CHECK(pred.size() == t.size(), ShapeError, "accuracy", "output ", shape_str(output.shape()), " and target ",
              shape_str(target.shape()), " hold different sample counts");
  for (size_t i = 0; i < t.size(); ++i) correct_ += pred[i] == t[i];
  total_ += int64_t(t.size());
}

void TopKAccuracy::update(const Tensor& output, const Tensor& target) {
  NoGradGuard ng;
  BIGDL_CHECK(output.dim() == 2, ShapeError, name(), "output must be [N, C], got ", shape_str(output.shape()));
  const int64_t N = output.size(0), C = output.size(1);
  const std::vector<float> o = output.to_vector();
  const std::vector<int64_t> t = target.to_int_vector();
  BIGDL_CHECK(int64_t(t.size()) == N, ShapeError, name(), "target has ", t.size(), " values for ", N, " samples");
  for (int64_t i = 0; i < N; ++i) {
    const float v = o[size_t(i * C + t[size_t(i)])];
    int64_t greater = 0;
    for (int64_t c = 0; c < C; ++c) greater += o[size_t(i * C + c)] > v;
    correct_ += greater < k_;
  }
  total_ += N;
}

namespace {
template <typename F>
void elementwise_error(const Tensor& output, const Tensor& target, const char* op, F f, double* sum, int64_t* n) {
  const std::vector<double> o = output.to_double_vector(), t = target.to_double_vector();
  BIGDL_CHECK(o.size() == t.size(), ShapeError, op, "output ", shape_str(output.shape()), " and target ",
              shape_str(target.shape()), " differ in size");
  for (size_t i = 0; i < o.size(); ++i) *sum += f(o[i] - t[i]);
  *n += int64_t(o.size());
}
}  // namespace

void MAE::update(const Tensor& output, const Tensor& target) {
  elementwise_error(output, target, "mae", [](double d) { return std::fabs(d); }, &sum_, &n_);
}
void MSE::update(const Tensor& output, const Tensor& target) {
  elementwise_error(output, target, "mse", [](double d) { return d * d; }, &sum_, &n_);
}

void AUC::update(const Tensor& output, const Tensor& target) {
  Tensor s = output.detach();
  if (s.dim() == 2 && s.size(1) == 2) s = s.select(1, 1);
  const std::vector<double> sc = s.to_double_vector(), lb = target.to_double_vector();
  BIGDL_CHECK(sc.size() == lb.size(), ShapeError, "auc", "got ", sc.size(), " scores for ", lb.size(), " labels");
  for (size_t i = 0; i < sc.size(); ++i) {
    BIGDL_CHECK(lb[i] == 0.0 || lb[i] == 1.0, ValueError, "auc", "labels must be 0 or 1, got ", lb[i]);
    scores_.push_back(sc[i]);
    labels_.push_back(int(lb[i]));
  }
}

double AUC::result() const {
  const size_t n = scores_.size();
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return scores_[a] < scores_[b]; });
  double rank_sum = 0;
  int64_t pos = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores_[idx[j]] == scores_[idx[i]]) ++j;
    const double avg_rank = (double(i) + double(j - 1)) / 2.0 + 1.0;
    for (size_t k = i; k < j; ++k)
      if (labels_[idx[k]] == 1) {
        rank_sum += avg_rank;
        ++pos;
      }
    i = j;
  }
  const int64_t neg = int64_t(n) - pos;
  if (pos == 0 || neg == 0) return 0.5;
  return (rank_sum - double(pos) * double(pos + 1) / 2.0) / (double(pos) * double(neg));
}

MetricPtr make_metric(const std::string& name) {
  if (name == "accuracy" || name == "acc") return std::make_shared<Accuracy>();
  if (name == "mae") return std::make_shared<MAE>();
  if (name == "mse") return std::make_shared<MSE>();
  if (name == "auc") return std::make_shared<AUC>();
  if (name.rfind("top", 0) == 0 && name.size() > 12 && name.substr(name.size() - 9) == "_accuracy") {
    const int64_t k = std::stoll(name.substr(3, name.size() - 12));
    BIGDL_CHECK(k > 0, ValueError, "metric", "bad k in '", name, "'");
    return std::make_shared<TopKAccuracy>(k);
  }
  throw ValueError("[metric] unknown metric '" + name + "' (known: accuracy, topK_accuracy, mae, mse, auc)");
}

}  // namespace bigdl::train
