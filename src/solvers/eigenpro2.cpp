// EigenPro 2 across ranks (DESIGN §1.2 for the math, §2 for what each step communicates).
//
// Setup: the Nystrom preconditioner (eigenpro_common.cpp: S, the top eigenpairs of K_SS / s,
// the batch size m and step eta). The iteration (EigenPro2Iteration below): each epoch visits the
// data in batches of m in the order random_permutation(seed, epoch); one batch step
// (EigenPro2Iteration::step) is
//   g = K(X_B, X) alpha - Y_B;  alpha_B -= eta g;  alpha_S += eta V D V^T K(X_S, X_B) g.
// Every rank holds its rows of X and alpha; X_B and g are replicated (one allgatherv and one
// allreduce of m x c), the q x c middle of the correction is one more allreduce.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "kmpi/blas.hpp"
#include "kmpi/eigenpro_common.hpp"
#include "kmpi/log.hpp"
#include "kmpi/rng.hpp"
#include "kmpi/solver.hpp"
#include "kmpi/solvers.hpp"

namespace kmpi {

namespace {

// One batch's rows on every rank: the sorted batch (each rank's members are a contiguous run
// of it, so one allgatherv builds X_B) and this rank's share, gathered without blocking.
struct BatchRows {
  std::vector<std::size_t> batch;  // sorted global rows
  SelectionLayout layout;          // this rank's members: batch[layout.lo, layout.hi)
  Matrix<double> mine, x;          // this rank's rows; X_B (|batch| x d) once complete
  mpi::Request request;
};

// collective (non-blocking): starts gathering rows perm[b0, b0 + mb) on every rank. The result
// lives on the heap so the buffers MPI writes into (and the counts it reads) never move.
std::unique_ptr<BatchRows> start_batch(const mpi::Communicator& comm, const BlockPartition& part,
                                       const Matrix<double>& x_local,
                                       const std::vector<std::size_t>& perm, std::size_t b0,
                                       std::size_t mb) {
  const int me = comm.rank();
  auto b = std::make_unique<BatchRows>();
  b->batch = sorted_batch(perm, b0, mb);
  b->layout = selection_layout(b->batch, part, me, x_local.cols());
  b->mine = own_selected_rows(x_local, part.begin(me), b->batch, b->layout);
  b->x = Matrix<double>(mb, x_local.cols());
  b->request = comm.iallgatherv(b->mine.data(), b->x.data(), b->layout.counts, b->layout.displs);
  return b;
}

// What an epoch has summed so far (a resumed epoch starts from the checkpoint's loss_sum).
struct EpochTotals {
  double loss_sum = 0;  // sum of ||g||^2 over the epoch's batches
  // Time in the step's three collectives, waiting for slower ranks included: what overlapping
  // communication with the kernel blocks could at most save.
  double comm_seconds = 0;
  std::size_t steps = 0;  // batches run in this call
};

// The iteration over the data (DESIGN §1.2 step 8) with what setup fixed: the preconditioner,
// the kernel operand of this rank's rows, m and eta. alpha is this rank's rows of the weights.
class EigenPro2Iteration {
 public:
  EigenPro2Iteration(const mpi::Communicator& comm, const TrainingProblem& problem,
                     const EigenPro2Options& options, const NystromPreconditioner& pre,
                     Matrix<double>& alpha)
      : comm_(comm),
        problem_(problem),
        pre_(pre),
        centers_(problem.x, options.precision),
        alpha_(alpha),
        seed_(options.seed),
        n_(problem.partition.size()),
        first_(problem.partition.begin(comm.rank())),
        m_(pre.parameters.batch_size),
        eta_(pre.parameters.step_size) {}

  std::size_t steps_per_epoch() const { return (n_ + m_ - 1) / m_; }

