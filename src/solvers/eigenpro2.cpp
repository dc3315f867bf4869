// EigenPro 2 across ranks (DESIGN §1.2 for the math, §2 for what each step communicates).
#include <algorithm>
#include <cmath>
#include <memory>

#include "kmpi/blas.hpp"
#include "kmpi/log.hpp"
#include "kmpi/rng.hpp"
#include "kmpi/scalapack.hpp"
#include "kmpi/solvers.hpp"

namespace kmpi {

EigenPro2Parameters eigenpro2_parameters(const std::vector<double>& lambda, std::size_t s,
                                         std::size_t n, double beta, const EigenPro2Options& o) {
  const double a = o.damping;
  EigenPro2Parameters p;
  p.s = s;
  p.beta = beta;
  if (lambda.size() < 2)
    throw Error("EigenPro 2 needs at least 2 eigenvalues of the Nystrom matrix");
  // lambda is 0-based: lambda[i - 1] is lambda_i.
  if (!o.precondition) {
    p.q = 0;
  } else if (o.preconditioner_level > 0) {
    p.q = o.preconditioner_level;
    if (p.q + 1 > lambda.size())
      throw Error("solver.preconditioner_level = " + std::to_string(p.q) + " needs " +
                  std::to_string(p.q + 1) + " eigenvalues but the Nystrom sample has only " +
                  std::to_string(lambda.size()));
  } else {
    // The largest q whose damped critical batch size lambda_q^(-a) stays below the cap, at
    // least 5 and at most s/3 (and at most what was computed).
    const std::size_t q_max = std::min(s / 3, lambda.size() - 1);
    std::size_t q = std::min<std::size_t>(5, q_max);
    for (std::size_t i = q; i <= q_max; ++i)
      if (lambda[i - 1] > 0 && std::pow(lambda[i - 1], -a) <= static_cast<double>(o.batch_cap))
        q = i;
    p.q = std::max<std::size_t>(1, q);
  }
  p.lambda_1 = lambda[0];
  p.lambda_q1 = lambda[p.q];
  if (!(p.lambda_q1 > 0))
    throw Error("Nystrom eigenvalue lambda_{q+1} = " + std::to_string(p.lambda_q1) +
                " is not positive: lower solver.preconditioner_level or raise kernel.bandwidth");
  p.d.resize(p.q);
  for (std::size_t i = 1; i <= p.q; ++i)
    p.d[i - 1] = (1 - std::pow(p.lambda_q1 / lambda[i - 1], a)) / lambda[i - 1];
  // With q = 0 this is lambda_1 itself: plain SGD's critical batch and step.
  p.preconditioned_top = std::pow(p.lambda_1, 1 - a) * std::pow(p.lambda_q1, a);
  p.critical_batch = beta / p.preconditioned_top;
  // A batch is at most the whole data set.
  const double m = std::min(
      static_cast<double>(n),
      o.batch_size > 0 ? static_cast<double>(o.batch_size)
                       : std::max(1.0, std::floor(std::min(p.critical_batch,
                                                           static_cast<double>(o.batch_cap)))));
  p.batch_size = static_cast<std::size_t>(m);
  p.batch_step =
      m < p.critical_batch + 1 ? m / beta : 0.99 * 2 * m / (beta + (m - 1) * p.preconditioned_top);
  p.step_size = p.batch_step / m;
  return p;
}

namespace {

// The Nystrom preconditioner as this rank holds it: its rows of S (those of its own data rows),
// their rows of V = U_q / sqrt(s), and d.
struct NystromPreconditioner {
  std::vector<std::size_t> local_rows;  // indices into this rank's data rows
  Matrix<double> v;                     // |S_r| x q
};

// One batch's rows on every rank: the sorted batch (each rank's members are a contiguous run
// of it, so one allgatherv builds X_B) and this rank's share, gathered without blocking.
struct BatchRows {
  std::vector<std::size_t> batch;  // sorted global rows
  std::vector<int> counts, displs;
  std::size_t my_lo = 0, my_hi = 0;  // this rank's members: batch[my_lo, my_hi)
  Matrix<double> mine, x;            // this rank's rows; X_B (|batch| x d) once complete
  mpi::Request request;
};

// collective (non-blocking): starts gathering rows perm[b0, b0 + mb) on every rank. The result
// lives on the heap so the buffers MPI writes into never move.
std::unique_ptr<BatchRows> start_batch(const mpi::Communicator& comm, const BlockPartition& part,
                                       const Matrix<double>& x_local,
                                       const std::vector<std::size_t>& perm, std::size_t b0,
                                       std::size_t mb) {
  const int P = comm.size(), me = comm.rank();
  const std::size_t d = x_local.cols(), my_begin = part.begin(me);
  auto b = std::make_unique<BatchRows>();
  b->batch.assign(perm.begin() + b0, perm.begin() + b0 + mb);
  std::sort(b->batch.begin(), b->batch.end());
  b->counts.resize(P);
  b->displs.resize(P);
  std::size_t lo = 0;
  for (int r = 0; r < P; ++r) {
    const std::size_t hi = static_cast<std::size_t>(
        std::lower_bound(b->batch.begin(), b->batch.end(), part.end(r)) - b->batch.begin());
    b->counts[r] = static_cast<int>((hi - lo) * d);
    b->displs[r] = static_cast<int>(lo * d);
    if (r == me) b->my_lo = lo, b->my_hi = hi;
    lo = hi;
  }
  b->mine = Matrix<double>(b->my_hi - b->my_lo, d);
  b->x = Matrix<double>(mb, d);
  for (std::size_t k = b->my_lo; k < b->my_hi; ++k)
    std::copy(x_local.row(b->batch[k] - my_begin), x_local.row(b->batch[k] - my_begin) + d,
              b->mine.row(k - b->my_lo));
  b->request = comm.iallgatherv(b->mine.data(), b->x.data(), b->counts, b->displs);
  return b;
}

}  // namespace

EigenPro2Result train_eigenpro2(const mpi::Communicator& comm, const TrainingProblem& problem,
                                const EigenPro2Options& options, const EpochCallback& on_epoch,
                                const IterationControl& control) {
  const int P = comm.size(), me = comm.rank();
  const BlockPartition& part = problem.partition;
  const std::size_t n = part.size(), d = problem.x.cols(), c = problem.y.cols();
  const std::size_t my_begin = part.begin(me), my_count = part.count(me);
  EigenPro2Result result;
  Stopwatch setup_clock;

  // 1. The Nystrom sample S, the same for every rank count.
  const std::size_t s = std::min(
      n, options.nystrom_samples > 0 ? options.nystrom_samples : (n < 100000 ? 2000 : 12000));
  result.nystrom_indices = random_subset(n, s, options.seed, RngStream::kNystrom);
  const auto& S = result.nystrom_indices;
  // S is sorted, so rank r's members are a contiguous run of S: offsets give the row layout.
  std::vector<std::size_t> s_offsets(P + 1, 0);
  for (int r = 0; r < P; ++r)
    s_offsets[r + 1] =
        static_cast<std::size_t>(std::lower_bound(S.begin(), S.end(), part.end(r)) - S.begin());
  NystromPreconditioner pre;
  for (std::size_t k = s_offsets[me]; k < s_offsets[me + 1]; ++k)
    pre.local_rows.push_back(S[k] - my_begin);
  const Matrix<double> xs_local = select_rows(problem.x, pre.local_rows);

  // X_S replicated (s x d, small), to evaluate the block-cyclic tiles of K_SS.
  Matrix<double> xs(s, d);
  {
    std::vector<int> counts(P), displs(P);
    for (int r = 0; r < P; ++r) {
      counts[r] = static_cast<int>((s_offsets[r + 1] - s_offsets[r]) * d);
      displs[r] = static_cast<int>(s_offsets[r] * d);
    }
    comm.allgatherv(xs_local.data(), xs.data(), counts, displs);
  }

  // 2. Top eigenpairs of K_SS / s, built directly in block-cyclic layout, in float64.
  const std::size_t k_wanted = !options.precondition ? 2
                               : options.preconditioner_level > 0
                                   ? std::min(s, options.preconditioner_level + 1)
                                   : std::min(s, s / 3 + 1);
  Matrix<double> v_desc;
  {
    BlacsGrid grid(comm);
    BlockCyclicMatrix kss(grid, s, s);
    const auto rows = kss.global_rows(), cols = kss.global_cols();
    const Matrix<double> xr = select_rows(xs, rows), xc = select_rows(xs, cols);
    kernel_block(problem.kernel, xc.data(), cols.size(), d, xr.data(), rows.size(), d, d,
                 kss.data(), kss.ld());
    for (std::size_t j = 0; j < kss.local_cols(); ++j)
      for (std::size_t i = 0; i < kss.local_rows(); ++i) kss.local(i, j) /= static_cast<double>(s);
    TopEigenpairs top = top_eigenpairs(kss, std::max<std::size_t>(k_wanted, 2));
    result.eigenvalues = top.values;
    // 3-7. Automatic parameters (the same on every rank: the eigenvalues are replicated).
    // Replicated inputs, but agreed anyway: a verdict must never depend on one rank alone.
    mpi::agree_on(comm, [&] {
      result.parameters =
          eigenpro2_parameters(top.values, s, n, problem.kernel.diagonal(), options);
    });
    v_desc = top.rows_descending(s_offsets);
  }
  const EigenPro2Parameters& prm = result.parameters;
  const std::size_t q = prm.q;
  result.eigenvalues.resize(q + 1);
  pre.v = Matrix<double>(v_desc.rows(), q);
  const double inv_sqrt_s = 1.0 / std::sqrt(static_cast<double>(s));
  for (std::size_t i = 0; i < v_desc.rows(); ++i)
    for (std::size_t j = 0; j < q; ++j) pre.v(i, j) = v_desc(i, j) * inv_sqrt_s;
  const LocalCenters centers(problem.x, options.precision);
  result.setup_seconds = setup_clock.seconds();

  // The iteration.
  Matrix<double>& alpha = result.alpha;
  alpha = Matrix<double>(my_count, c);
  if (control.start_alpha) {
    mpi::agree(comm, control.start_alpha->rows() == my_count && control.start_alpha->cols() == c,
               "EigenPro 2: the weights to resume from do not match the data (" +
                   std::to_string(control.start_alpha->rows()) + " x " +
                   std::to_string(control.start_alpha->cols()) + " on this rank)");
    alpha = *control.start_alpha;
  }
  const std::size_t m = prm.batch_size;
  const double eta = prm.step_size;
  // A resumed run re-enters epoch start_epoch + 1 after its start_step completed steps: the batch
  // order is a function of (seed, epoch) alone, so those counters are the whole RNG state.
  const std::size_t steps_per_epoch = (n + m - 1) / m;
  result.epochs_run = control.start_epoch;
  for (std::size_t epoch = control.start_epoch + 1; epoch <= options.epochs; ++epoch) {
    const bool resumed_epoch = epoch == control.start_epoch + 1;
    Stopwatch epoch_clock;
    const std::uint64_t bytes_at_start = mpi::bytes_sent();
    // Time in the step's three collectives, waiting for slower ranks included: what overlapping
    // communication with the kernel blocks could at most save.
    double comm_seconds = 0;
    std::size_t steps = 0;
    const auto perm = random_permutation(n, options.seed, RngStream::kBatches, epoch);
    double loss_sum = resumed_epoch ? control.start_loss_sum : 0;
    const std::size_t first_b0 = resumed_epoch ? control.start_step * m : 0;
    std::unique_ptr<BatchRows> next =
        first_b0 < n ? start_batch(comm, part, problem.x, perm, first_b0, std::min(m, n - first_b0))
                     : nullptr;
    for (std::size_t b0 = first_b0; b0 < n; b0 += m) {
      const std::size_t mb = std::min(m, n - b0);
      ++steps;
      const std::unique_ptr<BatchRows> current = std::move(next);
      Stopwatch comm_clock;
      current->request.wait();
      comm_seconds += comm_clock.seconds();
      // The data rows never change, so the next batch's rows travel while this one is computed
      // (progressed between kernel tiles; Open MPI has no progress thread).
      if (b0 + m < n)
        next = start_batch(comm, part, problem.x, perm, b0 + m, std::min(m, n - b0 - m));
      const std::vector<std::size_t>& batch = current->batch;
      const Matrix<double>& xb = current->x;
      const std::size_t my_lo = current->my_lo, my_hi = current->my_hi;

      // g = K(X_B, X) alpha - Y_B: local partial products, minus the targets this rank owns,
      // summed by one allreduce of m x c.
      Matrix<double> g(mb, c);
      // The kernel values K(X_B, X_{S_r}) are columns of the block computed here: capture them
      // for the Nystrom correction instead of evaluating them again.
      KernelColumns nystrom_block;
      nystrom_block.columns = &pre.local_rows;
      kernel_times_local(problem.kernel, xb, centers, alpha, g, kDefaultTileBytes,
                         q > 0 ? &nystrom_block : nullptr, [&next] {
                           if (next) next->request.test();
                         });
      for (std::size_t k = my_lo; k < my_hi; ++k)
        for (std::size_t l = 0; l < c; ++l) g(k, l) -= problem.y(batch[k] - my_begin, l);
      comm_clock.restart();
      comm.allreduce(g.data(), g.size());
      comm_seconds += comm_clock.seconds();
      for (std::size_t i = 0; i < g.size(); ++i) loss_sum += g.data()[i] * g.data()[i];
      // g is replicated, so every rank reaches this verdict together.
      if (!std::isfinite(loss_sum))
        throw CollectiveError(
            "EigenPro 2 diverged in epoch " + std::to_string(epoch) +
                " (non-finite residual); lower solver.batch_size or check the data",
            0);

      // Nystrom correction, with g from before the batch update:
      // alpha_S += eta V diag(d) V^T K(X_S, X_B) g, the q x c middle summed over ranks.
      Matrix<double> h(q, c);
      if (q > 0 && !pre.local_rows.empty()) {
        // kg = K(X_{S_r}, X_B) g = (captured K(X_B, X_{S_r}))^T g, then h = V_r^T kg.
        const std::size_t sr = pre.local_rows.size();
        Matrix<double> kg(sr, c);
        blas::gemm(true, false, sr, c, mb, 1.0, nystrom_block.values.data(), sr, g.data(), c, 0.0,
                   kg.data(), c);
        blas::gemm(true, false, q, c, sr, 1.0, pre.v.data(), q, kg.data(), c, 0.0, h.data(), c);
      }
      comm_clock.restart();
      comm.allreduce(h.data(), h.size());  // no-op when q = 0 (plain SGD), on every rank
      comm_seconds += comm_clock.seconds();
      for (std::size_t j = 0; j < q; ++j)
        for (std::size_t l = 0; l < c; ++l) h(j, l) *= prm.d[j];

      // alpha_B -= eta g (this rank's batch rows).
      for (std::size_t k = my_lo; k < my_hi; ++k)
        for (std::size_t l = 0; l < c; ++l) alpha(batch[k] - my_begin, l) -= eta * g(k, l);
      if (q > 0 && !pre.local_rows.empty()) {
        Matrix<double> vh(pre.local_rows.size(), c);
        blas::gemm(false, false, vh.rows(), c, q, 1.0, pre.v.data(), q, h.data(), c, 0.0, vh.data(),
                   c);
        for (std::size_t i = 0; i < pre.local_rows.size(); ++i)
          for (std::size_t l = 0; l < c; ++l) alpha(pre.local_rows[i], l) += eta * vh(i, l);
      }
      // Step boundary: checkpoints and stop signals are agreed here (IterationControl).
      if (control.after_step &&
          !control.after_step(StepState{epoch, b0 / m + 1, steps_per_epoch, &alpha, loss_sum})) {
        result.interrupted = true;
        return result;
      }
    }
    result.epochs_run = epoch;
    EpochState state;
    state.epoch = epoch;
    state.epoch_seconds = epoch_clock.seconds();
    state.batch_loss = loss_sum / (static_cast<double>(n) * static_cast<double>(c));
    state.alpha = &alpha;
    state.parameters = &result.parameters;
    state.setup_seconds = result.setup_seconds;
    state.steps = steps;
    state.bytes_sent = mpi::bytes_sent() - bytes_at_start;
    state.comm_seconds = comm_seconds;
    if (on_epoch && !on_epoch(state)) break;
  }
  return result;
}

}  // namespace kmpi
