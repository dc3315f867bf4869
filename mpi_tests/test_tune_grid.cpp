// The grid solvers of src/search/tune.hpp (issue 15) across ranks: every point of a kernels x ridges
// grid against the one-point solver run alone with that kernel and ridge, and against serial
// references built here (LAPACK on the normal equations, or on K + lambda n I); the grid at
// every rank count; resume from a mid-run vector of states; a point whose residual grows beside
// points that converge.
#include <gtest/gtest.h>

#include <cstring>

#include "common.hpp"
#include "parallel/scalapack.hpp"
#include "solvers/solvers.hpp"
#include "solvers/grid_solvers.hpp"

namespace kmpi {
namespace {

using namespace testing_support;

constexpr std::uint64_t kDataSeed = 83;

// Three kernels of different character and three ridges; kernel-major points g * 3 + r.
std::vector<Kernel> grid_kernels() {
  return {Kernel::from_name("gaussian", 1.0), Kernel::from_name("laplacian", 1.0),
          Kernel::from_name("matern", 1.0, 1.5)};
}
const std::vector<double> kRidges = {1e-2, 1e-3, 1e-4};

// Not converged in `iterations` (at the small ridges): the iterates themselves must agree.
FalkonOptions grid_options(Precision precision, std::size_t iterations = 10) {
  FalkonOptions o;
  o.centers = 60;
  o.iterations = iterations;
  o.tolerance = 1e-12;
  o.seed = 5;
  o.precision = precision;
  return o;
}

TrainingProblem with_kernel(TrainingProblem problem, const Kernel& kernel) {
  problem.kernel = kernel;
  return problem;
}

FalkonOptions with_ridge(FalkonOptions o, double ridge) {
  o.ridge = ridge;
  return o;
}

// collective: K(Q, Z) alpha of a falkon result for queries q replicated on every rank.
Matrix<double> predictions(const mpi::Communicator& comm, const Kernel& kernel,
                           const FalkonResult& r, const Matrix<double>& q) {
  return kernel_times(comm, kernel, q, LocalCenters(r.centers, Precision::kFloat64), r.alpha);
}

// local: the same bits (shapes and every entry).
bool same_bits(const Matrix<double>& a, const Matrix<double>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), 8 * a.size()) == 0;
}

// collective: every point of the grid against train_falkon alone with its kernel and ridge:
// the same centers, jitter, iteration count and best iteration, and predictions on queries
// within rel_tol of their largest value; weights and residuals bit for bit when rel_tol is 0.
void expect_grid_equals_separate_runs(const mpi::Communicator& comm, const FalkonOptions& o,
                                      const std::vector<Kernel>& kernels,
                                      const std::vector<double>& ridges, double rel_tol) {
  const TrainingProblem problem = synthetic_problem(comm, 300, 5, kernels[0], kDataSeed);
  const std::vector<FalkonResult> grid = train_falkon_grid(comm, problem, kernels, ridges, o);
  ASSERT_EQ(grid.size(), kernels.size() * ridges.size());
  const Matrix<double> q = synthetic_rows(97, 0, 25, 5);
  for (std::size_t g = 0; g < kernels.size(); ++g)
    for (std::size_t r = 0; r < ridges.size(); ++r) {
      const FalkonResult& mine = grid[g * ridges.size() + r];
      const FalkonResult alone =
          train_falkon(comm, with_kernel(problem, kernels[g]), with_ridge(o, ridges[r]));
      const std::string at = kernels[g].name() + ", ridge " + std::to_string(ridges[r]);
      EXPECT_EQ(mine.center_indices, alone.center_indices) << at;
      EXPECT_EQ(mine.jitter, alone.jitter) << at;
      EXPECT_EQ(mine.residuals.size(), alone.residuals.size()) << at;
      EXPECT_EQ(mine.best_iteration, alone.best_iteration) << at;
      EXPECT_EQ(mine.residual_grew, alone.residual_grew) << at;
      EXPECT_FALSE(mine.interrupted);
      const Matrix<double> want = predictions(comm, kernels[g], alone, q);
      const double diff = max_abs_diff(predictions(comm, kernels[g], mine, q), want);
      if (rel_tol == 0) {
        EXPECT_TRUE(same_bits(mine.alpha, alone.alpha)) << at;
        EXPECT_EQ(mine.residuals, alone.residuals) << at;
      }
      EXPECT_LE(diff, rel_tol * max_abs(want)) << at;
    }
}

