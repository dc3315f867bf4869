// `kmpi tune` (DESIGN §1.6): every point of the bandwidth x ridge grid fitted on the training
// rows and scored on the validation split; the best point's model is returned and written, and
// one table line per point goes to the log and the metrics.
//
// How the points are fitted (tune.shared = true):
//   eigenpro2 with several bandwidths: one group run (train_eigenpro2_group): the models step
//     together on the same batches, each tile's distances computed once for all of them;
//   falkon: train_falkon_grid (shared centers, per-bandwidth factors, shared CG products);
//   direct: solve_direct_grid (one kernel matrix per bandwidth, one factorisation per ridge);
//   otherwise (eigenpro4, tune.shared = false): point by point, each a whole solver run.
//
// Checkpoints (run.checkpoint_dir): the tune run's own state in <dir>/tune: for a group run its
// models' weights, counters and early-stopping states at a step boundary; for the falkon grid
// every point's CG state after a grid iteration; point by point, the finished points' table
// lines and the best model so far, with the running point's solver checkpointing into
// <dir>/tune-<i>. The direct grid has none (direct never checkpoints).
#include "kernels/shared_operator.hpp"
#include "search/tune.hpp"
#include "solvers/grid_solvers.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>

#include "driver/fit_steps.hpp"
#include "state/checkpoint.hpp"
#include "base/rng.hpp"

namespace kmpi {

double median_pairwise_distance(const mpi::Communicator& comm, const BlockPartition& part,
                                const Matrix<double>& x, std::size_t samples, std::uint64_t seed) {
  const std::size_t m = std::min(samples, part.size());
  std::vector<std::size_t> picks = random_subset(part.size(), m, seed, RngStream::kTune);
  std::sort(picks.begin(), picks.end());
  const Matrix<double> s = gather_selected_rows(comm, part, x, picks);
  // Rank 0 computes, every rank gets its bits (one broadcast of one value).
  double median = 0;
  if (comm.rank() == 0 && m >= 2) {
    std::vector<double> dist;
    dist.reserve(m * (m - 1) / 2);
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = i + 1; j < m; ++j) {
        double sum = 0;
        for (std::size_t l = 0; l < s.cols(); ++l) {
          const double t = s(i, l) - s(j, l);
          sum += t * t;
        }
        dist.push_back(std::sqrt(sum));
      }
    auto mid = dist.begin() + static_cast<std::ptrdiff_t>(dist.size() / 2);
    std::nth_element(dist.begin(), mid, dist.end());
    median = *mid;
  }
  comm.broadcast(&median, 1, 0);
  return median;
}

std::vector<double> auto_bandwidths(double median, std::size_t points) {
  std::vector<double> grid;
  for (std::size_t k = 0; k < points; ++k)
    grid.push_back(median * std::pow(2.0, -2.0 + 2.0 * static_cast<double>(k) /
                                                     static_cast<double>(
                                                         std::max<std::size_t>(points - 1, 1))));
  return grid;
}

namespace {

// What the tune.* options ask for, with the grid resolved.
struct TuneSettings {
  std::vector<double> bandwidths, ridges;  // ridges: one entry (unused) without a ridge
  bool has_ridge = false;                  // the solver has solver.ridge
  double median = 0;                       // tune.bandwidths = auto: the median distance
  bool accuracy = true;                    // selected by validation accuracy, else mse
  bool shared = true;
  std::size_t folds = 0;  // tune.folds: >= 2 scores every point by k-fold cross-validation
  std::size_t size() const { return bandwidths.size() * ridges.size(); }
};

// local: a comma-separated list of positive numbers (throws naming the key).
std::vector<double> parse_list(const std::string& key, const std::string& text) {
  std::vector<double> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(v > 0) || !std::isfinite(v))
      throw Error("option " + key + ": '" + item +
                  "' is not a positive number (expected a list "
                  "such as 2,3.5,5)");
    values.push_back(v);
  }
  if (values.empty()) throw Error("option " + key + ": no values");
  return values;
}

// collective (agreed checks): tune.* for this problem.
TuneSettings tune_settings(const mpi::Communicator& comm, const Options& o, const TrainSetup& setup,
                           const ModelHeader& header, const TrainingProblem& problem,
                           const TrainEvalSets& sets) {
  TuneSettings s;
  const std::string name = setup.solver->name;
  s.has_ridge = name == "falkon" || name == "direct";
  s.shared = o.flag("tune.shared");
  const bool automatic = o.str("tune.bandwidths") == "auto";
  mpi::agree_on(comm, [&] {
    if (!automatic) s.bandwidths = parse_list("tune.bandwidths", o.str("tune.bandwidths"));
    s.ridges = o.str("tune.ridges").empty() ? std::vector<double>{o.real("solver.ridge")}
                                            : parse_list("tune.ridges", o.str("tune.ridges"));
  });
  mpi::agree(comm, s.has_ridge || o.str("tune.ridges").empty(),
             "tune.ridges: solver.name = " + name + " has no ridge (falkon and direct have)");
  if (automatic) {
    s.median = median_pairwise_distance(comm, problem.partition, problem.x,
                                        o.count("tune.auto_samples"), setup.seed);
    mpi::agree(comm, s.median > 0,
               "tune.bandwidths = auto: the sampled training rows are all equal (median distance "
               "0); give tune.bandwidths");
    s.bandwidths = auto_bandwidths(s.median, o.count("tune.auto_points"));
  }
  const bool classification = header.task == Task::kClassification;
  const std::string metric = o.str("tune.metric");
  s.accuracy = metric == "accuracy" || (metric == "auto" && classification);
  mpi::agree(comm, classification || !s.accuracy,
             "tune.metric = accuracy needs classes; the targets are real values");
  s.folds = o.count("tune.folds");
  mpi::agree(comm, s.folds < 2 || !sets.validation.labeled,
             "tune.folds: the folds are the validation split; data.validation_fraction must be 0");
  mpi::agree(comm, s.folds < 2 || s.folds <= problem.partition.size(),
             "tune.folds: more folds than training rows");
  mpi::agree(comm, s.folds >= 2 || sets.validation.labeled,
             "kmpi tune selects on a validation split; give data.validation_fraction (or "
             "validation rows with labels), or tune.folds");
  return s;
}

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}

