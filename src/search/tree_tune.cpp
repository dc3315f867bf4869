// The soft-routing temperature of an xRFM tree chosen on the leaves' validation rows
// (search/tree.hpp): each leaf's RFM held out a seeded share of its rows (choose_rows, as
// train_in_memory does), which the tree gathers nowhere: every rank keeps its share, and
// predict_tree takes rows in any layout.
#include <algorithm>

#include "search/tree.hpp"

namespace kmpi {

namespace {

// The temperatures tried; 0 is hard routing, first, so a tie keeps it.
constexpr double kTunedTemperatures[] = {0, 0.02, 0.05, 0.1, 0.2, 0.5, 1};

}  // namespace

void keep_leaf_validation(const mpi::Communicator& comm, const Options& leaf_options,
                          const LocalData& rows, TreeValidation& validation) {
  TrainSetup setup;  // what choose_rows reads: the seed and whether the fit validates
  setup.solver = find_solver(leaf_options.str("solver.name"));
  setup.seed = static_cast<std::uint64_t>(leaf_options.integer("solver.seed"));
  setup.rfm_iterations = leaf_options.count("rfm.iterations");
  const RowSelection selection =
      choose_rows(comm, leaf_options, setup, rows.partition.size(), "tree leaf rows");
  const std::size_t begin = rows.partition.begin(comm.rank()),
                    end = rows.partition.end(comm.rank());
  if (validation.x.cols() == 0) {
    validation.x.resize(0, rows.features.cols());
    validation.y.resize(0, rows.targets.cols());
  }
  for (std::size_t i = begin; i < end && selection.validation_rows > 0; ++i)
    if (selection.validation.contains(i)) {
      validation.x.append_rows(rows.features.row(i - begin), 1);
      validation.y.append_rows(rows.targets.row(i - begin), 1);
    }
}

double tune_temperature(const mpi::Communicator& comm, TreeModel& model,
                        const TreeValidation& validation, const Log& log) {
  const std::size_t n = comm.allreduce_value(validation.x.rows());
  mpi::agree(comm, n > 0, "rfm.tune_temperature: the leaves held out no validation rows");
  const bool classification = model.tree.task == Task::kClassification;
  const Matrix<double> y =
      classification ? one_hot(validation.y, model.tree.outputs) : validation.y;
  std::size_t best = 0;
  double best_score = INFINITY;
  for (std::size_t k = 0; k < std::size(kTunedTemperatures); ++k) {
    model.tree.temperature = kTunedTemperatures[k];
    const Matrix<double> pred = predict_tree(comm, model, {}, validation.x);
    const FitMetrics fm = fit_metrics(comm, pred, y, n, classification);
    const double score = classification ? 1 - fm.accuracy : fm.mse;
    log.info("tree: soft-routing temperature %g: validation %s %.6g on %zu rows",
             kTunedTemperatures[k], classification ? "error" : "mse", score, n);
    if (score < best_score) {
      best_score = score;
      best = k;
    }
  }
  comm.broadcast(&best, 1, 0);  // one choice on every rank, whatever the reductions' last bits
  log.info("tree: soft-routing temperature %g chosen", kTunedTemperatures[best]);
  return kTunedTemperatures[best];
}

}  // namespace kmpi
