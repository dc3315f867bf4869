// Falkon across ranks: the ridge solution against a serial LAPACK solve of the normal equations,
// ridge -> 0 against the serial least squares solution, and rank invariance of centers and
// predictions.
#include <gtest/gtest.h>

#include "base/permutation.hpp"
#include "common.hpp"
#include "parallel/scalapack.hpp"
#include "solvers/solvers.hpp"

namespace kmpi {
namespace {

using namespace testing_support;

constexpr std::uint64_t kDataSeed = 61;

TrainingProblem make_problem(const mpi::Communicator& comm, std::size_t n, std::size_t d,
                             const Kernel& kernel) {
  return synthetic_problem(comm, n, d, kernel, kDataSeed);
}

SerialProblem serial_problem(std::size_t n, std::size_t d, const Kernel& kernel,
                             const std::vector<std::size_t>& centers) {
  return serial_falkon_problem(synthetic_rows(kDataSeed, 0, n, d), kernel, centers);
}

FalkonOptions exact_options(double ridge) {
  FalkonOptions o;
  o.centers = 40;
  o.ridge = ridge;
  o.iterations = 200;
  o.tolerance = 1e-13;
  o.seed = 7;
  o.precision = Precision::kFloat64;
  return o;
}

// The largest |fit - fit_want| over the ranks' data rows, where fit = K(X, Z) alpha of the result
// and fit_want = K(X, Z) want of the serial reference's weights (all rows of `want`).
double fit_difference(const mpi::Communicator& comm, const Kernel& kernel,
                      const TrainingProblem& problem, const FalkonResult& result,
                      const SerialProblem& s, const Matrix<double>& want) {
  const auto& cp = result.center_partition;
  const LocalCenters z(result.centers, Precision::kFloat64);
  const Matrix<double> fit =
      predict_distributed(comm, kernel, z, result.alpha, problem.partition, problem.x);
  const LocalCenters z_want(my_rows(s.z, cp, comm.rank()), Precision::kFloat64);
  const Matrix<double> fit_want = predict_distributed(
      comm, kernel, z_want, my_rows(want, cp, comm.rank()), problem.partition, problem.x);
  return global_max_diff(comm, fit, fit_want);
}

TEST(Falkon, RidgeSolutionMatchesSerialNormalEquations) {
  auto comm = mpi::Communicator::world();
  const std::size_t n = 300, d = 5;
  const Kernel kernel = Kernel::from_name("gaussian", 0.6);
  const double ridge = 1e-3;
  const TrainingProblem problem = make_problem(comm, n, d, kernel);
  const FalkonResult result = train_falkon(comm, problem, exact_options(ridge));
  ASSERT_EQ(result.center_indices, random_subset(n, 40, 7, RngStream::kCenters));
  ASSERT_EQ(result.center_partition, BlockPartition(40, comm.size()));

  const SerialProblem s = serial_problem(n, d, kernel, result.center_indices);
  // (K_nZ^T K_nZ + lambda n K_ZZ) alpha = K_nZ^T Y; Falkon regularises with K_ZZ + eps I, eps =
  // p 2^-52 ~ 1e-14, which moves alpha by ~eps / lambda_min(K_ZZ) relative: far below 1e-8 here.
  const auto [h, rhs] = ridge_normal_equations(s, ridge * n);
  const Matrix<double> want = serial::solve_spd(h, rhs);
  const Matrix<double> mine = my_rows(want, result.center_partition, comm.rank());
  // CG is run to a relative residual of 1e-13 on a preconditioned system of condition ~1e2: the
  // weights agree to 1e-8 relative to their size.
  EXPECT_LT(max_abs_diff(result.alpha, mine), 1e-8 * max_abs(want));
  EXPECT_LT(max_abs_diff(result.centers, my_rows(s.z, result.center_partition, comm.rank())),
            1e-15);
  EXPECT_LE(result.residuals.back(), 1e-13);
  EXPECT_LT(result.residuals.size(), 60u);  // the preconditioner works: few iterations
}

// solver.factor_precision = float32: the factors are float32 (pspotrf, the recursive gram
// product), so falkon solves with T^T T = K_ZZ + eps I + E, E ~ 1e-7 |K_ZZ| (float32 rounding),
// and eps = 1e-6 p (result.jitter). The reference is the serial solve with K_ZZ + eps I in
// float64: the fitted values K_nZ alpha agree to 1e-4 of |Y| (E / eps ~ 1e-2 of a regulariser
// that is itself a small part of H).
TEST(Falkon, Float32FactorsSolveTheSystemWithTheirJitter) {
  auto comm = mpi::Communicator::world();
  const std::size_t n = 300, d = 5;
  const Kernel kernel = Kernel::from_name("gaussian", 0.6);
  const double ridge = 1e-3;
  const TrainingProblem problem = make_problem(comm, n, d, kernel);
  FalkonOptions o = exact_options(ridge);
  o.factor_precision = Precision::kFloat32;
  const FalkonResult result = train_falkon(comm, problem, o);
  EXPECT_DOUBLE_EQ(result.jitter, 1e-6 * 40);

  const SerialProblem s = serial_problem(n, d, kernel, result.center_indices);
  auto [h, rhs] = ridge_normal_equations(s, ridge * n);
  for (std::size_t i = 0; i < h.rows(); ++i) h(i, i) += ridge * n * result.jitter;
  const Matrix<double> want = serial::solve_spd(h, rhs);
  EXPECT_LT(fit_difference(comm, kernel, problem, result, s, want), 1e-4 * max_abs(s.y));
  EXPECT_LT(result.residuals.size(), 60u);  // still a good preconditioner
}

TEST(Falkon, RidgeToZeroConvergesToRestrictedLeastSquares) {
  auto comm = mpi::Communicator::world();
  const std::size_t n = 300, d = 5;
  const Kernel kernel = Kernel::from_name("gaussian", 0.6);
  const TrainingProblem problem = make_problem(comm, n, d, kernel);
  FalkonOptions o = exact_options(0.0);
  o.centers = 25;
  const FalkonResult result = train_falkon(comm, problem, o);

  // argmin ||K_nZ alpha - Y||: normal equations K^T K alpha = K^T Y with a jitter of 1e-14 of
  // the trace, far below the smallest eigenvalue of K^T K here (K_nZ has full column rank).
  const SerialProblem s = serial_problem(n, d, kernel, result.center_indices);
  auto [h, rhs] = normal_equations(s.knz, s.y);
  double trace = 0;
  for (std::size_t i = 0; i < h.rows(); ++i) trace += h(i, i);
  for (std::size_t i = 0; i < h.rows(); ++i) h(i, i) += 1e-14 * trace;
  const Matrix<double> want = serial::solve_spd(h, rhs);
  // Fitted values K_nZ alpha are determined well even where alpha is not: compare those at 1e-7
  // relative (cond(K^T K) ~1e6 times the 1e-13 residual), and alpha itself at 1e-5.
  EXPECT_LT(fit_difference(comm, kernel, problem, result, s, want), 1e-7 * max_abs(s.y));
  EXPECT_LT(max_abs_diff(result.alpha, my_rows(want, result.center_partition, comm.rank())),
            1e-5 * max_abs(want));
}

TEST(Falkon, SameCentersAndPredictionsAtEveryRankCount) {
  auto world = mpi::Communicator::world();
  const std::size_t n = 500, d = 4, nq = 30;
  const Kernel kernel = Kernel::from_name("laplacian", 1.0);
  FalkonOptions o;
  o.centers = 70;
  o.ridge = 1e-4;
  o.iterations = 10;  // not converged: the iterates themselves must agree
  o.seed = 3;
  o.precision = Precision::kFloat64;
  const Matrix<double> q = synthetic_rows(99, 0, nq, d);
  // Reductions run in a different order at each rank count; 10 CG iterations amplify the
  // rounding differences little: 1e-9 relative.
  expect_same_model_in_every_group(world, kernel, q, 1e-9, [&](const mpi::Communicator& comm) {
    return train_falkon(comm, make_problem(comm, n, d, kernel), o);
  });
}

}  // namespace
}  // namespace kmpi
