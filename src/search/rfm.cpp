// Recursive Feature Machines around any solver (DESIGN §1.5): with M_0 = I, for t = 0..T fit the
// solver on the rows transformed by S_t = M_t^(1/2), score the fit on the validation split, keep
// the best, stop when the score is worse than the best by more than kRfmWorseFactor, else
// M_{t+1} = (AGOP / max|AGOP_ij|)^power (rfm.agop_power; the AGOP of centred gradients with
// rfm.center_gradients). The returned model is the best iteration's (centers, weights and
// S), so it is never worse on validation than the plain kernel fit (t = 0).
//
// Checkpoints: the loop's own state (next iteration, M, the best model so far, the metrics
// lines) in <run.checkpoint_dir>/rfm, written after each iteration's metric update; the inner
// solver checkpoints into <run.checkpoint_dir>/rfm-<t>, so a run stopped inside iteration t
// resumes there, and one stopped between iterations starts iteration t afresh.
#include <algorithm>
#include <cmath>

#include "driver/fit_steps.hpp"
#include "base/fault.hpp"
#include "kernels/agop.hpp"
#include "kernels/metric_root.hpp"
#include "state/checkpoint.hpp"
#include "base/permutation.hpp"

namespace kmpi {

namespace {

// A validation score worse than the best by more than this factor ends the loop (DESIGN §1.5).
constexpr double kRfmWorseFactor = 1.1;
constexpr std::size_t kRfmDefaultSamples = 20000;
constexpr std::size_t kRfmReportedEigenvalues = 5;

struct RfmSettings {
  std::size_t iterations = 0;  // T
  MetricKind kind = MetricKind::kFull;
  std::size_t samples = 0;  // N_s of the AGOP
  bool accuracy = true;     // scored by the validation error 1 - accuracy, else by the mse
  double power = 1;         // M_{t+1} = (G / max|G_ij|)^power
  bool center = false;      // the AGOP of centred gradients
};

// collective (agreed checks): rfm.* for this problem.
RfmSettings rfm_settings(const mpi::Communicator& comm, const Options& o, const ModelHeader& header,
                         std::size_t n, const TrainEvalSets& sets) {
  RfmSettings s;
  s.iterations = o.count("rfm.iterations");
  const std::string kind = o.str("rfm.metric");
  s.kind = kind == "diagonal" || (kind == "auto" && header.dimension > 2000) ? MetricKind::kDiagonal
                                                                             : MetricKind::kFull;
  const std::size_t asked = o.count("rfm.agop_samples");
  s.samples = std::min(n, asked == 0 ? kRfmDefaultSamples : asked);
  s.power = o.real("rfm.agop_power");
  s.center = o.flag("rfm.center_gradients");
  const bool classification = header.task == Task::kClassification;
  const std::string metric = o.str("rfm.validation_metric");
  s.accuracy = metric == "accuracy" || (metric == "auto" && classification);
  mpi::agree(comm, classification || !s.accuracy,
             "rfm.validation_metric = accuracy needs classes; the targets are real values");
  mpi::agree(comm, sets.validation.labeled,
             "rfm.iterations: RFM selects its iteration on a validation split; give "
             "data.validation_fraction or data.validation_features (or validation rows with "
             "labels)");
  return s;
}

FeatureMetric identity_metric(MetricKind kind, std::size_t d) {
  Matrix<double> m(kind == MetricKind::kFull ? d : 1, d);
  for (std::size_t j = 0; j < d; ++j) m(kind == MetricKind::kFull ? j : 0, j) = 1;
  return FeatureMetric::from_matrix(kind, m);
}

double score_of(const FitMetrics& m, bool accuracy) { return accuracy ? 1 - m.accuracy : m.mse; }

Matrix<double> transformed(const Matrix<double>& x, const FeatureMetric& metric) {
  Matrix<double> u = x;
  metric.apply(u);
  return u;
}

EvalSet transformed(const EvalSet& set, const FeatureMetric& metric) {
  EvalSet t = set;
  metric.apply(t.x);
  return t;
}

// The best iteration so far. Models with Z = X keep only their weights: the centers are the
// training rows transformed by `metric`, rebuilt at the end.
struct RfmBest {
  std::size_t iteration = 0;
  double score = INFINITY;
  FeatureMetric metric;
  Matrix<double> alpha;
  bool own_centers = false;
  Matrix<double> centers;  // own centers only: this rank's rows of BlockPartition(p, P)
  std::size_t centers_p = 0;
  FitMetrics validation, test;
};

// The loop's state between iterations.
struct RfmState {
  std::size_t next = 0;  // the iteration to run
  FeatureMetric metric;  // M_next as S
  RfmBest best;
};

// ---- The loop's checkpoint ----

constexpr const char* kRfmSolver = "rfm";

void save_rfm_state(const mpi::Communicator& comm, TrainCheckpoints& outer, const std::string& dir,
                    const RfmState& st) {
  Checkpoint ck = outer.create(kRfmSolver);
  ck.epoch = st.next;
  ck.scalars["best_iteration"] = static_cast<double>(st.best.iteration);
  ck.scalars["best_score"] = st.best.score;
  ck.scalars["best_test_mse"] = st.best.test.mse;
  ck.scalars["best_test_accuracy"] = st.best.test.accuracy;
  ck.scalars["best_validation_mse"] = st.best.validation.mse;
  ck.scalars["best_validation_accuracy"] = st.best.validation.accuracy;
  ck.scalars["metric_kind"] = static_cast<double>(st.metric.kind);
  ck.scalars["best_metric_kind"] = static_cast<double>(st.best.metric.kind);
  ck.scalars["best_own_centers"] = st.best.own_centers ? 1 : 0;
  ck.arrays.push_back(metric_checkpoint_array(comm, "metric", st.metric));
  if (st.next == 0) {  // no fit yet, no best
    save_checkpoint(comm, dir, ck);
    return;
  }
  ck.arrays.push_back(metric_checkpoint_array(comm, "best_metric", st.best.metric));
  const std::size_t rows = comm.allreduce_value(st.best.alpha.rows());
  ck.arrays.push_back({"best_alpha", rows, st.best.alpha.cols(), st.best.alpha});
  if (st.best.own_centers)
    ck.arrays.push_back(
        {"best_centers", st.best.centers_p, st.best.centers.cols(), st.best.centers});
  save_checkpoint(comm, dir, ck);
}

RfmState load_rfm_state(const mpi::Communicator& comm, const Checkpoint& ck, std::size_t d) {
  RfmState st;
  st.next = ck.epoch;
  st.metric = metric_from_checkpoint(comm, ck, "metric", d);
  st.best.iteration = static_cast<std::size_t>(ck.scalar("best_iteration"));
  st.best.score = ck.scalar("best_score", INFINITY);
  st.best.test = {ck.scalar("best_test_mse"), ck.scalar("best_test_accuracy", -1)};
  st.best.validation = {ck.scalar("best_validation_mse", 0),
                        ck.scalar("best_validation_accuracy", -1)};
  st.best.metric = metric_from_checkpoint(comm, ck, "best_metric", d);
  st.best.own_centers = ck.scalar("best_own_centers") != 0;
  if (const CheckpointArray* a = ck.array("best_alpha")) st.best.alpha = a->local;
  if (const CheckpointArray* z = ck.array("best_centers")) {
    st.best.centers = z->local;
    st.best.centers_p = z->rows;
  }
  return st;
}

// ---- One iteration ----

// What one iteration measured.
struct RfmIteration {
  FitMetrics validation, test;
  double fit_seconds = 0, agop_seconds = 0;
};

// collective: the AGOP of `model` (centers and sample rows transformed by `metric`), normalised
// by its largest entry and raised to rs.power, as the next metric (kernels/metric_root.hpp: the
// same bits on every rank).
FeatureMetric next_metric(const mpi::Communicator& comm, const TrainSetup& setup,
                          const RfmSettings& rs, const LocalModel& model,
                          const Matrix<double>& sample, const FeatureMetric& metric) {
  const Matrix<double> u = transformed(sample, metric);
  AgopInput in;
  in.kernel = setup.kernel;
  in.precision = setup.precision;
  in.sample = &u;
  in.sample_total = rs.samples;
  in.centers = &model.centers;
  in.alpha = &model.weights;
  in.layout = CenterLayout::kPartitioned;
  in.diagonal = rs.kind == MetricKind::kDiagonal;
  in.metric = &metric;
  in.center = rs.center;
  Matrix<double> g = agop(comm, in);
  // G is the same on every rank, so this verdict is too.
  double largest = 0;
  bool finite = true;
  for (std::size_t i = 0; i < g.size(); ++i) {
    finite = finite && std::isfinite(g.data()[i]);
    largest = std::max(largest, std::abs(g.data()[i]));
  }
  mpi::agree(comm, finite && largest > 0,
             "rfm: the AGOP of the fitted model is zero or not finite (it predicts a constant); "
             "there is no metric to learn from it");
  for (std::size_t i = 0; i < g.size(); ++i) g.data()[i] /= largest;
  // power = 1: the same bits as FeatureMetric::from_matrix (below kDistributedEigenDimension).
  return agreed_metric_root(comm, rs.kind, g, rs.power);
}

// collective: the metrics and log line of iteration t.
void report_iteration(const Log& log, MetricsWriter& metrics, const RunClock& clock, std::size_t t,
                      const RfmIteration& it, const FeatureMetric& metric,
                      const TrainEvalSets& sets, bool classification, bool selected_best) {
  Json j;
  j.add("event", "rfm").add("iteration", static_cast<double>(t));
  j.add("metric", metric_kind_name(metric.kind));
  j.add("validation_mse", it.validation.mse);
  if (classification) j.add("validation_accuracy", it.validation.accuracy);
  if (sets.test.labeled) {
    j.add("test_mse", it.test.mse);
    if (classification) j.add("test_accuracy", it.test.accuracy);
  }
  j.add("fit_s", it.fit_seconds).add("agop_s", it.agop_seconds);
  j.add("metric_top_eigenvalues", metric.is_identity()
                                      ? std::vector<double>{}
                                      : metric.top_eigenvalues(kRfmReportedEigenvalues));
  j.add("best", selected_best ? 1.0 : 0.0).add("elapsed_s", clock.elapsed());
  metrics.line(j.str());
  if (classification)
    log.info("rfm iteration %zu (%s metric): validation accuracy %.4f%s, fit %.2f s, agop %.2f s",
             t, metric_kind_name(metric.kind), it.validation.accuracy,
             selected_best ? " (best so far)" : "", it.fit_seconds, it.agop_seconds);
  else
    log.info("rfm iteration %zu (%s metric): validation mse %.6g%s, fit %.2f s, agop %.2f s", t,
             metric_kind_name(metric.kind), it.validation.mse,
             selected_best ? " (best so far)" : "", it.fit_seconds, it.agop_seconds);
}

// local: run.checkpoint_dir and run.resume for iteration t's solver: its own directory, and a
// resume only in the iteration the loop resumed into.
Options inner_options(const Options& o, std::size_t t, bool resumed_here) {
  Options inner = o;
  const std::string dir = o.str("run.checkpoint_dir");
  if (!dir.empty()) inner.set("run.checkpoint_dir", dir + "/rfm-" + std::to_string(t));
  inner.set("run.resume", resumed_here && o.str("run.resume") != "no" ? "auto" : "no");
  return inner;
}

// The loop, one object so each step reads as a named method: the settings, the AGOP sample,
// the loop's checkpoint and state live here for the whole run.
class RfmLoop {
 public:
  RfmLoop(const mpi::Communicator& comm, const Options& o, const TrainSetup& setup,
          const ModelHeader& header, TrainingProblem& base, TrainEvalSets& base_sets,
          const Matrix<double>& base_centers, std::size_t centers_p, MetricsWriter& metrics,
          RunClock& clock, const Log& log)
      : comm_(comm),
        o_(o),
        setup_(setup),
        header_(header),
        base_(base),
        base_sets_(base_sets),
        base_centers_(base_centers),
        centers_p_(centers_p),
        metrics_(metrics),
        clock_(clock),
        log_(log),
        classification_(header.task == Task::kClassification),
        rs_(rfm_settings(comm, o, header, base.partition.size(), base_sets)),
        dir_(o.str("run.checkpoint_dir")),
        outer_options_(with_checkpoint_dir(o, dir_.empty() ? "" : dir_ + "/rfm")),
        no_progress_(comm, outer_options_),
        outer_(comm, outer_options_, base, base_centers, metrics, clock, log, no_progress_) {
    // The AGOP sample: seeded global rows (the same for any rank count), block-partitioned.
    const std::size_t n = base.partition.size();
    std::vector<std::size_t> picks = random_subset(n, rs_.samples, setup.seed, RngStream::kAgop);
    std::sort(picks.begin(), picks.end());
    sample_ = distribute_selected_rows(comm, base.partition, base.x, picks,
                                       BlockPartition(rs_.samples, comm.size()));
  }

