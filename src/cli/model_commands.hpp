// What predict and eval share: the model file, loaded on every rank.
#pragma once

#include "kmpi/kernel_operator.hpp"
#include "kmpi/model.hpp"
#include "kmpi/options.hpp"
#include "driver/training_data.hpp"
#include "state/tree_model.hpp"

namespace kmpi {

struct LoadedModel {
  LocalModel model;
  LocalCenters centers;  // float64 operands of this rank's centers
};

// collective: --model FILE, loaded (agreed errors name the file).
LoadedModel load_model_option(const mpi::Communicator& comm, const Options& options);

// A model file or a tree file (state/tree_model.hpp), whichever --model names.
struct AnyModel {
  bool is_tree = false;
  LoadedModel single;
  TreeModel tree;
  // What queries are read with: the model's header, or the tree's (raw features).
  const ModelHeader& header() const { return is_tree ? tree_header : single.model.header; }
  ModelHeader tree_header;
};

// collective: --model FILE, a model or a tree, loaded (agreed errors name the file).
AnyModel load_any_model(const mpi::Communicator& comm, const Options& options);

// collective: the model's predictions on `set` (into `predictions` when given) and, when it has
// labels, their metrics.
FitMetrics evaluate_any(const mpi::Communicator& comm, const AnyModel& model, const EvalSet& set,
                        Matrix<double>* predictions = nullptr);

}  // namespace kmpi
