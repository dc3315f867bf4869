// Where a solver is chosen: solver.name -> the function that runs it.
#include "driver/solver.hpp"

namespace kmpi {

const std::vector<SolverEntry>& solver_table() {
  static const std::vector<SolverEntry> table = {
      // name      iterative has_centers solve
      {"direct", false, false, run_direct},
      {"eigenpro2", true, false, run_eigenpro2},
      {"falkon", true, true, run_falkon},
      {"eigenpro4", true, true, run_eigenpro4},
  };
  return table;
}

const SolverEntry* find_solver(const std::string& name) {
  for (const SolverEntry& e : solver_table())
    if (e.name == name) return &e;
  return nullptr;
}

}  // namespace kmpi
