// chronos::TSDataset from C++: dates, CSV reading of the real nyc_taxi series, windows as views.
#include <gtest/gtest.h>

#include "bigdl/chronos/tsdataset.h"
#include "bigdl/error.h"

using namespace bigdl;
using namespace bigdl::chronos;

TEST(TSDataset, DatesRoundTripIncludingLeapDaysAndBeforeTheEpoch) {
  EXPECT_EQ(parse_datetime("1970-01-01"), 0);
  EXPECT_EQ(parse_datetime("2024-02-29 23:59:59"), 1709251199);  // date -u -d ... +%s
  EXPECT_EQ(parse_datetime("2014-07-01T00:30"), 1404174600);
  EXPECT_EQ(parse_datetime("1969-12-31 23:00:00"), -3600);
  for (int64_t t : {int64_t(0), int64_t(-3600), int64_t(951782400), int64_t(1709251199), int64_t(4102444800)})
    EXPECT_EQ(parse_datetime(format_datetime(t)), t) << t;
  EXPECT_EQ(format_datetime(1709251199), "2024-02-29 23:59:59");
  for (const char* bad : {"", "2024-13-01", "2024-01-01 25:00", "yesterday", "2024-01-01 10:00 junk"})
    EXPECT_THROW(parse_datetime(bad), ValueError) << bad;
}

TEST(TSDataset, NycTaxiFromCsvRollsIntoViews) {
  const auto ts = TSDataset::from_csv(std::string(BIGDL_SHARED_DATA) + "/timeseries/nab/nyc_taxi.csv", "timestamp",
                                      {"value"});
  ASSERT_EQ(ts.rows(), 10320);
  EXPECT_EQ(ts.series()[0].dt[1] - ts.series()[0].dt[0], 1800);
  auto [x, y] = ts.roll(100, 1);
  EXPECT_EQ(x.shape(), (Shape{10220, 100, 1}));
  EXPECT_EQ(y.shape(), (Shape{10220, 1, 1}));
  EXPECT_EQ(x.storage(), y.storage());  // both are views of one copy
  EXPECT_EQ(x.select(0, 1).select(0, 0).item(), 8127);  // the second half-hour's passengers
  EXPECT_EQ(y.select(0, 0).item(), ts.series()[0].values[100]);
  EXPECT_THROW(ts.roll(10320, 1), ValueError);
  EXPECT_THROW(TSDataset::from_csv(std::string(BIGDL_SHARED_DATA) + "/timeseries/nab/nyc_taxi.csv", "time", {"value"}),
               ValueError);
}
