// EigenPro 4: square loss restricted to span{k(., z_j)} by preconditioned SGD with delayed
// projection (DESIGN §1.3; Abedsoltan, Ma, Pandit, Belkin, "Fast training of large kernel models
// with delayed projections"). T = 1 is EigenPro 3.
//
// Between projections the model is f(x) = K(x,Z) alpha + K(x,Z_tmp) alpha_tmp + K(x,X_S) alpha_S.
// Each batch B:  g = f(X_B) - Y_B;  Z_tmp <- Z_tmp + X_B with weights -eta g;
//   w = D V^T K(X_S, X_B) g;  alpha_S += eta V w;  h += K(Z, X_B) g - M w,  M = K(Z, X_S) V,
// (V = E = U_q / sqrt(s) and D of the data preconditioner, as in EigenPro 2, but with its sample
// X_S drawn from the centers Z: see eigenpro4_preconditioners for why). Every T batches and
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
//   preconditioner. src/driver/memory_plan.cpp evaluates it (kmpi train --dry-run).
//
// Where things happen: eigenpro4_preconditioners and nystrom_image (setup), project (the
// projection's EigenPro 2 over Z), EigenPro4Iteration::step (one batch),
// EigenPro4Iteration::run_epoch (the batches of an epoch and the projection boundaries).
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "base/blas.hpp"
#include "base/fault.hpp"
#include "solvers/center_factor.hpp"
#include "solvers/eigenpro_common.hpp"
#include "parallel/log.hpp"
#include "base/permutation.hpp"
#include "solvers/solvers.hpp"

namespace kmpi {

namespace {

// The largest K(X_B, Z_r) panel kept between the prediction and the h update (at the batch cap
// of 10000 and p / P = 25000 centers per rank, float32: 0.93 GiB). Beyond it the block is
// computed twice, which costs one more m p_r d of kernel work per batch.
constexpr std::size_t kPanelBudgetBytes = std::size_t(1) << 30;

// Centers on which each projection's residual ||h - K_ZZ theta|| / ||h|| is measured (a seeded
// sample, fixed for the run): r p d flops per projection, against the projection's p^2 c
// (cholesky) or p^2 d (eigenpro2).
constexpr std::size_t kProjectionProbe = 256;

// The fixed sample of centers the projection residual is measured on, replicated.
struct ProjectionProbe {
  std::vector<std::size_t> indices;  // sorted center indices
  Matrix<double> z;                  // their rows (r x d)

