// A Keras-style progress bar for training epochs:
//
//   Epoch 3/10 [============>.................] 45/100 - 1.2s - ETA: 1.5s - loss: 0.3412 - accuracy: 0.9012
//   Epoch 3/10 [==============================] 100/100 - 2.7s - 37.04 steps/s - loss: 0.2987 - accuracy: 0.9144
//
// On a terminal (isatty(fileno(out))) the line is redrawn in place with '\r', at most
// once every ProgressOptions::min_interval_s. Anywhere else (CI logs, files, pipes) an
// epoch is one line, the final one; an epoch longer than 30 s also gets a plain progress
// line every 30 s, so a log shows that a long epoch is alive.
// finish() prints the final line: elapsed time, steps/s (samples/s when
// ProgressOptions::total_samples is set) and the values, then ends the line.
//
// Values print as "%.4f", or "%.4e" when 0 < |v| < 1e-3. Durations print as "1.2s",
// "3m05s", "1h02m03s". Output errors are ignored: a progress bar never stops training.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace bigdl::train {

using ProgressValues = std::vector<std::pair<std::string, double>>;

struct ProgressOptions {
  int width = 30;               // characters between the brackets
  int interactive = -1;         // -1: redraw with '\r' iff out is a TTY; 0: plain lines; 1: redraw
  double min_interval_s = 0.1;  // least time between two redraws on a TTY
  int64_t total_samples = 0;    // > 0: finish() reports samples/s instead of steps/s
  std::function<double()> clock;  // seconds on a monotonic clock; empty: steady_clock
};

class ProgressBar {
 public:
  // total_steps <= 0 means unknown: no bar, "45/?" instead of "45/100".
  // prefix is printed first, e.g. "Epoch 3/10"; out is not closed by the bar.
  ProgressBar(int64_t total_steps, std::string prefix, std::FILE* out = stderr,
              ProgressOptions opts = {});
  // Ends a half-drawn terminal line, so later output starts on a line of its own.
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // `step` steps of total_steps are done (1-based: the first batch is step 1); values
  // are the running metrics to show, in order.
  void update(int64_t step, const ProgressValues& values = {});
  // Prints the final line and a newline. The step shown is the last one given to
  // update(), or total_steps if update() was never called. Later calls do nothing.
  void finish(const ProgressValues& values = {});

 private:
  double now() const;
  std::string render(int64_t step, double elapsed, const ProgressValues& values, bool final) const;
  void draw(const std::string& line, bool final);

  int64_t total_;
  std::string prefix_;
  std::FILE* out_;
  ProgressOptions opts_;
  bool interactive_;
  double start_;
  double last_draw_ = -1;      // clock time of the last line drawn; < 0: none yet
  int64_t last_step_ = 0;
  size_t last_len_ = 0;        // length of the line on screen, to blank its leftovers
  bool line_open_ = false;     // a '\r' line is on screen without its newline
  bool finished_ = false;
};

namespace detail {
// "0.8s", "45.3s", "3m05s", "1h02m03s".
std::string format_duration(double seconds);
// "0.3412", "1.2000e-04".
std::string format_value(double v);
}  // namespace detail

}  // namespace bigdl::train
