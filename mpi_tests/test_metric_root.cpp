// The learned metric's root from a replicated matrix (kernels/metric_root.hpp): the ScaLAPACK
// path (forced at small d here) equals the serial LAPACK path to rounding, holds the same bits
// on every rank, and the serial path below the threshold is from_matrix_power bit for bit; in
// groups of every size 1..P.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common.hpp"
#include "kernels/metric_root.hpp"

namespace kmpi {
namespace {

using namespace testing_support;

// A symmetric matrix with a negative eigenvalue or two (clipped by the root): B B^T - shift I.
Matrix<double> symmetric_input(std::size_t d) {
  Matrix<double> b(d, d), m(d, d);
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < d; ++j)
      b(i, j) = std::sin(0.7 * static_cast<double>(i * d + j) + 1);
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      double s = 0;
      for (std::size_t k = 0; k < d / 2; ++k) s += b(i, k) * b(j, k);
      m(i, j) = s - (i == j ? 0.3 : 0.0);
    }
  return m;
}

TEST(MetricRoot, ScalapackPathEqualsSerialRootOnEveryRank) {
  auto world = mpi::Communicator::world();
  const std::size_t d = 70;
  const Matrix<double> m = symmetric_input(d);
  for (double power : {1.0, 0.5}) {
    const FeatureMetric want = FeatureMetric::from_matrix_power(MetricKind::kFull, m, power);
    double scale = 0;
    for (double v : want.root) scale = std::max(scale, std::abs(v));
    for (int g : rank_group_sizes(world.size())) {
      auto comm = world.split(world.rank() / g, world.rank());
      const FeatureMetric serial = agreed_metric_root(comm, MetricKind::kFull, m, power);
      EXPECT_EQ(serial.root, want.root) << "serial path, group " << g;
      const FeatureMetric got = agreed_metric_root(comm, MetricKind::kFull, m, power, 1);
      ASSERT_EQ(got.root.size(), d * d);
      EXPECT_EQ(got.kind, MetricKind::kFull);
      double diff = 0;
      for (std::size_t i = 0; i < d * d; ++i)
        diff = std::max(diff, std::abs(got.root[i] - want.root[i]));
      // Two eigensolvers on a matrix of condition ~1e3 in its kept part: 1e-10 relative.
      EXPECT_LT(diff, 1e-10 * scale) << "power " << power << ", group " << g;
      // Every rank of the group holds rank 0's bits.
      std::vector<double> first = got.root;
      comm.broadcast(first.data(), first.size(), 0);
      EXPECT_EQ(comm.allreduce_value(first == got.root ? 0 : 1), 0) << "group " << g;
    }
  }
}

}  // namespace
}  // namespace kmpi
