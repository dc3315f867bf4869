// Falkon over a grid of kernels x ridges with the kernel work shared (DESIGN §1.4, §1.6).
//
// Every point g * R + r is train_falkon with kernels[g] and ridges[r], built from the same
// pieces (src/solvers/falkon_cg.hpp). Shared: the centers (drawn and deduplicated once: they depend on
// the seed and the data, not the kernel); per kernel K_ZZ, its factor L and w = K_nZ^T Y / n (one
// pass over the data for all kernels); per point only A_L = chol(L^T L / p + lambda I). Each grid
// CG iteration steps every point still running together: their directions go through their own
// factors, then one pass over the data tiles computes K_nZ^T K_nZ v for all of them (per tile:
// the products -2 X Z^T once, each kernel's elementwise pass once, one GEMM with the k c columns
// of its k running points; kernel_normal_product_shared), then each point's CG update, growth
// rule and best iterate, independently: a point stops at its tolerance, its residual growth or
// options.iterations, and a point that diverges at once (train_falkon alone throws) only stops
// itself (residual_grew, best_iteration 0, alpha = 0).
//
// How each point's result equals train_falkon alone with its kernel and ridge:
//   - centers, jitter, L, A_L, the right-hand side: bit for bit (the same calls on the same data;
//     a kernel tile from shared products is kernel_block's bit for bit, and the right-hand side's
//     GEMMs and allreduce have c columns as alone);
//   - bit for bit as well while no other point of its kernel is running (R = 1, or after the
//     others stopped): its GEMMs then have c columns, and every right-hand side is allreduced
//     alone as a p x c matrix, as alone (an allreduce's summation order may depend on its length);
//   - otherwise the CG products go through GEMMs with k c columns instead of c. BLAS does not
//     promise that a column of a product is independent of the others, and OpenBLAS here does
//     not deliver it: float32 always, float64 with 75 data rows per rank (4 ranks, n = 300),
//     where it takes another path for small GEMMs. An entry of the product may then differ by a
//     rounding of the kernel precision, and CG carries that on exactly as it carries the other
//     summation order of a run alone on another rank count. So the tolerance is that of falkon
//     itself: measured (3 kernels x 3 ridges, n = 300, p = 60, 2 and 4 ranks), each point's
//     predictions differed from its run alone by less than the run alone differed from itself
//     on one rank, at every point: float64 at ridges 1e-2..1e-4 and 10 iterations within
//     7.5e-13 relative (the tests assert 1e-10); float32 at 6 iterations within 1.9e-4 (the tests
//     assert 1e-3). Ill-conditioned, unconverged points amplify rounding far more, the grid's as a
//     run alone's: gaussian bandwidth 0.6 at ridge 1e-5, 15 iterations, moved 1.5e-2 (float64, 4
//     ranks) against 1.6e-2 for the run alone between 4 ranks and 1.
// setup_seconds and solve_seconds are the grid's (shared by all points).
//
// Memory per rank, beyond train_falkon's: G factors L and G R factors A_L, (G + G R) p^2 / P
// doubles; CG state of 6 p c doubles per point (replicated); a second kernel tile when G > 1.
#include <algorithm>
#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

#include "solvers/center_factor.hpp"
#include "base/fault.hpp"
#include "solvers/falkon_cg.hpp"
#include "parallel/log.hpp"
#include "solvers/grid_solvers.hpp"

namespace kmpi {

namespace {

// What every grid iteration works on: the data and centers in the kernel precision, the
// kernels, each point's system, CG state and ||r_0||.
struct GridRun {
  const mpi::Communicator& comm;
  const std::vector<Kernel>& kernels;
  std::size_t ridges, c, n;
  const LocalCenters& x_local;
  const LocalCenters& z_all;
  const std::vector<FalkonSystem>& systems;
  std::vector<FalkonCgState>& cg;
  const std::vector<std::vector<double>>& r0;
};

// collective: one CG iteration of every point in `running` (ascending): each direction through
// its point's factors, one shared pass for all the kernel products, then each point's update.
void grid_iteration(GridRun& run, const std::vector<std::size_t>& running, double tolerance,
                    const FalkonGridCallback& on_iteration) {
  std::vector<FalkonSystem::BeforeProduct> halves;
  for (std::size_t point : running)
    halves.push_back(run.systems[point].before_product(run.cg[point].dir));
  // One term per kernel with running points, their v in point order: the products come back in
  // the order of `running`.
  std::vector<NormalProductTerm> terms;
  for (std::size_t k = 0; k < running.size(); ++k) {
    const std::size_t g = running[k] / run.ridges;
    if (k == 0 || running[k - 1] / run.ridges != g) terms.push_back({run.kernels[g], {}, {}});
    terms.back().u.push_back(&halves[k].v);
    terms.back().v.push_back(nullptr);
  }
  const std::vector<Matrix<double>> w =
      kernel_normal_product_shared(run.comm, terms, run.x_local, run.z_all, run.c, run.n);
  for (std::size_t k = 0; k < running.size(); ++k) {
    const std::size_t point = running[k];
    FalkonCgState& cg = run.cg[point];
    // kGrew and kDiverged stop this point alone (cg_step clears its active columns; agreed).
    cg_step(run.comm, cg, run.systems[point].after_product(w[k], halves[k].au), run.r0[point],
            tolerance);
    if (on_iteration) on_iteration(point, cg.iteration, cg.residuals.back());
  }
}

// local: the points still running, ascending.
std::vector<std::size_t> running_points(const std::vector<FalkonCgState>& cg,
                                        std::size_t iterations) {
  std::vector<std::size_t> running;
  for (std::size_t point = 0; point < cg.size(); ++point)
    if (cg_running(cg[point], iterations)) running.push_back(point);
  return running;
}

// The factors of the grid, built once: L per kernel (with its jitter), A_L per point, and each
// point's system over them. The systems hold references into l and a, so a GridFactors is
// built in place and never copied or moved.
struct GridFactors {
  std::vector<BlockCyclicMatrix> l, a;
  std::vector<double> jitter;
  std::vector<FalkonSystem> systems;

