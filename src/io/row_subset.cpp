// Where a RowSubset's rows lie over the ranks (src/io/row_subset.hpp).
#include "io/row_subset.hpp"

#include <numeric>

namespace kmpi::detail {

std::vector<std::size_t> kept_rows(const RowSubset& subset, std::size_t lo, std::size_t hi) {
  std::vector<std::size_t> rows;
  if (const std::vector<std::size_t>* list = subset.list()) {
    rows.assign(std::lower_bound(list->begin(), list->end(), lo),
                std::lower_bound(list->begin(), list->end(), hi));
    return rows;
  }
  if (subset.all()) {
    rows.resize(hi > lo ? hi - lo : 0);
    std::iota(rows.begin(), rows.end(), lo);
    return rows;
  }
  for (std::size_t i = lo; i < hi; ++i)
    if (subset.contains(i)) rows.push_back(i);
  return rows;
}

LocalSubset local_subset(const mpi::Communicator& comm, const RowSubset& subset, std::size_t lo,
                         std::size_t hi) {
  LocalSubset out;
  out.rows = kept_rows(subset, lo, hi);
  const std::size_t mine = out.rows.size();
  const std::vector<std::size_t> counts = comm.allgather(&mine, 1);
  for (int r = 0; r < comm.size(); ++r) {
    if (r < comm.rank()) out.before += counts[static_cast<std::size_t>(r)];
    out.total += counts[static_cast<std::size_t>(r)];
  }
  return out;
}

std::vector<std::size_t> rows_at_positions(const RowSubset& subset, std::size_t n,
                                           const std::vector<std::size_t>& counts,
                                           std::size_t first, std::size_t last) {
  const BlockPartition blocks(n, static_cast<int>(counts.size()));
  std::vector<std::size_t> rows;
  std::size_t position = 0;  // kept rows before block s
  for (std::size_t s = 0; s < counts.size() && position < last; ++s) {
    const std::size_t next = position + counts[s];
    if (next > first) {  // block s holds positions of [first, last)
      const int b = static_cast<int>(s);
      for (std::size_t i = blocks.begin(b); i < blocks.end(b) && position < last; ++i)
        if (subset.contains(i) && position++ >= first) rows.push_back(i);
    }
    position = next;
  }
  return rows;
}

std::vector<std::size_t> rows_of_rank(const mpi::Communicator& comm, const RowSubset& subset,
                                      std::size_t n, std::size_t& total) {
  const int P = comm.size(), me = comm.rank();
  if (subset.all() || subset.list() != nullptr) {
    total = subset.all() ? n : subset.list()->size();
    const BlockPartition part(total, P);
    std::vector<std::size_t> rows(part.count(me));
    for (std::size_t k = 0; k < rows.size(); ++k)
      rows[k] = subset.all() ? part.begin(me) + k : (*subset.list())[part.begin(me) + k];
    return rows;
  }
  const BlockPartition blocks(n, P);
  std::size_t mine = 0;
  for (std::size_t i = blocks.begin(me); i < blocks.end(me); ++i) mine += subset.contains(i);
  const std::vector<std::size_t> counts = comm.allgather(&mine, 1);
  total = std::accumulate(counts.begin(), counts.end(), std::size_t(0));
  const BlockPartition part(total, P);
  return rows_at_positions(subset, n, counts, part.begin(me), part.end(me));
}

}  // namespace kmpi::detail
