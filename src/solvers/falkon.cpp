// Falkon: Nystrom kernel ridge regression by preconditioned conjugate gradient (DESIGN §1.4).
//
// Problem: min ||K_nZ alpha - Y||^2 + lambda n alpha^T K_ZZ alpha, i.e. the normal equations
//   H alpha = K_nZ^T Y / n,   H = K_nZ^T K_nZ / n + lambda K_ZZ.
// Preconditioner (Rudi, Carratino, Rosasco 2017): T = chol(K_ZZ + eps I) (upper, T^T T = K_ZZ),
// A = chol(T T^T / p + lambda I), B = T^{-1} A^{-1}; CG runs on B^T H B beta = B^T K_nZ^T Y / n
// and alpha = B beta. With T^T T standing in for K_ZZ the regulariser solved for is
// lambda n alpha^T (K_ZZ + eps I) alpha; eps is 1e-7 p with float32 kernel products, 1e-13 p
// with float64 ones (jitter_per_center) unless that Cholesky fails. Exact duplicate centers are
// dropped first (they add nothing to the model's span, and make K_ZZ singular); CG keeps its best
// iterate and stops when the residual grows (near-duplicates in float32 products), instead of
// returning a diverged model.
//
// ScaLAPACK's pdpotrf gives the lower factor L = T^T, so T^{-1} = L^{-T}, T T^T = L^T L and
// A = A_L^T with A_L A_L^T = L^T L / p + lambda I.
//
// Layout and memory per rank (P ranks, n_r = n / P data rows, p centers, d features, c outputs):
//   L and A_L block-cyclic: 2 p^2 / P doubles (never whole on one rank);
//   Z replicated once, in the kernel precision: p d values. That is the cheaper correct layout
//     for K_nZ^T (K_nZ u): with Z replicated each rank multiplies its own data rows against all
//     centers and one allreduce of p x c finishes the product; with Z partitioned every data row
//     would have to visit every rank each iteration (n d values moved instead of p c).
//   CG vectors (beta, r, the direction, its image): 4 p c doubles, replicated (identical on
//     every rank, since they come from allreduces), so the CG scalars agree without messages;
//   one kernel tile of at most cache_tile_bytes() (or 64 rows x p).
// Communication per iteration: three allreduces of p x c (the product, and two conversions of a
// block-cyclic p x c matrix to replicated) plus the pdtrsm traffic.
//
// Where things happen: factor_kzz and factor_a (setup: L and A_L), FalkonSystem (the product
// B^T H B u in two halves around the kernel product), cg_step (one CG iteration and the growth
// rule), finish_cg (the weights), train_falkon (the driver); train_falkon_grid
// (falkon_grid.cpp) is built from the same pieces (src/solvers/falkon_cg.hpp).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "base/blas.hpp"
#include "base/fault.hpp"
#include "solvers/center_factor.hpp"
#include "solvers/falkon_cg.hpp"
#include "parallel/log.hpp"
#include "base/permutation.hpp"
#include "parallel/scalapack.hpp"
#include "solvers/selected_rows.hpp"
#include "solvers/solvers.hpp"
#include "solvers/grid_solvers.hpp"

