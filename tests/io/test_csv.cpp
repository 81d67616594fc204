// Tests for bigdl/io/csv.h and bigdl/io/gzip.h.
//
// Expected values for digits.csv.gz come from scikit-learn (Debian python3-sklearn):
//   /usr/bin/python3 -c "from sklearn.datasets import load_digits; import numpy as np;
//     d = load_digits(); print(d.data[0].astype(int).tolist(), d.target[0],
//     np.bincount(d.target).tolist())"
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/io/csv.h"
#include "bigdl/io/gzip.h"
#include "test_util.h"

namespace bigdl::io {
namespace {

const std::string kSklearnData = "/usr/lib/python3/dist-packages/sklearn/datasets/data/";
const std::string kFixtures = std::string(BIGDL_TEST_DIR) + "/io/fixtures_data/";

// A per-process scratch folder (ctest runs tests as parallel processes), removed at exit.
struct ScratchDir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("bigdl_test_csv_" + std::to_string(::getpid()));
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


TEST(Csv, DigitsGzLoads) {
  CsvTable t = read_csv(kSklearnData + "digits.csv.gz");
  ASSERT_EQ(t.rows, 1797);
  ASSERT_EQ(t.cols, 65);
  ASSERT_EQ(t.values.size(), 1797u * 65u);
  EXPECT_TRUE(t.columns.empty());
  const std::vector<float> first = {0, 0, 5,  13, 9,  1, 0,  0, 0, 0, 13, 15, 10, 15, 5,  0,
                                    0, 3, 15, 2,  0,  11, 8, 0, 0, 4, 12, 0,  0,  8,  8,  0,
                                    0, 5, 8,  0,  0,  9, 8,  0, 0, 4, 11, 0,  1,  12, 7,  0,
                                    0, 2, 14, 5,  10, 12, 0, 0, 0, 0, 6,  13, 10, 0,  0,  0};
  for (int c = 0; c < 64; ++c) EXPECT_EQ(t.at(0, c), first[c]) << "column " << c;
  EXPECT_EQ(t.at(0, 64), 0);     // label of the first digit
  EXPECT_EQ(t.at(1796, 64), 8);  // label of the last digit
  std::vector<int> counts(10, 0);
  for (int64_t r = 0; r < t.rows; ++r) {
    float label = t.at(r, 64);
    ASSERT_TRUE(label >= 0 && label <= 9 && label == std::round(label)) << label;
    ++counts[static_cast<int>(label)];
  }
  EXPECT_EQ(counts, (std::vector<int>{178, 182, 177, 183, 181, 182, 181, 179, 174, 180}));
}

TEST(Csv, IrisSkipsSummaryLine) {
  // iris.csv's first line is "150,4,setosa,versicolor,virginica": 5 fields, like the data.
  CsvOptions opts;
  opts.skip_rows = 1;
  CsvTable t = read_csv(kSklearnData + "iris.csv", opts);
  ASSERT_EQ(t.rows, 150);
  ASSERT_EQ(t.cols, 5);
  EXPECT_FLOAT_EQ(t.at(0, 0), 5.1f);
  EXPECT_FLOAT_EQ(t.at(0, 1), 3.5f);
  EXPECT_FLOAT_EQ(t.at(0, 3), 0.2f);
  EXPECT_FLOAT_EQ(t.at(149, 0), 5.9f);
  EXPECT_FLOAT_EQ(t.at(149, 4), 2.0f);
  // Without skip_rows the summary line's words are not numbers; the line number says so.
  EXPECT_NE(test_util::error_of<FormatError>([] { read_csv(kSklearnData + "iris.csv"); })
                .find("iris.csv:1: field 3 'setosa' is not a number"),
            std::string::npos);
}

TEST(Csv, MovieLensRatingsWithHeader) {
  const std::string path = std::string(BIGDL_SHARED_DATA) + "/recsys/ml-latest-small/ratings.csv";
  CsvOptions opts;
  opts.header = true;
  CsvTable t = read_csv(path, opts);
  EXPECT_EQ(t.columns, (std::vector<std::string>{"userId", "movieId", "rating", "timestamp"}));
  ASSERT_EQ(t.rows, 100004);
  ASSERT_EQ(t.cols, 4);
  EXPECT_EQ(t.at(0, 0), 1);
  EXPECT_EQ(t.at(0, 1), 31);
  EXPECT_EQ(t.at(0, 2), 2.5f);
  EXPECT_EQ(t.at(t.rows - 1, 0), 671);
  double sum = 0;
  for (int64_t r = 0; r < t.rows; ++r) sum += t.at(r, 2);
  EXPECT_DOUBLE_EQ(sum, 354375.0);  // python csv module, summed in double
}

TEST(Csv, MovieLensMoviesStrings) {
  const std::string path = std::string(BIGDL_SHARED_DATA) + "/recsys/ml-latest-small/movies.csv";
  CsvOptions opts;
  opts.header = true;
  CsvStrings t = read_csv_strings(path, opts);
  EXPECT_EQ(t.columns, (std::vector<std::string>{"movieId", "title", "genres"}));
  ASSERT_EQ(t.rows.size(), 9125u);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"1", "Toy Story (1995)",
                                                 "Adventure|Animation|Children|Comedy|Fantasy"}));
  EXPECT_EQ(t.rows[10], (std::vector<std::string>{"11", "American President, The (1995)",
                                                  "Comedy|Drama|Romance"}));
  EXPECT_EQ(t.rows.back(),
            (std::vector<std::string>{"164979", "Women of '69, Unboxed", "Documentary"}));
}

