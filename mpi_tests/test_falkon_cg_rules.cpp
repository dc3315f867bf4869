// Falkon's CG step rules (src/solvers/falkon_cg.hpp) on hand-made 2 x 1 states, the products hd chosen
// so that each rule fires: the best iterate, a growth past kFalkonResidualGrowth x the best, a
// non-finite first iteration, and the stop flags a resumed run reads back; and the rules'
// verdicts agreed across ranks whose products differ (collective: every rank runs each test).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kmpi/mpi.hpp"
#include "solvers/falkon_cg.hpp"

namespace kmpi {
namespace {

Matrix<double> column(double a, double b) {
  Matrix<double> m(2, 1);
  m(0, 0) = a;
  m(1, 0) = b;
  return m;
}

const mpi::Communicator& world() {
  static const mpi::Communicator comm = mpi::Communicator::world();
  return comm;
}

bool any_active(const FalkonCgState& cg) {
  return std::any_of(cg.active.begin(), cg.active.end(), [](char a) { return a != 0; });
}

TEST(FalkonCg, KeepsTheBestIterateAndStopsWhenTheResidualGrows) {
  std::vector<double> r0;
  FalkonCgState cg = starting_cg(world(), column(1, 0), nullptr, r0);
  ASSERT_EQ(r0, std::vector<double>{1.0});
  // dir = r = (1, 0), hd = (1, 100): step 1, r = (0, -100), residual 100: the first, so the best.
  EXPECT_EQ(cg_step(world(), cg, column(1, 100), r0, 1e-12), CgStep::kContinue);
  EXPECT_EQ(cg.iteration, 1u);
  EXPECT_EQ(cg.best_iteration, 1u);
  EXPECT_EQ(cg.residuals, std::vector<double>{100.0});
  EXPECT_TRUE(cg_running(cg, 10));
  const Matrix<double> best = cg.beta;
  // dir = (10000, -100), hd = (1, 99): dir.hd = 100, step 100, r = (-100, -10000): residual
  // ~1e4 > 4 x 100, a growth; the best stays iteration 1 and the run is over.
  EXPECT_EQ(cg_step(world(), cg, column(1, 99), r0, 1e-12), CgStep::kGrew);
  EXPECT_EQ(cg.best_iteration, 1u);
  EXPECT_EQ(cg.best_beta(0, 0), best(0, 0));
  EXPECT_GT(cg.residuals.back(), kFalkonResidualGrowth * 100.0);
  EXPECT_FALSE(any_active(cg));
  EXPECT_FALSE(cg_running(cg, 10));
}

TEST(FalkonCg, ANonFiniteFirstIterationDiverges) {
  std::vector<double> r0;
  FalkonCgState cg = starting_cg(world(), column(1, 2), nullptr, r0);
  // An overflowing product: dir.hd = inf > 0, step 0, r - 0 x inf = NaN. (A NaN dir.hd is a
  // breakdown instead: that column stops, with its residual as it was.)
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(cg_step(world(), cg, column(inf, 1), r0, 1e-12), CgStep::kDiverged);
  EXPECT_EQ(cg.best_iteration, 0u);
  EXPECT_TRUE(std::isnan(cg.residuals.back()));
  EXPECT_FALSE(cg_running(cg, 10));
}

TEST(FalkonCg, StopsAtTheToleranceAndAtTheIterationCap) {
  std::vector<double> r0;
  FalkonCgState cg = starting_cg(world(), column(3, 4), nullptr, r0);
  // H = I: one step solves it exactly.
  EXPECT_EQ(cg_step(world(), cg, cg.dir, r0, 1e-12), CgStep::kContinue);
  EXPECT_EQ(cg.residuals.back(), 0.0);
  EXPECT_FALSE(cg_running(cg, 10));
  FalkonCgState fresh = starting_cg(world(), column(3, 4), nullptr, r0);
  EXPECT_TRUE(cg_running(fresh, 1));
  fresh.iteration = 1;
  EXPECT_FALSE(cg_running(fresh, 1));
}

TEST(FalkonCg, AResumedStateOfAnotherShapeIsRefused) {
  std::vector<double> r0;
  const FalkonCgState other = starting_cg(world(), Matrix<double>(3, 1), nullptr, r0);
  EXPECT_THROW(starting_cg(world(), column(1, 0), &other, r0), CollectiveError);
}

TEST(FalkonCg, RanksWithDifferentProductsTakeRankZerosVerdict) {
  // The products are replicated and should agree to the bit; where they do not, every rule
  // must still go the same way on every rank (a split verdict is a hang: one rank leaves the CG
  // loop while the others wait in its next allreduce). Rank 0's product grows the residual at
  // the second iteration; the other ranks' (hd = dir, H = I) would converge.
  const mpi::Communicator& comm = world();
  std::vector<double> r0;
  FalkonCgState cg = starting_cg(world(), column(1, 0), nullptr, r0);
  ASSERT_EQ(cg_step(world(), cg, column(1, 100), r0, 1e-12), CgStep::kContinue);
  const Matrix<double> hd = comm.rank() == 0 ? column(1, 99) : cg.dir;
  const CgStep step = cg_step(world(), cg, hd, r0, 1e-12);
  EXPECT_EQ(step, CgStep::kGrew) << "rank " << comm.rank();
  EXPECT_EQ(cg.best_iteration, 1u);
  EXPECT_FALSE(any_active(cg));
  EXPECT_GT(cg.residuals.back(), kFalkonResidualGrowth * 100.0);
}

}  // namespace
}  // namespace kmpi
