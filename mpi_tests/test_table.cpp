// Tables (issue 27): a CSV with a header, read by byte ranges at the rank count of the run, with a
// row selection: the encoding fitted on the selected rows (categories merged over ranks, the
// training mean imputed, a missing indicator, text labels as sorted class names) against the
// formulas that wrote the file; the encoding applied to every row (an unseen category: zeros);
// and the encoding through the model file (format version 4) at this rank count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common.hpp"
#include "kmpi/data.hpp"
#include "kmpi/model.hpp"
#include "kmpi/mpi.hpp"

namespace kmpi {
namespace {

using namespace testing_support;

constexpr std::size_t kRows = 23;
const char* const kKinds[3] = {"b", "a", "c"};

bool x_missing(std::size_t i) { return i % 5 == 2; }
bool kind_missing(std::size_t i) { return i % 4 == 1; }
std::string kind_of(std::size_t i) { return i == 7 ? "zz" : kKinds[i % 3]; }
std::string label_of(std::size_t i) { return i % 2 ? "cat" : "dog"; }

void write_table(const std::string& path) {
  std::string text = "x,kind,y\n";
  for (std::size_t i = 0; i < kRows; ++i)
    text += (x_missing(i) ? std::string() : std::to_string(i)) + "," +
            (kind_missing(i) ? std::string("NA") : kind_of(i)) + "," + label_of(i) + "\n";
  write_text(path, text);
}

// Encoded row i: x (or the mean), the indicator, kind=a, kind=b, kind=c.
std::vector<double> expected_row(std::size_t i, double mean) {
  std::vector<double> r = {x_missing(i) ? mean : static_cast<double>(i), x_missing(i) ? 1.0 : 0.0,
                           0, 0, 0};
  const std::string k = kind_of(i);
  if (!kind_missing(i) && k != "zz") r[2 + (k == "a" ? 0 : (k == "b" ? 1 : 2))] = 1.0;
  return r;
}

TEST(Table, FitOnSelectedRowsApplyToAllAndThroughTheModelFile) {
  const auto comm = mpi::Communicator::world();
  SharedDir dir(comm);
  const std::string path = dir.path("t.csv");
  if (comm.rank() == 0) write_table(path);
  comm.barrier();

  std::vector<std::size_t> selection;
  double sum = 0, count = 0;
  for (std::size_t i = 0; i < kRows; ++i) {
    if (i == 7 || i == 11) continue;  // row 7 holds the only "zz"
    selection.push_back(i);
    if (!x_missing(i)) sum += static_cast<double>(i), count += 1;
  }
  const double mean = sum / count;

  ReadOptions read;
  read.fit_table = true;
  read.embedded_labels = true;
  read.label_column = "y";
  read.missing_indicators = true;
  const LocalData train = read_distributed(comm, path, "", selection, read);
  const TableEncoding& t = train.table;
  ASSERT_EQ(t.columns.size(), 2u);
  EXPECT_EQ(t.columns[0].name, "x");
  EXPECT_FALSE(t.columns[0].categorical);
  EXPECT_TRUE(t.columns[0].indicator);
  EXPECT_EQ(t.columns[0].fill, mean);
  EXPECT_TRUE(t.columns[1].categorical);
  EXPECT_EQ(t.columns[1].categories, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(t.classes, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(t.label_name, "y");
  ASSERT_EQ(train.dimension, 5u);
  EXPECT_EQ(train.target_kind, ElementKind::kInteger);
  const std::size_t first = train.partition.begin(comm.rank());
  for (std::size_t k = 0; k < train.features.rows(); ++k) {
    const std::size_t i = selection[first + k];
    const std::vector<double> want = expected_row(i, mean);
    for (std::size_t j = 0; j < 5; ++j) EXPECT_EQ(train.features(k, j), want[j]) << i << "," << j;
    EXPECT_EQ(train.targets(k, 0), label_of(i) == "cat" ? 0.0 : 1.0);
  }

  // Every row, with the trained encoding: the unseen "zz" of row 7 is all zeros.
  ReadOptions apply = read;
  apply.fit_table = false;
  apply.encoding = &t;
  const LocalData all = read_distributed(comm, path, "", {}, apply);
  ASSERT_EQ(all.dimension, 5u);
  EXPECT_TRUE(all.table.empty());
  for (std::size_t k = 0; k < all.features.rows(); ++k) {
    const std::size_t i = all.partition.begin(comm.rank()) + k;
    const std::vector<double> want = expected_row(i, mean);
    for (std::size_t j = 0; j < 5; ++j) EXPECT_EQ(all.features(k, j), want[j]) << i << "," << j;
  }

  // The model file keeps the encoding (version 4).
  LocalModel m;
  m.header.kernel.bandwidth = 2;
  m.header.dimension = 5;
  m.header.outputs = 2;
  m.header.centers = kRows;
  m.header.table = t;
  m.partition = BlockPartition(kRows, comm.size());
  m.centers = Matrix<double>(m.partition.count(comm.rank()), 5);
  m.weights = Matrix<double>(m.partition.count(comm.rank()), 2);
  save_model(comm, dir.path("m.kmpi"), m);
  const LocalModel back = load_model(comm, dir.path("m.kmpi"));
  const TableEncoding& b = back.header.table;
  ASSERT_EQ(b.columns.size(), 2u);
  EXPECT_EQ(b.columns[0].fill, mean);
  EXPECT_TRUE(b.columns[0].indicator);
  EXPECT_EQ(b.columns[1].categories, t.columns[1].categories);
  EXPECT_EQ(b.classes, t.classes);
  EXPECT_EQ(b.missing_values, t.missing_values);
  EXPECT_EQ(b.label_name, "y");
  if (comm.rank() == 0) {
    const std::string bytes = read_text(dir.path("m.kmpi"));
    std::uint32_t version = 0;
    std::memcpy(&version, bytes.data() + 8, 4);
    EXPECT_EQ(version, 4u);
  }
}

}  // namespace
}  // namespace kmpi
