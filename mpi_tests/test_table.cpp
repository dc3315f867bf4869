// Tables (issue 27): a CSV with a header, read by byte ranges at the rank count of the run, with a
// row selection: the encoding fitted on the selected rows (categories merged over ranks, the
// training mean imputed, a missing indicator, text labels as sorted class names) against the
// formulas that wrote the file; the encoding applied to every row (an unseen category: zeros);
// and the encoding through the model file (format version 4) at this rank count. With
// data.numeric_transform = quantile: the knots gathered over ranks equal the serial knots of the
// selected values, every value encoded as its normal score, and the knots through the model
// file (version 5); the imputed means the same bits at any rank count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common.hpp"
#include "io/quantile_map.hpp"
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

// Reading a training table with its labels in column "y".
ReadOptions fitting_read() {
  ReadOptions read;
  read.fit_table = true;
  read.embedded_labels = true;
  read.label_column = "y";
  return read;
}

// A model of p zero centers with `table` saved to `path` and loaded again; its format version
// must be `version`.
LocalModel through_model_file(const mpi::Communicator& comm, const std::string& path,
                              const TableEncoding& table, std::size_t d, std::size_t c,
                              std::size_t p, std::uint32_t version) {
  LocalModel m;
  m.header.kernel.bandwidth = 2;
  m.header.dimension = d;
  m.header.outputs = c;
  m.header.centers = p;
  m.header.table = table;
  m.partition = BlockPartition(p, comm.size());
  m.centers = Matrix<double>(m.partition.count(comm.rank()), d);
  m.weights = Matrix<double>(m.partition.count(comm.rank()), c);
  save_model(comm, path, m);
  if (comm.rank() == 0) {
    const std::string bytes = read_text(path);
    std::uint32_t got = 0;
    std::memcpy(&got, bytes.data() + 8, 4);
    EXPECT_EQ(got, version);
  }
  return load_model(comm, path);
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

  ReadOptions read = fitting_read();
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
  const LocalModel back = through_model_file(comm, dir.path("m.kmpi"), t, 5, 2, kRows, 4);
  const TableEncoding& b = back.header.table;
  ASSERT_EQ(b.columns.size(), 2u);
  EXPECT_EQ(b.columns[0].fill, mean);
  EXPECT_TRUE(b.columns[0].indicator);
  EXPECT_EQ(b.columns[1].categories, t.columns[1].categories);
  EXPECT_EQ(b.classes, t.classes);
  EXPECT_EQ(b.missing_values, t.missing_values);
  EXPECT_EQ(b.label_name, "y");
}

// A column of counts with ties and missing values, and a second, skewed one.
double count_of(std::size_t i) { return static_cast<double>((i * 7) % 5); }
double skewed_of(std::size_t i) { return std::exp(0.3 * static_cast<double>(i)); }

TEST(Table, QuantileTransformGathersTheSerialKnotsAtAnyRankCount) {
  const auto comm = mpi::Communicator::world();
  SharedDir dir(comm);
  const std::string path = dir.path("q.csv");
  const std::size_t rows = 61;
  if (comm.rank() == 0) {
    std::string text = "count,skewed,y\n";
    for (std::size_t i = 0; i < rows; ++i)
      text += (x_missing(i) ? std::string("?") : std::to_string(count_of(i))) + "," +
              std::to_string(skewed_of(i)) + "," + std::to_string(i % 3) + "\n";
    write_text(path, text);
  }
  comm.barrier();
  std::vector<std::size_t> selection;
  std::vector<double> counts, skewed;  // the selected rows' values, in no particular order
  for (std::size_t i = 0; i < rows; ++i) {
    if (i % 7 == 3) continue;
    selection.push_back(i);
    if (!x_missing(i)) counts.push_back(std::stod(std::to_string(count_of(i))));
    skewed.push_back(std::stod(std::to_string(skewed_of(i))));
  }
  ReadOptions read = fitting_read();
  read.quantile_transform = true;
  const LocalData train = read_distributed(comm, path, "", selection, read);
  const TableEncoding& t = train.table;
  ASSERT_EQ(t.columns.size(), 2u);
  const std::vector<double> want_counts = detail::quantile_knots(counts);
  const std::vector<double> want_skewed = detail::quantile_knots(skewed);
  EXPECT_EQ(t.columns[0].quantiles, want_counts);
  EXPECT_EQ(t.columns[1].quantiles, want_skewed);
  EXPECT_EQ(t.columns[0].fill, 0.0);  // a missing count: the median's score
  ASSERT_EQ(train.dimension, 2u);
  const std::size_t first = train.partition.begin(comm.rank());
  for (std::size_t k = 0; k < train.features.rows(); ++k) {
    const std::size_t i = selection[first + k];
    const double c = std::stod(std::to_string(count_of(i)));
    EXPECT_EQ(train.features(k, 0), x_missing(i) ? 0.0 : detail::quantile_normal(want_counts, c))
        << i;
    EXPECT_EQ(train.features(k, 1),
              detail::quantile_normal(want_skewed, std::stod(std::to_string(skewed_of(i)))))
        << i;
  }

  // The same encoding, bit for bit, as each rank fits it alone (1 rank): the knots and the
  // skewed column's mean (stored, though nothing is missing there), whose plain sum over ranks
  // would round differently at each rank count.
  read.quantile_transform = false;
  const LocalData here = read_distributed(comm, path, "", selection, read);
  const mpi::Communicator alone = comm.split(comm.rank(), 0);
  const LocalData single = read_distributed(alone, path, "", selection, read);
  EXPECT_EQ(here.table.columns[1].fill, single.table.columns[1].fill);
  EXPECT_EQ(here.table.columns[0].fill, single.table.columns[0].fill);
  double plain = 0;
  for (double v : skewed) plain += v;
  EXPECT_NEAR(here.table.columns[1].fill, plain / static_cast<double>(skewed.size()),
              1e-13 * plain);

  // Through the model file: version 5, the same knots.
  const LocalModel back = through_model_file(comm, dir.path("q.kmpi"), t, 2, 3, rows, 5);
  EXPECT_EQ(back.header.table.columns[0].quantiles, want_counts);
  EXPECT_EQ(back.header.table.columns[1].quantiles, want_skewed);
}

}  // namespace
}  // namespace kmpi
