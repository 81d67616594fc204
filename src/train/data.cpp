#include "bigdl/train/data.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "bigdl/dist/all_reduce_parameter.h"
#include "bigdl/dist/group.h"
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

// ------------------------------------------------------------------ spread over ranks
namespace {
// Shape and dtype of one row of t (t undefined: dtype -1), for the cross-rank check.
std::vector<int64_t> row_signature(const Tensor& t) {
  std::vector<int64_t> sig(8, -2);
  if (!t.defined()) {
    sig[0] = -1;
    return sig;
  }
  BIGDL_CHECK(t.dim() <= 7, ShapeError, "PartitionedDataset", "rows of more than 6 dims are not supported");
  sig[0] = int64_t(t.dtype());
  for (int64_t d = 1; d < t.dim(); ++d) sig[size_t(d)] = t.size(d);
  return sig;
}

int64_t row_bytes(const Tensor& t) {
  if (!t.defined()) return 0;
  int64_t n = element_size(t.dtype());
  for (int64_t d = 1; d < t.dim(); ++d) n *= t.size(d);
  return n;
}

std::string describe(const std::vector<int64_t>& sig) {
  if (sig[0] == -1) return "none";
  std::string s = std::string(dtype_name(DType(sig[0]))) + " [";
  for (size_t d = 1; d < sig.size() && sig[d] != -2; ++d) s += (d > 1 ? ", " : "") + std::to_string(sig[d]);
  return s + "]";
}
}  // namespace

PartitionedDataset::PartitionedDataset(Tensor x, Tensor y, std::shared_ptr<dist::Group> group)
    : group_(std::move(group)) {
  BIGDL_CHECK(group_ != nullptr, ValueError, "PartitionedDataset", "group is null");
  BIGDL_CHECK(x.defined() && x.dim() >= 1, ShapeError, "PartitionedDataset", "x must have a sample dim");
  x_ = x.detach().contiguous();
  if (y.defined()) y_ = y.detach().contiguous();
  local_ = std::make_shared<TensorDataset>(x_, y_);  // checks the row counts agree
  rank_ = group_->rank();
  const int n = group_->size();
  // Every rank's row count and row signatures, to agree on offsets and check the parts fit.
  std::vector<int64_t> mine = row_signature(x_), ys = row_signature(y_);
  mine.insert(mine.end(), ys.begin(), ys.end());
  mine.push_back(x_.size(0));
  const int64_t k = int64_t(mine.size());
  std::vector<int64_t> all(size_t(k * n));
  group_->all_gather(mine.data(), all.data(), std::vector<int64_t>(size_t(n), k), DType::i64);
  offsets_.assign(size_t(n + 1), 0);
  for (int r = 0; r < n; ++r) {
    const auto at = all.begin() + r * k;
    for (int part = 0; part < 2; ++part) {
      std::vector<int64_t> theirs(at + part * 8, at + part * 8 + 8), first(all.begin() + part * 8, all.begin() + part * 8 + 8);
      BIGDL_CHECK(theirs == first, ShapeError, "PartitionedDataset", "rank ", r, "'s ", part ? "labels (y)" : "features (x)",
                  " have rows of ", describe(theirs), " but rank 0's are ", describe(first));
    }
    offsets_[size_t(r + 1)] = offsets_[size_t(r)] + *(at + k - 1);
  }
  total_ = offsets_.back();
}

