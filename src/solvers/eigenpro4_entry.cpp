#include <algorithm>
#include "kmpi/solver.hpp"
namespace kmpi {
// ---- The driver's entry (kmpi/solver.hpp) ----

namespace {

EigenPro4Options eigenpro4_options(const SolverContext& ctx) {
  const Options& o = ctx.options;
  EigenPro4Options eo;
  eo.centers = static_cast<std::size_t>(o.integer("solver.centers"));
  eo.data_samples = static_cast<std::size_t>(o.integer("solver.nystrom_samples"));
  eo.data_level = static_cast<std::size_t>(o.integer("solver.preconditioner_level"));
  eo.model_samples = static_cast<std::size_t>(o.integer("solver.model_nystrom_samples"));
  eo.model_level = static_cast<std::size_t>(o.integer("solver.model_preconditioner_level"));
  eo.batch_size = static_cast<std::size_t>(o.integer("solver.batch_size"));
  if (o.given("solver.batch_cap"))
    eo.batch_cap = static_cast<std::size_t>(o.integer("solver.batch_cap"));
  eo.projection_period = static_cast<std::size_t>(o.integer("solver.projection_period"));
  eo.projection_epochs = static_cast<std::size_t>(o.integer("solver.projection_epochs"));
  eo.epochs = static_cast<std::size_t>(o.integer("solver.epochs"));
  eo.seed = ctx.seed;
  eo.precision = ctx.precision;
  eo.given_centers = ctx.given_centers;
  return eo;
}

void report_eigenpro4_setup(TrainReporter& reporter, std::size_t p, const EpochState& st) {
  const EigenPro2Parameters& prm = *st.parameters;
  reporter.log().info("eigenpro4: p = %zu, s = %zu, q = %zu, batch %zu, step %.4g, setup %.2f s",
                      p, prm.s, prm.q, prm.batch_size, prm.step_size, st.setup_seconds);
  reporter.line(Json()
                    .add("event", "setup")
                    .add("solver", "eigenpro4")
                    .add("centers", static_cast<double>(p))
                    .add("nystrom_samples", static_cast<double>(prm.s))
                    .add("q", static_cast<double>(prm.q))
                    .add("batch_size", static_cast<double>(prm.batch_size))
                    .add("step_size", prm.step_size)
                    .add("setup_s", st.setup_seconds));
}

}  // namespace

SolverOutcome run_eigenpro4(SolverContext& ctx) {
  const EigenPro4Options eo = eigenpro4_options(ctx);
  const std::size_t n = ctx.problem.partition.size();
  const std::size_t p = eo.given_centers
                            ? ctx.given_center_count
                            : std::min(n, eo.centers > 0 ? eo.centers : std::size_t(10000));
  auto on_epoch = [&](const EpochState& st) {
    if (st.epoch == 1) report_eigenpro4_setup(ctx.reporter, p, st);
    const double val = ctx.reporter.report(st.epoch, *st.alpha,
                                           Json()
                                               .add("solver", "eigenpro4")
                                               .add("epoch_s", st.epoch_seconds)
                                               .add("batch_loss", st.batch_loss)
                                               .add("setup_s", st.setup_seconds),
                                           st.centers);
    return ctx.stopping.keep_best(ctx.reporter.log(), ctx.reporter.has_validation(), st.epoch,
                                  val, *st.alpha);
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
  ctx.reporter.log().info("eigenpro4: projection period T = %zu batches, projection batch %zu",
                          result.projection_period, result.model_parameters.batch_size);
  out.alpha = std::move(result.alpha);
  out.own_centers = true;
  out.center_partition = result.center_partition;
  out.centers = std::move(result.centers);
  return out;
}
}  // namespace kmpi
