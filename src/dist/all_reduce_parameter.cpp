// The flat parameter buffer, gradient buckets reduce-scattered during backward, the
// sharded optimizer and the all-gather of weights (header: bigdl/dist/all_reduce_parameter.h).
#include "bigdl/dist/all_reduce_parameter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "bigdl/autograd.h"
#include "core/internal.h"

namespace bigdl::dist {
namespace {

constexpr int64_t kAlign = 16;  // floats: every parameter starts on a 64-byte boundary

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Restores the previous leaf-grad hook however backward() leaves.
struct HookGuard {
  LeafGradHook prev;
  explicit HookGuard(LeafGradHook h) : prev(set_leaf_grad_hook(std::move(h))) {}
  ~HookGuard() { set_leaf_grad_hook(std::move(prev)); }
};

}  // namespace

Range shard_range(int64_t total, int rank, int size) {
  BIGDL_CHECK(size > 0 && rank >= 0 && rank < size && total >= 0, ValueError, "dist", "shard_range: rank ", rank,
              " of ", size, " for ", total, " elements");
  const int64_t c = (total + size - 1) / size;
  const int64_t b = std::min(total, int64_t(rank) * c), e = std::min(total, b + c);
  return {b, e};
}

Range batch_rows(int64_t n, int rank, int size) {
  BIGDL_CHECK(size > 0 && rank >= 0 && rank < size && n >= 0, ValueError, "dist", "batch_rows: rank ", rank, " of ",
              size, " for ", n, " rows");
  const int64_t base = n / size, extra = n % size;
  const int64_t b = int64_t(rank) * base + std::min<int64_t>(rank, extra);
  return {b, b + base + (rank < extra ? 1 : 0)};
}

AllReduceParameter::AllReduceParameter(std::vector<Tensor> params, GroupPtr group, SyncOptions opts)
    : group_(std::move(group)), opts_(opts) {
  BIGDL_CHECK(group_ != nullptr, ValueError, "dist", "AllReduceParameter: group is null");
  NoGradGuard ng;
  // Lay the parameters out in the given order, each aligned, duplicates once.
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    BIGDL_CHECK(p.defined() && p.is_leaf() && p.requires_grad(), ValueError, "dist",
                "AllReduceParameter: parameter ", i, " must be a leaf tensor that requires grad");
    BIGDL_CHECK(p.dtype() == DType::f32 && p.is_contiguous(), DTypeError, "dist", "AllReduceParameter: parameter ", i,
                " must be contiguous f32, got ", dtype_name(p.dtype()));
    auto it = index_of_.find(p.impl());
    if (it != index_of_.end()) {
      first_index_.push_back(int(it->second));
      continue;
    }
    index_of_[p.impl()] = params_.size();
    first_index_.push_back(int(params_.size()));
    params_.push_back(p);
    offsets_.push_back(total_);
    total_ += (p.numel() + kAlign - 1) / kAlign * kAlign;
  }
  flat_w_ = zeros({total_});
  flat_g_ = zeros({total_});
  float* w = flat_w_.data<float>();
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    if (p.numel() > 0) std::memcpy(w + offsets_[i], p.data<float>(), size_t(p.numel()) * sizeof(float));
    // Re-point the parameter (every handle shares this impl) into the flat buffer.
    TensorImpl* impl = p.impl();
    impl->storage = flat_w_.storage();
    impl->offset = offsets_[i];
    impl->strides = bigdl::detail::contiguous_strides(impl->shape);
    grad_views_.push_back(bigdl::detail::make_view(flat_g_, p.shape(), impl->strides, offsets_[i]));
    p.set_grad(grad_views_.back());
  }
  reported_.assign(params_.size(), 0);
  // Every rank starts from rank 0's weights (bounded chunks keep MPI's int counts).
  for (int64_t at = 0; at < total_; at += int64_t(1) << 28)
    group_->broadcast(w + at, std::min<int64_t>(total_ - at, int64_t(1) << 28) * int64_t(sizeof(float)), 0);

  const Range mine = shard();
  w_shard_ = bigdl::detail::make_view(flat_w_, {mine.size()}, {1}, mine.begin);
  w_shard_.requires_grad_(true);
  g_shard_ = zeros({mine.size()});
  w_shard_.set_grad(g_shard_);

  // Buckets from the last parameter backwards (the order backward finishes them).
  const int64_t cap = opts_.bucket_bytes > 0 ? std::max<int64_t>(1, opts_.bucket_bytes / 4) : total_ + 1;
  param_bucket_.assign(params_.size(), 0);
  for (size_t i = params_.size(); i-- > 0;) {
    const int64_t end = i + 1 < params_.size() ? offsets_[i + 1] : total_;
    // A parameter that would overflow a non-empty bucket starts the next one.
    if (buckets_.empty() || (buckets_.back().params > 0 && buckets_.back().range.size() + (end - offsets_[i]) > cap))
      buckets_.push_back({{offsets_[i], end}, 0, 0, {}});
    Bucket& b = buckets_.back();
    b.range.begin = offsets_[i];
    b.params += 1;
    param_bucket_[i] = buckets_.size() - 1;
  }
  const int n = group_->size();
  for (Bucket& b : buckets_) {
    for (int j = 0; j < n; ++j) {
      const Range s = shard_of(j);
      b.counts.push_back(std::max<int64_t>(0, std::min(b.range.end, s.end) - std::max(b.range.begin, s.begin)));
    }
  }
  if (opts_.overlap && group_->threads_ok() && !buckets_.empty()) comm_ = std::thread([this] { comm_loop(); });
}

