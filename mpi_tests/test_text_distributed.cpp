// Text files read by byte ranges at the rank count of the run: each rank's rows (values, labels,
// source lines) against the formulas that wrote the file, with and without a row selection; the
// first error reported with its global line on every rank; and the .npy writer of `convert`
// read back through the npy reader.
#include <algorithm>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common.hpp"
#include "kmpi/data.hpp"
#include "kmpi/error.hpp"
#include "io/hdf5_reader.hpp"
#include "kmpi/mpi.hpp"

#ifdef KMPI_HAVE_HDF5
#include <hdf5.h>
#endif

namespace kmpi {
namespace {

namespace fs = std::filesystem;
using testing_support::SharedDir;

// Row i has features x_ij = i + j/8 at the indices j where (i + j) % 3 != 0 (LIBSVM skips the
// zeros), d = 7, label i % 4.
double x_of(std::size_t i, std::size_t j) {
  return (i + j) % 3 == 0 ? 0.0 : static_cast<double>(i) + static_cast<double>(j) / 8;
}

constexpr std::size_t kRows = 37, kDim = 7;

// Line of row i: a comment line after every 5th row, so rows and lines differ.
std::size_t line_of(std::size_t i) { return 1 + i + i / 5; }

void write_files(const std::string& dir) {
  std::ofstream svm(dir + "/d.svm"), csv(dir + "/d.csv");
  csv << "c0,c1,c2,c3,c4,c5,c6,label\n";
  for (std::size_t i = 0; i < kRows; ++i) {
    svm << i % 4;
    for (std::size_t j = 0; j < kDim; ++j)
      if (x_of(i, j) != 0) svm << " " << j + 1 << ":" << x_of(i, j);
    svm << "\n";
    if (i % 5 == 4) svm << "# comment\n";
    for (std::size_t j = 0; j < kDim; ++j) csv << x_of(i, j) << ",";
    csv << i % 4 << "\n";
  }
  std::ofstream bad(dir + "/bad.svm");
  for (std::size_t i = 0; i < kRows; ++i) bad << "1 " << (i == 30 ? 0 : 1) << ":1\n";
}

void check_block(const mpi::Communicator& comm, const LocalData& local,
                 const std::vector<std::size_t>& selection, bool lines_have_comments) {
  const std::size_t n = selection.empty() ? kRows : selection.size();
  ASSERT_EQ(local.partition.size(), n);
  ASSERT_EQ(local.dimension, kDim);
  const std::size_t count = local.partition.count(comm.rank());
  ASSERT_EQ(local.features.rows(), count);
  ASSERT_EQ(local.targets.rows(), count);
  for (std::size_t r = 0; r < count; ++r) {
    const std::size_t k = local.partition.begin(comm.rank()) + r;
    const std::size_t i = selection.empty() ? k : selection[k];
    for (std::size_t j = 0; j < kDim; ++j) EXPECT_EQ(local.features(r, j), x_of(i, j));
    EXPECT_EQ(local.targets(r, 0), static_cast<double>(i % 4));
    EXPECT_EQ(local.source_lines[r], lines_have_comments ? line_of(i) : i + 2);
    EXPECT_EQ(local.source_rows[r], i);
  }
}

TEST(TextDistributed, LibsvmAndCsvBlocksMatchTheFormulas) {
  const auto comm = mpi::Communicator::world();
  const SharedDir scratch(comm);
  const std::string& dir = scratch.str();
  if (comm.rank() == 0) write_files(dir);
  comm.barrier();
  ReadOptions o;
  o.embedded_labels = true;
  const std::vector<std::size_t> selection = {0, 3, 4, 5, 11, 17, 18, 30, 36};
  for (const auto& sel : {std::vector<std::size_t>{}, selection}) {
    check_block(comm, read_distributed(comm, dir + "/d.svm", "", sel, o), sel, true);
    check_block(comm, read_distributed(comm, dir + "/d.csv", "", sel, o), sel, false);
  }
  // The same rows as a test each rank applies to its own byte range's rows (no list).
  const RowSubset where = RowSubset::where(
      [&](std::size_t i) { return std::binary_search(selection.begin(), selection.end(), i); });
  check_block(comm, read_distributed(comm, dir + "/d.svm", "", where, o), selection, true);
  check_block(comm, read_distributed(comm, dir + "/d.csv", "", where, o), selection, false);
  const FileInfo info = probe_distributed(comm, dir + "/d.svm", o);
  EXPECT_EQ(info.rows, kRows);
  EXPECT_EQ(info.cols, kDim);
  EXPECT_EQ(info.label_element, ElementKind::kInteger);

  // The error on line 31 is found by whichever rank owns that byte range, named by its global
  // line on every rank.
  std::string message;
  try {
    read_distributed(comm, dir + "/bad.svm", "", {}, o);
  } catch (const CollectiveError& e) {
    message = e.what();
  }
  EXPECT_NE(message.find(dir + "/bad.svm: line 31: feature index 0"), std::string::npos) << message;

  // convert's writer: this rank's block of the svm file as .npy, read back row by row.
  const LocalData local = read_distributed(comm, dir + "/d.svm", "", {}, o);
  write_npy_distributed(comm, dir + "/x.npy", local.partition, local.features);
  write_npy_distributed(comm, dir + "/y.npy", local.partition, local.targets, true);
  const LocalData back = read_distributed(comm, dir + "/x.npy", dir + "/y.npy");
  EXPECT_EQ(back.features.storage(), local.features.storage());
  EXPECT_EQ(back.targets.storage(), local.targets.storage());
  EXPECT_EQ(back.target_kind, ElementKind::kInteger);
  EXPECT_FALSE(fs::exists(dir + "/x.npy.tmp"));
}

// An HDF5 data set read by row hyperslabs at this rank count: every rank's block against the
// formula, labels from a second data set of the same file.
TEST(Hdf5Distributed, EachRankReadsItsRows) {
  const auto comm = mpi::Communicator::world();
  if (!hdf5::available()) GTEST_SKIP() << "built without HDF5";
#ifdef KMPI_HAVE_HDF5
  const SharedDir scratch(comm);
  const std::string file = scratch.path("d.h5");
  if (comm.rank() == 0) {
    std::vector<double> x(kRows * kDim);
    std::vector<int> y(kRows);
    for (std::size_t i = 0; i < kRows; ++i) {
      for (std::size_t j = 0; j < kDim; ++j) x[i * kDim + j] = x_of(i, j);
      y[i] = static_cast<int>(i % 4);
    }
    const hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dx[2] = {kRows, kDim}, dy[1] = {kRows};
    const hid_t sx = H5Screate_simple(2, dx, nullptr), sy = H5Screate_simple(1, dy, nullptr);
    const hid_t ds_x =
        H5Dcreate2(f, "/x", H5T_IEEE_F64LE, sx, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t ds_y =
        H5Dcreate2(f, "/y", H5T_STD_I32LE, sy, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds_x, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x.data());
    H5Dwrite(ds_y, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, y.data());
    H5Dclose(ds_x);
    H5Dclose(ds_y);
    H5Sclose(sx);
    H5Sclose(sy);
    H5Fclose(f);
  }
  comm.barrier();
  const std::vector<std::size_t> selection = {1, 2, 3, 9, 20, 21, 22, 35};
  for (const auto& sel : {std::vector<std::size_t>{}, selection}) {
    const LocalData local = read_distributed(comm, file + ":/x", file + ":/y", sel);
    EXPECT_EQ(local.target_kind, ElementKind::kInteger);
    const std::size_t count = local.partition.count(comm.rank());
    ASSERT_EQ(local.features.rows(), count);
    for (std::size_t r = 0; r < count; ++r) {
      const std::size_t k = local.partition.begin(comm.rank()) + r;
      const std::size_t i = sel.empty() ? k : sel[k];
      for (std::size_t j = 0; j < kDim; ++j) EXPECT_EQ(local.features(r, j), x_of(i, j));
      EXPECT_EQ(local.targets(r, 0), static_cast<double>(i % 4));
    }
  }
#endif
}

}  // namespace
}  // namespace kmpi