  // collective: the whole loop; the best iteration's model written and returned, or the exit
  // code of a stop.
  TrainResult run() {
    if (const int signal = fit()) return stopped(signal);
    return finish();
  }

  // collective: the loop, nothing written but its metrics lines and checkpoints; returns the
  // signal that stopped it after a checkpoint, or 0 (then best() is the selected iteration).
  int fit() {
    start_or_resume();
    const std::size_t first = st_.next;  // the iteration that may resume its solver's checkpoint
    for (std::size_t t = first; t <= rs_.iterations; ++t) {
      fault::point("rfm.iteration");
      bool last = false;
      if (const int signal = iterate(t, t == first, last)) return signal;
      if (last) break;
      if (!dir_.empty()) save_rfm_state(comm_, outer_, dir_ + "/rfm", st_);
      // A stop signal that came during a fit without step hooks (direct) is acted on here.
      const int signal =
          dir_.empty() ? 0 : comm_.allreduce_value(stop_signal_received(), mpi::Op::kMax);
      if (signal != 0) return signal;
    }
    return 0;
  }

  // local, after fit(): the selected iteration's model (moved out) and metrics.
  RfmFit best() {
    RfmFit f;
    f.iteration = st_.best.iteration;
    f.validation = st_.best.validation;
    f.test = st_.best.test;
    f.model = best_model();
    return f;
  }