// One grid point's outcome.
struct TunePoint {
  double bandwidth = 0, ridge = 0;
  ModelStatus status = ModelStatus::kActive;  // kDiverged: no model; else fitted
  FitMetrics validation, test;
  double score = INFINITY;  // what the selection minimises: 1 - accuracy or the mse
  double fit_seconds = 0;   // this point's own run, or the shared run's whole time
};

// The best point so far and its model (Z = X: only the weights; the centers are the rows).
struct TuneBest {
  std::size_t point = 0;
  double score = INFINITY;
  Matrix<double> alpha;
  bool own_centers = false;
  Matrix<double> centers;  // own centers: this rank's rows of BlockPartition(centers_p, P)
  std::size_t centers_p = 0;
};

// local: the table (log and one metrics line per point) and the selected point's line. With
// folds, each point's metrics are the means over the folds (per-fold values in arrays).
void report_table(const Log& log, MetricsWriter& metrics, const TuneSettings& ts,
                  const std::vector<TunePoint>& points, std::size_t best, bool classification,
                  bool tested, const std::vector<std::vector<TunePoint>>* folds = nullptr) {
  log.info("tune: %5s %10s %10s %10s %12s %10s %12s %9s", "point", "bandwidth",
           ts.has_ridge ? "ridge" : "", "val_acc", "val_mse", "test_acc", "test_mse", "fit_s");
  for (std::size_t i = 0; i < points.size(); ++i) {
    const TunePoint& p = points[i];
    const bool diverged = p.status == ModelStatus::kDiverged;
    char ridge[16] = "", test_acc[16] = "", test_mse[16] = "";
    if (ts.has_ridge) std::snprintf(ridge, sizeof ridge, "%.3g", p.ridge);
    if (tested) {
      std::snprintf(test_acc, sizeof test_acc, "%.4f", p.test.accuracy);
      std::snprintf(test_mse, sizeof test_mse, "%.6g", p.test.mse);
    }
    log.info("tune: %5zu %10.4g %10s %10.4f %12.6g %10s %12s %9.2f%s", i, p.bandwidth, ridge,
             p.validation.accuracy, p.validation.mse, test_acc, test_mse, p.fit_seconds,
             diverged ? "  diverged" : (i == best ? "  <- selected" : ""));
    Json j;
    j.add("event", "tune").add("point", static_cast<double>(i)).add("bandwidth", p.bandwidth);
    if (ts.has_ridge) j.add("ridge", p.ridge);
    j.add("status", diverged ? "diverged" : "ok");
    if (!diverged) {
      j.add("validation_mse", p.validation.mse);
      if (classification) j.add("validation_accuracy", p.validation.accuracy);
      if (tested) {
        j.add("test_mse", p.test.mse);
        if (classification) j.add("test_accuracy", p.test.accuracy);
      }
      if (folds) {
        std::vector<double> mse, acc;
        for (const std::vector<TunePoint>& f : *folds) {
          mse.push_back(f[i].validation.mse);
          acc.push_back(f[i].validation.accuracy);
        }
        j.add("folds", static_cast<double>(folds->size())).add("validation_mse_folds", mse);
        if (classification) j.add("validation_accuracy_folds", acc);
      }
    }
    j.add("fit_s", p.fit_seconds).add("shared", ts.shared ? 1.0 : 0.0);
    metrics.line(j.str());
  }
  const TunePoint& b = points[best];
  log.info("tune: selected bandwidth %g%s (validation %s %.6g)", b.bandwidth,
           ts.has_ridge ? (", ridge " + number(b.ridge)).c_str() : "",
           ts.accuracy ? "accuracy" : "mse",
           ts.accuracy ? b.validation.accuracy : b.validation.mse);
  Json sel;
  sel.add("event", "tune_selected").add("point", static_cast<double>(best));
  sel.add("bandwidth", b.bandwidth);
  if (ts.has_ridge) sel.add("ridge", b.ridge);
  metrics.line(sel.str());
}

// A tune run's own checkpoint, in <run.checkpoint_dir>/<name> (none without a directory): the
// options pointing there, and its TrainCheckpoints (keyed to the problem it is given).
struct OwnCheckpoint {
  static Options with_dir(const Options& o, const std::string& dir) {
    Options copy = o;
    if (!dir.empty()) copy.set("run.checkpoint_dir", dir);
    return copy;
  }
  OwnCheckpoint(const FitInputs& in, const std::string& name)
      : dir(in.options.str("run.checkpoint_dir")),
        options(with_dir(in.options, dir.empty() ? "" : dir + "/" + name)),
        progress(in.comm, options),
        checkpoints(in.comm, options, in.problem, in.centers, in.metrics, in.clock, in.log,
                    progress) {}
  std::string dir;  // run.checkpoint_dir (empty: no checkpoints)
  Options options;
  Progress progress;
  TrainCheckpoints checkpoints;
};

constexpr const char* kTuneSolver = "tune";
constexpr const char* kGroupSolver = "eigenpro2-tune";
constexpr const char* kFalkonGridSolver = "falkon-tune";

