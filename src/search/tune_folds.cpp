// `kmpi tune` with tune.folds = k >= 2 (src/search/tune_internal.hpp): k-fold cross-validation
// around TuneRun, the selected point refitted on every row. Checkpoints: the finished folds'
// scores in <dir>/folds, fold f's grid in <dir>/fold-<f>, the refit in <dir>/refit.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "base/permutation.hpp"
#include "base/fault.hpp"
#include "search/tune_internal.hpp"

namespace kmpi::tune_detail {

TuneFolds::TuneFolds(const FitInputs& in, const TuneSettings& ts)
    : TuneFrame(in, ts, "folds"), scores_(ts.folds) {}

TrainResult TuneFolds::run() {
  const std::size_t k = ts_.folds;
  std::size_t first = 0;
  if (const Checkpoint* ck = outer_.resume("tune-folds")) {
    first = load(*ck);
    in_.log.info("tune: resuming at fold %zu of %zu", first, k);
  } else if (!dir_.empty()) {
    save(0);
  }
  for (std::size_t f = first; f < k; ++f) {
    fault::point("tune.fold");
    if (const int signal = fit_fold(f, f == first)) return stopped(signal);
    if (!dir_.empty()) save(f + 1);
    const int signal =
        dir_.empty() ? 0 : in_.comm.allreduce_value(stop_signal_received(), mpi::Op::kMax);
    if (signal != 0) return stopped(signal);
  }
  return refit(first == k);
}

// Row i's fold: its position in a seeded permutation of the n rows, modulo k (folds of sizes
// within one of each other), evaluated row by row: no rank holds an assignment of all n rows.
std::size_t TuneFolds::fold_of(std::size_t i) const {
  const CounterPermutation perm(in_.problem.partition.size(), in_.setup.seed, RngStream::kTune, 1);
  return static_cast<std::size_t>(perm.inverse(i) % ts_.folds);
}

Options TuneFolds::inner_options(const std::string& name, bool resumed_here) const {
  Options inner = in_.options;
  if (!dir_.empty()) inner.set("run.checkpoint_dir", dir_ + "/" + name);
  inner.set("run.resume", resumed_here && in_.options.str("run.resume") != "no" ? "auto" : "no");
  return inner;
}

int TuneFolds::fit_fold(std::size_t f, bool resumed_here) {
  LocalData all;
  all.partition = in_.problem.partition;
  all.features = in_.problem.x;
  all.targets = in_.problem.y;
  all.dimension = in_.problem.x.cols();
  LocalData tr = take_rows_where(in_.comm, all, [&](std::size_t i) { return fold_of(i) != f; });
  LocalData va = take_rows_where(in_.comm, all, [&](std::size_t i) { return fold_of(i) == f; });
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
               tr.partition.size(), va.partition.size());
  const Options o = inner_options("fold-" + std::to_string(f), resumed_here);  // outlives run
  TuneRun run({in_.comm, o, in_.setup, in_.header, problem, sets, in_.centers, in_.centers_p,
               in_.metrics, in_.clock, in_.log},
              ts_);
  if (const int signal = run.fit()) return signal;
  scores_[f] = run.points();
  return 0;
}

TrainResult TuneFolds::refit(bool resumed_here) {
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
  // The refit: the selected point on every row (no validation: iterative solvers run all
  // their epochs), a run alone: the same as `kmpi train` with the selected options.
  const TunePoint& b = mean[best];
  OptionList selected{{"kernel.bandwidth", number(b.bandwidth)}};
  if (ts_.has_ridge) selected.emplace_back("solver.ridge", number(b.ridge));
  report_table(in_.log, in_.metrics, ts_, mean, best, classification_, in_.sets.test.labeled,
               selected, &scores_);
  write_selected_config(in_.comm, in_.options, selected);
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
  TrainResult result =
      finish_run(in_.comm, in_.options, in_.log, in_.metrics, in_.clock, in_.sets.test,
                 assemble_model(header, in_.problem, run.outcome), run.test, classification_);
  result.tune_score = best_score;
  result.tune_selected = selected;
  return result;
}

TrainResult TuneFolds::stopped(int signal) {
  TrainResult r;
  r.exit_code = stopped_after_checkpoint(in_.comm, in_.log, in_.metrics, in_.clock, signal);
  return r;
}

void TuneFolds::save(std::size_t next) {
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

std::size_t TuneFolds::load(const Checkpoint& ck) {
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

}  // namespace kmpi::tune_detail
