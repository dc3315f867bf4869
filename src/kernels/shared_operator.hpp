// The kernel operator shared by several kernels (DESIGN §1.6): distances do not depend on the
// bandwidth, so each block's products -2 X Z^T (the GEMM, 2 m b d flops) are computed once and
// every kernel applies only its elementwise pass and its product to them (kernel.hpp:
// product_block, kernel_from_products).
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

namespace kmpi {

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

}  // namespace kmpi
