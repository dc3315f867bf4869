// The `direct` solver: the exact reference every iterative solver is checked against.
#include <algorithm>
#include <utility>
#include <vector>

#include "parallel/scalapack.hpp"
#include "base/fault.hpp"
#include "solvers/solvers.hpp"
#include "solvers/grid_solvers.hpp"

namespace kmpi {

namespace {

// collective: all rows of a row-partitioned matrix on every rank.
Matrix<double> allgather_rows(const mpi::Communicator& comm, const BlockPartition& part,
                              const Matrix<double>& local, std::size_t cols) {
  Matrix<double> all(part.size(), cols);
  comm.allgatherv(local.data(), all.data(), part.counts(cols), part.displacements(cols));
  return all;
}

// collective: this rank's rows of alpha = (K + ridge n I)^{-1} Y for the block-cyclic K
// (factored in place: pass a copy to keep K) and Y replicated.
Matrix<double> shifted_solve(BlockCyclicMatrix k, double ridge, const Matrix<double>& y,
                             const BlockPartition& partition) {
  const std::size_t n = k.rows();
  const auto rows = k.global_rows(), cols = k.global_cols();
  const double shift = ridge * static_cast<double>(n);
  for (std::size_t j = 0; j < k.local_cols(); ++j)
    for (std::size_t i = 0; i < k.local_rows(); ++i)
      if (rows[i] == cols[j]) k.local(i, j) += shift;
  BlockCyclicMatrix b(k.grid(), n, y.cols());
  b.fill([&](std::size_t i, std::size_t j) { return y(i, j); });
  cholesky_factor(k);
  cholesky_solve(k, b);
  return b.to_row_blocks(partition, 0, y.cols());
}

}  // namespace

// Per kernel K is built once, per ridge a copy of it is shifted and factored. The local tiles'
// products -2 X_cols X_rows^T do not depend on the kernel: computed once (one GEMM, 2 n^2 d / P
// flops per rank), each kernel's K comes from them by its elementwise pass alone, bit for bit the
// kernel_block that solve_direct alone would compute, and the factorisation and solve are the
// same calls on the same matrix: every point equals solve_direct alone bit for bit.
// Memory per rank: the products n^2 / P, each kernel's K n^2 / P and the factored copy n^2 / P
// doubles, plus the replicated n x d data. The last kernel's K is computed in place of the
// products and each kernel's last ridge factors K itself, so a 1 x 1 grid (solve_direct) holds
// one n^2 / P matrix, G x 1 or 1 x R two, and only G > 1 with R > 1 all three.
std::vector<Matrix<double>> solve_direct_grid(const mpi::Communicator& comm,
                                              const TrainingProblem& problem,
                                              const std::vector<Kernel>& kernels,
                                              const std::vector<double>& ridges) {
  const std::size_t n = problem.partition.size(), d = problem.x.cols(), c = problem.y.cols();
  if (kernels.empty() || ridges.empty())
    throw CollectiveError("direct grid: no kernels or no ridges", 0);  // same args on every rank
  // The kernel matrix needs arbitrary pairs of rows; the reference solver replicates X (n x d,
  // never n x n) so each rank can evaluate its own block-cyclic tiles.
  const Matrix<double> x = allgather_rows(comm, problem.partition, problem.x, d);
  const Matrix<double> y = allgather_rows(comm, problem.partition, problem.y, c);

  BlacsGrid grid(comm);
  BlockCyclicMatrix products(grid, n, n);
  // One block for all local tiles: K(X_cols, X_rows) row-major with leading dimension ld() is
  // K(rows, cols) column-major, which is the local storage (the kernel is symmetric).
  const auto rows = products.global_rows(), cols = products.global_cols();
  const Matrix<double> xr = select_rows(x, rows), xc = select_rows(x, cols);
  std::vector<double> nr(rows.size()), nc(cols.size());
  row_squared_norms(xr.data(), rows.size(), d, d, nr.data());
  row_squared_norms(xc.data(), cols.size(), d, d, nc.data());
  // (A Laplace family kernel with p != 2 computes its own distances from the rows.)
  if (std::any_of(kernels.begin(), kernels.end(),
                  [](const Kernel& k) { return k.distances_from_products(); }))
    product_block(xc.data(), cols.size(), d, xr.data(), rows.size(), d, d, products.data(),
                  products.ld());
  std::vector<Matrix<double>> alphas;
  for (std::size_t g = 0; g < kernels.size(); ++g) {
    fault::point("direct.kernel");
    const bool last_kernel = g + 1 == kernels.size();
    BlockCyclicMatrix k = last_kernel ? std::move(products) : BlockCyclicMatrix(grid, n, n);
    const double* source = last_kernel ? k.data() : products.data();  // in place: the last
    kernel_from_products_or_rows(kernels[g], source, k.ld(), xc.data(), cols.size(), d, xr.data(),
                                 rows.size(), d, d, nc.data(), nr.data(), k.data(), k.ld());
    for (std::size_t r = 0; r + 1 < ridges.size(); ++r)
      alphas.push_back(shifted_solve(k, ridges[r], y, problem.partition));
    alphas.push_back(shifted_solve(std::move(k), ridges.back(), y, problem.partition));
  }
  return alphas;
}

Matrix<double> solve_direct(const mpi::Communicator& comm, const TrainingProblem& problem,
                            double ridge) {
  return std::move(solve_direct_grid(comm, problem, {problem.kernel}, {ridge})[0]);
}

}  // namespace kmpi
