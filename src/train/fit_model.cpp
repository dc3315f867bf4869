// fit_model (kmpi/train.hpp): from prepared rows to a written model, for every solver.
#include <cstdio>

#include "kmpi/checkpoint.hpp"
#include "kmpi/train.hpp"

namespace kmpi {

namespace {

// local: the solver's problem: the scaled rows and their targets (one-hot for classes).
TrainingProblem build_problem(const ModelHeader& header, LocalData train) {
  TrainingProblem problem;
  problem.kernel = header.kernel;
  problem.partition = train.partition;
  problem.y = header.task == Task::kClassification ? one_hot(train.targets, header.outputs)
                                                   : std::move(train.targets);
  problem.x = std::move(train.features);
  return problem;
}

// collective: a solver stopped on a signal after writing a checkpoint. No model is written (only
// finished runs write one); the metrics say so, and the exit code asks for a resubmit.
int stopped_after_checkpoint(const mpi::Communicator& comm, const Log& log,
                             MetricsWriter& metrics, const RunClock& clock, int signal) {
  metrics.line(Json()
                   .add("event", "checkpointed")
                   .add("signal", static_cast<double>(signal))
                   .add("elapsed_s", clock.elapsed())
                   .str());
  metrics.finish(comm);
  log.info(
      "kmpi: stopped on signal %d after writing a checkpoint; resubmit with run.resume=auto "
      "(exit code %d)",
      signal, kExitCheckpointedOnSignal);
  return kExitCheckpointedOnSignal;
}

// local: the returned model: the solver's centers (or the training rows) and weights.
LocalModel assemble_model(const ModelHeader& header, TrainingProblem& problem,
                          SolverOutcome& outcome) {
  LocalModel model;
  model.header = header;
  model.partition = outcome.own_centers ? outcome.center_partition : problem.partition;
  model.centers = outcome.own_centers ? std::move(outcome.centers) : std::move(problem.x);
  model.header.centers = model.partition.size();
  model.weights = std::move(outcome.alpha);
  return model;
}

// collective: the final metrics line and log line of a finished run.
void report_done(const mpi::Communicator& comm, const Log& log, MetricsWriter& metrics,
                 const RunClock& clock, const TrainReporter& reporter, bool classification) {
  const FitMetrics& test = reporter.last_test();
  Json done;
  done.add("event", "done")
      .add("elapsed_s", clock.elapsed())
      .add("ranks", static_cast<double>(comm.size()));
  if (reporter.has_test_labels()) {
    done.add("test_mse", test.mse);
    if (classification) done.add("test_accuracy", test.accuracy);
  }
  metrics.line(done.str());
  metrics.finish(comm);
  if (reporter.has_test_labels() && classification)
    log.info("kmpi: test accuracy %.4f on %zu points, wall time %.2f s on %d ranks",
             test.accuracy, reporter.test().n, clock.wall.seconds(), comm.size());
  else
    log.info("kmpi: done, wall time %.2f s on %d ranks", clock.wall.seconds(), comm.size());
}

}  // namespace

TrainResult fit_model(const mpi::Communicator& comm, const Options& o, const TrainSetup& setup,
                      const ModelHeader& header, LocalData train, TrainExtras extras,
                      RunClock& clock) {
  const Log log(comm, o.flag("run.verbose_ranks"));
  const bool classification = header.task == Task::kClassification;
  TrainingProblem problem = build_problem(header, std::move(train));
  TrainEvalSets sets{training_probe(comm, problem, setup.seed), std::move(extras.validation),
                     std::move(extras.test)};
  MetricsWriter metrics(comm, o.str("output.metrics"));
  TrainReporter reporter(comm, log, metrics, clock, problem, setup.precision, classification,
                         sets);
  EarlyStopping stopping;
  stopping.patience = o.count("solver.patience");
  Progress progress(comm, o);
  TrainCheckpoints checkpoints(comm, o, problem, extras.centers, metrics, clock, log, progress);
  SolverContext context{comm,
                        o,
                        problem,
                        setup.precision,
                        setup.seed,
                        extras.centers_p > 0 ? &extras.centers : nullptr,
                        extras.centers_p,
                        reporter,
                        stopping,
                        checkpoints,
                        progress};
  SolverOutcome outcome = setup.solver->solve(context);
  TrainResult result;
  if (outcome.interrupted) {
    result.exit_code =
        stopped_after_checkpoint(comm, log, metrics, clock, checkpoints.stop_signal());
    return result;
  }
  // With early stopping the model is the best epoch's, and its test metrics are reported.
  if (stopping.best_epoch > 0) {
    outcome.alpha = std::move(stopping.best_alpha);
    const LocalCenters z =
        outcome.own_centers ? LocalCenters(outcome.centers, setup.precision) : LocalCenters();
    reporter.evaluate_final(outcome.alpha, outcome.own_centers ? &z : nullptr);
  }
  result.model = assemble_model(header, problem, outcome);
  if (!o.str("output.model").empty()) save_model(comm, o.str("output.model"), result.model);
  report_done(comm, log, metrics, clock, reporter, classification);
  result.trained = true;
  result.tested = reporter.has_test_labels();
  result.test = reporter.last_test();
  return result;
}

}  // namespace kmpi