namespace kmpi {

namespace {

BlockCyclicMatrix block_cyclic_from(const BlacsGrid& grid, const Matrix<double>& replicated,
                                    std::size_t block) {
  BlockCyclicMatrix b(grid, replicated.rows(), replicated.cols(), block, block);
  b.fill([&](std::size_t i, std::size_t j) { return replicated(i, j); });
  return b;
}

// Per-column dot products of two p x c matrices.
std::vector<double> column_dots(const Matrix<double>& a, const Matrix<double>& b) {
  std::vector<double> out(a.cols(), 0.0);
  for (std::size_t i = 0; i < a.rows(); ++i)
    for (std::size_t l = 0; l < a.cols(); ++l) out[l] += a(i, l) * b(i, l);
  return out;
}

// local: result.centers = this rank's block of the replicated z under result.center_partition.
void keep_own_centers(const mpi::Communicator& comm, const Matrix<double>& z,
                      FalkonResult& result) {
  const BlockPartition& cp = result.center_partition;
  const int me = comm.rank();
  result.centers = Matrix<double>(cp.count(me), z.cols());
  std::copy(z.row(cp.begin(me)), z.row(cp.begin(me)) + cp.count(me) * z.cols(),
            result.centers.data());
}

// collective (replicated data): drops exact duplicate centers from z and the result's centers,
// indices and partition; returns how many were dropped.
std::size_t drop_duplicate_centers(const mpi::Communicator& comm, Matrix<double>& z,
                                   FalkonResult& result) {
  const std::vector<std::size_t> kept = distinct_rows(z);
  if (kept.size() == z.rows()) return 0;
  const std::size_t dropped = z.rows() - kept.size();
  z = select_rows(z, kept);
  if (!result.center_indices.empty()) {
    std::vector<std::size_t> indices;
    for (std::size_t k : kept) indices.push_back(result.center_indices[k]);
    result.center_indices = std::move(indices);
  }
  result.center_partition = BlockPartition(kept.size(), comm.size());
  keep_own_centers(comm, z, result);
  return dropped;
}

// collective: the CG update of one iteration given hd = B^T H B dir, on replicated p x c
// matrices. Every rank computes the same scalars from the same allreduced data, but the c dot
// products that the breakdown, tolerance and growth rules branch on are agreed (rank 0's,
// mpi.hpp), so a last-bit difference between ranks cannot split their control flow. Returns
// the largest ||r_t|| / ||r_0|| over the columns.
double cg_update(const mpi::Communicator& comm, FalkonCgState& cg, const Matrix<double>& hd,
                 const std::vector<double>& r0, double tolerance) {
  const std::size_t p = cg.beta.rows(), c = cg.beta.cols();
  Matrix<double>&beta = cg.beta, &r = cg.r, &dir = cg.dir;
  std::vector<char>& active = cg.active;
  std::vector<double> dhd = column_dots(dir, hd);
  comm.agreed_values(dhd.data(), dhd.size());
  for (std::size_t l = 0; l < c; ++l)
    if (active[l] && !(dhd[l] > 0)) active[l] = 0;  // breakdown: converged to rounding
  for (std::size_t i = 0; i < p; ++i)
    for (std::size_t l = 0; l < c; ++l) {
      if (!active[l]) continue;
      const double step = cg.rs_old[l] / dhd[l];
      beta(i, l) += step * dir(i, l);
      r(i, l) -= step * hd(i, l);
    }
  std::vector<double> rs_new = column_dots(r, r);
  comm.agreed_values(rs_new.data(), rs_new.size());
  double worst = 0;
  for (std::size_t l = 0; l < c; ++l) {
    if (r0[l] > 0) {
      const double ratio_l = std::sqrt(rs_new[l]) / r0[l];
      worst = std::isnan(ratio_l) ? ratio_l : std::max(worst, ratio_l);  // NaN must show
    }
    if (!active[l]) continue;
    const double ratio = rs_new[l] / cg.rs_old[l];
    for (std::size_t i = 0; i < p; ++i) dir(i, l) = r(i, l) + ratio * dir(i, l);
    cg.rs_old[l] = rs_new[l];
    if (std::sqrt(rs_new[l]) <= tolerance * r0[l]) active[l] = 0;
  }
  return worst;
}

// local: whether the last residual of cg is a growth past kFalkonResidualGrowth x the best
// (non-finite counts as growth). After an iteration that was not one, the best is at most the
// last residual or the last is within the factor, so this reads the rule back from any state.
bool residual_grew(const FalkonCgState& cg) {
  if (cg.best_iteration == 0 || cg.residuals.empty()) return false;
  const double last = cg.residuals.back();
  return !std::isfinite(last) || last > kFalkonResidualGrowth * cg.residuals[cg.best_iteration - 1];
}

}  // namespace

Matrix<double> falkon_centers(const mpi::Communicator& comm, const TrainingProblem& problem,
                              const FalkonOptions& options, FalkonResult& result) {
  const std::size_t n = problem.partition.size();
  const std::size_t p = center_count(comm, n, options.centers, options.given_centers);
  // The same p training rows for every rank count; Z replicated (see the header). Given
  // centers are already BlockPartition(p, P); all p rows of them are gathered instead.
  if (!options.given_centers)
    result.center_indices = random_subset(n, p, options.seed, RngStream::kCenters);
  result.center_partition = BlockPartition(p, comm.size());
  std::vector<std::size_t> every(options.given_centers ? p : 0);
  std::iota(every.begin(), every.end(), std::size_t(0));
  Matrix<double> z =
      options.given_centers
          ? gather_selected_rows(comm, result.center_partition, *options.given_centers, every)
          : gather_selected_rows(comm, problem.partition, problem.x, result.center_indices);
  keep_own_centers(comm, z, result);
  result.duplicate_centers = drop_duplicate_centers(comm, z, result);
  return z;
}

FalkonSetupWork::FalkonSetupWork(std::size_t p, std::size_t d, std::size_t n) {
  const double pd = static_cast<double>(p), dd = static_cast<double>(d);
  constexpr double kFactorWeight = 3;
  kzz = kFactorWeight * (2 * pd * pd * dd + pd * pd * pd / 3);
  a = kFactorWeight * 2 * pd * pd * pd / 3;
  rhs = 2 * static_cast<double>(n) * pd * dd;
}

Matrix<double> FalkonSystem::right_hand_side(const Matrix<double>& w) const {
  BlockCyclicMatrix b = block_cyclic_from(l_.grid(), w, kBlock);
  // B^T w = A^{-T} T^{-T} w = A_L^{-1} L^{-1} w (block-cyclic, in place).
  triangular_solve(l_, b, false);
  triangular_solve(a_, b, false);
  return b.replicate();
}

FalkonSystem::BeforeProduct FalkonSystem::before_product(const Matrix<double>& u) const {
  BlockCyclicMatrix au = block_cyclic_from(l_.grid(), u, kBlock);
  triangular_solve(a_, au, true);  // A^{-1} u
  BlockCyclicMatrix tau = au;
  triangular_solve(l_, tau, true);  // T^{-1} A^{-1} u
  return {std::move(au), tau.replicate()};
}

Matrix<double> FalkonSystem::after_product(const Matrix<double>& w,
                                           const BlockCyclicMatrix& au) const {
  BlockCyclicMatrix b = block_cyclic_from(l_.grid(), w, kBlock);
  triangular_solve(l_, b, false);
  for (std::size_t j = 0; j < b.local_cols(); ++j)
    for (std::size_t i = 0; i < b.local_rows(); ++i) b.local(i, j) += lambda_ * au.local(i, j);
  triangular_solve(a_, b, false);
  return b.replicate();
}

Matrix<double> FalkonSystem::weights(const Matrix<double>& beta,
                                     const BlockPartition& centers) const {
  BlockCyclicMatrix b = block_cyclic_from(l_.grid(), beta, kBlock);
  triangular_solve(a_, b, true);
  triangular_solve(l_, b, true);
  return b.to_row_blocks(centers, 0, beta.cols());
}

FalkonCgState starting_cg(const mpi::Communicator& comm, const Matrix<double>& r,
                          const FalkonCgState* start, std::vector<double>& r0) {
  const std::size_t p = r.rows(), c = r.cols();
  FalkonCgState cg;
  cg.beta = Matrix<double>(p, c);
  cg.r = r;
  cg.dir = r;
  cg.rs_old = column_dots(r, r);
  comm.agreed_values(cg.rs_old.data(), cg.rs_old.size());  // r0 steers the tolerance rule
  r0.assign(c, 0);
  cg.active.assign(c, 0);
  for (std::size_t l = 0; l < c; ++l) {
    r0[l] = std::sqrt(cg.rs_old[l]);
    cg.active[l] = r0[l] > 0;
  }
  if (!start) return cg;
  const FalkonCgState& s0 = *start;
  if (s0.beta.rows() != p || s0.beta.cols() != c || s0.r.rows() != p || s0.r.cols() != c ||
      s0.dir.rows() != p || s0.dir.cols() != c || s0.rs_old.size() != c || s0.active.size() != c)
    throw CollectiveError("falkon: the resumed CG state does not match this problem's shape",
                          0);  // replicated data: the same verdict on every rank
  return s0;
}

bool cg_running(const FalkonCgState& cg, std::size_t iterations) {
  return cg.iteration < iterations &&
         std::any_of(cg.active.begin(), cg.active.end(), [](char x) { return x != 0; });
}

CgStep cg_step(const mpi::Communicator& comm, FalkonCgState& cg, const Matrix<double>& hd,
               const std::vector<double>& r0, double tolerance) {
  const double worst = cg_update(comm, cg, hd, r0, tolerance);
  ++cg.iteration;
  cg.residuals.push_back(worst);
  CgStep step = CgStep::kContinue;
  if (!std::isfinite(worst) && cg.best_iteration == 0)
    step = CgStep::kDiverged;
  else if (residual_grew(cg))
    step = CgStep::kGrew;
  else if (cg.best_iteration == 0 || worst < cg.residuals[cg.best_iteration - 1]) {
    cg.best_iteration = cg.iteration;
    cg.best_beta = cg.beta;
  }
  if (step != CgStep::kContinue) std::fill(cg.active.begin(), cg.active.end(), char(0));
  return step;
}

void finish_cg(const FalkonSystem& system, const FalkonCgState& cg, std::size_t rank,
               FalkonResult& result) {
  result.residuals = cg.residuals;
  const bool diverged =
      cg.best_iteration == 0 && !cg.residuals.empty() && !std::isfinite(cg.residuals.back());
  result.residual_grew = diverged || residual_grew(cg);
  // The iteration whose weights are returned: the best one after a growth, else the last.
  result.best_iteration = result.residual_grew ? cg.best_iteration : cg.residuals.size();
  if (diverged) {
    result.alpha =
        Matrix<double>(result.center_partition.count(static_cast<int>(rank)), cg.beta.cols());
    return;
  }
  result.alpha =
      system.weights(result.residual_grew ? cg.best_beta : cg.beta, result.center_partition);
}

namespace {

// collective: CG iterations from cg.iteration + 1 on until the tolerance, options.iterations,
// or a residual growth (the caller takes the best iterate). Returns false when
// control.after_iteration stopped it.
bool run_cg(const mpi::Communicator& comm, const FalkonSystem& system, const Kernel& kernel,
            const LocalCenters& x_local, const LocalCenters& z_all, std::size_t n,
            FalkonCgState& cg, const std::vector<double>& r0, const FalkonOptions& options,
            const FalkonIterationCallback& on_iteration, const FalkonControl& control,
            const FalkonResult& result) {
  const std::size_t c = cg.beta.cols();
  while (cg_running(cg, options.iterations)) {
    fault::point("falkon.iteration");
    const FalkonSystem::BeforeProduct half = system.before_product(cg.dir);
    const Matrix<double> w =
        kernel_normal_product(comm, kernel, x_local, z_all, &half.v, nullptr, c, n);
    // Agreed inside (rank 0's dot products), so every rank takes the same branch.
    const CgStep step = cg_step(comm, cg, system.after_product(w, half.au), r0, options.tolerance);
    if (step == CgStep::kDiverged)
      throw DivergedError(
          "falkon: conjugate gradient diverged (non-finite residual); raise solver.ridge");
    if (on_iteration) on_iteration(cg.iteration, cg.residuals.back());
    if (control.on_weights && control.weights_every > 0 &&
        cg.iteration % control.weights_every == 0)
      control.on_weights(cg, system.weights(cg.beta, result.center_partition), result.centers);
    if (step == CgStep::kGrew) break;
    if (control.after_iteration && !control.after_iteration(cg)) return false;
  }
  return true;
}

}  // namespace

FalkonResult train_falkon(const mpi::Communicator& comm, const TrainingProblem& problem,
                          const FalkonOptions& options, const FalkonIterationCallback& on_iteration,
                          const FalkonControl& control) {
  const std::size_t n = problem.partition.size(), c = problem.y.cols();
  FalkonResult result;
  Stopwatch setup_clock;
  Matrix<double> kzz_source = falkon_centers(comm, problem, options, result);
  const LocalCenters z_all(kzz_source, options.precision);
  const LocalCenters x_local(problem.x, options.precision);

  const FalkonSetupWork work(kzz_source.rows(), problem.x.cols(), n);
  const double w_total = work.kzz + work.a + work.rhs;
  const auto progress = [&](double done) {
    if (control.on_setup) control.on_setup("falkon setup", done, w_total);
  };
  progress(0);
  BlacsGrid grid(comm);
  const BlockCyclicMatrix l =
      factor_kzz(grid, problem.kernel, kzz_source, FalkonSystem::kBlock, options.precision,
                 options.factor_precision, result.jitter);
  kzz_source = Matrix<double>();  // float64 for the factorisation only
  progress(work.kzz);
  const BlockCyclicMatrix a = factor_a(l, options.ridge, options.factor_precision);
  progress(work.kzz + work.a);
  const FalkonSystem system(l, a, options.ridge);
  const Matrix<double> r = system.right_hand_side(
      kernel_normal_product(comm, problem.kernel, x_local, z_all, nullptr, &problem.y, c, n));
  progress(w_total);
  result.setup_seconds = setup_clock.seconds();

  // A resumed run (control.start, a checkpoint) takes beta, r, the direction, rs_old and the
  // active flags as they were after iteration start->iteration.
  Stopwatch solve_clock;
  std::vector<double> r0;
  FalkonCgState cg = starting_cg(comm, r, control.start, r0);
  const bool finished = run_cg(comm, system, problem.kernel, x_local, z_all, n, cg, r0, options,
                               on_iteration, control, result);
  result.solve_seconds = solve_clock.seconds();
  if (!finished) {
    result.interrupted = true;
    result.residuals = cg.residuals;
    return result;
  }
  finish_cg(system, cg, static_cast<std::size_t>(comm.rank()), result);
  return result;
}

void store_cg_state(const mpi::Communicator& comm, const FalkonCgState& st,
                    const std::string& prefix, Checkpoint& ck) {
  for (std::size_t l = 0; l < st.rs_old.size(); ++l) {
    ck.scalars[prefix + "rs_old_" + std::to_string(l)] = st.rs_old[l];
    ck.scalars[prefix + "active_" + std::to_string(l)] = st.active[l] ? 1.0 : 0.0;
  }
  for (std::size_t it = 1; it <= st.residuals.size(); ++it)
    ck.scalars[prefix + "residual_" + std::to_string(it)] = st.residuals[it - 1];
  ck.arrays.push_back(replicated_checkpoint_array(comm, prefix + "beta", st.beta));
  ck.arrays.push_back(replicated_checkpoint_array(comm, prefix + "r", st.r));
  ck.arrays.push_back(replicated_checkpoint_array(comm, prefix + "dir", st.dir));
  if (st.best_iteration > 0) {
    ck.scalars[prefix + "best_iteration"] = static_cast<double>(st.best_iteration);
    ck.arrays.push_back(replicated_checkpoint_array(comm, prefix + "best_beta", st.best_beta));
  }
}

FalkonCgState load_cg_state(const mpi::Communicator& comm, const Checkpoint& ck,
                            const std::string& prefix, std::size_t iterations, std::size_t c,
                            const std::string& path) {
  const CheckpointArray *b = ck.array(prefix + "beta"), *r = ck.array(prefix + "r"),
                        *dir = ck.array(prefix + "dir");
  // The options hash fixes p and c, so a mismatch here means a damaged writer; checked on
  // every rank alike (the header is replicated).
  const CheckpointArray* best = ck.array(prefix + "best_beta");
  const std::size_t best_it = static_cast<std::size_t>(ck.scalar(prefix + "best_iteration"));
  const bool shaped = b && r && dir && b->cols == c && r->cols == c && dir->cols == c &&
                      r->rows == b->rows && dir->rows == b->rows &&
                      (!best || (best->rows == b->rows && best->cols == c && best_it >= 1 &&
                                 best_it <= iterations));
  mpi::agree(comm, shaped, path + ": has no CG state of this problem's shape");
  FalkonCgState start;
  start.iteration = iterations;
  start.beta = gather_checkpoint_array(comm, *b);
  start.r = gather_checkpoint_array(comm, *r);
  start.dir = gather_checkpoint_array(comm, *dir);
  for (std::size_t l = 0; l < c; ++l) {
    start.rs_old.push_back(ck.scalar(prefix + "rs_old_" + std::to_string(l)));
    start.active.push_back(ck.scalar(prefix + "active_" + std::to_string(l)) != 0 ? 1 : 0);
  }
  for (std::size_t it = 1; it <= iterations; ++it)
    start.residuals.push_back(ck.scalar(prefix + "residual_" + std::to_string(it)));
  // Checkpoints before the best-iterate rule have none: the best is then taken from here on.
  start.best_iteration = best ? best_it : 0;
  if (best) start.best_beta = gather_checkpoint_array(comm, *best);
  return start;
}

}  // namespace kmpi
