#include "bigdl/train/data.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "bigdl/dist/all_reduce_parameter.h"
#include "bigdl/io/csv.h"
#include "bigdl/io/idx.h"
#include "bigdl/io/safetensors.h"
#include "bigdl/io/tensor_io.h"
#include "bigdl/ops.h"
#include "bigdl/random.h"

namespace bigdl::train {

namespace {
Tensor take(const Tensor& t, const std::vector<int64_t>& indices) {
  if (!t.defined()) return t;
  return index_select(t, 0, from_vector(indices, {int64_t(indices.size())}));
}
}  // namespace

TensorDataset::TensorDataset(Tensor x, Tensor y) : x_(std::move(x)), y_(std::move(y)) {
  BIGDL_CHECK(x_.defined() && x_.dim() >= 1, ShapeError, "TensorDataset", "x must have a sample dim");
  BIGDL_CHECK(!y_.defined() || (y_.dim() >= 1 && y_.size(0) == x_.size(0)), ShapeError, "TensorDataset", "x has ",
              x_.size(0), " samples but y has ", y_.defined() && y_.dim() ? y_.size(0) : 0);
  x_ = x_.detach();
  if (y_.defined()) y_ = y_.detach();
}

Batch TensorDataset::get(const std::vector<int64_t>& indices) const {
  return {take(x_, indices), take(y_, indices), int64_t(indices.size())};
}

DatasetSlice::DatasetSlice(DatasetPtr base, int64_t begin, int64_t end) : base_(std::move(base)), begin_(begin), end_(end) {
  BIGDL_CHECK(base_ != nullptr, ValueError, "DatasetSlice", "data set is null");
  BIGDL_CHECK(0 <= begin && begin <= end && end <= base_->size(), IndexError, "DatasetSlice", "rows [", begin, ", ", end,
              ") are not inside a data set of ", base_->size());
}

Batch DatasetSlice::get(const std::vector<int64_t>& indices) const {
  std::vector<int64_t> shifted(indices);
  for (int64_t& i : shifted) {
    BIGDL_CHECK(i >= 0 && i < size(), IndexError, "DatasetSlice", "index ", i, " out of range for ", size(), " rows");
    i += begin_;
  }
  return base_->get(shifted);
}

// ------------------------------------------------------------------ file-backed
namespace {
struct Mapping {
  void* addr = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (addr != MAP_FAILED) munmap(addr, size);
  }
};
}  // namespace

