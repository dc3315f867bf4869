// Falkon: Nystrom kernel ridge regression by preconditioned conjugate gradient (DESIGN §1.4).
//
// Problem: min ||K_nZ alpha - Y||^2 + lambda n alpha^T K_ZZ alpha, i.e. the normal equations
//   H alpha = K_nZ^T Y / n,   H = K_nZ^T K_nZ / n + lambda K_ZZ.
// Preconditioner (Rudi, Carratino, Rosasco 2017): T = chol(K_ZZ + eps I) (upper, T^T T = K_ZZ),
// A = chol(T T^T / p + lambda I), B = T^{-1} A^{-1}; CG runs on B^T H B beta = B^T K_nZ^T Y / n
// and alpha = B beta. With T^T T standing in for K_ZZ the regulariser solved for is
// lambda n alpha^T (K_ZZ + eps I) alpha; eps is p * 2^-52 unless that Cholesky fails.
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
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <numeric>

#include "kmpi/blas.hpp"
#include "kmpi/log.hpp"
#include "kmpi/rng.hpp"
#include "kmpi/scalapack.hpp"
#include "kmpi/solvers.hpp"

namespace kmpi {

namespace {

// local: w (p x c) += K(X_r, Z)^T (K(X_r, Z) u + v) over this rank's data rows X_r, with u
// (p x c) and v (n_r x c) optional (nullptr = 0). Each kernel tile is computed once and used for
// both products, which halves the kernel work against two separate operator calls.
template <class T>
void normal_product_local(const Kernel& k, const LocalCenters& x, const LocalCenters& z,
                          const Matrix<double>* u, const Matrix<double>* v, Matrix<double>& w,
                          std::size_t tile_bytes) {
  const std::size_t n = x.rows(), p = z.rows(), d = z.dimension(), c = w.cols();
  if (n == 0 || p == 0 || c == 0) return;
  const Matrix<T>& xt = x.template rows_as<T>();
  const Matrix<T>& zt = z.template rows_as<T>();
  const std::vector<T>& xn = x.template norms_as<T>();
  const std::vector<T>& zn = z.template norms_as<T>();
  Matrix<T> ut;
  if (u) ut = convert<T>(*u);
  // tile_bytes = 0 means the machine's budget (kernel_operator.hpp); a chunk is at least 64 rows
  // so the tile's GEMM keeps its shape even for very large p.
  const std::size_t budget = tile_bytes > 0 ? tile_bytes : cache_tile_bytes();
  const std::size_t chunk =
      std::min(n, std::max<std::size_t>(64, budget / (std::max<std::size_t>(p, 1) * sizeof(T))));
  // tmp_t (c x mi) and part_t (c x p) are kept transposed so that both products read the tile
  // untransposed: w^T += tmp^T K_tile. OpenBLAS packing K_tile^T for (p x mi)(mi x c) with small c
  // was measured 15x slower than the whole kernel evaluation.
  std::vector<T> block(chunk * p), tmp(chunk * c), tmp_t(c * chunk), part_t(c * p);
  for (std::size_t i0 = 0; i0 < n; i0 += chunk) {
    const std::size_t mi = std::min(chunk, n - i0);
    kernel_block(k, xt.row(i0), mi, d, zt.data(), p, d, d, block.data(), p, xn.data() + i0,
                 zn.data());
    // tmp = K_tile u + v_tile (mi x c)
    if (u)
      blas::gemm(false, false, mi, c, p, T(1), block.data(), p, ut.data(), c, T(0), tmp.data(), c);
    else
      std::fill(tmp.begin(), tmp.begin() + mi * c, T(0));
    for (std::size_t i = 0; i < mi; ++i)
      for (std::size_t l = 0; l < c; ++l)
        tmp_t[l * mi + i] = tmp[i * c + l] + (v ? static_cast<T>((*v)(i0 + i, l)) : T(0));
    // w += K_tile^T tmp, as part_t = tmp^T K_tile, accumulated in float64 across tiles.
    blas::gemm(false, false, c, p, mi, T(1), tmp_t.data(), mi, block.data(), p, T(0), part_t.data(),
               p);
    for (std::size_t j = 0; j < p; ++j)
      for (std::size_t l = 0; l < c; ++l) w(j, l) += static_cast<double>(part_t[l * p + j]);
  }
}

// collective: K_nZ^T (K_nZ u + V) / n summed over every rank's data rows, replicated.
Matrix<double> normal_product(const mpi::Communicator& comm, const Kernel& k, const LocalCenters& x,
                              const LocalCenters& z, const Matrix<double>* u,
                              const Matrix<double>* v, std::size_t c, std::size_t n_total) {
  Matrix<double> w(z.rows(), c);
  if (z.precision() == Precision::kFloat32)
    normal_product_local<float>(k, x, z, u, v, w, kDefaultTileBytes);
  else
    normal_product_local<double>(k, x, z, u, v, w, kDefaultTileBytes);
  comm.allreduce(w.data(), w.size());
  for (std::size_t i = 0; i < w.size(); ++i) w.data()[i] /= static_cast<double>(n_total);
  return w;
}

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

// MPI counts and displacements are ints: rows x d values must fit. The same arguments on every
// rank, so the error is agreed without a message.
void check_int_counts(std::size_t rows, std::size_t d) {
  if (static_cast<double>(rows) * static_cast<double>(d) > 2147483647.0)
    throw CollectiveError("selected rows: " + std::to_string(rows) + " x " + std::to_string(d) +
                              " values exceed an MPI count; use more ranks",
                          0);
}

}  // namespace

std::vector<std::size_t> selection_runs(const std::vector<std::size_t>& indices,
                                        const BlockPartition& part) {
  std::vector<std::size_t> run(part.parts() + 1, 0);
  for (int r = 0; r < part.parts(); ++r)
    run[r + 1] = static_cast<std::size_t>(
        std::lower_bound(indices.begin(), indices.end(), part.end(r)) - indices.begin());
  return run;
}

Matrix<double> gather_selected_rows(const mpi::Communicator& comm, const BlockPartition& part,
                                    const Matrix<double>& local,
                                    const std::vector<std::size_t>& indices) {
  const int P = comm.size(), me = comm.rank();
  const std::size_t d = local.cols();
  check_int_counts(indices.size(), d);
  // Sorted indices: each rank's members are a contiguous run, so one allgatherv does it.
  const std::vector<std::size_t> run = selection_runs(indices, part);
  std::vector<int> counts(P), displs(P);
  for (int r = 0; r < P; ++r) {
    counts[r] = static_cast<int>((run[r + 1] - run[r]) * d);
    displs[r] = static_cast<int>(run[r] * d);
  }
  const std::size_t my_lo = run[me], my_hi = run[me + 1];
  Matrix<double> mine(my_hi - my_lo, d), all(indices.size(), d);
  for (std::size_t k = my_lo; k < my_hi; ++k)
    std::copy(local.row(indices[k] - part.begin(me)), local.row(indices[k] - part.begin(me)) + d,
              mine.row(k - my_lo));
  comm.allgatherv(mine.data(), all.data(), counts, displs);
  return all;
}

Matrix<double> distribute_selected_rows(const mpi::Communicator& comm, const BlockPartition& part,
                                        const Matrix<double>& local,
                                        const std::vector<std::size_t>& indices,
                                        const BlockPartition& to) {
  const int P = comm.size(), me = comm.rank();
  const std::size_t d = local.cols();
  check_int_counts(to.count(0), d);  // the largest block of `to`: every count and offset fits
  // Rank r owns the run [run[r], run[r + 1]) of the sorted indices and must send the part of it
  // that falls in [to.begin(k), to.end(k)) to rank k; both orders agree, so rows arrive in order.
  const std::vector<std::size_t> run = selection_runs(indices, part);
  auto overlap = [](std::size_t a0, std::size_t a1, std::size_t b0, std::size_t b1) {
    const std::size_t lo = std::max(a0, b0), hi = std::min(a1, b1);
    return std::pair<std::size_t, std::size_t>{lo, std::max(lo, hi)};
  };
  std::vector<int> send_counts(P), send_displs(P), recv_counts(P), recv_displs(P);
  for (int k = 0; k < P; ++k) {
    const auto [s0, s1] = overlap(run[me], run[me + 1], to.begin(k), to.end(k));
    send_counts[k] = static_cast<int>((s1 - s0) * d);
    send_displs[k] = static_cast<int>((s1 > s0 ? s0 - run[me] : 0) * d);
    const auto [r0, r1] = overlap(run[k], run[k + 1], to.begin(me), to.end(me));
    recv_counts[k] = static_cast<int>((r1 - r0) * d);
    recv_displs[k] = static_cast<int>((r1 > r0 ? r0 - to.begin(me) : 0) * d);
  }
  Matrix<double> mine(run[me + 1] - run[me], d), out(to.count(me), d);
  for (std::size_t k = run[me]; k < run[me + 1]; ++k)
    std::copy(local.row(indices[k] - part.begin(me)), local.row(indices[k] - part.begin(me)) + d,
              mine.row(k - run[me]));
  comm.alltoallv(mine.data(), send_counts, send_displs, out.data(), recv_counts, recv_displs);
  return out;
}

FalkonResult train_falkon(const mpi::Communicator& comm, const TrainingProblem& problem,
                          const FalkonOptions& options, const FalkonIterationCallback& on_iteration,
                          const FalkonControl& control) {
  const int P = comm.size(), me = comm.rank();
  const std::size_t n = problem.partition.size(), c = problem.y.cols();
  // Given centers: p = the ranks' rows summed (one allreduce); else min(n, solver.centers).
  const std::size_t p =
      options.given_centers
          ? comm.allreduce_value(options.given_centers->rows(), mpi::Op::kSum)
          : std::min(n, options.centers > 0 ? options.centers : std::size_t(10000));
  const double lambda = options.ridge;
  FalkonResult result;
  Stopwatch setup_clock;

  // Centers: the same p training rows for every rank count; Z replicated (see the header).
  // Given centers are already BlockPartition(p, P); all p rows of them are gathered instead.
  if (!options.given_centers)
    result.center_indices = random_subset(n, p, options.seed, RngStream::kCenters);
  result.center_partition = BlockPartition(p, P);
  LocalCenters z_all;
  Matrix<double> kzz_source;
  {
    std::vector<std::size_t> every(options.given_centers ? p : 0);
    std::iota(every.begin(), every.end(), std::size_t(0));
    const Matrix<double> z =
        options.given_centers
            ? gather_selected_rows(comm, result.center_partition, *options.given_centers, every)
            : gather_selected_rows(comm, problem.partition, problem.x, result.center_indices);
    const BlockPartition& cp = result.center_partition;
    result.centers = Matrix<double>(cp.count(me), z.cols());
    std::copy(z.row(cp.begin(me)), z.row(cp.begin(me)) + cp.count(me) * z.cols(),
              result.centers.data());
    z_all = LocalCenters(z, options.precision);
    kzz_source = z;  // float64 for the factorisation; dropped after it
  }
  const LocalCenters x_local(problem.x, options.precision);

  BlacsGrid grid(comm);
  const std::size_t nb = 64;
  // L: K_ZZ + eps I = L L^T. eps starts at p * 2^-52 (Falkon's choice) and grows by 100x when
  // float64 rounding leaves K_ZZ numerically indefinite (duplicate or near-duplicate centers).
  // The CollectiveError of a failed pdpotrf reaches every rank together, so the retry is
  // collective.
  BlockCyclicMatrix l(grid, p, p, nb, nb);
  const auto rows = l.global_rows(), cols = l.global_cols();
  double eps = static_cast<double>(p) * DBL_EPSILON;
  for (int attempt = 0;; ++attempt) {
    const Matrix<double> zr = select_rows(kzz_source, rows), zc = select_rows(kzz_source, cols);
    // K(Z_cols, Z_rows) row-major with leading dimension ld() is K(rows, cols) column-major.
    kernel_block(problem.kernel, zc.data(), cols.size(), zc.cols(), zr.data(), rows.size(),
                 zr.cols(), zr.cols(), l.data(), l.ld());
    for (std::size_t j = 0; j < l.local_cols(); ++j)
      for (std::size_t i = 0; i < l.local_rows(); ++i)
        if (rows[i] == cols[j]) l.local(i, j) += eps;
    try {
      cholesky_factor(l);
      break;
    } catch (const CollectiveError&) {
      if (attempt >= 6) throw;
      eps *= 100;
    }
  }
  result.jitter = eps;
  kzz_source = Matrix<double>();
  // A_L: chol(L^T L / p + lambda I), from a copy of L (pdlauum works in place).
  BlockCyclicMatrix a = l;
  lower_gram(a);
  for (std::size_t j = 0; j < a.local_cols(); ++j)
    for (std::size_t i = 0; i < a.local_rows(); ++i) {
      a.local(i, j) /= static_cast<double>(p);
      if (rows[i] == cols[j]) a.local(i, j) += lambda;
    }
  cholesky_factor(a);

  // B^T w = A^{-T} T^{-T} w = A_L^{-1} L^{-1} w (block-cyclic, in place).
  auto apply_bt = [&](BlockCyclicMatrix& b) {
    triangular_solve(l, b, false);
    triangular_solve(a, b, false);
  };
  // Right-hand side r_0 = B^T K_nZ^T Y / n.
  Matrix<double> r;
  {
    const Matrix<double> w =
        normal_product(comm, problem.kernel, x_local, z_all, nullptr, &problem.y, c, n);
    BlockCyclicMatrix b = block_cyclic_from(grid, w, nb);
    apply_bt(b);
    r = b.replicate();
  }
  result.setup_seconds = setup_clock.seconds();

  // B^T H B u = A^{-T} [ T^{-T} K_nZ^T K_nZ T^{-1} A^{-1} u / n + lambda A^{-1} u ].
  auto apply_system = [&](const Matrix<double>& u) {
    BlockCyclicMatrix au = block_cyclic_from(grid, u, nb);
    triangular_solve(a, au, true);  // A^{-1} u
    BlockCyclicMatrix tau = au;
    triangular_solve(l, tau, true);  // T^{-1} A^{-1} u
    const Matrix<double> v = tau.replicate();
    const Matrix<double> w =
        normal_product(comm, problem.kernel, x_local, z_all, &v, nullptr, c, n);
    BlockCyclicMatrix b = block_cyclic_from(grid, w, nb);
    triangular_solve(l, b, false);
    for (std::size_t j = 0; j < b.local_cols(); ++j)
      for (std::size_t i = 0; i < b.local_rows(); ++i) b.local(i, j) += lambda * au.local(i, j);
    triangular_solve(a, b, false);
    return b.replicate();
  };

  // Conjugate gradient, one independent recurrence per output column, on replicated p x c
  // matrices (every rank computes the same scalars from the same allreduced data).
  // A resumed run (control.start, a checkpoint) takes beta, r, the direction, rs_old and the
  // active flags as they were after iteration start->iteration; r_0 (hence ||r_0||) is the
  // right-hand side just rebuilt, bit-identical to the interrupted run's on the same rank count.
  Stopwatch solve_clock;
  FalkonCgState cg;
  cg.beta = Matrix<double>(p, c);
  cg.dir = r;
  cg.rs_old = column_dots(r, r);
  std::vector<double> r0(c);
  cg.active.assign(c, 0);
  for (std::size_t l2 = 0; l2 < c; ++l2) {
    r0[l2] = std::sqrt(cg.rs_old[l2]);
    cg.active[l2] = r0[l2] > 0;
  }
  if (control.start) {
    const FalkonCgState& s0 = *control.start;
    if (s0.beta.rows() != p || s0.beta.cols() != c || s0.r.rows() != p || s0.r.cols() != c ||
        s0.dir.rows() != p || s0.dir.cols() != c || s0.rs_old.size() != c || s0.active.size() != c)
      throw CollectiveError("falkon: the resumed CG state does not match this problem's shape",
                            0);  // replicated data: the same verdict on every rank
    cg = s0;
    r = cg.r;
  }
  Matrix<double>& beta = cg.beta;
  Matrix<double>& dir = cg.dir;
  std::vector<double>& rs_old = cg.rs_old;
  std::vector<char>& active = cg.active;
  result.residuals = cg.residuals;
  for (std::size_t it = cg.iteration + 1; it <= options.iterations; ++it) {
    if (std::none_of(active.begin(), active.end(), [](char x) { return x != 0; })) break;
    const Matrix<double> hd = apply_system(dir);
    const std::vector<double> dhd = column_dots(dir, hd);
    for (std::size_t l2 = 0; l2 < c; ++l2)
      if (active[l2] && !(dhd[l2] > 0)) active[l2] = 0;  // breakdown: converged to rounding
    for (std::size_t i = 0; i < p; ++i)
      for (std::size_t l2 = 0; l2 < c; ++l2) {
        if (!active[l2]) continue;
        const double step = rs_old[l2] / dhd[l2];
        beta(i, l2) += step * dir(i, l2);
        r(i, l2) -= step * hd(i, l2);
      }
    const std::vector<double> rs_new = column_dots(r, r);
    double worst = 0;
    for (std::size_t l2 = 0; l2 < c; ++l2) {
      if (r0[l2] > 0) worst = std::max(worst, std::sqrt(rs_new[l2]) / r0[l2]);
      if (!active[l2]) continue;
      const double ratio = rs_new[l2] / rs_old[l2];
      for (std::size_t i = 0; i < p; ++i) dir(i, l2) = r(i, l2) + ratio * dir(i, l2);
      rs_old[l2] = rs_new[l2];
      if (std::sqrt(rs_new[l2]) <= options.tolerance * r0[l2]) active[l2] = 0;
    }
    // The same on every rank (replicated data), so the loop ends together.
    if (!std::isfinite(worst))
      throw CollectiveError(
          "falkon: conjugate gradient diverged (non-finite residual); raise "
          "solver.ridge",
          0);
    result.residuals.push_back(worst);
    if (on_iteration) on_iteration(it, worst);
    if (control.after_iteration) {
      cg.iteration = it;
      cg.r = r;
      cg.residuals = result.residuals;
      if (!control.after_iteration(cg)) {
        result.interrupted = true;
        result.solve_seconds = solve_clock.seconds();
        return result;
      }
    }
  }
  result.solve_seconds = solve_clock.seconds();

  // alpha = B beta = T^{-1} A^{-1} beta = L^{-T} A_L^{-T} beta.
  BlockCyclicMatrix b = block_cyclic_from(grid, beta, nb);
  triangular_solve(a, b, true);
  triangular_solve(l, b, true);
  result.alpha = b.to_row_blocks(result.center_partition, 0, c);
  return result;
}

}  // namespace kmpi
