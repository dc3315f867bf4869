// The learned metric's root S from a matrix every rank holds (RFM's normalised AGOP), the same
// bits on every rank: rank 0's serial LAPACK eigendecomposition, broadcast, below
// kDistributedEigenDimension features; ScaLAPACK's (pdsyevd, S = U diag(l+^(power/2)) U^T by
// pdgemm) from there, so a d x d decomposition at large d is shared instead of leaving P - 1
// ranks waiting on rank 0 for O(d^3) work.
#pragma once

#include <cstddef>
#include <vector>

#include "kmpi/feature_metric.hpp"
#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"

namespace kmpi {

// Serial dsyevd at d = 1024 takes about a second here; the full metric of rfm.metric = auto
// stops at d = 2000.
constexpr std::size_t kDistributedEigenDimension = 1024;

// collective: FeatureMetric::from_matrix_power(kind, m, power) for the replicated `m`, computed
// serially on rank 0 (d < distributed_from; bit for bit that function's result) or with ScaLAPACK
// (full metrics with d >= distributed_from; equal to it to rounding). Failures are agreed.
FeatureMetric agreed_metric_root(const mpi::Communicator& comm, MetricKind kind,
                                 const Matrix<double>& m, double power,
                                 std::size_t distributed_from = kDistributedEigenDimension);

// local: a <- (a + a^T) / 2 for the d x d row-major a, so it is exactly symmetric.
void make_symmetric(std::vector<double>& a, std::size_t d);

}  // namespace kmpi
