// The training side of tables (issue 27): a table's codes keep their 0/1 values through the
// scaling, and the log says what the encoding made of the table.
#include <cstddef>

#include "driver/training_data.hpp"
#include "parallel/log.hpp"

namespace kmpi {

void keep_codes_unscaled(Scaling& scaling, const TableEncoding& table) {
  if (table.empty() || scaling.offset.size() != table.dimension()) return;
  std::size_t k = 0;
  for (const TableColumn& c : table.columns) {
    const std::size_t codes = c.categorical ? c.categories.size() : (c.indicator ? 1 : 0);
    if (!c.categorical) ++k;  // the numeric value itself is scaled
    for (std::size_t q = 0; q < codes; ++q, ++k) {
      scaling.offset[k] = 0.0;
      scaling.multiplier[k] = 1.0;
    }
  }
}

void log_table(const mpi::Communicator& comm, const Options& o, const TableEncoding& table) {
  std::size_t categorical = 0, categories = 0, indicators = 0;
  for (const TableColumn& c : table.columns) {
    categorical += c.categorical ? 1 : 0;
    categories += c.categories.size();
    indicators += c.indicator ? 1 : 0;
  }
  std::string labels = "no label column";
  if (!table.label_name.empty())
    labels =
        "label '" + table.label_name + "'" +
        (table.classes.empty() ? std::string(" (numeric)")
                               : " with " + std::to_string(table.classes.size()) + " class names");
  Log(comm, o.flag("run.verbose_ranks"))
      .info(
          "table: %zu columns (%zu categorical, %zu categories one-hot; %zu missing "
          "indicators) -> d = %zu, %s",
          table.columns.size(), categorical, categories, indicators, table.dimension(),
          labels.c_str());
}

}  // namespace kmpi