// A kernel's ridges share its GEMMs (k c columns instead of c), which BLAS may round
// differently per column (OpenBLAS does here, at 4 ranks in float64 and at every rank count in
// float32), and CG carries that rounding on, as it carries the other reduction order of a run
// alone at another rank count (falkon_grid.cpp's header has the measurements). On these
// well-conditioned points: predictions within 1e-8 in float64 and 1e-3 in float32 (measured
// 1.9e-4; float32 rounding is 6e-8). float64 measured 7.5e-13 at most until 2026-12-02, then
// 2.9e-10 to 1.2e-9 at 1, 2 and 4 ranks (the ridge 1e-4 point) after the factor changes of that
// day (recursive gram product, PILAENV, block 128); restoring PILAENV 32 and block 64 alone did
// not bring it back, and the cause is not isolated yet. Still 1e-9 of the predictions.
TEST(FalkonGrid, EveryPointEqualsTrainFalkonAloneFloat64) {
  expect_grid_equals_separate_runs(mpi::Communicator::world(), grid_options(Precision::kFloat64),
                                   grid_kernels(), kRidges, 1e-8);
}

TEST(FalkonGrid, EveryPointEqualsTrainFalkonAloneFloat32) {
  expect_grid_equals_separate_runs(mpi::Communicator::world(),
                                   grid_options(Precision::kFloat32, 6), grid_kernels(), kRidges,
                                   1e-3);
}

// With one ridge every GEMM and allreduce of the grid has the c columns of a run alone, and a
// kernel tile from shared products is kernel_block's bit for bit: the grid is bit-identical.
TEST(FalkonGrid, OneRidgePerKernelIsBitIdentical) {
  for (Precision precision : {Precision::kFloat64, Precision::kFloat32})
    expect_grid_equals_separate_runs(mpi::Communicator::world(), grid_options(precision, 15),
                                     grid_kernels(), {1e-5}, 0.0);
}

// The independent reference: run to convergence, every point solves its own normal equations
// (K_nZ^T K_nZ + lambda n K_ZZ) alpha = K_nZ^T Y, built and solved serially here.
TEST(FalkonGrid, ConvergedPointsSolveTheirNormalEquations) {
  auto comm = mpi::Communicator::world();
  const std::size_t n = 300, d = 5;
  const std::vector<Kernel> kernels = {Kernel::from_name("gaussian", 0.6),
                                       Kernel::from_name("cauchy", 0.9)};
  const std::vector<double> ridges = {1e-3, 1e-4};
  const TrainingProblem problem = synthetic_problem(comm, n, d, kernels[0], kDataSeed);
  FalkonOptions o = grid_options(Precision::kFloat64, 200);
  o.centers = 40;
  o.tolerance = 1e-13;
  const std::vector<FalkonResult> grid = train_falkon_grid(comm, problem, kernels, ridges, o);
  for (std::size_t point = 0; point < grid.size(); ++point) {
    const FalkonResult& mine = grid[point];
    const Kernel& kernel = kernels[point / 2];
    const double ridge = ridges[point % 2];
    const SerialProblem s =
        serial_falkon_problem(synthetic_rows(kDataSeed, 0, n, d), kernel, mine.center_indices);
    const auto [h, rhs] = ridge_normal_equations(s, ridge * n);
    const Matrix<double> want = serial::solve_spd(h, rhs);
    // As in test_falkon.cpp: CG to 1e-13 on a system of condition ~1e2, eps ~1e-14: 1e-8.
    EXPECT_LT(global_max_diff(comm, mine.alpha, my_rows(want, mine.center_partition, comm.rank())),
              1e-8 * max_abs(want))
        << "point " << point;
    EXPECT_LE(mine.residuals.back(), 1e-13) << "point " << point;
  }
}

TEST(FalkonGrid, SameAtEveryRankCount) {
  auto world = mpi::Communicator::world();
  const std::size_t n = 400, d = 4;
  // Well-conditioned points: a run alone of the gaussian at ridge 1e-4 already moves 1e-9
  // between rank counts, which the grid cannot do better than.
  const std::vector<Kernel> kernels = {Kernel::from_name("laplacian", 1.0),
                                       Kernel::from_name("gaussian", 1.0)};
  const std::vector<double> ridges = {1e-2, 1e-3};
  const FalkonOptions o = grid_options(Precision::kFloat64);
  const Matrix<double> q = synthetic_rows(99, 0, 30, d);
  const std::vector<int> groups = rank_group_sizes(world.size());
  std::vector<std::vector<Matrix<double>>> preds(groups.size());
  std::vector<std::vector<std::size_t>> indices;
  for (std::size_t k = 0; k < groups.size(); ++k) {
    auto comm = world.split(world.rank() / groups[k], world.rank());
    const std::vector<FalkonResult> grid = train_falkon_grid(
        comm, synthetic_problem(comm, n, d, kernels[0], kDataSeed), kernels, ridges, o);
    for (std::size_t point = 0; point < grid.size(); ++point)
      preds[k].push_back(predictions(comm, kernels[point / 2], grid[point], q));
    indices.push_back(grid[0].center_indices);
  }
  // As test_falkon.cpp's rank invariance: reductions in another order, 10 CG iterations: 1e-9.
  for (std::size_t k = 1; k < groups.size(); ++k) {
    EXPECT_EQ(indices[k], indices[0]) << "group " << groups[k];
    for (std::size_t point = 0; point < preds[0].size(); ++point)
      EXPECT_LT(max_abs_diff(preds[k][point], preds[0][point]), 1e-9 * max_abs(preds[0][point]))
          << "group " << groups[k] << ", point " << point;
  }
}

