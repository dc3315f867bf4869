// EigenPro 2 across ranks: rank invariance, the eigensystem against LAPACK, convergence to the
// direct solver's interpolant, and the preconditioner's speed-up over plain SGD.
#include <gtest/gtest.h>

#include "common.hpp"
#include "parallel/scalapack.hpp"
#include "solvers/solvers.hpp"

namespace kmpi {
namespace {

using namespace testing_support;

// The regression problem of these tests: y = smooth_targets(x), c = 2 outputs.
TrainingProblem make_problem(const mpi::Communicator& comm, std::size_t n, std::size_t d,
                             const Kernel& kernel) {
  return synthetic_problem(comm, n, d, kernel, 51);
}

// collective: ||K alpha - y||^2 and ||y||^2 over all training rows (float64 operator).
std::pair<double, double> training_residual(const mpi::Communicator& comm, const TrainingProblem& p,
                                            const Matrix<double>& alpha) {
  const LocalCenters z(p.x, Precision::kFloat64);
  const Matrix<double> pred = predict_distributed(comm, p.kernel, z, alpha, p.partition, p.x);
  double sums[2] = {0, 0};
  for (std::size_t i = 0; i < pred.size(); ++i) {
    const double e = pred.data()[i] - p.y.data()[i];
    sums[0] += e * e;
    sums[1] += p.y.data()[i] * p.y.data()[i];
  }
  comm.allreduce(sums, 2);
  return {sums[0], sums[1]};
}

TEST(EigenPro2, SameSampleEigenvaluesAndPredictionsAtEveryRankCount) {
  auto world = mpi::Communicator::world();
  const Kernel kernel = Kernel::from_name("gaussian", 1.0);
  const std::size_t n = 700, d = 6, nq = 25;
  EigenPro2Options o;
  o.nystrom_samples = 150;
  o.epochs = 2;
  o.seed = 9;
  o.precision = Precision::kFloat64;
  const Matrix<double> q = synthetic_rows(77, 0, nq, d);
  struct Run {
    EigenPro2Result result;
    Matrix<double> predictions;
  };
  // Group sizes 1, 2 and P: every rank takes part in every run (in its own group).
  const std::vector<int> groups = rank_group_sizes(world.size());
  std::vector<Run> runs;
  for (int g : groups) {
    auto comm = world.split(world.rank() / g, world.rank());
    TrainingProblem p = make_problem(comm, n, d, kernel);
    Run run;
    run.result = train_eigenpro2(comm, p, o);
    const LocalCenters z(p.x, Precision::kFloat64);
    run.predictions = kernel_times(comm, kernel, q, z, run.result.alpha);
    runs.push_back(std::move(run));
  }
  const Run& ref = runs.front();
  for (std::size_t k = 1; k < runs.size(); ++k) {
    const Run& r = runs[k];
    EXPECT_EQ(r.result.nystrom_indices, ref.result.nystrom_indices) << "group " << groups[k];
    ASSERT_EQ(r.result.eigenvalues.size(), ref.result.eigenvalues.size());
    for (std::size_t i = 0; i < ref.result.eigenvalues.size(); ++i)
      EXPECT_NEAR(r.result.eigenvalues[i], ref.result.eigenvalues[i],
                  1e-10 * ref.result.eigenvalues[0]);
    EXPECT_EQ(r.result.parameters.q, ref.result.parameters.q);
    EXPECT_EQ(r.result.parameters.batch_size, ref.result.parameters.batch_size);
    // Sums are reduced in a different order at each rank count: 1e-6 relative (float64).
    EXPECT_LT(max_abs_diff(r.predictions, ref.predictions), 1e-6 * max_abs(ref.predictions))
        << "group " << groups[k] << " q " << r.result.parameters.q << " vs "
        << ref.result.parameters.q << " lambda_q+1 " << r.result.eigenvalues.back() << " vs "
        << ref.result.eigenvalues.back();
  }
  // The eigenvalues are those of LAPACK on K_SS / s gathered here from the sample.
  const Matrix<double> x_all = synthetic_rows(51, 0, n, d);
  const Matrix<double> xs = select_rows(x_all, ref.result.nystrom_indices);
  Matrix<double> kss = kernel_block(kernel, xs, xs);
  for (std::size_t i = 0; i < kss.size(); ++i) kss.data()[i] /= static_cast<double>(xs.rows());
  const auto lapack = serial::symmetric_eigen(kss);
  for (std::size_t i = 0; i < ref.result.eigenvalues.size(); ++i)
    EXPECT_NEAR(ref.result.eigenvalues[i], lapack.values[i], 1e-10 * lapack.values[0]);
}

// The problem of the convergence tests: the Laplacian kernel on 1200 points in 20 dimensions,
// where K has a large top eigenvalue (what the preconditioner removes, and what limits plain
// SGD's step) and a smallest one well away from 0.
TrainingProblem large_top_eigenvalue_problem(const mpi::Communicator& comm) {
  return make_problem(comm, 1200, 20, Kernel::from_name("laplacian", 2.0));
}

// Options for that problem: s = 600 Nystrom samples, float64.
EigenPro2Options large_problem_options(std::size_t epochs, std::size_t batch_size) {
  EigenPro2Options o;
  o.nystrom_samples = 600;
  o.epochs = epochs;
  o.batch_size = batch_size;
  o.precision = Precision::kFloat64;
  return o;
}

TEST(EigenPro2, ConvergesToTheDirectInterpolant) {
  auto comm = mpi::Communicator::world();
  // The smallest eigenvalue of K well away from 0 makes a residual of 1e-6 reachable.
  const TrainingProblem p = large_top_eigenvalue_problem(comm);
  const Kernel& kernel = p.kernel;
  // Below the critical batch (about 1070 here) for a margin: at m ~ m* the step sits at the edge
  // of stability, where the Nystrom estimate of the top preconditioned eigenvalue decides it.
  const EigenPro2Options o = large_problem_options(60, 256);
  const EigenPro2Result r = train_eigenpro2(comm, p, o);
  const auto [res, norm] = training_residual(comm, p, r.alpha);
  if (comm.rank() == 0)
    std::printf(
        "  EigenPro 2: q = %zu, m = %zu, relative training residual %.3g after %zu epochs\n",
        r.parameters.q, r.parameters.batch_size, std::sqrt(res / norm), o.epochs);
  EXPECT_LT(std::sqrt(res / norm), 1e-6);
  // The interpolant (ridge -> 0) of the direct solver; predictions on new points agree.
  const Matrix<double> alpha_direct = solve_direct(comm, p, 1e-12);
  const Matrix<double> q = synthetic_rows(99, 0, 40, p.x.cols());
  const LocalCenters z(p.x, Precision::kFloat64);
  const Matrix<double> f_ep = kernel_times(comm, kernel, q, z, r.alpha);
  const Matrix<double> f_direct = kernel_times(comm, kernel, q, z, alpha_direct);
  // Residual 1e-6 bounds the difference of the two interpolants' values on the training points;
  // off the data the difference is amplified by at most the interpolation operator's norm: 1e-4.
  EXPECT_LT(max_abs_diff(f_ep, f_direct), 1e-4 * max_abs(f_direct));
}

TEST(EigenPro2, PreconditionerBeatsPlainSgdTenfold) {
  auto comm = mpi::Communicator::world();
  // The problem of the convergence test: a large top eigenvalue that limits plain SGD's step.
  const TrainingProblem p = large_top_eigenvalue_problem(comm);
  const std::size_t n = p.partition.size();
  // The same batch for both; each gets the optimal step for it (DESIGN §1.2 step 7).
  EigenPro2Options o = large_problem_options(5, 200);
  const EigenPro2Result pre = train_eigenpro2(comm, p, o);
  o.precondition = false;
  const EigenPro2Result sgd = train_eigenpro2(comm, p, o);
  EXPECT_EQ(sgd.parameters.q, 0u);
  const double loss_pre = training_residual(comm, p, pre.alpha).first / n;
  const double loss_sgd = training_residual(comm, p, sgd.alpha).first / n;
  if (comm.rank() == 0)
    std::printf(
        "  training loss after %zu epochs at batch %zu: EigenPro 2 (q = %zu, step %.3g) %.3g, "
        "SGD (step %.3g) %.3g, ratio %.1f\n",
        o.epochs, o.batch_size, pre.parameters.q, pre.parameters.step_size, loss_pre,
        sgd.parameters.step_size, loss_sgd, loss_sgd / loss_pre);
  EXPECT_LT(10 * loss_pre, loss_sgd);
}

}  // namespace
}  // namespace kmpi
