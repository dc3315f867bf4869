// `kmpi info`: what a model file or a data file holds.
#include "cli/commands.hpp"
#include "kmpi/data.hpp"
#include "parallel/log.hpp"
#include "kmpi/model.hpp"
#include "state/tree_model.hpp"
#include "driver/data_options.hpp"

namespace kmpi {

namespace {

// The encoding of a model trained on a table: one line per column, then the labels.
void log_table_encoding(const Log& log, const TableEncoding& t) {
  std::string missing;
  for (const std::string& m : t.missing_values)
    missing += (missing.empty() ? "" : " ") + (m.empty() ? "(empty)" : m);
  log.info("table: %zu columns -> d = %zu features; missing values: %s", t.columns.size(),
           t.dimension(), missing.c_str());
  for (const TableColumn& c : t.columns) {
    if (c.categorical) {
      std::string cats;
      for (const std::string& k : c.categories) cats += (cats.empty() ? "" : ", ") + k;
      log.info("  %s: categorical, %zu categories (one-hot): %s", c.name.c_str(),
               c.categories.size(), cats.c_str());
    } else {
      const std::string map =
          c.quantiles.empty()
              ? std::string()
              : ", as normal scores of " + std::to_string(c.quantiles.size()) + " quantile knots";
      log.info("  %s: numeric%s, missing -> %.17g%s", c.name.c_str(), map.c_str(), c.fill,
               c.indicator ? ", with a missing indicator" : "");
    }
  }
  if (t.label_name.empty()) return;
  std::string classes;
  for (const std::string& k : t.classes) classes += (classes.empty() ? "" : ", ") + k;
  log.info("  label %s: %s%s", t.label_name.c_str(), t.classes.empty() ? "numeric" : "class names ",
           classes.c_str());
}

}  // namespace

int run_info(const mpi::Communicator& comm, const Options& o) {
  Log log(comm);
  if (!o.str("model").empty() && is_tree_model_file(comm, o.str("model"))) {
    const TreeModel t = load_tree_model(comm, o.str("model"));
    std::size_t centers = 0;
    for (const LocalModel& leaf : t.leaves) centers += leaf.header.centers;
    log.info("tree model %s: %s, d = %zu, outputs = %zu, %zu nodes, %zu leaves, %zu centers",
             o.str("model").c_str(),
             t.tree.task == Task::kClassification ? "classification" : "regression",
             t.tree.dimension, t.tree.outputs, t.tree.nodes.size(), t.tree.leaf_count, centers);
  } else if (!o.str("model").empty()) {
    ModelHeader h;
    mpi::agree_on(comm, [&] { h = read_model_header(o.str("model")); });
    log.info(
        "model %s: kernel %s bandwidth %g, %s, d = %zu, outputs = %zu, centers = %zu, scaling %u, "
        "metric %s",
        o.str("model").c_str(), h.kernel.name().c_str(), h.kernel.bandwidth,
        h.task == Task::kClassification ? "classification" : "regression", h.dimension, h.outputs,
        h.centers, static_cast<unsigned>(h.scaling.mode), metric_kind_name(h.metric.kind));
    if (!h.table.empty()) log_table_encoding(log, h.table);
  }
  if (!o.str("data.features").empty()) {
    ReadOptions read = read_options(o);
    read.fit_table = true;  // a CSV with a header: its columns as written, text fields included
    const FileInfo f = probe_distributed(comm, o.str("data.features"), read);
    log.info("data %s: %zu rows x %zu columns, %s", o.str("data.features").c_str(), f.rows, f.cols,
             f.element == ElementKind::kInteger ? "integer" : "floating");
  }
  return 0;
}

}  // namespace kmpi
