// Falkon across ranks: the ridge solution against a serial LAPACK solve of the normal equations,
// ridge -> 0 against the serial least squares solution, and rank invariance of centers and
// predictions.
#include <gtest/gtest.h>

#include "common.hpp"
#include "kmpi/scalapack.hpp"
#include "kmpi/solvers.hpp"

namespace kmpi {
namespace {

using namespace testing_support;

constexpr std::uint64_t kDataSeed = 61;

double target(const Matrix<double>& x, std::size_t i, std::size_t l) {
  double s = 0;
  for (std::size_t j = 0; j < x.cols(); ++j) s += x(i, j) * (j + 1);
  return l == 0 ? std::sin(s) : (x(i, 0) > 0.5 ? 1.0 : 0.0);
}

TrainingProblem make_problem(const mpi::Communicator& comm, std::size_t n, std::size_t d,
                             const Kernel& kernel) {
  TrainingProblem p;
  p.kernel = kernel;
  p.partition = BlockPartition(n, comm.size());
  const std::size_t b = p.partition.begin(comm.rank()), cnt = p.partition.count(comm.rank());
  p.x = synthetic_rows(kDataSeed, b, cnt, d);
  p.y = Matrix<double>(cnt, 2);
  for (std::size_t i = 0; i < cnt; ++i)
    for (std::size_t l = 0; l < 2; ++l) p.y(i, l) = target(p.x, i, l);
  return p;
}

// The serial problem: K_nZ (n x p), K_ZZ and Y, built here from the same point definitions.
struct SerialProblem {
  Matrix<double> x, z, knz, kzz, y;
};
SerialProblem serial_problem(std::size_t n, std::size_t d, const Kernel& kernel,
                             const std::vector<std::size_t>& centers) {
  SerialProblem s;
  s.x = synthetic_rows(kDataSeed, 0, n, d);
  s.z = select_rows(s.x, centers);
  s.knz = kernel_block(kernel, s.x, s.z);
  s.kzz = kernel_block(kernel, s.z, s.z);
  s.y = Matrix<double>(n, 2);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t l = 0; l < 2; ++l) s.y(i, l) = target(s.x, i, l);
  return s;
}

// K^T K + shift * K_ZZ + jitter I and K^T Y.
std::pair<Matrix<double>, Matrix<double>> normal_equations(const SerialProblem& s, double shift,
                                                           double jitter) {
  const std::size_t n = s.knz.rows(), p = s.knz.cols(), c = s.y.cols();
  Matrix<double> h(p, p), rhs(p, c);
  for (std::size_t a = 0; a < p; ++a) {
    for (std::size_t b = 0; b < p; ++b) {
      double v = 0;
      for (std::size_t i = 0; i < n; ++i) v += s.knz(i, a) * s.knz(i, b);
      h(a, b) = v + shift * s.kzz(a, b) + (a == b ? jitter : 0.0);
    }
    for (std::size_t l = 0; l < c; ++l) {
      double v = 0;
      for (std::size_t i = 0; i < n; ++i) v += s.knz(i, a) * s.y(i, l);
      rhs(a, l) = v;
    }
  }
  return {h, rhs};
}

// This rank's rows of a replicated p x c matrix under BlockPartition(p, P).
Matrix<double> my_rows(const Matrix<double>& all, const BlockPartition& part, int rank) {
  return rows_of(part.begin(rank), part.count(rank), all.cols(),
                 [&](std::size_t i, std::size_t l) { return all(i, l); });
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
  const auto [h, rhs] = normal_equations(s, ridge * n, 0.0);
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
  auto [h, rhs] = normal_equations(s, 0.0, 0.0);
  double trace = 0;
  for (std::size_t i = 0; i < h.rows(); ++i) trace += h(i, i);
  for (std::size_t i = 0; i < h.rows(); ++i) h(i, i) += 1e-14 * trace;
  const Matrix<double> want = serial::solve_spd(h, rhs);
  const auto& cp = result.center_partition;
  // Fitted values K_nZ alpha are determined well even where alpha is not: compare those at 1e-7
  // relative (cond(K^T K) ~1e6 times the 1e-13 residual), and alpha itself at 1e-5.
  const LocalCenters z(result.centers, Precision::kFloat64);
  const Matrix<double> fit =
      predict_distributed(comm, kernel, z, result.alpha, problem.partition, problem.x);
  const LocalCenters z_want(my_rows(s.z, cp, comm.rank()), Precision::kFloat64);
  const Matrix<double> fit_want = predict_distributed(
      comm, kernel, z_want, my_rows(want, cp, comm.rank()), problem.partition, problem.x);
  EXPECT_LT(max_abs_diff(fit, fit_want), 1e-7 * max_abs(s.y));
  EXPECT_LT(max_abs_diff(result.alpha, my_rows(want, cp, comm.rank())), 1e-5 * max_abs(want));
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
  std::vector<int> groups = {1};
  if (world.size() >= 2 && world.size() % 2 == 0) groups.push_back(2);
  if (world.size() > 2) groups.push_back(world.size());
  std::vector<Matrix<double>> predictions, centers;
  std::vector<std::vector<std::size_t>> indices;
  for (int g : groups) {
    auto comm = world.split(world.rank() / g, world.rank());
    const TrainingProblem p = make_problem(comm, n, d, kernel);
    const FalkonResult r = train_falkon(comm, p, o);
    const LocalCenters z(r.centers, Precision::kFloat64);
    predictions.push_back(kernel_times(comm, kernel, q, z, r.alpha));
    std::vector<std::size_t> every(70);
    for (std::size_t i = 0; i < every.size(); ++i) every[i] = i;
    centers.push_back(gather_selected_rows(comm, r.center_partition, r.centers, every));
    indices.push_back(r.center_indices);
  }
  for (std::size_t k = 1; k < groups.size(); ++k) {
    EXPECT_EQ(indices[k], indices[0]) << "group " << groups[k];
    EXPECT_EQ(max_abs_diff(centers[k], centers[0]), 0.0) << "group " << groups[k];
    // Reductions run in a different order at each rank count; 10 CG iterations amplify the
    // rounding differences little: 1e-9 relative.
    EXPECT_LT(max_abs_diff(predictions[k], predictions[0]), 1e-9 * max_abs(predictions[0]))
        << "group " << groups[k];
  }
}

}  // namespace
}  // namespace kmpi
