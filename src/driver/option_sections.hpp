// Internal: sections of the options table that live in their own files (options.cpp builds the
// table from them, in documentation order).
#pragma once

#include <utility>
#include <vector>

#include "kmpi/options.hpp"

namespace kmpi {

// data.* for tables (issue 27): a CSV/TSV with a header line read by `kmpi train`.
std::vector<OptionSpec> table_data_options();

// The option table's sections defined outside options.cpp (each declared once in its file).
std::vector<OptionSpec> rfm_options();    // options_table_search.cpp
std::vector<OptionSpec> tree_options();   // options_table_search.cpp
std::vector<OptionSpec> tune_options();   // options_table_search.cpp

namespace option_spec {
// One declaration per option, by type: the helper names the type, the arguments are key,
// default, description and the check (range or choices).
inline OptionSpec path(const char* key, const char* description) {
  return OptionSpec{key, OptionType::kString, "", description, {}};
}
inline OptionSpec text(const char* key, const char* def, const char* description) {
  return OptionSpec{key, OptionType::kString, def, description, {}};
}
inline OptionSpec flag(const char* key, const char* def, const char* description) {
  return OptionSpec{key, OptionType::kBool, def, description, {}};
}
inline OptionSpec choice(const char* key, const char* def, const char* description,
                  std::vector<std::string> choices) {
  return OptionSpec{key, OptionType::kChoice, def, description, std::move(choices)};
}
inline OptionSpec integer(const char* key, const char* def, const char* description, double min,
                   double max = 1e308) {
  return OptionSpec{key, OptionType::kInteger, def, description, {}, min, max};
}
inline OptionSpec real(const char* key, const char* def, const char* description, double min = -1e308,
                double max = 1e308) {
  return OptionSpec{key, OptionType::kReal, def, description, {}, min, max};
}

// data.*: the training, test and evaluation files and how they are read.
}  // namespace option_spec

}  // namespace kmpi
