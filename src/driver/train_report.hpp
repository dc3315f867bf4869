// What `train` reports while a solver runs: one metrics line (and one log line) per epoch or
// solve with the training probe, validation and test metrics, and the early-stopping rule on
// the validation loss. Shared by every solver (src/solvers/*.cpp call it from their callbacks).
#pragma once

#include <cstddef>
#include <string>

#include "parallel/log.hpp"
#include "driver/metrics.hpp"
#include "driver/training_data.hpp"

namespace kmpi {

// Wall time of a run, including the earlier runs a resumed run continues. local.
struct RunClock {
  Stopwatch wall;
  double before = 0;  // elapsed_s of the checkpoint a resumed run started from
  double elapsed() const { return before + wall.seconds(); }
};

// The evaluation sets of a training run (validation and test may be empty).
struct TrainEvalSets {
  EvalSet probe;  // training_probe(): the train_mse of each report
  EvalSet validation, test;
};

class TrainReporter {
 public:
  TrainReporter(const mpi::Communicator& comm, const Log& log, MetricsWriter& metrics,
                const RunClock& clock, const TrainingProblem& problem, Precision precision,
                bool classification, const TrainEvalSets& sets);
  // The same with the models' kernel given (a tune run's models differ from problem.kernel)
  // and `label` starting each log line (which model it is).
  TrainReporter(const mpi::Communicator& comm, const Log& log, MetricsWriter& metrics,
                const RunClock& clock, const TrainingProblem& problem, const Kernel& kernel,
                Precision precision, bool classification, const TrainEvalSets& sets,
                std::string label);

  // collective: evaluates the model (this rank's `alpha` over `centers`; null = the training
  // rows) on the probe, validation and test sets, writes the epoch's metrics line (`extra`
  // appended; min/avg/max over ranks of `rank_seconds` when >= 0) and its log line. Returns the
  // validation mse (0 without a validation set).
  double report(std::size_t epoch, const Matrix<double>& alpha, const Json& extra,
                const LocalCenters* centers = nullptr, double rank_seconds = -1);
  // The metrics of one report (validation and test: default-valued where there is no set).
  struct Evaluated {
    FitMetrics probe, validation, test;
  };
  // collective: the same line from metrics already computed (a tune run evaluates its models
  // together, sharing the distances: evaluate_shared).
  double report_evaluated(std::size_t epoch, const Evaluated& m, const Json& extra,
                          double rank_seconds = -1);
  const TrainEvalSets& sets() const { return sets_; }
  // collective: the test metrics of a model other than the last reported (the best epoch's).
  void evaluate_final(const Matrix<double>& alpha, const LocalCenters* centers);

  // local: a metrics line of the solver's own (setup parameters, ...).
  void line(const Json& json) { metrics_.line(json.str()); }
  bool has_validation() const { return sets_.validation.labeled; }
  bool has_test_labels() const { return sets_.test.labeled; }
  const EvalSet& test() const { return sets_.test; }
  const FitMetrics& last_test() const { return last_test_; }
  const Log& log() const { return log_; }
  const RunClock& clock() const { return clock_; }
  bool classification() const { return classification_; }

 private:
  const mpi::Communicator& comm_;
  const Log& log_;
  MetricsWriter& metrics_;
  const RunClock& clock_;
  const TrainingProblem& problem_;
  Kernel kernel_;      // of the models reported
  std::string label_;  // starts each log line
  Precision precision_;
  bool classification_;
  const TrainEvalSets& sets_;
  FitMetrics last_test_;
};

// Early stopping on the validation loss (eigenpro2, eigenpro4): keeps the best epoch's weights;
// this state travels in their checkpoints. local (every rank decides on the same values).
struct EarlyStopping {
  std::size_t patience = 0;  // solver.patience
  double best_val = INFINITY;
  std::size_t best_epoch = 0;  // 0: no validation set, or no epoch yet
  Matrix<double> best_alpha;

  // Returns false (stop) when the validation loss has not improved for `patience` epochs.
  bool keep_best(const Log& log, bool has_validation, std::size_t epoch, double val,
                 const Matrix<double>& alpha);
};

}  // namespace kmpi
