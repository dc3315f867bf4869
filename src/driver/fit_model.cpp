// fit_model (kmpi/train.hpp): from prepared rows to a written model, for every solver.
#include <cstdio>

#include "driver/fit_steps.hpp"
#include "driver/memory_plan.hpp"
#include "state/checkpoint.hpp"

namespace kmpi {

TrainingProblem build_problem(const ModelHeader& header, LocalData train) {
  TrainingProblem problem;
  problem.kernel = header.kernel;
  problem.partition = train.partition;
  problem.y = header.task == Task::kClassification ? one_hot(train.targets, header.outputs)
                                                   : std::move(train.targets);
  problem.x = std::move(train.features);
  return problem;
}

SolverRun run_solver(const mpi::Communicator& comm, const Options& given, const TrainSetup& setup,
                     bool classification, const TrainingProblem& problem, const TrainEvalSets& sets,
                     const Matrix<double>& centers, std::size_t centers_p, MetricsWriter& metrics,
                     RunClock& clock, const Log& log) {
  // solver.projection = auto is resolved once, here, against the memory limit agreed over the
  // ranks, and the solver and the checkpoint fingerprint both get the result: a resume whose
  // nodes would resolve it differently is refused instead of continuing one projection's state
  // with the other.
  const Options o = resolve_projection(comm, given, problem.partition.size(), problem.x.cols(),
                                       problem.y.cols(), sets.test.n + sets.validation.n);
  TrainReporter reporter(comm, log, metrics, clock, problem, setup.precision, classification, sets);
  EarlyStopping stopping;
  stopping.patience = o.count("solver.patience");
  Progress progress(comm, o);
  TrainCheckpoints checkpoints(comm, o, problem, centers, metrics, clock, log, progress);
  SolverContext context{comm,       o,
                        problem,    setup.precision,
                        setup.seed, centers_p > 0 ? &centers : nullptr,
                        centers_p,  reporter,
                        stopping,   checkpoints,
                        progress};
  SolverRun run;
  run.outcome = setup.solver->solve(context);
  if (run.outcome.interrupted) {
    run.stop_signal = checkpoints.stop_signal();
    return run;
  }
  // With early stopping the model is the best epoch's, and its test metrics are reported.
  if (stopping.best_epoch > 0) {
    run.outcome.alpha = std::move(stopping.best_alpha);
    const LocalCenters z = run.outcome.own_centers
                               ? LocalCenters(run.outcome.centers, setup.precision)
                               : LocalCenters();
    reporter.evaluate_final(run.outcome.alpha, run.outcome.own_centers ? &z : nullptr);
  }
  run.test = reporter.last_test();
  return run;
}

int stopped_after_checkpoint(const mpi::Communicator& comm, const Log& log, MetricsWriter& metrics,
                             const RunClock& clock, int signal) {
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

void report_done(const mpi::Communicator& comm, const Log& log, MetricsWriter& metrics,
                 const RunClock& clock, const EvalSet& test_set, const FitMetrics& test,
                 bool classification) {
  Json done;
  done.add("event", "done")
      .add("elapsed_s", clock.elapsed())
      .add("ranks", static_cast<double>(comm.size()));
  if (test_set.labeled) {
    done.add("test_mse", test.mse);
    if (classification) done.add("test_accuracy", test.accuracy);
  }
  metrics.line(done.str());
  metrics.finish(comm);
  if (test_set.labeled && classification)
    log.info("kmpi: test accuracy %.4f on %zu points, wall time %.2f s on %d ranks", test.accuracy,
             test_set.n, clock.wall.seconds(), comm.size());
  else
    log.info("kmpi: done, wall time %.2f s on %d ranks", clock.wall.seconds(), comm.size());
}

TrainResult finish_run(const mpi::Communicator& comm, const Options& o, const Log& log,
                       MetricsWriter& metrics, const RunClock& clock, const EvalSet& test_set,
                       LocalModel model, const FitMetrics& test, bool classification) {
  // Metrics lost to a write error fail the run before the model is written: a failed run leaves
  // no new output (src/driver/metrics.hpp).
  metrics.check(comm);
  if (!o.str("output.model").empty()) save_model(comm, o.str("output.model"), model);
  report_done(comm, log, metrics, clock, test_set, test, classification);
  TrainResult result;
  result.model = std::move(model);
  result.trained = true;
  result.tested = test_set.labeled;
  result.test = test;
  return result;
}

TrainResult fit_model(const mpi::Communicator& comm, const Options& o, const TrainSetup& setup,
                      const ModelHeader& header, LocalData train, TrainExtras extras,
                      RunClock& clock) {
  const Log log(comm, o.flag("run.verbose_ranks"));
  const bool classification = header.task == Task::kClassification;
  TrainingProblem problem = build_problem(header, std::move(train));
  TrainEvalSets sets{training_probe(comm, problem, setup.seed), std::move(extras.validation),
                     std::move(extras.test)};
  MetricsWriter metrics(comm, o.str("output.metrics"));
  if (setup.tune)
    return fit_tune({comm, o, setup, header, problem, sets, extras.centers, extras.centers_p,
                     metrics, clock, log});
  if (setup.rfm_iterations > 0)
    return fit_rfm(comm, o, setup, header, problem, sets, extras.centers, extras.centers_p, metrics,
                   clock, log);
  SolverRun run = run_solver(comm, o, setup, classification, problem, sets, extras.centers,
                             extras.centers_p, metrics, clock, log);
  if (run.outcome.interrupted) {
    TrainResult result;
    result.exit_code = stopped_after_checkpoint(comm, log, metrics, clock, run.stop_signal);
    return result;
  }
  return finish_run(comm, o, log, metrics, clock, sets.test,
                    assemble_model(header, problem, run.outcome), run.test, classification);
}

}  // namespace kmpi
