// reproducible_sums (parallel/exact_sum.hpp): the same bits at every rank count, close to the
// exact sum; and fit_scaling (standardize) through it gives the same scaling at every rank count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "base/rng.hpp"
#include "common.hpp"
#include "driver/training_data.hpp"
#include "kmpi/partition.hpp"
#include "parallel/exact_sum.hpp"

namespace kmpi {
namespace {

// Row i, column j: values over many magnitudes and both signs (a naive sum depends on order).
double wild(std::size_t i, std::size_t j) {
  const std::uint64_t w = counter_random(3, RngStream::kGenerator, j, i);
  const double u = static_cast<double>(w >> 11) * 0x1p-53;
  return (u - 0.3) * std::ldexp(1.0, static_cast<int>(w % 40) - 20) + (j == 2 ? 1e6 : 0.0);
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(ReproducibleSums, SameBitsAtEveryRankCountAndCloseToExact) {
  auto comm = mpi::Communicator::world();
  const std::size_t n = 10007, k = 4;
  const BlockPartition part(n, comm.size());
  const std::size_t first = part.begin(comm.rank());
  const auto mine = reproducible_sums(comm, part.count(comm.rank()), k, n,
                                      [&](std::size_t i, std::size_t j) { return wild(first + i, j); });
  // One rank alone, all rows, in reverse order: the P = 1 sum.
  const mpi::Communicator alone = comm.split(comm.rank(), 0);
  const auto whole = reproducible_sums(alone, n, k, n,
                                       [&](std::size_t i, std::size_t j) { return wild(n - 1 - i, j); });
  for (std::size_t j = 0; j < k; ++j) {
    EXPECT_TRUE(same_bits(mine[j], whole[j])) << j << ": " << mine[j] << " vs " << whole[j];
    long double exact = 0, magnitude = 0;
    for (std::size_t i = 0; i < n; ++i) {
      exact += wild(i, j);
      magnitude += std::abs(wild(i, j));
    }
    // A double's rounding of the sum, not of the terms: 1e-15 of the sum of magnitudes.
    EXPECT_NEAR(mine[j], static_cast<double>(exact), 1e-15 * static_cast<double>(magnitude));
  }
}

TEST(ReproducibleSums, StandardizeScalingIsTheSameAtEveryRankCount) {
  auto comm = mpi::Communicator::world();
  const std::size_t n = 3001, d = 5;
  LocalData data;
  data.partition = BlockPartition(n, comm.size());
  data.dimension = d;
  const std::size_t first = data.partition.begin(comm.rank());
  data.features = Matrix<double>(data.partition.count(comm.rank()), d);
  for (std::size_t i = 0; i < data.features.rows(); ++i)
    for (std::size_t j = 0; j < d; ++j) data.features(i, j) = wild(first + i, j);
  const Scaling s = fit_scaling(comm, ScaleMode::kStandardize, data, n);
  LocalData all;
  all.partition = BlockPartition(n, 1);
  all.dimension = d;
  all.features = Matrix<double>(n, d);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) all.features(i, j) = wild(i, j);
  const Scaling one = fit_scaling(comm.split(comm.rank(), 0), ScaleMode::kStandardize, all, n);
  for (std::size_t j = 0; j < d; ++j) {
    EXPECT_TRUE(same_bits(s.offset[j], one.offset[j])) << j;
    EXPECT_TRUE(same_bits(s.multiplier[j], one.multiplier[j])) << j;
  }
}

}  // namespace
}  // namespace kmpi
