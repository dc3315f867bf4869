// `kmpi tune` with direct (src/search/tune_internal.hpp): every point at once through
// solve_direct_grid (one kernel matrix per bandwidth, one factorisation per ridge). No
// checkpoints: direct never checkpoints.
#include "search/tune_internal.hpp"

namespace kmpi::tune_detail {

int TuneRun::run_direct_grid() {
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

}  // namespace kmpi::tune_detail
