// TensorBoard event files, written and read without a protobuf library.
//
// SummaryWriter(logdir) creates logdir (and its parents) and writes
//   logdir/events.out.tfevents.<unix seconds>.<hostname><suffix>
// (".1", ".2", ... is appended if that name is taken). The file is a sequence of TFRecords:
//   uint64 length                  little-endian
//   uint32 masked_crc32c(length)   of the 8 length bytes
//   byte   data[length]            a serialized tensorflow.Event
//   uint32 masked_crc32c(data)
// where crc32c is CRC-32C (Castagnoli) and masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8.
// The Event protos are hand-encoded; the fields used (proto field numbers):
//   Event         { double wall_time = 1; int64 step = 2; string file_version = 3;
//                   Summary summary = 5; }
//   Summary       { repeated Value value = 1; }
//   Summary.Value { string tag = 1; float simple_value = 2; }
// The first record is Event{wall_time, file_version: "brain.Event:2"}; every add_scalar
// appends Event{wall_time, step, summary {value {tag, simple_value}}}. TensorBoard's
// scalar dashboard shows these (`tensorboard --logdir <logdir>`).
//
// Records are buffered; flush() (once an epoch is enough) pushes them to the file, and
// the destructor flushes what is left. A failed write or flush throws IOError.
// A SummaryWriter is not thread-safe: use one per thread, or lock around it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace bigdl::train {

class SummaryWriter {
 public:
  // Creates logdir and the event file and writes the file_version record.
  explicit SummaryWriter(const std::string& logdir, const std::string& suffix = "");
  ~SummaryWriter();
  SummaryWriter(const SummaryWriter&) = delete;
  SummaryWriter& operator=(const SummaryWriter&) = delete;

  // Appends one scalar; TensorBoard stores it as float32.
  void add_scalar(const std::string& tag, double value, int64_t step);
  // Pushes buffered records to the file (fflush, not fsync).
  void flush();
  // Flushes and closes; later add_scalar calls throw ValueError. Also done by the destructor.
  void close();

  // Full path of the event file.
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& payload);

  std::string path_;
  std::FILE* file_ = nullptr;
};

// One scalar read back from an event file.
struct ScalarEvent {
  double wall_time = 0;  // seconds since the Unix epoch
  int64_t step = 0;
  std::string tag;
  float value = 0;
};

// Every simple_value scalar in an event file, in file order. Both CRCs of every record
// are verified: a bad one, or a file that ends mid-record, throws FormatError naming the
// file and the record's byte offset. (Scalars that TF2 stores as tensors are not read.)
std::vector<ScalarEvent> read_scalar_events(const std::string& file);

namespace detail {
// CRC-32C (Castagnoli, reflected polynomial 0x82f63b78); crc32c("123456789") == 0xe3069283.
uint32_t crc32c(const void* data, size_t size);
// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t masked_crc32c(const void* data, size_t size);
// The payloads of every TFRecord in `file`, CRCs verified (FormatError otherwise).
std::vector<std::string> read_tfrecords(const std::string& file);
}  // namespace detail

}  // namespace bigdl::train
