// EigenPro 4 across ranks: convergence to the restricted least squares solution that Falkon
// (ridge 0) and a serial LAPACK solve also reach, delayed projection (default T) against T = 1
// (EigenPro 3), and rank invariance of centers and predictions.
#include <gtest/gtest.h>

#include "base/permutation.hpp"
#include "common.hpp"
#include "solvers/center_factor.hpp"
#include "parallel/scalapack.hpp"
#include "solvers/solvers.hpp"

namespace kmpi {
namespace {

using namespace testing_support;

constexpr std::uint64_t kDataSeed = 71;

// Targets: a smooth function of x (not in the span of the centers) or, with `in_span`, the
// model K(x, Z) beta_true itself for Z = the rows `centers` and beta_true(j, l) = cos(j + l).
TrainingProblem make_problem(const mpi::Communicator& comm, std::size_t n, std::size_t d,
                             const Kernel& kernel, const std::vector<std::size_t>* in_span) {
  TrainingProblem p = synthetic_problem(comm, n, d, kernel, kDataSeed);
  if (in_span) {
    const std::size_t cnt = p.x.rows();
    p.y = Matrix<double>(cnt, 2);
    const Matrix<double> z = select_rows(synthetic_rows(kDataSeed, 0, n, d), *in_span);
    const Matrix<double> k = kernel_block(kernel, p.x, z);
    for (std::size_t i = 0; i < cnt; ++i)
      for (std::size_t l = 0; l < 2; ++l)
        for (std::size_t j = 0; j < z.rows(); ++j) p.y(i, l) += k(i, j) * std::cos(double(j + l));
  }
  return p;
}

// collective: K(X_r, Z) alpha for this rank's training rows.
Matrix<double> fitted(const mpi::Communicator& comm, const TrainingProblem& p,
                      const Matrix<double>& centers, const Matrix<double>& alpha) {
  const LocalCenters z(centers, Precision::kFloat64);
  return predict_distributed(comm, p.kernel, z, alpha, p.partition, p.x);
}

// Serial restricted least squares argmin ||K(X,Z) alpha - Y|| by the normal equations, and its
// fitted values on this rank's rows.
Matrix<double> serial_fit(const mpi::Communicator& comm, const TrainingProblem& p,
                          const std::vector<std::size_t>& centers,
                          Matrix<double>* alpha_out = nullptr) {
  const std::size_t n = p.partition.size(), d = p.x.cols();
  const Matrix<double> x = synthetic_rows(kDataSeed, 0, n, d);
  const Matrix<double> z = select_rows(x, centers);
  const Matrix<double> k = kernel_block(p.kernel, x, z);
  const auto [h, rhs] = normal_equations(k, gather_rows(comm, p.partition, p.y));
  const Matrix<double> alpha = serial::solve_spd(h, rhs);
  const std::size_t pc = z.rows(), c = rhs.cols();
  if (alpha_out) *alpha_out = alpha;
  const std::size_t b = p.partition.begin(comm.rank());
  Matrix<double> out(p.partition.count(comm.rank()), c);
  for (std::size_t i = 0; i < out.rows(); ++i)
    for (std::size_t l = 0; l < c; ++l)
      for (std::size_t j = 0; j < pc; ++j) out(i, l) += k(b + i, j) * alpha(j, l);
  return out;
}

EigenPro4Options small_options() {
  EigenPro4Options o;
  o.centers = 25;
  o.data_samples = 100;
  o.data_level = 8;
  o.model_samples = 25;
  o.seed = 5;
  o.precision = Precision::kFloat64;
  return o;
}

// 160 centers with 200-sample, level-20 preconditioners: the projection tests' setting.
EigenPro4Options projection_test_options() {
  EigenPro4Options o = small_options();
  o.centers = 160;
  o.data_samples = 200;
  o.data_level = 20;
  o.model_samples = 160;
  o.model_level = 20;
  return o;
}

FalkonResult falkon_least_squares(const mpi::Communicator& comm, const TrainingProblem& problem,
                                  std::size_t p) {
  FalkonOptions fo;
  fo.centers = p;
  fo.ridge = 0;
  fo.iterations = 300;
  fo.tolerance = 1e-13;
  fo.seed = 5;
  fo.precision = Precision::kFloat64;
  return train_falkon(comm, problem, fo);
}

// With targets in the span of K(., Z) the restricted least squares solution fits them exactly and
// is the fixed point of preconditioned, projected SGD (mini-batches: the noise vanishes there).
TEST(EigenPro4, AndFalkonReachTheRestrictedLeastSquaresSolution) {
  auto comm = mpi::Communicator::world();
  const std::size_t n = 300, d = 5;
  const Kernel kernel = Kernel::from_name("gaussian", 0.6);
  const auto centers = random_subset(n, 25, 5, RngStream::kCenters);
  const TrainingProblem problem = make_problem(comm, n, d, kernel, &centers);
  EigenPro4Options o = small_options();
  o.epochs = 250;
  o.projection_epochs = 20;
  const EigenPro4Result ep = train_eigenpro4(comm, problem, o);
  ASSERT_EQ(ep.center_indices, centers);
  const FalkonResult fa = falkon_least_squares(comm, problem, 25);
  const Matrix<double> want = serial_fit(comm, problem, centers);
  const double scale = global_max_abs(comm, want);
  // Falkon: CG to 1e-13 on a well-preconditioned system. EigenPro 4: 250 epochs with 20-epoch
  // projections contract the slowest direction far enough; 1e-7 relative on the fitted values
  // (with these centers and batch orders the error falls about 15x per 50 epochs: 5.0e-6 at
  // 150, 3.3e-7 at 200).
  EXPECT_LT(global_max_diff(comm, fitted(comm, problem, fa.centers, fa.alpha), want), 1e-9 * scale);
  EXPECT_LT(global_max_diff(comm, fitted(comm, problem, ep.centers, ep.alpha), want), 1e-7 * scale);
}

// Without the data preconditioner, EigenPro 4 is projected gradient descent whose fixed point is
// the restricted least squares solution for any targets; full batches make it deterministic.
TEST(EigenPro4, UnpreconditionedFullBatchReachesLeastSquaresForAnyTargets) {
  auto comm = mpi::Communicator::world();
  const std::size_t n = 300, d = 5;
  const Kernel kernel = Kernel::from_name("gaussian", 0.4);
  const TrainingProblem problem = make_problem(comm, n, d, kernel, nullptr);
  EigenPro4Options o = small_options();
  o.precondition = false;
  o.batch_size = n;
  o.data_samples = n;  // lambda_1 exact, so the full-batch step 0.99 * 2 / lambda_1 is stable
  o.epochs = 1000;
  o.projection_epochs = 20;
  const EigenPro4Result ep = train_eigenpro4(comm, problem, o);
  const FalkonResult fa = falkon_least_squares(comm, problem, 25);
  const Matrix<double> want = serial_fit(comm, problem, ep.center_indices);
  const double scale = global_max_abs(comm, want);
  // Gradient descent on a problem of moderate condition: 1000 epochs reach 1e-6 relative.
  EXPECT_LT(global_max_diff(comm, fitted(comm, problem, fa.centers, fa.alpha), want), 1e-9 * scale);
  EXPECT_LT(global_max_diff(comm, fitted(comm, problem, ep.centers, ep.alpha), want), 1e-6 * scale);
}

// With the data preconditioner on and targets outside the span, the restricted least squares
// solution is still the fixed point: the preconditioner's sample X_S is drawn from Z, so P
// commutes with the projection onto span K(., Z) (train_eigenpro4). Started there, full-batch
// EigenPro 4 stays there: the gradient K(Z, X) r vanishes, and so does the preconditioner's
// K(X_S, X) r, X_S being rows of Z. With X_S drawn from X instead it moves away at once (and
// diverged after 2844 full-batch epochs from zero, where this version converges).
TEST(EigenPro4, LeastSquaresIsTheFixedPointWithThePreconditionerForAnyTargets) {
  auto comm = mpi::Communicator::world();
  const std::size_t n = 300, d = 5, p = 100;
  const Kernel kernel = Kernel::from_name("gaussian", 0.4);
  const TrainingProblem problem = make_problem(comm, n, d, kernel, nullptr);
  EigenPro4Options o = small_options();
  o.centers = p;
  o.batch_size = n;
  o.data_samples = p;
  o.data_level = 5;
  o.model_samples = p;
  o.damping = 0.5;  // full batches at 0.99 * 2 / lambda would sit on the edge of stability
  o.epochs = 5;
  o.projection_epochs = 20;
  const auto centers = random_subset(n, p, o.seed, RngStream::kCenters);
  Matrix<double> alpha_ls;
  const Matrix<double> want = serial_fit(comm, problem, centers, &alpha_ls);
  const Matrix<double> start = my_rows(alpha_ls, BlockPartition(p, comm.size()), comm.rank());
  IterationControl control;
  control.start_alpha = &start;
  const EigenPro4Result ep = train_eigenpro4(comm, problem, o, {}, control);
  ASSERT_EQ(ep.center_indices, centers);
  const double scale = global_max_abs(comm, want);
  // Rounding in the serial normal equations leaves a gradient of ~1e-12; 1e-7 relative.
  EXPECT_LT(global_max_diff(comm, fitted(comm, problem, ep.centers, ep.alpha), want), 1e-7 * scale);
}

// collective: mean squared training error of the model, over all rows and outputs.
double training_mse(const mpi::Communicator& comm, const TrainingProblem& p,
                    const EigenPro4Result& r) {
  const Matrix<double> f = fitted(comm, p, r.centers, r.alpha);
  double s = 0;
  for (std::size_t i = 0; i < f.size(); ++i)
    s += (f.data()[i] - p.y.data()[i]) * (f.data()[i] - p.y.data()[i]);
  return comm.allreduce_value(s) / static_cast<double>(p.partition.size() * p.y.cols());
}

TEST(EigenPro4, DelayedProjectionLosesNoAccuracy) {
  auto comm = mpi::Communicator::world();
  const std::size_t n = 800, d = 5;
  const Kernel kernel = Kernel::from_name("gaussian", 0.6);
  const TrainingProblem problem = make_problem(comm, n, d, kernel, nullptr);
  EigenPro4Options o = projection_test_options();
  o.batch_size = 20;
  o.epochs = 4;
  o.projection_epochs = 2;
  o.projection_period = 1;
  const EigenPro4Result t1 = train_eigenpro4(comm, problem, o);
  o.projection_period = 0;
  const EigenPro4Result tdef = train_eigenpro4(comm, problem, o);
  ASSERT_EQ(tdef.projection_period, 160u / 20u);
  const double e1 = training_mse(comm, problem, t1), edef = training_mse(comm, problem, tdef);
  // Both are SGD runs with the same batches and step; they differ only in when the gradient is
  // projected. Within 10% of each other (measured 0.1429 with T = 1, 0.1436 with T = 8).
  EXPECT_LT(std::abs(edef - e1), 0.1 * e1);
  // And both have learned: well below the error of the zero model, mean y^2.
  double y2 = 0;
  for (std::size_t i = 0; i < problem.y.size(); ++i)
    y2 += problem.y.data()[i] * problem.y.data()[i];
  y2 = comm.allreduce_value(y2) / static_cast<double>(n * problem.y.cols());
  EXPECT_LT(edef, 0.3 * y2);
  EXPECT_LT(e1, 0.3 * y2);
}

TEST(EigenPro4, SameCentersAndPredictionsAtEveryRankCount) {
  auto world = mpi::Communicator::world();
  const std::size_t n = 500, d = 4, nq = 30;
  const Kernel kernel = Kernel::from_name("laplacian", 1.0);
  EigenPro4Options o = small_options();
  o.centers = 90;
  o.model_samples = 60;
  o.epochs = 2;
  o.projection_period = 3;
  const Matrix<double> q = synthetic_rows(98, 0, nq, d);
  // The same batches, samples and steps; only reduction order differs: 1e-9 relative.
  expect_same_model_in_every_group(world, kernel, q, 1e-9, [&](const mpi::Communicator& comm) {
    return train_eigenpro4(comm, make_problem(comm, n, d, kernel, nullptr), o);
  });
}

// ---- The exact projection (solver.projection = cholesky) ----

// CenterSolver's theta = (K_ZZ + eps I)^{-1} h equals a serial LAPACK solve of the same system
// at every rank count, with a float64 and with a float32 factor (solver.factor_precision). The
// kernel is narrow enough that K_ZZ is well conditioned (its smallest eigenvalue is checked), so
// 1e-8 relative separates a wrong float64 solve from rounding; a float32 factor and solve carry
// errors of about cond(K_ZZ + eps I) * 6e-8 at most (cond < 1e3 here; measured 1.1e-6), so 2e-5
// for it, still far below the O(1) of a wrong solve.
TEST(EigenPro4, ExactProjectionEqualsTheSerialSolve) {
  auto world = mpi::Communicator::world();
  const std::size_t p = 90, d = 5, c = 3;
  const Kernel kernel = Kernel::from_name("gaussian", 0.25);
  const Matrix<double> z_all = synthetic_rows(kDataSeed, 0, p, d);
  const Matrix<double> h_all = rows_of(0, p, c, [](std::size_t i, std::size_t l) {
    return std::sin(0.7 * static_cast<double>(i) + static_cast<double>(l));
  });
  const Matrix<double> k_zz = kernel_block(kernel, z_all, z_all);
  const serial::Eigensystem es = serial::symmetric_eigen(k_zz);
  EXPECT_GT(es.values.back(), 1e-3) << "K_ZZ is too ill-conditioned for a 1e-8 comparison";
  EXPECT_LT(es.values.front() / es.values.back(), 1e3);
  struct Case {
    Precision factor;
    double tolerance, jitter_per_center;
  };
  for (const Case& cs :
       {Case{Precision::kFloat64, 1e-8, 1e-13}, Case{Precision::kFloat32, 2e-5, 1e-6}}) {
    for (int g : rank_group_sizes(world.size())) {
      auto comm = world.split(world.rank() / g, world.rank());
      const BlockPartition cpart(p, comm.size());
      const CenterSolver solver(comm, kernel, cpart, my_rows(z_all, cpart, comm.rank()),
                                Precision::kFloat64, cs.factor);
      const Matrix<double> theta = solver.solve(my_rows(h_all, cpart, comm.rank()));
      Matrix<double> k = k_zz;
      for (std::size_t i = 0; i < p; ++i) k(i, i) += solver.jitter();
      const Matrix<double> want = serial::solve_spd(k, h_all);
      const Matrix<double> got = gather_rows(comm, cpart, theta);
      const double rel = max_abs_diff(got, want) / max_abs(want);
      EXPECT_LT(rel, cs.tolerance)
          << "group " << g << ", float32 factor " << (cs.factor == Precision::kFloat32);
      if (comm.rank() == 0 && g == world.size())
        std::printf("exact projection, %s factor: max relative error %.2e\n",
                    cs.factor == Precision::kFloat32 ? "float32" : "float64", rel);
      // The jitter rule (center_factor.cpp): float64 1e-13 per center (the system solved is
      // K_ZZ's to 1e-11), float32 1e-6.
      EXPECT_LE(solver.jitter(), cs.jitter_per_center * static_cast<double>(p) * 1.0000001);
    }
  }
}

// With T = 1 (a projection after every batch) the exact projection reaches the restricted
// least squares solution in fewer epochs than one EigenPro 2 epoch per projection, whose
// projections drop the slowly decaying part of each update (issue 16).
TEST(EigenPro4, ExactProjectionReachesLeastSquaresInFewerEpochs) {
  auto comm = mpi::Communicator::world();
  const std::size_t n = 800, d = 5;
  const Kernel kernel = Kernel::from_name("gaussian", 0.6);
  const TrainingProblem problem = make_problem(comm, n, d, kernel, nullptr);
  EigenPro4Options o = projection_test_options();
  o.batch_size = 200;
  o.projection_period = 1;
  o.projection_epochs = 1;
  o.epochs = 20;
  const auto centers = random_subset(n, o.centers, o.seed, RngStream::kCenters);
  const Matrix<double> want = serial_fit(comm, problem, centers);
  // The gap to the least squares fit after each epoch: ||f - f*|| / ||f*|| over the rows.
  const auto gaps = [&](bool exact) {
    o.exact_projection = exact;
    std::vector<double> out;
    train_eigenpro4(comm, problem, o, [&](const EpochState& st) {
      const Matrix<double> f =
          predict_distributed(comm, kernel, *st.centers, *st.alpha, problem.partition, problem.x);
      double sums[2] = {0, 0};  // ||f - f*||^2, ||f*||^2
      for (std::size_t i = 0; i < f.size(); ++i) {
        sums[0] += (f.data()[i] - want.data()[i]) * (f.data()[i] - want.data()[i]);
        sums[1] += want.data()[i] * want.data()[i];
      }
      comm.allreduce(sums, 2);
      out.push_back(std::sqrt(sums[0] / sums[1]));
      return true;
    });
    return out;
  };
  const std::vector<double> exact = gaps(true), inexact = gaps(false);
  // Epochs until the gap is below `target` (epochs + 1: never).
  const auto epochs_to = [&](const std::vector<double>& g, double target) {
    for (std::size_t e = 0; e < g.size(); ++e)
      if (g[e] <= target) return e + 1;
    return g.size() + 1;
  };
  // Measured at 1, 2 and 4 ranks: the exact projection reaches 0.3 in 5 epochs and 0.2 in 11; one
  // EigenPro 2 epoch per projection stays above 0.42 for 40 epochs (the batches are noisy: 4 per
  // epoch).
  for (double target : {0.3, 0.2}) {
    const std::size_t e_exact = epochs_to(exact, target), e_inexact = epochs_to(inexact, target);
    if (comm.rank() == 0)
      std::printf("gap %.2f: exact projection %zu epochs, eigenpro2 projection %zu\n", target,
                  e_exact, e_inexact);
    EXPECT_LE(e_exact, o.epochs) << "the exact projection never reached " << target;
    EXPECT_LT(e_exact, e_inexact) << "target " << target;
  }
}

}  // namespace
}  // namespace kmpi
