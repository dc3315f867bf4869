// Internal: where a RowSubset's rows lie over the ranks (for data.cpp, the text and table
// readers, and the row selection of the driver). Every function tests only the rows of one
// contiguous range per rank, so per-rank memory is that of the kept rows of about n/P rows.
#pragma once

#include <cstddef>
#include <vector>

#include "kmpi/data.hpp"
#include "kmpi/mpi.hpp"

namespace kmpi::detail {

// local: the rows i of [lo, hi) that `subset` keeps, ascending.
std::vector<std::size_t> kept_rows(const RowSubset& subset, std::size_t lo, std::size_t hi);

// This rank's kept rows of its range, and where they sit among all ranks' kept rows.
struct LocalSubset {
  std::vector<std::size_t> rows;  // global rows, ascending
  std::size_t before = 0;         // kept rows in the ranges of lower ranks
  std::size_t total = 0;          // kept rows over all ranges
};

// collective: the kept rows of this rank's range [lo, hi); the ranks' ranges are contiguous and
// ascending in rank order (a text file's byte ranges, rows in memory).
LocalSubset local_subset(const mpi::Communicator& comm, const RowSubset& subset, std::size_t lo,
                         std::size_t hi);

// local: the global rows at positions [first, last) of the kept rows of [0, n), given how many
// rows `subset` keeps in each block of BlockPartition(n, counts.size()): only the blocks that
// hold those positions are tested (for a random subset, about two blocks).
std::vector<std::size_t> rows_at_positions(const RowSubset& subset, std::size_t n,
                                           const std::vector<std::size_t>& counts,
                                           std::size_t first, std::size_t last);

// collective: the global rows of this rank's block of BlockPartition(kept, P), the kept rows of
// [0, n) in order (for readers that can read any row: binary files); `total` gets kept. Each
// rank counts the kept rows of its block of [0, n), then finds its positions.
std::vector<std::size_t> rows_of_rank(const mpi::Communicator& comm, const RowSubset& subset,
                                      std::size_t n, std::size_t& total);

}  // namespace kmpi::detail
