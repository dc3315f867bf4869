// Reading data sets in parallel: each rank reads only the rows it owns (DESIGN §4).
//
// A reader first probes a file (shape and element type from its header, or by scanning text),
// then reads a sorted list of global rows into a local block. Formats: IDX (gzip or raw, the
// MNIST family), .npy (C order; float32, float64, uint8, int32, int64), CSV (numeric, optional
// header, optional label column) and LIBSVM/SVMlight (sparse `label idx:val ...`, densified).
// Text formats are split across ranks by byte ranges aligned to line starts, so each rank parses
// only its part of the file (see text_formats.hpp). Every error names the file and, where it
// applies, the line or row.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/partition.hpp"

namespace kmpi {


enum class FileFormat { kIdx, kNpy, kCsv, kLibsvm, kHdf5 };

// Whether a CSV file starts with a header line (data.header).
enum class HeaderMode { kAuto, kYes, kNo };

// How a CSV/TSV table with a header becomes numeric rows (issue 27; src/io/table_encoding.cpp),
// fitted on the training rows and stored in the model so that predict and eval encode a table of
// the same columns (found by name, in any order) alike at any rank count. Encoded columns, in the
// order of `columns`: a numeric column gives its value (missing: `fill`, the training mean) and,
// with `indicator`, a second column that is 1 where the value was missing; a categorical column
// gives one 0/1 column per training category (missing or unseen: all zeros).
struct TableColumn {
  std::string name;
  bool categorical = false;
  std::vector<std::string> categories;  // sorted, unique
  double fill = 0;                      // numeric: imputed for a missing value
  bool indicator = false;               // numeric: a missing-indicator column follows
  // numeric, data.numeric_transform = quantile: the knots of its normal-score map (sorted; empty =
  // the value as it is); a missing value then takes `fill` = 0, the median's score.
  std::vector<double> quantiles;
};

struct TableEncoding {
  std::vector<TableColumn> columns;         // the feature columns, in the training file's order
  std::vector<std::string> missing_values;  // the tokens that meant "missing" in training
  std::string label_name;                   // the label column's name ("" when none)
  std::vector<std::string> classes;         // text labels: class names, sorted; index = class
  bool empty() const { return columns.empty(); }
  // local: d of the encoded rows, and a name for each encoded column ("col", "col=cat",
  // "col:missing").
  std::size_t dimension() const;
  std::vector<std::string> encoded_names() const;
};

// How to read a data file; built from the data.* options by read_options()
// (driver/data_options.hpp).
struct ReadOptions {
  std::string format = "auto";  // data.format: auto (from the name) | npy | csv | libsvm | idx | hdf5
  HeaderMode header = HeaderMode::kAuto;
  // Read the targets from the features file itself: the CSV column `label_column` (last | first |
  // a 1-based number | a header name) or the LIBSVM label. Off: every CSV column is a feature.
  bool embedded_labels = false;
  std::string label_column = "last";
  bool allow_nonfinite = false;  // data.allow_nonfinite: accept NaN/Inf values
  std::size_t dimension = 0;     // LIBSVM d (0: the largest index in the file)
  // Tables (a CSV with a header line): `fit_table` (training) reads one as a table, fits a
  // TableEncoding on the selected rows (LocalData::table) and encodes them; `encoding` (predict,
  // eval, validation and test rows) encodes the table with a trained encoding, columns by name.
  // Neither: the numeric CSV reader.
  bool fit_table = false;
  const TableEncoding* encoding = nullptr;
  // Validation rows: a class the training rows lack (a name not among the encoding's classes)
  // reads as label -1, which scores as a miss, instead of an error (eval and test rows: error).
  bool unseen_classes_miss = false;
  std::string categorical = "auto";  // data.categorical: auto | none | name,name,...
  // Under data.categorical = auto, also categorical whatever their values (a pandas column of
  // dtype category, from Python).
  std::vector<std::string> categorical_also;
  std::vector<std::string> missing_values{"", "NA", "NaN", "?"};  // data.missing_values
  bool missing_error = false;       // data.missing = error: refuse missing values
  bool missing_indicators = false;  // data.missing_indicators
  bool quantile_transform = false;  // data.numeric_transform = quantile (fitting a table only)
  // Optional: called as binary rows are read, with the file and this rank's bytes read of its
  // bytes to read (a progress line for large files; every rank calls it, rank 0 prints).
  std::function<void(const std::string& path, double done, double total)> progress;
};

// local: whether a features file of this format carries its own labels when no labels file is
// given (LIBSVM always; CSV through its label column).
bool format_has_labels(FileFormat format);

// local: the format of `path` under `options` (data.format wins over the name).
FileFormat resolve_format(const std::string& path, const ReadOptions& options);

// What the element type says about the task: integers are class labels, floats are targets.
enum class ElementKind { kInteger, kFloating };

struct FileInfo {
  FileFormat format = FileFormat::kNpy;
  std::size_t rows = 0;  // first dimension
  std::size_t cols = 0;  // product of the remaining dimensions (1 for a 1-D array)
  ElementKind element = ElementKind::kFloating;
  std::size_t label_cols = 0;  // 1 when the labels come from the file itself (embedded_labels)
  ElementKind label_element = ElementKind::kFloating;
};

// local: the format from the file name (.idx / -ubyte / .gz -> IDX, .npy, .csv / .tsv / .txt,
// .svm / .libsvm / .svmlight, file.h5:/dataset).
// Throws kmpi::Error naming the file when it cannot tell.
FileFormat format_from_path(const std::string& path);

// local: reads the header (or, for CSV, scans the file) and returns its shape. Throws kmpi::Error
// naming the file for: missing, unreadable or a directory, empty, wrong magic/version, a header
// whose sizes the file cannot hold (truncated), absurd sizes (refused before allocating).
FileInfo probe_file(const std::string& path, const ReadOptions& options = {});

// local: reads the global rows `rows` (sorted ascending, each < info.rows) of the file into a
// (rows.size() x info.cols) matrix of doubles. NaN/Inf values are rejected with the row named.
// With options.embedded_labels, `labels` (if not null) receives the rows' labels.
Matrix<double> read_rows(const std::string& path, const FileInfo& info,
                         const std::vector<std::size_t>& rows, const ReadOptions& options = {},
                         Matrix<double>* labels = nullptr);

// Which rows of a data set to read, described so that each rank decides for the rows it reads
// alone: no rank needs a list of the n rows (per-rank memory O(n/P), DESIGN §4). The default
// keeps every row; a sorted list (strictly ascending global rows, checked by the readers) keeps
// those rows, an empty list every row (as the readers always took it); RowSubset::where(keep)
// keeps the rows i with keep(i), which must be the same function of i on every rank (e.g. a
// counter permutation's test, driver's choose_rows).
class RowSubset {
 public:
  RowSubset() = default;
  RowSubset(std::vector<std::size_t> rows)  // NOLINT: implicit, a list reads as before
      : list_(rows.empty() ? nullptr
                           : std::make_shared<const std::vector<std::size_t>>(std::move(rows))) {}
  RowSubset(std::initializer_list<std::size_t> rows) : RowSubset(std::vector<std::size_t>(rows)) {}
  static RowSubset where(std::function<bool(std::size_t)> keep) {
    RowSubset s;
    s.keep_ = std::move(keep);
    return s;
  }
  // Every row (the default).
  bool all() const { return !list_ && !keep_; }
  // The list, when the subset is one (nullptr otherwise).
  const std::vector<std::size_t>* list() const { return list_.get(); }
  // local: whether global row i is kept (a list: binary search).
  bool contains(std::size_t i) const {
    if (keep_) return keep_(i);
    return !list_ || std::binary_search(list_->begin(), list_->end(), i);
  }

