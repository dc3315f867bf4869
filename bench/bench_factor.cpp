// Falkon's setup against its floor (issue 16): the block-cyclic Cholesky (potrf) and the gram
// product L^T L (lauum) of a p x p matrix, timed at several block sizes in float64 and float32,
// each against the GEMM rate of the same precision measured in the same run on all ranks at once
// (square products of `gemm_n`). The floor of p^3 / 3 flops is (p^3 / 3) / (the ranks' total
// GEMM rate); the ratio is time / floor. Prints one JSON line per (precision, block size).
//   mpirun -np 2 kmpi_bench_factor [p=8000] [blocks=64,128,256] [precisions=float64,float32]
//                                  [gemm_n=2048]
// The matrix is the Laplacian kernel of p points on a line, exp(-|i - j| / (p / 8)), plus 1e-3 I:
// positive definite with a spread spectrum, and cheap to fill.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "base/blas.hpp"
#include "parallel/log.hpp"
#include "kmpi/mpi.hpp"
#include "parallel/scalapack.hpp"

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

// Every rank multiplies n x n matrices at the same time for about `seconds`; the total rate.
template <class T>
double gemm_rate(const kmpi::mpi::Communicator& comm, std::size_t n, double seconds) {
  std::vector<T> a(n * n), b(n * n), c(n * n);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<T>((i % 251) / 251.0);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<T>((i % 241) / 241.0);
  kmpi::blas::gemm(false, false, n, n, n, T(1), a.data(), n, b.data(), n, T(0), c.data(), n);
  comm.barrier();
  kmpi::Stopwatch clock;
  std::size_t calls = 0;
  for (int go = 1; go;) {
    kmpi::blas::gemm(false, false, n, n, n, T(1), a.data(), n, b.data(), n, T(0), c.data(), n);
    ++calls;
    go = comm.rank() == 0 && clock.seconds() < seconds ? 1 : 0;
    comm.broadcast(&go, 1, 0);
  }
  const double mine = 2.0 * n * n * n * calls / clock.seconds();
  return comm.allreduce_value(mine, kmpi::mpi::Op::kSum);
}

// collective: seconds of f() on every rank, the slowest.
template <class F>
double timed(const kmpi::mpi::Communicator& comm, F&& f) {
  comm.barrier();
  kmpi::Stopwatch clock;
  f();
  comm.barrier();
  return comm.allreduce_value(clock.seconds(), kmpi::mpi::Op::kMax);
}

}  // namespace

int main(int argc, char** argv) {
  kmpi::mpi::Environment env(argc, argv);
  const auto comm = kmpi::mpi::Communicator::world();
  const std::size_t p = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 8000;
  const auto blocks = split(argc > 2 ? argv[2] : "64,128,256");
  const auto precisions = split(argc > 3 ? argv[3] : "float64,float32");
  const std::size_t gemm_n = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 2048;
  kmpi::BlacsGrid grid(comm);
  const double flops = static_cast<double>(p) * p * p / 3.0;
  for (const std::string& precision_name : precisions) {
    const auto precision =
        precision_name == "float32" ? kmpi::Precision::kFloat32 : kmpi::Precision::kFloat64;
    const double rate = precision == kmpi::Precision::kFloat32
                            ? gemm_rate<float>(comm, gemm_n, 3.0)
                            : gemm_rate<double>(comm, gemm_n, 3.0);
    const double floor_s = flops / rate;
    for (const std::string& block : blocks) {
      const std::size_t nb = std::strtoul(block.c_str(), nullptr, 10);
      kmpi::BlockCyclicMatrix a(grid, p, p, nb, nb);
      const double scale = static_cast<double>(p) / 8.0;
      a.fill([&](std::size_t i, std::size_t j) {
        const double d = i > j ? static_cast<double>(i - j) : static_cast<double>(j - i);
        return std::exp(-d / scale) + (i == j ? 1e-3 : 0.0);
      });
      double pdgemm_ratio = 0;  // a general product of the same order, float64 only
      if (precision == kmpi::Precision::kFloat64) {
        kmpi::BlockCyclicMatrix c(grid, p, p, nb, nb);
        const double s = timed(comm, [&] { kmpi::multiply(true, false, 1.0, a, a, 0.0, c); });
        pdgemm_ratio = s / (6 * floor_s);
      }
      const double potrf_s = timed(comm, [&] { kmpi::cholesky_factor(a, precision); });
      // CG's use of the factor: solves with L and L^T on p x 10 right-hand sides (float64).
      kmpi::BlockCyclicMatrix rhs(grid, p, 10, nb, nb);
      rhs.fill([](std::size_t i, std::size_t j) { return std::sin(0.01 * i + j); });
      const double trsm_s = timed(comm, [&] {
        kmpi::triangular_solve(a, rhs, false);
        kmpi::triangular_solve(a, rhs, true);
      });
      const double lauum_s = timed(comm, [&] { kmpi::lower_gram(a, precision); });
      if (comm.rank() == 0)
        std::printf(
            "{\"p\": %zu, \"ranks\": %d, \"grid\": \"%dx%d\", \"precision\": \"%s\", "
            "\"block\": %zu, \"gemm_gflops_total\": %.1f, \"floor_s\": %.2f, "
            "\"potrf_s\": %.2f, \"potrf_ratio\": %.2f, \"lauum_s\": %.2f, "
            "\"lauum_ratio\": %.2f, \"pdgemm_ratio\": %.2f, \"trsm_pair_s\": %.3f}\n",
            p, comm.size(), grid.rows(), grid.cols(), precision_name.c_str(), nb, rate / 1e9,
            floor_s, potrf_s, potrf_s / floor_s, lauum_s, lauum_s / floor_s, pdgemm_ratio, trsm_s);
      std::fflush(stdout);
    }
  }
  return 0;
}
