#include "bigdl/chronos/tsdataset.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "bigdl/error.h"
#include "bigdl/io/csv.h"
#include "bigdl/ops.h"
#include "core/internal.h"

namespace bigdl::chronos {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct Civil {
  int64_t y, m, d;
};
Civil civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp + (mp < 10 ? 3 : -9);
  return {y + (m <= 2), m, d};
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

size_t index_of(const std::vector<std::string>& names, const std::string& want, const char* role) {
  const auto it = std::find(names.begin(), names.end(), want);
  if (it == names.end()) {
    std::string have;
    for (const auto& n : names) have += (have.empty() ? "" : ", ") + n;
    throw ValueError("[TSDataset] " + std::string(role) + " '" + want + "' is not a column (columns: " + have + ")");
  }
  return size_t(it - names.begin());
}

double parse_number(const std::string& s, const std::string& col, size_t row) {
  if (s.empty() || s == "nan" || s == "NaN" || s == "NA") return kNaN;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  BIGDL_CHECK(end && *end == '\0', ValueError, "TSDataset", "column '", col, "' row ", row + 1, ": '", s,
              "' is not a number");
  return v;
}

}  // namespace

int64_t parse_datetime(const std::string& s, const std::string& what) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0, n = 0;
  const int got = std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n);
  bool ok = got == 3;
  size_t at = size_t(n);
  if (ok && at < s.size()) {
    ok = (s[at] == ' ' || s[at] == 'T');
    int n2 = 0;
    const char* rest = s.c_str() + at + 1;
    if (ok && std::sscanf(rest, "%2d:%2d:%2d%n", &h, &mi, &se, &n2) == 3) {
      at += 1 + size_t(n2);
    } else if (ok && std::sscanf(rest, "%2d:%2d%n", &h, &mi, &n2) == 2) {
      at += 1 + size_t(n2);
    } else {
      ok = false;
    }
    ok = ok && at == s.size();
  }
  ok = ok && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 && h < 24 && mi >= 0 && mi < 60 && se >= 0 && se < 61;
  BIGDL_CHECK(ok, ValueError, "TSDataset", what, " '", s, "' is not a date-time (YYYY-MM-DD[ HH:MM[:SS]])");
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
}

std::string format_datetime(int64_t t) {
  const int64_t days = floor_div(t, 86400), sec = t - days * 86400;
  const Civil c = civil_from_days(days);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld", (long long)c.y, (long long)c.m,
                (long long)c.d, (long long)(sec / 3600), (long long)(sec / 60 % 60), (long long)(sec % 60));
  return buf;
}

// ------------------------------------------------------------------ construction
TSDataset TSDataset::from_columns(std::vector<int64_t> dt, const std::vector<std::string>& ids,
                                  const std::vector<std::string>& names, const std::vector<std::vector<double>>& values,
                                  const std::vector<std::string>& target_cols,
                                  const std::vector<std::string>& extra_feature_cols) {
  BIGDL_CHECK(!target_cols.empty(), ValueError, "TSDataset", "target_col is empty");
  BIGDL_CHECK(names.size() == values.size(), ValueError, "TSDataset", names.size(), " column names for ",
              values.size(), " columns");
  const size_t n = dt.size();
  BIGDL_CHECK(ids.empty() || ids.size() == n, ValueError, "TSDataset", "id column has ", ids.size(), " rows, dt has ",
              n);
  for (size_t c = 0; c < values.size(); ++c)
    BIGDL_CHECK(values[c].size() == n, ValueError, "TSDataset", "column '", names[c], "' has ", values[c].size(),
                " rows, dt has ", n);
  TSDataset ts;
  ts.targets_ = target_cols;
  ts.features_ = extra_feature_cols;
  std::vector<size_t> src;
  for (const auto& c : target_cols) src.push_back(index_of(names, c, "target_col"));
  for (const auto& c : extra_feature_cols) src.push_back(index_of(names, c, "extra_feature_col"));
  // Rows grouped by id in order of first appearance; each group must go forward in time.
  std::map<std::string, size_t> group;
  for (size_t r = 0; r < n; ++r) {
    const std::string id = ids.empty() ? "" : ids[r];
    auto [it, fresh] = group.emplace(id, ts.series_.size());
    if (fresh) ts.series_.push_back(Series{id, {}, {}});
    Series& s = ts.series_[it->second];
    BIGDL_CHECK(s.dt.empty() || dt[r] >= s.dt.back(), ValueError, "TSDataset", "dt_col goes backwards at row ", r + 1,
                (id.empty() ? "" : " of id '" + id + "'"), ": ", format_datetime(dt[r]), " after ",
                format_datetime(s.dt.back()), " (sort the data by time first)");
    s.dt.push_back(dt[r]);
    for (size_t c : src) s.values.push_back(values[c][r]);
  }
  return ts;
}

