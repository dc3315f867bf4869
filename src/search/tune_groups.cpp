// `kmpi tune` point by point on G sub-communicators at once (tune.groups; tune_internal.hpp):
// the ranks split into G groups of about P / G ranks, every group holds all the training,
// validation and test rows (block-partitioned over its own ranks) and fits the points i with
// i mod G = its index, each as a run alone on the group; the points' outcomes are summed over
// the world, the best is chosen (lowest score, ties the first), and that point is fitted again
// on all P ranks, so the written model is `kmpi train` with its options at P ranks, bit for bit.
// The other points' table lines are their runs at the group's rank count (equal to a run at P
// ranks up to the rounding of the reductions).
#include <algorithm>
#include <cmath>
#include <string>

#include "parallel/counts.hpp"
#include "search/tune_internal.hpp"

namespace kmpi::tune_detail {

namespace {

// collective: every row of a contiguous layout (rank r holds rows [offsets[r], offsets[r + 1])
// of `local`, `cols` values each) on every rank.
Matrix<double> replicate_rows(const mpi::Communicator& comm,
                              const std::vector<std::size_t>& offsets, const Matrix<double>& local,
                              std::size_t cols) {
  const std::size_t n = offsets.back();
  const mpi::CountsDispls cd = mpi::window_counts(offsets, 0, n, cols, "tune.groups: the rows");
  Matrix<double> all(n, cols);
  comm.allgatherv(local.data(), all.data(), cd.counts, cd.displs);
  return all;
}

// local: rows [lo, hi) of `all`.
Matrix<double> rows_of(const Matrix<double>& all, std::size_t lo, std::size_t hi) {
  Matrix<double> part(hi - lo, all.cols());
  std::copy(all.row(lo), all.row(lo) + (hi - lo) * all.cols(), part.data());
  return part;
}

// collective over `world`: this rank's block of `set` laid out over `group`.
EvalSet group_set(const mpi::Communicator& world, const mpi::Communicator& group,
                  const EvalSet& set) {
  EvalSet s = set;
  if (set.offsets.empty()) return s;  // no such set (e.g. no test rows)
  s.offsets = offsets_of(BlockPartition(set.n, group.size()));
  const auto r = static_cast<std::size_t>(group.rank());
  const std::size_t d = world.allreduce_value(set.x.cols(), mpi::Op::kMax);
  s.x = rows_of(replicate_rows(world, set.offsets, set.x, d), s.offsets[r], s.offsets[r + 1]);
  if (set.labeled) {
    const std::size_t c = world.allreduce_value(set.y.cols(), mpi::Op::kMax);
    s.y = rows_of(replicate_rows(world, set.offsets, set.y, c), s.offsets[r], s.offsets[r + 1]);
  }
  return s;
}

// One point's outcome as the values summed over the world.
constexpr std::size_t kOutcomeValues = 7;

// What a group may add to a rank's memory for its copy of the rows (and direct's matrix).
constexpr double kGroupBytesPerRank = 1 << 30;

}  // namespace

std::size_t tune_groups_for(int ranks, std::size_t points, std::size_t n, std::size_t d,
                            bool direct) {
  std::size_t g = std::min(static_cast<std::size_t>(std::max(ranks, 1)), points);
  const double rows = static_cast<double>(n);
  auto bytes = [&](std::size_t groups) {
    const double share = static_cast<double>(groups) / ranks;  // of the whole problem
    return share * rows * (static_cast<double>(d) + (direct ? rows : 0.0)) * 8;
  };
  while (g > 1 && bytes(g) > kGroupBytesPerRank) g /= 2;
  return std::max<std::size_t>(g, 1);
}

int TuneRun::run_in_groups() {
  const mpi::Communicator& world = in_.comm;
  const int P = world.size(), G = static_cast<int>(groups_);
  const int g = static_cast<int>(static_cast<long>(world.rank()) * G / P);
  const mpi::Communicator group = world.split(g, world.rank());
  in_.log.info("tune: %zu points on %d groups of ranks at once (tune.groups), the selected one "
               "fitted again on all %d ranks", points_.size(), G, P);
  // This group's copy of the rows.
  TrainingProblem problem;
  problem.kernel = in_.problem.kernel;
  problem.partition = BlockPartition(in_.problem.partition.size(), group.size());
  const std::vector<std::size_t> from = offsets_of(in_.problem.partition);
  const std::vector<std::size_t> to = offsets_of(problem.partition);
  const auto r = static_cast<std::size_t>(group.rank());
  const std::size_t d = world.allreduce_value(in_.problem.x.cols(), mpi::Op::kMax);
  const std::size_t c = world.allreduce_value(in_.problem.y.cols(), mpi::Op::kMax);
  problem.x = rows_of(replicate_rows(world, from, in_.problem.x, d), to[r], to[r + 1]);
  problem.y = rows_of(replicate_rows(world, from, in_.problem.y, c), to[r], to[r + 1]);
  TrainEvalSets sets{group_set(world, group, in_.sets.probe),
                     group_set(world, group, in_.sets.validation),
                     group_set(world, group, in_.sets.test)};
  MetricsWriter quiet(group, "");
  const Log log(world);  // world rank 0 (in group 0) logs its group's runs
  const Matrix<double> no_centers;
  TuneSettings ts = ts_;
  ts.groups = 1;
  const FitInputs inputs{group,  in_.options, in_.setup, in_.header, problem,   sets,
                         no_centers, 0,        quiet,     in_.clock,  log};
  TuneRun run(inputs, ts);
  std::vector<double> out(points_.size() * kOutcomeValues, 0.0);
  for (std::size_t i = static_cast<std::size_t>(g); i < points_.size(); i += groups_) {
    Stopwatch clock;
    if (const int signal = run.fit_one(i, false)) return signal;  // (no checkpoints: 0)
    const TunePoint& p = run.points_[i];
    if (group.rank() != 0) continue;
    double* o = &out[i * kOutcomeValues];
    o[0] = p.status == ModelStatus::kDiverged ? 1 : 0;
    o[1] = p.validation.mse, o[2] = p.validation.accuracy;
    o[3] = p.test.mse, o[4] = p.test.accuracy;
    o[5] = p.score, o[6] = clock.seconds();
  }
  // One rank contributes each point's values, the others zeros: the sums are its bits.
  world.allreduce(out.data(), out.size());
  std::size_t best = points_.size();
  for (std::size_t i = 0; i < points_.size(); ++i) {
    const double* o = &out[i * kOutcomeValues];
    TunePoint& p = points_[i];
    p.status = o[0] != 0 ? ModelStatus::kDiverged : ModelStatus::kStopped;
    p.validation = {o[1], o[2]};
    p.test = {o[3], o[4]};
    p.score = std::isfinite(o[5]) ? o[5] : INFINITY;
    p.fit_seconds = o[6];
    if (p.score < INFINITY && (best == points_.size() || p.score < points_[best].score)) best = i;
  }
  best = world.agreed_value(best);
  if (best == points_.size()) return 0;  // finish(): no point gave a model (agreed error)
  const double group_seconds = points_[best].fit_seconds;
  const int signal = fit_one(best, false);
  points_[best].fit_seconds = group_seconds;
  mpi::agree(world, points_[best].status != ModelStatus::kDiverged,
             "kmpi tune: the selected point diverged when fitted again on all ranks");
  return signal;
}

}  // namespace kmpi::tune_detail