class TuneRun {
 public:
  TuneRun(const FitInputs& in, const TuneSettings& ts)
      : in_(in),
        classification_(in.header.task == Task::kClassification),
        ts_(ts),
        own_(in, "tune"),
        dir_(own_.dir),
        progress_(own_.progress),
        outer_(own_.checkpoints) {
    for (double b : ts_.bandwidths)
      for (double r : ts_.ridges) {
        TunePoint p;
        p.bandwidth = b;
        p.ridge = r;
        points_.push_back(p);
      }
  }

  // collective: the whole search; the best point's model written and returned, or the exit
  // code of a stop.
  TrainResult run() {
    if (const int signal = fit()) {
      TrainResult r;
      r.exit_code = stopped_after_checkpoint(in_.comm, in_.log, in_.metrics, in_.clock, signal);
      return r;
    }
    return finish();
  }

  // collective: fits and scores every point (no table yet); returns the signal that stopped
  // it after a checkpoint, or 0.
  int fit() {
    report_grid();
    const std::string& name = in_.setup.solver->name;
    int signal = 0;
    if (ts_.shared && name == "eigenpro2" && ts_.bandwidths.size() > 1)
      signal = run_eigenpro2_group();
    else if (ts_.shared && name == "falkon")
      signal = run_falkon_grid();
    else if (ts_.shared && name == "direct")
      signal = run_direct_grid();
    else
      signal = run_point_by_point();
    return signal;
  }

  const std::vector<TunePoint>& points() const { return points_; }

 private:
  Kernel kernel_of(double bandwidth) const {
    Kernel k = in_.setup.kernel;
    k.bandwidth = bandwidth;
    return k;
  }

  void report_grid() {
    std::string list;
    for (double b : ts_.bandwidths) list += (list.empty() ? "" : ", ") + number(b).substr(0, 8);
    if (ts_.median > 0)
      in_.log.info("tune: median pairwise distance %.4g of %zu sampled rows: bandwidths %s",
                   ts_.median,
                   std::min(in_.options.count("tune.auto_samples"), in_.problem.partition.size()),
                   list.c_str());
    else
      in_.log.info("tune: bandwidths %s", list.c_str());
    Json j;
    j.add("event", "tune_grid").add("solver", in_.setup.solver->name);
    j.add("bandwidths", ts_.bandwidths);
    if (ts_.has_ridge) j.add("ridges", ts_.ridges);
    if (ts_.median > 0) j.add("median_distance", ts_.median);
    j.add("shared", ts_.shared ? 1.0 : 0.0);
    in_.metrics.line(j.str());
  }

  // collective: the validation and test metrics of points `which` with this rank's weights
  // `alphas` over the same centers `z` (null: the training rows), evaluated together.
  void score_points(const std::vector<std::size_t>& which,
                    const std::vector<const Matrix<double>*>& alphas, const LocalCenters* z) {
    std::vector<Kernel> kernels;
    for (std::size_t i : which) kernels.push_back(kernel_of(points_[i].bandwidth));
    const LocalCenters rows = z ? LocalCenters() : LocalCenters(in_.problem.x, in_.setup.precision);
    const LocalCenters& centers = z ? *z : rows;
    const std::vector<FitMetrics> val =
        evaluate_shared(in_.comm, kernels, centers, alphas, in_.sets.validation, classification_);
    const std::vector<FitMetrics> test =
        evaluate_shared(in_.comm, kernels, centers, alphas, in_.sets.test, classification_);
    for (std::size_t w = 0; w < which.size(); ++w) {
      TunePoint& p = points_[which[w]];
      p.validation = val[w];
      p.test = test[w];
      p.score = ts_.accuracy ? 1 - p.validation.accuracy : p.validation.mse;
      if (!std::isfinite(p.score)) p.score = INFINITY;
    }
  }

  // local: keeps point i's model if it scores better than the best so far (ties: the first).
  void consider(std::size_t i, const Matrix<double>& alpha, bool own_centers,
                const Matrix<double>& centers, std::size_t centers_p) {
    if (!(points_[i].score < best_.score)) return;
    best_.point = i;
    best_.score = points_[i].score;
    best_.alpha = alpha;
    best_.own_centers = own_centers;
    best_.centers = own_centers ? centers : Matrix<double>();
    best_.centers_p = own_centers ? centers_p : 0;
  }

  // ---- EigenPro 2, all bandwidths at once ----

  struct GroupModel {
    std::unique_ptr<TrainReporter> reporter;
    EarlyStopping stopping;
    bool logged_setup = false;
  };

