// distinct_rows (src/solvers/center_factor.hpp): the rows falkon keeps as centers when some repeat,
// checked against a brute-force reference (a row is kept unless an earlier row equals it).
#include <gtest/gtest.h>

#include <random>

#include "solvers/center_factor.hpp"

namespace kmpi {
namespace {

std::vector<std::size_t> brute_force(const Matrix<double>& z) {
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < z.rows(); ++i) {
    bool repeat = false;
    for (std::size_t j = 0; j < i && !repeat; ++j) {
      bool same = true;
      for (std::size_t k = 0; k < z.cols() && same; ++k) same = z(i, k) == z(j, k);
      repeat = same;
    }
    if (!repeat) kept.push_back(i);
  }
  return kept;
}

TEST(CenterFactor, DistinctRowsKeepsTheFirstOfEveryRepeat) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  Matrix<double> z(300, 7);
  for (std::size_t i = 0; i < z.rows(); ++i) {
    // Every third row copies an earlier one (some copies of copies); one differs in its last bit.
    const bool copy = i > 0 && i % 3 == 0;
    const std::size_t from = copy ? rng() % i : i;
    for (std::size_t k = 0; k < z.cols(); ++k) z(i, k) = copy ? z(from, k) : u(rng);
    if (i == 150) z(i, 6) = std::nextafter(z(i - 1, 6), 2.0), z(i, 0) = z(i - 1, 0);
  }
  const auto kept = distinct_rows(z);
  EXPECT_EQ(kept, brute_force(z));
  EXPECT_EQ(kept.size(), 202u);  // 99 rows were copies; row 150 was made new (one bit differs)
  Matrix<double> none(0, 3);
  EXPECT_TRUE(distinct_rows(none).empty());
}

TEST(CenterFactor, JitterFollowsTheProductPrecision) {
  // float32 products need a larger floor than float64 (see center_factor.cpp).
  EXPECT_GT(jitter_per_center(Precision::kFloat32), 1e4 * jitter_per_center(Precision::kFloat64));
}

}  // namespace
}  // namespace kmpi
