// Test main for the MPI suite: MPI lives for the whole run, only rank 0 prints, and the first
// failed assertion on any rank aborts the job at once (instead of leaving the other ranks
// waiting in a collective until the ctest timeout). A test that runs longer than
// KMPI_TEST_TIMEOUT seconds (default 300; the slowest takes ~12 s unloaded, but small
// collectives slow down 100x and more on a loaded machine: EigenPro4.AndFalkon... ran past 120 s
// at load 10) is a hang: every rank names the test and, where gdb is installed, prints its main
// thread's stack, then exits, so the log says where the job hung instead of only that it did.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "kmpi/mpi.hpp"

namespace {

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

class AbortOnFailure : public testing::EmptyTestEventListener {
  void OnTestPartResult(const testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: %s\n", world_rank(),
                 result.file_name() ? result.file_name() : "?", result.line_number(),
                 result.summary());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
};

// The per-test timeout: a thread that wakes once a second and ends the process when the test
// in progress has run past the limit.
class HangWatchdog : public testing::EmptyTestEventListener {
 public:
  explicit HangWatchdog(double seconds) : seconds_(seconds), thread_([this] { watch(); }) {}
  ~HangWatchdog() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  HangWatchdog(const HangWatchdog&) = delete;
  HangWatchdog& operator=(const HangWatchdog&) = delete;

  void OnTestStart(const testing::TestInfo& info) override {
    std::lock_guard<std::mutex> lock(mutex_);
    name_ = std::string(info.test_suite_name()) + "." + info.name();
    started_ = std::chrono::steady_clock::now();
    running_ = true;
  }
  void OnTestEnd(const testing::TestInfo&) override {
    std::lock_guard<std::mutex> lock(mutex_);
    running_ = false;
  }

 private:
  void watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
      if (!running_) continue;
      const std::chrono::duration<double> ran = std::chrono::steady_clock::now() - started_;
      if (ran.count() > seconds_) give_up(ran.count());
    }
  }
  [[noreturn]] void give_up(double ran) const {
    const int rank = world_rank();
    std::fflush(stdout);
    std::fprintf(stderr, "[rank %d] %s: still running after %.0f s (KMPI_TEST_TIMEOUT %g)\n", rank,
                 name_.c_str(), ran, seconds_);
    std::fflush(stderr);
    if (std::system("command -v gdb > /dev/null 2>&1") == 0) {
      const std::string cmd = "gdb -p " + std::to_string(getpid()) +
                              " -batch -ex 'thread 1' -ex 'bt 25' 2>/dev/null | grep '^#' | "
                              "sed 's/^/[rank " + std::to_string(rank) + "] /' >&2";
      if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "[rank %d] no stack\n", rank);
    }
    _exit(124);
  }

  const double seconds_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false, running_ = false;
  std::string name_;
  std::chrono::steady_clock::time_point started_;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace

int main(int argc, char** argv) {
  kmpi::mpi::Environment env(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  // Line-buffered, so that a log cut by a kill still shows the tests that ran.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const char* limit = std::getenv("KMPI_TEST_TIMEOUT");
  const double seconds = limit ? std::atof(limit) : 300.0;
  auto& listeners = testing::UnitTest::GetInstance()->listeners();
  if (world_rank() != 0) delete listeners.Release(listeners.default_result_printer());
  listeners.Append(new AbortOnFailure);
  if (seconds > 0) listeners.Append(new HangWatchdog(seconds));
  const int rc = RUN_ALL_TESTS();
  int any = rc;
  MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return any;
}
