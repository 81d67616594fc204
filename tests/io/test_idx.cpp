// Tests for bigdl/io/idx.h on the real MNIST / Fashion-MNIST files.
// Expected label counts: np.bincount over the label files (numpy, gzip module).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/io/gzip.h"
#include "bigdl/io/idx.h"
#include "test_util.h"

namespace bigdl::io {
namespace {

const std::string kMnist = std::string(BIGDL_SHARED_DATA) + "/vision/mnist/";
const std::string kFashion = "/usr/share/datasets/fashion-mnist/";

struct ScratchDir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("bigdl_test_idx_" + std::to_string(::getpid()));
  ScratchDir() { std::filesystem::create_directories(path); }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string temp_path(const std::string& name) {
  static ScratchDir dir;
  return (dir.path / name).string();
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<int> label_counts(const IdxArray& a) {
  std::vector<int> c(10, 0);
  for (uint8_t v : a.data) ++c.at(v);
  return c;
}

TEST(Idx, MnistTestImages) {
  IdxArray a = read_idx(kMnist + "t10k-images-idx3-ubyte.gz");
  EXPECT_EQ(a.type, IdxType::u8);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{10000, 28, 28}));
  ASSERT_EQ(a.data.size(), 7840000u);
  EXPECT_EQ(a.numel(), 7840000);
  uint64_t total = std::accumulate(a.data.begin(), a.data.end(), uint64_t{0});
  EXPECT_EQ(total, 264923200u);
  uint64_t first = std::accumulate(a.data.begin(), a.data.begin() + 784, uint64_t{0});
  EXPECT_EQ(first, 18454u);
  // Row 7 of the first image (a 7): its stroke starts at column 6.
  const std::vector<uint8_t> row7(a.data.begin() + 7 * 28, a.data.begin() + 8 * 28);
  EXPECT_EQ(row7, (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 84, 185, 159, 151, 60, 36, 0, 0,
                                        0, 0, 0, 0, 0, 0, 0, 0, 0,   0,   0,   0,  0,  0}));
}

TEST(Idx, MnistLabels) {
  IdxArray t = read_idx(kMnist + "t10k-labels-idx1-ubyte.gz");
  EXPECT_EQ(t.shape, (std::vector<int64_t>{10000}));
  EXPECT_EQ(std::vector<uint8_t>(t.data.begin(), t.data.begin() + 10),
            (std::vector<uint8_t>{7, 2, 1, 0, 4, 1, 4, 9, 5, 9}));
  EXPECT_EQ(label_counts(t),
            (std::vector<int>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}));
  IdxArray tr = read_idx(kMnist + "train-labels-idx1-ubyte.gz");
  EXPECT_EQ(tr.shape, (std::vector<int64_t>{60000}));
  EXPECT_EQ(label_counts(tr),
            (std::vector<int>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}));
}

TEST(Idx, FashionMnistTrain) {
  IdxArray x = read_idx(kFashion + "train-images-idx3-ubyte.gz");
  EXPECT_EQ(x.shape, (std::vector<int64_t>{60000, 28, 28}));
  EXPECT_EQ(std::accumulate(x.data.begin(), x.data.end(), uint64_t{0}), 3431114169u);
  IdxArray y = read_idx(kFashion + "train-labels-idx1-ubyte.gz");
  EXPECT_EQ(y.shape, (std::vector<int64_t>{60000}));
  EXPECT_EQ(std::vector<uint8_t>(y.data.begin(), y.data.begin() + 10),
            (std::vector<uint8_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}));
  EXPECT_EQ(label_counts(y), std::vector<int>(10, 6000));
}

TEST(Idx, TruncatedFileNamesExpectedAndActualBytes) {
  std::vector<uint8_t> raw = read_file_maybe_gzip(kMnist + "t10k-images-idx3-ubyte.gz");
  ASSERT_EQ(raw.size(), 7840016u);
  const std::string path = temp_path("t10k-images-idx3-ubyte");
  write_bytes(path, std::vector<uint8_t>(raw.begin(), raw.begin() + 5000));
  EXPECT_EQ(test_util::error_of<FormatError>([&] { read_idx(path); }),
            "[read_idx] " + path +
                ": truncated: expected 7840016 bytes for u8 [10000, 28, 28], found 5000");
  std::vector<uint8_t> longer = raw;
  longer.resize(raw.size() + 4);
  write_bytes(path, longer);
  EXPECT_EQ(test_util::error_of<FormatError>([&] { read_idx(path); }),
            "[read_idx] " + path +
                ": expected 7840016 bytes for u8 [10000, 28, 28], found 7840020 (trailing data)");
  write_bytes(path, std::vector<uint8_t>(raw.begin(), raw.begin() + 10));
  EXPECT_EQ(test_util::error_of<FormatError>([&] { read_idx(path); }),
            "[read_idx] " + path +
                ": truncated: expected at least 16 bytes for the header of a 3-dim array, found 10");
  write_bytes(path, {0, 0});
  EXPECT_EQ(test_util::error_of<FormatError>([&] { read_idx(path); }),
            "[read_idx] " + path + ": file has 2 bytes, too short for an IDX header (needs 4)");
}