  // collective: the batches of `epoch` from its step `first_step` on (a resumed run re-enters
  // an epoch after its completed steps: the batch order is a function of (seed, epoch) alone, so
  // those counters are the whole RNG state). Returns false when control.after_step stopped it.
  bool run_epoch(std::size_t epoch, std::size_t first_step, const IterationControl& control,
                 EpochTotals& totals) {
    const auto perm = random_permutation(n_, seed_, RngStream::kBatches, epoch);
    const BlockPartition& part = problem_.partition;
    const std::size_t first_b0 = first_step * m_;
    std::unique_ptr<BatchRows> next =
        first_b0 < n_
            ? start_batch(comm_, part, problem_.x, perm, first_b0, std::min(m_, n_ - first_b0))
            : nullptr;
    for (std::size_t b0 = first_b0; b0 < n_; b0 += m_) {
      ++totals.steps;
      const std::unique_ptr<BatchRows> current = std::move(next);
      Stopwatch comm_clock;
      current->request.wait();
      totals.comm_seconds += comm_clock.seconds();
      // The data rows never change, so the next batch's rows travel while this one is computed
      // (progressed between kernel tiles; Open MPI has no progress thread).
      if (b0 + m_ < n_)
        next = start_batch(comm_, part, problem_.x, perm, b0 + m_, std::min(m_, n_ - b0 - m_));
      step(*current, next.get(), epoch, totals);
      // Step boundary: checkpoints and stop signals are agreed here (IterationControl).
      if (control.after_step && !control.after_step(StepState{epoch, b0 / m_ + 1, steps_per_epoch(),
                                                              &alpha_, totals.loss_sum}))
        return false;
    }
    return true;
  }

 private:
  // collective: one batch step on the gathered batch `b`; `next` (if any) is progressed
  // between kernel tiles.
  void step(const BatchRows& b, BatchRows* next, std::size_t epoch, EpochTotals& totals) {
    const std::size_t mb = b.batch.size(), c = alpha_.cols(), q = pre_.parameters.q;
    // g = K(X_B, X) alpha - Y_B: local partial products, minus the targets this rank owns,
    // summed by one allreduce of m x c.
    Matrix<double> g(mb, c);
    // The kernel values K(X_B, X_{S_r}) are columns of the block computed here: capture them
    // for the Nystrom correction instead of evaluating them again.
    KernelColumns nystrom_block;
    nystrom_block.columns = &pre_.local_rows;
    kernel_times_local(problem_.kernel, b.x, centers_, alpha_, g, kDefaultTileBytes,
                       q > 0 ? &nystrom_block : nullptr, [next] {
                         if (next) next->request.test();
                       });
    subtract_owned_targets(g, b.batch, b.layout, first_, problem_.y);
    Stopwatch comm_clock;
    comm_.allreduce(g.data(), g.size());
    totals.comm_seconds += comm_clock.seconds();
    accumulate_squares(g, totals.loss_sum);
    // g is replicated, so every rank reaches this verdict together.
    if (!std::isfinite(totals.loss_sum))
      throw CollectiveError("EigenPro 2 diverged in epoch " + std::to_string(epoch) +
                                " (non-finite residual); lower solver.batch_size or check the data",
                            0);

    // Nystrom correction, with g from before the batch update:
    // alpha_S += eta V diag(d) V^T K(X_S, X_B) g, the q x c middle summed over ranks, where
    // K(X_{S_r}, X_B) g = (captured K(X_B, X_{S_r}))^T g.
    const std::size_t sr = pre_.local_rows.size();
    Matrix<double> kg;
    if (pre_.acts_here()) {
      kg = Matrix<double>(sr, c);
      blas::gemm(true, false, sr, c, mb, 1.0, nystrom_block.values.data(), sr, g.data(), c, 0.0,
                 kg.data(), c);
    }
    const Matrix<double> h = nystrom_coefficients(comm_, pre_, kg, c, &totals.comm_seconds);

    // alpha_B -= eta g (this rank's batch rows), then alpha_S += eta V h.
    step_owned_rows(alpha_, b.batch, b.layout, first_, eta_, g);
    if (pre_.acts_here()) {
      Matrix<double> vh(sr, c);
      blas::gemm(false, false, sr, c, q, 1.0, pre_.v.data(), q, h.data(), c, 0.0, vh.data(), c);
      add_to_rows(alpha_, pre_.local_rows, eta_, vh);
    }
  }

