// data.numeric_transform = quantile (io/quantile_map.hpp): the normal quantile against
// reference values and against its inverse (the normal CDF through std::erfc); knots against
// order statistics worked out by hand; the map against its definition point by point (levels
// between knots, tied knots, the ends); the seeded sample's exact size at any row count.
// scikit-learn's QuantileTransformer itself is the reference of python/tests/test_tables.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "base/rng.hpp"
#include "io/quantile_map.hpp"

namespace kmpi::detail {
namespace {

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

TEST(QuantileMap, NormalQuantileMatchesTablesAndInvertsTheCdf) {
  // Reference values (Abramowitz and Stegun; scipy.stats.norm.ppf), to 1e-12 absolute.
  EXPECT_NEAR(normal_quantile(0.5), 0.0, 1e-15);
  EXPECT_NEAR(normal_quantile(0.975), 1.959963984540054, 1e-12);
  EXPECT_NEAR(normal_quantile(0.025), -1.959963984540054, 1e-12);
  EXPECT_NEAR(normal_quantile(0.84134474606854293), 1.0, 1e-12);
  EXPECT_NEAR(normal_quantile(1e-7), -5.199337582192817, 1e-10);
  // Phi(Phi^-1(p)) = p over the three branches of the approximation (relative 1e-13: one
  // Halley step leaves a few ulps).
  for (double p : {1e-12, 1e-9, 1e-5, 0.001, 0.02, 0.02425, 0.1, 0.3, 0.5, 0.7, 0.97575, 0.999,
                   1 - 1e-6})
    EXPECT_NEAR(normal_cdf(normal_quantile(p)) / p, 1.0, 1e-13) << "p = " << p;
}

TEST(QuantileMap, KnotsAreTheOrderStatisticsOrTheirInterpolation) {
  // n <= 1000 values: the knots are the sorted values themselves (up to the rounding of the
  // level times n - 1, as in numpy's percentile).
  std::vector<double> shuffled(200);
  for (std::size_t i = 0; i < shuffled.size(); ++i)
    shuffled[i] = static_cast<double>((i * 37) % 200) * 0.5;
  std::vector<double> sorted = shuffled;
  std::sort(sorted.begin(), sorted.end());
  const std::vector<double> all = quantile_knots(shuffled);
  ASSERT_EQ(all.size(), sorted.size());
  for (std::size_t k = 0; k < all.size(); ++k) EXPECT_NEAR(all[k], sorted[k], 1e-12) << k;
  // 2001 values 0..2000: 1000 knots at levels k / 999, the value at position k * 2000 / 999
  // interpolated linearly between its neighbours (here the position itself).
  std::vector<double> ramp(2001);
  std::iota(ramp.begin(), ramp.end(), 0.0);
  std::reverse(ramp.begin(), ramp.end());
  const std::vector<double> knots = quantile_knots(ramp);
  ASSERT_EQ(knots.size(), 1000u);
  for (std::size_t k = 0; k < knots.size(); ++k)
    EXPECT_NEAR(knots[k], static_cast<double>(k) * 2000.0 / 999.0, 1e-9) << k;
  EXPECT_EQ(knots.front(), 0.0);
  EXPECT_EQ(knots.back(), 2000.0);
  // One value: one knot.
  EXPECT_EQ(quantile_knots({3.0}), std::vector<double>{3.0});
}

TEST(QuantileMap, MapFollowsItsDefinitionPointByPoint) {
  // Five distinct knots: levels 0, 1/4, 1/2, 3/4, 1; between two knots the level is linear.
  const std::vector<double> knots{0, 1, 2, 4, 8};
  EXPECT_NEAR(quantile_normal(knots, 2.0), 0.0, 1e-15);
  EXPECT_NEAR(quantile_normal(knots, 1.0), normal_quantile(0.25), 1e-15);
  EXPECT_NEAR(quantile_normal(knots, 3.0), normal_quantile(0.5 + 0.25 * 0.5), 1e-15);
  EXPECT_NEAR(quantile_normal(knots, 6.0), normal_quantile(0.75 + 0.25 * 0.5), 1e-15);
  // At or past the ends (within 1e-7): the clipped end scores, -5.1993... and its negative.
  const double edge = normal_quantile(1e-7);
  EXPECT_EQ(quantile_normal(knots, 0.0), edge);
  EXPECT_EQ(quantile_normal(knots, -100.0), edge);
  EXPECT_EQ(quantile_normal(knots, 8.0), -edge);
  EXPECT_EQ(quantile_normal(knots, 1e9), -edge);
  // Monotone in x.
  double last = -1e300;
  for (double x = -1; x <= 9; x += 0.01) {
    const double z = quantile_normal(knots, x);
    EXPECT_GE(z, last) << x;
    last = z;
  }
  // Tied knots (a count column with many equal values): the middle of their levels. Knots
  // 0, 1, 1, 1, 2 have levels 0, 1/4, 1/2, 3/4, 1; the value 1 takes (1/4 + 3/4) / 2 = 1/2.
  EXPECT_NEAR(quantile_normal({0, 1, 1, 1, 2}, 1.0), 0.0, 1e-15);
  // Knots 0, 0, 0, 1, 2: 0 is the lower end, whatever the ties.
  EXPECT_EQ(quantile_normal({0, 0, 0, 1, 2}, 0.0), edge);
  // No knots: the value as it is.
  EXPECT_EQ(quantile_normal({}, 3.5), 3.5);
}

TEST(QuantileMap, SampleHasExactlyItsSizeAndDependsOnTheRowAlone) {
  // Up to kQuantileSamples selected rows: all of them.
  const QuantileSample small(5000, 5000);
  for (std::size_t i = 0; i < 5000; ++i) ASSERT_TRUE(small.contains(i));
  // Every row selected: exactly kQuantileSamples of them (the permutation's preimages).
  const std::size_t n = 1000003;
  const QuantileSample all(n, n);
  std::size_t in = 0;
  for (std::size_t i = 0; i < n; ++i) in += all.contains(i);
  EXPECT_EQ(in, kQuantileSamples);
  // A second object for the same file gives the same rows (no state shared between calls).
  const QuantileSample again(n, n);
  for (std::size_t i = 0; i < n; i += 997) EXPECT_EQ(all.contains(i), again.contains(i));
}

}  // namespace
}  // namespace kmpi::detail