  // collective: ||h_R - (K_ZZ theta)_R|| / ||h_R|| (0 when h_R = 0).
  double residual(const mpi::Communicator& comm, const Kernel& kernel, const BlockPartition& cpart,
                  const LocalCenters& zc, const Matrix<double>& h,
                  const Matrix<double>& theta) const {
    const Matrix<double> k_theta = kernel_times(comm, kernel, z, zc, theta);
    const Matrix<double> h_r = gather_selected_rows(comm, cpart, h, indices);
    double num = 0, den = 0;
    for (std::size_t i = 0; i < h_r.size(); ++i) {
      const double e = h_r.data()[i] - k_theta.data()[i];
      num += e * e;
      den += h_r.data()[i] * h_r.data()[i];
    }
    return den > 0 ? std::sqrt(num / den) : 0.0;
  }
};

// collective: w = D V^T K(X_S, X_B) g (q x c), summed over the ranks' sample members.
Matrix<double> preconditioner_coefficients(const mpi::Communicator& comm, const Kernel& kernel,
                                           const NystromPreconditioner& ny,
                                           const Matrix<double>& xb, const Matrix<double>& g) {
  Matrix<double> kg;
  if (ny.acts_here()) kg = kernel_transpose_times_local(kernel, ny.points, xb, g);
  return nystrom_coefficients(comm, ny, kg, g.cols());
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
                       const NystromPreconditioner& ny, const Matrix<double>& h, std::size_t epochs,
                       std::uint64_t seed, std::uint64_t key) {
  const std::size_t p = cpart.size(), c = h.cols(), first = cpart.begin(comm.rank());
  const EigenPro2Parameters& prm = ny.parameters;
  const std::size_t m = std::max<std::size_t>(1, std::min(prm.batch_size, p));
  const double eta = prm.step_size;
  Matrix<double> theta(h.rows(), c);
  for (std::size_t e = 0; e < epochs; ++e) {
    const CounterPermutation perm(p, seed, RngStream::kModelNystrom, key * 1000 + e);
    for (std::size_t b0 = 0; b0 < p; b0 += m) {
      const std::vector<std::size_t> batch = permuted_range(perm, b0, std::min(m, p - b0));
      SelectionLayout lay;
      const Matrix<double> zb = gather_rows(comm, cpart, z, batch, lay);
      // g = K(Z_B, Z) theta - h_B
      Matrix<double> g(batch.size(), c);
      kernel_times_local(kernel, zb, zc, theta, g);
      subtract_owned_targets(g, batch, lay, first, h);
      comm.allreduce(g.data(), g.size());
      const Matrix<double> w = preconditioner_coefficients(comm, kernel, ny, zb, g);
      step_owned_rows(theta, batch, lay, first, eta, g);
      if (ny.acts_here()) {
        Matrix<double> vw(ny.local_rows.size(), c);
        add_product(vw, 1.0, ny.v, w);
        add_to_rows(theta, ny.local_rows, eta, vw);
      }
    }
  }
  return theta;
}

struct EigenPro4Preconditioners {
  NystromPreconditioner data;   // on s_data centers: batch size m, step eta, the correction
  NystromPreconditioner model;  // on s_model centers: the projection's EigenPro 2 (none when exact)
};

// collective: both Nystrom preconditioners, on independent samples of the centers z (this
// rank's rows of BlockPartition cpart); n is the number of data rows (the largest batch).
EigenPro4Preconditioners eigenpro4_preconditioners(const mpi::Communicator& comm,
                                                   const Kernel& kernel,
                                                   const BlockPartition& cpart,
                                                   const Matrix<double>& z,
                                                   const EigenPro4Options& options, std::size_t n,
                                                   const SetupProgress& progress) {
  const std::size_t p = cpart.size();
  // Data preconditioner on s_data points of Z (not of X): its eigenfunctions then lie in
  // span{k(., z)}, so the preconditioner P commutes with the projection Pi_Z onto that span and
  // the fixed point Pi_Z P grad L = 0 of projected preconditioned SGD is Pi_Z grad L = 0, the
  // restricted least squares solution, for any targets. Sampled from X, P would move the fixed
  // point (measured: Fashion-MNIST, p = 10000, test accuracy stalled near 0.874 against Falkon's
  // 0.895). Z is drawn from the data, so K_{Z_S Z_S} estimates the same spectrum and the batch
  // and step rules are unchanged; with data.centers the rules come from the given centers'
  // spectrum (a set much unlike the data can then need a smaller solver.batch_size). The model
  // preconditioner is a second, independent sample of s_model points of Z.
  NystromRequest data;
  data.samples = std::min(p, options.data_samples > 0 ? options.data_samples : 3000);
  data.seed = options.seed;
  data.stream = RngStream::kNystrom;
  data.options.preconditioner_level = options.data_level;
  data.options.batch_size = options.batch_size;
  data.options.batch_cap = options.batch_cap;
  data.options.precision = options.precision;
  data.options.damping = options.damping;
  data.options.precondition = options.precondition;
  // Default q_data = 150 (DESIGN), at most s_data / 3 and p / 4: with q comparable to p the
  // preconditioner acts on many directions outside span Z, and projected preconditioned SGD was
  // measured to diverge (p = 25, q = 33) where q = 8 converged.
  if (data.options.preconditioner_level == 0 && options.precondition)
    data.options.preconditioner_level =
        std::max<std::size_t>(1, std::min<std::size_t>({150, data.samples / 3, p / 4}));
  data.batch_limit = n;
  data.small_blocks = true;
  data.keep_points = true;
  data.progress = progress;
  data.stage = "eigenpro4 setup (data preconditioner)";
  NystromRequest model = data;
  model.stage = "eigenpro4 setup (model preconditioner)";
  model.samples = std::min(p, options.model_samples > 0 ? options.model_samples : 3000);
  model.stream = RngStream::kModelNystrom;
  model.options.precondition = true;
  model.options.batch_size = 0;
  model.options.preconditioner_level =
      options.model_level > 0
          ? options.model_level
          : std::max<std::size_t>(1, std::min<std::size_t>(150, model.samples / 3));
  model.batch_limit = p;
  EigenPro4Preconditioners pre;
  pre.data = build_nystrom_preconditioner(comm, kernel, cpart, z, data);
  // The exact projection (solver.projection = cholesky) needs no EigenPro 2 over the centers.
  if (!options.exact_projection)
    pre.model = build_nystrom_preconditioner(comm, kernel, cpart, z, model);
  return pre;
}

// collective: M_r = K(Z_r, X_S) V (p_r x q) of the data preconditioner, with X_S and V
// replicated for this once (s x (d + q)).
Matrix<double> nystrom_image(const mpi::Communicator& comm, const Kernel& kernel,
                             const BlockPartition& cpart, const Matrix<double>& z,
                             const NystromPreconditioner& pre, Precision precision) {
  const std::size_t q = pre.parameters.q;
  Matrix<double> m_local(cpart.count(comm.rank()), q);
  if (q == 0) return m_local;
  const Matrix<double> xs = gather_selected_rows(comm, cpart, z, pre.indices);
  Matrix<double> v_all(pre.indices.size(), q);
  const SelectionLayout v_layout = runs_layout(pre.offsets, comm.rank(), q);
  comm.allgatherv(pre.v.data(), v_all.data(), v_layout.counts, v_layout.displs);
  kernel_times_local(kernel, z, LocalCenters(xs, precision), v_all, m_local);
  return m_local;
}

// The iteration over the data with what setup fixed (the centers, both preconditioners, M, m,
// eta, T) and the state between projections: alpha (this rank's rows of the weights, owned by
// the caller), h, alpha_S and the temporary centers Z_tmp,r with their weights alpha_tmp,r (this
// rank's rows of the batches since the last projection).
class EigenPro4Iteration {
 public:
  EigenPro4Iteration(const mpi::Communicator& comm, const TrainingProblem& problem,
                     const EigenPro4Options& options, const EigenPro4Result& setup,
                     const LocalCenters& zc, const EigenPro4Preconditioners& pre,
                     const Matrix<double>& m_local, const CenterSolver* exact,
                     const ProjectionProbe& probe, Matrix<double>& alpha)
      : comm_(comm),
        problem_(problem),
        options_(options),
        cpart_(setup.center_partition),
        z_(setup.centers),
        zc_(zc),
        pre_(pre),
        m_local_(m_local),
        exact_(exact),
        probe_(probe),
        alpha_(alpha),
        n_(problem.partition.size()),
        first_(problem.partition.begin(comm.rank())),
        m_(pre.data.parameters.batch_size),
        period_(setup.projection_period),
        eta_(pre.data.parameters.step_size) {
    clear_since_projection();
  }

