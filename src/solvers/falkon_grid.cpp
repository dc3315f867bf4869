// Falkon over a grid of kernels x ridges with the kernel work shared (DESIGN §1.4, §1.6).
//
// Every point g * R + r is train_falkon with kernels[g] and ridges[r], built from the same
// pieces (kmpi/falkon_cg.hpp). Shared: the centers (drawn and deduplicated once: they depend on
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
//     others stopped): its GEMMs then have c columns, its allreduce p x c, as alone;
//   - otherwise the CG products go through GEMMs with k c columns instead of c. BLAS does not
//     promise that a column of a product is independent of the others (OpenBLAS splits N over
//     micro-kernels of different widths, with their own summation order), so an entry may differ
//     by a rounding of the kernel precision, and CG carries that on. Measured here (mpi_tests/
//     test_tune_grid.cpp: 3 kernels x 3 ridges, 15 iterations): weights within 1e-10 relative
//     to their largest entry in float64, predictions within 1e-4 relative in float32 (float32
//     rounding, 6e-8, amplified by the CG iterations); the tests assert those bounds. With
//     OpenBLAS on this machine the results came out bit-identical in both precisions, which is
//     not promised elsewhere.
// setup_seconds and solve_seconds are the grid's (shared by all points).
//
// Memory per rank, beyond train_falkon's: G factors L and G R factors A_L, (G + G R) p^2 / P
// doubles; CG state of 6 p c doubles per point (replicated); a second kernel tile when G > 1.
#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "kmpi/center_factor.hpp"
#include "kmpi/falkon_cg.hpp"
#include "kmpi/log.hpp"
#include "kmpi/tune.hpp"

namespace kmpi {

namespace {

// local: the matrices side by side (all p rows), in order.
Matrix<double> side_by_side(const std::vector<const Matrix<double>*>& parts, std::size_t p) {
  std::size_t cols = 0;
  for (const Matrix<double>* m : parts) cols += m->cols();
  Matrix<double> out(p, cols);
  std::size_t col0 = 0;
  for (const Matrix<double>* m : parts) {
    for (std::size_t i = 0; i < p; ++i)
      for (std::size_t l = 0; l < m->cols(); ++l) out(i, col0 + l) = (*m)(i, l);
    col0 += m->cols();
  }
  return out;
}

// local: columns [col0, col0 + c) of w.
Matrix<double> column_slice(const Matrix<double>& w, std::size_t col0, std::size_t c) {
  Matrix<double> out(w.rows(), c);
  for (std::size_t i = 0; i < w.rows(); ++i)
    for (std::size_t l = 0; l < c; ++l) out(i, l) = w(i, col0 + l);
  return out;
}

// What every grid iteration works on: the data and centers in the kernel precision, the
// kernels, each point's system, CG state and ||r_0||.
struct GridRun {
  const mpi::Communicator& comm;
  const std::vector<Kernel>& kernels;
  std::size_t ridges, n;
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
  const std::size_t p = run.z_all.rows();
  std::vector<FalkonSystem::BeforeProduct> halves;
  for (std::size_t point : running) halves.push_back(run.systems[point].before_product(run.cg[point].dir));
  // Per kernel with running points: their v side by side, in point order.
  std::vector<Matrix<double>> u;
  std::vector<NormalProductTerm> terms;
  std::vector<std::size_t> term_of(running.size()), col_of(running.size());
  for (std::size_t k = 0; k < running.size();) {
    const std::size_t g = running[k] / run.ridges;
    std::vector<const Matrix<double>*> parts;
    for (; k < running.size() && running[k] / run.ridges == g; ++k) {
      term_of[k] = terms.size();
      col_of[k] = parts.size() * halves[k].v.cols();
      parts.push_back(&halves[k].v);
    }
    u.push_back(side_by_side(parts, p));
    terms.push_back({run.kernels[g], nullptr, nullptr, u.back().cols()});
  }
  for (std::size_t t = 0; t < terms.size(); ++t) terms[t].u = &u[t];  // u no longer grows
  const std::vector<Matrix<double>> w =
      kernel_normal_product_shared(run.comm, terms, run.x_local, run.z_all, run.n);
  for (std::size_t k = 0; k < running.size(); ++k) {
    const std::size_t point = running[k];
    FalkonCgState& cg = run.cg[point];
    const Matrix<double> wk = column_slice(w[term_of[k]], col_of[k], cg.beta.cols());
    // kGrew and kDiverged stop this point alone (cg_step clears its active columns).
    cg_step(cg, run.systems[point].after_product(wk, halves[k].au), run.r0[point], tolerance);
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
  std::vector<BlockCyclicMatrix> l;  // per kernel
  std::vector<double> jitter(g_count);
  l.reserve(g_count);  // the systems hold references to these
  for (std::size_t g = 0; g < g_count; ++g) {
    l.push_back(factor_kzz(grid, kernels[g], kzz_source, FalkonSystem::kBlock, options.precision,
                           jitter[g]));
    progress(work.kzz);
  }
  kzz_source = Matrix<double>();  // float64 for the factorisations only
  std::vector<BlockCyclicMatrix> a;  // per point
  std::vector<FalkonSystem> systems;
  a.reserve(points);
  for (std::size_t point = 0; point < points; ++point) {
    a.push_back(factor_a(l[point / r_count], ridges[point % r_count]));
    systems.emplace_back(l[point / r_count], a.back(), ridges[point % r_count]);
    progress(work.a);
  }
  // w_g = K_nZ^T Y / n for every kernel in one pass; each of its ridges preconditions it.
  std::vector<NormalProductTerm> rhs_terms;
  for (const Kernel& k : kernels) rhs_terms.push_back({k, nullptr, &problem.y, c});
  const std::vector<Matrix<double>> rhs =
      kernel_normal_product_shared(comm, rhs_terms, x_local, z_all, n);
  std::vector<FalkonCgState> cg(points);
  std::vector<std::vector<double>> r0(points);
  for (std::size_t point = 0; point < points; ++point)
    cg[point] = starting_cg(systems[point].right_hand_side(rhs[point / r_count]),
                            control.start ? &(*control.start)[point] : nullptr, r0[point]);
  progress(work.rhs);
  const double setup_seconds = setup_clock.seconds();

  Stopwatch solve_clock;
  GridRun run{comm, kernels, r_count, n, x_local, z_all, systems, cg, r0};
  bool interrupted = false;
  // Every point's state is replicated, so every rank sees the same running points.
  for (std::vector<std::size_t> running = running_points(cg, options.iterations);
       !running.empty(); running = running_points(cg, options.iterations)) {
    grid_iteration(run, running, options.tolerance, on_iteration);
    if (control.after_iteration && !control.after_iteration(cg)) {
      interrupted = true;
      break;
    }
  }
  const double solve_seconds = solve_clock.seconds();

  std::vector<FalkonResult> results(points, common);
  for (std::size_t point = 0; point < points; ++point) {
    FalkonResult& result = results[point];
    result.jitter = jitter[point / r_count];
    result.setup_seconds = setup_seconds;
    result.solve_seconds = solve_seconds;
    result.interrupted = interrupted;
    if (interrupted)
      result.residuals = cg[point].residuals;
    else
      finish_cg(systems[point], cg[point], static_cast<std::size_t>(comm.rank()), result);
  }
  return results;
}

}  // namespace kmpi
