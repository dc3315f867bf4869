// `kmpi tune`'s own parts (private to src/search/tune*.cpp; DESIGN §1.6): every point of the
// bandwidth x ridge grid fitted on the training rows and scored on the validation split; the best
// point's model is returned and written, and one table line per point goes to the log and the
// metrics.
//
// Who owns what:
//   tune_settings.cpp  the tune.* options and the grid (median distance, auto bandwidths);
//   tune_report.cpp    the grid line, the table and the selected point's line;
//   tune.cpp           TuneRun's frame (dispatch, scoring, the best point, the result), fit_tune;
//   tune_eigenpro2.cpp eigenpro2 with several bandwidths: one group run (train_eigenpro2_group):
//                      the models step together on the same batches, each tile's distances
//                      computed once for all of them;
//   tune_falkon.cpp    falkon: train_falkon_grid (shared centers, per-bandwidth factors, shared
//                      CG products);
//   tune_direct.cpp    direct: solve_direct_grid (one kernel matrix per bandwidth, one
//                      factorisation per ridge);
//   tune_points.cpp    otherwise (eigenpro4, tune.shared = false): point by point, each a whole
//                      solver run;
//   tune_folds.cpp     tune.folds >= 2: k-fold cross-validation around TuneRun, then the refit.
//
// Checkpoints (run.checkpoint_dir): the tune run's own state in <dir>/tune: for a group run its
// models' weights, counters and early-stopping states at a step boundary; for the falkon grid
// every point's CG state after a grid iteration; point by point, the finished points' table
// lines and the best model so far, with the running point's solver checkpointing into
// <dir>/tune-<i>. The direct grid has none (direct never checkpoints).
#pragma once

#include <cmath>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "driver/fit_steps.hpp"
#include "kernels/shared_operator.hpp"
#include "search/tune.hpp"
#include "solvers/grid_solvers.hpp"
#include "driver/solver_options.hpp"
#include "state/checkpoint.hpp"

namespace kmpi::tune_detail {

// Options as (key, value) pairs, in order.
using OptionList = std::vector<std::pair<std::string, std::string>>;

// What the tune.* options ask for, with the grid resolved.
struct TuneSettings {
  std::vector<double> bandwidths, ridges;  // ridges: one entry (unused) without a ridge
  bool has_ridge = false;                  // the solver has solver.ridge
  double median = 0;                       // tune.bandwidths = auto: the median distance
  bool accuracy = true;                    // selected by validation accuracy, else mse
  bool shared = true;
  std::size_t folds = 0;  // tune.folds: >= 2 scores every point by k-fold cross-validation
  // More dimensions, each an option key and its values as the option spells them:
  // kernel.exponent (tune.exponents), kernel.norm_p (tune.norms), rfm.agop_power
  // (tune.agop_powers), rfm.metric (tune.rfm_metrics).
  std::vector<std::pair<std::string, std::vector<std::string>>> extra;
  bool rfm = false;         // rfm.iterations > 0: every point is an RFM loop
  std::size_t samples = 0;  // tune.samples: K random points over the ranges instead of the grid
  // tune.groups: point by point, this many groups of ranks fit points at once (0 = auto: the
  // rule of tune_groups_for); 1 = one point after another on all ranks.
  std::size_t groups = 1;
  // Whether the points are only bandwidths x ridges of a plain fit (the shared solvers' grid).
  bool plain_grid() const { return extra.empty() && !rfm && samples == 0; }
};


// collective (agreed checks): tune.* for this problem (tune_settings.cpp).
TuneSettings tune_settings(const mpi::Communicator& comm, const Options& o, const TrainSetup& setup,
                           const ModelHeader& header, const TrainingProblem& problem,
                           const TrainEvalSets& sets);

// local: v with 17 significant digits (%.17g), as options and log lines spell a grid value.
std::string number(double v);

// One grid point's outcome.
struct TunePoint {
  double bandwidth = 0, ridge = 0;
  OptionList extra;  // the point's values of TuneSettings::extra
  ModelStatus status = ModelStatus::kActive;  // kDiverged: no model; else fitted
  FitMetrics validation, test;
  double score = INFINITY;  // what the selection minimises: 1 - accuracy or the mse
  double fit_seconds = 0;   // this point's own run, or the shared run's whole time
};

// local: the points of the search: bandwidths x ridges x every extra dimension (bandwidth
// slowest), or with tune.samples = K, K points drawn by `seed` (the same at any rank count):
// bandwidth and ridge log-uniform between the least and the largest listed value, kernel.norm_p,
// kernel.exponent (at most the point's norm_p) and rfm.agop_power uniform between theirs, and
// rfm.metric one of its values (tune_settings.cpp).
std::vector<TunePoint> tune_points(const TuneSettings& s, std::uint64_t seed);

// The best point so far and its model (Z = X: only the weights; the centers are the rows).
struct TuneBest {
  std::size_t point = 0;
  double score = INFINITY;
  Matrix<double> alpha;
  bool own_centers = false;
  Matrix<double> centers;  // own centers: this rank's rows of BlockPartition(centers_p, P)
  std::size_t centers_p = 0;
  FeatureMetric metric;  // an RFM point's learned metric (the centers are then transformed)
};

// local: the table (log and one metrics line per point) and the selected point's line, which
// names `selected`: every option in which the selected model differs from a run alone with the
// options given to tune. With folds, each point's metrics are the means over the folds
// (per-fold values in arrays) (tune_report.cpp).
void report_table(const Log& log, MetricsWriter& metrics, const TuneSettings& ts,
                  const std::vector<TunePoint>& points, std::size_t best, bool classification,
                  bool tested, const OptionList& selected,
                  const std::vector<std::vector<TunePoint>>* folds = nullptr);

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

// What a grid search (TuneRun) and its k-fold wrapper (TuneFolds) both hold: the inputs, the
// settings and their own checkpoint, <run.checkpoint_dir>/<name> (tune.cpp).
class TuneFrame {
 protected:
  TuneFrame(const FitInputs& in, const TuneSettings& ts, const std::string& name);

