#include "bigdl/train/model.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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
  sync_.reset();  // a new optimizer: the next distributed fit shards it afresh
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

namespace {
bool resolve_distributed(const FitOptions& o) {
  switch (o.distributed) {
    case FitOptions::Distributed::on: return true;
    case FitOptions::Distributed::off: return false;
    case FitOptions::Distributed::auto_: return o.group != nullptr || dist::launched_by_mpi();
  }
  return false;
}

// Test-only fault injection (tests/dist/test_fault.sh): BIGDL_FAULT_INJECT=
// "kill:<rank>:<step>" or "stop:<rank>:<step>" makes that rank SIGKILL or SIGSTOP itself
// right after global optimizer step <step> (and its checkpoint, if one is due).
struct FaultInjection {
  int sig = 0;
  int64_t step = -1;
  void maybe_fire(int64_t s) const {
    if (sig == 0 || s != step) return;
    std::fflush(nullptr);
    std::raise(sig);
  }
};

FaultInjection fault_from_env(int rank) {
  FaultInjection f;
  const char* v = std::getenv("BIGDL_FAULT_INJECT");
  if (!v || !*v) return f;
  char what[8] = {0};
  int r = -1;
  long long step = -1;
  BIGDL_CHECK(std::sscanf(v, "%7[a-z]:%d:%lld", what, &r, &step) == 3 &&
                  (std::strcmp(what, "kill") == 0 || std::strcmp(what, "stop") == 0),
              ValueError, "fit", "BIGDL_FAULT_INJECT must be kill:<rank>:<step> or stop:<rank>:<step>, got '", v, "'");
  if (r == rank) {
    f.sig = std::strcmp(what, "kill") == 0 ? SIGKILL : SIGSTOP;
    f.step = step;
  }
  return f;
}
}  // namespace

void Model::setup_sync(const dist::GroupPtr& group, const dist::SyncOptions& o) {
  // Reuse the synchronisation of an earlier distributed fit when nothing changed.
  std::vector<const TensorImpl*> want, have;
  for (const Tensor& t : opt_->params())
    if (std::find(want.begin(), want.end(), t.impl()) == want.end()) want.push_back(t.impl());
  if (sync_)
    for (const Tensor& t : sync_->params()) have.push_back(t.impl());
  if (sync_ && sync_->group_ptr() == group && sync_->options() == o && want == have) return;
  // Carry optimizer state over (a resumed checkpoint, or an earlier distributed fit).
  const nn::NamedTensors state = sync_ && sync_->has_optimizer() ? sync_->full_state_dict() : opt_->state_dict();
  sync_.reset();
  auto sync = std::make_shared<dist::AllReduceParameter>(opt_->params(), group, o);
  dist::broadcast_module(*net_, *group);  // buffers too: every rank starts from rank 0's model
  sync->set_optimizer(*opt_);
  sync->load_full_state_dict(state);
  sync_ = std::move(sync);
}

