// `kmpi tune` (DESIGN §1.6): every point of the bandwidth x ridge grid fitted on the training
// rows and scored on the validation split; the best point's model is returned and written, and
// one table line per point goes to the log and the metrics. This file: fit_tune, TuneRun's frame
// (the dispatch to a way of fitting the points, the scoring, the best point, the result); the
// parts and how they share TuneRun in src/search/tune_internal.hpp.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "search/tune_internal.hpp"

namespace kmpi {
namespace tune_detail {

TuneFrame::TuneFrame(const FitInputs& in, const TuneSettings& ts, const std::string& name)
    : in_(in),
      classification_(in.header.task == Task::kClassification),
      ts_(ts),
      own_(in, name),
      dir_(own_.dir),
      outer_(own_.checkpoints) {}

TuneRun::TuneRun(const FitInputs& in, const TuneSettings& ts)
    : TuneFrame(in, ts, "tune"), progress_(own_.progress) {
  points_ = tune_points(ts_, in_.setup.seed);
  // Groups only where points run alone, without checkpoints (a group's points would need
  // checkpoints of their own) and without given centers (partitioned over all ranks).
  const bool alone = !ts_.plain_grid() || !ts_.shared || in_.setup.solver->name == "eigenpro4";
  const std::size_t n = in_.problem.partition.size(), d = in_.header.dimension;
  groups_ = ts_.groups == 0 ? tune_groups_for(in_.comm.size(), points_.size(), n, d,
                                                   in_.setup.solver->name == "direct") : ts_.groups;
  groups_ = std::min(groups_, points_.size());
  if (groups_ > 1 && (!alone || !dir_.empty() || in_.centers_p > 0)) {
    if (ts_.groups > 1)
      in_.log.info("tune: tune.groups = %zu not used (%s): one point after another on all ranks",
                   ts_.groups, !alone ? "the grid is fitted together" : !dir_.empty()
                                            ? "run.checkpoint_dir" : "data.centers");
    groups_ = 1;
  }
}

TrainResult TuneRun::run() {
  if (const int signal = fit()) {
    TrainResult r;
    r.exit_code = stopped_after_checkpoint(in_.comm, in_.log, in_.metrics, in_.clock, signal);
    return r;
  }
  return finish();
}

int TuneRun::fit() {
  report_grid();
  const std::string& name = in_.setup.solver->name;
  int signal = 0;
  if (!ts_.plain_grid())
    signal = run_point_by_point();
  else if (ts_.shared && name == "eigenpro2" && ts_.bandwidths.size() > 1)
    signal = run_eigenpro2_group();
  else if (ts_.shared && name == "falkon")
    signal = run_falkon_grid();
  else if (ts_.shared && name == "direct")
    signal = run_direct_grid();
  else
    signal = run_point_by_point();
  return signal;
}

Kernel TuneRun::kernel_of(double bandwidth) const {
  Kernel k = in_.setup.kernel;
  k.bandwidth = bandwidth;
  return k;
}

Kernel TuneRun::kernel_of(const TunePoint& p) const {
  Kernel k = kernel_of(p.bandwidth);
  for (const auto& [key, value] : p.extra) {
    if (key == "kernel.exponent") k.exponent = std::stod(value);
    if (key == "kernel.norm_p") k.norm_p = std::stod(value);
  }
  return k;
}

void TuneRun::score_points(const std::vector<std::size_t>& which,
                           const std::vector<const Matrix<double>*>& alphas,
                           const LocalCenters* z) {
  std::vector<Kernel> kernels;
  for (std::size_t i : which) kernels.push_back(kernel_of(points_[i]));
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
    // The score picks the best point: rank 0's bits on every rank (a reduced double may differ
    // in its last bit between ranks).
    p.score = in_.comm.agreed_value(ts_.accuracy ? 1 - p.validation.accuracy : p.validation.mse);
    if (!std::isfinite(p.score)) p.score = INFINITY;
  }
}

void TuneRun::consider(std::size_t i, const Matrix<double>& alpha, bool own_centers,
                       const Matrix<double>& centers, std::size_t centers_p) {
  if (!(points_[i].score < best_.score)) return;
  best_.point = i;
  best_.score = points_[i].score;
  best_.alpha = alpha;
  best_.own_centers = own_centers;
  best_.centers = own_centers ? centers : Matrix<double>();
  best_.centers_p = own_centers ? centers_p : 0;
}

TrainResult TuneRun::finish() {
  mpi::agree(in_.comm, std::isfinite(best_.score),
             "kmpi tune: no grid point gave a model (every one diverged or scored NaN)");
  const TunePoint& b = points_[best_.point];
  const OptionList selected = selected_options(b);
  report_table(in_.log, in_.metrics, ts_, points_, best_.point, classification_,
               in_.sets.test.labeled, selected);
  write_selected_config(in_.comm, in_.options, selected);
  LocalModel model;
  model.header = in_.header;
  model.header.kernel = kernel_of(b);
  if (ts_.rfm) model.header.metric = best_.metric;
  if (best_.own_centers) {
    model.partition = BlockPartition(best_.centers_p, in_.comm.size());
    model.centers = std::move(best_.centers);
  } else {
    model.partition = in_.problem.partition;
    model.centers = std::move(in_.problem.x);
  }
  model.header.centers = model.partition.size();
  model.weights = std::move(best_.alpha);
  TrainResult result = finish_run(in_.comm, in_.options, in_.log, in_.metrics, in_.clock,
                                  in_.sets.test, std::move(model), b.test, classification_);
  result.tune_score = best_.score;
  result.tune_selected = selected;
  return result;
}

}  // namespace tune_detail

TrainResult fit_tune(const FitInputs& in) {
  const tune_detail::TuneSettings ts =
      tune_detail::tune_settings(in.comm, in.options, in.setup, in.header, in.problem, in.sets);
  if (ts.folds >= 2) return tune_detail::TuneFolds(in, ts).run();
  return tune_detail::TuneRun(in, ts).run();
}

}  // namespace kmpi
