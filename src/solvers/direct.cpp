// The `direct` solver: the exact reference every iterative solver is checked against.
#include <algorithm>

#include "kmpi/scalapack.hpp"
#include "kmpi/solver.hpp"
#include "kmpi/solvers.hpp"

namespace kmpi {

namespace {

// collective: all rows of a row-partitioned matrix on every rank.
Matrix<double> allgather_rows(const mpi::Communicator& comm, const BlockPartition& part,
                              const Matrix<double>& local, std::size_t cols) {
  Matrix<double> all(part.size(), cols);
  comm.allgatherv(local.data(), all.data(), part.counts(cols), part.displacements(cols));
  return all;
}

}  // namespace

Matrix<double> solve_direct(const mpi::Communicator& comm, const TrainingProblem& problem,
                            double ridge) {
  const std::size_t n = problem.partition.size(), d = problem.x.cols(), c = problem.y.cols();
  // The kernel matrix needs arbitrary pairs of rows; the reference solver replicates X (n x d,
  // never n x n) so each rank can evaluate its own block-cyclic tiles.
  const Matrix<double> x = allgather_rows(comm, problem.partition, problem.x, d);
  const Matrix<double> y = allgather_rows(comm, problem.partition, problem.y, c);

  BlacsGrid grid(comm);
  BlockCyclicMatrix k(grid, n, n);
  {
    // One kernel block for all local tiles: K(X_cols, X_rows) row-major with leading dimension
    // ld() is K(rows, cols) column-major, which is the local storage (the kernel is symmetric).
    const auto rows = k.global_rows(), cols = k.global_cols();
    const Matrix<double> xr = select_rows(x, rows), xc = select_rows(x, cols);
    kernel_block(problem.kernel, xc.data(), cols.size(), d, xr.data(), rows.size(), d, d, k.data(),
                 k.ld());
    const double shift = ridge * static_cast<double>(n);
    for (std::size_t j = 0; j < k.local_cols(); ++j)
      for (std::size_t i = 0; i < k.local_rows(); ++i)
        if (rows[i] == cols[j]) k.local(i, j) += shift;
  }
  BlockCyclicMatrix b(grid, n, c);
  b.fill([&](std::size_t i, std::size_t j) { return y(i, j); });
  cholesky_factor(k);
  cholesky_solve(k, b);
  return b.to_row_blocks(problem.partition, 0, c);
}

// ---- The driver's entry (kmpi/solver.hpp) ----

SolverOutcome run_direct(SolverContext& ctx) {
  const double ridge = ctx.options.real("solver.ridge");
  Stopwatch solve_clock;
  SolverOutcome out;
  out.alpha = solve_direct(ctx.comm, ctx.problem, ridge);
  const double solve_s = solve_clock.seconds();
  ctx.reporter.log().info("direct: solved (K + %g n I) alpha = Y in %.2f s", ridge, solve_s);
  ctx.reporter.report(1, out.alpha, Json().add("solver", "direct").add("solve_s", solve_s),
                      nullptr, solve_s);
  return out;
}

}  // namespace kmpi
