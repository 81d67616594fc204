#include "bigdl/train/summary.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "bigdl/error.h"
#include "bigdl/io/gzip.h"

namespace bigdl::train {

namespace detail {

namespace {
std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    t[i] = c;
  }
  return t;
}
}  // namespace

uint32_t crc32c(const void* data, size_t size) {
  static const std::array<uint32_t, 256> table = make_crc32c_table();
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

}  // namespace detail

namespace {

// --- protobuf wire format, just what Event needs -----------------------------------
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void put_key(std::string& out, uint32_t field, WireType wt) { put_varint(out, (field << 3) | wt); }

template <typename T>
void put_fixed(std::string& out, uint32_t field, T v) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8);
  put_key(out, field, sizeof(T) == 8 ? kFixed64 : kFixed32);
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // protobuf fixed fields are little-endian, like the host
  out.append(b, sizeof(T));
}

void put_bytes(std::string& out, uint32_t field, const std::string& s) {
  put_key(out, field, kLen);
  put_varint(out, s.size());
  out += s;
}

double wall_time_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string encode_event(double wall_time, int64_t step, const std::string* file_version,
                         const std::string* summary) {
  std::string ev;
  put_fixed<double>(ev, 1, wall_time);
  if (step != 0) {
    put_key(ev, 2, kVarint);
    put_varint(ev, static_cast<uint64_t>(step));  // int64: negatives are 10-byte varints
  }
  if (file_version) put_bytes(ev, 3, *file_version);
  if (summary) put_bytes(ev, 5, *summary);
  return ev;
}

// Reads protobuf fields from a byte range; `what` names the file in errors.
class ProtoReader {
 public:
  // Points into buf, which must outlive the reader.
  ProtoReader(const std::string& buf, const std::string& what)
      : p_(buf.data()), end_(p_ + buf.size()), what_(what) {}

  bool done() const { return p_ >= end_; }

  // Reads a key; returns false at the end of the message.
  bool next(uint32_t& field, uint32_t& wt) {
    if (done()) return false;
    uint64_t key = varint();
    field = static_cast<uint32_t>(key >> 3);
    wt = static_cast<uint32_t>(key & 7);
    return true;
  }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      need(1);
      uint8_t b = static_cast<uint8_t>(*p_++);
      v |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }

  template <typename T>
  T fixed() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }

  std::string bytes() {
    uint64_t n = varint();
    need(n);
    std::string s(p_, static_cast<size_t>(n));
    p_ += n;
    return s;
  }

  void skip(uint32_t wt) {
    switch (wt) {
      case kVarint: varint(); break;
      case kFixed64: need(8); p_ += 8; break;
      case kLen: { uint64_t n = varint(); need(n); p_ += n; break; }
      case kFixed32: need(4); p_ += 4; break;
      default: fail(::bigdl::detail::cat("unsupported wire type ", wt));
    }
  }

 private:
  void need(uint64_t n) {
    if (static_cast<uint64_t>(end_ - p_) < n) fail("truncated protobuf message");
  }
  [[noreturn]] void fail(const std::string& msg) {
    throw FormatError(::bigdl::detail::cat("[read_scalar_events] ", what_, ": bad Event record: ", msg));
  }

  const char* p_;
  const char* end_;
  const std::string& what_;
};

void put_le64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_le32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
uint64_t load_le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

SummaryWriter::SummaryWriter(const std::string& logdir, const std::string& suffix) {
  const char* op = "SummaryWriter";
  std::error_code ec;
  std::filesystem::create_directories(logdir, ec);
  BIGDL_CHECK(!ec, IOError, op, logdir, ": cannot create directory: ", ec.message());
  const std::string base = (std::filesystem::path(logdir) /
                            ::bigdl::detail::cat("events.out.tfevents.", static_cast<long long>(std::time(nullptr)),
                                        ".", host_name(), suffix))
                               .string();
  // "x": fail rather than clobber another writer's file opened in the same second.
  for (int i = 0; !file_; ++i) {
    path_ = i == 0 ? base : ::bigdl::detail::cat(base, ".", i);
    file_ = std::fopen(path_.c_str(), "wbx");
    BIGDL_CHECK(file_ || (errno == EEXIST && i < 1000), IOError, op, path_, ": ", std::strerror(errno));
  }
  const std::string version = "brain.Event:2";
  write_record(encode_event(wall_time_now(), 0, &version, nullptr));
  flush();  // TensorBoard finds the run as soon as the first record is there
}

