// `kmpi tune` with falkon (src/search/tune_internal.hpp): every point at once through
// train_falkon_grid (shared centers, per-bandwidth factors, shared CG products); its checkpoint
// holds every point's CG state after a grid iteration.
#include <algorithm>
#include <string>

#include "search/tune_internal.hpp"

namespace kmpi::tune_detail {

int TuneRun::run_falkon_grid() {
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
      return outer_.after_step([&] { return falkon_grid_checkpoint(states, most); },
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

Checkpoint TuneRun::falkon_grid_checkpoint(const std::vector<FalkonCgState>& states,
                                           std::size_t most) {
  Checkpoint ck = outer_.create(kFalkonGridSolver);
  ck.step = most;
  for (std::size_t i = 0; i < states.size(); ++i) {
    const std::string prefix = "p" + std::to_string(i) + "_";
    ck.scalars[prefix + "iteration"] = static_cast<double>(states[i].iteration);
    store_cg_state(in_.comm, states[i], prefix, ck);
  }
  return ck;
}

}  // namespace kmpi::tune_detail
