// CSV readers: numeric tables (sklearn's iris.csv, digits.csv.gz) and string cells
// (MovieLens movies.csv).
//
// Both readers share one tokenizer, which accepts what spreadsheets and pandas write:
//   * records end in "\n" or "\r\n"; the last one may lack its newline;
//   * a field may be quoted with '"'; inside quotes the delimiter and newlines are data
//     and "" stands for one quote character;
//   * spaces and tabs around a field are dropped (inside quotes they are kept);
//   * blank lines (empty or only whitespace) are skipped, wherever they are;
//   * a UTF-8 byte-order mark at the start of the file is ignored;
//   * a gzip file is inflated first (detected by magic bytes, see gzip.h).
// Every record must have as many fields as the header, or as the first record when
// there is no header.
//
// Errors (FormatError) name the file, the 1-based line where the record starts (for an
// unterminated quote, the line where the quote opens) and the 1-based field:
//   [read_csv] digits.csv.gz:17: expected 65 fields, found 64
//   [read_csv] x.csv:3: field 2 'abc' is not a number
//   [read_csv] x.csv:5: unterminated quoted field (field 2 opens a quote that never closes)
// A missing file is an IOError from read_file (see gzip.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bigdl::io {

struct CsvOptions {
  char delimiter = ',';
  bool header = false;  // the first record (after skip_rows) holds the column names
  int skip_rows = 0;    // physical lines to drop before anything else (iris.csv: 1)
};

// A numeric table, row-major: values[r * cols + c].
struct CsvTable {
  std::vector<std::string> columns;  // header names; empty when CsvOptions::header is false
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> values;  // rows * cols numbers

  float at(int64_t r, int64_t c) const { return values[static_cast<size_t>(r * cols + c)]; }
};

// Rows of string fields, unquoted and unescaped.
struct CsvStrings {
  std::vector<std::string> columns;            // header names; empty without a header
  std::vector<std::vector<std::string>> rows;  // every row has the same number of fields
};

// Reads a CSV file whose every field is a number (decimal, exponent, "nan", "inf";
// parsed as double and stored as float, C locale whatever the process locale).
CsvTable read_csv(const std::string& path, const CsvOptions& opts = {});

// Reads a CSV file as strings.
CsvStrings read_csv_strings(const std::string& path, const CsvOptions& opts = {});

// The same on text already in memory; `name` stands for the file in error messages.
CsvTable parse_csv(std::string_view text, const CsvOptions& opts = {},
                   const std::string& name = "<memory>");
CsvStrings parse_csv_strings(std::string_view text, const CsvOptions& opts = {},
                             const std::string& name = "<memory>");

}  // namespace bigdl::io