  // collective: the group run; returns the stop signal after a checkpoint, or 0.
  int run_eigenpro2_group() {
    const std::size_t G = points_.size(), n = in_.problem.partition.size(),
                      c = in_.problem.y.cols();
    std::vector<Kernel> kernels;
    for (const TunePoint& p : points_) kernels.push_back(kernel_of(p.bandwidth));
    std::vector<GroupModel> models(G);
    for (std::size_t k = 0; k < G; ++k) {
      models[k].reporter = std::make_unique<TrainReporter>(
          in_.comm, in_.log, in_.metrics, in_.clock, in_.problem, kernels[k], in_.setup.precision,
          classification_, in_.sets,
          "bandwidth " + number(points_[k].bandwidth).substr(0, 8) + ": ");
      models[k].stopping.patience = in_.options.count("solver.patience");
    }
    EigenPro2GroupControl control;
    std::vector<Matrix<double>> start_alphas;
    if (const Checkpoint* ck = outer_.resume(kGroupSolver)) {
      start_alphas.resize(G);
      control.start_epoch = ck->epoch;
      control.start_step = ck->step;
      for (std::size_t k = 0; k < G; ++k) {
        const std::string s = std::to_string(k);
        const CheckpointArray* a = ck->array("alpha_" + s);
        mpi::agree(in_.comm, a && a->rows == n && a->cols == c,
                   outer_.path() + ": has no weights of this problem's shape");
        start_alphas[k] = a->local;
        control.start_alphas.push_back(&start_alphas[k]);
        control.start_loss_sums.push_back(ck->scalar("loss_sum_" + s));
        control.start_status.push_back(static_cast<ModelStatus>(ck->scalar("status_" + s)));
        EarlyStopping& st = models[k].stopping;
        st.best_epoch = static_cast<std::size_t>(ck->scalar("best_epoch_" + s));
        st.best_val = st.best_epoch > 0 ? ck->scalar("best_val_" + s) : INFINITY;
        if (const CheckpointArray* b = ck->array("best_alpha_" + s)) st.best_alpha = b->local;
        models[k].logged_setup = ck->scalar("logged_" + s) != 0;
      }
      in_.log.info("resuming from %s: epoch %zu, step %zu done", outer_.path().c_str(), ck->epoch,
                   ck->step);
    }
    if (progress_.enabled())
      control.on_setup = [this](const char* stage, double done, double total) {
        progress_.work(stage, done, total);
      };
    if (outer_.hooked())
      control.after_step = [&](const EigenPro2GroupStep& st) {
        progress_.epoch_step(st.epoch, in_.options.count("solver.epochs"), st.step,
                             st.steps_per_epoch, n);
        return outer_.after_step([&] { return group_checkpoint(st, models); },
                                 [&] {
                                   return "epoch " + std::to_string(st.epoch) + ", step " +
                                          std::to_string(st.step) + " of " +
                                          std::to_string(st.steps_per_epoch);
                                 });
      };
    // Every epoch's reports: the models evaluated together on each set (shared distances).
    const LocalCenters rows(in_.problem.x, in_.setup.precision);
    const auto on_epoch = [&](const std::vector<std::size_t>& ks,
                              const std::vector<EpochState>& states, std::vector<char>& keep) {
      std::vector<Kernel> ek;
      std::vector<const Matrix<double>*> ea;
      for (std::size_t i = 0; i < ks.size(); ++i) {
        ek.push_back(kernels[ks[i]]);
        ea.push_back(states[i].alpha);
      }
      const auto probe = evaluate_shared(in_.comm, ek, rows, ea, in_.sets.probe, classification_);
      const auto val =
          evaluate_shared(in_.comm, ek, rows, ea, in_.sets.validation, classification_);
      const auto test = evaluate_shared(in_.comm, ek, rows, ea, in_.sets.test, classification_);
      for (std::size_t i = 0; i < ks.size(); ++i) {
        const std::size_t k = ks[i];
        const EpochState& st = states[i];
        GroupModel& md = models[k];
        if (!md.logged_setup) {
          md.logged_setup = true;
          report_group_setup(k, st);
        }
        const double v = md.reporter->report_evaluated(
            st.epoch, {probe[i], val[i], test[i]},
            Json()
                .add("solver", "eigenpro2")
                .add("point", static_cast<double>(k))
                .add("bandwidth", points_[k].bandwidth)
                .add("epoch_s", st.epoch_seconds)
                .add("batch_loss", st.batch_loss)
                .add("batch_size", static_cast<double>(st.parameters->batch_size))
                .add("step_size", st.parameters->step_size),
            st.epoch_seconds);
        keep[i] = md.stopping.keep_best(in_.log, true, st.epoch, v, *st.alpha) ? 1 : 0;
      }
    };
    Stopwatch group_clock;
    EigenPro2GroupResult group = train_eigenpro2_group(
        in_.comm, in_.problem, kernels,
        eigenpro2_options(in_.options, in_.setup.seed, in_.setup.precision), on_epoch, control);
    if (group.interrupted) return outer_.stop_signal();
    const double group_seconds = group_clock.seconds();
    in_.log.info("tune: %zu eigenpro2 models stepped together (batch %zu) in %.2f s", G,
                 group.batch_size, group_seconds);
    std::vector<std::size_t> fitted;
    std::vector<const Matrix<double>*> returned;
    for (std::size_t k = 0; k < G; ++k) {
      points_[k].status = group.status[k];
      points_[k].fit_seconds = group_seconds;
      if (group.status[k] == ModelStatus::kDiverged) {
        in_.log.info("tune: bandwidth %g diverged (non-finite residual); left out",
                     points_[k].bandwidth);
        continue;
      }
      const EarlyStopping& st = models[k].stopping;
      fitted.push_back(k);
      returned.push_back(st.best_epoch > 0 ? &st.best_alpha : &group.models[k].alpha);
    }
    score_points(fitted, returned, nullptr);
    for (std::size_t w = 0; w < fitted.size(); ++w)
      consider(fitted[w], *returned[w], false, Matrix<double>(), 0);
    return 0;
  }

