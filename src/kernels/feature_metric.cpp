// The Mahalanobis metric (kmpi/feature_metric.hpp, DESIGN §1.5): M is kept as S = M^(1/2), so that
// ||x - z||_M = ||x S - z S|| and every kernel block stays the Euclidean one on transformed rows.
#include "kmpi/feature_metric.hpp"

#include "kernels/metric_root.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "base/blas.hpp"
#include "kmpi/error.hpp"
#include "io/binary_formats.hpp"
#include "io/little_endian.hpp"
#include "io/posix_file.hpp"
#include "parallel/scalapack.hpp"

namespace kmpi {

namespace {

// Rows of x transformed per dgemm: the temporary stays a few MiB whatever the number of rows.
constexpr std::size_t kApplyChunkBytes = std::size_t{8} << 20;

std::string shape_text(std::size_t rows, std::size_t cols) {
  return std::to_string(rows) + " x " + std::to_string(cols);
}

void require_finite(const Matrix<double>& m) {
  for (std::size_t i = 0; i < m.rows(); ++i)
    for (std::size_t j = 0; j < m.cols(); ++j)
      if (!std::isfinite(m(i, j)))
        throw Error("metric entry (" + std::to_string(i) + ", " + std::to_string(j) +
                    ") is not finite (" + std::to_string(m(i, j)) + ")");
}

// A symmetric matrix is symmetric to within this fraction of its largest entry: a metric
// computed in float32 and saved may differ from its transpose in the last bits.
constexpr double kSymmetryTolerance = 1e-6;

}  // namespace

MetricKind metric_kind(const std::string& value, const std::string& key) {
  if (value == "none") return MetricKind::kNone;
  if (value == "diagonal") return MetricKind::kDiagonal;
  if (value == "full") return MetricKind::kFull;
  throw Error(key + ": unknown metric '" + value + "' (none | diagonal | full)");
}

const char* metric_kind_name(MetricKind kind) {
  switch (kind) {
    case MetricKind::kNone:
      return "none";
    case MetricKind::kDiagonal:
      return "diagonal";
    case MetricKind::kFull:
      return "full";
  }
  return "unknown";
}

namespace {

// S = m_+^(power/2). power = 1 takes std::sqrt, not std::pow(l, 0.5): the bits of every metric
// learned before rfm.agop_power existed.
double root_of(double l, double power) {
  const double c = std::max(l, 0.0);
  return power == 1.0 ? std::sqrt(c) : std::pow(c, 0.5 * power);
}

// FeatureMetric::from_matrix_power without the check of `power`.
FeatureMetric root_of_power(MetricKind kind, const Matrix<double>& m, double power) {
  FeatureMetric metric;
  metric.kind = kind;
  if (kind == MetricKind::kNone) return metric;
  require_finite(m);
  if (kind == MetricKind::kDiagonal) {
    const bool row = m.rows() == 1 && m.cols() > 0;
    if (!row && !(m.rows() == m.cols() && m.rows() > 0))
      throw Error("a diagonal metric needs 1 x d or d x d values, not " +
                  shape_text(m.rows(), m.cols()));
    metric.dimension = m.cols();
    metric.root.resize(metric.dimension);
    for (std::size_t j = 0; j < metric.dimension; ++j)
      metric.root[j] = root_of(row ? m(0, j) : m(j, j), power);
    return metric;
  }
  if (m.rows() != m.cols() || m.rows() == 0)
    throw Error("a full metric needs d x d values, not " + shape_text(m.rows(), m.cols()));
  const std::size_t d = m.rows();
  // M = U diag(l) U^T, S = U diag(max(l, 0)^(power/2)) U^T: for power = 1 the square root of
  // M's PSD part.
  Matrix<double> sym(d, d);
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < d; ++j) sym(i, j) = 0.5 * (m(i, j) + m(j, i));
  const serial::Eigensystem e = serial::symmetric_eigen(std::move(sym));
  std::vector<double> roots(d);
  for (std::size_t k = 0; k < d; ++k) roots[k] = root_of(e.values[k], power);
  Matrix<double> scaled(d, d);  // U diag(l+^(power/2))
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t k = 0; k < d; ++k) scaled(i, k) = e.vectors(i, k) * roots[k];
  metric.dimension = d;
  metric.root.assign(d * d, 0.0);
  blas::gemm(false, true, d, d, d, 1.0, scaled.data(), d, e.vectors.data(), d, 0.0,
             metric.root.data(), d);
  // Exactly symmetric, so x S equals S x^T transposed and the file holds a symmetric matrix.
  make_symmetric(metric.root, d);
  return metric;
}

}  // namespace

