// The train path never assumes files: train_in_memory on rows a caller holds gives the model
// `kmpi train` gives on files holding the same rows, bit for bit, for every solver (and for
// falkon with given centers, data.limit and a validation split, and with a metric file), at the
// rank count of the run. The files are written by kmpi's own npy writer from the same in-memory
// rows, so both paths start from identical doubles; scaling (standardize), one-hot encoding, the
// test metrics and the solver all run in both.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common.hpp"
#include "cli/commands.hpp"
#include "kmpi/data.hpp"
#include "kmpi/model.hpp"
#include "driver/train_steps.hpp"

namespace kmpi {
namespace {

using testing_support::uniform01;

constexpr std::size_t kDim = 5, kClasses = 3;

// Rows [begin, begin + count) of a data set of n rows: features with per-column offsets (so the
// scaling matters) and class labels that depend on the features.
LocalData rows_in_memory(const mpi::Communicator& comm, std::uint64_t seed, std::size_t n) {
  LocalData data;
  data.partition = BlockPartition(n, comm.size());
  const std::size_t begin = data.partition.begin(comm.rank()),
                    count = data.partition.count(comm.rank());
  data.dimension = kDim;
  data.target_kind = ElementKind::kInteger;
  data.features = testing_support::rows_of(begin, count, kDim, [&](std::size_t i, std::size_t j) {
    return 3.0 * static_cast<double>(j) + uniform01(seed, i, j);
  });
  data.targets = Matrix<double>(count, 1);
  for (std::size_t i = 0; i < count; ++i)
    data.targets(i, 0) =
        static_cast<double>(static_cast<int>(3 * (data.features(i, 0) + data.features(i, 1) - 3.0)) %
                            static_cast<int>(kClasses));
  return data;
}

void write_rows(const mpi::Communicator& comm, const std::string& stem, const LocalData& d) {
  write_npy_distributed(comm, stem + "_x.npy", d.partition, d.features);
  if (!d.targets.empty() || comm.allreduce_value(d.targets.cols(), mpi::Op::kMax) > 0)
    write_npy_distributed(comm, stem + "_y.npy", d.partition, d.targets, /*as_int64=*/true);
}

TEST(TrainInMemory, SameModelAsTrainOnFiles) {
  auto comm = mpi::Communicator::world();
  const testing_support::SharedDir scratch(comm);
  const std::string& dir = scratch.str();
  const LocalData train = rows_in_memory(comm, 11, 240), test = rows_in_memory(comm, 12, 90);
  write_rows(comm, dir + "/train", train);
  write_rows(comm, dir + "/test", test);
  // Falkon's given centers: 30 rows of their own.
  LocalData centers = rows_in_memory(comm, 13, 30);
  write_npy_distributed(comm, dir + "/centers.npy", centers.partition, centers.features);
  // Metric files (kernel.metric): a full M with off-diagonal terms, a diagonal one.
  if (comm.rank() == 0) {
    std::vector<double> full(kDim * kDim), diagonal(kDim);
    for (std::size_t i = 0; i < kDim; ++i) {
      diagonal[i] = 0.5 + static_cast<double>(i);
      for (std::size_t j = 0; j < kDim; ++j) full[i * kDim + j] = i == j ? 2.0 : 0.3;
    }
    testing_support::write_file(dir + "/full.npy",
                                testing_support::npy_bytes("<f8", "(5, 5)", full));
    testing_support::write_file(dir + "/diag.npy",
                                testing_support::npy_bytes("<f8", "(5,)", diagonal));
  }
  comm.barrier();
  const std::vector<std::vector<std::string>> cases = {
      {"--solver.name=direct", "--solver.ridge=1e-6"},
      {"--solver.name=eigenpro2", "--solver.epochs=2", "--solver.nystrom_samples=100"},
      {"--solver.name=falkon", "--solver.centers=40", "--solver.iterations=10"},
      {"--solver.name=eigenpro4", "--solver.centers=40", "--solver.epochs=2"},
      // data.limit and the validation split (early stopping keeps the best epoch) in memory
      // select the rows the file path reads.
      {"--solver.name=eigenpro2", "--solver.epochs=3", "--solver.nystrom_samples=100",
       "--data.limit=200", "--data.validation_fraction=0.25", "--solver.patience=1"},
      {"--solver.name=eigenpro4", "--solver.centers=40", "--solver.epochs=2",
       "--data.validation_fraction=0.2"},
      {"--solver.name=falkon", "--solver.iterations=10", "--data.centers=" + dir + "/centers.npy"},
      // Mahalanobis kernels: the rows, and given centers, go through the same S.
      {"--solver.name=direct", "--solver.ridge=1e-6", "--kernel.metric=full",
       "--kernel.metric_file=" + dir + "/full.npy"},
      {"--solver.name=falkon", "--solver.iterations=10", "--kernel.metric=diagonal",
       "--kernel.metric_file=" + dir + "/diag.npy", "--data.centers=" + dir + "/centers.npy"}};
  for (const auto& solver_args : cases) {
    SCOPED_TRACE(solver_args[0] + " " + solver_args.back());
    std::vector<std::string> args = {"--data.scale=standardize", "--kernel.bandwidth=2",
                                     "--solver.seed=3"};
    args.insert(args.end(), solver_args.begin(), solver_args.end());
    std::vector<std::string> file_args = args;
    for (const char* a : {"--data.train_features=train_x.npy", "--data.train_labels=train_y.npy",
                          "--data.test_features=test_x.npy", "--data.test_labels=test_y.npy",
                          "--output.model=model.kmpi"}) {
      std::string s = a;
      file_args.push_back(s.insert(s.find('=') + 1, dir + "/"));
    }
    ASSERT_EQ(run_train(comm, parse_options(file_args)), 0);
    const LocalModel from_files = load_model(comm, dir + "/model.kmpi");

    // Options without any file: the centers of the last case come as rows.
    const bool given = solver_args.back().rfind("--data.centers=", 0) == 0;
    if (given) args.pop_back();
    TrainRows rows{train, {}, test, given ? centers : LocalData()};
    const TrainResult result = train_in_memory(comm, parse_options(args), std::move(rows));
    ASSERT_TRUE(result.trained);
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_GE(result.test.accuracy, 0.0);  // a labelled test set was given
    testing_support::expect_identical_models(from_files, result.model);
  }
}

// Bad rows in memory fail like bad files: one agreed error, the same message on every rank.
TEST(TrainInMemory, BadLabelIsAnAgreedError) {
  auto comm = mpi::Communicator::world();
  LocalData train = rows_in_memory(comm, 11, 60);
  const std::size_t bad = 37;  // a global row; its owner alone sees the bad label
  if (train.partition.begin(comm.rank()) <= bad && bad < train.partition.end(comm.rank()))
    train.targets(bad - train.partition.begin(comm.rank()), 0) = -1;
  const std::string message = testing_support::collective_error_of([&] {
    train_in_memory(comm, parse_options({"--solver.name=direct", "--data.task=classification"}),
                    TrainRows{train, {}, {}, {}, "my rows"});
  });
  EXPECT_NE(message.find("my rows: "), std::string::npos) << message;
  EXPECT_NE(message.find("is not a class index"), std::string::npos) << message;
  EXPECT_EQ(comm.broadcast(message, 0), message);  // every rank has rank 0's message
}

}  // namespace
}  // namespace kmpi
