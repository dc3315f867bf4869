// EigenPro 4: square loss restricted to span{k(., z_j)} by preconditioned SGD with delayed
// projection (DESIGN §1.3; Abedsoltan, Ma, Pandit, Belkin, "Fast training of large kernel models
// with delayed projections"). T = 1 is EigenPro 3.
//
// Between projections the model is f(x) = K(x,Z) alpha + K(x,Z_tmp) alpha_tmp + K(x,X_S) alpha_S.
// Each batch B:  g = f(X_B) - Y_B;  Z_tmp <- Z_tmp + X_B with weights -eta g;
//   w = D V^T K(X_S, X_B) g;  alpha_S += eta V w;  h += K(Z, X_B) g - M w,  M = K(Z, X_S) V,
// (V = E = U_q / sqrt(s) and D of the data preconditioner, as in EigenPro 2, but with its sample
// X_S drawn from the centers Z: see train_eigenpro4 for why). Every T batches and
// at every epoch end: theta ~ K(Z,Z)^{-1} h by EigenPro 2 over the centers (its own Nystrom
// preconditioner on a subsample of Z, built once), alpha -= eta theta, and Z_tmp, alpha_tmp,
// alpha_S, h are cleared.
//
// Layout (P ranks): Z, alpha, h and M (p x q) block-partitioned, BlockPartition(p, P). The
// temporary centers of a batch stay with the ranks that own its rows (each rank keeps its own
// rows of X_B and their weights), so they are spread as the data are. X_S and alpha_S: each rank
// holds the sample members among its centers. Replicated: X_B (m x d), g (m x c), q x c
// reductions, and X_S with V (s x (d + q)) while M is built. The centers reach their owners by
// one all-to-all at setup (no rank ever holds all of Z). Memory per rank, in values:
//   n d / P (data) + p (d + c + c + q) / P (Z, alpha, h, M) + T m (d + c) / P (temporaries)
//   + m p / P (the panel K(X_B, Z_r), kept from the prediction for h; at most 1 GiB, else
//   computed twice) + m d (batch) + tile, plus the setup's s^2 / P block-cyclic K_SS for each
//   preconditioner. src/memory_plan.cpp evaluates it (kmpi train --dry-run).
#include <algorithm>
#include <cmath>

#include "kmpi/blas.hpp"
#include "kmpi/log.hpp"
#include "kmpi/rng.hpp"
#include "kmpi/scalapack.hpp"
#include "kmpi/solvers.hpp"