  FitInputs in_;
  bool classification_;
  TuneSettings ts_;
  OwnCheckpoint own_;
  const std::string& dir_;   // run.checkpoint_dir (empty: no checkpoints)
  TrainCheckpoints& outer_;  // own_'s checkpoints
};

// One search over the grid: every point fitted and scored, the best kept. The frame is in
// tune.cpp, each way of fitting the points in the file named at its section.
class TuneRun : private TuneFrame {
 public:
  TuneRun(const FitInputs& in, const TuneSettings& ts);

  // collective: the whole search; the best point's model written and returned, or the exit
  // code of a stop.
  TrainResult run();

  // collective: fits and scores every point (no table yet); returns the signal that stopped
  // it after a checkpoint, or 0.
  int fit();

  const std::vector<TunePoint>& points() const { return points_; }

 private:
  Kernel kernel_of(double bandwidth) const;
  Kernel kernel_of(const TunePoint& p) const;  // with the point's exponent and norm_p

  // The grid's log line and metrics line (tune_report.cpp).
  void report_grid();

  // collective: the validation and test metrics of points `which` with this rank's weights
  // `alphas` over the same centers `z` (null: the training rows), evaluated together.
  void score_points(const std::vector<std::size_t>& which,
                    const std::vector<const Matrix<double>*>& alphas, const LocalCenters* z);

  // local: keeps point i's model if it scores better than the best so far (ties: the first).
  void consider(std::size_t i, const Matrix<double>& alpha, bool own_centers,
                const Matrix<double>& centers, std::size_t centers_p);

  // ---- EigenPro 2, all bandwidths at once (tune_eigenpro2.cpp) ----

  struct GroupModel {
    std::unique_ptr<TrainReporter> reporter;
    EarlyStopping stopping;
    bool logged_setup = false;
  };

  // collective: the group run; returns the stop signal after a checkpoint, or 0.
  int run_eigenpro2_group();
  // local: one reporter and early-stopping state per point.
  std::vector<GroupModel> group_models(const std::vector<Kernel>& kernels);
  // collective: a checkpoint's weights, counters and stopping states into `control`, `models`
  // (`start_alphas` holds the weights `control` points to).
  void resume_group(const Checkpoint& ck, EigenPro2GroupControl& control,
                    std::vector<Matrix<double>>& start_alphas, std::vector<GroupModel>& models);
  // local: the progress and checkpoint hooks of the group run.
  void hook_group(EigenPro2GroupControl& control, std::vector<GroupModel>& models);
  // collective: an epoch's reports of models `ks`, evaluated together on each set; keep[i]: 1
  // where model ks[i]'s weights are its best so far.
  void report_group_epoch(const std::vector<Kernel>& kernels, const LocalCenters& rows,
                          std::vector<GroupModel>& models, const std::vector<std::size_t>& ks,
                          const std::vector<EpochState>& states, std::vector<char>& keep);
  // collective: the finished group's points scored and considered.
  void finish_group(const EigenPro2GroupResult& group, const std::vector<GroupModel>& models,
                    double group_seconds);
  Checkpoint group_checkpoint(const EigenPro2GroupStep& st, const std::vector<GroupModel>& models);
  void report_group_setup(std::size_t k, const EpochState& st);