 private:
  static Options with_checkpoint_dir(const Options& o, const std::string& dir) {
    Options copy = o;
    if (!dir.empty()) copy.set("run.checkpoint_dir", dir);
    return copy;
  }

  void start_or_resume() {
    st_.metric.dimension = st_.best.metric.dimension = header_.dimension;
    if (const Checkpoint* resumed = outer_.resume(kRfmSolver)) {
      st_ = load_rfm_state(comm_, *resumed, header_.dimension);
      log_.info("rfm: resuming at iteration %zu (best so far: iteration %zu)", st_.next,
                st_.best.iteration);
    } else if (!dir_.empty()) {
      save_rfm_state(comm_, outer_, dir_ + "/rfm", st_);  // so run.resume = require finds one
    }
  }

  // collective: iteration t: fit on the rows transformed by the current metric, validate, keep
  // the best, and (unless it is the last) the next metric. Returns the signal that stopped the
  // solver, or 0; `last` says the loop ends here.
  int iterate(std::size_t t, bool may_resume, bool& last) {
    RfmIteration it;
    Stopwatch fit_clock;
    TrainingProblem problem{base_.kernel, base_.partition, transformed(base_.x, st_.metric),
                            base_.y};
    const TrainEvalSets sets{transformed(base_sets_.probe, st_.metric),
                             transformed(base_sets_.validation, st_.metric),
                             transformed(base_sets_.test, st_.metric)};
    SolverRun run;
    try {
      run = run_solver(comm_, inner_options(o_, t, may_resume), setup_, classification_, problem,
                       sets, transformed(base_centers_, st_.metric), centers_p_, metrics_, clock_,
                       log_);
    } catch (const DivergedError& e) {
      if (t == 0) throw;  // the plain fit: no model to fall back on
      // Agreed inside the solver (every rank is here): the loop ends with the best so far.
      log_.info("rfm iteration %zu (%s metric): the solver diverged (%s); the loop ends", t,
                metric_kind_name(st_.metric.kind), e.what());
      metrics_.line(Json().add("event", "rfm").add("iteration", static_cast<double>(t))
                        .add("diverged", 1.0).add("elapsed_s", clock_.elapsed()).str());
      last = true;
      return 0;
    }
    if (run.outcome.interrupted) return run.stop_signal;
    ModelHeader h = header_;
    h.metric = st_.metric;
    const LocalModel model = assemble_model(h, problem, run.outcome);  // Z = X: takes problem.x
    const LocalCenters z(model.centers, setup_.precision);
    it.validation =
        evaluate(comm_, setup_.kernel, z, model.weights, sets.validation, classification_);
    it.test = run.test;
    it.fit_seconds = fit_clock.seconds();
    // Agreed (mpi.hpp): the best-iteration and stop decisions below branch on it.
    // A non-finite score (a NaN validation mse) is the worst, never "not worse".
    double score = comm_.agreed_value(score_of(it.validation, rs_.accuracy));
    if (!std::isfinite(score)) score = INFINITY;
    if (t == 0 && score == INFINITY)
      throw DivergedError("rfm: the plain fit (iteration 0) scored a non-finite validation loss");
    const bool improved = score < st_.best.score;
    if (improved) keep_as_best(t, score, model, run.outcome.own_centers, it);
    last = t == rs_.iterations || score > kRfmWorseFactor * st_.best.score;
    FeatureMetric next;
    if (!last) {
      Stopwatch agop_clock;
      next = next_metric(comm_, setup_, rs_, model, sample_, st_.metric);
      it.agop_seconds = agop_clock.seconds();
    }
    report_iteration(log_, metrics_, clock_, t, it, st_.metric, sets, classification_, improved);
    st_.metric = std::move(next);
    st_.next = t + 1;
    return 0;
  }