namespace kmpi {

namespace {

// The largest K(X_B, Z_r) panel kept between the prediction and the h update (at the batch cap
// of 10000 and p / P = 25000 centers per rank, float32: 0.93 GiB). Beyond it the block is
// computed twice, which costs one more m p_r d of kernel work per batch.
constexpr std::size_t kPanelBudgetBytes = std::size_t(1) << 30;

// A Nystrom preconditioner over row-partitioned points (here always the centers), the same
// construction as EigenPro 2's: S drawn by the counter RNG, top eigenpairs of K_SS / s by pdsyevd
// on a block-cyclic K_SS, parameters by eigenpro2_parameters with batches of at most
// batch_limit.
struct Nystrom {
  std::vector<std::size_t> indices;     // S: sorted global row indices
  std::vector<std::size_t> offsets;     // rank r holds S members [offsets[r], offsets[r + 1])
  std::vector<std::size_t> local_rows;  // those members as indices into this rank's rows
  LocalCenters points;                  // X_{S_r} in the kernel precision
  Matrix<double> v;                     // |S_r| x q: this rank's rows of V = U_q / sqrt(s)
  EigenPro2Parameters parameters;
};

// collective
Nystrom build_nystrom(const mpi::Communicator& comm, const Kernel& kernel,
                      const BlockPartition& part, const Matrix<double>& x, std::size_t s,
                      std::uint64_t seed, RngStream stream, const EigenPro2Options& options,
                      std::size_t batch_limit) {
  const int me = comm.rank();
  const std::size_t n = part.size(), d = x.cols();
  Nystrom ny;
  ny.indices = random_subset(n, s, seed, stream);
  ny.offsets = selection_runs(ny.indices, part);
  for (std::size_t k = ny.offsets[me]; k < ny.offsets[me + 1]; ++k)
    ny.local_rows.push_back(ny.indices[k] - part.begin(me));
  const Matrix<double> xs = gather_selected_rows(comm, part, x, ny.indices);  // s x d, small
  const std::size_t k_wanted = !options.precondition ? 2
                               : options.preconditioner_level > 0
                                   ? std::min(s, options.preconditioner_level + 1)
                                   : std::min(s, s / 3 + 1);
  Matrix<double> v_desc;
  {
    BlacsGrid grid(comm);
    // Blocks small enough that every process of the grid holds some of K_SS: with s < 64 and
    // the default 64 x 64 blocks one process column holds it all, and pdsyevd then returned wrong
    // eigenvectors (info = 0) here at 2 ranks.
    const std::size_t procs = static_cast<std::size_t>(std::max(grid.rows(), grid.cols()));
    const std::size_t nb = std::max<std::size_t>(1, std::min<std::size_t>(64, s / procs));
    BlockCyclicMatrix kss(grid, s, s, nb, nb);
    const auto rows = kss.global_rows(), cols = kss.global_cols();
    const Matrix<double> xr = select_rows(xs, rows), xc = select_rows(xs, cols);
    kernel_block(kernel, xc.data(), cols.size(), d, xr.data(), rows.size(), d, d, kss.data(),
                 kss.ld());
    for (std::size_t j = 0; j < kss.local_cols(); ++j)
      for (std::size_t i = 0; i < kss.local_rows(); ++i) kss.local(i, j) /= static_cast<double>(s);
    TopEigenpairs top = top_eigenpairs(kss, std::max<std::size_t>(k_wanted, 2));
    mpi::agree_on(comm, [&] {
      ny.parameters = eigenpro2_parameters(top.values, s, batch_limit, kernel.diagonal(), options);
    });
    v_desc = top.rows_descending(ny.offsets);
  }
  const std::size_t q = ny.parameters.q;
  ny.v = Matrix<double>(v_desc.rows(), q);
  const double inv_sqrt_s = 1.0 / std::sqrt(static_cast<double>(s));
  for (std::size_t i = 0; i < v_desc.rows(); ++i)
    for (std::size_t j = 0; j < q; ++j) ny.v(i, j) = v_desc(i, j) * inv_sqrt_s;
  ny.points = LocalCenters(select_rows(x, ny.local_rows), options.precision);
  return ny;
}

// A batch of sorted global row indices as this rank sees it: its own members are the run
// [lo, hi) of the batch, and counts/displs (times `cols`) describe everyone's runs.
struct BatchLayout {
  std::size_t lo = 0, hi = 0;
  std::vector<int> counts, displs;
};
BatchLayout batch_layout(const std::vector<std::size_t>& batch, const BlockPartition& part, int me,
                         std::size_t cols) {
  const int P = part.parts();
  BatchLayout b;
  b.counts.resize(P);
  b.displs.resize(P);
  std::size_t lo = 0;
  for (int r = 0; r < P; ++r) {
    const std::size_t hi = static_cast<std::size_t>(
        std::lower_bound(batch.begin(), batch.end(), part.end(r)) - batch.begin());
    b.counts[r] = static_cast<int>((hi - lo) * cols);
    b.displs[r] = static_cast<int>(lo * cols);
    if (r == me) b.lo = lo, b.hi = hi;
    lo = hi;
  }
  return b;
}

// collective: the batch's rows of the row-partitioned x, replicated (m x d).
Matrix<double> gather_batch(const mpi::Communicator& comm, const std::vector<std::size_t>& batch,
                            const BlockPartition& part, const Matrix<double>& x,
                            BatchLayout& layout) {
  const std::size_t d = x.cols(), first = part.begin(comm.rank());
  layout = batch_layout(batch, part, comm.rank(), d);
  Matrix<double> mine(layout.hi - layout.lo, d), all(batch.size(), d);
  for (std::size_t k = layout.lo; k < layout.hi; ++k)
    std::copy(x.row(batch[k] - first), x.row(batch[k] - first) + d, mine.row(k - layout.lo));
  comm.allgatherv(mine.data(), all.data(), layout.counts, layout.displs);
  return all;
}

// collective: w = D V^T K(X_S, X_B) g (q x c), summed over the ranks' sample members.
Matrix<double> preconditioner_coefficients(const mpi::Communicator& comm, const Kernel& kernel,
                                           const Nystrom& ny, const Matrix<double>& xb,
                                           const Matrix<double>& g) {
  const std::size_t q = ny.parameters.q, c = g.cols();
  Matrix<double> w(q, c);
  if (q > 0 && !ny.local_rows.empty()) {
    const Matrix<double> kg = kernel_transpose_times_local(kernel, ny.points, xb, g);
    blas::gemm(true, false, q, c, kg.rows(), 1.0, ny.v.data(), q, kg.data(), c, 0.0, w.data(), c);
  }
  comm.allreduce(w.data(), w.size());
  for (std::size_t j = 0; j < q; ++j)
    for (std::size_t l = 0; l < c; ++l) w(j, l) *= ny.parameters.d[j];
  return w;
}

// local: out (rows x c) += scale * a (rows x q) w (q x c).
void add_product(Matrix<double>& out, double scale, const Matrix<double>& a,
                 const Matrix<double>& w) {
  if (a.rows() == 0 || w.rows() == 0) return;
  blas::gemm(false, false, a.rows(), w.cols(), w.rows(), scale, a.data(), a.cols(), w.data(),
             w.cols(), 1.0, out.data(), out.cols());
}

// collective: theta ~ K(Z,Z)^{-1} h by `epochs` epochs of EigenPro 2 over the centers from
// theta = 0 (DESIGN §1.2 with X = Z, Y = h). `key` numbers the projection, so batches are the
// same at any rank count.
Matrix<double> project(const mpi::Communicator& comm, const Kernel& kernel,
                       const BlockPartition& cpart, const Matrix<double>& z, const LocalCenters& zc,
                       const Nystrom& ny, const Matrix<double>& h, std::size_t epochs,
                       std::uint64_t seed, std::uint64_t key) {
  const std::size_t p = cpart.size(), c = h.cols(), first = cpart.begin(comm.rank());
  const EigenPro2Parameters& prm = ny.parameters;
  const std::size_t m = std::max<std::size_t>(1, std::min(prm.batch_size, p));
  const double eta = prm.step_size;
  Matrix<double> theta(h.rows(), c);
  std::vector<std::size_t> batch;
  for (std::size_t e = 0; e < epochs; ++e) {
    const auto perm = random_permutation(p, seed, RngStream::kModelNystrom, key * 1000 + e);
    for (std::size_t b0 = 0; b0 < p; b0 += m) {
      batch.assign(perm.begin() + b0, perm.begin() + std::min(p, b0 + m));
      std::sort(batch.begin(), batch.end());
      BatchLayout lay;
      const Matrix<double> zb = gather_batch(comm, batch, cpart, z, lay);
      // g = K(Z_B, Z) theta - h_B
      Matrix<double> g(batch.size(), c);
      kernel_times_local(kernel, zb, zc, theta, g);
      for (std::size_t k = lay.lo; k < lay.hi; ++k)
        for (std::size_t l = 0; l < c; ++l) g(k, l) -= h(batch[k] - first, l);
      comm.allreduce(g.data(), g.size());
      const Matrix<double> w = preconditioner_coefficients(comm, kernel, ny, zb, g);
      for (std::size_t k = lay.lo; k < lay.hi; ++k)
        for (std::size_t l = 0; l < c; ++l) theta(batch[k] - first, l) -= eta * g(k, l);
      if (!ny.local_rows.empty() && prm.q > 0) {
        Matrix<double> vw(ny.local_rows.size(), c);
        add_product(vw, 1.0, ny.v, w);
        for (std::size_t i = 0; i < ny.local_rows.size(); ++i)
          for (std::size_t l = 0; l < c; ++l) theta(ny.local_rows[i], l) += eta * vw(i, l);
      }
    }
  }
  return theta;
}

}  // namespace

EigenPro4Result train_eigenpro4(const mpi::Communicator& comm, const TrainingProblem& problem,
                                const EigenPro4Options& options, const EpochCallback& on_epoch,
                                const IterationControl& control) {
  const int P = comm.size(), me = comm.rank();
  const BlockPartition& part = problem.partition;
  const std::size_t n = part.size(), d = problem.x.cols(), c = problem.y.cols();
  const std::size_t my_begin = part.begin(me);
  // Given centers: p = the ranks' rows summed (one allreduce); else min(n, solver.centers).
  const std::size_t p =
      options.given_centers
          ? comm.allreduce_value(options.given_centers->rows(), mpi::Op::kSum)
          : std::min(n, options.centers > 0 ? options.centers : std::size_t(10000));
  EigenPro4Result result;
  Stopwatch setup_clock;

  // Centers: the same p training rows at any rank count, block-partitioned.
  result.center_partition = BlockPartition(p, P);
  const BlockPartition& cpart = result.center_partition;
  if (options.given_centers) {
    result.centers = *options.given_centers;  // already this rank's block of BlockPartition(p, P)
  } else {
    result.center_indices = random_subset(n, p, options.seed, RngStream::kCenters);
    result.centers =
        distribute_selected_rows(comm, part, problem.x, result.center_indices, cpart);
  }
  const LocalCenters zc(result.centers, options.precision);

  // Data preconditioner on s_data points of Z (not of X): its eigenfunctions then lie in
  // span{k(., z)}, so the preconditioner P commutes with the projection Pi_Z onto that span and
  // the fixed point Pi_Z P grad L = 0 of projected preconditioned SGD is Pi_Z grad L = 0, the
  // restricted least squares solution, for any targets. Sampled from X, P would move the fixed
  // point (measured: Fashion-MNIST, p = 10000, test accuracy stalled near 0.874 against Falkon's
  // 0.895). Z is drawn from the data, so K_{Z_S Z_S} estimates the same spectrum and the batch
  // and step rules are unchanged; with data.centers the rules come from the given centers'
  // spectrum (a set much unlike the data can then need a smaller solver.batch_size). The model
  // preconditioner is a second, independent sample of s_model points of Z.
  EigenPro2Options data_o;
  data_o.preconditioner_level = options.data_level;
  data_o.batch_size = options.batch_size;
  data_o.batch_cap = options.batch_cap;
  data_o.precision = options.precision;
  data_o.damping = options.damping;
  data_o.precondition = options.precondition;
  const std::size_t s_data = std::min(p, options.data_samples > 0 ? options.data_samples : 3000);
  // Default q_data = 150 (DESIGN), at most s_data / 3 and p / 4: with q comparable to p the
  // preconditioner acts on many directions outside span Z, and projected preconditioned SGD was
  // measured to diverge (p = 25, q = 33) where q = 8 converged.
  if (data_o.preconditioner_level == 0 && options.precondition)
    data_o.preconditioner_level =
        std::max<std::size_t>(1, std::min<std::size_t>({150, s_data / 3, p / 4}));
  const Nystrom data_pre = build_nystrom(comm, problem.kernel, cpart, result.centers, s_data,
                                         options.seed, RngStream::kNystrom, data_o, n);
  EigenPro2Options model_o = data_o;
  model_o.precondition = true;
  model_o.batch_size = 0;
  const std::size_t s_model = std::min(p, options.model_samples > 0 ? options.model_samples : 3000);
  model_o.preconditioner_level =
      options.model_level > 0 ? options.model_level
                              : std::max<std::size_t>(1, std::min<std::size_t>(150, s_model / 3));
  const Nystrom model_pre = build_nystrom(comm, problem.kernel, cpart, result.centers, s_model,
                                          options.seed, RngStream::kModelNystrom, model_o, p);
  result.data_parameters = data_pre.parameters;
  result.model_parameters = model_pre.parameters;
  const std::size_t q = data_pre.parameters.q;

  // M_r = K(Z_r, X_S) V (p_r x q): X_S and V replicated for this once (s x (d + q)).
  Matrix<double> m_local(cpart.count(me), q);
  if (q > 0) {
    const Matrix<double> xs = gather_selected_rows(comm, cpart, result.centers, data_pre.indices);
    Matrix<double> v_all(data_pre.indices.size(), q);
    std::vector<int> counts(P), displs(P);
    for (int r = 0; r < P; ++r) {
      counts[r] = static_cast<int>((data_pre.offsets[r + 1] - data_pre.offsets[r]) * q);
      displs[r] = static_cast<int>(data_pre.offsets[r] * q);
    }
    comm.allgatherv(data_pre.v.data(), v_all.data(), counts, displs);
    kernel_times_local(problem.kernel, result.centers, LocalCenters(xs, options.precision), v_all,
                       m_local);
  }

  const std::size_t m = data_pre.parameters.batch_size;
  const double eta = data_pre.parameters.step_size;
  result.projection_period =
      options.projection_period > 0 ? options.projection_period : std::max<std::size_t>(1, p / m);
  const std::size_t T = result.projection_period;
  result.setup_seconds = setup_clock.seconds();

  Matrix<double>& alpha = result.alpha;
  alpha = Matrix<double>(cpart.count(me), c);
  Matrix<double> h(cpart.count(me), c);
  Matrix<double> alpha_s(data_pre.local_rows.size(), c);
  // Z_tmp,r and alpha_tmp,r: this rank's rows of the batches since the last projection.
  LocalCenters tmp(Matrix<double>(0, d), options.precision);
  Matrix<double> tmp_alpha(0, c);
  std::size_t pending = 0, projections = 0;

  // Checkpoints are taken only at projection boundaries (after every T-th batch and at each
  // epoch's end), where Z_tmp, alpha_tmp, alpha_S and h have just been cleared: the whole state
  // is then alpha and the counters (epoch, step, loss_sum), and the number of projections done
  // (the model projection's RNG counter) follows from them: ceil(steps / T) per completed epoch
  // plus step / T in the current one (step = steps_per_epoch counts the epoch's final one).
  // The preconditioners and M are rebuilt from the seed and the data, bit-identically on the
  // same rank count.
  const std::size_t steps_per_epoch = (n + m - 1) / m;
  const std::size_t projections_per_epoch = (steps_per_epoch + T - 1) / T;
  if (control.start_alpha) {
    mpi::agree(comm,
               control.start_alpha->rows() == alpha.rows() && control.start_alpha->cols() == c,
               "eigenpro4: the resumed weights do not match this problem's shape");
    alpha = *control.start_alpha;
  }
  projections =
      control.start_epoch * projections_per_epoch +
      (control.start_step >= steps_per_epoch ? projections_per_epoch : control.start_step / T);
  result.epochs_run = control.start_epoch;

  auto project_now = [&]() {
    const Matrix<double> theta = project(comm, problem.kernel, cpart, result.centers, zc, model_pre,
                                         h, options.projection_epochs, options.seed, projections++);
    for (std::size_t i = 0; i < alpha.size(); ++i) alpha.data()[i] -= eta * theta.data()[i];
    h = Matrix<double>(cpart.count(me), c);
    alpha_s = Matrix<double>(data_pre.local_rows.size(), c);
    tmp = LocalCenters(Matrix<double>(0, d), options.precision);
    tmp_alpha = Matrix<double>(0, c);
    pending = 0;
  };

  std::vector<std::size_t> batch;
  KernelPanel panel;  // K(X_B, Z_r), one buffer for every batch
  for (std::size_t epoch = control.start_epoch + 1; epoch <= options.epochs; ++epoch) {
    const bool resumed_epoch = epoch == control.start_epoch + 1;
    Stopwatch epoch_clock;
    const auto perm = random_permutation(n, options.seed, RngStream::kBatches, epoch);
    double loss_sum = resumed_epoch ? control.start_loss_sum : 0;
    for (std::size_t b0 = resumed_epoch ? control.start_step * m : 0; b0 < n; b0 += m) {
      const std::size_t mb = std::min(m, n - b0);
      batch.assign(perm.begin() + b0, perm.begin() + b0 + mb);
      std::sort(batch.begin(), batch.end());
      BatchLayout lay;
      const Matrix<double> xb = gather_batch(comm, batch, part, problem.x, lay);

      // g = K(X_B, Z) alpha + K(X_B, Z_tmp) alpha_tmp + K(X_B, X_S) alpha_S - Y_B. K(X_B, Z_r)
      // is kept (the panel) for h below when it fits the budget, else computed again there.
      Matrix<double> g(mb, c);
      const bool use_panel =
          KernelPanel::bytes(mb, zc.rows(), options.precision) <= kPanelBudgetBytes;
      if (use_panel)
        panel.compute(problem.kernel, xb, zc, alpha, g);
      else
        kernel_times_local(problem.kernel, xb, zc, alpha, g);
      if (tmp.rows() > 0) kernel_times_local(problem.kernel, xb, tmp, tmp_alpha, g);
      if (pending > 0) kernel_times_local(problem.kernel, xb, data_pre.points, alpha_s, g);
      for (std::size_t k = lay.lo; k < lay.hi; ++k)
        for (std::size_t l = 0; l < c; ++l) g(k, l) -= problem.y(batch[k] - my_begin, l);
      comm.allreduce(g.data(), g.size());
      for (std::size_t i = 0; i < g.size(); ++i) loss_sum += g.data()[i] * g.data()[i];
      if (!std::isfinite(loss_sum))
        throw CollectiveError("EigenPro 4 diverged in epoch " + std::to_string(epoch) +
                                  " (non-finite residual); lower solver.batch_size",
                              0);

      // Temporary centers: this rank's rows of X_B with weights -eta g.
      {
        std::vector<std::size_t> rows;
        for (std::size_t k = lay.lo; k < lay.hi; ++k) rows.push_back(batch[k] - my_begin);
        tmp.append_rows(problem.x, rows);
        Matrix<double> weights(lay.hi - lay.lo, c);
        for (std::size_t k = lay.lo; k < lay.hi; ++k)
          for (std::size_t l = 0; l < c; ++l) weights(k - lay.lo, l) = -eta * g(k, l);
        tmp_alpha.append_rows(weights.data(), weights.rows());
      }
      // Data preconditioner: w = D V^T K(X_S, X_B) g; alpha_S += eta V w.
      const Matrix<double> w = preconditioner_coefficients(comm, problem.kernel, data_pre, xb, g);
      add_product(alpha_s, eta, data_pre.v, w);
      // h += K(Z_r, X_B) g - M_r w.
      const Matrix<double> kg =
          use_panel ? panel.transpose_times(g)
                    : kernel_transpose_times_local(problem.kernel, zc, xb, g);
      for (std::size_t i = 0; i < h.size(); ++i) h.data()[i] += kg.data()[i];
      add_product(h, -1.0, m_local, w);
      if (++pending >= T) project_now();
      // A projection boundary inside the epoch (the epoch's last one is reported below).
      if (pending == 0 && b0 + m < n && control.after_step &&
          !control.after_step(StepState{epoch, b0 / m + 1, steps_per_epoch, &alpha, loss_sum})) {
        result.interrupted = true;
        return result;
      }
    }
    if (pending > 0) project_now();
    // (A run resumed at the end of this epoch has already reported this boundary.)
    const bool reported = resumed_epoch && control.start_step >= steps_per_epoch;
    if (control.after_step && !reported &&
        !control.after_step(StepState{epoch, steps_per_epoch, steps_per_epoch, &alpha, loss_sum})) {
      result.interrupted = true;
      return result;
    }
    result.epochs_run = epoch;
    EpochState state;
    state.epoch = epoch;
    state.epoch_seconds = epoch_clock.seconds();
    state.batch_loss = loss_sum / (static_cast<double>(n) * static_cast<double>(c));
    state.alpha = &alpha;
    state.parameters = &result.data_parameters;
    state.centers = &zc;
    state.setup_seconds = result.setup_seconds;
    result.epoch_losses.push_back(state.batch_loss);
    if (on_epoch && !on_epoch(state)) break;
  }
  return result;
}

}  // namespace kmpi