TEST(Csv, QuotesCrlfSpacesBomAndNoFinalNewline) {
  CsvOptions opts;
  opts.header = true;
  CsvStrings s = read_csv_strings(kFixtures + "quoted_crlf.csv", opts);
  EXPECT_EQ(s.columns, (std::vector<std::string>{"id", "name", "value"}));
  ASSERT_EQ(s.rows.size(), 4u);
  EXPECT_EQ(s.rows[0], (std::vector<std::string>{"1", "Smith, John", "2.5"}));
  EXPECT_EQ(s.rows[1], (std::vector<std::string>{"2", "say \"hi\"", "-3e2"}));
  EXPECT_EQ(s.rows[2], (std::vector<std::string>{"3", "two\r\nlines", "+4"}));
  EXPECT_EQ(s.rows[3], (std::vector<std::string>{"4", "plain text", ".5"}));
}

TEST(Csv, NumbersAndDelimiterAndBlankLines) {
  CsvOptions opts;
  opts.delimiter = ';';
  CsvTable t = read_csv(kFixtures + "semicolon_blank.csv", opts);
  ASSERT_EQ(t.rows, 3);
  ASSERT_EQ(t.cols, 3);
  std::vector<float> want(9);
  std::iota(want.begin(), want.end(), 1.0f);
  EXPECT_EQ(t.values, want);

  CsvTable u = parse_csv(" +1 , -2.5e1,\t.25 ,3.\n\"7\",nan,inf,-0\n");
  ASSERT_EQ(u.rows, 2);
  ASSERT_EQ(u.cols, 4);
  EXPECT_EQ(u.values[0], 1.0f);
  EXPECT_EQ(u.values[1], -25.0f);
  EXPECT_EQ(u.values[2], 0.25f);
  EXPECT_EQ(u.values[3], 3.0f);
  EXPECT_EQ(u.values[4], 7.0f);  // a quoted number is still a number
  EXPECT_TRUE(std::isnan(u.values[5]));
  EXPECT_TRUE(std::isinf(u.values[6]));

  // Tab-separated: tabs are delimiters, not spaces to trim.
  CsvOptions tab;
  tab.delimiter = '\t';
  CsvTable v = parse_csv("1\t2\n3\t4", tab);
  EXPECT_EQ(v.values, (std::vector<float>{1, 2, 3, 4}));

  // Header only, no data.
  CsvOptions hdr;
  hdr.header = true;
  CsvTable w = parse_csv("a,b,c\n", hdr);
  EXPECT_EQ(w.rows, 0);
  EXPECT_EQ(w.cols, 3);
  EXPECT_EQ(parse_csv("").rows, 0);
  EXPECT_EQ(parse_csv("\n\n  \n").rows, 0);
}

TEST(Csv, WrongFieldCountNamesFileAndLine) {
  CsvOptions opts;
  opts.header = true;
  std::string msg = test_util::error_of<FormatError>([&] { read_csv(kFixtures + "bad_count.csv", opts); });
  EXPECT_EQ(msg, "[read_csv] " + kFixtures + "bad_count.csv:3: expected 3 fields, found 2");
}

TEST(Csv, NotANumberNamesLineAndField) {
  CsvOptions opts;
  opts.header = true;
  std::string msg = test_util::error_of<FormatError>([&] { read_csv(kFixtures + "bad_number.csv", opts); });
  EXPECT_EQ(msg, "[read_csv] " + kFixtures + "bad_number.csv:3: field 2 'abc' is not a number");
  for (const char* bad : {"1,", "1,+-2", "1,2x", "1,0x10", "1,1e", "1,--1", "1,1e400"}) {
    std::string m = test_util::error_of<FormatError>([&] { parse_csv(bad, {}, "t.csv"); });
    EXPECT_NE(m.find("[read_csv] t.csv:1: field 2 '"), std::string::npos) << bad << ": " << m;
  }
}

