// Data sets and the batch loader used by Model::fit (and usable on their own).
//
// A Dataset hands out batches by sample index. TensorDataset keeps everything in
// memory; SafetensorsDataset memory-maps a file with tensors "x" and "y" and reads
// only the rows a batch needs (file-backed, for data larger than RAM).
// DataLoader shuffles with a per-epoch seed (seed + epoch, so every process of a
// distributed job sees the same order), batches, and prefetches the next batches on
// a background thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bigdl/tensor.h"

namespace bigdl::dist {
class Group;
}

namespace bigdl::train {

struct Batch {
  Tensor x, y;
  // Rows of the whole batch across the ranks of a distributed loader (x holds this
  // rank's share; x and y are undefined when that share is empty). Equals x.size(0)
  // for a one-process loader.
  int64_t global_size = 0;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Stacks the samples with these indices (dim 0) into one batch.
  virtual Batch get(const std::vector<int64_t>& indices) const = 0;
  // A distributed DataLoader calls this on every rank when an epoch starts, with every
  // index this rank will get() until the next call, in order. Data spread over the ranks
  // (PartitionedDataset) fetches them here, collectively; the default does nothing.
  virtual void prepare(const std::vector<int64_t>& /*indices*/) {}
};
using DatasetPtr = std::shared_ptr<Dataset>;

class TensorDataset : public Dataset {
 public:
  // x [N, ...], y [N, ...] (y may be undefined for prediction-only sets).
  TensorDataset(Tensor x, Tensor y);
  int64_t size() const override { return x_.size(0); }
  Batch get(const std::vector<int64_t>& indices) const override;
  const Tensor& x() const { return x_; }
  const Tensor& y() const { return y_; }

 private:
  Tensor x_, y_;
};

// Rows [begin, end) of another data set, without copying.
class DatasetSlice : public Dataset {
 public:
  DatasetSlice(DatasetPtr base, int64_t begin, int64_t end);
  int64_t size() const override { return end_ - begin_; }
  Batch get(const std::vector<int64_t>& indices) const override;

 private:
  DatasetPtr base_;
  int64_t begin_, end_;
};

// A data set whose rows are spread over the ranks of a group, each process holding only
// its own part (a Spark partition): the global data set is rank 0's rows, then rank 1's,
// and so on; size() is their total. Constructed collectively, with every rank's part
// (x [n_r, ...], y [n_r, ...]; n_r may be 0; row shapes and dtypes equal on every rank).
//
// Training on it equals training one process on all the rows: at each epoch start the
// distributed DataLoader shuffles the global indices (seed + epoch, as always) and
// prepare() moves the rows each rank's share of the epoch's batches needs to that rank
// with one all_to_all, whoever holds them. Each epoch moves about (N-1)/N of the rows;
// evaluation reads each rank's own rows (local()).
class PartitionedDataset : public Dataset {
 public:
  PartitionedDataset(Tensor x, Tensor y, std::shared_ptr<dist::Group> group);
  int64_t size() const override { return total_; }
  // Rows given to the last prepare(); IndexError for any other index.
  Batch get(const std::vector<int64_t>& indices) const override;
  void prepare(const std::vector<int64_t>& indices) override;
  // This rank's own rows, and where they start in the global order.
  std::shared_ptr<Dataset> local() const { return local_; }
  int64_t offset() const { return offsets_[size_t(rank_)]; }

 private:
  std::shared_ptr<dist::Group> group_;
  std::shared_ptr<Dataset> local_;
  Tensor x_, y_;                     // this rank's rows (contiguous)
  std::vector<int64_t> offsets_;     // rank r holds [offsets_[r], offsets_[r + 1])
  int64_t total_ = 0;
  int rank_ = 0;
  Tensor px_, py_;                   // the prepared rows, in prepare()'s order
  std::vector<int64_t> prepared_;    // their global indices (sorted copy for lookup)
  std::vector<int64_t> position_;    // position_[k]: row of prepared_[k] in px_
};

// Memory-mapped safetensors file holding "x" and "y"; see save_dataset().
class SafetensorsDataset : public Dataset {
 public:
  explicit SafetensorsDataset(const std::string& path);
  int64_t size() const override { return x_.size(0); }
  Batch get(const std::vector<int64_t>& indices) const override;

 private:
  Tensor x_, y_;  // views of the mapping
};
// Writes x and y as a safetensors file that SafetensorsDataset can map.
void save_dataset(const std::string& path, const Tensor& x, const Tensor& y);

struct DataLoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;
  int prefetch = 2;  // batches prepared ahead on a background thread; 0 = synchronous
  // Data-parallel partitioning: with world_size > 1 every batch of the (identically
  // shuffled) epoch order is cut into world_size contiguous row ranges
  // (dist::batch_rows) and this loader reads and returns only range `rank`, so each
  // process of a job reads only its rows. num_batches() is the same on every rank; a
  // tail batch smaller than world_size leaves some ranks an empty share.
  int rank = 0, world_size = 1;
};

class DataLoader {
 public:
  DataLoader(DatasetPtr data, DataLoaderOptions opts);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;
  int64_t num_batches() const;
  // Starts an epoch: computes its order (shuffled with seed + epoch) and begins prefetch.
  void start_epoch(int64_t epoch);
  // Next batch of the epoch; false at its end. Rethrows an error from the prefetch thread.
  bool next(Batch* out);
  const DataLoaderOptions& options() const { return opts_; }
  int64_t dataset_size() const { return data_->size(); }

 private:
  void stop();
  Batch make(int64_t b) const;
  DatasetPtr data_;
  DataLoaderOptions opts_;
  std::vector<int64_t> order_;
  int64_t next_batch_ = 0;  // synchronous mode cursor
  std::thread worker_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  int64_t produced_ = 0, consumed_ = 0;
  bool stop_ = false, done_ = false;
  std::exception_ptr error_;
};

// Seeded random split: (train, test) with round(n * test_fraction) test samples.
std::pair<std::shared_ptr<TensorDataset>, std::shared_ptr<TensorDataset>> train_test_split(
    const Tensor& x, const Tensor& y, double test_fraction, uint64_t seed);

// ---- real data sets ----
// scikit-learn's digits (Debian python3-sklearn ships digits.csv.gz): x [1797, 64]
// scaled to [0, 1] (pixel / 16), y i64 [1797].
std::pair<Tensor, Tensor> load_digits(const std::string& path = "");
// The default location of digits.csv.gz.
std::string default_digits_path();
// IDX image + label files (MNIST / Fashion-MNIST): x f32 [N, 1, 28, 28] scaled by 1/255,
// y i64 [N].
std::pair<Tensor, Tensor> load_idx_dataset(const std::string& images, const std::string& labels);

}  // namespace bigdl::train