  // collective: progress(work) after each factor.
  GridFactors(const BlacsGrid& grid, const std::vector<Kernel>& kernels,
              const std::vector<double>& ridges, const Matrix<double>& z, Precision precision,
              Precision factor, const FalkonSetupWork& work,
              const std::function<void(double)>& progress)
      : jitter(kernels.size()) {
    l.reserve(kernels.size());
    for (std::size_t g = 0; g < kernels.size(); ++g) {
      l.push_back(
          factor_kzz(grid, kernels[g], z, FalkonSystem::kBlock, precision, factor, jitter[g]));
      progress(work.kzz);
    }
    const std::size_t points = kernels.size() * ridges.size(), r_count = ridges.size();
    a.reserve(points);
    systems.reserve(points);
    for (std::size_t point = 0; point < points; ++point) {
      a.push_back(factor_a(l[point / r_count], ridges[point % r_count], factor));
      systems.emplace_back(l[point / r_count], a.back(), ridges[point % r_count]);
      progress(work.a);
    }
  }
  GridFactors(const GridFactors&) = delete;
  GridFactors& operator=(const GridFactors&) = delete;
};

// collective: every point's result from its final state (or, interrupted, its residuals so far),
// each with the centers' fields of `common`.
std::vector<FalkonResult> grid_results(const mpi::Communicator& comm, const FalkonResult& common,
                                       const GridFactors& factors,
                                       const std::vector<FalkonCgState>& cg, std::size_t r_count,
                                       bool interrupted) {
  std::vector<FalkonResult> results(cg.size(), common);
  for (std::size_t point = 0; point < cg.size(); ++point) {
    FalkonResult& result = results[point];
    result.jitter = factors.jitter[point / r_count];
    result.interrupted = interrupted;
    if (interrupted)
      result.residuals = cg[point].residuals;
    else
      finish_cg(factors.systems[point], cg[point], static_cast<std::size_t>(comm.rank()), result);
  }
  return results;
}

}  // namespace

std::vector<FalkonResult> train_falkon_grid(const mpi::Communicator& comm,
                                            const TrainingProblem& problem,
                                            const std::vector<Kernel>& kernels,
                                            const std::vector<double>& ridges,
                                            const FalkonOptions& options,
                                            const FalkonGridCallback& on_iteration,
                                            const FalkonGridControl& control) {
  const std::size_t n = problem.partition.size(), c = problem.y.cols();
  const std::size_t g_count = kernels.size(), r_count = ridges.size(), points = g_count * r_count;
  // The arguments are the same on every rank, so is the verdict.
  if (points == 0) throw CollectiveError("falkon grid: no kernels or no ridges", 0);
  if (control.start && control.start->size() != points)
    throw CollectiveError("falkon grid: the resumed states are not one per grid point", 0);
  Stopwatch setup_clock;
  FalkonResult common;  // the centers' fields, every point's
  Matrix<double> kzz_source = falkon_centers(comm, problem, options, common);
  const LocalCenters z_all(kzz_source, options.precision);
  const LocalCenters x_local(problem.x, options.precision);

  const FalkonSetupWork work(kzz_source.rows(), problem.x.cols(), n);
  const double w_total = g_count * work.kzz + points * work.a + work.rhs;
  double w_done = 0;
  const auto progress = [&](double done) {
    w_done += done;
    if (control.on_setup) control.on_setup("falkon grid setup", w_done, w_total);
  };
  progress(0);
  BlacsGrid grid(comm);
  const GridFactors factors(grid, kernels, ridges, kzz_source, options.precision,
                            options.factor_precision, work, progress);
  kzz_source = Matrix<double>();  // float64 for the factorisations only
  // w_g = K_nZ^T Y / n for every kernel in one pass; each of its ridges preconditions it.
  std::vector<NormalProductTerm> rhs_terms;
  for (const Kernel& k : kernels) rhs_terms.push_back({k, {nullptr}, {&problem.y}});
  const std::vector<Matrix<double>> rhs =
      kernel_normal_product_shared(comm, rhs_terms, x_local, z_all, c, n);
  std::vector<FalkonCgState> cg(points);
  std::vector<std::vector<double>> r0(points);
  for (std::size_t point = 0; point < points; ++point)
    cg[point] = starting_cg(comm, factors.systems[point].right_hand_side(rhs[point / r_count]),
                            control.start ? &(*control.start)[point] : nullptr, r0[point]);
  progress(work.rhs);
  const double setup_seconds = setup_clock.seconds();

  Stopwatch solve_clock;
  GridRun run{comm, kernels, r_count, c, n, x_local, z_all, factors.systems, cg, r0};
  bool interrupted = false;
  // Every point's state is replicated, so every rank sees the same running points.
  for (std::vector<std::size_t> running = running_points(cg, options.iterations); !running.empty();
       running = running_points(cg, options.iterations)) {
    fault::point("falkon.iteration");
    grid_iteration(run, running, options.tolerance, on_iteration);
    if (control.after_iteration && !control.after_iteration(cg)) {
      interrupted = true;
      break;
    }
  }
  const double solve_seconds = solve_clock.seconds();
  std::vector<FalkonResult> results = grid_results(comm, common, factors, cg, r_count, interrupted);
  for (FalkonResult& result : results) {
    result.setup_seconds = setup_seconds;
    result.solve_seconds = solve_seconds;
  }
  return results;
}

}  // namespace kmpi