AllReduceParameter::~AllReduceParameter() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (comm_.joinable()) comm_.join();
}

// ------------------------------------------------------------------ communication
void AllReduceParameter::comm_loop() {
  for (;;) {
    size_t k;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_
      k = queue_.front();
      queue_.pop_front();
    }
    try {
      if (!comm_error_) reduce_bucket(k);
    } catch (...) {
      std::lock_guard<std::mutex> lk(mu_);
      comm_error_ = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++done_;
    }
    cv_.notify_all();
  }
}

void AllReduceParameter::reduce_bucket(size_t k) { reduce_range(buckets_[k].range, buckets_[k].counts); }

void AllReduceParameter::reduce_range(Range r, const std::vector<int64_t>& counts) {
  float* g = flat_g_.data<float>() + r.begin;
  if (weight_ != 1.0) {
    const float wt = float(weight_);
    for (int64_t i = 0; i < r.size(); ++i) g[i] *= wt;
  }
  const Range mine = shard();
  float* out = g_shard_.data<float>() + std::max<int64_t>(0, std::max(r.begin, mine.begin) - mine.begin);
  group_->reduce_scatter(g, out, counts, opts_.wire);
}

void AllReduceParameter::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    const size_t k = next_launch_++;
    if (!comm_.joinable()) continue;  // no thread: finish() reduces inline, in order
    {
      std::lock_guard<std::mutex> lk(mu_);
      queue_.push_back(k);
    }
    cv_.notify_all();
  }
}

void AllReduceParameter::on_leaf_grad(const Tensor& leaf) {
  auto it = index_of_.find(leaf.impl());
  if (it == index_of_.end()) return;
  const size_t i = it->second;
  if (reported_[i]) return;
  reported_[i] = 1;
  // A gradient the engine put elsewhere (someone reset .grad()) is copied into place.
  Tensor g = leaf.grad();
  if (g.defined() && g.impl() != grad_views_[i].impl()) {
    grad_views_[i].copy_(g);
    leaf.set_grad(grad_views_[i]);
  }
  Bucket& b = buckets_[param_bucket_[i]];
  --b.pending;
  launch_ready();
}

void AllReduceParameter::finish() {
  for (Bucket& b : buckets_) b.pending = 0;
  launch_ready();
  if (comm_.joinable()) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return done_ == buckets_.size(); });
  } else if (buckets_.size() > 1 && total_ <= (int64_t(1) << 30)) {
    // Inline there is no backward left to overlap with, so the buckets go as one call. A
    // bucket is the part of each rank's shard that it covers, mostly one or two shards:
    // its reduce-scatter funnels the data into those ranks' links while the others idle,
    // where one call over the whole buffer keeps every link busy (docs/distributed.md).
    // 2^30 elements: the most one call takes with any wire type.
    std::vector<int64_t> counts;
    for (int j = 0; j < group_->size(); ++j) counts.push_back(shard_of(j).size());
    reduce_range(Range{0, total_}, counts);
  } else {
    for (size_t k = 0; k < buckets_.size(); ++k) reduce_bucket(k);
  }
  if (comm_error_) {
    std::exception_ptr e = comm_error_;
    comm_error_ = nullptr;
    std::rethrow_exception(e);
  }
}