SafetensorsDataset::SafetensorsDataset(const std::string& path) {
  std::map<std::string, std::string> meta;
  const auto entries = io::read_safetensors_header(path, &meta);
  const int fd = ::open(path.c_str(), O_RDONLY);
  BIGDL_CHECK(fd >= 0, IOError, "SafetensorsDataset", path, ": ", std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
  auto map = std::make_shared<Mapping>();
  map->size = size_t(st.st_size);
  map->addr = ::mmap(nullptr, map->size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  BIGDL_CHECK(map->addr != MAP_FAILED, IOError, "SafetensorsDataset", path, ": mmap failed: ", std::strerror(errno));
  uint64_t header_len = 0;
  std::memcpy(&header_len, map->addr, 8);
  char* data = static_cast<char*>(map->addr) + 8 + header_len;
  for (const auto& e : entries) {
    if (e.name != "x" && e.name != "y") continue;
    Tensor t = from_blob(data + e.data_begin, e.shape, dtype_from_safetensors(e.dtype, "SafetensorsDataset"), map);
    (e.name == "x" ? x_ : y_) = t;
  }
  BIGDL_CHECK(x_.defined(), FormatError, "SafetensorsDataset", path, ": no tensor named 'x'");
  BIGDL_CHECK(!y_.defined() || y_.size(0) == x_.size(0), FormatError, "SafetensorsDataset", path, ": x has ", x_.size(0),
              " rows but y has ", y_.size(0));
}

Batch SafetensorsDataset::get(const std::vector<int64_t>& indices) const {
  return {take(x_, indices), take(y_, indices), int64_t(indices.size())};
}

void save_dataset(const std::string& path, const Tensor& x, const Tensor& y) {
  nn::NamedTensors t{{"x", x}};
  if (y.defined()) t.emplace_back("y", y);
  io::save_tensors(path, t, {{"format", "bigdl-dataset"}});
}

// ------------------------------------------------------------------ loader
DataLoader::DataLoader(DatasetPtr data, DataLoaderOptions opts) : data_(std::move(data)), opts_(opts) {
  BIGDL_CHECK(data_ != nullptr, ValueError, "DataLoader", "data set is null");
  BIGDL_CHECK(opts_.batch_size > 0, ValueError, "DataLoader", "batch_size must be positive, got ", opts_.batch_size);
  BIGDL_CHECK(opts_.world_size > 0 && opts_.rank >= 0 && opts_.rank < opts_.world_size, ValueError, "DataLoader", "rank ",
              opts_.rank, " is not in a world of ", opts_.world_size);
}

DataLoader::~DataLoader() { stop(); }

int64_t DataLoader::num_batches() const {
  const int64_t n = data_->size();
  return opts_.drop_last ? n / opts_.batch_size : (n + opts_.batch_size - 1) / opts_.batch_size;
}

Batch DataLoader::make(int64_t b) const {
  int64_t s = b * opts_.batch_size;
  int64_t e = std::min<int64_t>(s + opts_.batch_size, int64_t(order_.size()));
  const int64_t global = e - s;
  if (opts_.world_size > 1) {
    const dist::Range r = dist::batch_rows(global, opts_.rank, opts_.world_size);
    e = s + r.end;
    s += r.begin;
    if (s == e) return Batch{Tensor(), Tensor(), global};
  }
  Batch out = data_->get(std::vector<int64_t>(order_.begin() + s, order_.begin() + e));
  out.global_size = global;
  return out;
}

void DataLoader::stop() {
  {
    std::lock_guard<std::mutex> lk(m_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  stop_ = false;
}

void DataLoader::start_epoch(int64_t epoch) {
  stop();
  order_.resize(size_t(data_->size()));
  std::iota(order_.begin(), order_.end(), 0);
  if (opts_.shuffle) {
    Generator g(opts_.seed + uint64_t(epoch) * 0x9e3779b97f4a7c15ull);
    for (int64_t i = int64_t(order_.size()) - 1; i > 0; --i) std::swap(order_[i], order_[g.next_u64() % uint64_t(i + 1)]);
  }
  next_batch_ = 0;
  queue_.clear();
  produced_ = consumed_ = 0;
  done_ = false;
  error_ = nullptr;
  if (opts_.prefetch <= 0) return;
  const int64_t total = num_batches();
  worker_ = std::thread([this, total] {
    try {
      for (int64_t b = 0; b < total; ++b) {
        {
          std::unique_lock<std::mutex> lk(m_);
          cv_.wait(lk, [&] { return stop_ || int64_t(queue_.size()) < opts_.prefetch; });
          if (stop_) return;
        }
        Batch batch = make(b);
        std::lock_guard<std::mutex> lk(m_);
        queue_.push_back(std::move(batch));
        cv_.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lk(m_);
      error_ = std::current_exception();
    }
    std::lock_guard<std::mutex> lk(m_);
    done_ = true;
    cv_.notify_all();
  });
}

bool DataLoader::next(Batch* out) {
  if (opts_.prefetch <= 0) {
    if (next_batch_ >= num_batches()) return false;
    *out = make(next_batch_++);
    return true;
  }
  std::unique_lock<std::mutex> lk(m_);
  cv_.wait(lk, [&] { return !queue_.empty() || done_ || error_; });
  if (error_) std::rethrow_exception(error_);
  if (queue_.empty()) return false;
  *out = std::move(queue_.front());
  queue_.pop_front();
  cv_.notify_all();
  return true;
}

std::pair<std::shared_ptr<TensorDataset>, std::shared_ptr<TensorDataset>> train_test_split(const Tensor& x,
                                                                                        const Tensor& y,
                                                                                        double test_fraction,
                                                                                        uint64_t seed) {
  BIGDL_CHECK(test_fraction > 0 && test_fraction < 1, ValueError, "train_test_split", "test_fraction must be in (0, 1), got ",
              test_fraction);
  Generator g(seed);
  const int64_t n = x.size(0);
  std::vector<int64_t> perm = randperm(n, &g).to_int_vector();
  const int64_t n_test = int64_t(std::llround(double(n) * test_fraction));
  std::vector<int64_t> te(perm.begin(), perm.begin() + n_test), tr(perm.begin() + n_test, perm.end());
  return {std::make_shared<TensorDataset>(take(x, tr), take(y, tr)), std::make_shared<TensorDataset>(take(x, te), take(y, te))};
}

// ------------------------------------------------------------------ real data
std::string default_digits_path() { return "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"; }

std::pair<Tensor, Tensor> load_digits(const std::string& path_in) {
  const std::string path = path_in.empty() ? default_digits_path() : path_in;
  BIGDL_CHECK(std::filesystem::exists(path), IOError, "load_digits", path,
              ": not found (install Debian's python3-sklearn, or pass the path to digits.csv.gz)");
  io::CsvTable t = io::read_csv(path);
  BIGDL_CHECK(t.cols == 65, FormatError, "load_digits", path, ": expected 65 columns, found ", t.cols);
  std::vector<float> xs(size_t(t.rows * 64));
  std::vector<int64_t> ys(size_t(t.rows));
  for (int64_t r = 0; r < t.rows; ++r) {
    for (int64_t c = 0; c < 64; ++c) xs[size_t(r * 64 + c)] = t.at(r, c) / 16.0f;
    const float label = t.at(r, 64);
    BIGDL_CHECK(label >= 0 && label <= 9 && label == std::floor(label), FormatError, "load_digits", path, ":", r + 1,
                ": label ", label, " is not a digit");
    ys[size_t(r)] = int64_t(label);
  }
  return {from_vector(xs, {t.rows, 64}), from_vector(ys, {t.rows})};
}

std::pair<Tensor, Tensor> load_idx_dataset(const std::string& images, const std::string& labels) {
  io::IdxArray im = io::read_idx(images), lb = io::read_idx(labels);
  BIGDL_CHECK(im.type == io::IdxType::u8 && im.shape.size() == 3, FormatError, "load_idx_dataset", images,
              ": expected u8 images [N, H, W]");
  BIGDL_CHECK(lb.type == io::IdxType::u8 && lb.shape.size() == 1 && lb.shape[0] == im.shape[0], FormatError,
              "load_idx_dataset", labels, ": expected ", im.shape[0], " u8 labels");
  const int64_t n = im.shape[0], h = im.shape[1], w = im.shape[2];
  Tensor x = empty({n, 1, h, w});
  float* px = x.data<float>();
  for (size_t i = 0; i < im.data.size(); ++i) px[i] = float(im.data[i]) / 255.0f;
  Tensor y = empty({n}, DType::i64);
  int64_t* py = y.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) py[i] = lb.data[size_t(i)];
  return {x, y};
}

}  // namespace bigdl::train