TSDataset TSDataset::from_csv(const std::string& path, const std::string& dt_col,
                              const std::vector<std::string>& target_cols,
                              const std::vector<std::string>& extra_feature_cols, const std::string& id_col) {
  io::CsvOptions o;
  o.header = true;
  const io::CsvStrings t = io::read_csv_strings(path, o);
  const size_t dti = index_of(t.columns, dt_col, "dt_col");
  std::vector<int64_t> dt;
  dt.reserve(t.rows.size());
  for (const auto& row : t.rows) dt.push_back(parse_datetime(row[dti], path + ": dt_col '" + dt_col + "' value"));
  std::vector<std::string> ids;
  if (!id_col.empty()) {
    const size_t idi = index_of(t.columns, id_col, "id_col");
    for (const auto& row : t.rows) ids.push_back(row[idi]);
  }
  std::vector<std::string> names;
  std::vector<std::vector<double>> values;
  for (const auto* group : {&target_cols, &extra_feature_cols})
    for (const auto& c : *group) {
      const size_t ci = index_of(t.columns, c, group == &target_cols ? "target_col" : "extra_feature_col");
      std::vector<double> v;
      v.reserve(t.rows.size());
      for (size_t r = 0; r < t.rows.size(); ++r) v.push_back(parse_number(t.rows[r][ci], c, r));
      names.push_back(c);
      values.push_back(std::move(v));
    }
  return from_columns(std::move(dt), ids, names, values, target_cols, extra_feature_cols);
}

std::vector<std::string> TSDataset::columns() const {
  std::vector<std::string> all(targets_);
  all.insert(all.end(), features_.begin(), features_.end());
  return all;
}

int64_t TSDataset::rows() const {
  int64_t n = 0;
  for (const auto& s : series_) n += int64_t(s.dt.size());
  return n;
}

// ------------------------------------------------------------------ cleaning
TSDataset& TSDataset::deduplicate() {
  const size_t c = ncols();
  for (auto& s : series_) {
    size_t out = 0;
    for (size_t r = 0; r < s.dt.size(); ++r) {
      if (out > 0 && s.dt[r] == s.dt[out - 1]) continue;
      s.dt[out] = s.dt[r];
      std::copy_n(s.values.begin() + long(r * c), c, s.values.begin() + long(out * c));
      ++out;
    }
    s.dt.resize(out);
    s.values.resize(out * c);
  }
  return *this;
}

TSDataset& TSDataset::impute(const std::string& mode, double const_num) {
  BIGDL_CHECK(mode == "last" || mode == "const" || mode == "linear", ValueError, "TSDataset",
              "impute mode must be last, const or linear, got '", mode, "'");
  const size_t c = ncols();
  for (auto& s : series_) {
    const size_t n = s.dt.size();
    for (size_t k = 0; k < c; ++k) {
      auto at = [&](size_t r) -> double& { return s.values[r * c + k]; };
      if (mode == "const") {
        for (size_t r = 0; r < n; ++r)
          if (std::isnan(at(r))) at(r) = const_num;
        continue;
      }
      // Indices of the known values; a column with none stays NaN (roll reports it).
      std::vector<size_t> known;
      for (size_t r = 0; r < n; ++r)
        if (!std::isnan(at(r))) known.push_back(r);
      if (known.empty()) continue;
      size_t j = 0;  // known[j] is the first known row >= r
      for (size_t r = 0; r < n; ++r) {
        while (j < known.size() && known[j] < r) ++j;
        if (!std::isnan(at(r))) continue;
        if (j == 0) {
          at(r) = at(known[0]);  // leading gap: the first value that follows
        } else if (j == known.size() || mode == "last") {
          at(r) = at(known[j - 1]);
        } else {
          const size_t a = known[j - 1], b = known[j];
          const double w = double(s.dt[r] - s.dt[a]) / double(s.dt[b] - s.dt[a]);
          at(r) = at(a) + (at(b) - at(a)) * w;
        }
      }
    }
  }
  return *this;
}

