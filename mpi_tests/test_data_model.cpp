// Distributed reading and the model file at the rank count of the run. Files are created by
// rank 0 in a directory whose name rank 0 broadcasts, then a barrier; the expected values come
// from the formulas that generated the files, so every rank checks its own rows independently.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "common.hpp"
#include "kmpi/data.hpp"
#include "kmpi/error.hpp"
#include "kmpi/model.hpp"
#include "kmpi/mpi.hpp"

namespace kmpi {
namespace {

namespace fs = std::filesystem;
using namespace testing_support;

// A version-1.0 .npy file written by hand.
template <class T>
void write_npy(const std::string& path, const std::string& descr, const std::string& shape,
               const std::vector<T>& values) {
  write_file(path, npy_bytes(descr, shape, values));
}

// Feature value of global row i, column j, and its label.
double feature(std::size_t i, std::size_t j) {
  return 100.0 * static_cast<double>(i) + static_cast<double>(j) + 0.5;
}
std::int64_t label(std::size_t i) { return static_cast<std::int64_t>(i % 5); }

TEST(DataDistributed, EachRankGetsExactlyItsSelectedRows) {
  const auto comm = mpi::Communicator::world();
  SharedDir dir(comm);
  const std::size_t n = 23, d = 4;
  if (comm.rank() == 0) {
    std::vector<double> x(n * d);
    std::vector<std::int64_t> y(n);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < d; ++j) x[i * d + j] = feature(i, j);
      y[i] = label(i);
    }
    write_npy(dir.path("x.npy"), "<f8", "(23, 4)", x);
    write_npy(dir.path("y.npy"), "<i8", "(23,)", y);
  }
  comm.barrier();

  const FileInfo info = probe_distributed(comm, dir.path("x.npy"));
  EXPECT_EQ(info.rows, n);
  EXPECT_EQ(info.cols, d);

  const std::vector<std::size_t> subset = {0, 1, 2, 4, 7, 8, 9, 13, 17, 21, 22};
  // Variant 2: the same rows as a test each rank applies to its own block of the file.
  const RowSubset where = RowSubset::where(
      [&](std::size_t i) { return std::binary_search(subset.begin(), subset.end(), i); });
  for (int variant = 0; variant < 3; ++variant) {
    const std::vector<std::size_t>& selection = variant == 0 ? std::vector<std::size_t>{} : subset;
    const LocalData local = read_distributed(comm, dir.path("x.npy"), dir.path("y.npy"),
                                             variant == 2 ? where : RowSubset(selection));
    const std::size_t selected = selection.empty() ? n : selection.size();
    EXPECT_TRUE(local.partition == BlockPartition(selected, comm.size()));
    EXPECT_EQ(local.dimension, d);
    EXPECT_EQ(local.target_kind, ElementKind::kInteger);
    const std::size_t count = local.partition.count(comm.rank());
    ASSERT_EQ(local.features.rows(), count);
    ASSERT_EQ(local.features.cols(), d);
    ASSERT_EQ(local.targets.rows(), count);
    ASSERT_EQ(local.targets.cols(), 1u);
    for (std::size_t k = 0; k < count; ++k) {
      const std::size_t position = local.partition.begin(comm.rank()) + k;
      const std::size_t global = selection.empty() ? position : selection[position];
      EXPECT_EQ(local.source_rows[k], global);
      for (std::size_t j = 0; j < d; ++j) EXPECT_EQ(local.features(k, j), feature(global, j));
      EXPECT_EQ(local.targets(k, 0), static_cast<double>(label(global)));
    }
    // Every selected row is held by exactly one rank.
    const unsigned long long total = comm.allreduce_value(static_cast<unsigned long long>(count));
    EXPECT_EQ(total, selected);
  }