 private:
  std::shared_ptr<const std::vector<std::size_t>> list_;
  std::function<bool(std::size_t)> keep_;
};

// The local part of a data set: this rank's rows of the features and (optionally) the targets.
struct LocalData {
  BlockPartition partition;   // of the selected rows over ranks
  Matrix<double> features;    // partition.count(rank) x d
  Matrix<double> targets;     // partition.count(rank) x t (t = 1 for labels), may be empty
  std::size_t dimension = 0;  // d, agreed on by all ranks
  ElementKind target_kind = ElementKind::kFloating;
  // Where each local row came from: its 0-based row in the file and, for text files, its
  // 1-based line (0 for binary files); for error messages.
  std::vector<std::size_t> source_rows, source_lines;
  // A training table read with fit_table: its encoding; empty when the table needed none (every
  // column numeric, no value missing, numeric labels), which reads exactly like a numeric CSV.
  TableEncoding table;

  // local: "line 17" or "row 15" for local row i.
  std::string where(std::size_t i) const;
};

// collective: reads features (and labels if `labels_path` is non-empty, or from the features file
// itself with options.embedded_labels) so that every rank ends with its block of the rows
// `selection` keeps (the same on every rank; the default: all rows), in file order, under
// BlockPartition(kept, P). Ranks agree on n, d and every error (one CollectiveError). Text files
// are parsed in byte ranges, one per rank, and the kept rows sent to their owners; binary files
// are read row by row, each rank finding its rows by testing its block of the file.
LocalData read_distributed(const mpi::Communicator& comm, const std::string& features_path,
                           const std::string& labels_path, const RowSubset& selection = {},
                           const ReadOptions& options = {});

// collective: n and d of a file, agreed on all ranks (binary: probe on every rank; text: every
// rank scans its byte range and the counts are combined). Errors are agreed.
FileInfo probe_distributed(const mpi::Communicator& comm, const std::string& path,
                           const ReadOptions& options = {});

// collective: writes this rank's block `local` (rows partition.begin(rank) ... of a
// partition.size() x local.cols() matrix) as a float64 (or int64) .npy file (1-D if one column): rank 0 writes the header,
// every rank its rows at their offset, into a temporary name renamed into place once all
// succeeded. A failure leaves no file behind.
void write_npy_distributed(const mpi::Communicator& comm, const std::string& path,
                           const BlockPartition& partition, const Matrix<double>& local,
                           bool as_int64 = false);

}  // namespace kmpi
