// Reading data sets (DESIGN §4): the format of a file, the local probe and row reader that
// dispatch to the binary readers (src/io/idx.cpp, src/io/npy.cpp), HDF5 (hdf5_reader.cpp) and
// the text parser (text_formats.cpp, src/io/text_distributed.cpp), and read_distributed, which
// gives every rank its block of the selected rows. Every message starts with the path so that
// rank 0 can print one line that says which file is wrong.
#include "kmpi/data.hpp"

#include <cctype>
#include <cstdint>
#include <utility>

#include "kmpi/error.hpp"
#include "io/hdf5_reader.hpp"
#include "io/binary_formats.hpp"
#include "io/table_encoding.hpp"
#include "io/text_distributed.hpp"
#include "io/posix_file.hpp"
#include "io/row_subset.hpp"

namespace kmpi {

namespace {

using detail::BinaryLayout;
using detail::check_text_shape;
using detail::chunk_row;
using detail::distribute_text;
using detail::fail;
using detail::GzipFile;
using detail::idx_layout;
using detail::is_text;
using detail::npy_layout;
using detail::parse_text_file;
using detail::PosixFile;
using detail::scan_text_distributed;
using detail::text_info;
using detail::TextScan;

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void check_rows(const std::string& path, const FileInfo& info,
                const std::vector<std::size_t>& rows) {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] >= info.rows)
      fail(path, "row " + std::to_string(rows[i]) + " requested but the file has " +
                     std::to_string(info.rows) + " rows");
    if (i > 0 && rows[i] < rows[i - 1])
      fail(path, "internal error: rows to read must be sorted ascending");
  }
}

void check_unchanged(const std::string& path, const FileInfo& info, std::size_t rows,
                     std::size_t cols) {
  if (rows != info.rows || cols != info.cols)
    fail(path, "the file changed since it was probed (" + std::to_string(info.rows) + "x" +
                   std::to_string(info.cols) + ", now " + std::to_string(rows) + "x" +
                   std::to_string(cols) + ")");
}

FileInfo info_of(FileFormat format, const BinaryLayout& layout) {
  FileInfo info;
  info.format = format;
  info.rows = layout.rows;
  info.cols = layout.cols;
  info.element = layout.type.floating() ? ElementKind::kFloating : ElementKind::kInteger;
  return info;
}

// All ranks must see the same shape; a file replaced between two ranks' probes would otherwise
// make them read inconsistent rows.
void agree_on_shape(const mpi::Communicator& comm, const std::string& path, const FileInfo& info) {
  unsigned long long lo[2] = {info.rows, info.cols}, hi[2] = {info.rows, info.cols};
  comm.allreduce(lo, 2, mpi::Op::kMin);
  comm.allreduce(hi, 2, mpi::Op::kMax);
  mpi::agree(comm, lo[0] == hi[0] && lo[1] == hi[1],
             path + ": ranks see different shapes (" + std::to_string(lo[0]) + "x" +
                 std::to_string(lo[1]) + " and " + std::to_string(hi[0]) + "x" +
                 std::to_string(hi[1]) + "); was the file changing?");
}

// Checks on agreed values, so every rank reaches the same verdict: as many labels as feature
// rows, and a given list of rows strictly ascending inside the file.
void check_selection(const mpi::Communicator& comm, const std::string& features_path,
                     const FileInfo& features_info, const std::string& labels_path,
                     const FileInfo* labels_info, const RowSubset& selection) {
  mpi::agree_on(comm, [&] {
    if (labels_info != nullptr && labels_info->rows != features_info.rows)
      throw Error(labels_path + ": " + std::to_string(labels_info->rows) + " labels for " +
                  std::to_string(features_info.rows) + " rows of features in " + features_path +
                  "; the two files must have the same number of rows");
    const std::vector<std::size_t>* list = selection.list();
    for (std::size_t i = 0; list != nullptr && i < list->size(); ++i) {
      if ((*list)[i] >= features_info.rows)
        throw Error(features_path + ": selected row " + std::to_string((*list)[i]) +
                    " but the file has " + std::to_string(features_info.rows) + " rows");
      if (i > 0 && (*list)[i] <= (*list)[i - 1])
        throw Error(features_path + ": the row selection must be strictly ascending");
    }
  });
}

