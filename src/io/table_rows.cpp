// Table mode of the CSV parser (text_formats.hpp): every cell of a line is kept as a number, a
// missing value or text; what the cells mean is decided later, by table_encoding.cpp, once the
// ranks have agreed on the column kinds.
#include <algorithm>
#include <cmath>
#include <limits>

#include "io/text_formats.hpp"

namespace kmpi::text {

bool ChunkParser::add_table_cells() {
  const std::size_t columns = tokens_.size();
  if (chunk_.seen.empty()) chunk_.seen.assign(columns, 0);
  const auto& missing = layout_.missing_values;
  for (std::size_t j = 0; j < columns; ++j) {
    const std::string_view token = tokens_[j];
    double v = 0;
    bool integer = false;
    bool is_missing = std::find(missing.begin(), missing.end(), token) != missing.end();
    if (!is_missing && parse_number(token, v, integer)) {
      if (!std::isfinite(v) && !layout_.allow_nonfinite)
        return error(j + 1, "'" + std::string(token.substr(0, 40)) + "' is " +
                                (std::isnan(v) ? "NaN" : "Inf") +
                                (j == layout_.label_column ? " (a label)" : "") +
                                "; NaN/Inf values are refused (data.allow_nonfinite = true "
                                "accepts them; data.missing_values lists the tokens that mean "
                                "missing)");
      if (!std::isnan(v)) {
        chunk_.seen[j] |= kCellNumber | (integer ? 0 : kCellFraction);
        if (keep_) chunk_.values.push_back(v);
        continue;
      }
      is_missing = true;  // NaN accepted by data.allow_nonfinite: a missing value
    }
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (is_missing) {
      chunk_.seen[j] |= kCellMissing;
      if (keep_) chunk_.values.push_back(nan);
      continue;
    }
    chunk_.seen[j] |= kCellText;
    if (keep_) {
      chunk_.text_cells.push_back(chunk_.values.size());
      chunk_.text.append(token);
      chunk_.text_end.push_back(chunk_.text.size());
      chunk_.values.push_back(nan);
    }
  }
  if (keep_) chunk_.row_lines.push_back(chunk_.lines - 1);
  ++chunk_.rows;
  return true;
}

}  // namespace kmpi::text