  Checkpoint group_checkpoint(const EigenPro2GroupStep& st, const std::vector<GroupModel>& models) {
    const std::size_t n = in_.problem.partition.size(), c = in_.problem.y.cols();
    Checkpoint ck = outer_.create(kGroupSolver);
    ck.epoch = st.epoch - 1;
    ck.step = st.step;
    for (std::size_t k = 0; k < models.size(); ++k) {
      const std::string s = std::to_string(k);
      const EarlyStopping& es = models[k].stopping;
      ck.scalars["loss_sum_" + s] = st.loss_sums[k];
      ck.scalars["status_" + s] = static_cast<double>(st.status[k]);
      ck.scalars["best_epoch_" + s] = static_cast<double>(es.best_epoch);
      ck.scalars["best_val_" + s] = es.best_epoch > 0 ? es.best_val : 0.0;
      ck.scalars["logged_" + s] = models[k].logged_setup ? 1.0 : 0.0;
      ck.arrays.push_back({"alpha_" + s, n, c, *st.alphas[k]});
      if (es.best_epoch > 0) ck.arrays.push_back({"best_alpha_" + s, n, c, es.best_alpha});
    }
    return ck;
  }

  void report_group_setup(std::size_t k, const EpochState& st) {
    const EigenPro2Parameters& prm = *st.parameters;
    in_.log.info(
        "eigenpro2 (bandwidth %g): q = %zu, lambda_1 = %.4g, lambda_q+1 = %.4g, batch %zu, "
        "step %.4g, setup %.2f s",
        points_[k].bandwidth, prm.q, prm.lambda_1, prm.lambda_q1, prm.batch_size, prm.step_size,
        st.setup_seconds);
    in_.metrics.line(Json()
                         .add("event", "setup")
                         .add("solver", "eigenpro2")
                         .add("point", static_cast<double>(k))
                         .add("bandwidth", points_[k].bandwidth)
                         .add("q", static_cast<double>(prm.q))
                         .add("lambda_1", prm.lambda_1)
                         .add("lambda_q1", prm.lambda_q1)
                         .add("batch_size", static_cast<double>(prm.batch_size))
                         .add("step_size", prm.step_size)
                         .add("setup_s", st.setup_seconds)
                         .str());
  }

  // ---- Falkon and direct over the grid ----

  // collective: falkon for every point at once (train_falkon_grid); checkpoints hold every
  // point's CG state after a grid iteration. Returns the stop signal after one, or 0.
  int run_falkon_grid() {
    std::vector<Kernel> kernels;
    for (double b : ts_.bandwidths) kernels.push_back(kernel_of(b));
    const FalkonOptions fo = falkon_options(in_.options, in_.setup.seed, in_.setup.precision,
                                            in_.centers_p > 0 ? &in_.centers : nullptr);
    const std::size_t c = in_.problem.y.cols(), points = points_.size();
    FalkonGridControl control;
    std::vector<FalkonCgState> start;
    if (const Checkpoint* ck = outer_.resume(kFalkonGridSolver)) {
      for (std::size_t i = 0; i < points; ++i) {
        const std::string prefix = "p" + std::to_string(i) + "_";
        const auto done = static_cast<std::size_t>(ck->scalar(prefix + "iteration"));
        start.push_back(load_cg_state(in_.comm, *ck, prefix, done, c, outer_.path()));
      }
      control.start = &start;
      in_.log.info("resuming from %s: the grid's CG states after %zu iterations",
                   outer_.path().c_str(), ck->step);
    }
    if (progress_.enabled())
      control.on_setup = [this](const char* stage, double done, double total) {
        progress_.work(stage, done, total);
      };
    if (outer_.hooked())
      control.after_iteration = [&](const std::vector<FalkonCgState>& states) {
        std::size_t most = 0;
        for (const FalkonCgState& st : states) most = std::max(most, st.iteration);
        progress_.iteration("grid CG iteration", most, fo.iterations);
        return outer_.after_step(
            [&] {
              Checkpoint ck = outer_.create(kFalkonGridSolver);
              ck.step = most;
              for (std::size_t i = 0; i < states.size(); ++i) {
                const std::string prefix = "p" + std::to_string(i) + "_";
                ck.scalars[prefix + "iteration"] = static_cast<double>(states[i].iteration);
                store_cg_state(in_.comm, states[i], prefix, ck);
              }
              return ck;
            },
            [&] { return "grid CG iteration " + std::to_string(most); });
      };
    Stopwatch clock;
    std::vector<FalkonResult> results =
        train_falkon_grid(in_.comm, in_.problem, kernels, ts_.ridges, fo, {}, control);
    if (!results.empty() && results.front().interrupted) return outer_.stop_signal();
    const double seconds = clock.seconds();
    in_.log.info("tune: %zu falkon points trained together (p = %zu) in %.2f s (setup %.2f s)",
                 points, results.front().center_partition.size(), seconds,
                 results.front().setup_seconds);
    // Every point has the same centers: one evaluation pass for all of them.
    const LocalCenters z(results.front().centers, in_.setup.precision);
    std::vector<std::size_t> fitted;
    std::vector<const Matrix<double>*> alphas;
    for (std::size_t i = 0; i < points; ++i) {
      const FalkonResult& r = results[i];
      points_[i].fit_seconds = seconds;
      points_[i].status =
          r.residual_grew && r.best_iteration == 0 ? ModelStatus::kDiverged : ModelStatus::kStopped;
      if (r.residual_grew)
        in_.log.info("tune: falkon point %zu: the CG residual grew; iteration %zu kept", i,
                     r.best_iteration);
      if (points_[i].status == ModelStatus::kDiverged) continue;
      fitted.push_back(i);
      alphas.push_back(&r.alpha);
    }
    score_points(fitted, alphas, &z);
    for (std::size_t w = 0; w < fitted.size(); ++w) {
      const FalkonResult& r = results[fitted[w]];
      consider(fitted[w], r.alpha, true, r.centers, r.center_partition.size());
    }
    return 0;
  }

