// A C++ program that links the installed kmpi and trains on rows it holds in memory (no files):
// exact kernel ridge regression (solver.name = direct) of y = sin(3 x0) + x1^2 on 400 rows,
// each rank generating its own block. Checks two properties against the formula: with a tiny
// ridge the model interpolates its training rows (residual < 1e-4), and on 200 fresh rows its
// mse is below 5% of the targets' variance. Exit 0 only if both hold on every rank's view.
#include <cmath>
#include <cstdio>

#include "kmpi/error.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/predict.hpp"
#include "kmpi/train.hpp"

namespace {

double target(double x0, double x1) { return std::sin(3 * x0) + x1 * x1; }

// This rank's block of n rows: points on a quasi-random sequence in [0, 1)^2.
kmpi::LocalData make_rows(const kmpi::mpi::Communicator& comm, std::size_t n, double shift) {
  kmpi::LocalData rows;
  rows.partition = kmpi::BlockPartition(n, comm.size());
  const std::size_t begin = rows.partition.begin(comm.rank());
  const std::size_t count = rows.partition.count(comm.rank());
  rows.dimension = 2;
  rows.features = kmpi::Matrix<double>(count, 2);
  rows.targets = kmpi::Matrix<double>(count, 1);
  for (std::size_t i = 0; i < count; ++i) {
    const double g = static_cast<double>(begin + i) + shift;
    rows.features(i, 0) = std::fmod(g * 0.7548776662466927, 1.0);
    rows.features(i, 1) = std::fmod(g * 0.5698402909980532, 1.0);
    rows.targets(i, 0) = target(rows.features(i, 0), rows.features(i, 1));
  }
  return rows;
}

// collective: the model's mse on `rows` and the variance of their targets.
std::pair<double, double> mse_and_variance(const kmpi::mpi::Communicator& comm,
                                           const kmpi::LocalModel& model,
                                           const kmpi::LocalData& rows) {
  const kmpi::LocalCenters centers(model.centers, kmpi::Precision::kFloat64);
  const kmpi::Matrix<double> pred = kmpi::predict_distributed(
      comm, model.header.kernel, centers, model.weights, rows.partition, rows.features);
  double sums[3] = {0, 0, 0};  // squared error, sum y, sum y^2
  for (std::size_t i = 0; i < rows.targets.rows(); ++i) {
    const double y = rows.targets(i, 0), e = pred(i, 0) - y;
    sums[0] += e * e;
    sums[1] += y;
    sums[2] += y * y;
  }
  for (double& s : sums) s = comm.allreduce_value(s);
  const double n = static_cast<double>(rows.partition.size()), mean = sums[1] / n;
  return {sums[0] / n, sums[2] / n - mean * mean};
}

}  // namespace

int main(int argc, char** argv) {
  kmpi::mpi::Environment env(argc, argv);
  const auto comm = kmpi::mpi::Communicator::world();
  try {
    const kmpi::Options options = kmpi::parse_options(
        {"--solver.name=direct", "--solver.ridge=1e-12", "--kernel.bandwidth=0.3"});
    kmpi::TrainRows rows;
    rows.train = make_rows(comm, 400, 0.5);
    const kmpi::LocalData train_copy = rows.train;
    kmpi::TrainResult result = kmpi::train_in_memory(comm, options, std::move(rows));
    const auto [train_mse, train_var] = mse_and_variance(comm, result.model, train_copy);
    const auto [test_mse, test_var] = mse_and_variance(comm, result.model, make_rows(comm, 200, 1e4));
    const bool ok = result.trained && std::sqrt(train_mse) < 1e-4 && test_mse < 0.05 * test_var;
    if (comm.rank() == 0)
      std::printf("consumer: %d ranks, train rms residual %.3g, test mse %.3g (target variance "
                  "%.3g): %s\n",
                  comm.size(), std::sqrt(train_mse), test_mse, test_var, ok ? "ok" : "FAILED");
    (void)train_var;
    return ok ? 0 : 1;
  } catch (const kmpi::CollectiveError& e) {
    if (comm.rank() == 0) std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
