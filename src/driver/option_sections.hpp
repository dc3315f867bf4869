// Internal: sections of the options table that live in their own files (options.cpp builds the
// table from them, in documentation order).
#pragma once

#include <vector>

#include "kmpi/options.hpp"

namespace kmpi {

// data.* for tables (issue 27): a CSV/TSV with a header line read by `kmpi train`.
std::vector<OptionSpec> table_data_options();

}  // namespace kmpi
