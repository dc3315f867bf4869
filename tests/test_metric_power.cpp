// FeatureMetric::from_matrix_power (rfm.agop_power, DESIGN §1.5): M = m_+^power with S = M^(1/2),
// against matrices whose eigendecomposition the test builds itself: m = H diag(l) H with H a
// Householder reflection (orthogonal and symmetric), so m_+^power = H diag(max(l, 0)^power) H
// without any eigensolver. Power 1 is from_matrix bit for bit (RFM's defaults keep their bits).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kmpi/error.hpp"
#include "kmpi/feature_metric.hpp"
#include "support.hpp"

namespace kmpi {
namespace {

using testing_support::error_of;

// H = I - 2 v v^T / v^T v for a random v.
Matrix<double> householder(std::size_t d, std::mt19937_64& gen) {
  std::normal_distribution<double> normal;
  std::vector<double> v(d);
  double norm = 0;
  for (double& e : v) {
    e = normal(gen);
    norm += e * e;
  }
  Matrix<double> h(d, d);
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < d; ++j) h(i, j) = (i == j ? 1.0 : 0.0) - 2 * v[i] * v[j] / norm;
  return h;
}

// H diag(f(l)) H.
template <class F>
Matrix<double> spectral(const Matrix<double>& h, const std::vector<double>& l, F&& f) {
  const std::size_t d = h.rows();
  Matrix<double> m(d, d);
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      long double s = 0;
      for (std::size_t k = 0; k < d; ++k)
        s += static_cast<long double>(h(i, k)) * f(l[k]) * h(k, j);
      m(i, j) = static_cast<double>(s);
    }
  return m;
}

Matrix<double> product(const Matrix<double>& a, const Matrix<double>& b) {
  Matrix<double> c(a.rows(), b.cols());
  for (std::size_t i = 0; i < a.rows(); ++i)
    for (std::size_t j = 0; j < b.cols(); ++j)
      for (std::size_t k = 0; k < a.cols(); ++k) c(i, j) += a(i, k) * b(k, j);
  return c;
}

double max_abs_diff(const Matrix<double>& a, const Matrix<double>& b) {
  double e = 0;
  for (std::size_t i = 0; i < a.size(); ++i) e = std::max(e, std::fabs(a.data()[i] - b.data()[i]));
  return e;
}

const std::vector<double> kEigenvalues = {1.0, 0.7, 0.31, 0.05, 0.0, -0.2, -0.6};

TEST(MetricPower, FullPowerIsTheClippedSpectralPower) {
  std::mt19937_64 gen(2601);
  const std::size_t d = kEigenvalues.size();
  const Matrix<double> h = householder(d, gen);
  const Matrix<double> m = spectral(h, kEigenvalues, [](double l) { return l; });
  for (double power : {0.5, 1.0, 2.0, 0.25}) {
    SCOPED_TRACE(power);
    const FeatureMetric metric = FeatureMetric::from_matrix_power(MetricKind::kFull, m, power);
    const Matrix<double> want =
        spectral(h, kEigenvalues, [&](double l) { return std::pow(std::max(l, 0.0), power); });
    EXPECT_LT(max_abs_diff(metric.matrix(), want), 1e-13);
    // The reported eigenvalues are the clipped powers, largest first.
    const std::vector<double> top = metric.top_eigenvalues(3);
    for (std::size_t k = 0; k < 3; ++k)
      EXPECT_NEAR(top[k], std::pow(kEigenvalues[k], power), 1e-13);
  }
  // (M^(1/2))^2 = M_+: the clipped negative directions stay switched off.
  const Matrix<double> half = FeatureMetric::from_matrix_power(MetricKind::kFull, m, 0.5).matrix();
  const Matrix<double> m_plus =
      spectral(h, kEigenvalues, [](double l) { return std::max(l, 0.0); });
  EXPECT_LT(max_abs_diff(product(half, half), m_plus), 1e-13);
}

TEST(MetricPower, DiagonalPowerIsElementwiseOnTheClippedValues) {
  Matrix<double> g(1, kEigenvalues.size());
  for (std::size_t j = 0; j < g.cols(); ++j) g(0, j) = kEigenvalues[j];
  for (double power : {0.5, 1.0, 3.0}) {
    const Matrix<double> m =
        FeatureMetric::from_matrix_power(MetricKind::kDiagonal, g, power).matrix();
    for (std::size_t j = 0; j < g.cols(); ++j)
      EXPECT_NEAR(m(0, j), std::pow(std::max(g(0, j), 0.0), power), 1e-15) << power << " " << j;
  }
}

TEST(MetricPower, PowerOneIsFromMatrixBitForBit) {
  std::mt19937_64 gen(2602);
  std::normal_distribution<double> normal;
  const std::size_t d = 9;
  Matrix<double> m(d, d);
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j <= i; ++j) m(i, j) = m(j, i) = normal(gen);
  for (MetricKind kind : {MetricKind::kFull, MetricKind::kDiagonal}) {
    const FeatureMetric a = FeatureMetric::from_matrix(kind, m);
    const FeatureMetric b = FeatureMetric::from_matrix_power(kind, m, 1.0);
    ASSERT_EQ(a.root.size(), b.root.size());
    EXPECT_EQ(std::memcmp(a.root.data(), b.root.data(), 8 * a.root.size()), 0);
  }
}

TEST(MetricPower, NonPositivePowerThrows) {
  Matrix<double> m(2, 2);
  m(0, 0) = m(1, 1) = 1;
  for (double power : {0.0, -0.5, std::nan("")})
    EXPECT_MESSAGE_HAS(
        error_of([&] { FeatureMetric::from_matrix_power(MetricKind::kFull, m, power); }),
        "power must be finite and > 0");
}

}  // namespace
}  // namespace kmpi
