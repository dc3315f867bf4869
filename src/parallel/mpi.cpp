#include "kmpi/mpi.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

#include "base/fault.hpp"

namespace kmpi::mpi {

namespace {

std::atomic<std::uint64_t> g_bytes_sent{0};

// The blocking call in progress on the MPI thread: its start (steady clock, ns; 0 = none) and name.
std::atomic<std::int64_t> g_call_started_ns{0};
std::atomic<const char*> g_call_name{nullptr};

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class StallWatchdog {
 public:
  StallWatchdog(double seconds, int rank)
      : seconds_(seconds), rank_(rank), thread_([this] { watch(); }) {}
  ~StallWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  StallWatchdog(const StallWatchdog&) = delete;
  StallWatchdog& operator=(const StallWatchdog&) = delete;

 private:
  void watch() {
    // A few looks per timeout: the job ends at most ~10% (and 1 s) after the timeout.
    const double period_s = std::clamp(seconds_ / 10, 0.01, 1.0);
    const auto period = std::chrono::duration<double>(period_s);
    const auto limit_ns = static_cast<std::int64_t>(seconds_ * 1e9);
    // The wait is summed look by look, each look adding at most two periods: time in which this
    // process did not run (the whole job stopped by SIGSTOP, Slurm's suspend, an overloaded
    // node) does not count, so a job continued after a suspend is not ended.
    const auto max_step_ns = static_cast<std::int64_t>(2 * period_s * 1e9);
    std::int64_t seen = 0, waited = 0, last = steady_ns();
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, period, [this] { return stop_; })) {
      const std::int64_t now = steady_ns(), step = std::min(now - last, max_step_ns);
      last = now;
      const std::int64_t started = g_call_started_ns.load();
      if (started == 0) continue;
      waited = started == seen ? waited + step : std::min(now - started, step);
      seen = started;
      if (waited >= limit_ns) give_up();
    }
  }
  [[noreturn]] void give_up() const {
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    const char* call = g_call_name.load();
    std::fflush(stdout);  // the MPI thread is blocked in MPI, not in stdio
    std::fprintf(stderr,
                 "kmpi: no progress for %g s (a peer or the network is gone); aborting (rank %d "
                 "on %s, in %s)\n",
                 seconds_, rank_, host, call ? call : "MPI");
    std::fflush(stderr);
    _exit(kStallExitCode);
  }

  const double seconds_;
  const int rank_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

std::unique_ptr<StallWatchdog> g_watchdog;

}  // namespace

BlockingCall::BlockingCall(const char* what) : outer_(g_call_started_ns.load() == 0) {
  if (!outer_) return;
  g_call_name.store(what);
  g_call_started_ns.store(steady_ns());
}

BlockingCall::~BlockingCall() {
  if (outer_) g_call_started_ns.store(0);
}

void watch_for_stalls(double seconds) {
  if (seconds <= 0 || g_watchdog) return;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  g_watchdog = std::make_unique<StallWatchdog>(seconds, rank);
}

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(std::string(what) + " failed: " + std::string(text, len));
}

Environment::Environment(int& argc, char**& argv) {
  int provided = 0;
  check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  try {
    fault::configure(rank);
  } catch (const Error& e) {
    startup_error_ = e.what();
  }
}

Environment::~Environment() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) {
    // Finalize synchronises with the peers (and the runtime): a vanished peer can hang it too.
    BlockingCall call("MPI_Finalize");
    MPI_Finalize();
  }
  g_watchdog.reset();
}

std::uint64_t bytes_sent() { return g_bytes_sent.load(); }
void reset_bytes_sent() { g_bytes_sent = 0; }

Communicator Communicator::world() { return Communicator(MPI_COMM_WORLD, false); }