// Agreed: a row for every rank (`n` rows selected).
void check_rows_per_rank(const mpi::Communicator& comm, const std::string& features_path,
                         std::size_t n) {
  mpi::agree(comm, n >= static_cast<std::size_t>(comm.size()),
             features_path + ": " + std::to_string(n) + " rows selected for " +
                 std::to_string(comm.size()) + " ranks; every rank needs at least one row");
}

// The binary rows through the stream the file needs (gzip IDX is read forward only).
void read_binary_file_rows(const std::string& path, const FileInfo& info,
                           const std::vector<std::size_t>& rows, const ReadOptions& options,
                           Matrix<double>& out) {
  const bool allow_nonfinite = options.allow_nonfinite;
  detail::ReadProgress progress;
  if (options.progress)
    progress = [&](double done, double total) { options.progress(path, done, total); };
  const BinaryLayout layout = info.format == FileFormat::kIdx ? idx_layout(path) : npy_layout(path);
  check_unchanged(path, info, layout.rows, layout.cols);
  if (layout.gzip) {
    GzipFile gz(path);
    detail::read_binary_rows(path, gz, layout, rows, out, allow_nonfinite, progress);
  } else {
    PosixFile file(path);
    detail::read_binary_rows(path, file, layout, rows, out, allow_nonfinite, progress);
  }
}

// The text rows: the whole file parsed on this rank, the requested rows densified.
void read_text_file_rows(const std::string& path, const FileInfo& info,
                         const std::vector<std::size_t>& rows, const ReadOptions& options,
                         Matrix<double>& out, Matrix<double>* labels) {
  text::TextLayout layout;
  ReadOptions o = options;
  if (info.format == FileFormat::kLibsvm && o.dimension == 0) o.dimension = info.cols;
  const text::TextChunk chunk = parse_text_file(path, info.format, o, true, layout);
  const FileInfo now = text_info(layout, chunk.rows, chunk.max_index, true, true);
  check_unchanged(path, info, chunk.rows, now.cols);
  if (labels != nullptr && info.label_cols > 0) labels->resize(rows.size(), 1);
  for (std::size_t i = 0; i < rows.size(); ++i)
    chunk_row(chunk, info.format, rows[i], info.cols, out.row(i),
              labels != nullptr && info.label_cols > 0 ? labels->row(i) : nullptr);
}

}  // namespace

FileFormat format_from_path(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  const std::string name = lower(slash == std::string::npos ? path : path.substr(slash + 1));
  if (hdf5::is_hdf5_path(path)) return FileFormat::kHdf5;
  if (ends_with(name, ".npy")) return FileFormat::kNpy;
  if (ends_with(name, ".csv") || ends_with(name, ".tsv") || ends_with(name, ".txt"))
    return FileFormat::kCsv;
  if (ends_with(name, ".svm") || ends_with(name, ".libsvm") || ends_with(name, ".svmlight") ||
      ends_with(name, ".scale"))
    return FileFormat::kLibsvm;
  const std::string stem = ends_with(name, ".gz") ? name.substr(0, name.size() - 3) : name;
  if (stem.find("idx") != std::string::npos || stem.find("-ubyte") != std::string::npos ||
      ends_with(stem, ".ubyte"))
    return FileFormat::kIdx;
  fail(path,
       "cannot tell the data format from the name (expected .npy, .csv/.tsv/.txt, "
       ".svm/.libsvm/.svmlight, file.h5:/dataset, or an IDX name such as "
       "train-images-idx3-ubyte[.gz]); "
       "data.format names it");
}

