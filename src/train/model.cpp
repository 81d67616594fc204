#include "bigdl/train/model.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "bigdl/autograd.h"
#include "bigdl/io/tensor_io.h"
#include "bigdl/ops.h"
#include "bigdl/train/progress.h"
#include "bigdl/train/summary.h"

namespace bigdl::train {

double History::last(const std::string& key) const {
  BIGDL_CHECK(!epochs.empty(), ValueError, "History", "no epochs recorded");
  auto it = epochs.back().find(key);
  BIGDL_CHECK(it != epochs.back().end(), ValueError, "History", "no value '", key, "' recorded");
  return it->second;
}

Model::Model(nn::ModulePtr net) : net_(std::move(net)) {
  BIGDL_CHECK(net_ != nullptr, ValueError, "Model", "network is null");
}

void Model::compile(optim::OptimizerPtr optimizer, nn::LossPtr loss, const std::vector<std::string>& metrics) {
  std::vector<MetricPtr> ms;
  for (const auto& m : metrics) ms.push_back(make_metric(m));
  compile(std::move(optimizer), std::move(loss), std::move(ms));
}

void Model::compile(optim::OptimizerPtr optimizer, nn::LossPtr loss, std::vector<MetricPtr> metrics) {
  BIGDL_CHECK(optimizer && loss, ValueError, "compile", "optimizer and loss are required");
  opt_ = std::move(optimizer);
  loss_ = std::move(loss);
  metrics_ = std::move(metrics);
}

void Model::check_compiled(const char* op) const {
  BIGDL_CHECK(opt_ && loss_, ValueError, op, "call compile() before ", op, "()");
}

optim::Optimizer& Model::optimizer() {
  check_compiled("optimizer");
  return *opt_;
}

History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& opts) {
  DatasetPtr val;
  if (opts.val_x.defined()) val = std::make_shared<TensorDataset>(opts.val_x, opts.val_y);
  return fit(std::make_shared<TensorDataset>(x, y), val, opts);
}

History Model::fit(DatasetPtr train, DatasetPtr validation, const FitOptions& opts) {
  check_compiled("fit");
  BIGDL_CHECK(opts.epochs >= 0 && opts.batch_size > 0, ValueError, "fit", "epochs must be >= 0 and batch_size > 0");
  BIGDL_CHECK(train && train->size() > 0, ValueError, "fit", "training data is empty");
  DataLoader loader(train, {opts.batch_size, opts.shuffle, opts.seed, false, 2});
  std::unique_ptr<SummaryWriter> train_log, val_log;
  if (!opts.log_dir.empty()) {
    train_log = std::make_unique<SummaryWriter>(opts.log_dir + "/train");
    if (validation) val_log = std::make_unique<SummaryWriter>(opts.log_dir + "/validation");
  }
  History history;
  stop_training = false;
  for (auto& cb : opts.callbacks) cb->on_train_begin(*this);
  const auto t_start = std::chrono::steady_clock::now();
  for (int64_t epoch = opts.initial_epoch; epoch < opts.epochs && !stop_training; ++epoch) {
    for (auto& cb : opts.callbacks) cb->on_epoch_begin(*this, epoch);
    net_->train();
    for (auto& m : metrics_) m->reset();
    loader.start_epoch(epoch);
    std::unique_ptr<ProgressBar> bar;
    if (opts.verbose > 0) {
      ProgressOptions po;
      po.total_samples = train->size();
      bar = std::make_unique<ProgressBar>(loader.num_batches(),
                                          "Epoch " + std::to_string(epoch + 1) + "/" + std::to_string(opts.epochs),
                                          stderr, po);
    }
    double loss_sum = 0;
    int64_t seen = 0, step = 0;
    Batch b;
    while (loader.next(&b)) {
      opt_->zero_grad();
      Tensor out = net_->forward(b.x);
      Tensor loss = loss_->forward(out, b.y);
      BIGDL_CHECK(loss.numel() == 1, ShapeError, "fit", "loss must be a scalar, got shape ", shape_str(loss.shape()));
      const double lv = loss.item();
      BIGDL_CHECK(std::isfinite(lv), ValueError, "fit", "loss became ", lv, " at epoch ", epoch + 1, " step ", step + 1,
                  "; lower the learning rate or check the data");
      loss.backward();
      opt_->step();
      const int64_t n = b.x.size(0);
      loss_sum += lv * double(n);
      seen += n;
      for (auto& m : metrics_) m->update(out.detach(), b.y);
      ++step;
      for (auto& cb : opts.callbacks) cb->on_batch_end(*this, step, lv);
      if (bar) {
        ProgressValues pv{{"loss", loss_sum / double(seen)}};
        for (auto& m : metrics_) pv.emplace_back(m->name(), m->result());
        bar->update(step, pv);
      }
    }
    Logs logs{{"loss", loss_sum / double(std::max<int64_t>(seen, 1))}, {"lr", opt_->lr()}};
    for (auto& m : metrics_) logs[m->name()] = m->result();
    if (validation) {
      Logs v = evaluate(validation, std::max<int64_t>(opts.batch_size, 256));
      for (auto& [k, val] : v) logs["val_" + k] = val;
    }
    if (bar) {
      ProgressValues pv;
      for (auto& [k, v] : logs)
        if (k != "lr") pv.emplace_back(k, v);
      bar->finish(pv);
    }
    if (train_log) {
      for (auto& [k, v] : logs)
        if (k.rfind("val_", 0) != 0) train_log->add_scalar(k, v, epoch + 1);
      train_log->flush();
    }
    if (val_log) {
      for (auto& [k, v] : logs)
        if (k.rfind("val_", 0) == 0) val_log->add_scalar(k.substr(4), v, epoch + 1);
      val_log->flush();
    }
    history.epochs.push_back(logs);
    for (auto& cb : opts.callbacks) cb->on_epoch_end(*this, epoch, logs);
  }
  for (auto& cb : opts.callbacks) cb->on_train_end(*this);
  if (opts.verbose > 0 && !history.epochs.empty()) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    std::fprintf(stderr, "Trained %zu epochs in %s", history.epochs.size(), detail::format_duration(secs).c_str());
    for (auto& [k, v] : history.epochs.back())
      if (k != "lr") std::fprintf(stderr, " - %s: %s", k.c_str(), detail::format_value(v).c_str());
    std::fprintf(stderr, "\n");
  }
  return history;
}