  // collective: direct for every point at once (solve_direct_grid); no checkpoints (direct
  // has none), a stop signal is acted on after it.
  int run_direct_grid() {
    std::vector<Kernel> kernels;
    for (double b : ts_.bandwidths) kernels.push_back(kernel_of(b));
    Stopwatch clock;
    const std::vector<Matrix<double>> alphas =
        solve_direct_grid(in_.comm, in_.problem, kernels, ts_.ridges);
    const double seconds = clock.seconds();
    in_.log.info("tune: %zu direct solves (one kernel matrix per bandwidth) in %.2f s",
                 points_.size(), seconds);
    std::vector<std::size_t> all;
    std::vector<const Matrix<double>*> pointers;
    for (std::size_t i = 0; i < points_.size(); ++i) {
      points_[i].fit_seconds = seconds;
      points_[i].status = ModelStatus::kStopped;
      all.push_back(i);
      pointers.push_back(&alphas[i]);
    }
    score_points(all, pointers, nullptr);
    for (std::size_t i = 0; i < points_.size(); ++i)
      consider(i, alphas[i], false, Matrix<double>(), 0);
    return 0;
  }

  // ---- Point by point ----

  // local: point i's options: its bandwidth and ridge, its solver's checkpoint directory
  // <dir>/tune-<i>, and a resume only for the point the run resumed into.
  Options point_options(std::size_t i, bool resumed_here) const {
    Options inner = in_.options;
    inner.set("kernel.bandwidth", number(points_[i].bandwidth));
    if (ts_.has_ridge) inner.set("solver.ridge", number(points_[i].ridge));
    if (!dir_.empty()) inner.set("run.checkpoint_dir", dir_ + "/tune-" + std::to_string(i));
    inner.set("run.resume", resumed_here && in_.options.str("run.resume") != "no" ? "auto" : "no");
    return inner;
  }

  // collective: every point as a run of its own; returns the stop signal after a checkpoint.
  int run_point_by_point() {
    std::size_t first = 0;
    if (const Checkpoint* ck = outer_.resume(kTuneSolver)) {
      first = load_points(*ck);
      in_.log.info("tune: resuming at point %zu of %zu", first, points_.size());
    } else if (!dir_.empty()) {
      save_points(0);  // so run.resume = require finds one
    }
    const Kernel kept = in_.problem.kernel;
    for (std::size_t i = first; i < points_.size(); ++i) {
      Stopwatch fit_clock;
      in_.problem.kernel = kernel_of(points_[i].bandwidth);
      SolverRun run = run_solver(in_.comm, point_options(i, i == first), in_.setup, classification_,
                                 in_.problem, in_.sets, in_.centers, in_.centers_p, in_.metrics,
                                 in_.clock, in_.log);
      in_.problem.kernel = kept;
      if (run.outcome.interrupted) return run.stop_signal;
      SolverOutcome& out = run.outcome;
      const LocalCenters z =
          out.own_centers ? LocalCenters(out.centers, in_.setup.precision) : LocalCenters();
      score_points({i}, {&out.alpha}, out.own_centers ? &z : nullptr);
      points_[i].status = ModelStatus::kStopped;
      points_[i].fit_seconds = fit_clock.seconds();
      consider(i, out.alpha, out.own_centers, out.centers, out.center_partition.size());
      if (!dir_.empty()) save_points(i + 1);
      // A stop signal that came during a fit without step hooks (direct) is acted on here.
      const int signal =
          dir_.empty() ? 0 : in_.comm.allreduce_value(stop_signal_received(), mpi::Op::kMax);
      if (signal != 0 && i + 1 < points_.size()) return signal;
    }
    return 0;
  }

  void save_points(std::size_t next) {
    Checkpoint ck = outer_.create(kTuneSolver);
    ck.epoch = next;
    for (std::size_t i = 0; i < next; ++i) {
      const std::string s = std::to_string(i);
      const TunePoint& p = points_[i];
      ck.scalars["val_mse_" + s] = p.validation.mse;
      ck.scalars["val_acc_" + s] = p.validation.accuracy;
      ck.scalars["test_mse_" + s] = p.test.mse;
      ck.scalars["test_acc_" + s] = p.test.accuracy;
      ck.scalars["score_" + s] = std::isfinite(p.score) ? p.score : -1;
      ck.scalars["fit_s_" + s] = p.fit_seconds;
    }
    ck.scalars["best_point"] = static_cast<double>(best_.point);
    ck.scalars["best_own_centers"] = best_.own_centers ? 1 : 0;
    if (next > 0 && std::isfinite(best_.score)) {
      const std::size_t rows = in_.comm.allreduce_value(best_.alpha.rows());
      ck.arrays.push_back({"best_alpha", rows, best_.alpha.cols(), best_.alpha});
      if (best_.own_centers)
        ck.arrays.push_back({"best_centers", best_.centers_p, best_.centers.cols(), best_.centers});
    }
    save_checkpoint(in_.comm, dir_ + "/tune", ck);
  }

  std::size_t load_points(const Checkpoint& ck) {
    const std::size_t next = std::min(ck.epoch, points_.size());
    for (std::size_t i = 0; i < next; ++i) {
      const std::string s = std::to_string(i);
      TunePoint& p = points_[i];
      p.status = ModelStatus::kStopped;
      p.validation = {ck.scalar("val_mse_" + s), ck.scalar("val_acc_" + s, -1)};
      p.test = {ck.scalar("test_mse_" + s), ck.scalar("test_acc_" + s, -1)};
      const double score = ck.scalar("score_" + s, -1);
      p.score = score < 0 ? INFINITY : score;
      p.fit_seconds = ck.scalar("fit_s_" + s);
    }
    if (const CheckpointArray* a = ck.array("best_alpha")) {
      best_.point = static_cast<std::size_t>(ck.scalar("best_point"));
      best_.score = points_[best_.point].score;
      best_.alpha = a->local;
      best_.own_centers = ck.scalar("best_own_centers") != 0;
      if (const CheckpointArray* z = ck.array("best_centers")) {
        best_.centers = z->local;
        best_.centers_p = z->rows;
      }
    }
    return next;
  }

