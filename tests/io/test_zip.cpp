#include "bigdl/io/zip.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bigdl/error.h"
#include "io_test_util.h"

namespace {

using bigdl::io::ZipReader;

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

const io_test::ZipFiles kFiles = {
    {"a/one.txt", bytes_of("hello")},
    {"a/empty", {}},
    {"a/two.bin", bytes_of(std::string(300, 'z'))},
};

std::string zip_error(const std::vector<uint8_t>& zip) {
  try {
    ZipReader r(zip.data(), zip.size(), "t.zip", "test");
    for (const auto& e : r.entries()) r.read(e);
  } catch (const bigdl::FormatError& e) {
    return e.what();
  }
  return "<no error>";
}

size_t find(const std::vector<uint8_t>& hay, uint32_t sig, size_t from = 0) {
  for (size_t i = from; i + 4 <= hay.size(); ++i)
    if (hay[i] == (sig & 0xFF) && hay[i + 1] == ((sig >> 8) & 0xFF) &&
        hay[i + 2] == ((sig >> 16) & 0xFF) && hay[i + 3] == (sig >> 24))
      return i;
  return std::string::npos;
}

TEST(Zip, ReadsStoredEntries) {
  for (bool zip64 : {false, true}) {
    SCOPED_TRACE(zip64 ? "zip64" : "zip32");
    const auto zip = io_test::make_zip(kFiles, zip64);
    ZipReader r(zip.data(), zip.size(), "t.zip", "test");
    ASSERT_EQ(r.entries().size(), 3u);
    for (const auto& [name, data] : kFiles) {
      const auto* e = r.find(name);
      ASSERT_NE(e, nullptr) << name;
      EXPECT_EQ(r.read(*e), data);
    }
    EXPECT_EQ(r.find("a/missing"), nullptr);
  }
}

TEST(Zip, ReadsDeflatedFileFromDisk) {
  ZipReader r(io_test::fixture("torch_deflate.pt"), "test");
  ASSERT_FALSE(r.entries().empty());
  EXPECT_EQ(r.entries()[0].method, 8);
  const auto* version = r.find("torch_dtypes/version");
  ASSERT_NE(version, nullptr);
  EXPECT_EQ(r.read(*version), bytes_of("3\n"));
}

TEST(Zip, NotAZip) {
  EXPECT_NE(zip_error(bytes_of("")).find("[test] t.zip: zip: not a zip file"), std::string::npos);
  EXPECT_NE(zip_error(bytes_of(std::string(100, 'x'))).find("no end-of-central-directory"),
            std::string::npos);
  EXPECT_THROW(ZipReader("/nonexistent/file.zip", "test"), bigdl::IOError);
  EXPECT_THROW(ZipReader("/tmp", "test"), bigdl::IOError);
}

TEST(Zip, TruncatedAtEveryLength) {
  for (bool zip64 : {false, true}) {
    const auto zip = io_test::make_zip(kFiles, zip64);
    for (size_t n = 0; n < zip.size(); ++n) {
      std::vector<uint8_t> cut(zip.begin(), zip.begin() + ptrdiff_t(n));
      EXPECT_NE(zip_error(cut), "<no error>") << "cut at " << n;
    }
  }
}

TEST(Zip, RefusesInconsistentDirectories) {
  const auto zip = io_test::make_zip(kFiles);
  const size_t cd = find(zip, 0x02014b50);
  const size_t end = find(zip, 0x06054b50);
  ASSERT_NE(cd, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  auto patch32 = [](std::vector<uint8_t> z, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) z[at + size_t(i)] = uint8_t(v >> (8 * i));
    return z;
  };
  auto patch16 = [](std::vector<uint8_t> z, size_t at, uint16_t v) {
    z[at] = uint8_t(v);
    z[at + 1] = uint8_t(v >> 8);
    return z;
  };
  struct Case {
    const char* what;
    std::vector<uint8_t> zip;
    const char* part;
  };
  const std::vector<Case> cases = {
      {"cd offset past end", patch32(zip, end + 16, 0x7FFFFFF0), "runs past its end record"},
      {"cd size too big", patch32(zip, end + 12, uint32_t(zip.size())), "runs past its end record"},
      {"too many entries", patch16(patch16(zip, end + 10, 60000), end + 8, 60000), "cannot hold"},
      {"local offset out of range", patch32(zip, cd + 42, 0x00FFFFFF), "runs past the central directory"},
      {"bad local signature", patch32(zip, cd + 42, 1), "bad local header signature"},
      {"encrypted", patch16(zip, cd + 8, 1), "is encrypted"},
      {"unsupported method", patch16(zip, cd + 10, 12), "compression method 12"},
      {"stored size mismatch", patch32(zip, cd + 24, 6), "compressed size 5 != size 6"},
      {"bad crc", patch32(zip, cd + 16, 0xDEADBEEF), "CRC-32"},
      {"name mismatch", [&] { auto z = zip; z[30] = 'X'; return z; }(), "names a different file"},
      {"multi disk", patch16(zip, end + 4, 1), "multi-disk"},
      {"bad cd signature", patch32(zip, cd, 0), "bad signature"},
      {"zip64 without locator", patch16(zip, end + 10, 0xFFFF), "ZIP64"},
      {"huge deflate claim", patch32(patch16(zip, cd + 10, 8), cd + 24, 0xFFFFFFF0), "claims"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string msg = zip_error(c.zip);
    EXPECT_NE(msg.find("[test] t.zip: zip: "), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.part), std::string::npos) << msg;
  }
  const auto dup = io_test::make_zip({{"x", bytes_of("1")}, {"x", bytes_of("2")}});
  EXPECT_NE(zip_error(dup).find("duplicate entry name 'x'"), std::string::npos);
}

TEST(Zip, RefusesCorruptDeflate) {
  auto zip = io_test::read_bytes(io_test::fixture("torch_deflate.pt"));
  // Damage the first entry's compressed bytes (data.pkl, which deflates well).
  const size_t data = 30 + std::string("torch_dtypes/data.pkl").size();
  for (size_t i = data; i < data + 40; ++i) zip[i] ^= 0x5A;
  const std::string msg = zip_error(zip);
  EXPECT_TRUE(msg.find("deflate") != std::string::npos || msg.find("CRC-32") != std::string::npos)
      << msg;
}

}  // namespace
