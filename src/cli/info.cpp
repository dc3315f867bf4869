// `kmpi info`: what a model file or a data file holds.
#include "cli/commands.hpp"
#include "kmpi/data.hpp"
#include "parallel/log.hpp"
#include "kmpi/model.hpp"
#include "state/tree_model.hpp"

namespace kmpi {

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
  }
  if (!o.str("data.features").empty()) {
    const FileInfo f = probe_distributed(comm, o.str("data.features"), read_options(o));
    log.info("data %s: %zu rows x %zu columns, %s", o.str("data.features").c_str(), f.rows, f.cols,
             f.element == ElementKind::kInteger ? "integer" : "floating");
  }
  return 0;
}

}  // namespace kmpi
