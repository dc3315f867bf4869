// `kmpi info`: what a model file or a data file holds.
#include "cli/commands.hpp"
#include "kmpi/data.hpp"
#include "parallel/log.hpp"
#include "kmpi/model.hpp"

namespace kmpi {

int run_info(const mpi::Communicator& comm, const Options& o) {
  Log log(comm);
  if (!o.str("model").empty()) {
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