FileFormat resolve_format(const std::string& path, const ReadOptions& options) {
  if (options.format == "npy") return FileFormat::kNpy;
  if (options.format == "csv") return FileFormat::kCsv;
  if (options.format == "libsvm") return FileFormat::kLibsvm;
  if (options.format == "idx") return FileFormat::kIdx;
  if (options.format == "hdf5") return FileFormat::kHdf5;
  return format_from_path(path);
}

bool format_has_labels(FileFormat format) {
  return format == FileFormat::kCsv || format == FileFormat::kLibsvm;
}

std::string LocalData::where(std::size_t i) const {
  if (i < source_lines.size() && source_lines[i] > 0)
    return "line " + std::to_string(source_lines[i]);
  if (i < source_rows.size()) return "row " + std::to_string(source_rows[i]);
  return "local row " + std::to_string(i);
}

FileInfo probe_file(const std::string& path, const ReadOptions& options) {
  const FileFormat format = resolve_format(path, options);
  switch (format) {
    case FileFormat::kIdx:
      return info_of(FileFormat::kIdx, idx_layout(path));
    case FileFormat::kNpy:
      return info_of(FileFormat::kNpy, npy_layout(path));
    case FileFormat::kHdf5:
      return hdf5::probe(path);
    case FileFormat::kCsv:
    case FileFormat::kLibsvm: {
      text::TextLayout layout;
      const text::TextChunk chunk = parse_text_file(path, format, options, false, layout);
      const FileInfo info = text_info(layout, chunk.rows, chunk.max_index, chunk.labels_integer,
                                      chunk.features_integer);
      check_text_shape(path, info);
      return info;
    }
  }
  fail(path, "unknown format");
}

Matrix<double> read_rows(const std::string& path, const FileInfo& info,
                         const std::vector<std::size_t>& rows, const ReadOptions& options,
                         Matrix<double>* labels) {
  check_rows(path, info, rows);
  Matrix<double> out(rows.size(), info.cols);
  if (rows.empty()) return out;
  switch (info.format) {
    case FileFormat::kIdx:
    case FileFormat::kNpy:
      read_binary_file_rows(path, info, rows, options, out);
      break;
    case FileFormat::kHdf5:
      out = hdf5::read_rows(path, info, rows, options.allow_nonfinite);
      break;
    case FileFormat::kCsv:
    case FileFormat::kLibsvm:
      read_text_file_rows(path, info, rows, options, out, labels);
      break;
  }
  return out;
}

FileInfo probe_distributed(const mpi::Communicator& comm, const std::string& path,
                           const ReadOptions& options) {
  FileFormat format = FileFormat::kNpy;
  mpi::agree_on(comm, [&] { format = resolve_format(path, options); });
  if (is_text(format)) return scan_text_distributed(comm, path, format, options, false).info;
  FileInfo info;
  mpi::agree_on(comm, [&] { info = probe_file(path, options); });
  agree_on_shape(comm, path, info);
  return info;
}

namespace {

// collective: class names in a CSV labels file next to a table, read whole by every rank
// (table_labels.cpp); `text` is false for numbers, which go the numeric way.
detail::LabelNames class_names(const mpi::Communicator& comm, const std::string& labels_path,
                               FileFormat features_format, const ReadOptions& feature_options,
                               const ReadOptions& label_options) {
  const bool table_read = feature_options.fit_table || feature_options.encoding != nullptr;
  if (!table_read || !is_text(features_format)) return {};
  FileFormat labels_format = FileFormat::kNpy;
  mpi::agree_on(comm, [&] { labels_format = resolve_format(labels_path, label_options); });
  if (labels_format != FileFormat::kCsv) return {};
  return detail::read_label_names(comm, labels_path);
}

}  // namespace

