// Solvers that train every point of a grid of kernels (and ridges) at once, sharing their kernel
// work (DESIGN §1.6): EigenPro 2 stepped as a group, Falkon and direct over kernels x ridges.
// `kmpi tune` (src/search/) drives them; each point equals its solver run alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kmpi/kernel.hpp"
#include "kmpi/kernel_operator.hpp"
#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"
#include "solvers/solvers.hpp"
#include "state/checkpoint.hpp"

namespace kmpi {



// ---- EigenPro 2 over a grid of kernels ----

// What a group's step boundary holds (the state of every model; a resume starts from it).
enum class ModelStatus : char { kActive = 0, kStopped = 1, kDiverged = 2 };
struct EigenPro2GroupStep {
  std::size_t epoch = 0, step = 0, steps_per_epoch = 0;  // as StepState
  std::vector<const Matrix<double>*> alphas;             // this rank's weights, per model
  std::vector<double> loss_sums;                         // per model, this epoch so far
  std::vector<ModelStatus> status;                       // per model
};
struct EigenPro2GroupControl {
  std::size_t start_epoch = 0, start_step = 0;      // as IterationControl
  std::vector<double> start_loss_sums;              // per model (empty: 0)
  std::vector<const Matrix<double>*> start_alphas;  // per model (empty: alpha = 0)
  std::vector<ModelStatus> start_status;            // per model (empty: all active)
  // collective: after every step; false stops the run at once (interrupted).
  std::function<bool(const EigenPro2GroupStep&)> after_step;
  SetupProgress on_setup;
};
// collective: after an epoch, with the models that ran it (their indices and states, so a
// caller can evaluate them together); keep[i] = false stops models[i] (early stopping) while
// the others go on. keep comes all true.
using EigenPro2GroupEpoch =
    std::function<void(const std::vector<std::size_t>& models,
                       const std::vector<EpochState>& states, std::vector<char>& keep)>;
struct EigenPro2GroupResult {
  std::vector<EigenPro2Result> models;  // per kernel (alpha: its last weights)
  std::vector<ModelStatus> status;      // per kernel at the end
  std::size_t batch_size = 0;           // the common m
  bool interrupted = false;
};

// collective: EigenPro 2 for every kernel at once, stepped together on the same batches
// (DESIGN §1.6): one batch gather, each tile's products shared by every kernel (one pass and one
// product per kernel), one allreduce per model. Each model keeps its own preconditioner (the
// same sample S, its own eigenpairs) and step size; the batch size is common: the smallest of
// the models' automatic ones (or solver.batch_size), with each model's step derived for it. A
// model whose residual turns non-finite is marked diverged and left behind, not fatal. Model g
// equals train_eigenpro2 alone with kernels[g] and batch_size = the common m, bit for bit:
// train_eigenpro2 is this loop with one kernel.
EigenPro2GroupResult train_eigenpro2_group(const mpi::Communicator& comm,
                                           const TrainingProblem& problem,
                                           const std::vector<Kernel>& kernels,
                                           const EigenPro2Options& options,
                                           const EigenPro2GroupEpoch& on_epoch = {},
                                           const EigenPro2GroupControl& control = {});

// ---- Falkon and direct over a grid (the grid's points are kernel-major: point g * R + r is
// kernels[g] with ridges[r], R = ridges.size()) ----

// Checkpoint and resume of a grid run, as FalkonControl for one run: the CG state of every
// point (one per point, in point order).
struct FalkonGridControl {
  const std::vector<FalkonCgState>* start = nullptr;  // continue from these; null = from 0
  // collective: after every CG iteration of the grid (all points stepped once); false stops
  // the run at once with every result's `interrupted` set.
  std::function<bool(const std::vector<FalkonCgState>&)> after_iteration;
  SetupProgress on_setup;
};
// Called on every rank after each CG iteration of point `point` with its iteration (1-based)
// and residual.
using FalkonGridCallback =
    std::function<void(std::size_t point, std::size_t iteration, double residual)>;

// collective: train_falkon for every point of kernels x ridges (options.ridge unused), sharing:
// the centers (drawn and deduplicated once: they depend on the seed, not the kernel); per kernel
// K_ZZ, its Cholesky factor L and the right-hand side K_nZ^T Y (one for all its ridges); and
// every CG product: each data tile's products -2 X Z^T once for all kernels, each kernel's block
// once for all its ridges (their p x c vectors side by side; kernel_normal_product_shared).
// problem.kernel is unused. Points stop independently (tolerance, residual growth,
// options.iterations); a point whose first CG iteration is non-finite (train_falkon alone throws)
// stops alone with residual_grew set, best_iteration 0 and alpha = 0. setup_seconds and
// solve_seconds are the whole grid's. Returns one FalkonResult per point, each equal to
// train_falkon alone with that kernel and ridge within the tolerance stated in
// src/solvers/falkon_grid.cpp.
std::vector<FalkonResult> train_falkon_grid(const mpi::Communicator& comm,
                                            const TrainingProblem& problem,
                                            const std::vector<Kernel>& kernels,
                                            const std::vector<double>& ridges,
                                            const FalkonOptions& options,
                                            const FalkonGridCallback& on_iteration = {},
                                            const FalkonGridControl& control = {});

// local (the arrays are replicated): a CG state into a checkpoint under names starting with
// `prefix` ("" for a run alone: the names its checkpoints always had).
void store_cg_state(const mpi::Communicator& comm, const FalkonCgState& st,
                    const std::string& prefix, Checkpoint& ck);
// collective: the state stored under `prefix` after `iterations` CG iterations, for c outputs;
// an agreed error naming `path` when it is missing or misshapen.
FalkonCgState load_cg_state(const mpi::Communicator& comm, const Checkpoint& ck,
                            const std::string& prefix, std::size_t iterations, std::size_t c,
                            const std::string& path);

// collective: solve_direct for every point of kernels x ridges: per kernel K is built once
// (each block's products shared by all kernels) and factored once per ridge; problem.kernel is
// unused. Returns this rank's rows of alpha per point, each equal to solve_direct alone bit for
// bit (src/solvers/direct.cpp says why, and what memory it takes).
std::vector<Matrix<double>> solve_direct_grid(const mpi::Communicator& comm,
                                              const TrainingProblem& problem,
                                              const std::vector<Kernel>& kernels,
                                              const std::vector<double>& ridges);

}  // namespace kmpi
