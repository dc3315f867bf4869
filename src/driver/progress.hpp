// Progress a person can follow: where a long run is and when it will end. Rank 0 writes to
// stderr: on a terminal one line updated in place (at most a few times a second); otherwise
// (SLURM logs, files) a plain line at most every run.progress_seconds, without control
// characters. Fed from the solvers' step hooks by the driver, so solvers know nothing of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "parallel/log.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/options.hpp"

namespace kmpi {

class Progress {
 public:
  // local: run.progress (auto | on | off) and run.progress_seconds; only rank 0 prints.
  Progress(const mpi::Communicator& comm, const Options& options, std::FILE* out = stderr);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // local, the same on every rank: progress is on (run.progress != off).
  bool enabled() const { return enabled_; }

  // local: step `step` of `steps` of epoch `epoch` of `epochs` is done; an epoch is `samples`
  // rows. Prints the epoch's progress, samples/s and the time left for the epoch and the run.
  void epoch_step(std::size_t epoch, std::size_t epochs, std::size_t step, std::size_t steps,
                  std::size_t samples);
  // local: iteration `done` of at most `total` (conjugate gradient) is done.
  void iteration(const char* what, std::size_t done, std::size_t total);
  // local: `done` of `total` units of work of the stage `what` (a solver's setup: flops, a read:
  // bytes); the time left is extrapolated from the stage's elapsed time. done = 0 starts it.
  void work(const char* what, double done, double total);

 private:
  void emit(const std::string& line, bool last);
  // Seconds per step (or iteration) of the epoch `key` from the updates seen so far.
  double seconds_per_unit(std::size_t key, std::size_t done);

  bool enabled_ = false;
  bool printing_ = false;  // rank 0 with progress on
  bool terminal_ = false;
  bool always_last_ = false;  // run.progress = on: every epoch's end gets a line
  double every_ = 30;
  std::FILE* out_;
  Stopwatch clock_;
  double last_print_ = 0;  // clock_ seconds of the last line written (a log's first line
                           // comes one interval into the run)
  double previous_ = 0;          // clock_ seconds of the last update
  std::size_t key_ = SIZE_MAX;   // the epoch (0: iterations) the pace below belongs to
  std::size_t first_done_ = 0;   // its first update's count and time
  double first_time_ = 0;
  double pace_ = 0;  // seconds per step (iteration) last measured
  bool open_line_ = false;      // a terminal line without its newline yet
  std::string work_what_;       // the stage work() reports, and when it started
  double work_start_ = 0;
};

}  // namespace kmpi