FeatureMetric FeatureMetric::from_matrix(MetricKind kind, const Matrix<double>& m) {
  return root_of_power(kind, m, 1.0);
}

FeatureMetric FeatureMetric::from_matrix_power(MetricKind kind, const Matrix<double>& m,
                                               double power) {
  if (!(power > 0) || !std::isfinite(power))
    throw Error("a metric power must be finite and > 0, not " + std::to_string(power));
  return root_of_power(kind, m, power);
}

void FeatureMetric::apply(Matrix<double>& x) const {
  // No rows: nothing to transform (a rank without rows may hold a 0 x 0 matrix).
  if (is_identity() || x.rows() == 0) return;
  if (x.cols() != dimension)
    throw Error("the metric is for d = " + std::to_string(dimension) +
                " features but the rows have " + std::to_string(x.cols()));
  const std::size_t d = dimension;
  if (kind == MetricKind::kDiagonal) {
    for (std::size_t i = 0; i < x.rows(); ++i) {
      double* row = x.row(i);
      for (std::size_t j = 0; j < d; ++j) row[j] *= root[j];
    }
    return;
  }
  // u = x S, one dgemm per chunk of rows (a temporary of the chunk, copied back).
  const std::size_t chunk = std::max<std::size_t>(1, kApplyChunkBytes / (8 * d));
  std::vector<double> out;
  for (std::size_t i = 0; i < x.rows(); i += chunk) {
    const std::size_t rows = std::min(chunk, x.rows() - i);
    out.resize(rows * d);
    blas::gemm(false, false, rows, d, d, 1.0, x.row(i), d, root.data(), d, 0.0, out.data(), d);
    std::copy(out.begin(), out.end(), x.row(i));
  }
}

Matrix<double> FeatureMetric::matrix() const {
  const std::size_t d = dimension;
  if (kind == MetricKind::kNone) return {};
  if (kind == MetricKind::kDiagonal) {
    Matrix<double> m(1, d);
    for (std::size_t j = 0; j < d; ++j) m(0, j) = root[j] * root[j];
    return m;
  }
  Matrix<double> m(d, d);
  blas::gemm(false, false, d, d, d, 1.0, root.data(), d, root.data(), d, 0.0, m.data(), d);
  return m;
}

std::vector<double> FeatureMetric::top_eigenvalues(std::size_t k) const {
  std::vector<double> values;
  if (kind == MetricKind::kDiagonal) {
    for (double s : root) values.push_back(s * s);
    std::sort(values.begin(), values.end(), [](double a, double b) { return a > b; });
  } else if (kind == MetricKind::kFull) {
    // M = S^2 and S is PSD: M's eigenvalues are the squares of S's (more accurate for small
    // ones than an eigendecomposition of S S).
    Matrix<double> s(dimension, dimension);
    std::copy(root.begin(), root.end(), s.data());
    for (double l : serial::symmetric_eigen(std::move(s)).values) {
      const double c = std::max(l, 0.0);
      values.push_back(c * c);
    }
  }
  if (values.size() > k) values.resize(k);
  return values;
}

