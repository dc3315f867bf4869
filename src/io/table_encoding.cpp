// Tables to numeric rows (table_encoding.hpp): column kinds, categories agreed over ranks,
// imputation, one-hot codes, class names; the encoded rows then travel like any CSV rows
// (distribute_text).
#include "io/table_encoding.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>

#include "io/quantile_map.hpp"
#include "kmpi/error.hpp"
#include "parallel/exact_sum.hpp"
#include "parallel/log.hpp"

namespace kmpi::detail {

namespace {

using text::kCellFraction;
using text::kCellMissing;
using text::kCellNumber;
using text::kCellText;
using text::kNone;

// The cells of a table chunk: a number, a missing value (NaN, not a text cell) or text.
class Cells {
 public:
  Cells(const text::TextChunk& chunk, std::size_t columns) : c_(chunk), m_(columns) {}
  double value(std::size_t i, std::size_t j) const { return c_.values[i * m_ + j]; }
  bool text(std::size_t i, std::size_t j, std::string_view& out) const {
    if (!std::isnan(value(i, j))) return false;
    const std::uint64_t flat = i * m_ + j;
    const auto it = std::lower_bound(c_.text_cells.begin(), c_.text_cells.end(), flat);
    if (it == c_.text_cells.end() || *it != flat) return false;
    const auto k = static_cast<std::size_t>(it - c_.text_cells.begin());
    const std::size_t begin = k == 0 ? 0 : c_.text_end[k - 1];
    out = std::string_view(c_.text).substr(begin, c_.text_end[k] - begin);
    return true;
  }