  // Features alone: no targets.
  const LocalData unlabeled = read_distributed(comm, dir.path("x.npy"), "");
  EXPECT_TRUE(unlabeled.targets.empty());
  EXPECT_EQ(unlabeled.features.rows(), BlockPartition(n, comm.size()).count(comm.rank()));
}

TEST(DataDistributed, ErrorsArriveOnEveryRank) {
  const auto comm = mpi::Communicator::world();
  SharedDir dir(comm);
  if (comm.rank() == 0) {
    write_npy(dir.path("x.npy"), "<f4", "(10, 2)", std::vector<float>(20, 1.0f));
    write_npy(dir.path("y.npy"), "|u1", "(9,)", std::vector<std::uint8_t>(9, 1));
    std::vector<float> bad(20, 1.0f);
    bad[2 * 9 + 1] = std::numeric_limits<float>::quiet_NaN();  // row 9, the last rank's
    write_npy(dir.path("nan.npy"), "<f4", "(10, 2)", bad);
  }
  comm.barrier();

  std::string message =
      collective_error_of([&] { read_distributed(comm, dir.path("x.npy"), dir.path("y.npy")); });
  EXPECT_MESSAGE_HAS(message, dir.path("y.npy"));
  EXPECT_MESSAGE_HAS(message, dir.path("x.npy"));
  EXPECT_MESSAGE_HAS(message, "9 labels for 10 rows");

  message = collective_error_of([&] { read_distributed(comm, dir.path("absent.npy"), ""); });
  EXPECT_MESSAGE_HAS(message, dir.path("absent.npy") + ": no such file");

  // Only the rank that owns row 9 sees the NaN; all ranks get the error.
  message = collective_error_of([&] { read_distributed(comm, dir.path("nan.npy"), ""); });
  EXPECT_MESSAGE_HAS(message, dir.path("nan.npy") + ": row 9, column 1");

  message = collective_error_of([&] { read_distributed(comm, dir.path("x.npy"), "", {3, 12}); });
  EXPECT_MESSAGE_HAS(message, "selected row 12");

  if (comm.size() > 1) {
    message = collective_error_of([&] { read_distributed(comm, dir.path("x.npy"), "", {4}); });
    EXPECT_MESSAGE_HAS(message, "1 rows selected for " + std::to_string(comm.size()) + " ranks");
  }
}

// A model with p centers: center(i, j) and weight(i, k) are the generating formulas.
double center(std::size_t i, std::size_t j) {
  return 10.0 * static_cast<double>(i) + static_cast<double>(j) / 4.0;
}
double weight(std::size_t i, std::size_t k) {
  return -(static_cast<double>(i) + 1.0) * (static_cast<double>(k) + 1.0) / 8.0;
}

LocalModel make_model(const mpi::Communicator& comm, std::size_t p, std::size_t d, std::size_t c) {
  LocalModel m;
  m.header.kernel = Kernel::from_name("matern", 1.5, 2.5);
  m.header.task = Task::kClassification;
  m.header.dimension = d;
  m.header.outputs = c;
  m.header.centers = p;
  m.header.scaling.mode = ScaleMode::kStandardize;
  for (std::size_t j = 0; j < d; ++j) {
    m.header.scaling.offset.push_back(static_cast<double>(j) - 1.0);
    m.header.scaling.multiplier.push_back(1.0 / (static_cast<double>(j) + 2.0));
  }
  m.partition = BlockPartition(p, comm.size());
  const std::size_t count = m.partition.count(comm.rank()), first = m.partition.begin(comm.rank());
  m.centers.resize(count, d);
  m.weights.resize(count, c);
  for (std::size_t k = 0; k < count; ++k) {
    for (std::size_t j = 0; j < d; ++j) m.centers(k, j) = center(first + k, j);
    for (std::size_t j = 0; j < c; ++j) m.weights(k, j) = weight(first + k, j);
  }
  return m;
}

