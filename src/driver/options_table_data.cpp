// data.* for tables: a CSV/TSV with a header line read by `kmpi train` (issue 27; the encoding is
// stored in the model and applied by predict and eval).
#include "driver/option_sections.hpp"

namespace kmpi {

std::vector<OptionSpec> table_data_options() {
  const auto text = [](const char* key, const char* def, const char* description) {
    return OptionSpec{key, OptionType::kString, def, description, {}};
  };
  return {
      text("data.categorical", "auto",
           "CSV with a header: which columns are categorical (one-hot encoded, categories from "
           "the training rows, stored in the model): auto (a column with a field that is "
           "neither a number nor a missing value) | none | a comma list of column names"),
      text("data.missing_values", "empty,NA,NaN,?",
           "CSV with a header: comma list of the fields that mean a missing value (empty = "
           "an empty field)"),
      OptionSpec{"data.missing",
                 OptionType::kChoice,
                 "impute",
                 "CSV with a header: missing values are imputed (numeric: the training mean; "
                 "categorical: all zeros) | error (refused, naming the line)",
                 {"impute", "error"}},
      OptionSpec{"data.missing_indicators",
                 OptionType::kBool,
                 "false",
                 "CSV with a header: add a 0/1 column after each numeric column that had missing "
                 "values in training, 1 where the value is missing",
                 {}},
      OptionSpec{"data.numeric_transform",
                 OptionType::kChoice,
                 "none",
                 "CSV with a header (or a DataFrame): none | quantile: each numeric column "
                 "mapped to the normal score of its training quantiles (scikit-learn's "
                 "QuantileTransformer, normal output: 1000 knots from a seeded sample of at most "
                 "100000 rows; missing values take the median's score 0), before data.scale",
                 {"none", "quantile"}},
  };
}

}  // namespace kmpi
