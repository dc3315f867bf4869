// MPI counts and displacements are ints; kmpi's sizes are std::size_t. Every place that builds
// counts from sizes goes through here, so a count that does not fit is an agreed error naming
// what was being moved, never a silent wrap (at 10^8 rows x 784 features one rank's block alone
// is 7.8e10 values).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kmpi/partition.hpp"

namespace kmpi::mpi {

struct CountsDispls {
  std::vector<int> counts, displs;  // per rank, in values
};

// local: for the rows [offsets[r], offsets[r + 1]) of each rank r (P + 1 global row offsets)
// clipped to the window of rows [b0, b1), the counts and displacements of those rows at `cols`
// values each, relative to row b0. Every rank computes the same layout from the same offsets, so
// a count that does not fit an int is the same verdict on every rank: a CollectiveError naming
// `what` and the remedy, agreed without communication.
CountsDispls window_counts(const std::vector<std::size_t>& offsets, std::size_t b0, std::size_t b1,
                           std::size_t cols, const std::string& what);
// local: the same for the whole of a block partition (the window [0, n)).
CountsDispls partition_counts(const BlockPartition& part, std::size_t cols,
                              const std::string& what);

// local: n values as an MPI count, or kmpi::Error naming `what` (for counts that differ between
// ranks: call it inside agree_on, so the verdict is agreed before the collective).
int checked_count(std::size_t n, const std::string& what);

}  // namespace kmpi::mpi
