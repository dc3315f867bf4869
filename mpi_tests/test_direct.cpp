// The block-cyclic layer and the `direct` solver against serial LAPACK on the gathered problem.
#include <gtest/gtest.h>

#include "common.hpp"
#include "base/blas.hpp"
#include "parallel/scalapack.hpp"
#include "solvers/solvers.hpp"

namespace kmpi {
namespace {

using namespace testing_support;

// collective: <v_i, ref_i> over all ranks, for the distributed eigenvector v(:, i) (this rank's
// rows under `rows`) and the replicated reference eigenvector ref(:, i).
double eigenvector_dot(const mpi::Communicator& comm, const Matrix<double>& v,
                       const Matrix<double>& ref, const BlockPartition& rows, std::size_t i) {
  double dot = 0;
  for (std::size_t r = 0; r < v.rows(); ++r) dot += v(r, i) * ref(rows.begin(comm.rank()) + r, i);
  return comm.allreduce_value(dot);
}

TEST(BlockCyclic, ToRowBlocksRecoversEveryEntry) {
  auto comm = mpi::Communicator::world();
  BlacsGrid grid(comm);
  // Small blocks so every rank of the grid owns several, and blocks larger than a process's share.
  for (std::size_t nb : {3, 63, 64}) {
    const std::size_t m = 153, n = 150;
    BlockCyclicMatrix a(grid, m, n, nb == 63 ? 64 : nb + 1, nb == 63 ? 64 : nb);
    auto f = [](std::size_t i, std::size_t j) { return 1000.0 * i + j; };
    a.fill(f);
    const BlockPartition rows(m, comm.size());
    const Matrix<double> got = a.to_row_blocks(rows, 5, nb == 63 ? 12 : 140);
    ASSERT_EQ(got.rows(), rows.count(comm.rank()));
    for (std::size_t i = 0; i < got.rows(); ++i)
      for (std::size_t j = 0; j < got.cols(); ++j)
        EXPECT_EQ(got(i, j), f(rows.begin(comm.rank()) + i, 5 + j)) << "nb " << nb;
  }
}

TEST(BlockCyclic, CholeskyOfIndefiniteMatrixFailsOnEveryRank) {
  auto comm = mpi::Communicator::world();
  BlacsGrid grid(comm);
  BlockCyclicMatrix a(grid, 20, 20, 4, 4);
  a.fill([](std::size_t i, std::size_t j) { return i == j ? (i == 13 ? -1.0 : 2.0) : 0.0; });
  EXPECT_THROW(cholesky_factor(a), CollectiveError);
}

// lower_gram splits recursively above 1024 columns (syrk + trmm + pdlauum leaves): n = 2200
// takes two levels, with blocks (8, 64) that do and do not divide the splits. The reference is
// a dense GEMM of the full triangle. float64: sums of <= 2200 products of O(1) terms, 1e-12
// relative; float32 (entries rounded to float32, sums in float32): 2e-5 relative.
TEST(BlockCyclic, LowerGramEqualsTheDenseProductOfTheTriangle) {
  auto comm = mpi::Communicator::world();
  BlacsGrid grid(comm);
  const std::size_t n = 2200;
  Matrix<double> l(n, n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j <= i; ++j) l(i, j) = uniform01(71, i, j) - 0.3;
  Matrix<double> want(n, n);
  blas::gemm(true, false, n, n, n, 1.0, l.data(), n, l.data(), n, 0.0, want.data(), n);
  const double scale = max_abs(want);
  for (const Precision precision : {Precision::kFloat64, Precision::kFloat32})
    for (std::size_t nb : {8, 64}) {
      BlockCyclicMatrix a(grid, n, n, nb, nb);
      a.fill([&](std::size_t i, std::size_t j) { return i >= j ? l(i, j) : -7.0; });
      lower_gram(a, precision);
      const double tol = (precision == Precision::kFloat64 ? 1e-12 : 2e-5) * scale;
      double worst = 0, upper_changed = 0;
      for (std::size_t jj = 0; jj < a.local_cols(); ++jj)
        for (std::size_t ii = 0; ii < a.local_rows(); ++ii) {
          const std::size_t i = a.global_row(ii), j = a.global_col(jj);
          if (i >= j)
            worst = std::max(worst, std::abs(a.local(ii, jj) - want(i, j)));
          else
            upper_changed = std::max(upper_changed, std::abs(a.local(ii, jj) + 7.0));
        }
      worst = comm.allreduce_value(worst, mpi::Op::kMax);
      EXPECT_LT(worst, tol) << "nb " << nb << " float32 " << (precision == Precision::kFloat32);
      EXPECT_EQ(comm.allreduce_value(upper_changed, mpi::Op::kMax), 0.0) << "nb " << nb;
    }
}

// The float32 factor reconstructs K + eps I (Gaussian kernel, eps = 1e-2: condition ~1e4) to
// float32 accuracy: |L L^T - A| <= 1e-5 |A| (rounding of the factor's O(1) entries, n = 300
// terms), and the float64 factor to 1e-13.
TEST(BlockCyclic, CholeskyFactorInBothPrecisionsReconstructsTheMatrix) {
  auto comm = mpi::Communicator::world();
  BlacsGrid grid(comm);
  const std::size_t n = 300;
  const Matrix<double> x = synthetic_rows(73, 0, n, 5);
  Matrix<double> k = kernel_block(Kernel::from_name("gaussian", 0.8), x, x);
  for (std::size_t i = 0; i < n; ++i) k(i, i) += 1e-2;
  for (const Precision precision : {Precision::kFloat64, Precision::kFloat32}) {
    BlockCyclicMatrix a(grid, n, n, 16, 16);
    a.fill([&](std::size_t i, std::size_t j) { return i >= j ? k(i, j) : 0.0; });
    cholesky_factor(a, precision);
    const Matrix<double> f = a.replicate();  // the factor, zeros above the diagonal
    Matrix<double> got(n, n);
    blas::gemm(false, true, n, n, n, 1.0, f.data(), n, f.data(), n, 0.0, got.data(), n);
    const double tol = (precision == Precision::kFloat64 ? 1e-13 : 1e-5) * max_abs(k);
    EXPECT_LT(max_abs_diff(got, k), tol) << "float32 " << (precision == Precision::kFloat32);
  }
}

TEST(BlockCyclic, TopEigenpairsMatchLapackOnTheGatheredMatrix) {
  auto comm = mpi::Communicator::world();
  BlacsGrid grid(comm);
  const std::size_t s = 150, k = 12, d = 4;
  const Kernel kern = Kernel::from_name("gaussian", 0.5);
  const Matrix<double> x = synthetic_rows(31, 0, s, d);
  const Matrix<double> kss = kernel_block(kern, x, x);
  const auto ref = serial::symmetric_eigen(kss);
  for (std::size_t nb : {8, 64}) {
    BlockCyclicMatrix a(grid, s, s, nb, nb);
    a.fill([&](std::size_t i, std::size_t j) { return kss(i, j); });
    const TopEigenpairs top = top_eigenpairs(a, k);
    const BlockPartition rows(s, comm.size());
    const Matrix<double> v = top.rows_descending(partition_offsets(rows));
    for (std::size_t i = 0; i < k; ++i) {
      EXPECT_NEAR(top.values[i], ref.values[i], 1e-12 * ref.values[0]);
      // Eigenvectors up to sign: compare |<v_dist, v_ref>| over all ranks = 1.
      const double dot = eigenvector_dot(comm, v, ref.vectors, rows, i);
      EXPECT_NEAR(std::abs(dot), 1.0, 1e-9) << "eigenvector " << i << " nb " << nb;
    }
  }
}

TEST(DirectSolver, MatchesSerialLapackSolve) {
  auto comm = mpi::Communicator::world();
  const std::size_t n = 230, d = 6, c = 3;
  const double ridge = 1e-3;
  const int me = comm.rank();
  TrainingProblem problem;
  problem.kernel = Kernel::from_name("laplacian", 1.3);
  problem.partition = BlockPartition(n, comm.size());
  auto y_of = [](std::size_t i, std::size_t l) { return std::sin(0.1 * i * (l + 1)); };
  problem.x = synthetic_rows(41, problem.partition.begin(me), problem.partition.count(me), d);
  problem.y = rows_of(problem.partition.begin(me), problem.partition.count(me), c, y_of);
  const Matrix<double> alpha = solve_direct(comm, problem, ridge);

  const Matrix<double> x = synthetic_rows(41, 0, n, d);
  Matrix<double> a = kernel_block(problem.kernel, x, x);
  for (std::size_t i = 0; i < n; ++i) a(i, i) += ridge * n;
  const Matrix<double> want_all = serial::solve_spd(a, rows_of(0, n, c, y_of));
  const Matrix<double> want = my_rows(want_all, problem.partition, me);
  // Both are backward-stable Cholesky solves of a matrix with condition ~1e4: 1e-8 relative.
  EXPECT_LT(max_abs_diff(alpha, want), 1e-8 * max_abs(want_all));
}

// Regressions: (1) pdsyevd's eigenvalues differed in the last bits between processes, and the
// solvers derive batch sizes from them; (2) its workspace query came out short when some
// processes of a 2 x 2 grid hold nothing (n = nb = 64), giving wrong eigenvectors with info = 0.
TEST(BlockCyclic, EigenpairsIdenticalOnEveryRankAndCorrectForTinyMatrices) {
  auto comm = mpi::Communicator::world();
  BlacsGrid grid(comm);
  const Kernel kern = Kernel::from_name("gaussian", 0.7);
  for (std::size_t s : {3, 40, 64, 65, 129}) {
    const Matrix<double> x = synthetic_rows(61, 0, s, 5);
    const Matrix<double> kss = kernel_block(kern, x, x);
    BlockCyclicMatrix a(grid, s, s);
    a.fill([&](std::size_t i, std::size_t j) { return kss(i, j); });
    const std::size_t k = std::min<std::size_t>(s, 10);
    const TopEigenpairs top = top_eigenpairs(a, k);
    std::vector<double> lo = top.values, hi = top.values;
    comm.allreduce(lo, mpi::Op::kMin);
    comm.allreduce(hi, mpi::Op::kMax);
    EXPECT_EQ(lo, hi) << "s = " << s;
    const auto ref = serial::symmetric_eigen(kss);
    const BlockPartition rows(s, comm.size());
    const Matrix<double> v = top.rows_descending(partition_offsets(rows));
    for (std::size_t i = 0; i < k; ++i) {
      EXPECT_NEAR(top.values[i], ref.values[i], 1e-12 * ref.values[0]) << "s = " << s;
      const double dot = eigenvector_dot(comm, v, ref.vectors, rows, i);
      // Well separated leading eigenvalues for these sizes: vectors agree up to sign.
      if (i + 1 < k && ref.values[i] - ref.values[i + 1] > 1e-6 * ref.values[0]) {
        EXPECT_NEAR(std::abs(dot), 1.0, 1e-8) << "s = " << s << " vector " << i;
      }
    }
  }
}

}  // namespace
}  // namespace kmpi
