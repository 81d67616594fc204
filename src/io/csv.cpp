#include "bigdl/io/csv.h"

#include <charconv>
#include <cfloat>
#include <cmath>

#include "bigdl/error.h"
#include "bigdl/io/gzip.h"

namespace bigdl::io {

namespace detail {

// Splits text into records of fields. Line numbers are physical (1-based) so that an
// error points at the line an editor shows, even after quoted multi-line fields.
class CsvTokenizer {
 public:
  CsvTokenizer(std::string_view text, const CsvOptions& opts, const std::string& name,
               const char* op)
      : s_(text), delim_(opts.delimiter), name_(name), op_(op) {
    BIGDL_CHECK(opts.skip_rows >= 0, ValueError, op_, name_, ": skip_rows must be >= 0, got ",
                opts.skip_rows);
    BIGDL_CHECK(delim_ != '"' && delim_ != '\n' && delim_ != '\r', ValueError, op_, name_,
                ": delimiter cannot be a quote or a newline");
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
    for (int i = 0; i < opts.skip_rows && pos_ < s_.size(); ++i) {
      size_t nl = s_.find('\n', pos_);
      pos_ = nl == std::string_view::npos ? s_.size() : nl + 1;
      ++line_;
    }
  }

  // Reads the next non-blank record into `fields`; false at the end of the text.
  bool next(std::vector<std::string>& fields, int64_t& record_line) {
    while (skip_blank_line()) {
    }
    if (pos_ >= s_.size()) return false;
    record_line = line_;
    fields.clear();
    for (;;) {
      skip_spaces();
      fields.emplace_back();
      std::string& f = fields.back();
      if (pos_ < s_.size() && s_[pos_] == '"') {
        read_quoted(f, fields.size(), record_line);
      } else {
        size_t start = pos_;
        while (pos_ < s_.size() && s_[pos_] != delim_ && s_[pos_] != '\n') ++pos_;
        size_t end = pos_;
        while (end > start && (is_space(s_[end - 1]) || s_[end - 1] == '\r')) --end;
        f.assign(s_.data() + start, end - start);
      }
      if (pos_ < s_.size() && s_[pos_] == delim_) {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size()) {  // at '\n'
        ++pos_;
        ++line_;
      }
      return true;
    }
  }

 private:
  bool is_space(char c) const { return (c == ' ' || c == '\t') && c != delim_; }

  void skip_spaces() {
    while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
  }

  // Consumes a line holding only whitespace; false (consuming nothing) otherwise.
  bool skip_blank_line() {
    size_t p = pos_;
    while (p < s_.size() && (is_space(s_[p]) || s_[p] == '\r')) ++p;
    if (p < s_.size() && s_[p] != '\n') return false;
    if (p == pos_ && p >= s_.size()) return false;
    pos_ = p < s_.size() ? p + 1 : p;
    if (p < s_.size()) ++line_;
    return true;
  }

  void read_quoted(std::string& f, size_t field, int64_t record_line) {
    int64_t open_line = line_;
    ++pos_;  // opening quote
    for (;;) {
      if (pos_ >= s_.size())
        throw FormatError(::bigdl::detail::cat("[", op_, "] ", name_, ":", open_line,
                              ": unterminated quoted field (field ", field,
                              " opens a quote that never closes)"));
      char c = s_[pos_++];
      if (c == '"') {
        if (pos_ < s_.size() && s_[pos_] == '"') {
          f += '"';
          ++pos_;
          continue;
        }
        break;
      }
      if (c == '\n') ++line_;
      f += c;
    }
    while (pos_ < s_.size() && (is_space(s_[pos_]) || s_[pos_] == '\r')) ++pos_;
    if (pos_ < s_.size() && s_[pos_] != delim_ && s_[pos_] != '\n')
      throw FormatError(::bigdl::detail::cat("[", op_, "] ", name_, ":", record_line, ": field ", field,
                            ": unexpected character '", s_[pos_], "' after closing quote"));
  }

  std::string_view s_;
  size_t pos_ = 0;
  int64_t line_ = 1;
  char delim_;
  const std::string& name_;
  const char* op_;
};

// Reads header and records, checking that every record has the same field count.
// on_record(fields, line) is called for each data record.
template <typename OnRecord>
void read_records(std::string_view text, const CsvOptions& opts, const std::string& name,
                  const char* op, std::vector<std::string>& columns, OnRecord on_record) {
  CsvTokenizer tok(text, opts, name, op);
  std::vector<std::string> fields;
  int64_t line = 0;
  size_t expected = 0;
  if (opts.header) {
    if (!tok.next(fields, line)) return;
    columns = fields;
    expected = columns.size();
  }
  while (tok.next(fields, line)) {
    if (expected == 0) expected = fields.size();
    if (fields.size() != expected)
      throw FormatError(::bigdl::detail::cat("[", op, "] ", name, ":", line, ": expected ", expected,
                            " fields, found ", fields.size()));
    on_record(fields, line);
  }
}

}  // namespace detail

namespace {

std::string_view as_text(const std::vector<uint8_t>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Parses a whole field as a number, C locale. from_chars rejects a leading '+', which
// pandas and numpy accept, so it is skipped here.
bool parse_number(const std::string& f, double& out) {
  const char* b = f.data();
  const char* e = b + f.size();
  bool plus = b != e && *b == '+';
  if (plus) ++b;
  if (b == e || (plus && (*b == '+' || *b == '-'))) return false;
  auto [p, ec] = std::from_chars(b, e, out);
  return ec == std::errc() && p == e;
}

}  // namespace

CsvTable parse_csv(std::string_view text, const CsvOptions& opts, const std::string& name) {
  const char* op = "read_csv";
  CsvTable t;
  detail::read_records(text, opts, name, op, t.columns,
                       [&](const std::vector<std::string>& fields, int64_t line) {
                         for (size_t i = 0; i < fields.size(); ++i) {
                           double v = 0;
                           if (!parse_number(fields[i], v))
                             throw FormatError(::bigdl::detail::cat("[", op, "] ", name, ":", line,
                                                           ": field ", i + 1, " '", fields[i],
                                                           "' is not a number"));
                           if (std::isfinite(v) && std::fabs(v) > FLT_MAX)
                             throw FormatError(::bigdl::detail::cat("[", op, "] ", name, ":", line,
                                                           ": field ", i + 1, " '", fields[i],
                                                           "' is out of float range"));
                           t.values.push_back(static_cast<float>(v));
                         }
                         t.cols = static_cast<int64_t>(fields.size());
                         ++t.rows;
                       });
  if (t.rows == 0) t.cols = static_cast<int64_t>(t.columns.size());
  return t;
}

CsvStrings parse_csv_strings(std::string_view text, const CsvOptions& opts,
                             const std::string& name) {
  CsvStrings t;
  detail::read_records(text, opts, name, "read_csv_strings", t.columns,
                       [&](const std::vector<std::string>& fields, int64_t) {
                         t.rows.push_back(fields);
                       });
  return t;
}

CsvTable read_csv(const std::string& path, const CsvOptions& opts) {
  std::vector<uint8_t> bytes = read_file_maybe_gzip(path);
  return parse_csv(as_text(bytes), opts, path);
}

CsvStrings read_csv_strings(const std::string& path, const CsvOptions& opts) {
  std::vector<uint8_t> bytes = read_file_maybe_gzip(path);
  return parse_csv_strings(as_text(bytes), opts, path);
}

}  // namespace bigdl::io
