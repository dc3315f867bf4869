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
void read_table(const mpi::Communicator& comm, const std::string& path, const TextScan& scan,
                const std::vector<std::size_t>& selection, const ReadOptions& options,
                LocalData& local);

// local: "a,b,c" -> {"a", "b", "c"} (blanks around names trimmed; empty names dropped).
std::vector<std::string> split_names(const std::string& list);

}  // namespace kmpi::detail
