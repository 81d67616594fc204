// Tests for bigdl/train/progress.h, with a fake clock and tmpfile() as the output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bigdl/train/progress.h"

namespace bigdl::train {
namespace {

// Everything written to f so far.
std::string contents(std::FILE* f) {
  std::fflush(f);
  long end = std::ftell(f);
  std::string s(static_cast<size_t>(end), '\0');
  std::rewind(f);
  size_t n = std::fread(s.data(), 1, s.size(), f);
  s.resize(n);
  std::fseek(f, 0, SEEK_END);
  return s;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = s.find('\n', start)) != std::string::npos; start = nl + 1)
    out.push_back(s.substr(start, nl - start));
  if (start < s.size()) out.push_back(s.substr(start));
  return out;
}

struct FakeClock {
  double t = 100.0;
  std::function<double()> fn() {
    return [this] { return t; };
  }
};

TEST(ProgressFormat, DurationsAndValues) {
  EXPECT_EQ(detail::format_duration(0), "0.0s");
  EXPECT_EQ(detail::format_duration(1.23), "1.2s");
  EXPECT_EQ(detail::format_duration(59.9), "59.9s");
  EXPECT_EQ(detail::format_duration(59.97), "1m00s");
  EXPECT_EQ(detail::format_duration(185), "3m05s");
  EXPECT_EQ(detail::format_duration(3723), "1h02m03s");
  EXPECT_EQ(detail::format_duration(-1), "0.0s");
  EXPECT_EQ(detail::format_value(0.34121), "0.3412");
  EXPECT_EQ(detail::format_value(0), "0.0000");
  EXPECT_EQ(detail::format_value(-12.5), "-12.5000");
  EXPECT_EQ(detail::format_value(1.2e-4), "1.2000e-04");
}

// The lines a plain-mode bar (a tmpfile is no TTY) of `total` steps writes when each step
// takes dt seconds and finish() comes `tail` seconds after the last step.
std::vector<std::string> plain_lines(int64_t total, const std::string& prefix, double dt, double tail,
                                     const ProgressValues& step_values, const ProgressValues& final_values) {
  std::FILE* f = std::tmpfile();
  EXPECT_NE(f, nullptr);
  FakeClock clock;
  {
    ProgressOptions opts;
    opts.clock = clock.fn();
    ProgressBar bar(total, prefix, f, opts);
    for (int64_t step = 1; step <= total; ++step) {
      clock.t += dt;
      bar.update(step, step_values);
    }
    clock.t += tail;
    bar.finish(final_values);
    bar.finish({{"loss", 99}});  // second call: nothing
  }
  const std::vector<std::string> lines = lines_of(contents(f));
  std::fclose(f);
  for (const std::string& l : lines) EXPECT_EQ(l.find('\r'), std::string::npos);
  return lines;
}

TEST(ProgressBar, PlainModeIsOneLinePerEpoch) {
  const auto lines = plain_lines(100, "Epoch 3/10", 0.03, 0, {{"loss", 0.5}, {"accuracy", 0.9012}},
                                 {{"loss", 0.3412}, {"accuracy", 0.9012}});
  ASSERT_EQ(lines.size(), 1u);  // only the final line
  EXPECT_EQ(lines[0],
            "Epoch 3/10 [==============================] 100/100 - 3.0s - 33.3 steps/s"
            " - loss: 0.3412 - accuracy: 0.9012");
}

TEST(ProgressBar, PlainModeShowsALongEpochEvery30s) {
  // 100 s in all: progress lines at 30, 60 and 90 s, then the final one.
  const auto lines = plain_lines(100, "Epoch 1/1", 1.0, 0, {{"loss", 0.5}}, {{"loss", 0.25}});
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "Epoch 1/1 [========>.....................]  30/100 - 30.0s - ETA: 1m10s - loss: 0.5000");
  EXPECT_EQ(lines[2].substr(0, 37), "Epoch 1/1 [==========================");
  EXPECT_EQ(lines[3].substr(0, 57), "Epoch 1/1 [==============================] 100/100 - 1m40");
}

TEST(ProgressBar, TerminalRedrawsAreRateLimited) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  FakeClock clock;
  ProgressOptions opts;
  opts.clock = clock.fn();
  opts.interactive = 1;
  opts.width = 10;
  opts.total_samples = 6400;
  {
    ProgressBar bar(200, "Epoch 1/1", f, opts);
    for (int step = 1; step <= 200; ++step) {
      clock.t += 0.01;  // 100 steps/s: at most one redraw every 10 steps
      bar.update(step, {{"loss", 0.5}});
    }
    bar.finish({{"loss", 0.25}});
  }
  const std::string out = contents(f);
  std::fclose(f);
  const auto redraws = std::count(out.begin(), out.end(), '\r');
  EXPECT_GE(redraws, 18);
  EXPECT_LE(redraws, 22);  // 2 s at <= 10 redraws/s, plus the first and the final line
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
  EXPECT_EQ(out.back(), '\n');
  const std::string first = "\rEpoch 1/1 [>.........]   1/200 - 0.0s - ETA: 2.0s - loss: 0.5000";
  EXPECT_EQ(out.substr(0, first.size()), first);
  const std::string last = out.substr(out.rfind('\r'));
  EXPECT_EQ(last, "\rEpoch 1/1 [==========] 200/200 - 2.0s - 3200 samples/s - loss: 0.2500\n");
}

TEST(ProgressBar, TerminalLineIsBlankedWhenItShrinks) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  FakeClock clock;
  ProgressOptions opts;
  opts.clock = clock.fn();
  opts.interactive = 1;
  opts.width = 4;
  {
    ProgressBar bar(2, "", f, opts);
    bar.update(1, {{"a_long_metric_name", 1}});
    clock.t += 1;
    bar.update(2, {});
  }  // destroyed without finish(): the open line still gets its newline
  const std::string out = contents(f);
  std::fclose(f);
  // The bar is 4 wide: 1/2 done is "=>" then "..".
  const std::string first4 = "\r[=>..] 1/2 - 0.0s - ETA: 0.0s - a_long_metric_name: 1.0000";
  ASSERT_EQ(out.substr(0, first4.size()), first4);
  const std::string second = "\r[====] 2/2 - 1.0s";
  ASSERT_EQ(out.substr(first4.size(), second.size()), second);
  const std::string pad = out.substr(first4.size() + second.size());
  EXPECT_EQ(pad, std::string(first4.size() - second.size(), ' ') + "\n");
}

TEST(ProgressBar, UnknownTotalAndFinishWithoutUpdates) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  FakeClock clock;
  ProgressOptions opts;
  opts.clock = clock.fn();
  {
    ProgressBar bar(0, "Predict", f, opts);
    for (int step = 1; step <= 100; ++step) {
      clock.t += 1;  // plain mode, unknown total: a line at most every 30 s
      bar.update(step, {});
    }
    bar.finish();
    ProgressBar quick(50, "Epoch 2/2", f, opts);
    clock.t += 0.5;
    quick.finish({{"val_loss", 0.0001}});
  }
  const std::vector<std::string> lines = lines_of(contents(f));
  std::fclose(f);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "Predict 30/? - 30.0s");
  EXPECT_EQ(lines[2], "Predict 90/? - 1m30s");
  EXPECT_EQ(lines[3], "Predict 100/? - 1m40s - 1.00 steps/s");
  EXPECT_EQ(lines[4],
            "Epoch 2/2 [==============================] 50/50 - 0.5s - 100 steps/s - val_loss: "
            "1.0000e-04");
}

}  // namespace
}  // namespace bigdl::train
