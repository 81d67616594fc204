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

TEST(ProgressBar, PlainLinesEveryTenthAndFinal) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  FakeClock clock;
  {
    ProgressOptions opts;
    opts.clock = clock.fn();
    ProgressBar bar(100, "Epoch 3/10", f, opts);  // a tmpfile is no TTY: plain lines
    for (int step = 1; step <= 100; ++step) {
      clock.t += 0.03;
      bar.update(step, {{"loss", 1.0 / step}, {"accuracy", 0.9012}});
    }
    clock.t = 103.0;
    bar.finish({{"loss", 0.3412}, {"accuracy", 0.9012}});
    bar.finish({{"loss", 99}});  // second call: nothing
  }
  const std::vector<std::string> lines = lines_of(contents(f));
  std::fclose(f);
  ASSERT_EQ(lines.size(), 10u);  // 10%, ..., 90%, then the final line
  EXPECT_EQ(lines[0],
            "Epoch 3/10 [==>...........................]  10/100 - 0.3s - ETA: 2.7s - loss: 0.1000"
            " - accuracy: 0.9012");
  EXPECT_EQ(lines[3],
            "Epoch 3/10 [===========>..................]  40/100 - 1.2s - ETA: 1.8s - loss: 0.0250"
            " - accuracy: 0.9012");
  const std::string ninety = "Epoch 3/10 [==========================>...]  90/100 - 2.7s - ETA: 0.3s";
  EXPECT_EQ(lines[8].substr(0, ninety.size()), ninety);
  EXPECT_EQ(lines[9],
            "Epoch 3/10 [==============================] 100/100 - 3.0s - 33.3 steps/s"
            " - loss: 0.3412 - accuracy: 0.9012");
  for (const std::string& l : lines) EXPECT_EQ(l.find('\r'), std::string::npos);
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
