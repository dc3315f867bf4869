#include "driver/train_report.hpp"

#include <sys/resource.h>

#include <cstdio>
#include <utility>

namespace kmpi {

namespace {

// collective: the largest peak resident set size of any rank, in MiB (from the OS).
double peak_rss_mb(const mpi::Communicator& comm) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return comm.allreduce_value(static_cast<double>(usage.ru_maxrss) / 1024.0, mpi::Op::kMax);
}

}  // namespace

TrainReporter::TrainReporter(const mpi::Communicator& comm, const Log& log, MetricsWriter& metrics,
                             const RunClock& clock, const TrainingProblem& problem,
                             Precision precision, bool classification, const TrainEvalSets& sets)
    : TrainReporter(comm, log, metrics, clock, problem, problem.kernel, precision, classification,
                    sets, "") {}

TrainReporter::TrainReporter(const mpi::Communicator& comm, const Log& log, MetricsWriter& metrics,
                             const RunClock& clock, const TrainingProblem& problem,
                             const Kernel& kernel, Precision precision, bool classification,
                             const TrainEvalSets& sets, std::string label)
    : comm_(comm),
      log_(log),
      metrics_(metrics),
      clock_(clock),
      problem_(problem),
      kernel_(kernel),
      label_(std::move(label)),
      precision_(precision),
      classification_(classification),
      sets_(sets) {}

double TrainReporter::report(std::size_t epoch, const Matrix<double>& alpha, const Json& extra,
                             const LocalCenters* model_centers, double rank_seconds) {
  const LocalCenters own = model_centers ? LocalCenters() : LocalCenters(problem_.x, precision_);
  const LocalCenters& centers = model_centers ? *model_centers : own;
  Evaluated m;
  m.probe = evaluate(comm_, kernel_, centers, alpha, sets_.probe, classification_);
  if (has_validation())
    m.validation = evaluate(comm_, kernel_, centers, alpha, sets_.validation, classification_);
  if (has_test_labels())
    m.test = evaluate(comm_, kernel_, centers, alpha, sets_.test, classification_);
  return report_evaluated(epoch, m, extra, rank_seconds);
}

double TrainReporter::report_evaluated(std::size_t epoch, const Evaluated& m, const Json& extra,
                                       double rank_seconds) {
  Json j;
  j.add("epoch", static_cast<double>(epoch))
      .add("elapsed_s", clock_.elapsed())
      .add("train_mse", m.probe.mse);
  std::string line = label_ + "epoch " + std::to_string(epoch);
  if (rank_seconds >= 0) {
    const TimerStats t = reduce_timer(comm_, rank_seconds);
    j.add("solver_s_min", t.min).add("solver_s_avg", t.avg).add("solver_s_max", t.max);
    char text[96];
    std::snprintf(text, sizeof text, " (%.2f s; min/avg/max over ranks %.2f/%.2f/%.2f)", t.max,
                  t.min, t.avg, t.max);
    line += text;
  }
  line += ": train mse " + std::to_string(m.probe.mse);
  if (has_validation()) {
    j.add("validation_mse", m.validation.mse);
    line += ", validation mse " + std::to_string(m.validation.mse);
    if (classification_) j.add("validation_accuracy", m.validation.accuracy);
  }
  if (has_test_labels()) {
    last_test_ = m.test;
    j.add("test_mse", last_test_.mse);
    line += ", test mse " + std::to_string(last_test_.mse);
    if (classification_) {
      j.add("test_accuracy", last_test_.accuracy);
      line += ", test accuracy " + std::to_string(last_test_.accuracy);
    }
  }
  j.add("ranks", static_cast<double>(comm_.size())).add("peak_rss_mb_max", peak_rss_mb(comm_));
  metrics_.line(j.merge(extra).str());
  log_.info("%s", line.c_str());
  // This is collective anyway: a metrics line rank 0 could not write stops the run here.
  metrics_.check(comm_);
  // Early stopping (EarlyStopping::keep_best, tune) branches on it: agreed (mpi.hpp).
  return has_validation() ? comm_.agreed_value(m.validation.mse) : 0.0;
}

void TrainReporter::evaluate_final(const Matrix<double>& alpha, const LocalCenters* centers) {
  if (!has_test_labels()) return;
  const LocalCenters own = centers ? LocalCenters() : LocalCenters(problem_.x, precision_);
  last_test_ =
      evaluate(comm_, kernel_, centers ? *centers : own, alpha, sets_.test, classification_);
}

bool EarlyStopping::keep_best(const Log& log, bool has_validation, std::size_t epoch, double val,
                              const Matrix<double>& alpha) {
  if (!has_validation) return true;
  if (val < best_val) {
    best_val = val;
    best_epoch = epoch;
    best_alpha = alpha;
    return true;
  }
  if (epoch - best_epoch < patience) return true;
  log.info("early stopping: validation loss has not improved for %zu epochs (best: epoch %zu)",
           patience, best_epoch);
  return false;
}

}  // namespace kmpi
