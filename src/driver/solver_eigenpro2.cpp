// The driver's entry for eigenpro2 (src/solvers/eigenpro2.cpp has the algorithm): solver.* options to the
// algorithm's option struct, its checkpoint state, its reports, its outcome (driver/solver.hpp).
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include "base/blas.hpp"
#include "solvers/eigenpro_common.hpp"
#include "parallel/log.hpp"
#include "base/rng.hpp"
#include "driver/solver.hpp"
#include "solvers/solvers.hpp"
#include "kernels/shared_operator.hpp"
#include "solvers/grid_solvers.hpp"
#include "driver/solver_options.hpp"

namespace kmpi {


namespace {

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
    const double val = ctx.reporter.report(st.epoch, *st.alpha, eigenpro2_epoch_fields(st), nullptr,
                                           st.epoch_seconds);
    return ctx.stopping.keep_best(ctx.reporter.log(), ctx.reporter.has_validation(), st.epoch, val,
                                  *st.alpha);
  };
  EigenPro2Result result =
      train_eigenpro2(ctx.comm, ctx.problem,
                      eigenpro2_options(ctx.options, ctx.seed, ctx.precision), on_epoch, control);
  SolverOutcome out;
  out.interrupted = result.interrupted;
  out.alpha = std::move(result.alpha);
  return out;
}

}  // namespace kmpi
