// Cholesky factors of the centers' kernel matrix K_ZZ + eps I, block-cyclic over the ranks:
// falkon's preconditioner (T = chol(K_ZZ + eps I), A = chol(T T^T / p + lambda I)), and the
// pieces any solver on centers needs to keep that factor meaningful when centers repeat: the
// jitter rule and the detection of exact duplicate rows (eigenpro4's exact projection is the
// next user).
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "kmpi/kernel.hpp"
#include "kmpi/kernel_operator.hpp"
#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/partition.hpp"
#include "parallel/scalapack.hpp"

namespace kmpi {

// local: the rows of z that are not exact repeats of an earlier row, ascending.
std::vector<std::size_t> distinct_rows(const Matrix<double>& z);

// local: eps / p for the factor of K_ZZ + eps I, computed in `factor` precision, when CG or a
// projection applies it to kernel products in `products` precision (see center_factor.cpp for
// the measurements behind it).
double jitter_per_center(Precision products, Precision factor = Precision::kFloat64);

// collective: L with L L^T = K_ZZ + eps I for the replicated centers z (p x d, float64),
// block-cyclic in nb x nb blocks on `grid`, factored in `factor` precision (stored float64);
// `eps` returns the jitter used.
BlockCyclicMatrix factor_kzz(const BlacsGrid& grid, const Kernel& kernel, const Matrix<double>& z,
                             std::size_t nb, Precision products, Precision factor, double& eps);

// collective: the same factor stored in float32 (p^2 / P floats per rank, half of factor_kzz's),
// pspotrf on float32 tiles of the float64 kernel values, eps from
// jitter_per_center(kFloat32, kFloat32).
BlockCyclicMatrixF factor_kzz_float32(const BlacsGrid& grid, const Kernel& kernel,
                                      const Matrix<double>& z, std::size_t nb, double& eps);

// collective: A_L = chol(L^T L / p + lambda I) (falkon's second factor), from a copy of L, in
// `factor` precision.
BlockCyclicMatrix factor_a(const BlockCyclicMatrix& l, double lambda,
                           Precision factor = Precision::kFloat64);

// EigenPro 4's exact projection (solver.projection = cholesky): theta = (K_ZZ + eps I)^{-1} h
// through the Cholesky factor of K_ZZ + eps I (factor_kzz: block-cyclic, the jitter rule
// above), factored once; each solve is one pdpotrs on p x c values. The factor is float64
// (p^2 / P doubles per rank) or, with `factor` = kFloat32 (solver.factor_precision), float32:
// half the memory, which is what lets p = 50000 take exact projections on two 12 GB ranks; each
// solve is then pspotrs on float32 right-hand sides, accurate to about cond * 6e-8 with
// cond <= (||K_ZZ|| + eps) / eps (eps = 1e-6 p).
class CenterSolver {
 public:
  // collective: factors K_ZZ + eps I for the centers z (this rank's rows of `centers`); Z is
  // gathered whole (p x d) while K_ZZ is built. `precision` is that of the kernel products the
  // right-hand sides come from (it sets eps with a float64 factor).
  CenterSolver(const mpi::Communicator& comm, const Kernel& kernel, const BlockPartition& centers,
               const Matrix<double>& z, Precision precision,
               Precision factor = Precision::kFloat64);
  // collective: theta for h, both this rank's rows of the centers' partition (p x c in all).
  Matrix<double> solve(const Matrix<double>& h) const;
  double jitter() const { return eps_; }

  static constexpr std::size_t kBlock =
      128;  // of the factor and the right-hand sides (bench/bench_factor.cpp)

 private:
  const mpi::Communicator& comm_;
  BlockPartition centers_;
  BlacsGrid grid_;
  double eps_ = 0;
  std::optional<BlockCyclicMatrix> l_;    // the float64 factor, or
  std::optional<BlockCyclicMatrixF> lf_;  // the float32 one
};

}  // namespace kmpi
