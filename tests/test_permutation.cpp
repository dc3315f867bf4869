// CounterPermutation (base/permutation.hpp): a bijection for every n (exhaustive for small n),
// usable at n = 3e9 without allocating, close to uniform, and a function of its key alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "base/permutation.hpp"

namespace kmpi {
namespace {

TEST(CounterPermutation, IsABijectionWithItsInverseForEverySmallN) {
  for (std::uint64_t n = 1; n <= 300; ++n) {
    const CounterPermutation perm(n, 42, RngStream::kBatches, n);
    std::vector<int> seen(n, 0);
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::uint64_t j = perm(i);
      ASSERT_LT(j, n);
      ++seen[j];
      ASSERT_EQ(perm.inverse(j), i);
    }
    for (int s : seen) ASSERT_EQ(s, 1) << "n = " << n;
  }
  // One larger, not a power of two.
  const std::uint64_t n = 100003;
  const CounterPermutation perm(n, 7, RngStream::kBatches, 0);
  std::vector<char> seen(n, 0);
  for (std::uint64_t i = 0; i < n; ++i) seen[perm(i)] = 1;
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<std::ptrdiff_t>(n));
}

TEST(CounterPermutation, DependsOnItsKeyOnly) {
  const CounterPermutation a(1000, 42, RngStream::kBatches, 3), b(1000, 42, RngStream::kBatches, 3);
  const CounterPermutation c(1000, 42, RngStream::kBatches, 4), e(1000, 43, RngStream::kBatches, 3);
  const CounterPermutation f(1000, 42, RngStream::kCenters, 3);
  std::size_t same_c = 0, same_e = 0, same_f = 0;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    ASSERT_EQ(a(i), b(i));
    same_c += a(i) == c(i);
    same_e += a(i) == e(i);
    same_f += a(i) == f(i);
  }
  // Independent permutations agree on about one point in expectation.
  EXPECT_LT(same_c, 10u);
  EXPECT_LT(same_e, 10u);
  EXPECT_LT(same_f, 10u);
}

// n = 3e9 rows (more than 2^31 and 2^32 / 2): points are evaluated without any O(n) memory;
// every value lands in range, the inverse recovers the point, and a sample is distinct.
TEST(CounterPermutation, WorksAtThreeBillionWithoutAllocating) {
  const std::uint64_t n = 3000000000ULL;
  const CounterPermutation perm(n, 5, RngStream::kBatches, 9);
  std::set<std::uint64_t> images;
  std::uint64_t above_half = 0, above_2_32 = 0;
  const std::uint64_t samples = 20000;
  for (std::uint64_t k = 0; k < samples; ++k) {
    const std::uint64_t i = k * (n / samples) + k % 7;  // spread over the range
    const std::uint64_t j = perm(i);
    ASSERT_LT(j, n);
    ASSERT_EQ(perm.inverse(j), i);
    images.insert(j);
    above_half += j >= n / 2;
    above_2_32 += j >= (std::uint64_t(1) << 32) - 1;
  }
  EXPECT_EQ(images.size(), samples);
  // A uniform image: half above n / 2 (5 sigma = 354), none can be beyond n.
  EXPECT_NEAR(static_cast<double>(above_half), samples / 2.0, 354.0);
  EXPECT_EQ(above_2_32, 0u);
  // The last positions of an epoch are reachable like any other.
  const auto tail = permuted_range(perm, n - 5, 5);
  EXPECT_TRUE(std::is_sorted(tail.begin(), tail.end()));
  EXPECT_EQ(std::set<std::size_t>(tail.begin(), tail.end()).size(), 5u);
  // A subset of 1000 of 3e9 rows costs 1000 entries.
  const auto subset = random_subset(n, 1000, 3, RngStream::kCenters);
  ASSERT_EQ(subset.size(), 1000u);
  for (std::size_t i = 1; i < subset.size(); ++i) ASSERT_LT(subset[i - 1], subset[i]);
  EXPECT_LT(subset.back(), n);
}

// Over many keys, where a given point lands is uniform (chi-square over the n positions, for
// points at the start, middle and end) and so is the pair (perm(0), perm(1)).
TEST(CounterPermutation, PositionsAreUniformOverKeys) {
  const std::uint64_t n = 10, keys = 40000;
  for (std::uint64_t point : {0, 5, 9}) {
    std::vector<double> count(n, 0);
    for (std::uint64_t key = 0; key < keys; ++key)
      ++count[CounterPermutation(n, 11, RngStream::kBatches, key)(point)];
    double chi2 = 0;
    const double expect = static_cast<double>(keys) / n;
    for (double c : count) chi2 += (c - expect) * (c - expect) / expect;
    // 9 degrees of freedom: P(chi2 > 33.7) = 1e-4.
    EXPECT_LT(chi2, 33.7) << "point " << point;
  }
  std::vector<double> pairs(n * n, 0);
  for (std::uint64_t key = 0; key < keys; ++key) {
    const CounterPermutation perm(n, 12, RngStream::kBatches, key);
    ++pairs[perm(0) * n + perm(1)];
  }
  double chi2 = 0;
  const double expect = static_cast<double>(keys) / (n * (n - 1));
  for (std::uint64_t a = 0; a < n; ++a)
    for (std::uint64_t b = 0; b < n; ++b) {
      if (a == b) {
        EXPECT_EQ(pairs[a * n + b], 0);
        continue;
      }
      const double c = pairs[a * n + b];
      chi2 += (c - expect) * (c - expect) / expect;
    }
  // 89 degrees of freedom: P(chi2 > 140) < 1e-3.
  EXPECT_LT(chi2, 140.0);
}

// Within one permutation of a large n, consecutive batches are spread over the rows: the mean
// position of a batch of 1000 is n/2 within a few standard errors, and each tenth of the rows
// gets its share of the first 100000 positions.
TEST(CounterPermutation, OneEpochSpreadsEveryBatch) {
  const std::uint64_t n = 1000000;
  const CounterPermutation perm(n, 1, RngStream::kBatches, 0);
  std::vector<double> tenth(10, 0);
  for (std::uint64_t b0 = 0; b0 < 100000; b0 += 1000) {
    double mean = 0;
    for (std::size_t i : permuted_range(perm, b0, 1000)) {
      mean += static_cast<double>(i) / 1000;
      ++tenth[i * 10 / n];
    }
    // Standard error of the mean of 1000 uniform draws: n / sqrt(12 * 1000) = 0.0091 n.
    EXPECT_NEAR(mean, n / 2.0, 5 * 0.0091 * n);
  }
  double chi2 = 0;
  for (double c : tenth) chi2 += (c - 10000) * (c - 10000) / 10000;
  EXPECT_LT(chi2, 33.7);  // 9 degrees of freedom, P = 1e-4
}

}  // namespace
}  // namespace kmpi
