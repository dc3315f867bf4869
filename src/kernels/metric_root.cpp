// The learned metric's root S (kernels/metric_root.hpp).
#include "kernels/metric_root.hpp"

#include <algorithm>
#include <cmath>

#include "parallel/scalapack.hpp"

namespace kmpi {

namespace {

// collective: S = U diag(max(l, 0)^(power/2)) U^T of the symmetric part of m, by ScaLAPACK.
// power = 1 takes std::sqrt, as the serial path does.
FeatureMetric distributed_root(const mpi::Communicator& comm, const Matrix<double>& m,
                               double power) {
  const std::size_t d = m.rows();
  BlacsGrid grid(comm);
  // Blocks small enough that every process holds some of the matrix (pdsyevd returned wrong
  // eigenvectors with info = 0 when one process column held it all: solvers/eigenpro_common.cpp).
  const std::size_t procs = static_cast<std::size_t>(std::max(grid.rows(), grid.cols()));
  const std::size_t nb = std::max<std::size_t>(1, std::min<std::size_t>(64, d / procs));
  BlockCyclicMatrix a(grid, d, d, nb, nb);
  a.fill([&](std::size_t i, std::size_t j) { return 0.5 * (m(i, j) + m(j, i)); });
  const TopEigenpairs top = top_eigenpairs(a, d);
  // Column first_column + k of top.vectors belongs to values[d - 1 - k] (ascending columns).
  BlockCyclicMatrix scaled = top.vectors;
  for (std::size_t j = 0; j < scaled.local_cols(); ++j) {
    const std::size_t k = scaled.global_col(j) - top.first_column;
    const double l = std::max(top.values[d - 1 - k], 0.0);
    const double root = power == 1.0 ? std::sqrt(l) : std::pow(l, 0.5 * power);
    for (std::size_t i = 0; i < scaled.local_rows(); ++i) scaled.local(i, j) *= root;
  }
  BlockCyclicMatrix s(grid, d, d, nb, nb);
  multiply(false, true, 1.0, scaled, top.vectors, 0.0, s);
  const Matrix<double> full = s.replicate();
  FeatureMetric metric;
  metric.kind = MetricKind::kFull;
  metric.dimension = d;
  metric.root.assign(full.data(), full.data() + d * d);
  make_symmetric(metric.root, d);  // as the serial path does
  return metric;
}

}  // namespace

void make_symmetric(std::vector<double>& a, std::size_t d) {
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = i + 1; j < d; ++j) {
      const double v = 0.5 * (a[i * d + j] + a[j * d + i]);
      a[i * d + j] = a[j * d + i] = v;
    }
}

FeatureMetric agreed_metric_root(const mpi::Communicator& comm, MetricKind kind,
                                 const Matrix<double>& m, double power,
                                 std::size_t distributed_from) {
  const bool distributed = kind == MetricKind::kFull && m.rows() == m.cols() &&
                           m.rows() >= distributed_from;
  FeatureMetric metric;
  if (distributed) {
    mpi::agree_on(comm, [&] {  // the checks of from_matrix_power, on every rank's same m
      FeatureMetric::from_matrix_power(MetricKind::kDiagonal, Matrix<double>(1, 1), power);
      for (std::size_t i = 0; i < m.size(); ++i)
        if (!std::isfinite(m.data()[i])) throw Error("the metric matrix has a non-finite entry");
    });
    return distributed_root(comm, m, power);
  }
  mpi::agree_on(comm, [&] {
    if (comm.rank() == 0) metric = FeatureMetric::from_matrix_power(kind, m, power);
  });
  metric.kind = kind;
  metric.dimension = m.cols();
  metric.root.resize(kind == MetricKind::kFull ? m.cols() * m.cols() : m.cols());
  comm.broadcast(metric.root.data(), metric.root.size(), 0);
  return metric;
}

}  // namespace kmpi