// A problem whose rows come in near-duplicate pairs (1e-3 apart): with ridge 0 the float64
// residual grows within ~20 iterations (K_ZZ near-singular), with 1e-3 CG converges normally.
TrainingProblem near_duplicate_problem(const mpi::Communicator& comm, std::size_t n,
                                       std::size_t d) {
  TrainingProblem p;
  p.kernel = Kernel::from_name("gaussian", 0.6);
  p.partition = BlockPartition(n, comm.size());
  p.x = rows_of(p.partition.begin(comm.rank()), p.partition.count(comm.rank()), d,
                [](std::size_t i, std::size_t j) {
                  return uniform01(kDataSeed, i / 2, j) + 1e-3 * uniform01(kDataSeed + 1, i, j);
                });
  p.y = smooth_targets(p.x);
  return p;
}

FalkonOptions growth_options() {
  FalkonOptions o = grid_options(Precision::kFloat64, 25);  // ridge 1e-3: to the cap
  o.centers = 100;
  o.tolerance = 1e-14;
  return o;
}

TEST(FalkonGrid, AGrowingPointDoesNotDisturbTheOthers) {
  auto comm = mpi::Communicator::world();
  const TrainingProblem problem = near_duplicate_problem(comm, 300, 5);
  const std::vector<Kernel> kernels = {Kernel::from_name("gaussian", 0.6),
                                       Kernel::from_name("laplacian", 1.0)};
  const std::vector<double> ridges = {1e-3, 0.0};
  const FalkonOptions o = growth_options();
  std::vector<std::size_t> last_iteration(kernels.size() * ridges.size(), 0);
  const std::vector<FalkonResult> grid = train_falkon_grid(
      comm, problem, kernels, ridges, o,
      [&](std::size_t point, std::size_t it, double) { last_iteration[point] = it; });
  ASSERT_EQ(grid.size(), 4u);
  // The gaussian at ridge 0 grows and stops there with its best iterate.
  EXPECT_TRUE(grid[1].residual_grew);
  EXPECT_LT(grid[1].best_iteration, grid[1].residuals.size());
  EXPECT_EQ(last_iteration[1], grid[1].residuals.size());
  EXPECT_GT(global_max_abs(comm, grid[1].alpha), 0.0);
  // The ridge 1e-3 points run on past it to the iteration cap (1e-14 is out of reach) and equal
  // their runs alone up to the rounding of their kernel's GEMMs with 2c columns while the other
  // ran, which 25 iterations on a near-singular K_ZZ carry further than above: measured 3e-9 at
  // 4 ranks, bounded at 1e-7.
  const Matrix<double> q = synthetic_rows(97, 0, 25, 5);
  for (std::size_t point : {std::size_t(0), std::size_t(2)}) {
    const Kernel& kernel = kernels[point / 2];
    const FalkonResult alone = train_falkon(comm, with_kernel(problem, kernel), with_ridge(o, ridges[0]));
    EXPECT_FALSE(grid[point].residual_grew) << "point " << point;
    EXPECT_GT(grid[point].residuals.size(), grid[1].residuals.size()) << "point " << point;
    EXPECT_EQ(grid[point].residuals.size(), alone.residuals.size()) << "point " << point;
    const Matrix<double> want = predictions(comm, kernel, alone, q);
    EXPECT_LE(max_abs_diff(predictions(comm, kernel, grid[point], q), want), 1e-7 * max_abs(want))
        << "point " << point;
  }
}

