// MPI counts from sizes (src/parallel/counts.hpp) at sizes a large run has, without allocating
// them: a block partition of 3e9 rows, prediction rounds over it, and the agreed error where a
// message would not fit an int count (instead of a silent wrap to a negative count).
#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <vector>

#include "kmpi/error.hpp"
#include "kmpi/partition.hpp"
#include "parallel/counts.hpp"

namespace kmpi {
namespace {

std::vector<std::size_t> offsets_of(const BlockPartition& part) {
  std::vector<std::size_t> o(part.parts() + 1);
  for (int r = 0; r < part.parts(); ++r) o[r + 1] = part.end(r);
  return o;
}

TEST(Counts, PartitionOfThreeBillionRows) {
  const std::size_t n = 3000000000ULL;
  for (int P : {1, 7, 1024}) {
    const BlockPartition part(n, P);
    std::size_t sum = 0;
    for (int r = 0; r < P; ++r) {
      EXPECT_EQ(part.begin(r), sum);
      EXPECT_TRUE(part.count(r) == n / P || part.count(r) == n / P + 1);
      sum += part.count(r);
      EXPECT_EQ(part.owner(part.begin(r)), r);
    }
    EXPECT_EQ(sum, n);
    EXPECT_EQ(part.owner(n - 1), P - 1);
  }
}

TEST(Counts, RoundsOverALargePartitionFit) {
  // predict_distributed's rounds: 2048 query rows x 784 values at any n.
  const BlockPartition part(3000000000ULL, 7);
  const auto o = offsets_of(part);
  const std::size_t b0 = part.begin(3) - 1000, b1 = b0 + 2048;  // a round across a rank boundary
  const mpi::CountsDispls cd = mpi::window_counts(o, b0, b1, 784, "query rows");
  EXPECT_EQ(cd.counts[2], 1000 * 784);
  EXPECT_EQ(cd.counts[3], 1048 * 784);
  EXPECT_EQ(cd.displs[3], 1000 * 784);
  for (int r : {0, 1, 4, 5, 6}) EXPECT_EQ(cd.counts[r], 0);
}

TEST(Counts, AMessageBeyondIntCountsIsAnAgreedError) {
  // Gathering 3e9 rows x 1 value (a predictions file of a 3e9-row set) cannot be one message:
  // every rank computes the same layout, so every rank throws the same CollectiveError.
  const BlockPartition part(3000000000ULL, 4);
  try {
    mpi::partition_counts(part, 1, "predictions.csv");
    FAIL() << "no error";
  } catch (const CollectiveError& e) {
    EXPECT_NE(std::string(e.what()).find("predictions.csv: 3000000000 values"), std::string::npos)
        << e.what();
  }
  // Just fits / just does not, and rows x cols that would wrap a 64-bit product is caught too.
  EXPECT_NO_THROW(mpi::window_counts({0, std::size_t(INT_MAX)}, 0, INT_MAX, 1, "x"));
  EXPECT_THROW(mpi::window_counts({0, std::size_t(INT_MAX) + 1}, 0, std::size_t(INT_MAX) + 1, 1, "x"),
               CollectiveError);
  EXPECT_THROW(mpi::window_counts({0, SIZE_MAX / 2}, 0, SIZE_MAX / 2, 4, "x"), CollectiveError);
  EXPECT_EQ(mpi::checked_count(INT_MAX, "x"), INT_MAX);
  EXPECT_THROW(mpi::checked_count(std::size_t(INT_MAX) + 1, "x"), Error);
}

}  // namespace
}  // namespace kmpi
