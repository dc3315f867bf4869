// The one wrapper around MPI: RAII environment, a communicator with typed collectives whose
// return codes are all checked, and collective error agreement (DESIGN §3).
#pragma once

#include <mpi.h>

#include <complex>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "kmpi/error.hpp"

namespace kmpi::mpi {

// Throws kmpi::Error naming `what` when an MPI call did not return MPI_SUCCESS.
void check(int rc, const char* what);

template <class T>
MPI_Datatype datatype() {
  if constexpr (std::is_same_v<T, double>)
    return MPI_DOUBLE;
  else if constexpr (std::is_same_v<T, float>)
    return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, int>)
    return MPI_INT;
  else if constexpr (std::is_same_v<T, char>)
    return MPI_CHAR;
  else if constexpr (std::is_same_v<T, unsigned char>)
    return MPI_UNSIGNED_CHAR;
  else if constexpr (std::is_same_v<T, long long>)
    return MPI_LONG_LONG;
  else if constexpr (std::is_same_v<T, unsigned long long>)
    return MPI_UNSIGNED_LONG_LONG;
  else if constexpr (std::is_same_v<T, unsigned long>)
    return MPI_UNSIGNED_LONG;
  else if constexpr (std::is_same_v<T, long>)
    return MPI_LONG;
  else
    static_assert(sizeof(T) == 0, "no MPI datatype for this type");
}

// MPI_Init_thread / MPI_Finalize for the lifetime of the object (created once, in main or a test
// main). MPI errors return codes (MPI_ERRORS_RETURN) so `check` can turn them into exceptions.
// The test-only fault injector is configured here, from KMPI_FAULT (src/base/fault.hpp).
class Environment {
 public:
  Environment(int& argc, char**& argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  // local: what went wrong while starting (a malformed KMPI_FAULT), empty if nothing. The
  // constructor cannot throw it: no rank could agree on it yet and MPI would not be finalized.
  // main agrees on it (mpi::agree) before any other work, so every rank ends with exit code 1.
  const std::string& startup_error() const { return startup_error_; }

 private:
  std::string startup_error_;
};

// The stall watchdog (run.stall_timeout). A peer that vanishes without its process ending (its
// node's network cut, the node frozen) leaves the other ranks waiting in a collective forever:
// MPI's TCP transport has no timeout and the runtime notices a lost node only after its
// keepalive (Open MPI: oob_tcp_keepalive_*, 300 s idle + 9 x 20 s by default). Every blocking
// call of this wrapper notes when it started (BlockingCall, a clock read and two atomic stores);
// a thread started by watch_for_stalls checks a few times per timeout and, when one call has not
// returned for `seconds`, prints one line and ends this process at once with exit code
// kStallExitCode (MPI_Abort is not safe from a second thread under MPI_THREAD_FUNNELED, and an
// unreachable peer could not be told anyway); mpirun or srun then ends the rest of the job.
// Only time spent waiting inside a call counts: a rank's own long local work (reading,
// factorisations, ScaLAPACK, which communicates outside this wrapper) never trips it, but its
// peers wait for it in their next collective, so the timeout must exceed the longest stretch
// in which ranks wait on one rank's local work.
inline constexpr int kStallExitCode = 4;

// local: starts the watchdog thread (seconds <= 0: none); it stops when Environment ends, after
// MPI_Finalize (which is watched too). Call it at most once, from the thread that calls MPI.
void watch_for_stalls(double seconds);

// local: marks the lifetime of one blocking MPI call for the watchdog (nested: the outer counts).
class BlockingCall {
 public:
  explicit BlockingCall(const char* what);
  ~BlockingCall();
  BlockingCall(const BlockingCall&) = delete;
  BlockingCall& operator=(const BlockingCall&) = delete;

 private:
  bool outer_;
};

// Bytes this process has handed to MPI collectives (what it sends), for the benchmarks.
std::uint64_t bytes_sent();
void reset_bytes_sent();

enum class Op { kSum, kMin, kMax };

// A non-blocking operation in flight. Its destructor completes it (every rank that started it
// must also finish it, so an early return cannot leave a peer waiting); buffers handed to the
// operation must outlive it.
class Request {
 public:
  Request() = default;
  explicit Request(MPI_Request r) : r_(r) {}
  Request(Request&& o) noexcept : r_(o.r_) { o.r_ = MPI_REQUEST_NULL; }
  Request& operator=(Request&& o) noexcept {
    if (this != &o) {
      complete_quietly();
      r_ = o.r_;
      o.r_ = MPI_REQUEST_NULL;
    }
    return *this;
  }
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request() { complete_quietly(); }
  // local (completes a collective started by every rank): blocks until done.
  void wait() {
    if (r_ == MPI_REQUEST_NULL) return;
    BlockingCall call("MPI_Wait");
    check(MPI_Wait(&r_, MPI_STATUS_IGNORE), "MPI_Wait");
  }
  // local: lets MPI progress the operation; true when it is done.
  bool test() {
    if (r_ == MPI_REQUEST_NULL) return true;
    int done = 0;
    check(MPI_Test(&r_, &done, MPI_STATUS_IGNORE), "MPI_Test");
    return done != 0;
  }

