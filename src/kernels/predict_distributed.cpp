#include <algorithm>

#include "kernels/shared_operator.hpp"
#include "kmpi/predict.hpp"
#include "parallel/counts.hpp"

namespace kmpi {

Matrix<double> predict_distributed(const mpi::Communicator& comm, const Kernel& kernel,
                                   const LocalCenters& centers, const Matrix<double>& alpha,
                                   const BlockPartition& query_partition,
                                   const Matrix<double>& queries, std::size_t block_rows) {
  std::vector<std::size_t> offsets(static_cast<std::size_t>(query_partition.parts()) + 1, 0);
  for (int r = 0; r < query_partition.parts(); ++r) offsets[r + 1] = query_partition.end(r);
  return predict_distributed(comm, kernel, centers, alpha, offsets, queries, block_rows);
}

Matrix<double> predict_distributed(const mpi::Communicator& comm, const Kernel& kernel,
                                   const LocalCenters& centers, const Matrix<double>& alpha,
                                   const std::vector<std::size_t>& offsets,
                                   const Matrix<double>& queries, std::size_t block_rows) {
  return std::move(
      predict_distributed_shared(comm, {kernel}, centers, {&alpha}, offsets, queries, block_rows)
          .front());
}

std::vector<Matrix<double>> predict_distributed_shared(
    const mpi::Communicator& comm, const std::vector<Kernel>& kernels, const LocalCenters& centers,
    const std::vector<const Matrix<double>*>& alphas, const std::vector<std::size_t>& offsets,
    const Matrix<double>& queries, std::size_t block_rows) {
  const int me = comm.rank();
  struct Rows {
    const std::vector<std::size_t>& o;
    std::size_t begin(int r) const { return o[r]; }
    std::size_t end(int r) const { return o[r + 1]; }
    std::size_t count(int r) const { return o[r + 1] - o[r]; }
  } query_partition{offsets};
  const std::size_t d = centers.dimension(), nq = offsets.back(), G = kernels.size();
  std::vector<Matrix<double>> out;
  for (const Matrix<double>* alpha : alphas)
    out.emplace_back(query_partition.count(me), alpha->cols());
  // Global query rows [b0, b0 + mb) per round; every rank takes part in every round.
  for (std::size_t b0 = 0; b0 < nq; b0 += block_rows) {
    const std::size_t b1 = std::min(nq, b0 + block_rows);
    const auto [counts, displs] = mpi::window_counts(offsets, b0, b1, d, "prediction's query rows");
    const std::size_t my_lo = std::clamp(query_partition.begin(me), b0, b1);
    const std::size_t my_hi = std::clamp(query_partition.end(me), b0, b1);
    const std::size_t my_first = my_lo - query_partition.begin(me);
    Matrix<double> block(b1 - b0, d);
    comm.allgatherv(queries.data() + my_first * d, block.data(), counts, displs);
    // One pass over the centers for every kernel, then one allreduce per model (as
    // kernel_times does for one).
    std::vector<Matrix<double>> pred;
    std::vector<Matrix<double>*> outs;
    for (std::size_t g = 0; g < G; ++g) pred.emplace_back(block.rows(), alphas[g]->cols());
    for (Matrix<double>& m : pred) outs.push_back(&m);
    kernel_times_local_shared(kernels, block, centers, alphas, outs);
    for (std::size_t g = 0; g < G; ++g) {
      comm.allreduce(pred[g].data(), pred[g].size());
      const std::size_t c = pred[g].cols();
      for (std::size_t i = my_lo; i < my_hi; ++i)
        std::copy(pred[g].row(i - b0), pred[g].row(i - b0) + c,
                  out[g].row(i - query_partition.begin(me)));
    }
  }
  return out;
}

FitMetrics fit_metrics(const mpi::Communicator& comm, const Matrix<double>& predictions,
                       const Matrix<double>& targets, std::size_t n_total, bool classification) {
  double sums[2] = {0, 0};  // squared error, correct predictions
  const std::size_t c = targets.cols();
  for (std::size_t i = 0; i < predictions.rows(); ++i) {
    for (std::size_t j = 0; j < c; ++j) {
      const double e = predictions(i, j) - targets(i, j);
      sums[0] += e * e;
    }
    if (classification) {
      const double* p = predictions.row(i);
      const double* t = targets.row(i);
      // A target row without a 1 (a class the model lacks) is a miss whatever the prediction.
      const std::ptrdiff_t truth = std::max_element(t, t + c) - t;
      sums[1] += (std::max_element(p, p + c) - p) == truth && t[truth] > 0 ? 1 : 0;
    }
  }
  comm.allreduce(sums, 2);
  FitMetrics m;
  const double n = static_cast<double>(std::max<std::size_t>(n_total, 1));
  // Mean over all n x c entries (what numpy/torch call the MSE).
  m.mse = sums[0] / (n * static_cast<double>(std::max<std::size_t>(c, 1)));
  if (classification) m.accuracy = sums[1] / n;
  return m;
}

}  // namespace kmpi