  // ---- Falkon and direct over the grid (tune_falkon.cpp, tune_direct.cpp) ----

  // collective: falkon for every point at once (train_falkon_grid); checkpoints hold every
  // point's CG state after a grid iteration. Returns the stop signal after one, or 0.
  int run_falkon_grid();
  // local: the checkpoint of the grid's CG states after `most` iterations.
  Checkpoint falkon_grid_checkpoint(const std::vector<FalkonCgState>& states, std::size_t most);
  // collective: direct for every point at once (solve_direct_grid); no checkpoints (direct
  // has none), a stop signal is acted on after it.
  int run_direct_grid();

  // ---- Point by point (tune_points.cpp) ----

  // local: point i's options: its bandwidth and ridge, its solver's checkpoint directory
  // <dir>/tune-<i>, and a resume only for the point the run resumed into.
  Options point_options(std::size_t i, bool resumed_here) const;
  // collective: every point as a run of its own; returns the stop signal after a checkpoint.
  int run_point_by_point();
  // collective: point i as a run alone of the solver (fit_point) or of the RFM loop around it
  // (fit_rfm_point), scored and considered; returns the stop signal after a checkpoint, or 0.
  int fit_point(std::size_t i, bool resumed_here);
  int fit_rfm_point(std::size_t i, bool resumed_here);
  // collective: point i by fit_point or fit_rfm_point; a divergence (agreed) marks it diverged.
  int fit_one(std::size_t i, bool resumed_here);
  // collective: the points on groups_ sub-communicators at once, then the selected one again on
  // all ranks (tune_groups.cpp).
  int run_in_groups();
  void save_points(std::size_t next);
  std::size_t load_points(const Checkpoint& ck);

  // ---- The result ----

  // local: the options of the selected point that differ from a run alone (tune_report.cpp).
  OptionList selected_options(const TunePoint& p) const;
  // collective: the table, the selected point's model written, the final lines.
  TrainResult finish();

  Progress& progress_;  // own_'s (<dir>/tune)
  std::vector<TunePoint> points_;
  TuneBest best_;
  // The batch every model of a shared eigenpro2 group stepped with (the smallest automatic one
  // of the group), when solver.batch_size was not given; 0 = none. A run alone of the selected
  // bandwidth needs it to reproduce the model.
  std::size_t group_batch_ = 0;
  // Point by point: how many groups of ranks fit points at once (1: all ranks, one at a time).
  std::size_t groups_ = 1;
};

// local: tune.groups = auto (tune_groups.cpp): as many groups as ranks and points allow, halved
// while a rank's share of a group's memory (the n x d rows, and for direct the n x n kernel
// matrix) would pass kGroupBytesPerRank.
std::size_t tune_groups_for(int ranks, std::size_t points, std::size_t n, std::size_t d,
                            bool direct);

// k-fold cross-validation around TuneRun (tune.folds = k >= 2; tune_folds.cpp): row i belongs to
// fold permutation-position mod k (a seeded permutation, the same at any rank count); for each
// fold the grid is fitted on the other folds and scored on it; a point's score is the mean over
// the folds; the selected point is then refitted on every row, and that model is written.
// Checkpoints: the finished folds' scores in <dir>/folds, fold f's grid in <dir>/fold-<f>, the
// refit in <dir>/refit.
class TuneFolds : private TuneFrame {
 public:
  TuneFolds(const FitInputs& in, const TuneSettings& ts);

  TrainResult run();

 private:
  // local: the fold of global row `row`.
  std::size_t fold_of(std::size_t row) const;
  // local: run.checkpoint_dir = <dir>/<name> and a resume only where the run resumed into.
  Options inner_options(const std::string& name, bool resumed_here) const;
  // collective: fold f's grid: fitted on the other folds' rows, scored on fold f's.
  int fit_fold(std::size_t f, bool resumed_here);
  // collective: the mean over the folds, the table, the selected point refitted on every row.
  TrainResult refit(bool resumed_here);
  TrainResult stopped(int signal);
  // The finished folds' per-point scores (replicated scalars).
  void save(std::size_t next);
  std::size_t load(const Checkpoint& ck);

  std::vector<std::vector<TunePoint>> scores_;  // per fold, per point
};

}  // namespace kmpi::tune_detail
