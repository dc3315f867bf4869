// The solver table (src/solvers/registry.cpp) and the solver.name option (src/driver/options.cpp) must
// name the same solvers: a solver in one and not the other could be chosen but not run, or run
// but not chosen.
#include <gtest/gtest.h>

#include <algorithm>

#include "kmpi/options.hpp"
#include "driver/solver.hpp"

namespace kmpi {
namespace {

TEST(SolverTable, MatchesTheSolverNameChoices) {
  const auto& options = option_table();
  const auto spec = std::find_if(options.begin(), options.end(),
                                 [](const OptionSpec& s) { return s.key == "solver.name"; });
  ASSERT_NE(spec, options.end());
  std::vector<std::string> names;
  for (const SolverEntry& e : solver_table()) {
    names.push_back(e.name);
    EXPECT_NE(e.solve, nullptr) << e.name;
    EXPECT_EQ(find_solver(e.name), &e);
  }
  EXPECT_EQ(names, spec->choices);
  EXPECT_EQ(find_solver("no-such-solver"), nullptr);
  ASSERT_NE(find_solver("direct"), nullptr);
  EXPECT_FALSE(find_solver("direct")->iterative);  // refuses run.resume, no validation split
  EXPECT_TRUE(find_solver("falkon")->has_centers);
  EXPECT_FALSE(find_solver("eigenpro2")->has_centers);
}

}  // namespace
}  // namespace kmpi