void expect_model(const mpi::Communicator& comm, const LocalModel& m, std::size_t p, std::size_t d,
                  std::size_t c) {
  EXPECT_EQ(m.header.kernel.kind, KernelKind::kMatern);
  EXPECT_EQ(m.header.kernel.bandwidth, 1.5);
  EXPECT_EQ(m.header.kernel.nu, 2.5);
  EXPECT_EQ(m.header.task, Task::kClassification);
  EXPECT_EQ(m.header.scaling.mode, ScaleMode::kStandardize);
  EXPECT_EQ(m.header.dimension, d);
  EXPECT_EQ(m.header.outputs, c);
  EXPECT_EQ(m.header.centers, p);
  ASSERT_EQ(m.header.scaling.offset.size(), d);
  ASSERT_EQ(m.header.scaling.multiplier.size(), d);
  for (std::size_t j = 0; j < d; ++j) {
    EXPECT_EQ(m.header.scaling.offset[j], static_cast<double>(j) - 1.0);
    EXPECT_EQ(m.header.scaling.multiplier[j], 1.0 / (static_cast<double>(j) + 2.0));
  }
  EXPECT_TRUE(m.partition == BlockPartition(p, comm.size()));
  const std::size_t count = m.partition.count(comm.rank()), first = m.partition.begin(comm.rank());
  ASSERT_EQ(m.centers.rows(), count);
  ASSERT_EQ(m.centers.cols(), d);
  ASSERT_EQ(m.weights.rows(), count);
  ASSERT_EQ(m.weights.cols(), c);
  for (std::size_t k = 0; k < count; ++k) {
    for (std::size_t j = 0; j < d; ++j) EXPECT_EQ(m.centers(k, j), center(first + k, j));
    for (std::size_t j = 0; j < c; ++j) EXPECT_EQ(m.weights(k, j), weight(first + k, j));
  }
}

TEST(ModelFile, SaveLoadRoundTripAtThisRankCount) {
  const auto comm = mpi::Communicator::world();
  SharedDir dir(comm);
  // p = 11 leaves uneven blocks; p = 1 leaves ranks with no centers.
  for (std::size_t p : {11, 1}) {
    const std::size_t d = 3, c = 2;
    const std::string path = dir.path("model" + std::to_string(p) + ".kmpi");
    save_model(comm, path, make_model(comm, p, d, c));
    comm.barrier();

    // The bytes follow the documented layout: size, a center at its offset, the CRC trailer.
    if (comm.rank() == 0) {
      const std::string bytes = read_text(path);
      // Version 2: the metric section after the scaling is its kind alone (none, 4 bytes).
      ASSERT_EQ(bytes.size(), 64 + 16 * d + 4 + 8 * p * (d + c) + 4);
      EXPECT_EQ(bytes.substr(0, 8), "KMPIMODL");
      double last_center = 0;
      std::memcpy(&last_center, bytes.data() + 64 + 16 * d + 4 + 8 * ((p - 1) * d + 2), 8);
      EXPECT_EQ(last_center, center(p - 1, 2));
      std::uint32_t stored = 0;
      std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
      EXPECT_EQ(stored, crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()),
                              static_cast<uInt>(bytes.size() - 4)));
    }
    expect_model(comm, load_model(comm, path), p, d, c);
    const ModelHeader h = read_model_header(path);
    EXPECT_EQ(h.centers, p);
  }
  // No temporary is left behind.
  EXPECT_EQ(dir.listing(), (std::vector<std::string>{"model1.kmpi", "model11.kmpi"}));
}