  void keep_as_best(std::size_t t, double score, const LocalModel& model, bool own_centers,
                    const RfmIteration& it) {
    RfmBest& b = st_.best;
    b.iteration = t;
    b.score = score;
    b.metric = st_.metric;
    b.alpha = model.weights;
    b.own_centers = own_centers;
    b.centers = own_centers ? model.centers : Matrix<double>();
    b.centers_p = own_centers ? model.partition.size() : 0;
    b.validation = it.validation;
    b.test = it.test;
  }

  TrainResult stopped(int signal) {
    TrainResult r;
    r.exit_code = stopped_after_checkpoint(comm_, log_, metrics_, clock_, signal);
    return r;
  }

  // local: the best iteration's model (Z = X: the training rows transformed by its metric).
  LocalModel best_model() {
    LocalModel model;
    model.header = header_;
    model.header.metric = st_.best.metric;
    if (st_.best.own_centers) {
      model.partition = BlockPartition(st_.best.centers_p, comm_.size());
      model.centers = std::move(st_.best.centers);
    } else {
      model.partition = base_.partition;
      model.centers = transformed(base_.x, st_.best.metric);
    }
    model.header.centers = model.partition.size();
    model.weights = std::move(st_.best.alpha);
    return model;
  }

  // collective: writes output.metric_matrix (first: a failure there leaves no model either) and
  // output.model, the selected iteration and the final metrics line.
  TrainResult finish() {
    LocalModel model = best_model();
    log_.info("rfm: returning iteration %zu (%s metric)", st_.best.iteration,
              metric_kind_name(st_.best.metric.kind));
    if (!o_.str("output.metric_matrix").empty()) {
      // The plain fit (M = I) is written as the identity of the learned kind.
      const FeatureMetric written = st_.best.metric.is_identity()
                                        ? identity_metric(rs_.kind, header_.dimension)
                                        : st_.best.metric;
      mpi::agree_on(comm_, [&] {
        if (comm_.rank() == 0) save_metric_file(o_.str("output.metric_matrix"), written);
      });
    }
    metrics_.line(Json()
                      .add("event", "rfm_selected")
                      .add("iteration", static_cast<double>(st_.best.iteration))
                      .add("metric", metric_kind_name(st_.best.metric.kind))
                      .str());
    return finish_run(comm_, o_, log_, metrics_, clock_, base_sets_.test, std::move(model),
                      st_.best.test, classification_);
  }