 private:
  void complete_quietly() {
    if (r_ == MPI_REQUEST_NULL) return;
    BlockingCall call("MPI_Wait");
    MPI_Wait(&r_, MPI_STATUS_IGNORE);
  }
  MPI_Request r_ = MPI_REQUEST_NULL;
};

// A communicator. It frees only what it created (duplicates), never MPI_COMM_WORLD.
class Communicator {
 public:
  static Communicator world();
  explicit Communicator(MPI_Comm comm, bool owned = false);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  Communicator(Communicator&& o) noexcept;
  Communicator& operator=(Communicator&&) = delete;

  // collective: a duplicate with its own message space (libraries and tests use it).
  Communicator duplicate() const;
  // collective: ranks with the same color form a new communicator, ordered by key.
  Communicator split(int color, int key) const;

  MPI_Comm get() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }

  // collective
  void barrier() const;
  // collective: a barrier for ranks that may wait long and rightly, because peers are working
  // alone on sub-communicators (the xRFM tree's groups, one finishing its leaves before another):
  // it polls a non-blocking barrier outside the stall watchdog (run.stall_timeout), which would
  // take a wait as long as the slowest group's work for a lost peer. A peer lost meanwhile is
  // still noticed: by the working ranks' own watchdogs, and by the runtime (a rank's exit ends
  // the job; a node cut off: Open MPI's daemon keepalive, scripts/mpi_env.sh).
  void wait_for_peers() const;

  // collective: in-place reduction of `count` values over all ranks.
  template <class T>
  void allreduce(T* data, std::size_t count, Op op = Op::kSum) const {
    if (count == 0) return;
    if (size_ > 1) count_sent(count * sizeof(T));
    fault_point("comm.allreduce");
    BlockingCall call("MPI_Allreduce");
    check(MPI_Allreduce(MPI_IN_PLACE, data, checked_int(count), datatype<T>(), to_mpi(op), comm_),
          "MPI_Allreduce");
  }
  template <class T>
  void allreduce(std::vector<T>& v, Op op = Op::kSum) const {
    allreduce(v.data(), v.size(), op);
  }
  // collective: reduction of one value.
  template <class T>
  T allreduce_value(T v, Op op = Op::kSum) const {
    allreduce(&v, 1, op);
    return v;
  }

  // collective: every rank sends counts[rank] values; all receive the concatenation.
  template <class T>
  void allgatherv(const T* send, T* recv, const std::vector<int>& counts,
                  const std::vector<int>& displs) const {
    if (size_ > 1) count_sent(static_cast<std::size_t>(counts[rank_]) * sizeof(T) * (size_ - 1));
    fault_point("comm.allgatherv");
    BlockingCall call("MPI_Allgatherv");
    check(MPI_Allgatherv(send, counts[rank_], datatype<T>(), recv, counts.data(), displs.data(),
                         datatype<T>(), comm_),
          "MPI_Allgatherv");
  }

  // collective: every rank sends counts[rank] values; `root` receives the concatenation in recv
  // (may be null elsewhere). What a writer needs, without a copy of everything on every rank.
  template <class T>
  void gatherv(const T* send, T* recv, const std::vector<int>& counts,
               const std::vector<int>& displs, int root = 0) const {
    if (rank_ != root) count_sent(static_cast<std::size_t>(counts[rank_]) * sizeof(T));
    fault_point("comm.gatherv");
    BlockingCall call("MPI_Gatherv");
    check(MPI_Gatherv(send, counts[rank_], datatype<T>(), recv, counts.data(), displs.data(),
                      datatype<T>(), root, comm_),
          "MPI_Gatherv");
  }

  // collective, non-blocking: allgatherv started now, finished by the returned Request. send,
  // recv, counts and displs must stay alive (and unmoved in memory) until it completes.
  template <class T>
  Request iallgatherv(const T* send, T* recv, const std::vector<int>& counts,
                      const std::vector<int>& displs) const {
    if (size_ > 1) count_sent(static_cast<std::size_t>(counts[rank_]) * sizeof(T) * (size_ - 1));
    fault_point("comm.iallgatherv");
    MPI_Request r;
    check(MPI_Iallgatherv(send, counts[rank_], datatype<T>(), recv, counts.data(), displs.data(),
                          datatype<T>(), comm_, &r),
          "MPI_Iallgatherv");
    return Request(r);
  }

