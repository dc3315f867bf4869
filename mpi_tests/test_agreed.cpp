// The agreed-decision helpers of the MPI wrapper (include/kmpi/mpi.hpp): ranks that hold
// deliberately different local values all get rank 0's, bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kmpi/mpi.hpp"

namespace kmpi {
namespace {

TEST(Agreed, EveryRankTakesRankZerosDecision) {
  const auto comm = mpi::Communicator::world();
  const bool local = comm.rank() % 2 == 0;  // rank 0 says yes, odd ranks say no
  EXPECT_TRUE(comm.agreed(local));
  EXPECT_FALSE(comm.agreed(!local));
}

TEST(Agreed, EveryRankGetsRankZerosBits) {
  const auto comm = mpi::Communicator::world();
  // A last-bit difference, as two reduction orders leave it; and NaN on the other ranks.
  const double local = comm.rank() == 0 ? 0.1 + 0.2 : std::numeric_limits<double>::quiet_NaN();
  const double v = comm.agreed_value(local);
  const double expected = 0.1 + 0.2;
  EXPECT_EQ(std::memcmp(&v, &expected, sizeof v), 0) << "rank " << comm.rank();
  EXPECT_EQ(comm.agreed_value(static_cast<long long>(comm.rank())), 0);
  std::vector<double> values{static_cast<double>(comm.rank()), -1.0 * comm.rank()};
  comm.agreed_values(values.data(), values.size());
  EXPECT_EQ(values, (std::vector<double>{0.0, 0.0}));
}

}  // namespace
}  // namespace kmpi