TSDataset& TSDataset::resample(int64_t interval, const std::string& merge_mode) {
  BIGDL_CHECK(interval > 0, ValueError, "TSDataset", "resample interval must be > 0 seconds, got ", interval);
  BIGDL_CHECK(merge_mode == "mean" || merge_mode == "max" || merge_mode == "min" || merge_mode == "sum", ValueError,
              "TSDataset", "resample merge_mode must be mean, max, min or sum, got '", merge_mode, "'");
  const size_t c = ncols();
  for (auto& s : series_) {
    if (s.dt.empty()) continue;
    const int64_t start = floor_div(s.dt.front(), interval) * interval;
    const int64_t buckets = floor_div(s.dt.back() - start, interval) + 1;
    std::vector<double> acc(size_t(buckets) * c, 0.0), cnt(size_t(buckets) * c, 0.0);
    if (merge_mode == "max") std::fill(acc.begin(), acc.end(), -std::numeric_limits<double>::infinity());
    if (merge_mode == "min") std::fill(acc.begin(), acc.end(), std::numeric_limits<double>::infinity());
    for (size_t r = 0; r < s.dt.size(); ++r) {
      const size_t b = size_t(floor_div(s.dt[r] - start, interval));
      for (size_t k = 0; k < c; ++k) {
        const double v = s.values[r * c + k];
        if (std::isnan(v)) continue;  // pandas skips NaN
        double& a = acc[b * c + k];
        a = merge_mode == "max" ? std::max(a, v) : merge_mode == "min" ? std::min(a, v) : a + v;
        cnt[b * c + k] += 1;
      }
    }
    s.dt.resize(size_t(buckets));
    s.values.assign(size_t(buckets) * c, kNaN);
    for (int64_t b = 0; b < buckets; ++b) {
      s.dt[size_t(b)] = start + b * interval;
      for (size_t k = 0; k < c; ++k) {
        const size_t i = size_t(b) * c + k;
        if (cnt[i] > 0) s.values[i] = merge_mode == "mean" ? acc[i] / cnt[i] : acc[i];
      }
    }
  }
  return *this;
}

TSDataset& TSDataset::gen_dt_feature(const std::vector<std::string>& features) {
  static const std::vector<std::string> kAll = {"MINUTE", "HOUR", "DAY", "WEEKDAY", "MONTH", "DAYOFYEAR", "IS_WEEKEND"};
  const std::vector<std::string>& want = features.empty() ? kAll : features;
  for (const auto& f : want) {
    index_of(kAll, f, "dt feature");
    BIGDL_CHECK(std::find(features_.begin(), features_.end(), f) == features_.end(), ValueError, "TSDataset",
                "feature '", f, "' exists already");
  }
  const size_t c = ncols(), add = want.size();
  for (auto& s : series_) {
    std::vector<double> out;
    out.reserve(s.dt.size() * (c + add));
    for (size_t r = 0; r < s.dt.size(); ++r) {
      out.insert(out.end(), s.values.begin() + long(r * c), s.values.begin() + long((r + 1) * c));
      const int64_t t = s.dt[r], days = floor_div(t, 86400), sec = t - days * 86400;
      const Civil cv = civil_from_days(days);
      const int64_t weekday = ((days % 7) + 7 + 3) % 7;  // 1970-01-01 was a Thursday (3)
      for (const auto& f : want) {
        double v = 0;
        if (f == "MINUTE") v = double(sec / 60 % 60);
        else if (f == "HOUR") v = double(sec / 3600);
        else if (f == "DAY") v = double(cv.d);
        else if (f == "WEEKDAY") v = double(weekday);
        else if (f == "MONTH") v = double(cv.m);
        else if (f == "DAYOFYEAR") v = double(days - days_from_civil(cv.y, 1, 1) + 1);
        else v = weekday >= 5 ? 1.0 : 0.0;
        out.push_back(v);
      }
    }
    s.values = std::move(out);
  }
  features_.insert(features_.end(), want.begin(), want.end());
  return *this;
}

// ------------------------------------------------------------------ scaling
TSDataset& TSDataset::scale(Scaler& sc, bool fit) {
  const size_t c = ncols();
  const std::vector<std::string> cols = columns();
  if (fit) {
    sc.columns = cols;
    sc.shift.assign(c, 0.0);
    sc.scale.assign(c, 1.0);
    for (size_t k = 0; k < c; ++k) {
      double sum = 0, sq = 0, lo = std::numeric_limits<double>::infinity(), hi = -lo;
      int64_t n = 0;
      for (const auto& s : series_)
        for (size_t r = 0; r < s.dt.size(); ++r) {
          const double v = s.values[r * c + k];
          if (std::isnan(v)) continue;
          sum += v;
          lo = std::min(lo, v);
          hi = std::max(hi, v);
          ++n;
        }
      BIGDL_CHECK(n > 0, ValueError, "TSDataset", "scale: column '", cols[k], "' has no values to fit on");
      const double mean = sum / double(n);
      for (const auto& s : series_)
        for (size_t r = 0; r < s.dt.size(); ++r) {
          const double v = s.values[r * c + k];
          if (!std::isnan(v)) sq += (v - mean) * (v - mean);
        }
      if (sc.kind == Scaler::Kind::standard) {
        const double sd = std::sqrt(sq / double(n));
        sc.shift[k] = mean;
        sc.scale[k] = sd > 0 ? sd : 1.0;
      } else {
        sc.shift[k] = lo;
        sc.scale[k] = hi > lo ? hi - lo : 1.0;
      }
    }
  }
  BIGDL_CHECK(sc.fitted(), ValueError, "TSDataset", "scale: the scaler is not fitted (scale the training data with fit=true first)");
  BIGDL_CHECK(sc.columns == cols, ValueError, "TSDataset", "scale: the scaler was fitted on other columns");
  for (auto& s : series_)
    for (size_t r = 0; r < s.dt.size(); ++r)
      for (size_t k = 0; k < c; ++k) s.values[r * c + k] = (s.values[r * c + k] - sc.shift[k]) / sc.scale[k];
  return *this;
}