  const mpi::Communicator& comm_;
  const Options& o_;
  const TrainSetup& setup_;
  const ModelHeader& header_;
  TrainingProblem& base_;
  TrainEvalSets& base_sets_;
  const Matrix<double>& base_centers_;
  std::size_t centers_p_;
  MetricsWriter& metrics_;
  RunClock& clock_;
  const Log& log_;
  bool classification_;
  RfmSettings rs_;
  std::string dir_;
  Options outer_options_;
  Progress no_progress_;
  TrainCheckpoints outer_;  // the loop's own checkpoint, keyed to the untransformed problem
  Matrix<double> sample_;   // this rank's AGOP sample rows, untransformed
  RfmState st_;
};

}  // namespace

RfmFit run_rfm(const mpi::Communicator& comm, const Options& o, const TrainSetup& setup,
               const ModelHeader& header, TrainingProblem& base, TrainEvalSets& base_sets,
               const Matrix<double>& base_centers, std::size_t centers_p, MetricsWriter& metrics,
               RunClock& clock, const Log& log) {
  RfmLoop loop(comm, o, setup, header, base, base_sets, base_centers, centers_p, metrics, clock,
               log);
  RfmFit f;
  if (const int signal = loop.fit()) {
    f.stop_signal = signal;
    return f;
  }
  return loop.best();
}

TrainResult fit_rfm(const mpi::Communicator& comm, const Options& o, const TrainSetup& setup,
                    const ModelHeader& header, TrainingProblem& base, TrainEvalSets& base_sets,
                    const Matrix<double>& base_centers, std::size_t centers_p,
                    MetricsWriter& metrics, RunClock& clock, const Log& log) {
  return RfmLoop(comm, o, setup, header, base, base_sets, base_centers, centers_p, metrics, clock,
                 log)
      .run();
}

}  // namespace kmpi
