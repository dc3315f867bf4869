#include "kmpi/mpi.hpp"

#include <atomic>
#include <climits>

namespace kmpi::mpi {

namespace {
std::atomic<std::uint64_t> g_bytes_sent{0};
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
}

Environment::~Environment() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
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
  MPI_Comm dup;
  check(MPI_Comm_dup(comm_, &dup), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN);
  return Communicator(dup, true);
}

Communicator Communicator::split(int color, int key) const {
  MPI_Comm sub;
  check(MPI_Comm_split(comm_, color, key, &sub), "MPI_Comm_split");
  MPI_Comm_set_errhandler(sub, MPI_ERRORS_RETURN);
  return Communicator(sub, true);
}

void Communicator::barrier() const { check(MPI_Barrier(comm_), "MPI_Barrier"); }

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

void agree(const Communicator& comm, bool ok, const std::string& message_if_failed) {
  // The lowest failing rank, or size() if none failed.
  const int first = comm.allreduce_value(ok ? comm.size() : comm.rank(), Op::kMin);
  if (first == comm.size()) return;
  std::string message =
      comm.broadcast(comm.rank() == first ? message_if_failed : std::string(), first);
  throw CollectiveError(message, first);
}

}  // namespace kmpi::mpi