  std::size_t steps_per_epoch() const { return (n_ + m_ - 1) / m_; }
  std::size_t projections_per_epoch() const { return (steps_per_epoch() + period_ - 1) / period_; }
  // local: the mean projection residual since the last call (-1: no projection), and reset.
  double take_mean_residual() {
    const double mean =
        residual_count_ > 0 ? residual_sum_ / static_cast<double>(residual_count_) : -1.0;
    residual_sum_ = 0;
    residual_count_ = 0;
    return mean;
  }

  // local: where a resumed run starts counting projections (the model projection's RNG
  // counter): ceil(steps / T) per completed epoch plus step / T in the current one (step =
  // steps_per_epoch counts the epoch's final one).
  void resume_at(std::size_t epoch, std::size_t step) {
    projections_ = epoch * projections_per_epoch() +
                   (step >= steps_per_epoch() ? projections_per_epoch() : step / period_);
  }

  // collective: the batches of `epoch` from its step `first_step` on, projecting every T-th
  // batch and at the epoch's end. control.after_step sees each projection boundary (the end's
  // too, unless a run resumed there has reported it already); false when it stopped the run.
  bool run_epoch(std::size_t epoch, std::size_t first_step, const IterationControl& control,
                 double& loss_sum) {
    const CounterPermutation perm(n_, options_.seed, RngStream::kBatches, epoch);
    for (std::size_t b0 = first_step * m_; b0 < n_; b0 += m_) {
      fault::point("eigenpro4.step");
      step(permuted_range(perm, b0, std::min(m_, n_ - b0)), epoch, loss_sum);
      if (++pending_ >= period_) apply_projection();
      // A projection boundary inside the epoch (the epoch's last one is reported below).
      if (pending_ == 0 && b0 + m_ < n_ && control.after_step &&
          !control.after_step(StepState{epoch, b0 / m_ + 1, steps_per_epoch(), &alpha_, loss_sum}))
        return false;
    }
    if (pending_ > 0) apply_projection();
    const bool reported = first_step >= steps_per_epoch();
    return !control.after_step || reported ||
           control.after_step(
               StepState{epoch, steps_per_epoch(), steps_per_epoch(), &alpha_, loss_sum});
  }

