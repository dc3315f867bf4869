// Rank-0 logging and timers reduced over ranks before they are printed (STYLE.md).
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "kmpi/mpi.hpp"

namespace kmpi {

// Prints on rank 0 only (or on every rank, prefixed, with verbose_ranks). local.
class Log {
 public:
  explicit Log(const mpi::Communicator& comm, bool verbose_ranks = false)
      : rank_(comm.rank()), verbose_ranks_(verbose_ranks) {}
  template <class... Args>
  void info(const char* format, Args... args) const {
    if (rank_ != 0 && !verbose_ranks_) return;
    if (verbose_ranks_) std::fprintf(stdout, "[rank %d] ", rank_);
    if constexpr (sizeof...(Args) == 0)
      std::fputs(format, stdout);
    else
      std::fprintf(stdout, format, args...);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

 private:
  int rank_;
  bool verbose_ranks_;
};

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  void restart() { start_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

struct TimerStats {
  double min = 0, avg = 0, max = 0;
};

// collective: min/avg/max over ranks of this rank's `seconds`.
inline TimerStats reduce_timer(const mpi::Communicator& comm, double seconds) {
  TimerStats s;
  s.min = comm.allreduce_value(seconds, mpi::Op::kMin);
  s.max = comm.allreduce_value(seconds, mpi::Op::kMax);
  s.avg = comm.allreduce_value(seconds, mpi::Op::kSum) / comm.size();
  return s;
}

}  // namespace kmpi