TEST(Csv, UnterminatedQuoteNamesLine) {
  CsvOptions opts;
  opts.header = true;
  std::string msg =
      test_util::error_of<FormatError>([&] { read_csv_strings(kFixtures + "bad_quote.csv", opts); });
  EXPECT_EQ(msg, "[read_csv_strings] " + kFixtures +
                     "bad_quote.csv:3: unterminated quoted field (field 2 opens a quote that "
                     "never closes)");
  std::string junk = test_util::error_of<FormatError>([] { parse_csv_strings("a,b\n\"x\"y,2\n", {}, "j.csv"); });
  EXPECT_EQ(junk, "[read_csv_strings] j.csv:2: field 1: unexpected character 'y' after closing quote");
}

TEST(Csv, DigitsWithARowCutShort) {
  // Drop the last field of line 17 and gzip it again: the error names the .gz file.
  std::vector<uint8_t> plain = read_file_maybe_gzip(kSklearnData + "digits.csv.gz");
  std::string text(plain.begin(), plain.end());
  size_t pos = 0;
  for (int line = 1; line < 17; ++line) pos = text.find('\n', pos) + 1;
  size_t eol = text.find('\n', pos);
  size_t last_comma = text.rfind(',', eol);
  text.erase(last_comma, eol - last_comma);
  const std::string path = temp_path("digits.csv.gz");
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
  std::string msg = test_util::error_of<FormatError>([&] { read_csv(path); });
  EXPECT_EQ(msg, "[read_csv] " + path + ":17: expected 65 fields, found 64");
}

TEST(Gzip, MissingFileIsIOError) {
  std::string msg = test_util::error_of<IOError>([] { read_csv("/nonexistent/dir/x.csv"); });
  EXPECT_EQ(msg, "[read_file] /nonexistent/dir/x.csv: No such file or directory");
  msg = test_util::error_of<IOError>([] { read_file_maybe_gzip("/tmp"); });
  EXPECT_EQ(msg, "[read_file] /tmp: Is a directory");
}

TEST(Gzip, PlainFilesPassThrough) {
  std::vector<uint8_t> a = read_file_maybe_gzip(kFixtures + "bad_count.csv");
  std::string s(a.begin(), a.end());
  EXPECT_EQ(s, "a,b,c\n1,2,3\n4,5\n7,8,9\n");
  const std::string empty = temp_path("empty.bin");
  write_bytes(empty, {});
  EXPECT_TRUE(read_file_maybe_gzip(empty).empty());
}

TEST(Gzip, TruncatedAndCorruptGzip) {
  std::vector<uint8_t> gz = read_file_bytes(kSklearnData + "digits.csv.gz");
  ASSERT_TRUE(is_gzip(gz.data(), gz.size()));
  for (size_t keep : {size_t{2}, size_t{10}, gz.size() / 2, gz.size() - 4}) {
    const std::string path = temp_path("cut.csv.gz");
    write_bytes(path, std::vector<uint8_t>(gz.begin(), gz.begin() + keep));
    std::string msg = test_util::error_of<FormatError>([&] { read_csv(path); });
    EXPECT_EQ(msg.rfind("[read_file] " + path + ": truncated gzip stream", 0), 0u)
        << keep << ": " << msg;
  }
  std::vector<uint8_t> bad = gz;
  bad[bad.size() / 2] ^= 0x55;  // a flipped byte mid-stream: bad data or bad CRC32
  const std::string path = temp_path("bad.csv.gz");
  write_bytes(path, bad);
  std::string msg = test_util::error_of<FormatError>([&] { read_file_maybe_gzip(path); });
  EXPECT_EQ(msg.rfind("[read_file] " + path + ": corrupt gzip stream: ", 0), 0u) << msg;
}

TEST(Gzip, ConcatenatedMembers) {
  std::vector<uint8_t> gz = read_file_bytes(kSklearnData + "digits.csv.gz");
  std::vector<uint8_t> one = gunzip(gz.data(), gz.size(), "digits.csv.gz");
  std::vector<uint8_t> two_members = gz;
  two_members.insert(two_members.end(), gz.begin(), gz.end());
  std::vector<uint8_t> both = gunzip(two_members.data(), two_members.size(), "x");
  ASSERT_EQ(both.size(), 2 * one.size());
  EXPECT_TRUE(std::equal(one.begin(), one.end(), both.begin() + one.size()));
}

}  // namespace
}  // namespace bigdl::io