History Model::fit(DatasetPtr train, DatasetPtr validation, const FitOptions& opts) {
  check_compiled("fit");
  BIGDL_CHECK(opts.epochs >= 0 && opts.batch_size > 0, ValueError, "fit", "epochs must be >= 0 and batch_size > 0");
  BIGDL_CHECK(train && train->size() > 0, ValueError, "fit", "training data is empty");
  BIGDL_CHECK(opts.clip_grad_norm >= 0, ValueError, "fit", "clip_grad_norm must be >= 0, got ", opts.clip_grad_norm);
  BIGDL_CHECK(opts.checkpoint_every >= 0 && opts.keep_checkpoints >= 1, ValueError, "fit",
              "checkpoint_every must be >= 0 and keep_checkpoints >= 1");
  BIGDL_CHECK(opts.checkpoint_every == 0 || !opts.checkpoint_dir.empty(), ValueError, "fit",
              "checkpoint_every needs a checkpoint_dir");
  const bool distributed = resolve_distributed(opts);
  dist::GroupPtr group;
  if (distributed) {
    group = opts.group ? opts.group : dist::world();
    setup_sync(group, opts.sync);
  }
  const int rank = group ? group->rank() : 0, world = group ? group->size() : 1;
  const bool lead = rank == 0;  // prints progress and writes summaries
  DataLoader loader(train, {opts.batch_size, opts.shuffle, opts.seed, false, 2, rank, world});
  std::unique_ptr<SummaryWriter> train_log, val_log;
  if (!opts.log_dir.empty() && lead) {
    train_log = std::make_unique<SummaryWriter>(opts.log_dir + "/train");
    if (validation) val_log = std::make_unique<SummaryWriter>(opts.log_dir + "/validation");
  }
  const int verbose = lead ? opts.verbose : 0;
  // Where training starts: initial_epoch, or the position of a resumed step checkpoint.
  StepCheckpoint pos;
  pos.batches_per_epoch = loader.num_batches();
  pos.batch_size = opts.batch_size;
  pos.samples = train->size();
  int64_t first_epoch = opts.initial_epoch, first_batch = 0, resumed_seen = 0;
  double resumed_loss = 0;
  if (!opts.resume.empty()) {
    if (auto c = resume_step_checkpoint(opts, group.get(), pos, lead && opts.verbose > 0)) {
      first_epoch = c->epoch;
      first_batch = c->batch;
      resumed_loss = c->loss_sum;
      resumed_seen = c->seen;
    }
  }
  const FaultInjection fault = fault_from_env(rank);
  History history;
  stop_training = false;
  for (auto& cb : opts.callbacks) cb->on_train_begin(*this);
  const auto t_start = std::chrono::steady_clock::now();
  for (int64_t epoch = first_epoch; epoch < opts.epochs && !stop_training; ++epoch) {
    for (auto& cb : opts.callbacks) cb->on_epoch_begin(*this, epoch);
    net_->train();
    for (auto& m : metrics_) m->reset();
    loader.start_epoch(epoch);
    std::unique_ptr<ProgressBar> bar;
    if (verbose > 0) {
      ProgressOptions po;
      po.total_samples = train->size();
      bar = std::make_unique<ProgressBar>(loader.num_batches(),
                                          "Epoch " + std::to_string(epoch + 1) + "/" + std::to_string(opts.epochs),
                                          stderr, po);
    }
    double loss_sum = 0;
    int64_t seen = 0, seen_local = 0, step = 0;
    Batch b;
    if (epoch == first_epoch && first_batch > 0) {
      // Resumed mid-epoch: the same shuffled order, its first batches already trained on.
      // (Metrics restart here; loss_sum and seen continue.)
      while (step < first_batch && loader.next(&b)) ++step;
      loss_sum = resumed_loss;
      seen = resumed_seen;
    }
    while (loader.next(&b)) {
      double lv = 0;
      Tensor out;
      const int64_t n_local = b.x.defined() ? b.x.size(0) : 0;
      if (!distributed) {
        opt_->zero_grad();
        out = net_->forward(b.x);
        Tensor loss = loss_->forward(out, b.y);
        BIGDL_CHECK(loss.numel() == 1, ShapeError, "fit", "loss must be a scalar, got shape ", shape_str(loss.shape()));
        lv = loss.item();
        BIGDL_CHECK(std::isfinite(lv), ValueError, "fit", "loss became ", lv, " at epoch ", epoch + 1, " step ", step + 1,
                    "; lower the learning rate or check the data");
        loss.backward();
        if (opts.clip_grad_norm > 0) optim::clip_grad_norm_(opt_->params(), opts.clip_grad_norm);
        opt_->step();
      } else {
        // This rank's rows (maybe none): the gradient of their mean loss, weighted by
        // their share of the global batch, summed over ranks = the global mean's.
        Tensor loss;
        double local = 0;
        if (n_local > 0) {
          out = net_->forward(b.x);
          loss = loss_->forward(out, b.y);
          BIGDL_CHECK(loss.numel() == 1, ShapeError, "fit", "loss must be a scalar, got shape ", shape_str(loss.shape()));
          local = loss.item() * double(n_local);
        }
        sync_->backward(loss, double(n_local) / double(b.global_size));
        group->all_reduce(&local, 1, DType::f64, dist::ReduceOp::sum);
        lv = local / double(b.global_size);
        BIGDL_CHECK(std::isfinite(lv), ValueError, "fit", "loss became ", lv, " at epoch ", epoch + 1, " step ", step + 1,
                    "; lower the learning rate or check the data");
        if (opts.clip_grad_norm > 0) sync_->clip_grad_norm(opts.clip_grad_norm);
        sync_->optimizer().set_lr(opt_->lr());
        sync_->step();
      }
      loss_sum += lv * double(b.global_size);
      seen += b.global_size;
      seen_local += n_local;
      if (n_local > 0)
        for (auto& m : metrics_) m->update(out.detach(), b.y);
      ++step;
      for (auto& cb : opts.callbacks) cb->on_batch_end(*this, step, lv);
      const int64_t global_step = epoch * pos.batches_per_epoch + step;
      if (opts.checkpoint_every > 0 && global_step % opts.checkpoint_every == 0) {
        pos.step = global_step;
        pos.epoch = epoch;
        pos.batch = step;
        pos.loss_sum = loss_sum;
        pos.seen = seen;
        save_step_checkpoint(opts, group.get(), pos);
      }
      fault.maybe_fire(global_step);
      if (bar) {
        ProgressValues pv{{"loss", loss_sum / double(seen)}};
        for (auto& m : metrics_) pv.emplace_back(m->name(), m->result());  // rank 0's rows
        bar->update(step, pv);
      }
    }
    Logs logs{{"loss", loss_sum / double(std::max<int64_t>(seen, 1))}, {"lr", opt_->lr()}};
    // The metrics cover the rows trained since they (re)started: after a mid-epoch resume,
    // the rest of the epoch (loss_sum / seen continue from the checkpoint, metric state is
    // not in it). Weighted over the ranks by the rows each saw; dividing by `seen` counted
    // the rows before the interruption too (0.3185 instead of ~0.958 on digits at np=2). A
    // resume at an epoch's end trained no rows of it: the epoch reports no training metrics.
    std::vector<double> mv;
    for (auto& m : metrics_) mv.push_back(m->result() * double(seen_local));
    mv.push_back(double(seen_local));
    if (group && metrics_.size()) group->all_reduce(mv.data(), int64_t(mv.size()), DType::f64, dist::ReduceOp::sum);
    if (mv.back() > 0)
      for (size_t i = 0; i < metrics_.size(); ++i)
        logs[metrics_[i]->name()] = group ? mv[i] / mv.back() : metrics_[i]->result();
    if (group) dist::sync_buffers(*net_, *group);
    if (validation) {
      const int64_t vb = std::max<int64_t>(opts.batch_size, 256);
      Logs v = group ? evaluate(validation, vb, *group) : evaluate(validation, vb);
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
  if (verbose > 0 && !history.epochs.empty()) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    std::fprintf(stderr, "Trained %zu epochs in %s", history.epochs.size(), detail::format_duration(secs).c_str());
    if (group) std::fprintf(stderr, " on %d ranks", world);
    for (auto& [k, v] : history.epochs.back())
      if (k != "lr") std::fprintf(stderr, " - %s: %s", k.c_str(), detail::format_value(v).c_str());
    std::fprintf(stderr, "\n");
  }
  return history;
}

// This rank's contiguous share of the rows, evaluated locally, then loss and metrics
// averaged over ranks weighted by rows (exact for loss, accuracy, top-k, MAE, MSE; AUC
// becomes the row-weighted mean of the shards' AUCs).
Logs Model::evaluate(DatasetPtr data, int64_t batch_size, dist::Group& g) {
  // Data spread over the ranks: each evaluates the rows it holds.
  DatasetPtr part;
  if (auto* spread = dynamic_cast<PartitionedDataset*>(data.get())) {
    part = spread->local();
  } else {
    const dist::Range r = dist::batch_rows(data->size(), g.rank(), g.size());
    part = std::make_shared<DatasetSlice>(data, r.begin, r.end);
  }
  const int64_t rows = part->size();
  std::vector<double> v(metrics_.size() + 2, 0.0);
  if (rows > 0) {
    Logs local = evaluate(part, batch_size);
    v[0] = local["loss"] * double(rows);
    for (size_t i = 0; i < metrics_.size(); ++i) v[i + 1] = local[metrics_[i]->name()] * double(rows);
  }
  v.back() = double(rows);
  g.all_reduce(v.data(), int64_t(v.size()), DType::f64, dist::ReduceOp::sum);
  const double n = std::max(v.back(), 1.0);
  Logs out{{"loss", v[0] / n}};
  for (size_t i = 0; i < metrics_.size(); ++i) out[metrics_[i]->name()] = v[i + 1] / n;
  return out;
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
  const bool sharded = sync_ && sync_->has_optimizer();
  if (sharded)
    for (auto& [k, t] : sync_->full_state_dict()) all.emplace_back("optimizer." + k, t);
  else if (opt_)
    for (auto& [k, t] : opt_->state_dict()) all.emplace_back("optimizer." + k, t);
  if (sharded && sync_->group().rank() != 0) return;
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
  if (opt_ && !optim_state.empty()) {
    opt_->load_state_dict(optim_state);
    if (sync_ && sync_->has_optimizer()) sync_->load_full_state_dict(optim_state);
  }
  return std::stoll(meta["epoch"]);
}

}  // namespace bigdl::train
