// Rows picked from a row-partitioned matrix by sorted global indices (the Nystrom sample S, a
// minibatch B, the centers Z): because the indices are sorted, each rank's members are one
// contiguous run of them, so one v-collective moves them all. The public collectives
// (gather_selected_rows, distribute_selected_rows, selection_runs) are declared in solvers.hpp;
// this header holds what the solvers share on top of them.
#pragma once

#include <cstddef>
#include <vector>

#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/partition.hpp"

namespace kmpi {

// A sorted selection as this rank sees it: its own members are the run [lo, hi) of the
// selection, and counts/displs (times `cols` values per row) describe every rank's run, as the
// v-collectives want them.
struct SelectionLayout {
  std::size_t lo = 0, hi = 0;
  std::vector<int> counts, displs;
};

// local: the layout of a selection whose rank r members are [runs[r], runs[r + 1]) (P + 1
// offsets, e.g. from selection_runs).
SelectionLayout runs_layout(const std::vector<std::size_t>& runs, int me, std::size_t cols);

// local: the layout of the sorted global indices `selection` of `part` on rank `me`.
SelectionLayout selection_layout(const std::vector<std::size_t>& selection,
                                 const BlockPartition& part, int me, std::size_t cols);

// local: this rank's rows of the selection, copied out of its row block `local` (rows
// [layout.lo, layout.hi) of the selection, in order).
Matrix<double> own_selected_rows(const Matrix<double>& local, std::size_t local_begin,
                                 const std::vector<std::size_t>& selection,
                                 const SelectionLayout& layout);

// collective: the selection's rows of the row-partitioned `local`, replicated (one allgatherv);
// `layout` receives the selection's layout for the caller's own per-row work. No MPI count
// check: callers bound selection.size() x cols (a minibatch).
Matrix<double> gather_rows(const mpi::Communicator& comm, const BlockPartition& part,
                           const Matrix<double>& local, const std::vector<std::size_t>& selection,
                           SelectionLayout& layout);

// The number of centers p of falkon and eigenpro4: with given centers (each rank's rows of
// them), their total, one allreduce (collective; given_centers is set on every rank or on none);
// else min(n, requested), requested = 0 meaning 10000 (local).
std::size_t center_count(const mpi::Communicator& comm, std::size_t n, std::size_t requested,
                         const Matrix<double>* given_centers);

}  // namespace kmpi