 private:
  // collective: one batch step (the header's formulas) on the sorted batch.
  void step(const std::vector<std::size_t>& batch, std::size_t epoch, double& loss_sum) {
    const std::size_t mb = batch.size(), c = alpha_.cols();
    const Kernel& kernel = problem_.kernel;
    SelectionLayout lay;
    const Matrix<double> xb = gather_rows(comm_, problem_.partition, problem_.x, batch, lay);

    // g = K(X_B, Z) alpha + K(X_B, Z_tmp) alpha_tmp + K(X_B, X_S) alpha_S - Y_B. K(X_B, Z_r)
    // is kept (the panel) for h below when it fits the budget, else computed again there.
    Matrix<double> g(mb, c);
    const bool use_panel =
        KernelPanel::bytes(mb, zc_.rows(), options_.precision) <= kPanelBudgetBytes;
    if (use_panel)
      panel_.compute(kernel, xb, zc_, alpha_, g);
    else
      kernel_times_local(kernel, xb, zc_, alpha_, g);
    if (tmp_.rows() > 0) kernel_times_local(kernel, xb, tmp_, tmp_alpha_, g);
    if (pending_ > 0) kernel_times_local(kernel, xb, pre_.data.points, alpha_s_, g);
    subtract_owned_targets(g, batch, lay, first_, problem_.y);
    comm_.allreduce(g.data(), g.size());
    accumulate_squares(g, loss_sum);
    if (!comm_.agreed(std::isfinite(loss_sum)))  // agreed: g's bits may differ by rank
      throw DivergedError("EigenPro 4 diverged in epoch " + std::to_string(epoch) +
                          " (non-finite residual); lower solver.batch_size");

    // Temporary centers: this rank's rows of X_B with weights -eta g.
    std::vector<std::size_t> rows;
    for (std::size_t k = lay.lo; k < lay.hi; ++k) rows.push_back(batch[k] - first_);
    tmp_.append_rows(problem_.x, rows);
    Matrix<double> weights(lay.hi - lay.lo, c);
    for (std::size_t k = lay.lo; k < lay.hi; ++k)
      for (std::size_t l = 0; l < c; ++l) weights(k - lay.lo, l) = -eta_ * g(k, l);
    tmp_alpha_.append_rows(weights.data(), weights.rows());
    // Data preconditioner: w = D V^T K(X_S, X_B) g; alpha_S += eta V w.
    const Matrix<double> w = preconditioner_coefficients(comm_, kernel, pre_.data, xb, g);
    add_product(alpha_s_, eta_, pre_.data.v, w);
    // h += K(Z_r, X_B) g - M_r w.
    const Matrix<double> kg =
        use_panel ? panel_.transpose_times(g) : kernel_transpose_times_local(kernel, zc_, xb, g);
    for (std::size_t i = 0; i < h_.size(); ++i) h_.data()[i] += kg.data()[i];
    add_product(h_, -1.0, m_local_, w);
  }