void PartitionedDataset::prepare(const std::vector<int64_t>& indices) {
  const int n = group_->size();
  // Which rank holds each wanted row; requests grouped by owner, in order.
  std::vector<std::vector<int64_t>> want(static_cast<size_t>(n)), where(static_cast<size_t>(n));
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t g = indices[i];
    BIGDL_CHECK(g >= 0 && g < total_, IndexError, "PartitionedDataset", "index ", g, " out of range for ", total_, " rows");
    const int owner = int(std::upper_bound(offsets_.begin(), offsets_.end(), g) - offsets_.begin()) - 1;
    want[size_t(owner)].push_back(g - offsets_[size_t(owner)]);
    where[size_t(owner)].push_back(int64_t(i));
  }
  // 1. How many rows each rank asks of each other rank; 2. which.
  std::vector<int64_t> ask(static_cast<size_t>(n)), asked(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) ask[size_t(r)] = int64_t(want[size_t(r)].size());
  std::vector<int64_t> eight(static_cast<size_t>(n), 8);
  group_->all_to_all(ask.data(), eight, asked.data(), eight);
  std::vector<int64_t> ask_flat, asked_flat(size_t(std::accumulate(asked.begin(), asked.end(), int64_t(0))));
  std::vector<int64_t> ask_bytes(static_cast<size_t>(n)), asked_bytes(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) {
    ask_flat.insert(ask_flat.end(), want[size_t(r)].begin(), want[size_t(r)].end());
    ask_bytes[size_t(r)] = ask[size_t(r)] * 8;
    asked_bytes[size_t(r)] = asked[size_t(r)] * 8;
  }
  group_->all_to_all(ask_flat.data(), ask_bytes, asked_flat.data(), asked_bytes);
  // 3. The rows themselves: x then y of each requested row, packed per requesting rank.
  const int64_t xb = row_bytes(x_), yb = row_bytes(y_), rb = xb + yb;
  const char* xs = static_cast<const char*>(x_.raw_data());
  const char* ys = y_.defined() ? static_cast<const char*>(y_.raw_data()) : nullptr;
  std::vector<char> out(asked_flat.size() * size_t(rb)), in(indices.size() * size_t(rb));
  for (size_t i = 0; i < asked_flat.size(); ++i) {
    const int64_t l = asked_flat[i];
    BIGDL_CHECK(l >= 0 && l < x_.size(0), IndexError, "PartitionedDataset", "a peer asked for local row ", l, " of ",
                x_.size(0));
    std::memcpy(out.data() + i * size_t(rb), xs + l * xb, size_t(xb));
    if (yb) std::memcpy(out.data() + i * size_t(rb) + size_t(xb), ys + l * yb, size_t(yb));
  }
  std::vector<int64_t> send_bytes(static_cast<size_t>(n)), recv_bytes(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) {
    send_bytes[size_t(r)] = asked[size_t(r)] * rb;
    recv_bytes[size_t(r)] = ask[size_t(r)] * rb;
  }
  group_->all_to_all(out.data(), send_bytes, in.data(), recv_bytes);
  // Unpack into the order of `indices`.
  Shape xs_shape = x_.shape(), ys_shape = y_.defined() ? y_.shape() : Shape{};
  xs_shape[0] = int64_t(indices.size());
  px_ = empty(xs_shape, x_.dtype());
  if (y_.defined()) {
    ys_shape[0] = int64_t(indices.size());
    py_ = empty(ys_shape, y_.dtype());
  }
  char* pxd = static_cast<char*>(px_.raw_data());
  char* pyd = py_.defined() ? static_cast<char*>(py_.raw_data()) : nullptr;
  size_t at = 0;
  for (int r = 0; r < n; ++r)
    for (int64_t pos : where[size_t(r)]) {
      std::memcpy(pxd + pos * xb, in.data() + at * size_t(rb), size_t(xb));
      if (yb) std::memcpy(pyd + pos * yb, in.data() + at * size_t(rb) + size_t(xb), size_t(yb));
      ++at;
    }
  // Lookup: global index -> prepared row.
  std::vector<int64_t> perm(indices.size());
  std::iota(perm.begin(), perm.end(), 0);
  std::sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return indices[size_t(a)] < indices[size_t(b)]; });
  prepared_.resize(indices.size());
  position_.resize(indices.size());
  for (size_t k = 0; k < perm.size(); ++k) {
    prepared_[k] = indices[size_t(perm[k])];
    position_[k] = perm[k];
  }
}

Batch PartitionedDataset::get(const std::vector<int64_t>& indices) const {
  std::vector<int64_t> rows(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    const auto it = std::lower_bound(prepared_.begin(), prepared_.end(), indices[i]);
    BIGDL_CHECK(it != prepared_.end() && *it == indices[i], IndexError, "PartitionedDataset", "row ", indices[i],
                " was not prepared on this rank (a distributed DataLoader prepares each epoch's rows; evaluate "
                "local() instead)");
    rows[i] = position_[size_t(it - prepared_.begin())];
  }
  return {take(px_, rows), take(py_, rows), int64_t(rows.size())};
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
  {
    // Every index this rank reads this epoch, for data sets that fetch them ahead.
    std::vector<int64_t> mine;
    mine.reserve(size_t(data_->size() / opts_.world_size + opts_.batch_size));
    for (int64_t b = 0, nb = num_batches(); b < nb; ++b) {
      const int64_t s = b * opts_.batch_size, e = std::min<int64_t>(s + opts_.batch_size, int64_t(order_.size()));
      const dist::Range r = opts_.world_size > 1 ? dist::batch_rows(e - s, opts_.rank, opts_.world_size)
                                                 : dist::Range{0, e - s};
      mine.insert(mine.end(), order_.begin() + s + r.begin, order_.begin() + s + r.end);
    }
    data_->prepare(mine);
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
