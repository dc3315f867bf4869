// The in-memory train API (public): rows a program holds, each rank its block, in; a model out.
// The same model, metrics and errors as `kmpi train` on files holding the same rows. The steps
// the driver takes in between (options, row selection, memory plan, scaling, the solver) are
// internal: src/driver/train_steps.hpp.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "kmpi/data.hpp"
#include "kmpi/model.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/options.hpp"
#include "kmpi/predict.hpp"

namespace kmpi {

struct TrainResult {
  int exit_code = 0;     // 0 = trained; kExitCheckpointedOnSignal = stopped after a checkpoint
  bool trained = false;  // false: a dry run or a stop, `model` is empty
  LocalModel model;      // this rank's part of the returned model (the best epoch's with
                         // early stopping); also written to output.model when given
  bool tested = false;   // a labelled test set was given
  FitMetrics test;       // then: the returned model's test metrics (accuracy < 0: regression)
  // kmpi tune: the selected point's score (validation mse, or 1 - accuracy; mean over folds with
  // tune.folds; the same bits on every rank) and the options `kmpi train` fits it with.
  double tune_score = 0;
  std::vector<std::pair<std::string, std::string>> tune_selected;
};

// Rows in memory, each rank its block (features unscaled, labels as class indices or targets):
// what train_in_memory takes instead of file names. Empty (partition size 0) means none.
struct TrainRows {
  LocalData train;
  LocalData validation, test, centers;
  std::string train_name = "training rows";  // named in messages about the labels
};

// collective: rows a caller holds in any split over the ranks (rank r the next features.rows()
// rows; counts may be uneven or 0) as LocalData of BlockPartition(n, P), the layout the solvers
// take, after agreed checks naming `name`: the same d on every rank, one target row per row, no
// NaN/Inf unless allowed. targets may be empty (no labels).
LocalData block_rows(const mpi::Communicator& comm, const std::string& name,
                     const Matrix<double>& features, const Matrix<double>& targets,
                     ElementKind target_kind, bool allow_nonfinite = false);

// collective: the train path on rows in memory; the same model, metrics and errors as
// `kmpi train` on files holding the same rows.
TrainResult train_in_memory(const mpi::Communicator& comm, const Options& options,
                            TrainRows rows);

}  // namespace kmpi
