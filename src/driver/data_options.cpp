// The data.* options as the readers' typed settings (driver/data_options.hpp).
#include "driver/data_options.hpp"

#include "io/table_encoding.hpp"
#include "kmpi/error.hpp"

namespace kmpi {

ReadOptions read_options(const Options& o) {
  ReadOptions r;
  r.format = o.str("data.format");
  const std::string header = o.str("data.header");
  r.header = header == "true" ? HeaderMode::kYes
                              : (header == "false" ? HeaderMode::kNo : HeaderMode::kAuto);
  r.label_column = o.str("data.label_column");
  r.allow_nonfinite = o.flag("data.allow_nonfinite");
  r.dimension = o.count("data.dimension");
  r.categorical = o.str("data.categorical");
  r.missing_values.clear();
  for (const std::string& token : detail::split_names(o.str("data.missing_values")))
    r.missing_values.push_back(token == "empty" ? std::string() : token);
  r.missing_error = o.str("data.missing") == "error";
  r.missing_indicators = o.flag("data.missing_indicators");
  r.quantile_transform = o.str("data.numeric_transform") == "quantile";
  return r;
}

void check_data_options(const mpi::Communicator& comm, const Options& o,
                        const std::string& command) {
  mpi::agree_on(comm, [&] {
    const std::string labels_key = command == "train" ? "data.train_labels" : "data.labels";
    if (o.given("data.label_column") && (command == "train" || command == "eval") &&
        !o.str(labels_key).empty())
      throw Error("options data.label_column and " + labels_key +
                  " conflict: the labels come either from a column of the features file or "
                  "from a labels file; give one of them");
    if (command == "train" && !o.str("data.test_labels").empty() &&
        o.str("data.test_features").empty())
      throw Error("option data.test_labels is given without data.test_features");
    if (o.given("data.dimension") && o.str("data.format") != "auto" &&
        o.str("data.format") != "libsvm")
      throw Error("options data.dimension and data.format = " + o.str("data.format") +
                  " conflict: data.dimension applies to LIBSVM files only");
    if (o.given("data.header") && o.str("data.format") != "auto" && o.str("data.format") != "csv")
      throw Error("options data.header and data.format = " + o.str("data.format") +
                  " conflict: data.header applies to CSV files only");
  });
}

}  // namespace kmpi
