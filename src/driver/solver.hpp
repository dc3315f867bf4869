// The one interface between `train` and its solvers.
//
// A solver is a function `SolverOutcome run_<name>(SolverContext&)` in its own file under src/solvers/ (next to
// the algorithm it drives) and one line of solver_table() (src/solvers/registry.cpp). It gets the
// training problem as every rank holds it (rows in memory, already scaled and encoded: the solver
// path never sees a file), the options, and the driver's services: the reporter (one metrics
// line per epoch or solve, test and validation metrics), early stopping, and the checkpoint wiring
// (resume, the after-step hook, the signal stop). It maps the options to its algorithm's own
// option struct, says what its checkpoint state is, and returns the model's centers and weights.
//
// Adding a solver: its file with a solve function, one line in solver_table(), its options in
// src/driver/options.cpp (and its name among solver.name's choices; a unit test checks they agree).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kmpi/options.hpp"
#include "solvers/solvers.hpp"
#include "driver/train_checkpoints.hpp"
#include "driver/train_report.hpp"

namespace kmpi {

// What a solver needs; every rank passes the same values (collective use only).
struct SolverContext {
  const mpi::Communicator& comm;
  const Options& options;
  const TrainingProblem& problem;  // this rank's rows, scaled; targets one-hot for classes
  Precision precision;             // solver.precision of the kernel blocks
  std::uint64_t seed;              // solver.seed
  // data.centers: this rank's rows of BlockPartition(p, P), scaled like the data; null = none.
  const Matrix<double>* given_centers;
  std::size_t given_center_count;  // p of data.centers (0 = none)
  TrainReporter& reporter;
  EarlyStopping& stopping;
  TrainCheckpoints& checkpoints;
  Progress& progress;  // lines with an ETA (the epoch hooks of TrainCheckpoints feed it too)
};

// What a solver returns.
struct SolverOutcome {
  bool interrupted = false;  // stopped after writing a checkpoint (a stop signal): no model
  Matrix<double> alpha;      // this rank's weights (the last iterate; the driver swaps in the
                             // early-stopping best when there is one)
  // Models on centers of their own (p << n): Z's rows of BlockPartition(p, P) on this rank.
  // false: the centers are the training rows (Z = X, alpha over problem.partition).
  bool own_centers = false;
  BlockPartition center_partition;
  Matrix<double> centers;
};

struct SolverEntry {
  std::string name;  // solver.name
  bool iterative;    // steps to checkpoint between; honours data.validation_fraction
  bool has_centers;  // centers of its own (solver.centers / data.centers)
  SolverOutcome (*solve)(SolverContext& context);  // collective
};

// local: every solver kmpi has, in the order of solver.name's choices.
const std::vector<SolverEntry>& solver_table();
// local: the entry for `name`, or null.
const SolverEntry* find_solver(const std::string& name);

// The solvers (one file each under src/solvers/).
SolverOutcome run_direct(SolverContext& context);
SolverOutcome run_eigenpro2(SolverContext& context);
SolverOutcome run_eigenpro4(SolverContext& context);
SolverOutcome run_falkon(SolverContext& context);

}  // namespace kmpi
