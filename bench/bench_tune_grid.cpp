// A G x R falkon grid (train_falkon_grid, src/search/tune.hpp) against G R separate train_falkon runs
// on the same synthetic problem: what sharing the centers, the per-kernel factors and
// right-hand side, and every CG product's distance GEMM (DESIGN §1.6) saves. Prints the two
// wall times (the slowest rank's; setup and CG split), their ratio, and the largest difference
// between a grid point's predictions and its run alone (relative to their largest value).
//   mpirun -np 2 kmpi_bench_tune_grid [n] [d] [p] [G] [R] [iterations] [float32|float64]
// Data: n x d uniform in [0, 1) (pixels), c = 10 one-hot targets (the argmax of the first 10
// features); kernels gaussian with bandwidths 4, 5, 6, ... (5 is DESIGN §5's Fashion-MNIST
// setting); ridges 1e-4, 1e-5, ... ; falkon's default precision float32.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "parallel/log.hpp"
#include "kmpi/mpi.hpp"
#include "base/rng.hpp"
#include "solvers/solvers.hpp"
#include "solvers/grid_solvers.hpp"

namespace {

using kmpi::Matrix;

std::size_t arg(int argc, char** argv, int i, std::size_t fallback) {
  return argc > i ? std::strtoul(argv[i], nullptr, 10) : fallback;
}

// local: this rank's rows of the synthetic problem (the same rows at any rank count).
kmpi::TrainingProblem synthetic(const kmpi::mpi::Communicator& comm, std::size_t n, std::size_t d) {
  kmpi::TrainingProblem pr;
  pr.partition = kmpi::BlockPartition(n, comm.size());
  const std::size_t begin = pr.partition.begin(comm.rank()), rows = pr.partition.count(comm.rank());
  pr.x = Matrix<double>(rows, d);
  pr.y = Matrix<double>(rows, 10);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < d; ++j)
      pr.x(i, j) = static_cast<double>(kmpi::counter_random(3, kmpi::RngStream::kGenerator,
                                                            begin + i, j) >> 11) * 0x1.0p-53;
    const double* first = pr.x.row(i);
    pr.y(i, static_cast<std::size_t>(std::max_element(first, first + std::min<std::size_t>(10, d)) - first)) = 1;
  }
  return pr;
}

// collective: the slowest rank's seconds.
double slowest(const kmpi::mpi::Communicator& comm, double seconds) {
  return comm.allreduce_value(seconds, kmpi::mpi::Op::kMax);
}

}  // namespace

int main(int argc, char** argv) {
  kmpi::mpi::Environment env(argc, argv);
  const auto comm = kmpi::mpi::Communicator::world();
  const std::size_t n = arg(argc, argv, 1, 20000), d = arg(argc, argv, 2, 784),
                    p = arg(argc, argv, 3, 2000), g_count = arg(argc, argv, 4, 3),
                    r_count = arg(argc, argv, 5, 4), iterations = arg(argc, argv, 6, 10);
  const std::string precision = argc > 7 ? argv[7] : "float32";
  kmpi::TrainingProblem problem = synthetic(comm, n, d);
  std::vector<kmpi::Kernel> kernels;
  for (std::size_t g = 0; g < g_count; ++g)
    kernels.push_back(kmpi::Kernel::from_name("gaussian", 4.0 + static_cast<double>(g)));
  std::vector<double> ridges;
  for (std::size_t r = 0; r < r_count; ++r) ridges.push_back(1e-4 / std::pow(10.0, r));
  kmpi::FalkonOptions o;
  o.centers = p;
  o.iterations = iterations;
  o.tolerance = 0;  // every point runs all iterations, alone and in the grid
  o.precision = precision == "float64" ? kmpi::Precision::kFloat64 : kmpi::Precision::kFloat32;

  comm.barrier();
  kmpi::Stopwatch grid_clock;
  const std::vector<kmpi::FalkonResult> grid =
      kmpi::train_falkon_grid(comm, problem, kernels, ridges, o);
  const double grid_s = slowest(comm, grid_clock.seconds());

  double alone_s = 0, alone_setup_s = 0, worst = 0;
  const Matrix<double> q = [&] {
    Matrix<double> all(200, d);
    for (std::size_t i = 0; i < all.size(); ++i)
      all.data()[i] = static_cast<double>(kmpi::counter_random(4, kmpi::RngStream::kGenerator, i, 0) >> 11) * 0x1.0p-53;
    return all;
  }();
  for (std::size_t point = 0; point < grid.size(); ++point) {
    problem.kernel = kernels[point / r_count];
    o.ridge = ridges[point % r_count];
    comm.barrier();
    kmpi::Stopwatch clock;
    const kmpi::FalkonResult alone = kmpi::train_falkon(comm, problem, o);
    alone_s += slowest(comm, clock.seconds());
    alone_setup_s += slowest(comm, alone.setup_seconds);
    const kmpi::LocalCenters z(alone.centers, kmpi::Precision::kFloat64);
    const Matrix<double> want = kmpi::kernel_times(comm, problem.kernel, q, z, alone.alpha);
    const Matrix<double> mine = kmpi::kernel_times(comm, problem.kernel, q, z, grid[point].alpha);
    double diff = 0, scale = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
      diff = std::max(diff, std::abs(mine.data()[i] - want.data()[i]));
      scale = std::max(scale, std::abs(want.data()[i]));
    }
    worst = std::max(worst, diff / scale);
  }
  const double grid_setup_s = slowest(comm, grid[0].setup_seconds);
  if (comm.rank() == 0) {
    std::printf("falkon grid %zu kernels x %zu ridges, n = %zu, d = %zu, p = %zu, c = 10, %zu CG "
                "iterations, %s, %d ranks\n",
                g_count, r_count, n, d, p, iterations, precision.c_str(), comm.size());
    std::printf("grid:     %8.2f s (setup %.2f s, CG %.2f s)\n", grid_s, grid_setup_s,
                grid_s - grid_setup_s);
    std::printf("separate: %8.2f s (setup %.2f s, CG %.2f s) in %zu train_falkon runs\n", alone_s,
                alone_setup_s, alone_s - alone_setup_s, grid.size());
    std::printf("ratio separate / grid: %.2f\n", alone_s / grid_s);
    std::printf("largest prediction difference grid vs alone (relative): %.2e\n", worst);
  }
  return 0;
}
