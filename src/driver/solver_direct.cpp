// The driver's entry for direct (src/solvers/direct.cpp has the algorithm): solver.* options to the
// algorithm's option struct, its checkpoint state, its reports, its outcome (driver/solver.hpp).
#include <algorithm>
#include <utility>
#include <vector>
#include "parallel/scalapack.hpp"
#include "driver/solver.hpp"
#include "solvers/solvers.hpp"
#include "solvers/grid_solvers.hpp"
#include "driver/solver.hpp"
#include "solvers/solvers.hpp"

namespace kmpi {


SolverOutcome run_direct(SolverContext& ctx) {
  const double ridge = ctx.options.real("solver.ridge");
  Stopwatch solve_clock;
  SolverOutcome out;
  out.alpha = solve_direct(ctx.comm, ctx.problem, ridge);
  const double solve_s = solve_clock.seconds();
  ctx.reporter.log().info("direct: solved (K + %g n I) alpha = Y in %.2f s", ridge, solve_s);
  ctx.reporter.report(1, out.alpha, Json().add("solver", "direct").add("solve_s", solve_s),
                      nullptr, solve_s);
  return out;
}

}  // namespace kmpi