  // collective: theta ~ K(Z,Z)^{-1} h, alpha -= eta theta, and the state since the last
  // projection cleared.
  void apply_projection() {
    const Matrix<double> theta =
        exact_ ? exact_->solve(h_)
               : project(comm_, problem_.kernel, cpart_, z_, zc_, pre_.model, h_,
                         options_.projection_epochs, options_.seed, projections_);
    ++projections_;
    residual_sum_ += probe_.residual(comm_, problem_.kernel, cpart_, zc_, h_, theta);
    ++residual_count_;
    for (std::size_t i = 0; i < alpha_.size(); ++i) alpha_.data()[i] -= eta_ * theta.data()[i];
    clear_since_projection();
  }

  void clear_since_projection() {
    const std::size_t c = problem_.y.cols();
    h_ = Matrix<double>(cpart_.count(comm_.rank()), c);
    alpha_s_ = Matrix<double>(pre_.data.local_rows.size(), c);
    tmp_ = LocalCenters(Matrix<double>(0, problem_.x.cols()), options_.precision);
    tmp_alpha_ = Matrix<double>(0, c);
    pending_ = 0;
  }

  const mpi::Communicator& comm_;
  const TrainingProblem& problem_;
  const EigenPro4Options& options_;
  const BlockPartition& cpart_;  // BlockPartition(p, P) of the centers
  const Matrix<double>& z_;      // this rank's centers Z_r
  const LocalCenters& zc_;       // Z_r in the kernel precision
  const EigenPro4Preconditioners& pre_;
  const Matrix<double>& m_local_;  // M_r = K(Z_r, X_S) V
  const CenterSolver* exact_;      // the exact projection, or null (eigenpro2 projections)
  const ProjectionProbe& probe_;
  Matrix<double>& alpha_;
  const std::size_t n_, first_;   // data rows in all; this rank's first
  const std::size_t m_, period_;  // batch size m and projection period T
  const double eta_;
  Matrix<double> h_, alpha_s_, tmp_alpha_;
  LocalCenters tmp_;             // Z_tmp,r
  std::size_t pending_ = 0;      // batches since the last projection
  std::size_t projections_ = 0;  // done so far, the projection's RNG key
  double residual_sum_ = 0;      // projection residuals since take_mean_residual
  std::size_t residual_count_ = 0;
  KernelPanel panel_;  // K(X_B, Z_r), one buffer for every batch
};

// collective: the centers, the same p training rows at any rank count (or the given ones),
// block-partitioned: result's center_partition, center_indices and centers.
void choose_centers(const mpi::Communicator& comm, const TrainingProblem& problem,
                    const EigenPro4Options& options, std::size_t p, EigenPro4Result& result) {
  result.center_partition = BlockPartition(p, comm.size());
  if (options.given_centers) {
    result.centers = *options.given_centers;  // already this rank's block of BlockPartition(p, P)
  } else {
    result.center_indices =
        random_subset(problem.partition.size(), p, options.seed, RngStream::kCenters);
    result.centers = distribute_selected_rows(comm, problem.partition, problem.x,
                                              result.center_indices, result.center_partition);
  }
}

// collective: the fixed sample of kProjectionProbe centers whose residual measures each
// projection, replicated.
ProjectionProbe projection_probe(const mpi::Communicator& comm, const BlockPartition& cpart,
                                 const Matrix<double>& centers, std::uint64_t seed) {
  const std::size_t p = cpart.size();
  ProjectionProbe probe;
  probe.indices =
      random_subset(p, std::min(p, kProjectionProbe), seed, RngStream::kModelNystrom, 999999);
  std::sort(probe.indices.begin(), probe.indices.end());
  probe.z = gather_selected_rows(comm, cpart, centers, probe.indices);
  return probe;
}

}  // namespace

EigenPro4Result train_eigenpro4(const mpi::Communicator& comm, const TrainingProblem& problem,
                                const EigenPro4Options& options, const EpochCallback& on_epoch,
                                const IterationControl& control) {
  const BlockPartition& part = problem.partition;
  const std::size_t n = part.size(), c = problem.y.cols();
  const std::size_t p = center_count(comm, n, options.centers, options.given_centers);
  EigenPro4Result result;
  Stopwatch setup_clock;

  choose_centers(comm, problem, options, p, result);
  const BlockPartition& cpart = result.center_partition;
  const LocalCenters zc(result.centers, options.precision);
  const EigenPro4Preconditioners pre = eigenpro4_preconditioners(
      comm, problem.kernel, cpart, result.centers, options, n, control.on_setup);
  result.data_parameters = pre.data.parameters;
  result.model_parameters = pre.model.parameters;
  const Matrix<double> m_local =
      nystrom_image(comm, problem.kernel, cpart, result.centers, pre.data, options.precision);
  const std::size_t m = pre.data.parameters.batch_size;
  result.projection_period =
      options.projection_period > 0 ? options.projection_period : std::max<std::size_t>(1, p / m);
  std::unique_ptr<CenterSolver> exact;
  if (options.exact_projection) {
    exact = std::make_unique<CenterSolver>(comm, problem.kernel, cpart, result.centers,
                                           options.precision, options.factor_precision);
    result.jitter = exact->jitter();
  }
  const ProjectionProbe probe = projection_probe(comm, cpart, result.centers, options.seed);
  result.setup_seconds = setup_clock.seconds();

  // Checkpoints are taken only at projection boundaries (after every T-th batch and at each
  // epoch's end), where Z_tmp, alpha_tmp, alpha_S and h have just been cleared: the whole state
  // is then alpha and the counters (epoch, step, loss_sum), and the number of projections done
  // follows from them (EigenPro4Iteration::resume_at). The preconditioners and M are rebuilt
  // from the seed and the data, bit-identically on the same rank count.
  Matrix<double>& alpha = result.alpha;
  alpha = Matrix<double>(cpart.count(comm.rank()), c);
  EigenPro4Iteration iteration(comm, problem, options, result, zc, pre, m_local, exact.get(), probe,
                               alpha);
  if (control.start_alpha) {
    mpi::agree(comm,
               control.start_alpha->rows() == alpha.rows() && control.start_alpha->cols() == c,
               "eigenpro4: the resumed weights do not match this problem's shape");
    alpha = *control.start_alpha;
  }
  iteration.resume_at(control.start_epoch, control.start_step);
  result.epochs_run = control.start_epoch;
  for (std::size_t epoch = control.start_epoch + 1; epoch <= options.epochs; ++epoch) {
    const bool resumed_epoch = epoch == control.start_epoch + 1;
    Stopwatch epoch_clock;
    const std::uint64_t bytes_at_start = mpi::bytes_sent();
    double loss_sum = resumed_epoch ? control.start_loss_sum : 0;
    if (!iteration.run_epoch(epoch, resumed_epoch ? control.start_step : 0, control, loss_sum)) {
      result.interrupted = true;
      return result;
    }
    result.epochs_run = epoch;
    EpochState state = epoch_report(epoch, epoch_clock.seconds(), loss_sum, n, alpha,
                                    result.data_parameters, result.setup_seconds);
    state.centers = &zc;
    state.projection_residual = iteration.take_mean_residual();
    // What this rank's collectives sent (the projections' included; ScaLAPACK's own messages in
    // an exact projection's solve are not counted by the MPI layer) over the epoch's batches.
    state.steps = iteration.steps_per_epoch() - (resumed_epoch ? control.start_step : 0);
    state.bytes_sent = mpi::bytes_sent() - bytes_at_start;
    result.epoch_losses.push_back(state.batch_loss);
    result.projection_residuals.push_back(state.projection_residual);
    if (on_epoch && !on_epoch(state)) break;
  }
  return result;
}

}  // namespace kmpi
