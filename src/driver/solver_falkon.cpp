// The driver's entry for falkon (src/solvers/falkon.cpp has the algorithm): solver.* options to the
// algorithm's option struct, its checkpoint state, its reports, its outcome (driver/solver.hpp).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>
#include <vector>
#include "base/blas.hpp"
#include "solvers/center_factor.hpp"
#include "solvers/falkon_cg.hpp"
#include "parallel/log.hpp"
#include "base/rng.hpp"
#include "parallel/scalapack.hpp"
#include "solvers/selected_rows.hpp"
#include "driver/memory_plan.hpp"
#include "driver/solver.hpp"
#include "parallel/counts.hpp"
#include "solvers/solvers.hpp"
#include "solvers/grid_solvers.hpp"
#include "driver/solver_options.hpp"
#include "solvers/solvers.hpp"

namespace kmpi {


namespace {

// Checkpoint state: the CG state after an iteration (step = iterations completed). The
// centers and the factors L, A_L are rebuilt from the seed and the data, bit-identically on the
// same rank count (the options hash guarantees the same problem). Nothing is written to the
// metrics before the solve ends, so none are stored.
Checkpoint falkon_checkpoint(const SolverContext& ctx, const FalkonCgState& st) {
  Checkpoint ck = ctx.checkpoints.create("falkon");
  ck.step = st.iteration;
  store_cg_state(ctx.comm, st, "", ck);
  return ck;
}

// collective: the CG state of a checkpoint (written by falkon_checkpoint).
FalkonCgState falkon_resume_state(const SolverContext& ctx, const Checkpoint& ck) {
  FalkonCgState start =
      load_cg_state(ctx.comm, ck, "", ck.step, ctx.problem.y.cols(), ctx.checkpoints.path());
  ctx.reporter.log().info(
      "resuming from %s: %zu CG iterations done (written on this run's options)",
      ctx.checkpoints.path().c_str(), ck.step);
  return start;
}

void report_falkon(SolverContext& ctx, const FalkonOptions& fo, FalkonResult& fr,
                   SolverOutcome& out) {
  const std::size_t iterations = fr.residuals.size();
  if (fr.duplicate_centers > 0)
    ctx.reporter.log().info(
        "falkon: dropped %zu exact duplicate centers (they add nothing to the "
        "model and make K_ZZ singular)",
        fr.duplicate_centers);
  if (fr.residual_grew)
    ctx.reporter.log().info(
        "falkon: warning: the CG residual grew to %.3g (best %.3g at iteration %zu); stopped and "
        "kept iteration %zu's weights (near-duplicate centers? raise solver.ridge)",
        fr.residuals.back(), fr.residuals[fr.best_iteration - 1], fr.best_iteration,
        fr.best_iteration);
  ctx.reporter.log().info(
      "falkon: p = %zu centers, lambda = %g, eps = %.3g, %zu CG iterations, setup %.2f s, "
      "solve %.2f s",
      fr.center_partition.size(), fo.ridge, fr.jitter, iterations, fr.setup_seconds,
      fr.solve_seconds);
  ctx.reporter.line(Json()
                        .add("event", "setup")
                        .add("solver", "falkon")
                        .add("centers", static_cast<double>(fr.center_partition.size()))
                        .add("ridge", fo.ridge)
                        .add("jitter", fr.jitter)
                        .add("duplicate_centers", static_cast<double>(fr.duplicate_centers))
                        .add("setup_s", fr.setup_seconds));
  const LocalCenters z(out.centers, ctx.precision);
  ctx.reporter.report(1, out.alpha,
                      Json()
                          .add("solver", "falkon")
                          .add("setup_s", fr.setup_seconds)
                          .add("solve_s", fr.solve_seconds)
                          .add("iterations", static_cast<double>(iterations))
                          .add("residual", iterations > 0 ? fr.residuals.back() : 1.0)
                          .add("best_iteration", static_cast<double>(fr.best_iteration))
                          .add("residual_grew", fr.residual_grew ? 1.0 : 0.0),
                      &z);
}

}  // namespace

namespace {

// Test metrics of CG iterates (solver.eval_every), cheaply: the test rows are gathered once and
// K(test, Z_r) is kept (KernelPanel), so each evaluation is one product with alpha_r and one
// allreduce of n_test x c values instead of a kernel evaluation of n_test x p.
class IterateTest {
 public:
  IterateTest(const mpi::Communicator& comm, const Kernel& kernel, const EvalSet& test,
              Precision precision, bool classification)
      : comm_(comm),
        kernel_(kernel),
        test_(test),
        precision_(precision),
        classification_(classification) {}