SummaryWriter::~SummaryWriter() {
  if (file_) std::fclose(file_);  // flushes; errors cannot be reported from here
}

void SummaryWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  std::string v;
  put_bytes(v, 1, tag);
  put_fixed<float>(v, 2, static_cast<float>(value));
  std::string summary;
  put_bytes(summary, 1, v);
  write_record(encode_event(wall_time_now(), step, nullptr, &summary));
}

void SummaryWriter::write_record(const std::string& payload) {
  BIGDL_CHECK(file_ != nullptr, ValueError, "SummaryWriter", path_, ": writer is closed");
  std::string rec;
  rec.reserve(payload.size() + 16);
  put_le64(rec, payload.size());
  put_le32(rec, detail::masked_crc32c(rec.data(), 8));
  rec += payload;
  put_le32(rec, detail::masked_crc32c(payload.data(), payload.size()));
  BIGDL_CHECK(std::fwrite(rec.data(), 1, rec.size(), file_) == rec.size(), IOError,
              "SummaryWriter", path_, ": write failed: ", std::strerror(errno));
}

void SummaryWriter::flush() {
  if (!file_) return;
  BIGDL_CHECK(std::fflush(file_) == 0, IOError, "SummaryWriter", path_,
              ": flush failed: ", std::strerror(errno));
}

void SummaryWriter::close() {
  if (!file_) return;
  std::FILE* f = file_;
  file_ = nullptr;
  BIGDL_CHECK(std::fclose(f) == 0, IOError, "SummaryWriter", path_, ": close failed: ",
              std::strerror(errno));
}

namespace detail {

std::vector<std::string> read_tfrecords(const std::string& file) {
  const char* op = "read_scalar_events";
  std::vector<uint8_t> bytes = io::read_file_bytes(file);
  std::vector<std::string> records;
  size_t pos = 0;
  while (pos < bytes.size()) {
    const uint8_t* p = bytes.data() + pos;
    const size_t left = bytes.size() - pos;
    BIGDL_CHECK(left >= 12, FormatError, op, file, ": truncated record header at offset ", pos,
                " (", left, " bytes left, header needs 12)");
    const uint64_t len = load_le(p, 8);
    BIGDL_CHECK(load_le(p + 8, 4) == masked_crc32c(p, 8), FormatError, op, file,
                ": bad length CRC in record at offset ", pos);
    BIGDL_CHECK(left >= 16 && len <= left - 16, FormatError, op, file,
                ": truncated record at offset ", pos, " (length ", len, ", ", left - 12,
                " bytes left)");
    const uint8_t* data = p + 12;
    BIGDL_CHECK(load_le(data + len, 4) == masked_crc32c(data, len), FormatError, op, file,
                ": bad data CRC in record at offset ", pos);
    records.emplace_back(reinterpret_cast<const char*>(data), static_cast<size_t>(len));
    pos += 16 + len;
  }
  return records;
}

}  // namespace detail

std::vector<ScalarEvent> read_scalar_events(const std::string& file) {
  std::vector<ScalarEvent> out;
  for (const std::string& rec : detail::read_tfrecords(file)) {
    ProtoReader ev(rec, file);
    double wall_time = 0;
    int64_t step = 0;
    std::vector<std::string> summaries;
    uint32_t field = 0, wt = 0;
    while (ev.next(field, wt)) {
      if (field == 1 && wt == kFixed64) wall_time = ev.fixed<double>();
      else if (field == 2 && wt == kVarint) step = static_cast<int64_t>(ev.varint());
      else if (field == 5 && wt == kLen) summaries.push_back(ev.bytes());
      else ev.skip(wt);
    }
    for (const std::string& s : summaries) {
      ProtoReader sum(s, file);
      while (sum.next(field, wt)) {
        if (field != 1 || wt != kLen) {
          sum.skip(wt);
          continue;
        }
        const std::string value = sum.bytes();  // ProtoReader only points into it
        ProtoReader val(value, file);
        ScalarEvent e{wall_time, step, "", 0};
        bool has_value = false;
        while (val.next(field, wt)) {
          if (field == 1 && wt == kLen) e.tag = val.bytes();
          else if (field == 2 && wt == kFixed32) { e.value = val.fixed<float>(); has_value = true; }
          else val.skip(wt);
        }
        if (has_value) out.push_back(std::move(e));
      }
    }
  }
  return out;
}

}  // namespace bigdl::train
