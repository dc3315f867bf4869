// Solvers: free functions over the distributed training problem (one driver per file).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kmpi/kernel.hpp"
#include "kmpi/kernel_operator.hpp"
#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/partition.hpp"

namespace kmpi {

// The training problem as every rank sees it: its rows of the (scaled) data and targets.
struct TrainingProblem {
  Kernel kernel;
  BlockPartition partition;  // of the n training rows over the ranks
  Matrix<double> x;          // partition.count(rank) x d
  Matrix<double> y;          // partition.count(rank) x c (one-hot for classification)
};

// collective: exact kernel ridge regression (K + ridge * n I) alpha = Y with K built tile by tile
// in block-cyclic layout and solved by pdpotrf/pdpotrs in float64. Returns this rank's rows of
// alpha. Memory: n^2 / P doubles per rank plus the replicated n x d data.
Matrix<double> solve_direct(const mpi::Communicator& comm, const TrainingProblem& problem,
                            double ridge);

// collective: K(Q, Z) alpha for queries partitioned over ranks (query_partition), centers and
// weights partitioned over ranks: query rows are shared in blocks of `block_rows` (allgatherv),
// each rank multiplies by its centers, one allreduce per block. Returns this rank's query rows.
Matrix<double> predict_distributed(const mpi::Communicator& comm, const Kernel& kernel,
                                   const LocalCenters& centers, const Matrix<double>& alpha,
                                   const BlockPartition& query_partition,
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
