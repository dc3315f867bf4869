// Mahalanobis kernels through the whole path at the rank count of the run: `kmpi train` with
// kernel.metric = full and a metric file, then `kmpi predict` in groups of 1, 2 and P ranks,
// against the serial formula computed here from the model's weights, the training rows scaled by
// the model's scaling (not transformed) and r^2 = (q - x)^T M (q - x) straight from the file's M.
// And the model file's metric section saved and loaded at this rank count, bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common.hpp"
#include "cli/commands.hpp"
#include "kmpi/data.hpp"
#include "kmpi/feature_metric.hpp"
#include "kmpi/model.hpp"
#include "kmpi/options.hpp"

namespace kmpi {
namespace {

using namespace testing_support;

constexpr std::size_t kDim = 4, kTrain = 90, kQueries = 37;

// Raw features of row i (per-column offsets and spreads, so the scaling matters) and targets.
double raw_feature(std::uint64_t seed, std::size_t i, std::size_t j) {
  return 2.0 * static_cast<double>(j) + (1.0 + static_cast<double>(j)) * uniform01(seed, i, j);
}
Matrix<double> raw_rows(std::uint64_t seed, std::size_t begin, std::size_t count) {
  return rows_of(begin, count, kDim,
                 [&](std::size_t i, std::size_t j) { return raw_feature(seed, i, j); });
}
Matrix<double> targets_of(const Matrix<double>& x) {
  Matrix<double> y(x.rows(), 2);
  for (std::size_t i = 0; i < x.rows(); ++i) {
    y(i, 0) = std::sin(x(i, 0) - 0.5 * x(i, 2));
    y(i, 1) = x(i, 1) * x(i, 3) / 10.0;
  }
  return y;
}

// A symmetric positive definite M = B B^T / d + 0.05 I with strong off-diagonal terms.
Matrix<double> metric_m() {
  Matrix<double> m(kDim, kDim);
  for (std::size_t i = 0; i < kDim; ++i)
    for (std::size_t j = 0; j < kDim; ++j) {
      double s = 0;
      for (std::size_t k = 0; k < kDim; ++k)
        s += (uniform01(77, i, k) - 0.3) * (uniform01(77, j, k) - 0.3);
      m(i, j) = 3.0 * s / kDim + (i == j ? 0.05 : 0.0);
    }
  return m;
}

// Regression predictions as `kmpi predict` writes them: c values per line.
Matrix<double> read_predictions(const std::string& path, std::size_t rows, std::size_t c) {
  Matrix<double> p(rows, c);
  std::ifstream in(path);
  std::string line;
  std::size_t i = 0;
  while (std::getline(in, line) && i < rows) {
    std::stringstream fields(line);
    std::string v;
    for (std::size_t j = 0; j < c && std::getline(fields, v, ','); ++j) p(i, j) = std::stod(v);
    ++i;
  }
  EXPECT_EQ(i, rows) << path;
  return p;
}

TEST(FeatureMetricDistributed, TrainAndPredictMatchTheSerialMahalanobisFormula) {
  const auto world = mpi::Communicator::world();
  SharedDir dir(world);
  const BlockPartition train_part(kTrain, world.size()), query_part(kQueries, world.size());
  const int me = world.rank();
  const Matrix<double> x_local = raw_rows(5, train_part.begin(me), train_part.count(me));
  write_npy_distributed(world, dir.path("x.npy"), train_part, x_local);
  write_npy_distributed(world, dir.path("y.npy"), train_part, targets_of(x_local));
  write_npy_distributed(world, dir.path("q.npy"), query_part,
                        raw_rows(6, query_part.begin(me), query_part.count(me)));
  const Matrix<double> m = metric_m();
  if (me == 0) write_file(dir.path("m.npy"), npy_bytes("<f8", "(4, 4)", m.storage()));
  world.barrier();

  const std::string bandwidth = "--kernel.bandwidth=1.5";
  ASSERT_EQ(run_train(world, parse_options({"--solver.name=direct", "--solver.ridge=1e-4",
                                            "--kernel.name=laplacian", bandwidth,
                                            "--data.scale=standardize", "--kernel.metric=full",
                                            "--kernel.metric_file=" + dir.path("m.npy"),
                                            "--data.train_features=" + dir.path("x.npy"),
                                            "--data.train_labels=" + dir.path("y.npy"),
                                            "--output.model=" + dir.path("model.kmpi")})),
            0);
  const LocalModel model = load_model(world, dir.path("model.kmpi"));
  const ModelHeader& h = model.header;
  ASSERT_EQ(h.metric.kind, MetricKind::kFull);
  ASSERT_EQ(h.metric.dimension, kDim);
  ASSERT_EQ(h.task, Task::kRegression);
  ASSERT_EQ(h.centers, kTrain);

  // Serial reference on every rank: the training rows scaled (direct: centers = rows, in order).
  Matrix<double> xs = raw_rows(5, 0, kTrain), qs = raw_rows(6, 0, kQueries);
  h.scaling.apply(xs);
  h.scaling.apply(qs);
  const Matrix<double> weights = gather_rows(world, model.partition, model.weights);
  const Matrix<double> centers = gather_rows(world, model.partition, model.centers);
  // The model stores centers transformed: u = xs S.
  Matrix<double> u = xs;
  h.metric.apply(u);
  EXPECT_LE(max_abs_diff(centers, u), 1e-12 * max_abs(u));
  const Kernel k = Kernel::from_name("laplacian", 1.5);
  Matrix<double> want(kQueries, 2);
  double weight_mass = 0;
  for (double w : weights.storage()) weight_mass += std::fabs(w);
  for (std::size_t i = 0; i < kQueries; ++i)
    for (std::size_t a = 0; a < kTrain; ++a) {
      long double r2 = 0;
      for (std::size_t s = 0; s < kDim; ++s)
        for (std::size_t t = 0; t < kDim; ++t)
          r2 += static_cast<long double>(qs(i, s) - xs(a, s)) * m(s, t) * (qs(i, t) - xs(a, t));
      const double kv = k.of_squared_distance(static_cast<double>(r2));
      for (std::size_t l = 0; l < 2; ++l) want(i, l) += kv * weights(a, l);
    }
  ASSERT_GT(max_abs(want), 1e-3);

  // Predictions of the model in groups of 1, 2 and P ranks: each equals the formula, and all
  // agree (to the rounding of the cross-rank sums: 1e-13 of the weights' mass).
  std::vector<Matrix<double>> got;
  const std::vector<int> groups = rank_group_sizes(world.size());
  for (int g : groups) {
    const auto comm = world.split(me / g, me);
    const std::string out = dir.path("pred_" + std::to_string(g) + "_" + std::to_string(me / g));
    ASSERT_EQ(run_predict(comm, parse_options({"--model=" + dir.path("model.kmpi"),
                                               "--data.features=" + dir.path("q.npy"),
                                               "--output.predictions=" + out})),
              0);
    world.barrier();
    got.push_back(read_predictions(dir.path("pred_" + std::to_string(g) + "_0"), kQueries, 2));
    SCOPED_TRACE("group of " + std::to_string(g) + " ranks");
    EXPECT_LE(max_abs_diff(got.back(), want), 1e-11 * weight_mass);
  }
  for (std::size_t gi = 1; gi < got.size(); ++gi)
    EXPECT_LE(max_abs_diff(got[gi], got[0]), 1e-13 * weight_mass) << "group " << groups[gi];
}

TEST(FeatureMetricDistributed, ModelMetricSavesAndLoadsBitForBit) {
  const auto comm = mpi::Communicator::world();
  SharedDir dir(comm);
  const std::size_t d = 3, c = 2, p = 7;
  for (MetricKind kind : {MetricKind::kFull, MetricKind::kDiagonal}) {
    SCOPED_TRACE(metric_kind_name(kind));
    LocalModel m;
    m.header.kernel = Kernel::from_name("gaussian", 1.25);
    m.header.task = Task::kRegression;
    m.header.dimension = d;
    m.header.outputs = c;
    m.header.centers = p;
    m.header.scaling.mode = ScaleMode::kUnit;
    m.header.scaling.offset = {0.5, -1.0, 2.0};
    m.header.scaling.multiplier = {1.0, 0.25, 3.0};
    m.header.metric.kind = kind;
    m.header.metric.dimension = d;
    // S values whose every bit matters (a full mantissa, a negative zero, a subnormal).
    const std::size_t values = kind == MetricKind::kFull ? d * d : d;
    for (std::size_t i = 0; i < values; ++i)
      m.header.metric.root.push_back(i == 1 ? -0.0 : i == 2 ? 4.9e-324 : 1.0 / (3.0 + i));
    m.partition = BlockPartition(p, comm.size());
    const std::size_t count = m.partition.count(comm.rank()),
                      first = m.partition.begin(comm.rank());
    m.centers = rows_of(first, count, d, [](std::size_t i, std::size_t j) { return i + 0.1 * j; });
    m.weights =
        rows_of(first, count, c, [](std::size_t i, std::size_t j) { return -(i + 1.0) * j; });
    const std::string path = dir.path(std::string(metric_kind_name(kind)) + ".kmpi");
    save_model(comm, path, m);
    const LocalModel back = load_model(comm, path);
    EXPECT_EQ(back.header.metric.kind, kind);
    EXPECT_EQ(back.header.metric.dimension, d);
    ASSERT_EQ(back.header.metric.root.size(), values);
    EXPECT_EQ(0,
              std::memcmp(back.header.metric.root.data(), m.header.metric.root.data(), 8 * values));
    expect_identical_models(m, back);
    if (comm.rank() == 0) {
      EXPECT_EQ(read_text(path).size(), 64 + 16 * d + 4 + 8 * values + 8 * p * (d + c) + 4);
    }

    // A metric of the wrong size is refused on every rank, and no file is written.
    m.header.metric.root.pop_back();
    const std::string message =
        collective_error_of([&] { save_model(comm, dir.path("bad.kmpi"), m); });
    EXPECT_MESSAGE_HAS(message, "metric holds");
  }
  EXPECT_EQ(dir.listing(), (std::vector<std::string>{"diagonal.kmpi", "full.kmpi"}));
}

}  // namespace
}  // namespace kmpi
