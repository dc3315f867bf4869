// data.centers (falkon, eigenpro4): training with the centers read from a file that holds exactly
// the raw training rows solver.centers = p would draw (random_subset(n, p, seed, kCenters)) must
// give the same model, bit for bit, at the rank count of the run: the file's rows arrive as
// BlockPartition(p, P) blocks, are scaled with the training data's scaling (data.scale =
// standardize here, so a missed scaling shows), and replace the gathered training rows. Nothing
// else in either solver depends on where Z came from, so no tolerance is needed.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common.hpp"
#include "cli/commands.hpp"
#include "kmpi/model.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/options.hpp"
#include "base/permutation.hpp"

namespace kmpi {
namespace {

using testing_support::uniform01;

constexpr std::size_t kRows = 240, kDim = 4, kCenters = 30, kClasses = 3;
constexpr std::uint64_t kSeed = 5;

double feature(std::size_t i, std::size_t j) {  // offsets and spreads per column: scaling matters
  return 10.0 * static_cast<double>(j) + (1.0 + static_cast<double>(j)) * uniform01(91, i, j);
}

// A float64 .npy file of rows x cols values (cols = 0: a vector of rows).
void write_f8_npy(const std::string& path, std::size_t rows, std::size_t cols,
                  const std::vector<double>& values) {
  const std::string shape =
      "(" + std::to_string(rows) + (cols ? ", " + std::to_string(cols) : ",") + ")";
  testing_support::write_file(path, testing_support::npy_bytes("<f8", shape, values));
}

// x.npy, y.npy (float64 class labels), centers.npy and centers.csv (%.17g: exact) in dir.
void write_files(const std::string& dir) {
  std::vector<double> x, y;
  for (std::size_t i = 0; i < kRows; ++i) {
    for (std::size_t j = 0; j < kDim; ++j) x.push_back(feature(i, j));
    y.push_back(static_cast<double>((i * 7) % kClasses));
  }
  write_f8_npy(dir + "/x.npy", kRows, kDim, x);
  write_f8_npy(dir + "/y.npy", kRows, 0, y);
  std::vector<double> z;
  std::FILE* csv = std::fopen((dir + "/centers.csv").c_str(), "w");
  for (std::size_t i : random_subset(kRows, kCenters, kSeed, RngStream::kCenters)) {
    for (std::size_t j = 0; j < kDim; ++j) {
      z.push_back(feature(i, j));
      std::fprintf(csv, j + 1 < kDim ? "%.17g," : "%.17g\n", feature(i, j));
    }
  }
  std::fclose(csv);
  write_f8_npy(dir + "/centers.npy", kCenters, kDim, z);
}

LocalModel train(const mpi::Communicator& comm, const std::string& dir, const std::string& solver,
                 const std::string& centers_option, const std::string& model) {
  std::vector<std::string> args = {"--data.train_features=" + dir + "/x.npy",
                                   "--data.train_labels=" + dir + "/y.npy",
                                   "--data.scale=standardize",
                                   "--data.task=classification",
                                   "--solver.name=" + solver,
                                   "--solver.seed=" + std::to_string(kSeed),
                                   "--solver.epochs=2",
                                   "--solver.iterations=15",
                                   "--kernel.bandwidth=2",
                                   centers_option,
                                   "--output.model=" + dir + "/" + model};
  const Options o = parse_options(args);
  EXPECT_EQ(run_train(comm, o), 0);
  return load_model(comm, dir + "/" + model);
}

void expect_same_model(const LocalModel& a, const LocalModel& b) {
  ASSERT_EQ(a.header.centers, kCenters);
  testing_support::expect_identical_models(a, b);
}

TEST(DataCenters, FileCentersEqualDrawnCentersBitForBit) {
  auto comm = mpi::Communicator::world();
  const testing_support::SharedDir scratch(comm);
  const std::string& dir = scratch.str();
  if (comm.rank() == 0) write_files(dir);
  comm.barrier();
  const std::string drawn = "--solver.centers=" + std::to_string(kCenters);
  for (const std::string solver : {"falkon", "eigenpro4"}) {
    SCOPED_TRACE(solver);
    const LocalModel want = train(comm, dir, solver, drawn, solver + "_drawn.kmpi");
    expect_same_model(want, train(comm, dir, solver, "--data.centers=" + dir + "/centers.npy",
                                  solver + "_npy.kmpi"));
    expect_same_model(want, train(comm, dir, solver, "--data.centers=" + dir + "/centers.csv",
                                  solver + "_csv.kmpi"));
  }
}

}  // namespace
}  // namespace kmpi
