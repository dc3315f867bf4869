// Tables held in memory (a pandas DataFrame handed over by the Python binding): the columns
// become a table scan, cell by cell through the CSV parser's own table functions, and are
// encoded by table_encoding.cpp, so a DataFrame and a CSV of the same table encode alike.
#include <charconv>
#include <cmath>
#include <functional>

#include "io/table_encoding.hpp"

namespace kmpi::detail {
namespace {

std::string number_text(double v) {
  char buffer[64];
  const auto r = std::to_chars(buffer, buffer + sizeof buffer, v);
  return std::string(buffer, r.ptr);
}

// local: the column's cell i appended to the chunk; the error detail, or "".
std::string add_cell(text::TextChunk& chunk, const text::TextLayout& layout, std::size_t j,
                     const MemoryColumn& col, std::size_t i) {
  if (!col.fields) {
    const double v = col.numbers[i];
    if (std::isnan(v)) {  // pandas' missing value in a numeric column
      text::add_table_missing(chunk, true, j);
      return {};
    }
    return text::add_table_number(chunk, layout, true, j, v, col.integer, number_text(v));
  }
  if (col.none[i]) {
    text::add_table_missing(chunk, true, j);
    return {};
  }
  return text::add_table_field(chunk, layout, true, j, col.texts[i]);
}

// local: the first inconsistency of the columns (lengths, names), or "".
std::string check_columns(const std::string& name, const std::vector<MemoryColumn>& columns,
                          std::size_t rows) {
  for (std::size_t j = 0; j < columns.size(); ++j) {
    const MemoryColumn& c = columns[j];
    const std::size_t n = c.fields ? c.texts.size() : c.numbers.size();
    if (n != rows || (c.fields && c.none.size() != rows))
      return name + ": column '" + c.name + "' has " + std::to_string(n) + " rows, column '" +
             columns[0].name + "' " + std::to_string(rows);
    for (std::size_t k = 0; k < j; ++k)
      if (columns[k].name == c.name) return name + ": two columns are named '" + c.name + "'";
  }
  return {};
}

// collective: this rank's table as a scan (every cell kept), errors agreed.
TextScan memory_scan(const mpi::Communicator& comm, const std::string& name,
                     const std::vector<MemoryColumn>& columns, std::size_t label,
                     const ReadOptions& options) {
  TextScan scan;
  text::TextLayout& layout = scan.layout;
  layout.header = layout.table = layout.in_memory = true;
  layout.columns = columns.size();
  layout.label_column = label;
  layout.allow_nonfinite = options.allow_nonfinite;
  layout.missing_values =
      options.encoding != nullptr ? options.encoding->missing_values : options.missing_values;
  std::string names;
  for (const MemoryColumn& c : columns) {
    layout.names.push_back(c.name);
    names += c.name + '\0';
  }
  const std::size_t rows =
      columns.empty() ? 0 : (columns[0].fields ? columns[0].texts.size() : columns[0].numbers.size());
  std::string failure = columns.empty() ? name + ": a table without columns"
                                        : check_columns(name, columns, rows);
  // Fitting: every rank must hand over the same columns in the same order (the kinds are agreed
  // by column index). Applying an encoding finds the columns by name on each rank.
  if (options.encoding == nullptr || label != text::kNone) {
    const std::uint64_t hash = std::hash<std::string>{}(names);
    const std::vector<std::uint64_t> hashes = comm.allgather(&hash, 1);
    for (std::size_t r = 0; r < hashes.size() && failure.empty(); ++r)
      if (hashes[r] != hashes[0])
        failure = name + ": the ranks hold different columns (rank " + std::to_string(r) +
                  "'s names or their order differ from rank 0's)";
  }
  mpi::agree(comm, failure.empty(), failure);

  text::TextChunk& chunk = scan.chunk;
  chunk.seen.assign(columns.size(), 0);
  for (std::size_t i = 0; i < rows && failure.empty(); ++i) {
    for (std::size_t j = 0; j < columns.size() && failure.empty(); ++j) {
      const std::string detail = add_cell(chunk, layout, j, columns[j], i);
      if (!detail.empty())
        failure = name + ": row " + std::to_string(i) + " (0-based), column '" + columns[j].name +
                  "': " + detail;
    }
    chunk.row_lines.push_back(i);
  }
  mpi::agree(comm, failure.empty(), failure);
  chunk.rows = chunk.lines = rows;
  scan.info.format = FileFormat::kCsv;
  scan.info.rows = comm.allreduce_value(rows);
  scan.info.cols = layout.feature_columns();
  return scan;
}

}  // namespace

MemoryTable encode_memory_table(const mpi::Communicator& comm, const std::string& name,
                                const std::vector<MemoryColumn>& columns, std::size_t label,
                                const ReadOptions& options,
                                const RowSubset& selection) {
  const std::string path = comm.size() > 1 ? name + " (rank " + std::to_string(comm.rank()) + ")"
                                           : name;
  TextScan scan = memory_scan(comm, path, columns, label, options);
  const std::size_t mine = scan.chunk.rows;
  const std::vector<std::size_t> counts = comm.allgather(&mine, 1);
  for (int r = 0; r < comm.rank(); ++r) scan.row_offset += counts[static_cast<std::size_t>(r)];
  MemoryTable out;
  TextScan encoded;
  if (options.encoding == nullptr && !selection.all()) {
    // Fitted on the selected rows, as `kmpi train` fits on its training rows; then every row
    // encoded with it, as `kmpi train` reads its validation rows.
    encode_table_scan(comm, path, scan, selection, options, out.info);
    ReadOptions apply = options;
    apply.encoding = &out.info.fitted;
    EncodedTable applied;
    encoded = encode_table_scan(comm, path, scan, {}, apply, applied);
  } else {
    encoded = encode_table_scan(comm, path, scan, {}, options, out.info);
  }
  const std::size_t rows = scan.chunk.rows, d = encoded.info.cols;
  out.features = Matrix<double>(rows, d);
  std::copy(encoded.chunk.values.begin(), encoded.chunk.values.begin() + rows * d,
            out.features.data());
  if (out.info.labeled) {
    out.labels = Matrix<double>(rows, 1);
    std::copy(encoded.chunk.labels.begin(), encoded.chunk.labels.begin() + rows,
              out.labels.data());
  }
  return out;
}

}  // namespace kmpi::detail
