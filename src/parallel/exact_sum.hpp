// Column sums over the rows of every rank that have the same bits for any rank count and any
// summation order (pre-rounding, as in reproducible BLAS: Demmel and Nguyen). Each column's
// values are split on kLevels grids fixed by the column's agreed largest magnitude and the number
// of rows alone; on a grid every partial sum of at most n terms is an integer multiple of the
// grid's unit below 2^52 units, hence exact, so the ranks' partial sums and their allreduce are
// exact too. With 2^b >= n + 1 each level keeps 52 - b bits: three levels cover a double's 53
// for n up to 2^34 (the part below the last grid, under 2^-(3 (53 - b) - b) of the largest
// value, is dropped). Used where a reduced value reaches the model (data.scale = standardize),
// so the scaled rows, the checkpoint's data fingerprint and the model do not depend on P.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "kmpi/mpi.hpp"

namespace kmpi {

// collective: for j < k, the sum over every rank's rows i < rows of value(i, j) (n rows in all).
// Columns whose largest magnitude is not finite get the plain sum (NaN or Inf either way);
// grids finer than 2^-1000 are skipped (values that small add nothing a double can keep).
template <class Value>
std::vector<double> reproducible_sums(const mpi::Communicator& comm, std::size_t rows,
                                      std::size_t k, std::size_t n, const Value& value) {
  constexpr std::size_t kLevels = 3;
  std::vector<double> top(k, 0.0);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < k; ++j) top[j] = std::max(top[j], std::abs(value(i, j)));
  comm.allreduce(top, mpi::Op::kMax);
  int b = 1;
  while (b < 50 && (std::size_t(1) << b) < n + 1) ++b;
  // unit[j * kLevels + l]: grid l of column j (0 = skipped); shift: 1.5 * 2^52 units, adding and
  // subtracting it rounds a value below 2^51 units to the grid (round to nearest, exact).
  std::vector<double> unit(k * kLevels, 0.0), shift(k * kLevels, 0.0), part(k * kLevels, 0.0);
  std::vector<double> plain(k, 0.0);
  for (std::size_t j = 0; j < k; ++j) {
    if (!std::isfinite(top[j]) || top[j] == 0) continue;
    int e = 0;
    std::frexp(top[j], &e);  // top < 2^e
    for (std::size_t l = 0; l < kLevels; ++l) {
      const int exponent = e + b - 52 - static_cast<int>(l) * (53 - b);
      if (exponent < -1000) break;
      unit[j * kLevels + l] = std::ldexp(1.0, exponent);
      shift[j * kLevels + l] = std::ldexp(1.5, exponent + 52);
    }
  }
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      double r = value(i, j);
      if (!std::isfinite(top[j])) plain[j] += r;
      for (std::size_t l = 0; l < kLevels && unit[j * kLevels + l] > 0; ++l) {
        const double c = shift[j * kLevels + l];
        const double h = (r + c) - c;
        part[j * kLevels + l] += h;
        r -= h;
      }
    }
  comm.allreduce(part);
  comm.allreduce(plain);
  std::vector<double> sums(k);
  for (std::size_t j = 0; j < k; ++j)
    sums[j] = std::isfinite(top[j])
                  ? (part[j * kLevels] + part[j * kLevels + 1]) + part[j * kLevels + 2]
                  : plain[j];
  return sums;
}

}  // namespace kmpi