Communicator::Communicator(MPI_Comm comm, bool owned) : comm_(comm), owned_(owned) {
  check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

Communicator::~Communicator() {
  if (owned_ && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

Communicator::Communicator(Communicator&& o) noexcept
    : comm_(o.comm_), owned_(o.owned_), rank_(o.rank_), size_(o.size_) {
  o.comm_ = MPI_COMM_NULL;
  o.owned_ = false;
}

Communicator Communicator::duplicate() const {
  fault_point("comm.duplicate");
  MPI_Comm dup;
  BlockingCall call("MPI_Comm_dup");
  check(MPI_Comm_dup(comm_, &dup), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN);
  return Communicator(dup, true);
}

Communicator Communicator::split(int color, int key) const {
  fault_point("comm.split");
  MPI_Comm sub;
  BlockingCall call("MPI_Comm_split");
  check(MPI_Comm_split(comm_, color, key, &sub), "MPI_Comm_split");
  MPI_Comm_set_errhandler(sub, MPI_ERRORS_RETURN);
  return Communicator(sub, true);
}

void Communicator::barrier() const {
  fault_point("comm.barrier");
  BlockingCall call("MPI_Barrier");
  check(MPI_Barrier(comm_), "MPI_Barrier");
}

void Communicator::wait_for_peers() const {
  fault_point("comm.wait_for_peers");
  if (size_ == 1) return;
  MPI_Request request = MPI_REQUEST_NULL;
  check(MPI_Ibarrier(comm_, &request), "MPI_Ibarrier");
  // Polls from every 1 ms up to every 50 ms: a short wait costs little, a long one little CPU.
  auto pause = std::chrono::milliseconds(1);
  for (int done = 0;;) {
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) return;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

std::string Communicator::broadcast(const std::string& s, int root) const {
  unsigned long long len = s.size();
  broadcast(&len, 1, root);
  std::string out = rank_ == root ? s : std::string(len, '\0');
  broadcast(out.data(), len, root);
  return out;
}

MPI_Op Communicator::to_mpi(Op op) {
  switch (op) {
    case Op::kSum:
      return MPI_SUM;
    case Op::kMin:
      return MPI_MIN;
    case Op::kMax:
      return MPI_MAX;
  }
  return MPI_SUM;
}

int Communicator::checked_int(std::size_t n) {
  if (n > static_cast<std::size_t>(INT_MAX))
    throw Error("MPI message of " + std::to_string(n) + " elements exceeds INT_MAX");
  return static_cast<int>(n);
}

void Communicator::count_sent(std::size_t bytes) { g_bytes_sent += bytes; }

void Communicator::fault_point(const char* site) { fault::point(site); }

bool Communicator::agreed(bool local) const {
  fault_point("comm.agreed");
  unsigned char v = local ? 1 : 0;
  broadcast(&v, 1, 0);
  return v != 0;
}

void agree(const Communicator& comm, bool ok, const std::string& message_if_failed) {
  fault::point("comm.agree");
  // The lowest failing rank, or size() if none failed.
  const int first = comm.allreduce_value(ok ? comm.size() : comm.rank(), Op::kMin);
  if (first == comm.size()) return;
  std::string message =
      comm.broadcast(comm.rank() == first ? message_if_failed : std::string(), first);
  // The rank named in the error line is the world's: on a sub-communicator (the tree's groups,
  // tune's groups) the failing rank's own number, whichever group it failed in.
  MPI_Group group = MPI_GROUP_NULL, world = MPI_GROUP_NULL;
  int world_rank = first;
  if (MPI_Comm_group(comm.get(), &group) == MPI_SUCCESS &&
      MPI_Comm_group(MPI_COMM_WORLD, &world) == MPI_SUCCESS)
    MPI_Group_translate_ranks(group, 1, &first, world, &world_rank);
  if (group != MPI_GROUP_NULL) MPI_Group_free(&group);
  if (world != MPI_GROUP_NULL) MPI_Group_free(&world);
  throw CollectiveError(message, world_rank);
}

}  // namespace kmpi::mpi