// Stopped after a few grid iterations (the states copied as a checkpoint would write them) and
// resumed from those states, the grid gives the uninterrupted run's results bit for bit: the
// setup is rebuilt identically on the same rank count, and every point, stopped or running, goes
// on from its own state.
TEST(FalkonGrid, ResumeFromMidRunStatesGivesTheUninterruptedResult) {
  auto comm = mpi::Communicator::world();
  const TrainingProblem problem = near_duplicate_problem(comm, 300, 5);
  const std::vector<Kernel> kernels = {Kernel::from_name("gaussian", 0.6),
                                       Kernel::from_name("matern", 0.8, 1.5)};
  const std::vector<double> ridges = {1e-3, 0.0, 1e-6};
  const FalkonOptions o = growth_options();
  const std::vector<FalkonResult> whole = train_falkon_grid(comm, problem, kernels, ridges, o);
  // Stop once some point has already stopped (the growing one), others still running.
  std::vector<FalkonCgState> saved;
  FalkonGridControl stop;
  stop.after_iteration = [&](const std::vector<FalkonCgState>& states) {
    const bool some_stopped = std::any_of(states.begin(), states.end(), [&](const auto& s) {
      return std::none_of(s.active.begin(), s.active.end(), [](char a) { return a != 0; });
    });
    if (!some_stopped) return true;
    saved = states;
    return false;
  };
  const std::vector<FalkonResult> cut = train_falkon_grid(comm, problem, kernels, ridges, o, {}, stop);
  ASSERT_EQ(saved.size(), whole.size());
  for (const FalkonResult& r : cut) {
    EXPECT_TRUE(r.interrupted);
    EXPECT_EQ(r.alpha.size(), 0u);
  }
  std::size_t running = 0;
  for (const FalkonCgState& s : saved) running += s.iteration < o.iterations && s.active[0];
  EXPECT_GT(running, 0u);  // a true mid-run state
  FalkonGridControl resume;
  resume.start = &saved;
  const std::vector<FalkonResult> resumed =
      train_falkon_grid(comm, problem, kernels, ridges, o, {}, resume);
  for (std::size_t point = 0; point < whole.size(); ++point) {
    EXPECT_TRUE(same_bits(resumed[point].alpha, whole[point].alpha)) << "point " << point;
    EXPECT_EQ(resumed[point].residuals, whole[point].residuals) << "point " << point;
    EXPECT_EQ(resumed[point].best_iteration, whole[point].best_iteration) << "point " << point;
    EXPECT_EQ(resumed[point].residual_grew, whole[point].residual_grew) << "point " << point;
  }
  std::vector<FalkonCgState> wrong(saved.begin(), saved.end() - 1);
  resume.start = &wrong;
  EXPECT_NE(collective_error_of([&] { train_falkon_grid(comm, problem, kernels, ridges, o, {}, resume); }),
            "");
}

// ---- direct ----

// Every point of the direct grid against solve_direct alone (bit for bit: the same K from shared
// products, the same factorisation calls) and against a serial LAPACK solve of
// (K + lambda n I) alpha = Y built here (1e-9 relative: cond(K + lambda n I) <= ~1e5 here, the
// distributed and the serial Cholesky round differently).
TEST(DirectGrid, EveryPointEqualsSolveDirectAloneAndTheSerialSolve) {
  auto comm = mpi::Communicator::world();
  const std::size_t n = 200, d = 4;
  const std::vector<Kernel> kernels = {Kernel::from_name("gaussian", 0.6),
                                       Kernel::from_name("laplacian", 1.0),
                                       Kernel::from_name("cauchy", 0.9)};
  const std::vector<double> ridges = {1e-2, 1e-4};
  const TrainingProblem problem = synthetic_problem(comm, n, d, kernels[0], kDataSeed);
  const std::vector<Matrix<double>> grid = solve_direct_grid(comm, problem, kernels, ridges);
  ASSERT_EQ(grid.size(), 6u);
  const Matrix<double> x = synthetic_rows(kDataSeed, 0, n, d), y = smooth_targets(x);
  for (std::size_t point = 0; point < grid.size(); ++point) {
    const Kernel& kernel = kernels[point / 2];
    const double ridge = ridges[point % 2];
    const Matrix<double> alone = solve_direct(comm, with_kernel(problem, kernel), ridge);
    EXPECT_TRUE(same_bits(grid[point], alone)) << "point " << point;
    Matrix<double> k = kernel_block(kernel, x, x);
    for (std::size_t i = 0; i < n; ++i) k(i, i) += ridge * static_cast<double>(n);
    const Matrix<double> want = serial::solve_spd(k, y);
    EXPECT_LT(global_max_diff(comm, grid[point], my_rows(want, problem.partition, comm.rank())),
              1e-9 * max_abs(want))
        << "point " << point;
  }
}

}  // namespace
}  // namespace kmpi