 private:
  const text::TextChunk& c_;
  std::size_t m_;
};

// A number as a category name, written shortest, so that "1.50" and "1.5" are one category.
std::string number_name(double v) {
  char buffer[64];
  const auto r = std::to_chars(buffer, buffer + sizeof buffer, v);
  return std::string(buffer, r.ptr);
}

bool names_a_number(const std::string& s) {
  double v = 0;
  bool integer = false;
  return text::parse_number(s, v, integer);
}

std::string shown(std::string_view s) {
  return "'" + std::string(s.substr(0, 40)) + (s.size() > 40 ? "...'" : "'");
}

std::string some_of(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t k = 0; k < names.size() && k < 8; ++k) out += (k ? ", " : "") + names[k];
  if (names.size() > 8) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

// The first error of this rank's rows (rows are visited in file order).
struct FirstError {
  bool failed = false;
  std::string message;
  void set(std::string m) {
    if (failed) return;
    failed = true;
    message = std::move(m);
  }
};

// One cell of this rank's chunk, as the encoders look at it.
struct Cell {
  bool text = false, missing = false;
  std::string_view token;
  double value = 0;
  std::string name() const { return text ? std::string(token) : number_name(value); }
};

struct TableView {
  const std::string& path;
  const TextScan& scan;
  Cells cells;
  TableView(const std::string& p, const TextScan& s)
      : path(p), scan(s), cells(s.chunk, s.layout.columns) {}
  Cell at(std::size_t i, std::size_t j) const {
    Cell c;
    c.value = cells.value(i, j);
    c.text = cells.text(i, j, c.token);
    c.missing = std::isnan(c.value) && !c.text;
    return c;
  }
  // "path: line 12, column 3 ('color'): " (in memory: "X: row 11 (0-based), column 'color': ")
  std::string where(std::size_t i, std::size_t j) const {
    if (scan.layout.in_memory)
      return path + ": row " + std::to_string(scan.chunk.row_lines[i]) + " (0-based), column '" +
             scan.layout.names[j] + "': ";
    return path + ": line " + std::to_string(scan.line_offset + scan.chunk.row_lines[i] + 1) +
           ", column " + std::to_string(j + 1) + " ('" + scan.layout.names[j] + "'): ";
  }
  // "the header on line 1" (in memory: "the table")
  std::string header() const {
    return scan.layout.in_memory ? std::string("the table")
                                 : "the header on line " + std::to_string(scan.layout.first_line);
  }
};

// This rank's rows of the selection, as chunk row indices.
std::vector<std::size_t> selected_rows(const TextScan& scan, const RowSubset& selection) {
  const std::size_t lo = scan.row_offset;
  std::vector<std::size_t> rows = kept_rows(selection, lo, lo + scan.chunk.rows);
  for (std::size_t& i : rows) i -= lo;
  return rows;
}

// collective: what the columns held in the whole file (kCell* bits), agreed over ranks.
std::vector<unsigned char> agreed_seen(const mpi::Communicator& comm, const TextScan& scan) {
  const std::size_t m = scan.layout.columns;
  std::vector<int> bits(4 * m, 0);
  for (std::size_t j = 0; j < m && j < scan.chunk.seen.size(); ++j)
    for (int b = 0; b < 4; ++b) bits[4 * j + b] = (scan.chunk.seen[j] >> b) & 1;
  comm.allreduce(bits, mpi::Op::kMax);
  std::vector<unsigned char> seen(m, 0);
  for (std::size_t j = 0; j < m; ++j)
    for (int b = 0; b < 4; ++b)
      if (bits[4 * j + b]) seen[j] = static_cast<unsigned char>(seen[j] | (1 << b));
  return seen;
}

void put_u64(std::string& out, std::uint64_t v) { out.append(reinterpret_cast<char*>(&v), 8); }
std::uint64_t get_u64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// collective: the union over ranks of every column's set of names, the same on every rank.
std::vector<std::set<std::string>> merge_sets(const mpi::Communicator& comm,
                                              const std::vector<std::set<std::string>>& mine) {
  std::string bytes;
  for (const auto& set : mine) {
    put_u64(bytes, set.size());
    for (const std::string& s : set) {
      put_u64(bytes, s.size());
      bytes += s;
    }
  }
  const int size = static_cast<int>(bytes.size());
  const std::vector<int> counts = comm.allgather(&size, 1);
  std::vector<int> displs(counts.size(), 0);
  std::size_t total = 0;
  for (std::size_t r = 0; r < counts.size(); ++r) {
    displs[r] = static_cast<int>(total);
    total += static_cast<std::size_t>(counts[r]);
  }
  std::vector<char> all(total);
  comm.allgatherv(bytes.data(), all.data(), counts, displs);
  std::vector<std::set<std::string>> merged(mine.size());
  for (std::size_t r = 0; r < counts.size(); ++r) {
    const char* p = all.data() + displs[r];
    for (auto& set : merged) {
      const std::uint64_t n = get_u64(p);
      p += 8;
      for (std::uint64_t k = 0; k < n; ++k) {
        const std::uint64_t len = get_u64(p);
        set.emplace(p + 8, static_cast<std::size_t>(len));
        p += 8 + len;
      }
    }
  }
  return merged;
}

// collective: which columns data.categorical makes categorical (auto: those with a text value,
// and categorical_also; none; or the named ones, a name that is no feature column an agreed
// error).
std::vector<bool> categorical_columns(const mpi::Communicator& comm, const TableView& t,
                                      const std::vector<unsigned char>& seen,
                                      const ReadOptions& options) {
  const text::TextLayout& layout = t.scan.layout;
  const std::size_t m = layout.columns, label = layout.label_column;
  const std::string& spec = options.categorical;
  std::vector<bool> categorical(m, false);
  if (spec == "auto") {
    const auto& also = options.categorical_also;
    for (std::size_t j = 0; j < m; ++j)
      categorical[j] =
          j != label && ((seen[j] & kCellText) ||
                         std::find(also.begin(), also.end(), layout.names[j]) != also.end());
  } else if (spec != "none") {
    std::string unknown;
    for (const std::string& name : split_names(spec)) {
      const auto it = std::find(layout.names.begin(), layout.names.end(), name);
      const auto j = static_cast<std::size_t>(it - layout.names.begin());
      if (it != layout.names.end() && j != label)
        categorical[j] = true;
      else if (unknown.empty())
        unknown = t.path + ": data.categorical names '" + name +
                  "', which is not a feature column of " + t.header();
    }
    mpi::agree(comm, unknown.empty(), unknown);
  }
  return categorical;
}

// collective: the encoding of the selected rows (`rows` of this rank's chunk). `trivial` is set
// when it changes nothing (every feature numeric, none missing, numeric labels).
TableEncoding fit_encoding(const mpi::Communicator& comm, const TableView& t,
                           const std::vector<std::size_t>& rows,
                           const std::vector<unsigned char>& seen, const ReadOptions& options,
                           bool& trivial) {
  const text::TextLayout& layout = t.scan.layout;
  const std::size_t m = layout.columns, label = layout.label_column;
  const std::string& spec = options.categorical;
  const std::vector<bool> categorical = categorical_columns(comm, t, seen, options);
  // The verdicts below come from agreed values: one agree each, not one per column.
  std::string empty_column;
  for (std::size_t j = 0; j < m && empty_column.empty(); ++j)
    if ((seen[j] & (kCellNumber | kCellText)) == 0)
      empty_column = t.path + ": column " + std::to_string(j + 1) + " ('" + layout.names[j] +
                     "'): every value is missing (all " + std::to_string(t.scan.info.rows) +
                     " rows); drop the column";
  mpi::agree(comm, empty_column.empty(), empty_column);
  const bool text_labels = label != kNone && (seen[label] & kCellText);

  FirstError error;
  std::vector<std::set<std::string>> sets(m);
  std::vector<double> sums(3 * m, 0.0);  // per column: sum, count, missing count
  // data.numeric_transform = quantile: each numeric column's values in the seeded sample.
  std::vector<std::vector<double>> sampled(m);
  const std::size_t selected = comm.allreduce_value(rows.size());
  const QuantileSample sample(t.scan.info.rows, options.quantile_transform ? selected : 0);
  for (std::size_t i : rows) {
    const bool in_sample = options.quantile_transform && sample.contains(t.scan.row_offset + i);
    for (std::size_t j = 0; j < m; ++j) {
      const Cell c = t.at(i, j);
      if (j == label) {
        if (c.missing) error.set(t.where(i, j) + "the label is missing");
        if (text_labels && !c.missing) sets[j].insert(c.name());
        continue;
      }
      if (c.missing) {
        if (options.missing_error)
          error.set(t.where(i, j) + "missing value " + shown(c.token) +
                    " (data.missing = error refuses them)");
        sums[2 * m + j] += 1;
      } else if (categorical[j]) {
        sets[j].insert(c.name());
      } else if (c.text) {
        error.set(t.where(i, j) + shown(c.token) + " is not a number (data.categorical = " + spec +
                  ")");
      } else {
        sums[j] += c.value;
        sums[m + j] += 1;
        if (in_sample) sampled[j].push_back(c.value);
      }
    }
  }
  mpi::agree(comm, !error.failed, error.message);
  comm.allreduce(sums);
  // The numeric columns' sums again, with the same bits at any rank count (the means are stored
  // in the model as the imputed values; parallel/exact_sum.hpp).
  const std::vector<double> exact = reproducible_sums(
      comm, rows.size(), m, selected, [&](std::size_t r, std::size_t j) {
        if (j == label || categorical[j]) return 0.0;
        const Cell c = t.at(rows[r], j);
        return c.missing || c.text ? 0.0 : c.value;
      });
  for (std::size_t j = 0; j < m; ++j) sums[j] = exact[j];
  const std::vector<std::vector<double>> knots =
      options.quantile_transform ? fit_quantile_knots(comm, sampled)
                                 : std::vector<std::vector<double>>(m);
  const std::vector<std::set<std::string>> merged = merge_sets(comm, sets);

  TableEncoding enc;
  enc.missing_values = options.missing_values;
  if (label != kNone) enc.label_name = layout.names[label];
  if (text_labels) enc.classes.assign(merged[label].begin(), merged[label].end());
  trivial = !text_labels;
  for (std::size_t j = 0; j < m; ++j) {
    if (j == label) continue;
    TableColumn col;
    col.name = layout.names[j];
    col.categorical = categorical[j];
    const bool empty = categorical[j] ? merged[j].empty() : sums[m + j] == 0;
    if (empty && empty_column.empty())
      empty_column = t.path + ": column " + std::to_string(j + 1) + " ('" + col.name +
                     "'): every value of the training rows is missing; drop the column";
    if (col.categorical) {
      col.categories.assign(merged[j].begin(), merged[j].end());
    } else {
      col.fill = sums[j] / sums[m + j];
      col.indicator = options.missing_indicators && sums[2 * m + j] > 0;
      col.quantiles = knots[j];
      if (!col.quantiles.empty()) col.fill = 0.0;  // the median's normal score
    }
    trivial = trivial && !col.categorical && !(seen[j] & kCellMissing) && col.quantiles.empty();
    enc.columns.push_back(std::move(col));
  }
  mpi::agree(comm, empty_column.empty(), empty_column);
  return enc;
}

// Where the encoding's columns sit in this file.
struct ColumnMap {
  std::vector<std::size_t> file_column;  // per encoding column
  std::vector<std::size_t> offset;       // first encoded column of each encoding column
  std::vector<bool> numeric_categories;  // a category of the column names a number
  std::size_t label = kNone;
};

// collective (agreed error): the encoding's columns found by name in the header.
ColumnMap map_columns(const mpi::Communicator& comm, const TableView& t, const TableEncoding& enc) {
  const text::TextLayout& layout = t.scan.layout;
  ColumnMap map;
  std::size_t offset = 0;
  std::string missing;  // every rank reads the same header: one agree for all columns
  for (const TableColumn& col : enc.columns) {
    const auto it = std::find(layout.names.begin(), layout.names.end(), col.name);
    if (it == layout.names.end() && missing.empty())
      missing = t.path + ": column '" + col.name +
                "' of the model's training table is missing (" + t.header() +
                " has no column of that name)";
    map.file_column.push_back(static_cast<std::size_t>(it - layout.names.begin()));
    map.offset.push_back(offset);
    map.numeric_categories.push_back(
        std::any_of(col.categories.begin(), col.categories.end(), names_a_number));
    offset += col.categorical ? col.categories.size() : (col.indicator ? 2 : 1);
  }
  mpi::agree(comm, missing.empty(), missing);
  map.label = layout.label_column;
  return map;
}

// local: encodes the rows `rows` of this rank's chunk into `values` (chunk rows x d, zeros
// elsewhere) and `labels`; counts unseen categories per encoding column (and, last, the labels of
// unseen classes under options.unseen_classes_miss); records the first error.
void encode_rows(const TableView& t, const TableEncoding& enc, const ColumnMap& map,
                 const std::vector<std::size_t>& rows, const ReadOptions& options, bool apply,
                 std::vector<double>& values, std::vector<double>& labels,
                 std::vector<unsigned long long>& unseen, FirstError& error) {
  const std::size_t d = enc.dimension();
  values.assign(t.scan.chunk.rows * d, 0.0);
  if (map.label != kNone) labels.assign(t.scan.chunk.rows, 0.0);
  unseen.assign(enc.columns.size() + 1, 0);
  for (std::size_t i : rows) {
    double* x = values.data() + i * d;
    for (std::size_t k = 0; k < enc.columns.size(); ++k) {
      const TableColumn& col = enc.columns[k];
      const std::size_t j = map.file_column[k], o = map.offset[k];
      const Cell c = t.at(i, j);
      if (c.missing) {
        if (options.missing_error)
          error.set(t.where(i, j) + "missing value " + shown(c.token) +
                    " (data.missing = error refuses them)");
        if (!col.categorical) x[o] = col.fill;
        if (col.indicator) x[o + 1] = 1.0;
      } else if (!col.categorical) {
        if (c.text)
          error.set(t.where(i, j) + shown(c.token) + " is not a number, but column '" + col.name +
                    "' was numeric in training");
        x[o] = quantile_normal(col.quantiles, c.value);
      } else {
        if (apply && !c.text && !map.numeric_categories[k])
          error.set(t.where(i, j) + "the number " + number_name(c.value) + " in column '" +
                    col.name + "', which was categorical in training (categories " +
                    some_of(col.categories) + ")");
        const std::string name = c.name();
        const auto it = std::lower_bound(col.categories.begin(), col.categories.end(), name);
        if (it != col.categories.end() && *it == name)
          x[o + static_cast<std::size_t>(it - col.categories.begin())] = 1.0;
        else
          ++unseen[k];
      }
    }
    if (map.label == kNone) continue;
    const Cell c = t.at(i, map.label);
    if (c.missing) {
      error.set(t.where(i, map.label) + "the label is missing");
    } else if (!enc.classes.empty()) {
      const std::string name = c.name();
      const auto it = std::lower_bound(enc.classes.begin(), enc.classes.end(), name);
      if ((it == enc.classes.end() || *it != name) && options.unseen_classes_miss) {
        labels[i] = -1;  // a miss for any prediction
        ++unseen.back();
      } else if (it == enc.classes.end() || *it != name)
        error.set(t.where(i, map.label) + "label " + shown(name) +
                  " is not one of the model's classes (" + some_of(enc.classes) + ")");
      else
        labels[i] = static_cast<double>(it - enc.classes.begin());
    } else if (c.text) {
      error.set(t.where(i, map.label) + "label " + shown(c.token) +
                " is not a number (the model was trained on numeric labels)");
    } else {
      labels[i] = c.value;
    }
  }
}

// collective: rank 0 logs how many values named categories the training rows never had.
void log_unseen(const mpi::Communicator& comm, const std::string& path, const TableEncoding& enc,
                std::vector<unsigned long long> unseen) {
  comm.allreduce(unseen);
  unsigned long long total = 0;
  std::string detail;
  if (unseen.back() > 0)
    Log(comm).info("%s: %llu rows of classes the training rows lack; they count as misses",
                   path.c_str(), unseen.back());
  unseen.pop_back();
  for (std::size_t k = 0; k < unseen.size(); ++k) {
    total += unseen[k];
    if (unseen[k] > 0)
      detail +=
          (detail.empty() ? "" : ", ") + enc.columns[k].name + ": " + std::to_string(unseen[k]);
  }
  if (total > 0)
    Log(comm).info("%s: %llu values of categories unseen in training, encoded as all zeros (%s)",
                   path.c_str(), total, detail.c_str());
}

}  // namespace

TextScan encode_table_scan(const mpi::Communicator& comm, const std::string& path,
                           const TextScan& scan, const RowSubset& selection,
                           const ReadOptions& options, EncodedTable& out) {
  const TableView t(path, scan);
  const std::vector<std::size_t> rows = selected_rows(scan, selection);
  const bool apply = options.encoding != nullptr;
  // What the columns held, by column index: needed to fit, and for the labels' kind. Applying an
  // encoding to unlabeled rows needs neither (and tables in memory may then order their columns
  // differently on each rank: they are found by name).
  const bool labeled = scan.layout.label_column != kNone;
  const std::vector<unsigned char> seen =
      !apply || labeled ? agreed_seen(comm, scan) : std::vector<unsigned char>(scan.layout.columns);
  out.trivial = false;
  if (!apply) out.fitted = fit_encoding(comm, t, rows, seen, options, out.trivial);
  const TableEncoding& enc = apply ? *options.encoding : out.fitted;
  const ColumnMap map = map_columns(comm, t, enc);

  TextScan encoded;
  FirstError error;
  std::vector<unsigned long long> unseen;
  encode_rows(t, enc, map, rows, options, apply, encoded.chunk.values, encoded.chunk.labels, unseen,
              error);
  mpi::agree(comm, !error.failed, error.message);
  if (apply) log_unseen(comm, path, enc, unseen);

  const std::size_t d = enc.dimension();
  encoded.layout = scan.layout;
  encoded.layout.table = false;
  encoded.layout.columns = d + (labeled ? 1 : 0);
  encoded.layout.label_column = labeled ? d : kNone;
  encoded.chunk.rows = scan.chunk.rows;
  encoded.chunk.row_lines = scan.chunk.row_lines;
  encoded.info = scan.info;
  encoded.info.cols = d;
  encoded.info.label_cols = labeled ? 1 : 0;
  encoded.row_offset = scan.row_offset;
  encoded.line_offset = scan.line_offset;
  out.labeled = labeled;
  if (labeled)
    out.target_kind = !enc.classes.empty() || !(seen[map.label] & kCellFraction)
                          ? ElementKind::kInteger
                          : ElementKind::kFloating;
  return encoded;
}

void read_table(const mpi::Communicator& comm, const std::string& path, const TextScan& scan,
                const RowSubset& selection, const ReadOptions& options,
                LocalData& local, bool keep_trivial) {
  EncodedTable out;
  const TextScan encoded = encode_table_scan(comm, path, scan, selection, options, out);
  local.dimension = encoded.info.cols;
  distribute_text(comm, path, encoded,
                  local_subset(comm, selection, scan.row_offset, scan.row_offset + scan.chunk.rows),
                  local);
  if (out.labeled) local.target_kind = out.target_kind;
  if (options.encoding == nullptr && (!out.trivial || keep_trivial))
    local.table = std::move(out.fitted);
}

}  // namespace kmpi::detail
