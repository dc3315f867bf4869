#include <gtest/gtest.h>

#include "kmpi/partition.hpp"

namespace kmpi {
namespace {

// Property check against the definition: the first n % P ranks own one extra row, rows are
// contiguous, cover [0, n) exactly once, and owner() is the inverse of the ranges.
TEST(BlockPartition, CoversEveryRowOnceWithTheDefinedCounts) {
  for (std::size_t n : {0, 1, 2, 3, 7, 10, 60000, 60001}) {
    for (int p : {1, 2, 3, 4, 7, 16}) {
      BlockPartition part(n, p);
      std::size_t next = 0;
      for (int r = 0; r < p; ++r) {
        EXPECT_EQ(part.begin(r), next);
        const std::size_t expected = n / p + (static_cast<std::size_t>(r) < n % p ? 1 : 0);
        EXPECT_EQ(part.count(r), expected) << "n=" << n << " p=" << p << " r=" << r;
        for (std::size_t i = part.begin(r); i < part.end(r); i += 1 + part.count(r) / 50)
          EXPECT_EQ(part.owner(i), r);
        if (part.count(r) > 0) {
          EXPECT_EQ(part.owner(part.end(r) - 1), r);
        }
        next = part.end(r);
      }
      EXPECT_EQ(next, n);
      const auto counts = part.counts(3);
      const auto displs = part.displacements(3);
      for (int r = 0; r < p; ++r) {
        EXPECT_EQ(counts[r], static_cast<int>(3 * part.count(r)));
        EXPECT_EQ(displs[r], static_cast<int>(3 * part.begin(r)));
      }
    }
  }
}

TEST(BlockPartition, RejectsNoParts) { EXPECT_THROW(BlockPartition(5, 0), Error); }

}  // namespace
}  // namespace kmpi
