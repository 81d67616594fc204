// bigdl::chronos — time-series data sets (BigDL Chronos' TSDataset; docs/chronos.md).
//
//   auto ts = chronos::TSDataset::from_csv("nyc_taxi.csv", "timestamp", {"value"});
//   auto [train, val, test] = chronos::split(ts, 0.1, 0.1);   // by time
//   chronos::Scaler sc(chronos::Scaler::Kind::standard);
//   train.impute("last").scale(sc, true);  val.scale(sc, false);  test.scale(sc, false);
//   auto [x, y] = train.roll(100, 1);       // x [n, 100, F], y [n, 1, T]
//
// A TSDataset holds one series, or several (id_col), of rows: a timestamp (seconds since
// 1970-01-01 UTC), the target columns and extra feature columns (f64). Operations keep
// each series in time order. roll() returns windows as views of one contiguous f32 copy of
// each series (stride one row), not a copy per window; several series are concatenated.
// Bad input is a ValueError naming the column or setting: a missing column, a timestamp
// that does not parse or goes backwards, a series shorter than lookback + horizon, NaN
// left when rolling, horizon 0.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bigdl/tensor.h"

namespace bigdl::chronos {

// "YYYY-MM-DD", "YYYY-MM-DD HH:MM", "YYYY-MM-DD HH:MM:SS" (or a 'T' between) as seconds
// since the epoch (UTC; no time zones). ValueError naming `what` otherwise.
int64_t parse_datetime(const std::string& s, const std::string& what = "timestamp");
std::string format_datetime(int64_t seconds);  // "YYYY-MM-DD HH:MM:SS"

// Per-column scaling fitted on one data set (the training split) and applied to others:
// standard: (v - mean) / std (population std, as sklearn's StandardScaler; 1 where std is
// 0); minmax: (v - min) / (max - min) (1 where max == min).
struct Scaler {
  enum class Kind { standard, minmax };
  explicit Scaler(Kind k = Kind::standard) : kind(k) {}
  Kind kind;
  std::vector<std::string> columns;  // fitted columns, in order
  std::vector<double> shift, scale;  // v' = (v - shift) / scale
  bool fitted() const { return !columns.empty(); }
};

struct Series {
  std::string id;
  std::vector<int64_t> dt;    // strictly increasing after deduplicate()
  std::vector<double> values; // dt.size() rows x columns, row-major
};

class TSDataset {
 public:
  // Rows from columns of equal length: dt (seconds), ids (empty: one series), names with
  // values per column. target_cols and extra_feature_cols must be among names.
  static TSDataset from_columns(std::vector<int64_t> dt, const std::vector<std::string>& ids,
                                const std::vector<std::string>& names, const std::vector<std::vector<double>>& values,
                                const std::vector<std::string>& target_cols,
                                const std::vector<std::string>& extra_feature_cols = {});
  // A CSV file with a header: dt_col parsed by parse_datetime, the other named columns
  // as numbers (an empty field or "nan" is NaN), id_col as text.
  static TSDataset from_csv(const std::string& path, const std::string& dt_col,
                            const std::vector<std::string>& target_cols,
                            const std::vector<std::string>& extra_feature_cols = {}, const std::string& id_col = "");

  const std::vector<std::string>& target_cols() const { return targets_; }
  const std::vector<std::string>& feature_cols() const { return features_; }
  std::vector<std::string> columns() const;  // targets, then features
  const std::vector<Series>& series() const { return series_; }
  int64_t rows() const;  // over all series

  // Drops rows whose timestamp repeats within a series (keeps the first).
  TSDataset& deduplicate();
  // Fills NaN per column and series: "last" (the previous value; leading NaN take the
  // first value that follows, as BigDL's), "const" (const_num), "linear" (interpolated in
  // time between the neighbours; ends take the nearest value).
  TSDataset& impute(const std::string& mode = "last", double const_num = 0.0);
  // Regular rows every `interval` seconds from each series' first timestamp (rounded down
  // to a multiple of the interval): "mean" / "max" / "min" / "sum" of the rows in each
  // bucket, NaN for empty buckets.
  TSDataset& resample(int64_t interval_seconds, const std::string& merge_mode = "mean");
  // Calendar features of the timestamp appended to the extra features: MINUTE, HOUR,
  // DAY (of month), WEEKDAY (Monday 0), MONTH (1-12), DAYOFYEAR (1-366), IS_WEEKEND;
  // empty: all of them.
  TSDataset& gen_dt_feature(const std::vector<std::string>& features = {});
  // Scales the target and feature columns with `scaler`, fitting it first when fit (to
  // these rows, over all series). Columns must match a fitted scaler's.
  TSDataset& scale(Scaler& scaler, bool fit = true);
  // y in scaled target units [..., T] back to the data's units (the target columns of
  // the scaler).
  Tensor unscale(const Tensor& y, const Scaler& scaler) const;

  // Windows of every series: x [n, lookback, targets + features], y [n, horizon,
  // targets] (the rows after each window).
  std::pair<Tensor, Tensor> roll(int64_t lookback, int64_t horizon) const;

 private:
  friend std::tuple<TSDataset, TSDataset, TSDataset> split(const TSDataset&, double, double);
  size_t ncols() const { return targets_.size() + features_.size(); }
  std::vector<std::string> targets_, features_;
  std::vector<Series> series_;
};

// By time, per series: the first 1 - val_ratio - test_ratio of its rows, the next
// val_ratio, the last test_ratio (BigDL's with_split).
std::tuple<TSDataset, TSDataset, TSDataset> split(const TSDataset& ts, double val_ratio, double test_ratio);

}  // namespace bigdl::chronos