TEST(Idx, BadMagicAndType) {
  const std::string path = temp_path("not-idx");
  write_bytes(path, {'0', ',', '0', ',', '5'});
  EXPECT_EQ(test_util::error_of<FormatError>([&] { read_idx(path); }),
            "[read_idx] " + path +
                ": bad magic 0x302c302c (an IDX file starts with 00 00, a type code and ndims)");
  const uint8_t bad_type[] = {0, 0, 0x07, 1, 0, 0, 0, 1, 42};
  EXPECT_EQ(test_util::error_of<FormatError>([&] { parse_idx(bad_type, sizeof(bad_type), "x.idx"); }),
            "[read_idx] x.idx: unknown element type code 0x07");
  const uint8_t huge[] = {0, 0, 0x0E, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                          0xff, 0xff, 0xff};
  EXPECT_NE(test_util::error_of<FormatError>([&] { parse_idx(huge, sizeof(huge), "h.idx"); })
                .find("overflow a 64-bit size"),
            std::string::npos);
  EXPECT_THROW(read_idx("/nonexistent/t10k-images-idx3-ubyte.gz"), IOError);
}

TEST(Idx, OtherTypesAreBigEndianAndConvertToFloat) {
  // i16 [2, 2]: 1, -2, 300, -32768.
  const uint8_t i16[] = {0, 0, 0x0B, 2, 0, 0, 0, 2, 0, 0, 0, 2,
                         0x00, 0x01, 0xff, 0xfe, 0x01, 0x2c, 0x80, 0x00};
  IdxArray a = parse_idx(i16, sizeof(i16));
  EXPECT_EQ(a.type, IdxType::i16);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(a.to_float(), (std::vector<float>{1, -2, 300, -32768}));
  int16_t v[4];
  std::memcpy(v, a.data.data(), sizeof(v));  // data is in host order
  EXPECT_EQ(v[2], 300);

  // f32 [2]: 1.5, -0.25 (0x3fc00000, 0xbe800000); i8 [3]; i32 [1]; f64 [1].
  const uint8_t f32[] = {0, 0, 0x0D, 1, 0, 0, 0, 2, 0x3f, 0xc0, 0, 0, 0xbe, 0x80, 0, 0};
  EXPECT_EQ(parse_idx(f32, sizeof(f32)).to_float(), (std::vector<float>{1.5f, -0.25f}));
  const uint8_t i8[] = {0, 0, 0x09, 1, 0, 0, 0, 3, 0x7f, 0x80, 0xff};
  EXPECT_EQ(parse_idx(i8, sizeof(i8)).to_float(), (std::vector<float>{127, -128, -1}));
  const uint8_t i32[] = {0, 0, 0x0C, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xf6};
  EXPECT_EQ(parse_idx(i32, sizeof(i32)).to_float(), (std::vector<float>{-10}));
  const uint8_t f64[] = {0, 0, 0x0E, 1, 0, 0, 0, 1, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18};
  IdxArray d = parse_idx(f64, sizeof(f64));
  EXPECT_EQ(idx_type_size(d.type), 8);
  EXPECT_STREQ(idx_type_name(d.type), "f64");
  EXPECT_FLOAT_EQ(d.to_float()[0], 3.14159265f);
  // An empty array is fine.
  const uint8_t empty[] = {0, 0, 0x08, 2, 0, 0, 0, 0, 0, 0, 0, 28};
  IdxArray e = parse_idx(empty, sizeof(empty));
  EXPECT_EQ(e.numel(), 0);
  EXPECT_TRUE(e.data.empty());
}

}  // namespace
}  // namespace bigdl::io