  // collective: the metrics of this rank's weights alpha over its centers (rows of Z).
  FitMetrics operator()(const Matrix<double>& centers, const Matrix<double>& alpha) {
    const std::size_t c = alpha.cols(), me = static_cast<std::size_t>(comm_.rank());
    if (!built_) {
      z_ = LocalCenters(centers, precision_);
      use_panel_ =
          comm_.allreduce_value(
              KernelPanel::bytes(test_.n, z_.rows(), precision_) <= kFalkonTestPanelBytes ? 0 : 1,
              mpi::Op::kMax) == 0;
      if (use_panel_) {
        q_ = Matrix<double>(test_.n, test_.x.cols());
        const mpi::CountsDispls layout =
            mpi::window_counts(test_.offsets, 0, test_.n, q_.cols(), "falkon's test rows");
        comm_.allgatherv(test_.x.data(), q_.data(), layout.counts, layout.displs);
      }
    }
    if (!use_panel_) {
      built_ = true;
      return evaluate(comm_, kernel_, z_, alpha, test_, classification_);
    }
    Matrix<double> pred(test_.n, c);
    if (!built_)
      panel_.compute(kernel_, q_, z_, alpha, pred);
    else
      panel_.times(alpha, pred);
    built_ = true;
    comm_.allreduce(pred.data(), pred.size());
    const std::size_t lo = test_.offsets[me], hi = test_.offsets[me + 1];
    Matrix<double> mine(hi - lo, c);
    std::copy(pred.row(lo), pred.row(lo) + mine.size(), mine.data());
    return fit_metrics(comm_, mine, test_.y, test_.n, classification_);
  }

 private:
  const mpi::Communicator& comm_;
  const Kernel& kernel_;
  const EvalSet& test_;
  Precision precision_;
  bool classification_;
  bool built_ = false, use_panel_ = false;
  LocalCenters z_;
  Matrix<double> q_;  // the test rows, replicated
  KernelPanel panel_;
};

}  // namespace

SolverOutcome run_falkon(SolverContext& ctx) {
  const FalkonOptions fo = falkon_options(ctx.options, ctx.seed, ctx.precision, ctx.given_centers);
  FalkonControl control;
  FalkonCgState start;
  if (const Checkpoint* ck = ctx.checkpoints.resume("falkon")) {
    start = falkon_resume_state(ctx, *ck);
    control.start = &start;
  }
  if (ctx.progress.enabled())
    control.on_setup = [&](const char* stage, double done, double total) {
      ctx.progress.work(stage, done, total);
    };
  if (ctx.checkpoints.hooked())
    control.after_iteration = [&](const FalkonCgState& st) {
      ctx.progress.iteration("CG iteration", st.iteration, fo.iterations);
      return ctx.checkpoints.after_step(
          [&] { return falkon_checkpoint(ctx, st); },
          [&] { return "CG iteration " + std::to_string(st.iteration); });
    };
  // Test metrics after every solver.eval_every-th CG iteration: time to accuracy, as the
  // PyTorch Falkon reports it.
  IterateTest iterate_test(ctx.comm, ctx.problem.kernel, ctx.reporter.test(), ctx.precision,
                           ctx.reporter.classification());
  Stopwatch cg_clock;
  if (ctx.reporter.has_test_labels() && ctx.options.count("solver.eval_every") > 0) {
    control.weights_every = ctx.options.count("solver.eval_every");
    control.on_weights = [&](const FalkonCgState& st, const Matrix<double>& alpha,
                             const Matrix<double>& centers) {
      const FitMetrics m = iterate_test(centers, alpha);
      Json j;
      j.add("event", "cg_iteration")
          .add("iteration", static_cast<double>(st.iteration))
          .add("residual", st.residuals.back())
          .add("test_mse", m.mse);
      if (ctx.reporter.classification()) j.add("test_accuracy", m.accuracy);
      j.add("solver_s", cg_clock.seconds()).add("elapsed_s", ctx.reporter.clock().elapsed());
      ctx.reporter.line(j);
      if (ctx.reporter.classification())
        ctx.reporter.log().info("falkon: iteration %zu, test accuracy %.4f, %.2f s", st.iteration,
                                m.accuracy, cg_clock.seconds());
      else
        ctx.reporter.log().info("falkon: iteration %zu, test mse %.6g, %.2f s", st.iteration, m.mse,
                                cg_clock.seconds());
    };
  }
  FalkonResult fr = train_falkon(
      ctx.comm, ctx.problem, fo,
      [&](std::size_t it, double residual) {
        ctx.reporter.log().info("falkon: iteration %zu, relative residual %.3e, %.2f s", it,
                                residual, cg_clock.seconds());
      },
      control);
  SolverOutcome out;
  out.interrupted = fr.interrupted;
  if (fr.interrupted) return out;
  out.alpha = std::move(fr.alpha);
  out.own_centers = true;
  out.center_partition = fr.center_partition;
  out.centers = std::move(fr.centers);
  report_falkon(ctx, fo, fr, out);
  return out;
}

}  // namespace kmpi