FeatureMetric load_metric_file(const std::string& path, MetricKind kind, std::size_t d) {
  if (kind == MetricKind::kNone) return {};
  const detail::BinaryLayout layout = detail::npy_layout(path);
  if (!layout.type.floating())
    detail::fail(path, "a metric file holds float64 or float32 values, not " + layout.type.name());
  // 1-D files have rows = values, cols = 1; (1, d) is taken as d values as well.
  const std::size_t values = layout.rows * layout.cols;
  const bool vector = layout.cols == 1 || layout.rows == 1;
  const std::string dd = std::to_string(d) + " x " + std::to_string(d);
  const std::string need = kind == MetricKind::kDiagonal
                               ? std::to_string(d) + " values (or " + dd + ", its diagonal)"
                               : dd + " values";
  const std::string has = vector ? std::to_string(values) + " values"
                                 : shape_text(layout.rows, layout.cols) + " values";
  const bool square = layout.rows == d && layout.cols == d;
  const bool ok = kind == MetricKind::kDiagonal ? (vector && values == d) || square
                                                : square || (d == 1 && values == 1);
  if (!ok)
    detail::fail(path, "wrong shape for a " + std::string(metric_kind_name(kind)) +
                           " metric on d = " + std::to_string(d) + " features: needs " + need +
                           ", the file holds " + has);
  Matrix<double> m(layout.rows, layout.cols);
  std::vector<std::size_t> rows(layout.rows);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  const detail::PosixFile file(path);
  // NaN/Inf checked here: the data readers' message points at data.allow_nonfinite.
  detail::read_binary_rows(path, file, layout, rows, m, /*allow_nonfinite=*/true);
  for (std::size_t i = 0; i < m.rows(); ++i)
    for (std::size_t j = 0; j < m.cols(); ++j)
      if (!std::isfinite(m(i, j)))
        detail::fail(path, "not finite: entry (" + std::to_string(i) + ", " + std::to_string(j) +
                               ") is " + (std::isnan(m(i, j)) ? "NaN" : "Inf"));
  if (vector) {  // as 1 x d
    Matrix<double> row(1, values);
    std::copy(m.data(), m.data() + values, row.data());
    m = std::move(row);
  }
  if (kind == MetricKind::kFull) {
    double largest = 0, asymmetry = 0;
    std::size_t at_i = 0, at_j = 0;
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j) {
        largest = std::max(largest, std::fabs(m(i, j)));
        const double gap = std::fabs(m(i, j) - m(j, i));
        if (gap > asymmetry) {
          asymmetry = gap;
          at_i = i;
          at_j = j;
        }
      }
    if (asymmetry > kSymmetryTolerance * largest) {
      char what[160];
      std::snprintf(what, sizeof what,
                    "not symmetric: entry (%zu, %zu) = %.17g but (%zu, %zu) = %.17g", at_i, at_j,
                    m(at_i, at_j), at_j, at_i, m(at_j, at_i));
      detail::fail(path, what);
    }
  }
  try {
    return FeatureMetric::from_matrix(kind, m);
  } catch (const Error& e) {
    detail::fail(path, e.what());
  }
}

void save_metric_file(const std::string& path, const FeatureMetric& metric) {
  if (metric.is_identity()) throw Error(path + ": no metric to save (kernel.metric = none)");
  const Matrix<double> m = metric.matrix();
  const std::string header = detail::npy_header(m.cols(), m.cols(), /*as_int64=*/false,
                                                metric.kind == MetricKind::kDiagonal);
  std::string bytes = header;
  for (std::size_t i = 0; i < m.size(); ++i) detail::put_f64(bytes, m.data()[i]);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  detail::FileErrors errors;
  errors.label = tmp;
  errors.cannot_open = "cannot create";
  errors.say_no_such_file = false;
  try {
    detail::PosixFile file(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644, errors);
    file.write_at(0, bytes.data(), bytes.size());
    file.sync();
    file.close();
  } catch (const Error&) {
    std::remove(tmp.c_str());
    throw;
  }
  const std::string why = detail::rename_into_place(tmp, path);
  if (!why.empty()) detail::fail(path, "cannot rename " + tmp + " into place: " + why);
  detail::sync_directory_of(path);
}

}  // namespace kmpi