  const mpi::Communicator& comm_;
  const TrainingProblem& problem_;
  const NystromPreconditioner& pre_;
  const LocalCenters centers_;  // this rank's data rows in the kernel precision
  Matrix<double>& alpha_;
  const std::uint64_t seed_;
  const std::size_t n_, first_;  // data rows in all; this rank's first
  const std::size_t m_;          // batch size
  const double eta_;             // step per sample
};

// collective: setup steps 1-7 with the sample S drawn from the data.
NystromPreconditioner eigenpro2_preconditioner(const mpi::Communicator& comm,
                                               const TrainingProblem& problem,
                                               const EigenPro2Options& options,
                                               const SetupProgress& progress) {
  const std::size_t n = problem.partition.size();
  NystromRequest request;
  request.progress = progress;
  request.stage = "eigenpro2 setup";
  request.samples = std::min(
      n, options.nystrom_samples > 0 ? options.nystrom_samples : (n < 100000 ? 2000 : 12000));
  request.seed = options.seed;
  request.stream = RngStream::kNystrom;
  request.options = options;
  request.batch_limit = n;
  return build_nystrom_preconditioner(comm, problem.kernel, problem.partition, problem.x, request);
}

}  // namespace

EigenPro2Result train_eigenpro2(const mpi::Communicator& comm, const TrainingProblem& problem,
                                const EigenPro2Options& options, const EpochCallback& on_epoch,
                                const IterationControl& control) {
  const std::size_t n = problem.partition.size(), c = problem.y.cols();
  const std::size_t my_count = problem.partition.count(comm.rank());
  EigenPro2Result result;
  Stopwatch setup_clock;
  const NystromPreconditioner pre = eigenpro2_preconditioner(comm, problem, options, control.on_setup);
  result.nystrom_indices = pre.indices;
  result.parameters = pre.parameters;
  result.eigenvalues = pre.eigenvalues;
  result.eigenvalues.resize(pre.parameters.q + 1);
  EigenPro2Iteration iteration(comm, problem, options, pre, result.alpha);
  result.setup_seconds = setup_clock.seconds();

  Matrix<double>& alpha = result.alpha;
  alpha = Matrix<double>(my_count, c);
  if (control.start_alpha) {
    mpi::agree(comm, control.start_alpha->rows() == my_count && control.start_alpha->cols() == c,
               "EigenPro 2: the weights to resume from do not match the data (" +
                   std::to_string(control.start_alpha->rows()) + " x " +
                   std::to_string(control.start_alpha->cols()) + " on this rank)");
    alpha = *control.start_alpha;
  }
  result.epochs_run = control.start_epoch;
  for (std::size_t epoch = control.start_epoch + 1; epoch <= options.epochs; ++epoch) {
    const bool resumed_epoch = epoch == control.start_epoch + 1;
    Stopwatch epoch_clock;
    const std::uint64_t bytes_at_start = mpi::bytes_sent();
    EpochTotals totals;
    totals.loss_sum = resumed_epoch ? control.start_loss_sum : 0;
    if (!iteration.run_epoch(epoch, resumed_epoch ? control.start_step : 0, control, totals)) {
      result.interrupted = true;
      return result;
    }
    result.epochs_run = epoch;
    EpochState state = epoch_report(epoch, epoch_clock.seconds(), totals.loss_sum, n, alpha,
                                    result.parameters, result.setup_seconds);
    state.steps = totals.steps;
    state.bytes_sent = mpi::bytes_sent() - bytes_at_start;
    state.comm_seconds = totals.comm_seconds;
    if (on_epoch && !on_epoch(state)) break;
  }
  return result;
}

// ---- The driver's entry (kmpi/solver.hpp) ----

namespace {

EigenPro2Options eigenpro2_options(const SolverContext& ctx) {
  const Options& o = ctx.options;
  EigenPro2Options eo;
  eo.nystrom_samples = o.count("solver.nystrom_samples");
  eo.preconditioner_level = o.count("solver.preconditioner_level");
  eo.batch_size = o.count("solver.batch_size");
  eo.batch_cap = o.count("solver.batch_cap");
  eo.epochs = o.count("solver.epochs");
  eo.seed = ctx.seed;
  eo.precision = ctx.precision;
  return eo;
}

// The setup line (log and metrics) with the automatic parameters, once per run.
void report_eigenpro2_setup(TrainReporter& reporter, const EpochState& st) {
  const EigenPro2Parameters& prm = *st.parameters;
  reporter.log().info(
      "eigenpro2: s = %zu, q = %zu, lambda_1 = %.4g, lambda_q+1 = %.4g, beta = %g, m* = %.1f, "
      "batch %zu, step %.4g (per batch %.4g), setup %.2f s",
      prm.s, prm.q, prm.lambda_1, prm.lambda_q1, prm.beta, prm.critical_batch, prm.batch_size,
      prm.step_size, prm.batch_step, st.setup_seconds);
  reporter.line(Json()
                    .add("event", "setup")
                    .add("solver", "eigenpro2")
                    .add("nystrom_samples", static_cast<double>(prm.s))
                    .add("q", static_cast<double>(prm.q))
                    .add("beta", prm.beta)
                    .add("lambda_1", prm.lambda_1)
                    .add("lambda_q1", prm.lambda_q1)
                    .add("critical_batch", prm.critical_batch)
                    .add("batch_size", static_cast<double>(prm.batch_size))
                    .add("step_size", prm.step_size)
                    .add("batch_step", prm.batch_step)
                    .add("setup_s", st.setup_seconds));
}

Json eigenpro2_epoch_fields(const EpochState& st) {
  return Json()
      .add("solver", "eigenpro2")
      .add("epoch_s", st.epoch_seconds)
      .add("batch_loss", st.batch_loss)
      .add("batch_size", static_cast<double>(st.parameters->batch_size))
      .add("step_size", st.parameters->step_size)
      .add("q", static_cast<double>(st.parameters->q))
      .add("setup_s", st.setup_seconds)
      .add("bytes_per_step", static_cast<double>(st.bytes_sent) /
                                 static_cast<double>(std::max<std::size_t>(st.steps, 1)))
      .add("comm_s", st.comm_seconds);
}

}  // namespace

SolverOutcome run_eigenpro2(SolverContext& ctx) {
  const std::size_t n = ctx.problem.partition.size();
  // Checkpoint and resume: the solver's weights and counters plus the early-stopping state and
  // metrics; the preconditioner is rebuilt from the seed. Whether the setup line was already
  // written travels with it.
  IterationControl control;
  bool logged_setup = false;
  if (const Checkpoint* ck = ctx.checkpoints.resume_epochs("eigenpro2", n, control, ctx.stopping))
    logged_setup = ck->scalar("logged_setup") != 0;
  ctx.checkpoints.hook_epochs("eigenpro2", n, control, ctx.stopping, [&](Checkpoint& ck) {
    ck.scalars["logged_setup"] = logged_setup ? 1.0 : 0.0;
  });
  auto on_epoch = [&](const EpochState& st) {
    if (!logged_setup) {
      logged_setup = true;
      report_eigenpro2_setup(ctx.reporter, st);
    }
    const double val = ctx.reporter.report(st.epoch, *st.alpha, eigenpro2_epoch_fields(st),
                                           nullptr, st.epoch_seconds);
    return ctx.stopping.keep_best(ctx.reporter.log(), ctx.reporter.has_validation(), st.epoch,
                                  val, *st.alpha);
  };
  EigenPro2Result result =
      train_eigenpro2(ctx.comm, ctx.problem, eigenpro2_options(ctx), on_epoch, control);
  SolverOutcome out;
  out.interrupted = result.interrupted;
  out.alpha = std::move(result.alpha);
  return out;
}

}  // namespace kmpi
