// data.numeric_transform = quantile (io/quantile_map.hpp).
#include "io/quantile_map.hpp"

#include <algorithm>
#include <cmath>


namespace kmpi::detail {

namespace {

// Levels within this distance of a column's ends are its ends (scikit-learn's BOUNDS_THRESHOLD).
constexpr double kBound = 1e-7;

// Level i of k (numpy's linspace(0, 1, k)[i]).
double level(std::size_t i, std::size_t k) {
  return i + 1 == k ? 1.0 : static_cast<double>(i) * (1.0 / static_cast<double>(k - 1));
}

// Linear interpolation of the levels k / (K - 1) at x between the knots, from below (the last
// knot <= x) and from above (the first knot >= x): the two differ only where knots are tied.
double level_from_below(const std::vector<double>& knots, double x) {
  const std::size_t k = knots.size();
  const std::size_t j = static_cast<std::size_t>(
      std::upper_bound(knots.begin(), knots.end(), x) - knots.begin());  // knots[j-1] <= x
  if (j == 0) return 0.0;
  if (j == k) return 1.0;
  const double lo = level(j - 1, k), hi = level(j, k);
  return (hi - lo) / (knots[j] - knots[j - 1]) * (x - knots[j - 1]) + lo;
}

double level_from_above(const std::vector<double>& knots, double x) {
  const std::size_t k = knots.size();
  const std::size_t j = static_cast<std::size_t>(
      std::lower_bound(knots.begin(), knots.end(), x) - knots.begin());  // knots[j] >= x
  if (j == k) return 1.0;
  if (j == 0) return 0.0;
  const double lo = level(j - 1, k), hi = level(j, k);
  return hi - (hi - lo) / (knots[j] - knots[j - 1]) * (knots[j] - x);
}

}  // namespace

double normal_quantile(double p) {
  // Acklam's rational approximation (relative error 1.2e-9), then one Halley step on
  // Phi(x) - p with erfc, which brings it to about machine precision.
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                             -2.759285104469687e+02, 1.383577518672690e+02,
                             -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                             -1.556989798598866e+02, 6.680131188771972e+01,
                             -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                             -2.400758277161838e+00, -2.549732539343734e+00,
                             4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double low = 0.02425;
  double x;
  if (p < low || p > 1 - low) {
    const double q = std::sqrt(-2 * std::log(p < low ? p : 1 - p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    if (p > 1 - low) x = -x;
  } else {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

std::vector<double> quantile_knots(std::vector<double> sample, std::size_t max_knots) {
  // numpy's percentile (method linear) at the levels, operation for operation, so the knots of
  // tied values come out tied as scikit-learn's do.
  std::sort(sample.begin(), sample.end());
  const std::size_t n = sample.size(), k = std::min(max_knots, n);
  std::vector<double> knots(k);
  const double count = static_cast<double>(n);
  for (std::size_t i = 0; i < k; ++i) {
    const double q = level(i, k) * 100 / 100;
    const double virtual_index = (count - 1) * q;
    const double below = std::floor(virtual_index), t = virtual_index - below;
    const auto clip = [&](double index) {
      return static_cast<std::size_t>(std::clamp(index, 0.0, count - 1));
    };
    const double lo = sample[clip(below)], hi = sample[clip(below + 1)];
    knots[i] = t >= 0.5 ? hi - (hi - lo) * (1 - t) : lo + (hi - lo) * t;
    if (i > 0) knots[i] = std::max(knots[i], knots[i - 1]);  // numpy's maximum.accumulate
  }
  return knots;
}

double quantile_normal(const std::vector<double>& knots, double x) {
  if (knots.empty()) return x;
  double level = 0.5 * (level_from_below(knots, x) + level_from_above(knots, x));
  if (x + kBound > knots.back()) level = 1.0;
  if (x - kBound < knots.front()) level = 0.0;
  static const double edge = normal_quantile(kBound);  // about -5.2
  if (level <= kBound) return edge;
  if (level >= 1 - kBound) return -edge;
  return std::clamp(normal_quantile(level), edge, -edge);
}

QuantileSample::QuantileSample(std::size_t rows, std::size_t selected)
    : rows_(rows), perm_(std::max<std::size_t>(rows, 1), 0, RngStream::kQuantile, 0) {
  threshold_ = selected <= kQuantileSamples
                   ? rows
                   : static_cast<std::size_t>(std::ceil(static_cast<double>(kQuantileSamples) *
                                                        static_cast<double>(rows) /
                                                        static_cast<double>(selected)));
}

bool QuantileSample::contains(std::size_t row) const {
  return threshold_ >= rows_ || perm_(row) < threshold_;
}

std::vector<std::vector<double>> fit_quantile_knots(
    const mpi::Communicator& comm, const std::vector<std::vector<double>>& columns) {
  const std::size_t m = columns.size();
  std::vector<int> mine(m);
  for (std::size_t j = 0; j < m; ++j) mine[j] = static_cast<int>(columns[j].size());
  const std::vector<int> all = comm.allgather(mine.data(), m);  // rank-major
  std::vector<std::vector<double>> knots(m);
  for (std::size_t j = 0; j < m; ++j) {
    std::vector<int> counts(static_cast<std::size_t>(comm.size())), displs(counts.size());
    int total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      counts[r] = all[r * m + j];
      displs[r] = total;
      total += counts[r];
    }
    if (total == 0) continue;
    std::vector<double> sample(static_cast<std::size_t>(total));
    comm.allgatherv(columns[j].data(), sample.data(), counts, displs);
    knots[j] = quantile_knots(std::move(sample));
  }
  return knots;
}

}  // namespace kmpi::detail
