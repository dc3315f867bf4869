// Hyper-parameter search that shares its kernel work (DESIGN §1.6): the solvers that train every
// point of a bandwidth x ridge grid at once, and the pieces they share. Distances do not depend
// on the bandwidth, so each block's products -2 X Z^T (the GEMM, 2 m b d flops) are computed
// once and every bandwidth applies only its elementwise pass and its product to them
// (kernel.hpp: product_block, kernel_from_products).
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "kmpi/kernel.hpp"
#include "kmpi/kernel_operator.hpp"
#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/solvers.hpp"

namespace kmpi {

// ---- The shared operator ----

// local: outs[g] (m x c) += K_g(Q, Z_r) alphas[g] for every kernel g = kernels[g], tiled as
// kernel_times_local is: each tile's products are computed once, then each kernel's elementwise
// pass and product with its alpha. outs[g] is kernel_times_local(kernels[g], q, z, *alphas[g],
// ..., captures[g]) bit for bit (the same tiles, the same pass, the same sums); kernel_times_local
// is the G = 1 case. captures may be empty or hold null entries (no capture for that kernel).
void kernel_times_local_shared(const std::vector<Kernel>& kernels, const Matrix<double>& q,
                               const LocalCenters& z, const std::vector<const Matrix<double>*>& alphas,
                               const std::vector<Matrix<double>*>& outs,
                               std::size_t tile_bytes = kDefaultTileBytes,
                               const std::vector<KernelColumns*>& captures = {},
                               const BetweenTiles& between_tiles = {});

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

// collective: solve_direct for every point of kernels x ridges: per kernel K is built once
// (each block's products shared by all kernels) and factored once per ridge; problem.kernel is
// unused. Returns this rank's rows of alpha per point, each equal to solve_direct alone bit for
// bit (src/solvers/direct.cpp says why, and what memory it takes).
std::vector<Matrix<double>> solve_direct_grid(const mpi::Communicator& comm,
                                              const TrainingProblem& problem,
                                              const std::vector<Kernel>& kernels,
                                              const std::vector<double>& ridges);

}  // namespace kmpi
