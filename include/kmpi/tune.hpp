// Hyper-parameter search that shares its kernel work (DESIGN §1.6): the solvers that train every
// point of a bandwidth x ridge grid at once, and the pieces they share. Distances do not depend
// on the bandwidth, so each block's products -2 X Z^T (the GEMM, 2 m b d flops) are computed
// once and every bandwidth applies only its elementwise pass and its product to them
// (kernel.hpp: product_block, kernel_from_products).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kmpi/checkpoint.hpp"
#include "kmpi/kernel.hpp"
#include "kmpi/kernel_operator.hpp"
#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/options.hpp"
#include "kmpi/solvers.hpp"

namespace kmpi {

// ---- The grid ----

// collective: the median of the pairwise Euclidean distances among `samples` training rows drawn
// by `seed` (RngStream::kTune; the same rows at any rank count), computed on rank 0 in float64
// and broadcast: the element at position N / 2 of the N = s (s - 1) / 2 sorted distances.
double median_pairwise_distance(const mpi::Communicator& comm, const BlockPartition& part,
                                const Matrix<double>& x, std::size_t samples, std::uint64_t seed);
// local: tune.bandwidths = auto: `points` values median * 2^(-2 + 2 k / (points - 1)), k = 0..
// points - 1, log-spaced from a quarter of the median up to the median (Gaussian bandwidths that
// do well sit there: Fashion-MNIST on [0, 1] pixels has median 11.5 and its usual bandwidth 5).
std::vector<double> auto_bandwidths(double median, std::size_t points);

// local: solver.* as EigenPro2Options (the mapping run_eigenpro2 uses).
EigenPro2Options eigenpro2_options(const Options& o, std::uint64_t seed, Precision precision);

// ---- The shared operator ----

// local: outs[g] (m x c) += K_g(Q, Z_r) alphas[g] for every kernel g = kernels[g], tiled as
// kernel_times_local is: each tile's products are computed once, then each kernel's elementwise
// pass and product with its alpha. outs[g] is kernel_times_local(kernels[g], q, z, *alphas[g],
// ..., captures[g]) bit for bit (the same tiles, the same pass, the same sums); kernel_times_local
// is the G = 1 case. captures may be empty or hold null entries (no capture for that kernel).
void kernel_times_local_shared(const std::vector<Kernel>& kernels, const Matrix<double>& q,
                               const LocalCenters& z,
                               const std::vector<const Matrix<double>*>& alphas,
                               const std::vector<Matrix<double>*>& outs,
                               std::size_t tile_bytes = kDefaultTileBytes,
                               const std::vector<KernelColumns*>& captures = {},
                               const BetweenTiles& between_tiles = {});

// collective: predict_distributed (solvers.hpp) for every kernel g with its weights alphas[g]
// over the same centers: each block's distances computed once. Entry g equals
// predict_distributed(kernels[g], ..., *alphas[g], ...) bit for bit; that is the G = 1 case.
std::vector<Matrix<double>> predict_distributed_shared(
    const mpi::Communicator& comm, const std::vector<Kernel>& kernels, const LocalCenters& centers,
    const std::vector<const Matrix<double>*>& alphas, const std::vector<std::size_t>& offsets,
    const Matrix<double>& queries, std::size_t block_rows = 2048);

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

// local: solver.* as FalkonOptions (the mapping run_falkon uses).
FalkonOptions falkon_options(const Options& o, std::uint64_t seed, Precision precision,
                             const Matrix<double>* given_centers);
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