void AllReduceParameter::backward(const Tensor& loss, double weight) {
  BIGDL_CHECK(std::isfinite(weight) && weight >= 0, ValueError, "dist", "backward: weight must be finite and >= 0, got ",
              weight);
  const double t0 = now_s();
  {
    NoGradGuard ng;
    flat_g_.zero_();
    for (size_t i = 0; i < params_.size(); ++i)
      if (params_[i].grad().impl() != grad_views_[i].impl()) params_[i].set_grad(grad_views_[i]);
  }
  weight_ = weight;
  std::fill(reported_.begin(), reported_.end(), 0);
  for (Bucket& b : buckets_) b.pending = b.params;
  next_launch_ = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    done_ = 0;
    queue_.clear();
  }
  if (loss.defined()) {
    HookGuard guard([this](const Tensor& leaf) { on_leaf_grad(leaf); });
    try {
      loss.backward();
    } catch (...) {
      finish();  // the other ranks wait for these buckets; send them before failing
      throw;
    }
  }
  stats_.buckets_early = comm_.joinable() ? int(next_launch_) : 0;
  const double t1 = now_s();
  finish();
  const double t2 = now_s();
  stats_.backward_s = t1 - t0;
  stats_.wait_s = t2 - t1;
}

double AllReduceParameter::clip_grad_norm(double max_norm) {
  BIGDL_CHECK(max_norm > 0, ValueError, "dist", "clip_grad_norm: max_norm must be positive, got ", max_norm);
  NoGradGuard ng;
  const float* g = g_shard_.data<float>();
  double sq = 0;
  for (int64_t i = 0; i < g_shard_.numel(); ++i) sq += double(g[i]) * double(g[i]);
  group_->all_reduce(&sq, 1, DType::f64, ReduceOp::sum);
  const double norm = std::sqrt(sq);
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) g_shard_.mul_(coef);
  return norm;
}

void AllReduceParameter::step() {
  BIGDL_CHECK(opt_ != nullptr, ValueError, "dist", "step: call set_optimizer() first");
  const double t0 = now_s();
  opt_->step();
  const double t1 = now_s();
  all_gather_weights();
  stats_.step_s = t1 - t0;
  stats_.gather_s = now_s() - t1;
}

void AllReduceParameter::all_gather_weights() {
  const int n = group_->size();
  std::vector<int64_t> counts;
  for (int j = 0; j < n; ++j) counts.push_back(shard_of(j).size());
  float* w = flat_w_.data<float>();
  group_->all_gather(w + shard().begin, w, counts, DType::f32);
}

// ------------------------------------------------------------------ optimizer shard
void AllReduceParameter::set_optimizer(const optim::Optimizer& proto) {
  std::vector<Tensor> ps;
  if (w_shard_.numel() > 0) ps.push_back(w_shard_);
  opt_ = proto.clone_for(ps);
}

optim::Optimizer& AllReduceParameter::optimizer() const {
  BIGDL_CHECK(opt_ != nullptr, ValueError, "dist", "optimizer: call set_optimizer() first");
  return *opt_;
}

nn::NamedTensors AllReduceParameter::shard_state_dict() const { return optimizer().state_dict(); }

void AllReduceParameter::load_shard_state_dict(const nn::NamedTensors& state) { optimizer().load_state_dict(state); }

nn::NamedTensors AllReduceParameter::full_state_dict() const {
  optim::Optimizer& o = optimizer();
  const nn::NamedTensors mine_state = o.state_dict();
  // Buffer names of the shard ("state.0.<name>"), from rank 0, which always has a
  // non-empty shard when there are parameters; sent as one '\n'-joined string.
  std::string names;
  double step_count[3] = {0, double(o.step_count()), o.lr()};
  for (const auto& [k, t] : mine_state) {
    if (k.rfind("state.0.", 0) != 0) continue;
    if (k == "state.0.step") step_count[0] = t.item();
    else names += k.substr(8) + "\n";
  }
  int64_t len = int64_t(names.size());
  group_->broadcast(&len, sizeof(len), 0);
  names.resize(size_t(len));
  group_->broadcast(names.data(), len, 0);
  group_->broadcast(step_count, sizeof(step_count), 0);

  const int n = group_->size();
  std::vector<int64_t> counts;
  for (int j = 0; j < n; ++j) counts.push_back(shard_of(j).size());
  nn::NamedTensors out;
  std::vector<std::pair<std::string, Tensor>> flats;
  size_t at = 0;
  while (at < names.size()) {
    const size_t nl = names.find('\n', at);
    const std::string name = names.substr(at, nl - at);
    at = nl + 1;
    Tensor flat = zeros({total_});
    Tensor mine;
    for (const auto& [k, t] : mine_state)
      if (k == "state.0." + name) mine = t.contiguous();
    const Range s = shard();
    float* f = flat.data<float>();
    if (mine.defined() && s.size() > 0) std::memcpy(f + s.begin, mine.data<float>(), size_t(s.size()) * sizeof(float));
    group_->all_gather(f + s.begin, f, counts, DType::f32);
    flats.emplace_back(name, flat);
  }
  for (size_t c = 0; c < first_index_.size(); ++c) {
    const size_t i = size_t(first_index_[c]);
    for (const auto& [name, flat] : flats)
      out.emplace_back("state." + std::to_string(c) + "." + name,
                       flat.narrow(0, offsets_[i], params_[i].numel()).reshape(params_[i].shape()).clone());
    out.emplace_back("state." + std::to_string(c) + ".step", scalar_tensor(step_count[0], DType::f64));
  }
  out.emplace_back("step", scalar_tensor(step_count[1], DType::f64));
  out.emplace_back("lr", scalar_tensor(step_count[2], DType::f64));
  return out;
}