  // collective: the elementwise sum (op) over all ranks of `send` (sum of counts values on every
  // rank), scattered: rank r receives the counts[r] values that start at the sum of counts[0..r)
  // in `recv` (MPI_Reduce_scatter). Each rank sends everything but its own part.
  template <class T>
  void reduce_scatter(const T* send, T* recv, const std::vector<int>& counts,
                      Op op = Op::kSum) const {
    if (size_ > 1) {
      std::size_t total = 0;
      for (int k = 0; k < size_; ++k)
        if (k != rank_) total += static_cast<std::size_t>(counts[k]);
      count_sent(total * sizeof(T));
    }
    fault_point("comm.reduce_scatter");
    BlockingCall call("MPI_Reduce_scatter");
    check(MPI_Reduce_scatter(send, recv, counts.data(), datatype<T>(), to_mpi(op), comm_),
          "MPI_Reduce_scatter");
  }

  // collective: every rank sends `count` values; all receive size() * count values.
  template <class T>
  std::vector<T> allgather(const T* send, std::size_t count) const {
    std::vector<T> out(count * size_);
    count_sent(count * sizeof(T) * (size_ - 1));
    fault_point("comm.allgather");
    BlockingCall call("MPI_Allgather");
    check(MPI_Allgather(send, checked_int(count), datatype<T>(), out.data(), checked_int(count),
                        datatype<T>(), comm_),
          "MPI_Allgather");
    return out;
  }

  // collective
  template <class T>
  void broadcast(T* data, std::size_t count, int root) const {
    if (count == 0) return;
    if (rank_ == root && size_ > 1) count_sent(count * sizeof(T));
    fault_point("comm.broadcast");
    BlockingCall call("MPI_Bcast");
    check(MPI_Bcast(data, checked_int(count), datatype<T>(), root, comm_), "MPI_Bcast");
  }
  // collective: rank `root`'s string on every rank.
  std::string broadcast(const std::string& s, int root) const;

  // Agreed decisions. RULE: a collective's result that steers control flow is agreed.
  // MPI does not promise that an allreduce leaves the same bits on every rank (the standard
  // only advises it), and replicated state computed locally from reduced floating-point values
  // (a CG residual, a validation loss, a NaN check) can differ in its last bits between ranks.
  // A branch that goes one way on one rank and the other way on another leaves one of them
  // waiting in a collective the rest never call: a hang. So every `if`/`while` on such a value
  // branches on an agreed one. Integer reductions are exact and need no agreement.
  //
  // collective: rank 0's `local` on every rank (one broadcast of one byte).
  bool agreed(bool local) const;
  // collective: rank 0's bits of `local` on every rank (a value a branch is taken on).
  template <class T>
  T agreed_value(T local) const {
    fault_point("comm.agreed");
    broadcast(&local, 1, 0);
    return local;
  }
  // collective: rank 0's `count` values of `data` on every rank, in place.
  template <class T>
  void agreed_values(T* data, std::size_t count) const {
    fault_point("comm.agreed");
    broadcast(data, count, 0);
  }

  // collective: rank r's send[k] goes to rank k (counts/displs per peer, in elements).
  template <class T>
  void alltoallv(const T* send, const std::vector<int>& send_counts,
                 const std::vector<int>& send_displs, T* recv, const std::vector<int>& recv_counts,
                 const std::vector<int>& recv_displs) const {
    std::size_t total = 0;
    for (int k = 0; k < size_; ++k)
      if (k != rank_) total += static_cast<std::size_t>(send_counts[k]);
    count_sent(total * sizeof(T));
    fault_point("comm.alltoallv");
    BlockingCall call("MPI_Alltoallv");
    check(MPI_Alltoallv(send, send_counts.data(), send_displs.data(), datatype<T>(), recv,
                        recv_counts.data(), recv_displs.data(), datatype<T>(), comm_),
          "MPI_Alltoallv");
  }

 private:
  static MPI_Op to_mpi(Op op);
  static int checked_int(std::size_t n);
  static void count_sent(std::size_t bytes);
  // local: a fault injection site (src/base/fault.hpp; a branch when no fault is configured).
  static void fault_point(const char* site);
  MPI_Comm comm_ = MPI_COMM_NULL;
  bool owned_ = false;
  int rank_ = 0, size_ = 1;
};

// collective: `ok` is this rank's verdict; if any rank is not ok, every rank throws the same
// CollectiveError carrying the message of the lowest failing rank (SLATE's all-ranks assert).
void agree(const Communicator& comm, bool ok, const std::string& message_if_failed);

// collective: runs `local_work` (which must not call collectives) on every rank; an exception
// on any rank becomes the same CollectiveError on all ranks.
template <class F>
void agree_on(const Communicator& comm, F&& local_work) {
  bool ok = true;
  std::string message;
  try {
    local_work();
  } catch (const std::exception& e) {
    ok = false;
    message = e.what();
  }
  agree(comm, ok, message);
}

}  // namespace kmpi::mpi
