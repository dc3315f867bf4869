// Reading data sets in parallel: each rank reads only the rows it owns (DESIGN §4).
//
// A reader first probes a file (shape and element type from its header, or by scanning text),
// then reads a sorted list of global rows into a local block. Formats: IDX (gzip or raw, the
// MNIST family), .npy (C order; float32, float64, uint8, int32, int64), CSV (numeric, optional
// header). Every error names the file and, where it applies, the line or row.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/partition.hpp"

namespace kmpi {

enum class FileFormat { kIdx, kNpy, kCsv };

// What the element type says about the task: integers are class labels, floats are targets.
enum class ElementKind { kInteger, kFloating };

struct FileInfo {
  FileFormat format = FileFormat::kNpy;
  std::size_t rows = 0;  // first dimension
  std::size_t cols = 0;  // product of the remaining dimensions (1 for a 1-D array)
  ElementKind element = ElementKind::kFloating;
};

// local: the format from the file name (.idx / -ubyte / .gz -> IDX, .npy, .csv / .txt).
// Throws kmpi::Error naming the file when it cannot tell.
FileFormat format_from_path(const std::string& path);

// local: reads the header (or, for CSV, scans the file) and returns its shape. Throws kmpi::Error
// naming the file for: missing, unreadable or a directory, empty, wrong magic/version, a header
// whose sizes the file cannot hold (truncated), absurd sizes (refused before allocating).
FileInfo probe_file(const std::string& path);

// local: reads the global rows `rows` (sorted ascending, each < info.rows) of the file into a
// (rows.size() x info.cols) matrix of doubles. NaN/Inf values are rejected with the row named.
Matrix<double> read_rows(const std::string& path, const FileInfo& info,
                         const std::vector<std::size_t>& rows);

// The local part of a data set: this rank's rows of the features and (optionally) the targets.
struct LocalData {
  BlockPartition partition;   // of the selected rows over ranks
  Matrix<double> features;    // partition.count(rank) x d
  Matrix<double> targets;     // partition.count(rank) x t (t = 1 for labels), may be empty
  std::size_t dimension = 0;  // d, agreed on by all ranks
  ElementKind target_kind = ElementKind::kFloating;
};

// collective: reads features (and labels if `labels_path` is non-empty) so that every rank ends
// with its block of the rows `selection` (sorted global row indices, the same on every rank; an
// empty selection means all rows). Ranks agree on n, d and every error (one CollectiveError).
LocalData read_distributed(const mpi::Communicator& comm, const std::string& features_path,
                           const std::string& labels_path,
                           const std::vector<std::size_t>& selection = {});

// collective: n of a features file, agreed on all ranks (probe on every rank, agree on errors).
FileInfo probe_distributed(const mpi::Communicator& comm, const std::string& path);

}  // namespace kmpi
