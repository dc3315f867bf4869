// The machine's GEMM rate R as the solvers see it: every rank runs SGEMM (or DGEMM) of the
// EigenPro 2 step's shape at the same time, so shared caches, memory bandwidth and clock limits
// are in the figure. Prints one JSON line: the total rate over ranks and the slowest rank's.
//   mpirun -np 2 kmpi_bench_gemm_rate [seconds] [float32|float64] [m] [t] [d]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/blas.hpp"
#include "parallel/log.hpp"
#include "kmpi/mpi.hpp"

namespace {

template <class T>
double rate(const kmpi::mpi::Communicator& comm, double seconds, std::size_t m, std::size_t t,
            std::size_t d) {
  std::vector<T> a(m * d), b(t * d), c(m * t);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<T>((i % 251) / 251.0);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<T>((i % 241) / 241.0);
  kmpi::blas::gemm(false, true, m, t, d, T(-2), a.data(), d, b.data(), d, T(0), c.data(), t);  // warm
  comm.barrier();
  kmpi::Stopwatch clock;
  std::size_t calls = 0;
  // Every rank runs the same number of calls, agreed from rank 0's clock.
  for (int go = 1; go;) {
    kmpi::blas::gemm(false, true, m, t, d, T(-2), a.data(), d, b.data(), d, T(0), c.data(), t);
    ++calls;
    go = comm.rank() == 0 && clock.seconds() < seconds ? 1 : 0;
    comm.broadcast(&go, 1, 0);
  }
  const double elapsed = clock.seconds();
  return 2.0 * m * t * d * calls / elapsed / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  kmpi::mpi::Environment env(argc, argv);
  const auto comm = kmpi::mpi::Communicator::world();
  const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  const std::string precision = argc > 2 ? argv[2] : "float32";
  const std::size_t m = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 2000;
  const std::size_t t = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 4096;
  const std::size_t d = argc > 5 ? std::strtoul(argv[5], nullptr, 10) : 784;
  const double mine = precision == "float64" ? rate<double>(comm, seconds, m, t, d)
                                             : rate<float>(comm, seconds, m, t, d);
  const double total = comm.allreduce_value(mine, kmpi::mpi::Op::kSum);
  const double slowest = comm.allreduce_value(mine, kmpi::mpi::Op::kMin);
  if (comm.rank() == 0)
    std::printf("{\"precision\": \"%s\", \"ranks\": %d, \"m\": %zu, \"t\": %zu, \"d\": %zu, "
                "\"gflops_total\": %.2f, \"gflops_slowest_rank\": %.2f}\n",
                precision.c_str(), comm.size(), m, t, d, total, slowest);
  return 0;
}