  // ---- The result ----

  // collective: the table, the selected point's model written, the final lines.
  TrainResult finish() {
    mpi::agree(in_.comm, std::isfinite(best_.score),
               "kmpi tune: no grid point gave a model (every one diverged or scored NaN)");
    report_table(in_.log, in_.metrics, ts_, points_, best_.point, classification_,
                 in_.sets.test.labeled);
    const TunePoint& b = points_[best_.point];
    LocalModel model;
    model.header = in_.header;
    model.header.kernel = kernel_of(b.bandwidth);
    if (best_.own_centers) {
      model.partition = BlockPartition(best_.centers_p, in_.comm.size());
      model.centers = std::move(best_.centers);
    } else {
      model.partition = in_.problem.partition;
      model.centers = std::move(in_.problem.x);
    }
    model.header.centers = model.partition.size();
    model.weights = std::move(best_.alpha);
    return finish_run(in_.comm, in_.options, in_.log, in_.metrics, in_.clock, in_.sets.test,
                      std::move(model), b.test, classification_);
  }

  FitInputs in_;
  bool classification_;
  TuneSettings ts_;
  OwnCheckpoint own_;  // <dir>/tune
  const std::string& dir_;
  Progress& progress_;
  TrainCheckpoints& outer_;
  std::vector<TunePoint> points_;
  TuneBest best_;
};

// k-fold cross-validation around TuneRun (tune.folds = k >= 2): row i belongs to fold
// permutation-position mod k (a seeded permutation, the same at any rank count); for each fold
// the grid is fitted on the other folds and scored on it; a point's score is the mean over the
// folds; the selected point is then refitted on every row, and that model is written.
// Checkpoints: the finished folds' scores in <dir>/folds, fold f's grid in <dir>/fold-<f>, the
// refit in <dir>/refit.
class TuneFolds {
 public:
  TuneFolds(const FitInputs& in, const TuneSettings& ts)
      : in_(in),
        classification_(in.header.task == Task::kClassification),
        ts_(ts),
        own_(in, "folds"),
        dir_(own_.dir),
        outer_(own_.checkpoints),
        scores_(ts.folds) {}

  TrainResult run() {
    const std::size_t k = ts_.folds;
    std::size_t first = 0;
    if (const Checkpoint* ck = outer_.resume("tune-folds")) {
      first = load(*ck);
      in_.log.info("tune: resuming at fold %zu of %zu", first, k);
    } else if (!dir_.empty()) {
      save(0);
    }
    const std::vector<std::size_t> fold_of = fold_assignment();
    for (std::size_t f = first; f < k; ++f) {
      if (const int signal = fit_fold(f, fold_of, f == first)) return stopped(signal);
      if (!dir_.empty()) save(f + 1);
      const int signal =
          dir_.empty() ? 0 : in_.comm.allreduce_value(stop_signal_received(), mpi::Op::kMax);
      if (signal != 0) return stopped(signal);
    }
    return refit(first == k);
  }

 private:
  // local: the fold of every global row.
  std::vector<std::size_t> fold_assignment() const {
    const std::size_t n = in_.problem.partition.size();
    const std::vector<std::size_t> perm =
        random_permutation(n, in_.setup.seed, RngStream::kTune, 1);
    std::vector<std::size_t> fold_of(n);
    for (std::size_t j = 0; j < n; ++j) fold_of[perm[j]] = j % ts_.folds;
    return fold_of;
  }

  // local: run.checkpoint_dir = <dir>/<name> and a resume only where the run resumed into.
  Options inner_options(const std::string& name, bool resumed_here) const {
    Options inner = in_.options;
    if (!dir_.empty()) inner.set("run.checkpoint_dir", dir_ + "/" + name);
    inner.set("run.resume", resumed_here && in_.options.str("run.resume") != "no" ? "auto" : "no");
    return inner;
  }

  // collective: fold f's grid: fitted on the other folds' rows, scored on fold f's.
  int fit_fold(std::size_t f, const std::vector<std::size_t>& fold_of, bool resumed_here) {
    std::vector<std::size_t> train, validation;
    for (std::size_t i = 0; i < fold_of.size(); ++i)
      (fold_of[i] == f ? validation : train).push_back(i);
    LocalData all;
    all.partition = in_.problem.partition;
    all.features = in_.problem.x;
    all.targets = in_.problem.y;
    all.dimension = in_.problem.x.cols();
    LocalData tr = take_rows(in_.comm, all, train), va = take_rows(in_.comm, all, validation);
    TrainingProblem problem{in_.problem.kernel, tr.partition, std::move(tr.features),
                            std::move(tr.targets)};
    EvalSet val;
    val.name = "validation";
    val.offsets = offsets_of(va.partition);
    val.x = std::move(va.features);
    val.y = std::move(va.targets);
    val.n = va.partition.size();
    val.labeled = true;
    TrainEvalSets sets{training_probe(in_.comm, problem, in_.setup.seed), std::move(val),
                       in_.sets.test};
    in_.log.info("tune: fold %zu of %zu: %zu training rows, %zu validation rows", f + 1, ts_.folds,
                 train.size(), validation.size());
    const Options o = inner_options("fold-" + std::to_string(f), resumed_here);  // outlives run
    TuneRun run({in_.comm, o, in_.setup, in_.header, problem, sets, in_.centers, in_.centers_p,
                 in_.metrics, in_.clock, in_.log},
                ts_);
    if (const int signal = run.fit()) return signal;
    scores_[f] = run.points();
    return 0;
  }

