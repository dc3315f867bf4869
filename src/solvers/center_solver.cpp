// CenterSolver (src/solvers/center_factor.hpp): EigenPro 4's exact projection onto span{k(., z_j)}.
#include <numeric>
#include <type_traits>

#include "solvers/center_factor.hpp"
#include "solvers/solvers.hpp"

namespace kmpi {

namespace {

// collective: all p rows of the block-partitioned z on every rank.
Matrix<double> all_rows(const mpi::Communicator& comm, const BlockPartition& part,
                        const Matrix<double>& z) {
  std::vector<std::size_t> every(part.size());
  std::iota(every.begin(), every.end(), std::size_t(0));
  return gather_selected_rows(comm, part, z, every);
}

}  // namespace

CenterSolver::CenterSolver(const mpi::Communicator& comm, const Kernel& kernel,
                           const BlockPartition& centers, const Matrix<double>& z,
                           Precision precision, Precision factor)
    : comm_(comm), centers_(centers), grid_(comm) {
  const Matrix<double> zall = all_rows(comm, centers, z);
  if (factor == Precision::kFloat32)
    lf_.emplace(factor_kzz_float32(grid_, kernel, zall, kBlock, eps_));
  else
    l_.emplace(factor_kzz(grid_, kernel, zall, kBlock, precision, Precision::kFloat64, eps_));
}

Matrix<double> CenterSolver::solve(const Matrix<double>& h) const {
  // h is thin (p x c): replicated for the fill, then solved block-cyclic and sent back to the
  // rows' owners.
  const Matrix<double> whole = all_rows(comm_, centers_, h);
  auto solve_with = [&](const auto& l) {
    std::remove_const_t<std::remove_reference_t<decltype(l)>> b(grid_, whole.rows(), whole.cols(),
                                                                kBlock, kBlock);
    b.fill([&](std::size_t i, std::size_t j) { return whole(i, j); });
    cholesky_solve(l, b);
    return b.to_row_blocks(centers_, 0, whole.cols());
  };
  return lf_ ? solve_with(*lf_) : solve_with(*l_);
}

}  // namespace kmpi
