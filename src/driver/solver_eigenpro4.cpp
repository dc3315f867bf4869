// The driver's entry for eigenpro4 (src/solvers/eigenpro4.cpp has the algorithm): solver.* options to the
// algorithm's option struct, its checkpoint state, its reports, its outcome (driver/solver.hpp).
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include "base/blas.hpp"
#include "solvers/center_factor.hpp"
#include "solvers/eigenpro_common.hpp"
#include "parallel/log.hpp"
#include "driver/memory_plan.hpp"
#include "base/rng.hpp"
#include "driver/solver.hpp"
#include "driver/solver_options.hpp"
#include "solvers/solvers.hpp"

namespace kmpi {


namespace {

// "cholesky float64" / "cholesky float32" (exact projections, the factor's precision) or
// "eigenpro2" (solver.projection_epochs of EigenPro 2 each).
std::string projection_name(const EigenPro4Options& eo) {
  if (!eo.exact_projection) return "eigenpro2";
  return eo.factor_precision == Precision::kFloat32 ? "cholesky float32" : "cholesky float64";
}

void report_eigenpro4_setup(TrainReporter& reporter, std::size_t p, const std::string& projection,
                            const EpochState& st) {
  const EigenPro2Parameters& prm = *st.parameters;
  reporter.log().info("eigenpro4: p = %zu, s = %zu, q = %zu, batch %zu, step %.4g, setup %.2f s", p,
                      prm.s, prm.q, prm.batch_size, prm.step_size, st.setup_seconds);
  reporter.line(Json()
                    .add("event", "setup")
                    .add("solver", "eigenpro4")
                    .add("centers", static_cast<double>(p))
                    .add("nystrom_samples", static_cast<double>(prm.s))
                    .add("q", static_cast<double>(prm.q))
                    .add("batch_size", static_cast<double>(prm.batch_size))
                    .add("step_size", prm.step_size)
                    .add("projection", projection)
                    .add("setup_s", st.setup_seconds));
}

}  // namespace

SolverOutcome run_eigenpro4(SolverContext& ctx) {
  const EigenPro4Options eo = eigenpro4_options(ctx.options, ctx.seed, ctx.precision, ctx.given_centers);
  const std::size_t n = ctx.problem.partition.size();
  const std::size_t p = eo.given_centers
                            ? ctx.given_center_count
                            : std::min(n, eo.centers > 0 ? eo.centers : std::size_t(10000));
  auto on_epoch = [&](const EpochState& st) {
    if (st.epoch == 1) report_eigenpro4_setup(ctx.reporter, p, projection_name(eo), st);
    const double bytes_per_step = static_cast<double>(st.bytes_sent) /
                                  static_cast<double>(std::max<std::size_t>(st.steps, 1));
    const double val = ctx.reporter.report(st.epoch, *st.alpha,
                                           Json()
                                               .add("solver", "eigenpro4")
                                               .add("epoch_s", st.epoch_seconds)
                                               .add("batch_loss", st.batch_loss)
                                               .add("projection_residual", st.projection_residual)
                                               .add("setup_s", st.setup_seconds)
                                               .add("bytes_per_step", bytes_per_step),
                                           st.centers);
    return ctx.stopping.keep_best(ctx.reporter.log(), ctx.reporter.has_validation(), st.epoch, val,
                                  *st.alpha);
  };
  // Checkpoint and resume at projection boundaries, where the solver's state is alpha and its
  // counters (see train_eigenpro4); the preconditioners are rebuilt from the seed and the data.
  IterationControl control;
  ctx.checkpoints.resume_epochs("eigenpro4", p, control, ctx.stopping);
  ctx.checkpoints.hook_epochs("eigenpro4", p, control, ctx.stopping);
  EigenPro4Result result = train_eigenpro4(ctx.comm, ctx.problem, eo, on_epoch, control);
  SolverOutcome out;
  out.interrupted = result.interrupted;
  if (result.interrupted) return out;
  if (eo.exact_projection)
    ctx.reporter.log().info(
        "eigenpro4: projection period T = %zu batches, exact projections (%s Cholesky of K_ZZ + "
        "%.3g I)",
        result.projection_period,
        eo.factor_precision == Precision::kFloat32 ? "float32" : "float64", result.jitter);
  else
    ctx.reporter.log().info(
        "eigenpro4: projection period T = %zu batches, projection batch %zu, %zu EigenPro 2 "
        "epoch(s) per projection",
        result.projection_period, result.model_parameters.batch_size, eo.projection_epochs);
  out.alpha = std::move(result.alpha);
  out.own_centers = true;
  out.center_partition = result.center_partition;
  out.centers = std::move(result.centers);
  return out;
}

}  // namespace kmpi