TEST(ModelFile, DamagedFilesFailOnEveryRank) {
  const auto comm = mpi::Communicator::world();
  SharedDir dir(comm);
  const std::size_t p = 9, d = 2, c = 3;
  const std::string path = dir.path("m.kmpi");
  save_model(comm, path, make_model(comm, p, d, c));
  comm.barrier();
  const std::string good = comm.rank() == 0 ? read_text(path) : std::string();

  // One flipped bit in a weight: only the checksum can tell.
  if (comm.rank() == 0) {
    std::string bytes = good;
    bytes[bytes.size() - 12] ^= 0x01;
    write_text(dir.path("flipped.kmpi"), bytes);
    write_text(dir.path("short.kmpi"), good.substr(0, good.size() - 100));
    write_text(dir.path("text.kmpi"), "centers,weights\n1,2\n");
    // A future version, with a valid checksum so that the version is what is reported.
    bytes = good;
    const std::uint32_t version = kModelVersion + 1;
    std::memcpy(bytes.data() + 8, &version, 4);
    const auto crc = static_cast<std::uint32_t>(crc32(
        0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size() - 4)));
    std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
    write_text(dir.path("newer.kmpi"), bytes);
  }
  comm.barrier();

  std::string message = collective_error_of([&] { load_model(comm, dir.path("flipped.kmpi")); });
  EXPECT_MESSAGE_HAS(message, dir.path("flipped.kmpi") + ": checksum mismatch");
  message = collective_error_of([&] { load_model(comm, dir.path("short.kmpi")); });
  EXPECT_MESSAGE_HAS(message, dir.path("short.kmpi") + ": truncated");
  message = collective_error_of([&] { load_model(comm, dir.path("text.kmpi")); });
  EXPECT_MESSAGE_HAS(message, dir.path("text.kmpi") + ": not a kmpi model");
  message = collective_error_of([&] { load_model(comm, dir.path("newer.kmpi")); });
  EXPECT_MESSAGE_HAS(message, dir.path("newer.kmpi") +
                                  ": written by a newer kmpi (format version " +
                                  std::to_string(kModelVersion + 1) + ", this build reads up to " +
                                  std::to_string(kModelVersion) + ")");
  message = collective_error_of([&] { load_model(comm, dir.path("absent.kmpi")); });
  EXPECT_MESSAGE_HAS(message, dir.path("absent.kmpi") + ": no such file");

  // The good file still loads after all that.
  expect_model(comm, load_model(comm, path), p, d, c);
}

TEST(ModelFile, FailedSavesLeaveNoFileBehind) {
  const auto comm = mpi::Communicator::world();
  SharedDir dir(comm);
  const std::size_t p = 7, d = 2, c = 1;

  // The final rename fails (a directory holds the name) after every rank wrote its rows.
  if (comm.rank() == 0) fs::create_directories(dir.path("taken.kmpi/inside"));
  comm.barrier();
  std::string message = collective_error_of(
      [&] { save_model(comm, dir.path("taken.kmpi"), make_model(comm, p, d, c)); });
  EXPECT_MESSAGE_HAS(message, dir.path("taken.kmpi"));
  comm.barrier();
  EXPECT_EQ(dir.listing(), (std::vector<std::string>{"taken.kmpi"}));

  // One rank holds the wrong number of rows: refused on every rank before anything is created.
  LocalModel bad = make_model(comm, p, d, c);
  if (comm.rank() == comm.size() - 1) bad.centers.resize(bad.centers.rows() + 1, d);
  message = collective_error_of([&] { save_model(comm, dir.path("bad.kmpi"), bad); });
  EXPECT_MESSAGE_HAS(
      message, dir.path("bad.kmpi") + ": internal error: rank " + std::to_string(comm.size() - 1));
  comm.barrier();
  EXPECT_EQ(dir.listing(), (std::vector<std::string>{"taken.kmpi"}));

  // A directory that does not exist.
  message = collective_error_of(
      [&] { save_model(comm, dir.path("none/m.kmpi"), make_model(comm, p, d, c)); });
  EXPECT_MESSAGE_HAS(message, dir.path("none/m.kmpi"));
  comm.barrier();
  EXPECT_EQ(dir.listing(), (std::vector<std::string>{"taken.kmpi"}));
}

}  // namespace
}  // namespace kmpi