Logs Model::evaluate(const Tensor& x, const Tensor& y, int64_t batch_size) {
  return evaluate(std::make_shared<TensorDataset>(x, y), batch_size);
}

Logs Model::evaluate(DatasetPtr data, int64_t batch_size) {
  check_compiled("evaluate");
  NoGradGuard ng;
  const bool was_training = net_->is_training();
  net_->eval();
  DataLoader loader(data, {batch_size, false, 0, false, 0});
  loader.start_epoch(0);
  for (auto& m : metrics_) m->reset();
  double loss_sum = 0;
  int64_t seen = 0;
  Batch b;
  while (loader.next(&b)) {
    Tensor out = net_->forward(b.x);
    const int64_t n = b.x.size(0);
    loss_sum += loss_->forward(out, b.y).item() * double(n);
    seen += n;
    for (auto& m : metrics_) m->update(out, b.y);
  }
  net_->train(was_training);
  Logs logs{{"loss", loss_sum / double(std::max<int64_t>(seen, 1))}};
  for (auto& m : metrics_) logs[m->name()] = m->result();
  return logs;
}

Tensor Model::predict(const Tensor& x, int64_t batch_size) {
  NoGradGuard ng;
  const bool was_training = net_->is_training();
  net_->eval();
  std::vector<Tensor> outs;
  for (int64_t s = 0; s < x.size(0); s += batch_size)
    outs.push_back(net_->forward(x.narrow(0, s, std::min(batch_size, x.size(0) - s))));
  net_->train(was_training);
  BIGDL_CHECK(!outs.empty(), ValueError, "predict", "input has no samples");
  return cat(outs, 0);
}

void Model::save_checkpoint(const std::string& path, int64_t epoch) const {
  nn::NamedTensors all;
  for (auto& [k, t] : net_->state_dict()) all.emplace_back("model." + k, t);
  if (opt_)
    for (auto& [k, t] : opt_->state_dict()) all.emplace_back("optimizer." + k, t);
  io::save_tensors(path, all, {{"format", "bigdl-checkpoint"}, {"epoch", std::to_string(epoch)}});
}

int64_t Model::load_checkpoint(const std::string& path) {
  std::map<std::string, std::string> meta;
  nn::NamedTensors all = io::load_tensors(path, &meta);
  BIGDL_CHECK(meta["format"] == "bigdl-checkpoint", FormatError, "load_checkpoint", path,
              ": not a bigdl checkpoint (metadata 'format' is '", meta["format"], "')");
  nn::NamedTensors model, optim_state;
  for (auto& [k, t] : all) {
    if (k.rfind("model.", 0) == 0) model.emplace_back(k.substr(6), t);
    else if (k.rfind("optimizer.", 0) == 0) optim_state.emplace_back(k.substr(10), t);
  }
  net_->load_state_dict(model);
  if (opt_ && !optim_state.empty()) opt_->load_state_dict(optim_state);
  return std::stoll(meta["epoch"]);
}

}  // namespace bigdl::train
