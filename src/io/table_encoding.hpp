// Internal: tables (a CSV/TSV with a header, read in table mode) to numeric rows, for data.cpp.
// Training fits a TableEncoding on its selected rows: the column kinds (a column with a field
// that is neither a number nor a missing value is categorical under data.categorical = auto),
// each categorical column's categories (every rank's set of its rows, merged and sorted, the same
// on every rank whatever the byte ranges), the numeric columns' training means (imputed for
// missing values) and the text labels' class names. Predict, eval and validation rows are
// encoded with a trained encoding, its columns found by name.
#pragma once

#include <string>
#include <vector>

#include "io/text_distributed.hpp"
#include "kmpi/data.hpp"
#include "kmpi/mpi.hpp"

namespace kmpi::detail {

// collective: encodes the selected rows of a table scan (scan.layout.table, values kept) and
// sends them to their owners under local.partition: fits the encoding when options.encoding is
// null (local.table gets it unless it is trivial), else applies *options.encoding. Fills local's
// features, targets (label column), target_kind, dimension and source_lines. Errors are agreed
// and name the file, the line and the column.
// `keep_trivial`: local.table gets a fitted encoding even when it changes nothing (class names
// from a labels file are stored in it).
void read_table(const mpi::Communicator& comm, const std::string& path, const TextScan& scan,
                const RowSubset& selection, const ReadOptions& options,
                LocalData& local, bool keep_trivial = false);

// A labels file's non-blank lines (table_labels.cpp), read whole on every rank.
struct LabelNames {
  std::vector<std::string> fields;  // quotes undone
  std::vector<std::size_t> lines;   // their 1-based line numbers
  bool text = false;                // a field after the first is not a number: class names
};

// collective: the lines of the labels file `path`; none (text false) when it cannot be opened or
// a line holds several fields (regression targets): the numeric reader then reads or refuses it.
LabelNames read_label_names(const mpi::Communicator& comm, const std::string& path);

// collective: class names of a labels file (names.text) as local.targets (class indices) for the
// rows local.source_rows of a table of `rows` rows: `names` holds one name per row, after an
// optional header line (one line more than rows: the label column's name). Training
// (options.encoding null): the classes are the sorted names of the selected rows, stored with the
// header's name in local.table; else the encoding's classes (an unseen name is an error). Errors
// are agreed and name the file and the line.
void label_names_to_rows(const mpi::Communicator& comm, const std::string& path,
                         const LabelNames& names, std::size_t rows,
                         const RowSubset& selection, const ReadOptions& options,
                         LocalData& local);

// What encode_table_scan made of a table besides its rows.
struct EncodedTable {
  TableEncoding fitted;  // fitted (options.encoding null): the encoding
  bool trivial = false;  // fitted: it changes nothing (numeric columns, none missing, numeric labels)
  bool labeled = false;  // the scan has a label column; then target_kind says what it holds
  ElementKind target_kind = ElementKind::kFloating;
};

// collective: read_table's encoding without the sending: the selected rows of `scan` (this
// rank's chunk) as a numeric scan (layout.table off; features then the label, if any, last).
TextScan encode_table_scan(const mpi::Communicator& comm, const std::string& path,
                           const TextScan& scan, const RowSubset& selection,
                           const ReadOptions& options, EncodedTable& out);

// A table column held in memory (a pandas column, from Python): numbers (NaN: missing; `integer`:
// they are integers, as an integer dtype) or fields, each read as the CSV parser reads a field
// of a table (one of the missing-value tokens, a number, or text); none[i]: field i is missing.
struct MemoryColumn {
  std::string name;
  bool fields = false;
  std::vector<double> numbers;
  bool integer = false;
  std::vector<std::string> texts;
  std::vector<unsigned char> none;
};

// This rank's rows of a table in memory, encoded.
struct MemoryTable {
  Matrix<double> features;  // rows x d
  Matrix<double> labels;    // rows x 1 (class indices or values), empty without a label column
  EncodedTable info;
};

// collective: encodes this rank's rows of a table held in memory exactly as read_table encodes a
// CSV of the same table (the cells go through the CSV parser's table functions): fits the
// encoding (options.encoding null; on every rank's rows, agreed) or applies *options.encoding
// (columns by name). `label`: the label column's index, or text::kNone. Fitting, every rank must
// hold the same columns in the same order, and `selection` (of the global rows, rank after rank;
// default: all) keeps the rows the encoding is fitted on (every row is encoded).
// Errors are agreed and name `name`, the row and the column.
MemoryTable encode_memory_table(const mpi::Communicator& comm, const std::string& name,
                                const std::vector<MemoryColumn>& columns, std::size_t label,
                                const ReadOptions& options,
                                const RowSubset& selection = {});

// local: "a,b,c" -> {"a", "b", "c"} (blanks around names trimmed; empty names dropped).
std::vector<std::string> split_names(const std::string& list);

}  // namespace kmpi::detail