void AllReduceParameter::load_full_state_dict(const nn::NamedTensors& state) {
  optim::Optimizer& o = optimizer();
  NoGradGuard ng;
  std::vector<std::pair<std::string, Tensor>> flats;  // buffer name -> [P]
  double step_param = 0, step = -1, lr = o.lr();
  for (const auto& [key, t] : state) {
    if (key == "step") { step = t.item(); continue; }
    if (key == "lr") { lr = t.item(); continue; }
    BIGDL_CHECK(key.rfind("state.", 0) == 0, ValueError, "dist", "load_full_state_dict: unexpected key '", key, "'");
    const size_t dot = key.find('.', 6);
    BIGDL_CHECK(dot != std::string::npos, ValueError, "dist", "load_full_state_dict: malformed key '", key, "'");
    size_t c = 0;
    try {
      c = std::stoul(key.substr(6, dot - 6));
    } catch (const std::exception&) {
      throw ValueError("[dist] load_full_state_dict: malformed key '" + key + "'");
    }
    BIGDL_CHECK(c < first_index_.size(), IndexError, "dist", "load_full_state_dict: key '", key, "' names parameter ", c,
                " but there are ", first_index_.size());
    const std::string name = key.substr(dot + 1);
    if (name == "step") {
      step_param = std::max(step_param, t.item());  // a parameter that never had a grad lags
      continue;
    }
    const size_t i = size_t(first_index_[c]);
    BIGDL_CHECK(t.shape() == params_[i].shape(), ShapeError, "dist", "load_full_state_dict: key '", key, "' has shape ",
                shape_str(t.shape()), ", parameter has ", shape_str(params_[i].shape()));
    Tensor* flat = nullptr;
    for (auto& [n, f] : flats)
      if (n == name) flat = &f;
    if (!flat) {
      flats.emplace_back(name, zeros({total_}));
      flat = &flats.back().second;
    }
    flat->narrow(0, offsets_[i], params_[i].numel()).copy_(t.reshape({-1}));
  }
  nn::NamedTensors shard_state;
  const Range s = shard();
  if (s.size() > 0) {
    for (auto& [name, f] : flats) shard_state.emplace_back("state.0." + name, f.narrow(0, s.begin, s.size()).clone());
    shard_state.emplace_back("state.0.step", scalar_tensor(step_param, DType::f64));
  }
  if (step >= 0) shard_state.emplace_back("step", scalar_tensor(step, DType::f64));
  shard_state.emplace_back("lr", scalar_tensor(lr, DType::f64));
  o.load_state_dict(shard_state);
}

// ------------------------------------------------------------------ module buffers
void sync_buffers(nn::Module& net, Group& g) {
  NoGradGuard ng;
  for (auto& [name, b] : net.named_buffers()) {
    if (!b.defined() || b.numel() == 0) continue;
    Tensor c = b.contiguous().clone();
    if (b.dtype() == DType::f32 || b.dtype() == DType::f64) {
      all_reduce_(c, g, ReduceOp::sum);
      c.mul_(1.0 / double(g.size()));
    } else {
      broadcast_(c, g, 0);
    }
    b.copy_(c);
  }
}

void broadcast_module(nn::Module& net, Group& g) {
  NoGradGuard ng;
  for (auto& [name, t] : net.state_dict()) {
    if (!t.defined() || t.numel() == 0) continue;
    Tensor c = t.contiguous().clone();
    broadcast_(c, g, 0);
    t.copy_(c);
  }
}

}  // namespace bigdl::dist
