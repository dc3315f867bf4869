// A Mahalanobis metric M on the features (DESIGN §1.5), kept as its symmetric square root S so a
// kernel with metric M is the Euclidean kernel on transformed rows u = x S: every kernel block
// stays one GEMM plus one elementwise pass, and rows are transformed once per metric (n d^2 / P
// flops per rank for a full S, n d / P for a diagonal one), not per block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kmpi/matrix.hpp"

namespace kmpi {

enum class MetricKind : std::uint32_t { kNone = 0, kDiagonal = 1, kFull = 2 };

// local: "none" | "diagonal" | "full" and back; metric_kind throws kmpi::Error naming `key`.
MetricKind metric_kind(const std::string& value, const std::string& key);
const char* metric_kind_name(MetricKind kind);

struct FeatureMetric {
  MetricKind kind = MetricKind::kNone;  // none: M = I, S = I, nothing is stored or applied
  std::size_t dimension = 0;            // d
  std::vector<double> root;             // S: diagonal d values; full d x d row-major (symmetric)

  // local: S = M^(1/2). Full: m is d x d, symmetrised as (m + m^T)/2, eigendecomposition
  // (LAPACK dsyevd), eigenvalues below 0 clipped to 0. Diagonal: m is 1 x d (or d x d, its
  // diagonal is taken), sqrt of max(m_jj, 0). Throws kmpi::Error on a wrong shape or a
  // non-finite value (the caller adds the file or key).
  static FeatureMetric from_matrix(MetricKind kind, const Matrix<double>& m);
  // local: the metric M = m_+^power (RFM's rfm.agop_power, DESIGN §1.5), m_+ the PSD part of m
  // as above, so S = m_+^(power/2) through the same eigendecomposition (diagonal: elementwise
  // max(m_jj, 0)^(power/2)); power > 0. power = 1 is from_matrix(kind, m), bit for bit.
  static FeatureMetric from_matrix_power(MetricKind kind, const Matrix<double>& m, double power);

  bool is_identity() const { return kind == MetricKind::kNone; }
  // local: x (rows x d) -> x S in place (none: unchanged).
  void apply(Matrix<double>& x) const;
  // local: M = S S: d x d for full, 1 x d for diagonal, empty for none.
  Matrix<double> matrix() const;
  // local: the k largest eigenvalues of M, descending (diagonal: the largest entries).
  std::vector<double> top_eigenvalues(std::size_t k) const;
};

// local: kernel.metric_file: a .npy of d (diagonal) or d x d (full) float64/float32 values for a
// metric of `kind` on d features. Errors name the file and what is wrong with it.
FeatureMetric load_metric_file(const std::string& path, MetricKind kind, std::size_t d);

// local: M as a .npy (float64; 1-D of d values for diagonal, d x d for full), written to a
// temporary name and renamed (no partial file on error).
void save_metric_file(const std::string& path, const FeatureMetric& metric);

}  // namespace kmpi
