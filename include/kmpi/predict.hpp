// Prediction with a trained model's centers and weights across the ranks, and the metrics of a
// fit (public API: what a program that trains in memory needs to use its model).
#pragma once

#include <cstddef>
#include <vector>

#include "kmpi/kernel.hpp"
#include "kmpi/kernel_operator.hpp"
#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/partition.hpp"

namespace kmpi {

// collective: K(Q, Z) alpha for queries partitioned over ranks (query_partition), centers and
// weights partitioned over ranks: query rows are shared in blocks of `block_rows` (allgatherv),
// each rank multiplies by its centers, one allreduce per block. Returns this rank's query rows.
Matrix<double> predict_distributed(const mpi::Communicator& comm, const Kernel& kernel,
                                   const LocalCenters& centers, const Matrix<double>& alpha,
                                   const BlockPartition& query_partition,
                                   const Matrix<double>& queries, std::size_t block_rows = 2048);
// The same for any contiguous row layout of the queries: rank r holds rows
// [offsets[r], offsets[r+1]) (P + 1 offsets).
Matrix<double> predict_distributed(const mpi::Communicator& comm, const Kernel& kernel,
                                   const LocalCenters& centers, const Matrix<double>& alpha,
                                   const std::vector<std::size_t>& query_offsets,
                                   const Matrix<double>& queries, std::size_t block_rows = 2048);

// Mean squared error and (for classification) accuracy of predictions against targets, each rank
// with its rows; collective.
struct FitMetrics {
  double mse = 0;
  double accuracy = -1;  // < 0 when not a classification problem
};
FitMetrics fit_metrics(const mpi::Communicator& comm, const Matrix<double>& predictions,
                       const Matrix<double>& targets, std::size_t n_total, bool classification);

}  // namespace kmpi
