// Sorted row selections of a row-partitioned matrix, moved by one v-collective (see
// src/solvers/selected_rows.hpp): Falkon's and EigenPro 4's centers, the Nystrom samples, minibatches.
#include "solvers/selected_rows.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "solvers/solvers.hpp"
#include "parallel/counts.hpp"

namespace kmpi {

namespace {

// MPI counts and displacements are ints: rows x d values must fit. The same arguments on every
// rank, so the error is agreed without a message.
void check_int_counts(std::size_t rows, std::size_t d) {
  if (static_cast<double>(rows) * static_cast<double>(d) > 2147483647.0)
    throw CollectiveError("selected rows: " + std::to_string(rows) + " x " + std::to_string(d) +
                              " values exceed an MPI count; use more ranks",
                          0);
}

}  // namespace

std::vector<std::size_t> selection_runs(const std::vector<std::size_t>& indices,
                                        const BlockPartition& part) {
  std::vector<std::size_t> run(part.parts() + 1, 0);
  for (int r = 0; r < part.parts(); ++r)
    run[r + 1] = static_cast<std::size_t>(
        std::lower_bound(indices.begin(), indices.end(), part.end(r)) - indices.begin());
  return run;
}

SelectionLayout runs_layout(const std::vector<std::size_t>& runs, int me, std::size_t cols) {
  const int P = static_cast<int>(runs.size()) - 1;
  SelectionLayout layout;
  layout.counts.resize(P);
  layout.displs.resize(P);
  mpi::CountsDispls cd = mpi::window_counts(runs, 0, runs.back(), cols, "selected rows");
  layout.counts = std::move(cd.counts);
  layout.displs = std::move(cd.displs);
  layout.lo = runs[me];
  layout.hi = runs[me + 1];
  return layout;
}

SelectionLayout selection_layout(const std::vector<std::size_t>& selection,
                                 const BlockPartition& part, int me, std::size_t cols) {
  return runs_layout(selection_runs(selection, part), me, cols);
}

Matrix<double> own_selected_rows(const Matrix<double>& local, std::size_t local_begin,
                                 const std::vector<std::size_t>& selection,
                                 const SelectionLayout& layout) {
  const std::size_t d = local.cols();
  Matrix<double> mine(layout.hi - layout.lo, d);
  for (std::size_t k = layout.lo; k < layout.hi; ++k)
    std::copy(local.row(selection[k] - local_begin), local.row(selection[k] - local_begin) + d,
              mine.row(k - layout.lo));
  return mine;
}

Matrix<double> gather_rows(const mpi::Communicator& comm, const BlockPartition& part,
                           const Matrix<double>& local, const std::vector<std::size_t>& selection,
                           SelectionLayout& layout) {
  const int me = comm.rank();
  layout = selection_layout(selection, part, me, local.cols());
  const Matrix<double> mine = own_selected_rows(local, part.begin(me), selection, layout);
  Matrix<double> all(selection.size(), local.cols());
  comm.allgatherv(mine.data(), all.data(), layout.counts, layout.displs);
  return all;
}

Matrix<double> gather_selected_rows(const mpi::Communicator& comm, const BlockPartition& part,
                                    const Matrix<double>& local,
                                    const std::vector<std::size_t>& indices) {
  check_int_counts(indices.size(), local.cols());
  SelectionLayout layout;
  return gather_rows(comm, part, local, indices, layout);
}

Matrix<double> distribute_selected_rows(const mpi::Communicator& comm, const BlockPartition& part,
                                        const Matrix<double>& local,
                                        const std::vector<std::size_t>& indices,
                                        const BlockPartition& to) {
  const int P = comm.size(), me = comm.rank();
  const std::size_t d = local.cols();
  check_int_counts(to.count(0), d);  // the largest block of `to`: every count and offset fits
  // Rank r owns the run [run[r], run[r + 1]) of the sorted indices and must send the part of it
  // that falls in [to.begin(k), to.end(k)) to rank k; both orders agree, so rows arrive in order.
  const std::vector<std::size_t> run = selection_runs(indices, part);
  auto overlap = [](std::size_t a0, std::size_t a1, std::size_t b0, std::size_t b1) {
    const std::size_t lo = std::max(a0, b0), hi = std::min(a1, b1);
    return std::pair<std::size_t, std::size_t>{lo, std::max(lo, hi)};
  };
  std::vector<int> send_counts(P), send_displs(P), recv_counts(P), recv_displs(P);
  for (int k = 0; k < P; ++k) {
    const auto [s0, s1] = overlap(run[me], run[me + 1], to.begin(k), to.end(k));
    // Bounded by check_int_counts above (the largest block of `to`): the same verdict everywhere.
    send_counts[k] = static_cast<int>((s1 - s0) * d);
    send_displs[k] = static_cast<int>((s1 > s0 ? s0 - run[me] : 0) * d);
    const auto [r0, r1] = overlap(run[k], run[k + 1], to.begin(me), to.end(me));
    recv_counts[k] = static_cast<int>((r1 - r0) * d);
    recv_displs[k] = static_cast<int>((r1 > r0 ? r0 - to.begin(me) : 0) * d);
  }
  const Matrix<double> mine =
      own_selected_rows(local, part.begin(me), indices, runs_layout(run, me, d));
  Matrix<double> out(to.count(me), d);
  comm.alltoallv(mine.data(), send_counts, send_displs, out.data(), recv_counts, recv_displs);
  return out;
}

std::size_t center_count(const mpi::Communicator& comm, std::size_t n, std::size_t requested,
                         const Matrix<double>* given_centers) {
  if (given_centers) return comm.allreduce_value(given_centers->rows(), mpi::Op::kSum);
  return std::min(n, requested > 0 ? requested : std::size_t(10000));
}

}  // namespace kmpi
