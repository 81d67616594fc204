#include "bigdl/train/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace bigdl::train {

namespace {
// Plain mode (a log, not a TTY) prints one line per epoch, the final one; an epoch that runs
// longer than this also gets a progress line this often, so a log shows it is alive.
constexpr double kPlainHeartbeat = 30.0;

std::string printf_str(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}
}  // namespace

namespace detail {

std::string format_duration(double s) {
  if (!(s >= 0)) s = 0;
  if (s < 59.95) return printf_str("%.1fs", s);
  const long long t = std::llround(s);
  char buf[64];
  if (t < 3600)
    std::snprintf(buf, sizeof(buf), "%lldm%02llds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm%02llds", t / 3600, t / 60 % 60, t % 60);
  return buf;
}

std::string format_value(double v) {
  const double a = std::fabs(v);
  return printf_str(a != 0 && a < 1e-3 ? "%.4e" : "%.4f", v);
}

}  // namespace detail

ProgressBar::ProgressBar(int64_t total_steps, std::string prefix, std::FILE* out,
                         ProgressOptions opts)
    : total_(total_steps), prefix_(std::move(prefix)), out_(out), opts_(std::move(opts)) {
  if (opts_.width < 1) opts_.width = 1;
  interactive_ = opts_.interactive < 0 ? (out_ && isatty(fileno(out_))) : opts_.interactive != 0;
  start_ = now();
}

ProgressBar::~ProgressBar() {
  if (line_open_ && out_) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
}

double ProgressBar::now() const {
  if (opts_.clock) return opts_.clock();
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string ProgressBar::render(int64_t step, double elapsed, const ProgressValues& values,
                                bool final) const {
  std::string s = prefix_;
  if (!s.empty()) s += ' ';
  if (total_ > 0) {
    // Keras' bar: '=' for done steps, '>' at the head while unfinished, '.' for the rest.
    const int w = opts_.width;
    const int64_t clamped = std::min(std::max<int64_t>(step, 0), total_);
    const int done = static_cast<int>(w * clamped / total_);
    std::string bar;
    if (done > 0) bar.append(done - 1, '=');
    if (done > 0 || clamped < total_) bar += clamped < total_ ? '>' : '=';
    bar.append(w - static_cast<int>(bar.size()), '.');
    const std::string total = std::to_string(total_);
    std::string cur = std::to_string(step);
    if (cur.size() < total.size()) cur.insert(0, total.size() - cur.size(), ' ');
    s += "[" + bar + "] " + cur + "/" + total;
  } else {
    s += std::to_string(step) + "/?";
  }
  s += " - " + detail::format_duration(elapsed);
  if (!final && total_ > 0 && step > 0 && step < total_)
    s += " - ETA: " + detail::format_duration(elapsed * static_cast<double>(total_ - step) /
                                              static_cast<double>(step));
  if (final && elapsed > 0) {
    const bool samples = opts_.total_samples > 0;
    const double rate = static_cast<double>(samples ? opts_.total_samples : step) / elapsed;
    const char* fmt = rate >= 100 ? "%.0f" : rate >= 10 ? "%.1f" : "%.2f";
    s += " - " + printf_str(fmt, rate) + (samples ? " samples/s" : " steps/s");
  }
  for (const auto& [name, v] : values) s += " - " + name + ": " + detail::format_value(v);
  return s;
}

void ProgressBar::draw(const std::string& line, bool final) {
  if (!out_) return;
  std::string s;
  if (interactive_) {
    s = "\r" + line;
    if (line.size() < last_len_) s.append(last_len_ - line.size(), ' ');
    last_len_ = line.size();
    line_open_ = !final;
  } else {
    s = line;
  }
  if (final || !interactive_) s += '\n';
  std::fputs(s.c_str(), out_);
  std::fflush(out_);
}

void ProgressBar::update(int64_t step, const ProgressValues& values) {
  if (finished_) return;
  last_step_ = step;
  const double t = now();
  if (interactive_) {
    if (last_draw_ >= 0 && t - last_draw_ < opts_.min_interval_s) return;
  } else {
    if ((total_ > 0 && step >= total_) || t - (last_draw_ >= 0 ? last_draw_ : start_) < kPlainHeartbeat) return;
  }
  last_draw_ = t;
  draw(render(step, t - start_, values, false), false);
}

void ProgressBar::finish(const ProgressValues& values) {
  if (finished_) return;
  finished_ = true;
  const int64_t step = last_step_ > 0 ? last_step_ : std::max<int64_t>(total_, 0);
  const double t = now();
  draw(render(step, t - start_, values, true), true);
}

}  // namespace bigdl::train
