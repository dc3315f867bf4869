// Class names from a labels file (data.train_labels / data.labels next to a table): one label per
// line, read whole by every rank (a labels file is one column), giving the same classes, class
// indices and model as the same names in a label column of the table. Also the names (and the
// number) of an encoding's columns, and the comma lists of names the table options take.
#include <algorithm>
#include <fstream>
#include <set>

#include "io/table_encoding.hpp"
#include "io/text_formats.hpp"
#include "kmpi/error.hpp"

namespace kmpi {

std::size_t TableEncoding::dimension() const {
  std::size_t d = 0;
  for (const TableColumn& c : columns)
    d += c.categorical ? c.categories.size() : (c.indicator ? 2 : 1);
  return d;
}

std::vector<std::string> TableEncoding::encoded_names() const {
  std::vector<std::string> names;
  for (const TableColumn& c : columns) {
    if (c.categorical) {
      for (const std::string& k : c.categories) names.push_back(c.name + "=" + k);
    } else {
      names.push_back(c.name);
      if (c.indicator) names.push_back(c.name + ":missing");
    }
  }
  return names;
}

}  // namespace kmpi

namespace kmpi::detail {

std::vector<std::string> split_names(const std::string& list) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    std::size_t end = list.find(',', pos);
    if (end == std::string::npos) end = list.size();
    std::string name = list.substr(pos, end - pos);
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.erase(0, 1);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    if (!name.empty()) out.push_back(name);
    pos = end + 1;
  }
  return out;
}
namespace {

std::string some(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t k = 0; k < names.size() && k < 8; ++k) out += (k ? ", " : "") + names[k];
  return names.size() > 8 ? out + ", ..." : out;
}

}  // namespace

LabelNames read_label_names(const mpi::Communicator& comm, const std::string& path) {
  LabelNames names;
  mpi::agree_on(comm, [&] {
    std::ifstream in(path, std::ios::binary);
    if (!in) return;  // the numeric reader names what is wrong with the file
    std::string line, scratch;
    std::vector<std::string_view> tokens;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
      if (text::trim(line).empty()) continue;
      // One field per line, read as a CSV field (RFC 4180 quotes for a name with a comma).
      // Several fields (targets of a regression) or a broken quote: not names, the numeric
      // reader reads (or refuses) the file.
      if (!text::split(line, ',', tokens, scratch) || tokens.size() != 1) {
        names.fields.clear();
        names.lines.clear();
        return;
      }
      names.fields.emplace_back(tokens[0]);
      names.lines.push_back(number);
    }
  });
  // Names when a field after the first line (a header, maybe) is not a number.
  for (std::size_t k = 1; k < names.fields.size() && !names.text; ++k) {
    double v = 0;
    bool integer = false;
    names.text = !text::parse_number(names.fields[k], v, integer);
  }
  // Every rank read the file for itself: the way it goes on must be one (a rank that read
  // something else would wait in other collectives than the rest).
  const int text = names.text ? 1 : 0;
  mpi::agree(comm,
             comm.allreduce_value(text, mpi::Op::kMin) == comm.allreduce_value(text, mpi::Op::kMax),
             path + ": the ranks read different labels files (names on some, numbers on others)");
  return names;
}

void label_names_to_rows(const mpi::Communicator& comm, const std::string& path,
                         const LabelNames& names, std::size_t rows,
                         const RowSubset& selection, const ReadOptions& options,
                         LocalData& local) {
  // One label per row of the features; one line more is a header (the label column's name).
  const std::size_t n = names.fields.size();
  mpi::agree(comm, n == rows || n == rows + 1,
             path + ": " + std::to_string(n) + " non-blank lines of class names for " +
                 std::to_string(rows) + " rows of features (one name per row, and optionally "
                 "a header line first)");
  const std::size_t first = n - rows;
  const std::vector<std::string>& missing =
      options.encoding != nullptr ? options.encoding->missing_values : options.missing_values;
  std::vector<std::string> classes;
  if (options.encoding != nullptr) {
    classes = options.encoding->classes;
    mpi::agree(comm, !classes.empty(),
               path + ": the labels are names, but the model was trained on numeric labels");
  } else {  // every rank reads every name: the same sorted classes everywhere
    std::set<std::string> set;
    const auto add = [&](std::size_t row) { set.insert(names.fields[first + row]); };
    for (std::size_t r = 0; r < rows; ++r)
      if (selection.contains(r)) add(r);
    for (const std::string& m : missing) set.erase(m);
    classes.assign(set.begin(), set.end());
  }
  std::string failure;
  local.targets = Matrix<double>(local.source_rows.size(), 1);
  for (std::size_t i = 0; i < local.source_rows.size() && failure.empty(); ++i) {
    const std::size_t k = first + local.source_rows[i];
    const std::string& name = names.fields[k];
    const std::string where = path + ": line " + std::to_string(names.lines[k]) + ": ";
    const auto it = std::lower_bound(classes.begin(), classes.end(), name);
    if (std::find(missing.begin(), missing.end(), name) != missing.end())
      failure = where + "the label is missing";
    else if (it == classes.end() || *it != name)
      failure = where + "label '" + name + "' is not one of the model's classes (" +
                some(classes) + ")";
    else
      local.targets(i, 0) = static_cast<double>(it - classes.begin());
  }
  mpi::agree(comm, failure.empty(), failure);
  local.target_kind = ElementKind::kInteger;
  if (options.encoding == nullptr) {
    local.table.classes = std::move(classes);
    local.table.label_name = first == 1 ? names.fields[0] : std::string();
  }
}

}  // namespace kmpi::detail
