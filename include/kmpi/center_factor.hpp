// Cholesky factors of the centers' kernel matrix K_ZZ + eps I, block-cyclic over the ranks:
// falkon's preconditioner (T = chol(K_ZZ + eps I), A = chol(T T^T / p + lambda I)), and the
// pieces any solver on centers needs to keep that factor meaningful when centers repeat: the
// jitter rule and the detection of exact duplicate rows (eigenpro4's exact projection is the
// next user).
#pragma once

#include <cstddef>
#include <vector>

#include "kmpi/kernel.hpp"
#include "kmpi/kernel_operator.hpp"
#include "kmpi/matrix.hpp"
#include "kmpi/scalapack.hpp"

namespace kmpi {

// local: the rows of z that are not exact repeats of an earlier row, ascending.
std::vector<std::size_t> distinct_rows(const Matrix<double>& z);

// local: eps / p for the factor of K_ZZ + eps I when CG or a projection applies it to kernel
// products in `precision` (see center_factor.cpp for the measurements behind it).
double jitter_per_center(Precision precision);

// collective: L with L L^T = K_ZZ + eps I for the replicated centers z (p x d, float64),
// block-cyclic in nb x nb blocks on `grid`; `eps` returns the jitter used.
BlockCyclicMatrix factor_kzz(const BlacsGrid& grid, const Kernel& kernel, const Matrix<double>& z,
                             std::size_t nb, Precision precision, double& eps);

// collective: A_L = chol(L^T L / p + lambda I) (falkon's second factor), from a copy of L.
BlockCyclicMatrix factor_a(const BlockCyclicMatrix& l, double lambda);

}  // namespace kmpi
