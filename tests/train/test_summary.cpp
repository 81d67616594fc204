// Tests for bigdl/train/summary.h: CRC-32C, TFRecord framing, Event encoding round trip.
// Set BIGDL_KEEP_EVENTS=<dir> to keep the event file of RoundTrip in <dir> (for
// tests/train/check_tb_events.py, which reads it with TensorBoard itself).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/io/gzip.h"
#include "bigdl/train/summary.h"
#include "test_util.h"
#include "test_util.h"

namespace bigdl::train {
namespace {

namespace fs = std::filesystem;


fs::path scratch() {
  static test_util::TempDir dir("summary");
  return dir.path();
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(detail::crc32c("", 0), 0x00000000u);
  EXPECT_EQ(detail::crc32c("123456789", 9), 0xe3069283u);
  EXPECT_EQ(detail::crc32c("a", 1), 0xc1d04330u);
  // RFC 3720 (iSCSI) B.4: 32 bytes of zeros, of 0xff, and 0..31.
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xff), inc(32);
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(detail::crc32c(zeros.data(), 32), 0x8a9136aau);
  EXPECT_EQ(detail::crc32c(ones.data(), 32), 0x62a8ab43u);
  EXPECT_EQ(detail::crc32c(inc.data(), 32), 0x46dd794eu);
  // The TFRecord mask, computed by hand from the formula.
  uint32_t c = 0xe3069283u;
  EXPECT_EQ(detail::masked_crc32c("123456789", 9), ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

TEST(SummaryWriter, RoundTrip) {
  const char* keep = std::getenv("BIGDL_KEEP_EVENTS");
  const fs::path logdir = keep ? fs::path(keep) : scratch() / "run1" / "train";  // nested: created
  std::string path;
  {
    SummaryWriter w(logdir.string());
    path = w.path();
    EXPECT_EQ(fs::path(path).parent_path(), logdir);
    EXPECT_EQ(fs::path(path).filename().string().rfind("events.out.tfevents.", 0), 0u);
    for (int64_t step = 1; step <= 5; ++step) {
      w.add_scalar("Loss", 1.0 / static_cast<double>(step), step);
      w.add_scalar("Throughput", 1000.0 + static_cast<double>(step), step);
    }
    w.flush();
    // Readable while the writer is open, once flushed.
    EXPECT_EQ(read_scalar_events(path).size(), 10u);
    w.add_scalar("Loss", -2.5, -7);          // negative step: a 10-byte varint
    w.add_scalar("big step", 3.0, int64_t{1} << 40);
    w.add_scalar("zero", 0.0, 0);            // step 0 is proto3's default: not written
  }
  std::vector<ScalarEvent> ev = read_scalar_events(path);
  ASSERT_EQ(ev.size(), 13u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(ev[2 * i].tag, "Loss");
    EXPECT_EQ(ev[2 * i].step, i + 1);
    EXPECT_EQ(ev[2 * i].value, static_cast<float>(1.0 / (i + 1)));
    EXPECT_EQ(ev[2 * i + 1].tag, "Throughput");
    EXPECT_EQ(ev[2 * i + 1].value, static_cast<float>(1001 + i));
  }
  EXPECT_EQ(ev[10].step, -7);
  EXPECT_EQ(ev[10].value, -2.5f);
  EXPECT_EQ(ev[11].step, int64_t{1} << 40);
  EXPECT_EQ(ev[12].tag, "zero");
  EXPECT_EQ(ev[12].step, 0);
  const double now = static_cast<double>(std::time(nullptr));
  for (const ScalarEvent& e : ev) EXPECT_NEAR(e.wall_time, now, 60.0);

  // The first record only declares the file version.
  std::vector<std::string> recs = detail::read_tfrecords(path);
  ASSERT_EQ(recs.size(), 14u);
  EXPECT_NE(recs[0].find("brain.Event:2"), std::string::npos);
  EXPECT_EQ(recs[0].size(), 9u + 2u + 13u);  // wall_time (key + 8), file_version (key, len, 13)
}

TEST(SummaryWriter, ExactBytesOfAScalarEvent) {
  SummaryWriter w((scratch() / "bytes").string(), ".v1");
  EXPECT_EQ(w.path().substr(w.path().size() - 3), ".v1");
  w.add_scalar("a", 0.5, 3);
  w.close();
  std::vector<std::string> recs = detail::read_tfrecords(w.path());
  ASSERT_EQ(recs.size(), 2u);
  const std::string& r = recs[1];
  ASSERT_EQ(r.size(), 23u);
  EXPECT_EQ(static_cast<uint8_t>(r[0]), 0x09);  // field 1 (wall_time), fixed64
  // step = 3: key 0x10, varint 3; summary: key 0x2a, len 10
  //   value: key 0x0a, len 8: tag key 0x0a len 1 'a'; simple_value key 0x15, 0.5f LE
  const std::string tail = r.substr(9);
  const std::string want("\x10\x03\x2a\x0a\x0a\x08\x0a\x01" "a" "\x15\x00\x00\x00\x3f", 14);
  EXPECT_EQ(tail, want);
  EXPECT_THROW(w.add_scalar("a", 1.0, 4), ValueError);  // closed
}

TEST(SummaryWriter, TwoWritersInOneSecondGetTwoFiles) {
  const std::string dir = (scratch() / "twice").string();
  SummaryWriter a(dir), b(dir);
  EXPECT_NE(a.path(), b.path());
  a.add_scalar("x", 1, 1);
  b.add_scalar("x", 2, 1);
  a.flush();
  b.flush();
  EXPECT_EQ(read_scalar_events(a.path())[0].value, 1.0f);
  EXPECT_EQ(read_scalar_events(b.path())[0].value, 2.0f);
}

TEST(SummaryWriter, CorruptionIsDetected) {
  std::string path;
  {
    SummaryWriter w((scratch() / "corrupt").string());
    path = w.path();
    w.add_scalar("loss", 0.25, 1);
    w.add_scalar("loss", 0.125, 2);
  }
  const std::vector<uint8_t> good = io::read_file_bytes(path);
  const size_t first_len = 16 + static_cast<size_t>(good[0]);  // first record's length < 256
  ASSERT_EQ(read_scalar_events(path).size(), 2u);

  // Every single flipped byte is caught: in a length, a CRC or the data.
  const std::string bad = (scratch() / "corrupt" / "bad.tfevents").string();
  for (size_t i = 0; i < good.size(); ++i) {
    std::vector<uint8_t> b = good;
    b[i] ^= 0x20;
    write_bytes(bad, b);
    std::string msg = test_util::error_of<FormatError>([&] { read_scalar_events(bad); });
    EXPECT_EQ(msg.rfind("[read_scalar_events] " + bad + ": ", 0), 0u) << "byte " << i << ": " << msg;
  }
  // The messages name the kind of damage and the record's offset.
  std::vector<uint8_t> b = good;
  b[first_len + 12] ^= 1;  // first data byte of the second record
  write_bytes(bad, b);
  EXPECT_EQ(test_util::error_of<FormatError>([&] { read_scalar_events(bad); }),
            "[read_scalar_events] " + bad + ": bad data CRC in record at offset " +
                std::to_string(first_len));
  b = good;
  b[0] ^= 1;
  write_bytes(bad, b);
  EXPECT_EQ(test_util::error_of<FormatError>([&] { read_scalar_events(bad); }),
            "[read_scalar_events] " + bad + ": bad length CRC in record at offset 0");
  write_bytes(bad, std::vector<uint8_t>(good.begin(), good.end() - 3));
  EXPECT_NE(test_util::error_of<FormatError>([&] { read_scalar_events(bad); }).find(": truncated record at offset "),
            std::string::npos);
}

TEST(SummaryWriter, UnwritableDirectoryIsIOError) {
  const fs::path file = scratch() / "plain_file";
  write_bytes(file.string(), {1, 2, 3});
  EXPECT_THROW(SummaryWriter((file / "sub").string()), IOError);
  EXPECT_THROW(read_scalar_events((scratch() / "missing").string()), IOError);
}

}  // namespace
}  // namespace bigdl::train