Tensor TSDataset::unscale(const Tensor& y, const Scaler& sc) const {
  BIGDL_CHECK(sc.fitted(), ValueError, "TSDataset", "unscale: the scaler is not fitted");
  const int64_t t = int64_t(targets_.size());
  BIGDL_CHECK(y.dim() >= 1 && y.size(-1) == t, ShapeError, "TSDataset", "unscale: y's last dim is ", y.dim() ? y.size(-1) : 0,
              " but there are ", t, " targets");
  std::vector<double> shift, scale;
  for (const auto& name : targets_) {
    const size_t k = index_of(sc.columns, name, "target_col");
    shift.push_back(sc.shift[k]);
    scale.push_back(sc.scale[k]);
  }
  const Tensor sh = from_vector(shift, {t}, y.dtype()), scl = from_vector(scale, {t}, y.dtype());
  return add(mul(y.detach(), scl), sh);
}

// ------------------------------------------------------------------ windows
std::pair<Tensor, Tensor> TSDataset::roll(int64_t lookback, int64_t horizon) const {
  BIGDL_CHECK(lookback >= 1, ValueError, "TSDataset", "roll: lookback must be >= 1, got ", lookback);
  BIGDL_CHECK(horizon >= 1, ValueError, "TSDataset", "roll: horizon must be >= 1, got ", horizon);
  const int64_t c = int64_t(ncols()), t = int64_t(targets_.size());
  std::vector<Tensor> xs, ys;
  for (const auto& s : series_) {
    const int64_t n = int64_t(s.dt.size());
    BIGDL_CHECK(n >= lookback + horizon, ValueError, "TSDataset", "roll: series", (s.id.empty() ? "" : " '" + s.id + "'"),
                " has ", n, " rows, fewer than lookback + horizon = ", lookback + horizon);
    for (size_t i = 0; i < s.values.size(); ++i)
      BIGDL_CHECK(!std::isnan(s.values[i]), ValueError, "TSDataset", "roll: column '", columns()[i % size_t(c)],
                  "' has NaN at ", format_datetime(s.dt[i / size_t(c)]), " (impute first)");
    // One f32 copy of the series; the windows are views with a stride of one row.
    std::vector<float> f(s.values.begin(), s.values.end());
    const Tensor whole = from_vector(f, {n, c});
    const int64_t windows = n - lookback - horizon + 1;
    xs.push_back(detail::make_view(whole, {windows, lookback, c}, {c, c, 1}, 0));
    ys.push_back(detail::make_view(whole, {windows, horizon, t}, {c, c, 1}, lookback * c));
  }
  if (xs.size() == 1) return {xs[0], ys[0]};
  return {cat(xs, 0), cat(ys, 0)};
}

std::tuple<TSDataset, TSDataset, TSDataset> split(const TSDataset& ts, double val_ratio, double test_ratio) {
  BIGDL_CHECK(val_ratio >= 0 && test_ratio >= 0 && val_ratio + test_ratio < 1, ValueError, "TSDataset",
              "split: val_ratio and test_ratio must be >= 0 with a sum below 1, got ", val_ratio, " and ", test_ratio);
  TSDataset parts[3] = {ts, ts, ts};
  const size_t c = ts.columns().size();
  for (size_t i = 0; i < ts.series().size(); ++i) {
    const Series& s = ts.series()[i];
    const size_t n = s.dt.size();
    const size_t n_test = size_t(std::floor(double(n) * test_ratio)), n_val = size_t(std::floor(double(n) * val_ratio));
    const size_t cuts[4] = {0, n - n_val - n_test, n - n_test, n};
    for (int p = 0; p < 3; ++p) {
      Series& out = parts[p].series_[i];
      out.dt.assign(s.dt.begin() + long(cuts[p]), s.dt.begin() + long(cuts[p + 1]));
      out.values.assign(s.values.begin() + long(cuts[p] * c), s.values.begin() + long(cuts[p + 1] * c));
    }
  }
  return {parts[0], parts[1], parts[2]};
}

}  // namespace bigdl::chronos
