// Table mode of the CSV parser (text_formats.hpp): every cell of a line is kept as a number, a
// missing value or text; what the cells mean is decided later, by table_encoding.cpp, once the
// ranks have agreed on the column kinds. Tables held in memory (table_memory.cpp) add their
// cells through the same functions.
#include <algorithm>
#include <cmath>
#include <limits>

#include "io/text_formats.hpp"

namespace kmpi::text {

std::string add_table_number(TextChunk& chunk, const TextLayout& layout, bool keep,
                             std::size_t j, double v, bool integer, std::string_view token) {
  if (!std::isfinite(v) && !layout.allow_nonfinite)
    return "'" + std::string(token.substr(0, 40)) + "' is " + (std::isnan(v) ? "NaN" : "Inf") +
           (j == layout.label_column ? " (a label)" : "") +
           "; NaN/Inf values are refused (data.allow_nonfinite = true accepts them; "
           "data.missing_values lists the tokens that mean missing)";
  if (std::isnan(v)) {  // NaN accepted by data.allow_nonfinite: a missing value
    add_table_missing(chunk, keep, j);
    return {};
  }
  chunk.seen[j] |= kCellNumber | (integer ? 0 : kCellFraction);
  if (keep) chunk.values.push_back(v);
  return {};
}

void add_table_missing(TextChunk& chunk, bool keep, std::size_t j) {
  chunk.seen[j] |= kCellMissing;
  if (keep) chunk.values.push_back(std::numeric_limits<double>::quiet_NaN());
}

std::string add_table_field(TextChunk& chunk, const TextLayout& layout, bool keep, std::size_t j,
                            std::string_view token) {
  const auto& missing = layout.missing_values;
  if (std::find(missing.begin(), missing.end(), token) != missing.end()) {
    add_table_missing(chunk, keep, j);
    return {};
  }
  double v = 0;
  bool integer = false;
  if (parse_number(token, v, integer))
    return add_table_number(chunk, layout, keep, j, v, integer, token);
  chunk.seen[j] |= kCellText;
  if (keep) {
    chunk.text_cells.push_back(chunk.values.size());
    chunk.text.append(token);
    chunk.text_end.push_back(chunk.text.size());
    chunk.values.push_back(std::numeric_limits<double>::quiet_NaN());
  }
  return {};
}

bool ChunkParser::add_table_cells() {
  const std::size_t columns = tokens_.size();
  if (chunk_.seen.empty()) chunk_.seen.assign(columns, 0);
  for (std::size_t j = 0; j < columns; ++j) {
    const std::string failure = add_table_field(chunk_, layout_, keep_, j, tokens_[j]);
    if (!failure.empty()) return error(j + 1, failure);
  }
  if (keep_) chunk_.row_lines.push_back(chunk_.lines - 1);
  ++chunk_.rows;
  return true;
}

}  // namespace kmpi::text
