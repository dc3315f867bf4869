#include "driver/progress.hpp"

#include <unistd.h>

#include <cmath>

namespace kmpi {

namespace {

// "1h 02m", "3m 05s", "42 s": the time left, as a person reads it; plain numbers for machines
// are in the "left_s" fields.
std::string duration_text(double seconds) {
  char text[32];
  const long s = std::lround(std::max(0.0, seconds));
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%ldh %02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60)
    std::snprintf(text, sizeof text, "%ldm %02lds", s / 60, s % 60);
  else
    std::snprintf(text, sizeof text, "%ld s", s);
  return text;
}

}  // namespace

Progress::Progress(const mpi::Communicator& comm, const Options& o, std::FILE* out) : out_(out) {
  const std::string mode = o.str("run.progress");
  terminal_ = ::isatty(::fileno(out)) != 0;
  // The same on every rank (the step hooks it adds must be); only rank 0 prints.
  enabled_ = mode != "off";
  printing_ = enabled_ && comm.rank() == 0;
  always_last_ = mode == "on";
  every_ = o.real("run.progress_seconds");
}

Progress::~Progress() {
  if (open_line_) std::fputc('\n', out_);
}

void Progress::emit(const std::string& line, bool last) {
  const double now = clock_.seconds();
  // A terminal line is redrawn at most 4 times a second (and ended at the end of an epoch); a
  // log gets a line at most every `every_` seconds, so it stays short (with run.progress = on
  // also at the end of every epoch).
  const double gap = terminal_ ? 0.25 : every_;
  if (!(last && (terminal_ || always_last_)) && now - last_print_ < gap) return;
  last_print_ = now;
  if (terminal_) {
    std::fprintf(out_, "\r%s\033[K", line.c_str());
    open_line_ = !last;
    if (last) std::fputc('\n', out_);
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

double Progress::seconds_per_unit(std::size_t key, std::size_t done) {
  const double now = clock_.seconds();
  // The first update of an epoch (or of the iterations) is the origin of its pace: what came
  // before it (setup, the previous epoch's reports) is not this epoch's work. Until a second
  // update, the previous epoch's pace stands in (or, in the first, the time since the start).
  if (key != key_ || done < first_done_) {
    key_ = key;
    first_done_ = done;
    first_time_ = now;
    if (pace_ <= 0 && done > 0) pace_ = (now - previous_) / static_cast<double>(done);
    return pace_;
  }
  if (done > first_done_) pace_ = (now - first_time_) / static_cast<double>(done - first_done_);
  return pace_;
}

void Progress::epoch_step(std::size_t epoch, std::size_t epochs, std::size_t step,
                          std::size_t steps, std::size_t samples) {
  if (!printing_ || steps == 0) return;
  const double per_step = seconds_per_unit(epoch, step);
  previous_ = clock_.seconds();
  const double epoch_left = per_step * static_cast<double>(steps - step);
  const double run_left =
      epoch_left + per_step * static_cast<double>(steps) * static_cast<double>(epochs - epoch);
  const double rate = per_step > 0 ? static_cast<double>(samples) / steps / per_step : 0;
  char line[256];
  std::snprintf(line, sizeof line,
                "progress: epoch %zu/%zu, step %zu/%zu (%.0f%%), %.0f samples/s, left: epoch %s, "
                "run %s (epoch_left_s %.1f, run_left_s %.1f)",
                epoch, epochs, step, steps, 100.0 * static_cast<double>(step) / steps, rate,
                duration_text(epoch_left).c_str(), duration_text(run_left).c_str(), epoch_left,
                run_left);
  emit(line, step == steps);
}

void Progress::iteration(const char* what, std::size_t done, std::size_t total) {
  if (!printing_ || total == 0) return;
  const double per = seconds_per_unit(0, done);
  previous_ = clock_.seconds();
  const double left = per * static_cast<double>(total - std::min(done, total));
  char line[200];
  std::snprintf(line, sizeof line,
                "progress: %s %zu/%zu, %.2f s each, left at most %s (run_left_s %.1f)", what, done,
                total, per, duration_text(left).c_str(), left);
  emit(line, done >= total);
}

void Progress::work(const char* what, double done, double total) {
  if (!printing_ || !(total > 0)) return;
  if (done <= 0 || what != work_what_) {
    work_what_ = what;
    work_start_ = clock_.seconds();
  }
  char line[256];
  if (done <= 0) {
    std::snprintf(line, sizeof line, "progress: %s started", what);
  } else {
    const double left = (clock_.seconds() - work_start_) * std::max(0.0, total - done) / done;
    std::snprintf(line, sizeof line, "progress: %s %.0f%%, left about %s (left_s %.1f)", what,
                  100.0 * std::min(1.0, done / total), duration_text(left).c_str(), left);
  }
  emit(line, done >= total);
}

}  // namespace kmpi