  // collective: the mean over the folds, the table, the selected point refitted on every row.
  TrainResult refit(bool resumed_here) {
    std::vector<TunePoint> mean = scores_.front();
    std::size_t best = 0;
    double best_score = INFINITY;
    const double k = static_cast<double>(ts_.folds);
    for (std::size_t i = 0; i < mean.size(); ++i) {
      TunePoint& p = mean[i];
      p.validation = p.test = FitMetrics{0, classification_ ? 0.0 : -1.0};
      p.score = p.fit_seconds = 0;
      for (const std::vector<TunePoint>& fold : scores_) {
        const TunePoint& q = fold[i];
        if (q.status == ModelStatus::kDiverged) p.status = ModelStatus::kDiverged;
        p.validation.mse += q.validation.mse / k;
        p.test.mse += q.test.mse / k;
        if (classification_) {
          p.validation.accuracy += q.validation.accuracy / k;
          p.test.accuracy += q.test.accuracy / k;
        }
        p.score += q.score / k;
        p.fit_seconds += q.fit_seconds;
      }
      if (p.status == ModelStatus::kDiverged || !std::isfinite(p.score)) p.score = INFINITY;
      if (p.score < best_score) {
        best_score = p.score;
        best = i;
      }
    }
    mpi::agree(in_.comm, std::isfinite(best_score),
               "kmpi tune: no grid point gave a model in every fold (diverged or NaN)");
    report_table(in_.log, in_.metrics, ts_, mean, best, classification_, in_.sets.test.labeled,
                 &scores_);
    // The refit: the selected point on every row (no validation: iterative solvers run all
    // their epochs).
    const TunePoint& b = mean[best];
    Options o = inner_options("refit", resumed_here);
    o.set("kernel.bandwidth", number(b.bandwidth));
    if (ts_.has_ridge) o.set("solver.ridge", number(b.ridge));
    ModelHeader header = in_.header;
    header.kernel = in_.setup.kernel;
    header.kernel.bandwidth = b.bandwidth;
    in_.problem.kernel = header.kernel;
    in_.log.info("tune: refitting bandwidth %g on all %zu rows", b.bandwidth,
                 in_.problem.partition.size());
    SolverRun run = run_solver(in_.comm, o, in_.setup, classification_, in_.problem, in_.sets,
                               in_.centers, in_.centers_p, in_.metrics, in_.clock, in_.log);
    if (run.outcome.interrupted) return stopped(run.stop_signal);
    return finish_run(in_.comm, in_.options, in_.log, in_.metrics, in_.clock, in_.sets.test,
                      assemble_model(header, in_.problem, run.outcome), run.test, classification_);
  }

  TrainResult stopped(int signal) {
    TrainResult r;
    r.exit_code = stopped_after_checkpoint(in_.comm, in_.log, in_.metrics, in_.clock, signal);
    return r;
  }

  // The finished folds' per-point scores (replicated scalars).
  void save(std::size_t next) {
    Checkpoint ck = outer_.create("tune-folds");
    ck.epoch = next;
    for (std::size_t f = 0; f < next; ++f)
      for (std::size_t i = 0; i < scores_[f].size(); ++i) {
        const std::string s = std::to_string(f) + "_" + std::to_string(i);
        const TunePoint& p = scores_[f][i];
        ck.scalars["vm_" + s] = p.validation.mse;
        ck.scalars["va_" + s] = p.validation.accuracy;
        ck.scalars["tm_" + s] = p.test.mse;
        ck.scalars["ta_" + s] = p.test.accuracy;
        ck.scalars["sc_" + s] = std::isfinite(p.score) ? p.score : -1;
        ck.scalars["st_" + s] = static_cast<double>(p.status);
        ck.scalars["fs_" + s] = p.fit_seconds;
      }
    save_checkpoint(in_.comm, dir_ + "/folds", ck);
  }

  std::size_t load(const Checkpoint& ck) {
    const std::size_t next = std::min(ck.epoch, ts_.folds);
    for (std::size_t f = 0; f < next; ++f) {
      scores_[f].clear();
      std::size_t i = 0;
      for (double b : ts_.bandwidths)
        for (double r : ts_.ridges) {
          const std::string s = std::to_string(f) + "_" + std::to_string(i++);
          TunePoint p;
          p.bandwidth = b;
          p.ridge = r;
          p.validation = {ck.scalar("vm_" + s), ck.scalar("va_" + s, -1)};
          p.test = {ck.scalar("tm_" + s), ck.scalar("ta_" + s, -1)};
          const double score = ck.scalar("sc_" + s, -1);
          p.score = score < 0 ? INFINITY : score;
          p.status = static_cast<ModelStatus>(ck.scalar("st_" + s));
          p.fit_seconds = ck.scalar("fs_" + s);
          scores_[f].push_back(p);
        }
    }
    return next;
  }

  FitInputs in_;
  bool classification_;
  TuneSettings ts_;
  OwnCheckpoint own_;  // <dir>/folds
  const std::string& dir_;
  TrainCheckpoints& outer_;
  std::vector<std::vector<TunePoint>> scores_;  // per fold, per point
};

}  // namespace

TrainResult fit_tune(const FitInputs& in) {
  const TuneSettings ts =
      tune_settings(in.comm, in.options, in.setup, in.header, in.problem, in.sets);
  if (ts.folds >= 2) return TuneFolds(in, ts).run();
  return TuneRun(in, ts).run();
}

}  // namespace kmpi
