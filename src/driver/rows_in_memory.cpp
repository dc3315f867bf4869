// Rows a caller holds in memory, in whatever split over the ranks it has, as the LocalData the
// train path takes (kmpi/train.hpp: block_rows).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>

#include "base/permutation.hpp"
#include "driver/train_steps.hpp"
#include "io/row_subset.hpp"
#include "parallel/counts.hpp"

namespace kmpi {

namespace {

// collective: agreed checks of one rank's arrays: the same d everywhere, one target row per
// feature row, and (unless allowed) finite values; errors name the global row and column.
void check_local_rows(const mpi::Communicator& comm, const std::string& name,
                      const Matrix<double>& x, const Matrix<double>& y, std::size_t t,
                      std::size_t first, bool allow_nonfinite) {
  // Ranks without rows do not count (their arrays may be 0 x 0).
  const std::size_t none = x.rows() == 0;
  const std::size_t d_min = comm.allreduce_value(none ? SIZE_MAX : x.cols(), mpi::Op::kMin);
  const std::size_t d_max = comm.allreduce_value(none ? 0 : x.cols(), mpi::Op::kMax);
  mpi::agree(comm, d_max > 0, name + ": no rank holds any rows");
  mpi::agree(comm, d_min == d_max,
             name + ": the ranks' feature rows differ in width (" + std::to_string(d_min) + " to " +
                 std::to_string(d_max) + " columns)");
  mpi::agree_on(comm, [&] {
    if (t > 0 && x.rows() > 0 && (y.rows() != x.rows() || y.cols() != t))
      throw Error(name + ": " + std::to_string(x.rows()) + " feature rows but " +
                  std::to_string(y.rows()) + " target rows of " + std::to_string(y.cols()) +
                  " columns on this rank (" + std::to_string(t) + " columns expected)");
    for (const Matrix<double>* m : {&x, &y})
      for (std::size_t i = 0; !allow_nonfinite && i < m->rows(); ++i)
        for (std::size_t j = 0; j < m->cols(); ++j)
          if (!std::isfinite((*m)(i, j)))
            throw Error(name + ": row " + std::to_string(first + i) + ", column " +
                        std::to_string(j) + " (0-based) of the " +
                        (m == &x ? "features" : "targets") + " is " +
                        (std::isnan((*m)(i, j)) ? "NaN" : "Inf") +
                        "; NaN/Inf values are refused (data.allow_nonfinite = true accepts them)");
  });
}

// collective: rows [offsets[me], offsets[me+1]) of `local` moved to their owners under `to`, into
// their places in `out` (this rank's block of `to`, cols wide); rows of `to` outside
// [offsets[0], offsets[P]) are left as they are.
void move_rows_into(const mpi::Communicator& comm, const std::vector<std::size_t>& offsets,
                    const BlockPartition& to, const Matrix<double>& local, std::size_t cols,
                    Matrix<double>& out) {
  const int P = comm.size(), me = comm.rank();
  std::vector<int> send_counts(P), send_displs(P), recv_counts(P), recv_displs(P);
  // What a rank sends and receives differs by rank: the counts are checked under agree_on.
  mpi::agree_on(comm, [&] {
    for (int r = 0; r < P; ++r) {
      // Overlap of what I hold with what r owns, and of what r holds with what I own.
      const auto overlap = [](std::size_t a0, std::size_t a1, std::size_t b0, std::size_t b1) {
        return std::pair<std::size_t, std::size_t>(std::max(a0, b0),
                                                   std::max(std::max(a0, b0), std::min(a1, b1)));
      };
      const auto [s0, s1] = overlap(offsets[me], offsets[me + 1], to.begin(r), to.end(r));
      const auto [r0, r1] = overlap(offsets[r], offsets[r + 1], to.begin(me), to.end(me));
      const std::string what = "rows moved between ranks";
      send_counts[r] = mpi::checked_count((s1 - s0) * cols, what);
      send_displs[r] = mpi::checked_count((s0 - offsets[me]) * cols, what);
      recv_counts[r] = mpi::checked_count((r1 - r0) * cols, what);
      recv_displs[r] = mpi::checked_count((r0 - to.begin(me)) * cols, what);
    }
  });
  comm.alltoallv(local.data(), send_counts, send_displs, out.data(), recv_counts, recv_displs);
}

Matrix<double> move_rows(const mpi::Communicator& comm, const std::vector<std::size_t>& offsets,
                         const BlockPartition& to, const Matrix<double>& local, std::size_t cols) {
  Matrix<double> out(to.count(comm.rank()), cols);
  move_rows_into(comm, offsets, to, local, cols, out);
  return out;
}

}  // namespace

LocalData block_rows(const mpi::Communicator& comm, const std::string& name,
                     const Matrix<double>& features, const Matrix<double>& targets,
                     ElementKind target_kind, bool allow_nonfinite) {
  const int P = comm.size(), me = comm.rank();
  const std::size_t mine = features.rows();
  const std::vector<std::size_t> counts = comm.allgather(&mine, 1);
  std::vector<std::size_t> offsets(P + 1, 0);
  for (int r = 0; r < P; ++r) offsets[r + 1] = offsets[r] + counts[r];
  const std::size_t t = comm.allreduce_value(targets.cols(), mpi::Op::kMax);
  check_local_rows(comm, name, features, targets, t, offsets[me], allow_nonfinite);
  LocalData data;
  data.partition = BlockPartition(offsets[P], P);
  data.dimension = comm.allreduce_value(features.rows() > 0 ? features.cols() : 0, mpi::Op::kMax);
  data.target_kind = target_kind;
  data.features = move_rows(comm, offsets, data.partition, features, data.dimension);
  if (t > 0) data.targets = move_rows(comm, offsets, data.partition, targets, t);
  for (std::size_t i = data.partition.begin(me); i < data.partition.end(me); ++i)
    data.source_rows.push_back(i);
  return data;
}

LocalData append_rows(const mpi::Communicator& comm, const LocalData& first,
                      const LocalData& second) {
  const int P = comm.size(), me = comm.rank();
  const std::size_t n1 = first.partition.size(), n2 = second.partition.size();
  const std::size_t t = comm.allreduce_value(
      std::max(first.targets.cols(), second.targets.cols()), mpi::Op::kMax);
  LocalData out;
  out.partition = BlockPartition(n1 + n2, P);
  out.dimension = first.dimension;
  out.target_kind = first.target_kind;
  out.table = first.table;
  out.features = Matrix<double>(out.partition.count(me), out.dimension);
  out.targets = Matrix<double>(out.partition.count(me), t);
  std::vector<std::size_t> offsets = offsets_of(first.partition);
  move_rows_into(comm, offsets, out.partition, first.features, out.dimension, out.features);
  if (t > 0) move_rows_into(comm, offsets, out.partition, first.targets, t, out.targets);
  offsets = offsets_of(second.partition);
  for (std::size_t& o : offsets) o += n1;  // the second rows come after the first
  move_rows_into(comm, offsets, out.partition, second.features, out.dimension, out.features);
  if (t > 0) move_rows_into(comm, offsets, out.partition, second.targets, t, out.targets);
  for (std::size_t i = out.partition.begin(me); i < out.partition.end(me); ++i)
    out.source_rows.push_back(i);
  return out;
}

RowSelection row_selection(std::size_t n, std::size_t kept, std::size_t validation,
                           std::uint64_t seed) {
  RowSelection s;
  s.train_rows = kept - validation;
  s.validation_rows = validation;
  // One permutation decides both; a rank evaluates it on the rows it holds or reads only.
  const auto pi = std::make_shared<const CounterPermutation>(n, seed, RngStream::kDataLimit, 0);
  if (validation > 0 || kept < n)
    s.train = RowSubset::where([pi, validation, kept](std::size_t i) {
      const std::uint64_t j = (*pi)(i);
      return j >= validation && j < kept;
    });
  // No validation: a test that keeps nothing (never "every row" by mistake).
  s.validation = RowSubset::where([pi, validation](std::size_t i) {
    return validation > 0 && (*pi)(i) < validation;
  });
  return s;
}

RowSelection choose_rows(const mpi::Communicator& comm, const Options& o, const TrainSetup& setup,
                         std::size_t n, const std::string& name) {
  const std::size_t limit = o.count("data.limit");
  mpi::agree(comm, limit <= n,
             "option data.limit = " + std::to_string(limit) + " asks for more rows than " + name +
                 " has (" + std::to_string(n) + ")");
  const std::size_t kept = limit > 0 ? limit : n;
  const double vfrac = o.real("data.validation_fraction");
  const std::size_t nv = setup.validates() && vfrac > 0
                             ? static_cast<std::size_t>(std::llround(vfrac * kept))
                             : 0;
  mpi::agree(comm, kept - nv >= static_cast<std::size_t>(comm.size()),
             name + ": " + std::to_string(kept - nv) + " training rows are fewer than the " +
                 std::to_string(comm.size()) + " ranks");
  return row_selection(n, kept, nv, setup.seed);
}

namespace {

// collective: this rank's rows `local` (sorted indices into its block), every rank's in global
// order, moved to their owners under BlockPartition(total selected, P). Their global indices
// travel with them (as one column; exact below 2^53), so no rank needs the whole selection.
LocalData take_local_rows(const mpi::Communicator& comm, const LocalData& data,
                          const std::vector<std::size_t>& local) {
  const std::size_t first = data.partition.begin(comm.rank());
  LocalData out = block_rows(comm, "rows", select_rows(data.features, local),
                             data.targets.empty() ? data.targets : select_rows(data.targets, local),
                             data.target_kind, /*allow_nonfinite=*/true);
  out.dimension = data.dimension;
  out.table = data.table;  // a table's encoding stays with its rows (issue 27)
  Matrix<double> index(local.size(), 1);
  for (std::size_t k = 0; k < local.size(); ++k)
    index(k, 0) = static_cast<double>(first + local[k]);
  const LocalData moved =
      block_rows(comm, "rows", index, Matrix<double>(), data.target_kind, /*allow_nonfinite=*/true);
  // Messages name the caller's rows, not positions in the subset.
  out.source_rows.resize(moved.features.rows());
  for (std::size_t i = 0; i < out.source_rows.size(); ++i)
    out.source_rows[i] = static_cast<std::size_t>(moved.features(i, 0));
  return out;
}

}  // namespace

LocalData take_rows(const mpi::Communicator& comm, const LocalData& data,
                    const RowSubset& selection) {
  const std::size_t first = data.partition.begin(comm.rank());
  std::vector<std::size_t> local =
      detail::kept_rows(selection, first, data.partition.end(comm.rank()));
  for (std::size_t& i : local) i -= first;
  return take_local_rows(comm, data, local);
}

LocalData take_rows_where(const mpi::Communicator& comm, const LocalData& data,
                          const std::function<bool(std::size_t)>& keep) {
  return take_rows(comm, data, RowSubset::where(keep));
}

}  // namespace kmpi
