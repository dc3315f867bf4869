// Helpers shared by the MPI tests: data defined point by point from the global row index, so
// every rank can build its own rows and the serial reference can build all of them.
#pragma once

#include <gtest/gtest.h>

#include <cmath>

#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/partition.hpp"
#include "kmpi/rng.hpp"

namespace kmpi::testing_support {

inline double uniform01(std::uint64_t seed, std::size_t i, std::size_t j) {
  return static_cast<double>(counter_random(seed, RngStream::kGenerator, i, j) >> 11) * 0x1.0p-53;
}

// Rows [begin, begin + count) of a synthetic data set (n x d uniform in [0, 1)).
inline Matrix<double> synthetic_rows(std::uint64_t seed, std::size_t begin, std::size_t count,
                                     std::size_t d) {
  Matrix<double> x(count, d);
  for (std::size_t i = 0; i < count; ++i)
    for (std::size_t j = 0; j < d; ++j) x(i, j) = uniform01(seed, begin + i, j);
  return x;
}

// Rows of a matrix given by f(global_row, col).
template <class F>
Matrix<double> rows_of(std::size_t begin, std::size_t count, std::size_t cols, F&& f) {
  Matrix<double> m(count, cols);
  for (std::size_t i = 0; i < count; ++i)
    for (std::size_t j = 0; j < cols; ++j) m(i, j) = f(begin + i, j);
  return m;
}

inline double max_abs(const Matrix<double>& a) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a.data()[i]));
  return m;
}

// Largest |a - b| over all entries, local.
inline double max_abs_diff(const Matrix<double>& a, const Matrix<double>& b) {
  EXPECT_EQ(a.rows(), b.rows());
  EXPECT_EQ(a.cols(), b.cols());
  double m = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
  return m;
}

}  // namespace kmpi::testing_support
