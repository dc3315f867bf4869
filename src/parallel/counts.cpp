#include "parallel/counts.hpp"

#include <algorithm>
#include <climits>

#include "kmpi/error.hpp"

namespace kmpi::mpi {

namespace {

std::string too_large(std::size_t n, const std::string& what) {
  return what + ": " + std::to_string(n) +
         " values in one MPI message, more than its int counts allow (2147483647); use more "
         "ranks";
}

}  // namespace

int checked_count(std::size_t n, const std::string& what) {
  if (n > static_cast<std::size_t>(INT_MAX)) throw Error(too_large(n, what));
  return static_cast<int>(n);
}

CountsDispls window_counts(const std::vector<std::size_t>& offsets, std::size_t b0, std::size_t b1,
                           std::size_t cols, const std::string& what) {
  const std::size_t P = offsets.empty() ? 0 : offsets.size() - 1;
  CountsDispls out{std::vector<int>(P), std::vector<int>(P)};
  // The largest value is the end of the window; rows x cols is checked before it is formed.
  const std::size_t rows = b1 > b0 ? b1 - b0 : 0;
  if (cols != 0 && rows > static_cast<std::size_t>(INT_MAX) / cols)
    throw CollectiveError(too_large(rows * cols, what), 0);
  for (std::size_t r = 0; r < P; ++r) {
    const std::size_t lo = std::clamp(offsets[r], b0, b1), hi = std::clamp(offsets[r + 1], b0, b1);
    out.counts[r] = static_cast<int>((std::max(lo, hi) - lo) * cols);
    out.displs[r] = static_cast<int>((lo - b0) * cols);
  }
  return out;
}

CountsDispls partition_counts(const BlockPartition& part, std::size_t cols,
                              const std::string& what) {
  std::vector<std::size_t> offsets(part.parts() + 1);
  for (int r = 0; r < part.parts(); ++r) offsets[r + 1] = part.end(r);
  return window_counts(offsets, 0, part.size(), cols, what);
}

}  // namespace kmpi::mpi
