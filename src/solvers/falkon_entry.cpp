#include <algorithm>
#include "kmpi/solver.hpp"
namespace kmpi {
// ---- The driver's entry (kmpi/solver.hpp) ----

namespace {

FalkonOptions falkon_options(const SolverContext& ctx) {
  const Options& o = ctx.options;
  FalkonOptions fo;
  fo.centers = static_cast<std::size_t>(o.integer("solver.centers"));
  fo.ridge = o.real("solver.ridge");
  fo.iterations = static_cast<std::size_t>(o.integer("solver.iterations"));
  fo.tolerance = o.real("solver.tolerance");
  fo.seed = ctx.seed;
  fo.precision = ctx.precision;
  fo.given_centers = ctx.given_centers;
  return fo;
}

// Checkpoint state: the CG state after an iteration (step = iterations completed). The
// centers and the factors L, A_L are rebuilt from the seed and the data, bit-identically on the
// same rank count (the options hash guarantees the same problem). Nothing is written to the
// metrics before the solve ends, so none are stored.
Checkpoint falkon_checkpoint(const SolverContext& ctx, const FalkonCgState& st) {
  Checkpoint ck = ctx.checkpoints.create("falkon");
  ck.step = st.iteration;
  for (std::size_t l = 0; l < st.rs_old.size(); ++l) {
    ck.scalars["rs_old_" + std::to_string(l)] = st.rs_old[l];
    ck.scalars["active_" + std::to_string(l)] = st.active[l] ? 1.0 : 0.0;
  }
  for (std::size_t it = 1; it <= st.residuals.size(); ++it)
    ck.scalars["residual_" + std::to_string(it)] = st.residuals[it - 1];
  ck.arrays.push_back(replicated_checkpoint_array(ctx.comm, "beta", st.beta));
  ck.arrays.push_back(replicated_checkpoint_array(ctx.comm, "r", st.r));
  ck.arrays.push_back(replicated_checkpoint_array(ctx.comm, "dir", st.dir));
  return ck;
}

// collective: the CG state of a checkpoint (written by falkon_checkpoint).
FalkonCgState falkon_resume_state(const SolverContext& ctx, const Checkpoint& ck) {
  const std::size_t c = ctx.problem.y.cols();
  const CheckpointArray *b = ck.array("beta"), *r = ck.array("r"), *dir = ck.array("dir");
  // The options hash fixes p and c, so a mismatch here means a damaged writer; checked on
  // every rank alike (the header is replicated).
  const bool shaped = b && r && dir && b->cols == c && r->cols == c && dir->cols == c &&
                      r->rows == b->rows && dir->rows == b->rows;
  mpi::agree(ctx.comm, shaped,
             ctx.checkpoints.path() + ": has no CG state of this problem's shape");
  FalkonCgState start;
  start.iteration = ck.step;
  start.beta = gather_checkpoint_array(ctx.comm, *b);
  start.r = gather_checkpoint_array(ctx.comm, *r);
  start.dir = gather_checkpoint_array(ctx.comm, *dir);
  for (std::size_t l = 0; l < c; ++l) {
    start.rs_old.push_back(ck.scalar("rs_old_" + std::to_string(l)));
    start.active.push_back(ck.scalar("active_" + std::to_string(l)) != 0 ? 1 : 0);
  }
  for (std::size_t it = 1; it <= ck.step; ++it)
    start.residuals.push_back(ck.scalar("residual_" + std::to_string(it)));
  ctx.reporter.log().info("resuming from %s: %zu CG iterations done (written on this run's options)",
                          ctx.checkpoints.path().c_str(), ck.step);
  return start;
}

void report_falkon(SolverContext& ctx, const FalkonOptions& fo, FalkonResult& fr,
                   SolverOutcome& out) {
  const std::size_t iterations = fr.residuals.size();
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
                        .add("setup_s", fr.setup_seconds));
  const LocalCenters z(out.centers, ctx.precision);
  ctx.reporter.report(1, out.alpha,
                      Json()
                          .add("solver", "falkon")
                          .add("setup_s", fr.setup_seconds)
                          .add("solve_s", fr.solve_seconds)
                          .add("iterations", static_cast<double>(iterations))
                          .add("residual", iterations > 0 ? fr.residuals.back() : 1.0),
                      &z);
}

}  // namespace

SolverOutcome run_falkon(SolverContext& ctx) {
  const FalkonOptions fo = falkon_options(ctx);
  FalkonControl control;
  FalkonCgState start;
  if (const Checkpoint* ck = ctx.checkpoints.resume("falkon")) {
    start = falkon_resume_state(ctx, *ck);
    control.start = &start;
  }
  if (ctx.checkpoints.hooked())
    control.after_iteration = [&](const FalkonCgState& st) {
      return ctx.checkpoints.after_step([&] { return falkon_checkpoint(ctx, st); },
                                        [&] { return "CG iteration " + std::to_string(st.iteration); });
    };
  Stopwatch cg_clock;
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