LocalData read_distributed(const mpi::Communicator& comm, const std::string& features_path,
                           const std::string& labels_path,
                           const RowSubset& selection, const ReadOptions& options) {
  const bool with_labels = !labels_path.empty();
  ReadOptions feature_options = options;
  feature_options.embedded_labels = options.embedded_labels && !with_labels;
  if (feature_options.encoding != nullptr) {
    // A trained table's labels are its label column, found by name like its features; its
    // missing values are the tokens that were missing in training.
    feature_options.label_column = feature_options.encoding->label_name;
    feature_options.missing_values = feature_options.encoding->missing_values;
    if (feature_options.label_column.empty()) feature_options.embedded_labels = false;
  }
  // A labels file is read by its own name (data.format describes the features file).
  ReadOptions label_options;
  label_options.allow_nonfinite = options.allow_nonfinite;

  FileFormat format = FileFormat::kNpy;
  mpi::agree_on(comm, [&] { format = resolve_format(features_path, feature_options); });
  FileInfo labels_info;
  const detail::LabelNames names =
      with_labels ? class_names(comm, labels_path, format, feature_options, label_options)
                  : detail::LabelNames();
  if (with_labels && !names.text) labels_info = probe_distributed(comm, labels_path, label_options);

  // Text: one parse that keeps the values; binary: the header only.
  TextScan scan;
  FileInfo features_info;
  if (is_text(format)) {
    scan = scan_text_distributed(comm, features_path, format, feature_options, true);
    features_info = scan.info;
  } else {
    mpi::agree_on(comm, [&] { features_info = probe_file(features_path, feature_options); });
    agree_on_shape(comm, features_path, features_info);
  }
  // Fitting a quantile map needs a table's numeric columns (a trained encoding brings its own).
  mpi::agree(comm,
             !(options.quantile_transform && options.fit_table && options.encoding == nullptr) ||
                 scan.layout.table,
             features_path + ": data.numeric_transform = quantile needs a table (a CSV/TSV with "
                             "a header line, or a DataFrame); this file is not one");
  if (names.text) {
    mpi::agree(comm, scan.layout.table,
               labels_path + ": the labels are names (classes), which a labels file can give "
               "only for a table (a CSV features file with a header line)");
    const std::size_t lines = names.fields.size();
    labels_info.rows = lines == features_info.rows + 1 ? features_info.rows : lines;
  }
  check_selection(comm, features_path, features_info, labels_path,
                  with_labels ? &labels_info : nullptr, selection);

  LocalData local;
  local.dimension = features_info.cols;
  if (is_text(format)) {
    // Each rank tests the rows of its byte range; distribute_text sends them to their owners.
    const detail::LocalSubset kept = detail::local_subset(
        comm, selection, scan.row_offset, scan.row_offset + scan.chunk.rows);
    check_rows_per_rank(comm, features_path, kept.total);
    local.partition = BlockPartition(kept.total, comm.size());
    if (scan.layout.table) {
      // A table's encoding is kept even when it changes nothing (all columns numeric, nothing
      // missing): its column names let predict find the columns by name and leave out the label.
      detail::read_table(comm, features_path, scan, selection, feature_options, local,
                         /*keep_trivial=*/true);
    } else {
      distribute_text(comm, features_path, scan, kept, local);
      if (features_info.label_cols > 0) local.target_kind = features_info.label_element;
    }
    scan = TextScan();
  } else {
    std::size_t n = 0;
    local.source_rows = detail::rows_of_rank(comm, selection, features_info.rows, n);
    check_rows_per_rank(comm, features_path, n);
    local.partition = BlockPartition(n, comm.size());
    mpi::agree_on(comm, [&] {
      local.features = read_rows(features_path, features_info, local.source_rows, feature_options);
    });
  }
  if (names.text) {
    detail::label_names_to_rows(comm, labels_path, names, features_info.rows, selection,
                                feature_options, local);
  } else if (with_labels) {
    // Through the same path, so a CSV labels file is split by byte ranges too.
    LocalData labels = read_distributed(comm, labels_path, "", selection, label_options);
    local.targets = std::move(labels.features);
    local.target_kind = labels_info.element;
  }
  return local;
}

}  // namespace kmpi
