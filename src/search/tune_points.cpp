// `kmpi tune` point by point (src/search/tune_internal.hpp; eigenpro4, eigenpro2 with one
// bandwidth, tune.shared = false): every point a whole solver run of its own. Its checkpoint holds
// the finished points' table lines and the best model so far, with the running point's solver
// checkpointing into <dir>/tune-<i>.
#include <algorithm>
#include <cmath>
#include <string>

#include "search/tune_internal.hpp"
#include "base/fault.hpp"

namespace kmpi::tune_detail {

Options TuneRun::point_options(std::size_t i, bool resumed_here) const {
  Options inner = in_.options;
  inner.set("kernel.bandwidth", number(points_[i].bandwidth));
  if (ts_.has_ridge) inner.set("solver.ridge", number(points_[i].ridge));
  for (const auto& [key, value] : points_[i].extra) inner.set(key, value);
  if (!dir_.empty()) inner.set("run.checkpoint_dir", dir_ + "/tune-" + std::to_string(i));
  inner.set("run.resume", resumed_here && in_.options.str("run.resume") != "no" ? "auto" : "no");
  return inner;
}

int TuneRun::fit_one(std::size_t i, bool resumed_here) {
  points_[i].status = ModelStatus::kStopped;
  // The point's kernel as the problem's while it runs.
  struct KernelSwap {
    Kernel& slot;
    Kernel kept;
    ~KernelSwap() { slot = kept; }
  } swap{in_.problem.kernel, in_.problem.kernel};
  in_.problem.kernel = kernel_of(points_[i]);
  try {
    return ts_.rfm ? fit_rfm_point(i, resumed_here) : fit_point(i, resumed_here);
  } catch (const DivergedError& e) {
    // Thrown on every rank together (agreed inside the solver): the point is left out, as a
    // diverged model of a shared group is.
    in_.log.info("tune: point %zu diverged (%s); left out", i, e.what());
    points_[i].status = ModelStatus::kDiverged;
    points_[i].score = INFINITY;
    return 0;
  }
}

int TuneRun::run_point_by_point() {
  if (groups_ > 1) return run_in_groups();
  std::size_t first = 0;
  if (const Checkpoint* ck = outer_.resume(kTuneSolver)) {
    first = load_points(*ck);
    in_.log.info("tune: resuming at point %zu of %zu", first, points_.size());
  } else if (!dir_.empty()) {
    save_points(0);  // so run.resume = require finds one
  }
  for (std::size_t i = first; i < points_.size(); ++i) {
    fault::point("tune.point");
    Stopwatch fit_clock;
    const int stopped = fit_one(i, i == first);
    if (stopped != 0) return stopped;
    points_[i].fit_seconds = fit_clock.seconds();
    if (!dir_.empty()) save_points(i + 1);
    // A stop signal that came during a fit without step hooks (direct) is acted on here.
    const int signal =
        dir_.empty() ? 0 : in_.comm.allreduce_value(stop_signal_received(), mpi::Op::kMax);
    if (signal != 0 && i + 1 < points_.size()) return signal;
  }
  return 0;
}

int TuneRun::fit_point(std::size_t i, bool resumed_here) {
  SolverRun run =
      run_solver(in_.comm, point_options(i, resumed_here), in_.setup, classification_, in_.problem,
                 in_.sets, in_.centers, in_.centers_p, in_.metrics, in_.clock, in_.log);
  if (run.outcome.interrupted) return run.stop_signal;
  SolverOutcome& out = run.outcome;
  const LocalCenters z =
      out.own_centers ? LocalCenters(out.centers, in_.setup.precision) : LocalCenters();
  score_points({i}, {&out.alpha}, out.own_centers ? &z : nullptr);
  consider(i, out.alpha, out.own_centers, out.centers, out.center_partition.size());
  return 0;
}

int TuneRun::fit_rfm_point(std::size_t i, bool resumed_here) {
  // The RFM loop of `kmpi train` with the point's options: its selected iteration is the point's
  // model, its validation metrics the point's score.
  const Options o = point_options(i, resumed_here);
  TrainSetup setup = in_.setup;
  setup.kernel = in_.problem.kernel;
  setup.tune = false;
  ModelHeader header = in_.header;
  header.kernel = setup.kernel;
  RfmFit fit = run_rfm(in_.comm, o, setup, header, in_.problem, in_.sets, in_.centers,
                       in_.centers_p, in_.metrics, in_.clock, in_.log);
  if (fit.stop_signal != 0) return fit.stop_signal;
  TunePoint& p = points_[i];
  p.validation = fit.validation;
  p.test = fit.test;
  p.score = in_.comm.agreed_value(ts_.accuracy ? 1 - p.validation.accuracy : p.validation.mse);
  if (!std::isfinite(p.score)) p.score = INFINITY;
  // The selected iteration's centers are the training rows transformed by its metric (or its
  // own centers): kept as centers of the point's model, with the metric.
  const bool was_best = p.score < best_.score;
  consider(i, fit.model.weights, true, fit.model.centers, fit.model.partition.size());
  if (was_best) best_.metric = fit.model.header.metric;
  return 0;
}

void TuneRun::save_points(std::size_t next) {
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
    ck.scalars["diverged_" + s] = p.status == ModelStatus::kDiverged ? 1 : 0;
  }
  ck.scalars["best_point"] = static_cast<double>(best_.point);
  ck.scalars["best_metric_kind"] = static_cast<double>(best_.metric.kind);
  ck.arrays.push_back(metric_checkpoint_array(in_.comm, "best_metric", best_.metric));
  ck.scalars["best_own_centers"] = best_.own_centers ? 1 : 0;
  if (next > 0 && std::isfinite(best_.score)) {
    const std::size_t rows = in_.comm.allreduce_value(best_.alpha.rows());
    ck.arrays.push_back({"best_alpha", rows, best_.alpha.cols(), best_.alpha});
    if (best_.own_centers)
      ck.arrays.push_back({"best_centers", best_.centers_p, best_.centers.cols(), best_.centers});
  }
  save_checkpoint(in_.comm, dir_ + "/tune", ck);
}

std::size_t TuneRun::load_points(const Checkpoint& ck) {
  const std::size_t next = std::min(ck.epoch, points_.size());
  for (std::size_t i = 0; i < next; ++i) {
    const std::string s = std::to_string(i);
    TunePoint& p = points_[i];
    p.status = ck.scalar("diverged_" + s, 0) != 0 ? ModelStatus::kDiverged : ModelStatus::kStopped;
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
    best_.metric = metric_from_checkpoint(in_.comm, ck, "best_metric", in_.header.dimension);
    if (const CheckpointArray* z = ck.array("best_centers")) {
      best_.centers = z->local;
      best_.centers_p = z->rows;
    }
  }
  return next;
}

}  // namespace kmpi::tune_detail
