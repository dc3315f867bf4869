// The model file (DESIGN §4): versioned binary, self-describing, checksummed, written to a
// temporary name and renamed; loadable on any number of ranks.
//
// Layout (little-endian):
//   header  : magic "KMPIMODL" (8 bytes), version u32, kernel kind u32, nu f64, bandwidth f64,
//             scale mode u32, task u32, d u64, c u64, p u64
//   scaling : offset[d] f64, multiplier[d] f64   (feature x -> (x - offset) * multiplier)
//   metric  : (version >= 2) metric kind u32, then S = M^(1/2): nothing (none), d f64
//             (diagonal) or d x d f64 row-major (full)   (scaled x -> x S)
//   family  : (version >= 3) kernel.exponent q f64, kernel.norm_p p f64 (the Laplace family;
//             written only for such a kernel, so every other model is a version 2 file, byte for
//             byte what it was)
//   table   : (version >= 4) u64 byte length L, then L bytes: how a CSV table with a header became
//             the d features (column names and kinds, categories, imputed values, class names;
//             src/state/model_table.cpp); written only for a model with a table; version 5:
//             the same, with quantile knots (data.numeric_transform = quantile)
//   centers : p x d f64, row-major, in model inputs (scaled, then times S)
//   weights : p x c f64, row-major
//   trailer : CRC-32 (zlib) of every byte before it, u32
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kmpi/data.hpp"
#include "kmpi/feature_metric.hpp"
#include "kmpi/kernel.hpp"
#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/partition.hpp"

namespace kmpi {

enum class ScaleMode : std::uint32_t { kNone = 0, kUnit = 1, kStandardize = 2 };
enum class Task : std::uint32_t { kClassification = 0, kRegression = 1 };

// 2: the metric section (version 1 files load with metric none). 3: the Laplace family section
// (version 1 and 2 files load with q = 1, p = 2). 4: the table section (version 1 to 3 files
// load with none). 5: the table section may end with quantile knots (a version 4 file's table
// has none).
inline constexpr std::uint32_t kModelVersion = 5;

// How raw features become model inputs; stored in the model so predict applies the same.
struct Scaling {
  ScaleMode mode = ScaleMode::kNone;
  std::vector<double> offset;      // d values
  std::vector<double> multiplier;  // d values
  // local: x (rows x d) -> (x - offset) * multiplier, in place.
  void apply(Matrix<double>& x) const;
};

struct ModelHeader {
  Kernel kernel;
  Scaling scaling;
  FeatureMetric metric;  // applied after the scaling; none = Euclidean kernel
  Task task = Task::kClassification;
  std::size_t dimension = 0;  // d
  std::size_t outputs = 0;    // c
  std::size_t centers = 0;    // p
  // Trained on a table (a CSV with a header and categorical columns, missing values or text
  // labels): its encoding; predict and eval encode tables with it. Empty otherwise.
  TableEncoding table;

  // local: raw feature rows (rows x d) -> model inputs u = scaled(x) S, in place: what every
  // query, evaluation row, training row and given center goes through (centers are stored so).
  void prepare_inputs(Matrix<double>& x) const;
};

// This rank's part of a model: centers and weights of the rows partition.begin(rank)..end.
struct LocalModel {
  ModelHeader header;
  BlockPartition partition;  // of the p centers over ranks
  Matrix<double> centers;    // count x d (model inputs: scaled, then times S)
  Matrix<double> weights;    // count x c
};

// collective: writes the model; each rank contributes its rows (local.partition must be a
// BlockPartition of header.centers over comm.size() ranks). The file appears under `path` only
// when complete (temporary name, fsync, rename); on any error no file is left behind.
void save_model(const mpi::Communicator& comm, const std::string& path, const LocalModel& local);

// collective: reads the header, verifies version and checksum (rank 0 reads the whole file once;
// the verdict is agreed), then each rank reads its block of BlockPartition(p, comm.size()).
// Errors name the file: not a model, truncated, checksum mismatch, newer version.
LocalModel load_model(const mpi::Communicator& comm, const std::string& path);

// local: the header alone (for `kmpi info`).
ModelHeader read_model_header(const std::string& path);

}  // namespace kmpi
