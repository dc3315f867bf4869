// choose_rows' rule (driver/train_steps.hpp: row_selection) and the per-rank pieces of a
// RowSubset (io/row_subset.hpp): a rank decides for its own range of rows only, exact counts, no
// O(n) vector, at a simulated n = 3e9; the per-rank bytes of the selection do not grow with n
// for a fixed n / P. References come from the permutation's inverse (the kept rows are the
// preimages of [0, L)), not from the tested code.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "base/permutation.hpp"
#include "driver/train_steps.hpp"
#include "io/row_subset.hpp"

namespace kmpi {
namespace {

TEST(RowSelection, OneRankOfThreeBillionRowsWithoutAllocatingN) {
  const std::size_t n = 3000000000ULL, limit = 1000000, nv = 100000, P = 3000;
  const std::uint64_t seed = 7;
  const RowSelection s = row_selection(n, limit, nv, seed);
  EXPECT_EQ(s.train_rows, limit - nv);
  EXPECT_EQ(s.validation_rows, nv);
  // The reference: rows whose image is below nv validate, those in [nv, L) train; L distinct
  // rows in all (exactly L kept, exactly nv validating).
  const CounterPermutation pi(n, seed, RngStream::kDataLimit, 0);
  std::vector<std::size_t> train, validation;
  for (std::size_t j = 0; j < limit; ++j) (j < nv ? validation : train).push_back(pi.inverse(j));
  std::sort(train.begin(), train.end());
  std::sort(validation.begin(), validation.end());
  std::vector<std::size_t> all;
  std::merge(train.begin(), train.end(), validation.begin(), validation.end(),
             std::back_inserter(all));
  ASSERT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  ASSERT_LT(all.back(), n);

  // Rank 1234's block of the file: only its n / P rows are tested.
  const BlockPartition blocks(n, static_cast<int>(P));
  const std::size_t lo = blocks.begin(1234), hi = blocks.end(1234);
  const auto in_block = [&](const std::vector<std::size_t>& v) {
    return std::vector<std::size_t>(std::lower_bound(v.begin(), v.end(), lo),
                                    std::lower_bound(v.begin(), v.end(), hi));
  };
  const std::vector<std::size_t> mine_train = detail::kept_rows(s.train, lo, hi);
  const std::vector<std::size_t> mine_val = detail::kept_rows(s.validation, lo, hi);
  EXPECT_EQ(mine_train, in_block(train));
  EXPECT_EQ(mine_val, in_block(validation));
  // About L / P = 333 rows, not n: the rank's list is the only thing that grows.
  EXPECT_GT(mine_train.size(), 200u);
  EXPECT_LT(mine_train.size(), 500u);

  // A binary reader's rows: rank 1234's block of BlockPartition(L - nv, P), found from the
  // blocks' counts by testing only the blocks that hold its positions.
  std::vector<std::size_t> counts(P, 0);
  for (std::size_t i : train) ++counts[static_cast<std::size_t>(blocks.owner(i))];
  const BlockPartition part(train.size(), static_cast<int>(P));
  for (int r : {0, 1234, static_cast<int>(P) - 1}) {
    const std::vector<std::size_t> rows =
        detail::rows_at_positions(s.train, n, counts, part.begin(r), part.end(r));
    EXPECT_EQ(rows,
              std::vector<std::size_t>(train.begin() + part.begin(r), train.begin() + part.end(r)))
        << "rank " << r;
  }
}

// Every row, a limit alone, a validation split alone; tiny n exhaustively against the inverse.
TEST(RowSelection, ExactCountsForEverySmallN) {
  EXPECT_TRUE(row_selection(100, 100, 0, 1).train.all());
  for (std::size_t n = 1; n <= 60; ++n)
    for (std::size_t limit : {std::size_t(1), n / 2 + 1, n})
      for (std::size_t nv : {std::size_t(0), limit / 3}) {
        const RowSelection s = row_selection(n, limit, nv, n);
        const CounterPermutation pi(n, n, RngStream::kDataLimit, 0);
        std::size_t t = 0, v = 0;
        for (std::size_t i = 0; i < n; ++i) {
          const std::size_t j = pi(i);
          EXPECT_EQ(s.train.contains(i), j >= nv && j < limit);
          EXPECT_EQ(s.validation.contains(i), j < nv);
          t += s.train.contains(i);
          v += s.validation.contains(i);
        }
        EXPECT_EQ(t, limit - nv);
        EXPECT_EQ(v, nv);
      }
}

// The selection's per-rank bytes (the kept rows of the rank's n / P rows; the rule itself is a
// few words) stay the same as n grows 1000-fold at fixed n / P and a fixed kept share, where a
// list of the selected rows would grow with n.
TEST(RowSelection, PerRankBytesDoNotGrowWithNAtFixedRowsPerRank) {
  const std::size_t rows_per_rank = 100000;
  std::vector<double> bytes;
  for (std::size_t n : {std::size_t(10000000), std::size_t(1000000000), std::size_t(10000000000)}) {
    const RowSelection s = row_selection(n, n / 10, n / 100, 3);
    const BlockPartition blocks(n, static_cast<int>(n / rows_per_rank));
    const int r = blocks.parts() / 2;
    const std::vector<std::size_t> mine =
        detail::kept_rows(s.train, blocks.begin(r), blocks.end(r));
    bytes.push_back(static_cast<double>(mine.size() * sizeof(std::size_t) + sizeof(s)));
    // n / 10 - n / 100 of n kept: 9000 of the rank's 100000 rows, within 5 standard deviations.
    EXPECT_NEAR(static_cast<double>(mine.size()), 9000.0, 5 * 90.5) << "n = " << n;
  }
  EXPECT_LT(bytes[2], 1.1 * bytes[0]);
  EXPECT_LT(bytes[1], 1.1 * bytes[0]);
}

}  // namespace
}  // namespace kmpi
