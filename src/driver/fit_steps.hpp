// The pieces of fit_model (src/driver/fit_model.cpp) that the RFM loop (src/search/rfm.cpp) runs
// once per iteration. Private to src/driver/ and src/search/.
#pragma once

#include <string>

#include "driver/train_steps.hpp"

namespace kmpi {

// local: the solver's problem: the scaled rows and their targets (one-hot for classes).
TrainingProblem build_problem(const ModelHeader& header, LocalData train);

// One solver run and what came of it.
struct SolverRun {
  SolverOutcome outcome;  // the early-stopping best weights swapped in when there is one
  int stop_signal = 0;    // outcome.interrupted: the signal that stopped it
  FitMetrics test;        // the returned weights' test metrics (when the test set has labels)
};

// collective: runs setup.solver on `problem` with its reporter, early stopping, checkpoints
// (run.* of `o`) and progress, and returns its outcome with the best epoch's weights.
SolverRun run_solver(const mpi::Communicator& comm, const Options& o, const TrainSetup& setup,
                     bool classification, const TrainingProblem& problem, const TrainEvalSets& sets,
                     const Matrix<double>& centers, std::size_t centers_p, MetricsWriter& metrics,
                     RunClock& clock, const Log& log);

// local: the returned model: the solver's centers (or the training rows, moved out of
// `problem`) and weights.
LocalModel assemble_model(const ModelHeader& header, TrainingProblem& problem,
                          SolverOutcome& outcome);

// collective: a solver stopped on a signal after writing a checkpoint. No model is written (only
// finished runs write one); the metrics say so, and the exit code asks for a resubmit.
int stopped_after_checkpoint(const mpi::Communicator& comm, const Log& log, MetricsWriter& metrics,
                             const RunClock& clock, int signal);

// collective: the final metrics line (with `test`, the returned model's test metrics, when the
// test set has labels) and log line of a finished run.
void report_done(const mpi::Communicator& comm, const Log& log, MetricsWriter& metrics,
                 const RunClock& clock, const EvalSet& test_set, const FitMetrics& test,
                 bool classification);

// collective: the RFM loop (DESIGN §1.5) around setup.solver, rfm.iterations > 0: fit,
// validate, AGOP, new metric; the best iteration's model is returned and written.
TrainResult fit_rfm(const mpi::Communicator& comm, const Options& o, const TrainSetup& setup,
                    const ModelHeader& header, TrainingProblem& base, TrainEvalSets& base_sets,
                    const Matrix<double>& base_centers, std::size_t centers_p,
                    MetricsWriter& metrics, RunClock& clock, const Log& log);

// One RFM loop's answer without writing it (kmpi tune runs one per grid point): the selected
// iteration's model (its metric in model.header.metric, Z = X models with the transformed rows
// as centers) and metrics; stop_signal != 0: stopped after a checkpoint, no model.
struct RfmFit {
  int stop_signal = 0;
  LocalModel model;
  FitMetrics validation, test;
  std::size_t iteration = 0;
};
// collective: fit_rfm's loop, nothing written but its metrics lines and checkpoints.
RfmFit run_rfm(const mpi::Communicator& comm, const Options& o, const TrainSetup& setup,
               const ModelHeader& header, TrainingProblem& base, TrainEvalSets& base_sets,
               const Matrix<double>& base_centers, std::size_t centers_p, MetricsWriter& metrics,
               RunClock& clock, const Log& log);

// What fit_model hands to the loops that fit again and again (kmpi tune): one fit's inputs and
// the run's writers.
struct FitInputs {
  const mpi::Communicator& comm;
  const Options& options;
  const TrainSetup& setup;
  const ModelHeader& header;
  TrainingProblem& problem;       // the scaled training rows
  TrainEvalSets& sets;            // probe, validation, test
  const Matrix<double>& centers;  // given centers (this rank's rows), empty = none
  std::size_t centers_p;
  MetricsWriter& metrics;
  RunClock& clock;
  const Log& log;
};

// collective: the end of a finished run: output.model written (atomically), the final metrics
// and log line, and the result holding `model` and its test metrics.
TrainResult finish_run(const mpi::Communicator& comm, const Options& o, const Log& log,
                       MetricsWriter& metrics, const RunClock& clock, const EvalSet& test_set,
                       LocalModel model, const FitMetrics& test, bool classification);

// collective: `kmpi tune` (DESIGN §1.6): every point of the tune.* grid fitted (sharing kernel
// work where the solver can), scored on the validation split; the best point's model is
// returned and written.
TrainResult fit_tune(const FitInputs& in);

}  // namespace kmpi
