// The distributed kernel operator every solver is built on (DESIGN §2). Centers Z and weights
// alpha are block-partitioned: each rank holds Z_r (its rows) and alpha_r.
#pragma once

#include <cstddef>
#include <functional>
#include <type_traits>
#include <vector>

#include "kmpi/kernel.hpp"
#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"

namespace kmpi {

// This rank's centers, kept in the precision the kernel blocks are computed in, with their
// squared norms computed once.
class LocalCenters {
 public:
  LocalCenters() = default;
  LocalCenters(const Matrix<double>& z, Precision precision);
  // Appends rows `rows` of x with their norms (EigenPro 4's temporary centers grow by a batch at
  // a time without converting the earlier ones again).
  void append_rows(const Matrix<double>& x, const std::vector<std::size_t>& rows);
  std::size_t rows() const { return rows_; }
  std::size_t dimension() const { return d_; }
  Precision precision() const { return precision_; }
  const Matrix<float>& f32() const { return z32_; }
  const Matrix<double>& f64() const { return z64_; }
  const std::vector<float>& norms32() const { return n32_; }
  const std::vector<double>& norms64() const { return n64_; }
  // The rows and norms in element type T (float or double), for code templated on the precision.
  template <class T>
  const Matrix<T>& rows_as() const {
    if constexpr (std::is_same_v<T, float>)
      return z32_;
    else
      return z64_;
  }
  template <class T>
  const std::vector<T>& norms_as() const {
    if constexpr (std::is_same_v<T, float>)
      return n32_;
    else
      return n64_;
  }

 private:
  Precision precision_ = Precision::kFloat64;
  std::size_t rows_ = 0, d_ = 0;
  Matrix<float> z32_;
  Matrix<double> z64_;
  std::vector<float> n32_;
  std::vector<double> n64_;
};

// Bytes of one kernel tile at most (bounds per-rank memory independent of n).
// 0 = choose from the cache sizes (cache_tile_bytes()).
inline constexpr std::size_t kDefaultTileBytes = 0;

// local: the tile budget for this machine: 16 x the L2 cache, clamped to [4, 64] MiB. A tile is
// written by the GEMM and then read twice (elementwise pass, product with alpha), so it should
// stay in the outer caches, while a GEMM of at least m x 512 keeps OpenBLAS at its peak. Measured
// on the 2-core reference machine (L2 1 MiB): the EigenPro 2 step's product ran at 76, 88, 93 and
// 84 GFLOP/s with 1, 4, 16 and 64 MiB tiles (bench/bench_kernels.cpp, operator_tile*).
std::size_t cache_tile_bytes();

// local: out (m x c, float64) += K(Q, Z_r) alpha_r, tiled over Z_r's rows so no tile exceeds
// tile_bytes. Kernel blocks are computed in the centers' precision; the product of a float32
// tile with alpha is accumulated per tile and summed across tiles in float64.
//
// If `capture` is given, the kernel values of the centers listed in capture->columns (sorted
// local indices) are also copied out as capture->values = K(Q, Z_r[columns]) (m x |columns|):
// EigenPro reuses them for its Nystrom correction instead of evaluating them a second time.
struct KernelColumns {
  const std::vector<std::size_t>* columns = nullptr;
  Matrix<double> values;
};
// Called between tiles (e.g. to let MPI progress a non-blocking collective meanwhile).
using BetweenTiles = std::function<void()>;
void kernel_times_local(const Kernel& k, const Matrix<double>& q, const LocalCenters& z,
                        const Matrix<double>& alpha, Matrix<double>& out,
                        std::size_t tile_bytes = kDefaultTileBytes,
                        KernelColumns* capture = nullptr, const BetweenTiles& between_tiles = {});

// collective: K(Q, Z) alpha for Q (m x d) replicated on all ranks: local tiles, then one
// allreduce of the m x c result.
Matrix<double> kernel_times(const mpi::Communicator& comm, const Kernel& k, const Matrix<double>& q,
                            const LocalCenters& z, const Matrix<double>& alpha,
                            std::size_t tile_bytes = kDefaultTileBytes);

// local: the kernel block K(Q, Z_r) (m x rows(Z_r), the centers' precision) kept whole for a
// product and then a transpose product with the same block. EigenPro 4 predicts a batch with it
// and accumulates h = K(Z, X_B) g from it after the allreduce of g: half the kernel work of two
// operator calls, for m rows(Z_r) values of memory (bytes()). Products are summed over at most
// kPanelSumLength terms in the kernel precision and across those runs in float64.
class KernelPanel {
 public:
  static constexpr std::size_t kPanelSumLength = 1024;
  static std::size_t bytes(std::size_t m, std::size_t rows, Precision precision) {
    return m * rows * (precision == Precision::kFloat32 ? 4 : 8);
  }
  // out (m x c) += K(Q, Z_r) alpha_r, keeping K(Q, Z_r) in this panel's buffer (grown when a
  // larger block comes, reused otherwise: a batch loop allocates it once). Rows are computed in
  // chunks of at most tile_bytes so the product with alpha reads each chunk while it is in cache.
  void compute(const Kernel& k, const Matrix<double>& q, const LocalCenters& z,
               const Matrix<double>& alpha, Matrix<double>& out,
               std::size_t tile_bytes = kDefaultTileBytes);
  // K(Z_r, Q) g (rows(Z_r) x c) for g (m x c), from the last compute().
  Matrix<double> transpose_times(const Matrix<double>& g) const;
  // out (m x c) += K(Q, Z_r) alpha_r for other weights (p rows), from the last compute().
  void times(const Matrix<double>& alpha, Matrix<double>& out) const;

 private:
  Precision precision_ = Precision::kFloat32;
  std::size_t m_ = 0, p_ = 0;
  std::vector<float> k32_;
  std::vector<double> k64_;
};

// local: K(Z_r, Q) G (rows(Z_r) x c) for replicated Q (m x d) and G (m x c): the transpose
// product, each rank for its own centers.
Matrix<double> kernel_transpose_times_local(const Kernel& k, const LocalCenters& z,
                                            const Matrix<double>& q, const Matrix<double>& g,
                                            std::size_t tile_bytes = kDefaultTileBytes);

// collective: K_nZ^T (K_nZ u + V) / n over every rank's data rows x (this rank's), centers z
// replicated, u (p x c) and V (n_r x c) optional (nullptr = 0); replicated result (one allreduce
// of p x c). One kernel tile serves both products (falkon's CG product and right-hand side).
Matrix<double> kernel_normal_product(const mpi::Communicator& comm, const Kernel& k,
                                     const LocalCenters& x, const LocalCenters& z,
                                     const Matrix<double>* u, const Matrix<double>* v,
                                     std::size_t c, std::size_t n_total);

// One kernel's part of kernel_normal_product_shared: its right-hand sides u_b (p x c) and v_b
// (n_r x c), b = 1..k, each optional (nullptr = 0; u and v of the same length k). All k meet each
// kernel tile in one GEMM of k c columns (falkon's ridges of one kernel).
struct NormalProductTerm {
  Kernel kernel;
  std::vector<const Matrix<double>*> u;
  std::vector<const Matrix<double>*> v;
};
// collective: K_g,nZ^T (K_g,nZ u_b + v_b) / n for every right-hand side b of every term g (p x c
// each, replicated; term by term, in order) in one pass over this rank's data tiles: each tile's
// products -2 X Z^T once for all terms (DESIGN §1.6), then each kernel's elementwise pass and its
// two products; one allreduce per right-hand side. kernel_normal_product is the one-term,
// one-right-hand-side case, bit for bit; with more right-hand sides per term a result may differ
// from it by the rounding of its GEMMs' wider shape (BLAS does not promise that a column of a
// product is independent of the others).
std::vector<Matrix<double>> kernel_normal_product_shared(
    const mpi::Communicator& comm, const std::vector<NormalProductTerm>& terms,
    const LocalCenters& x, const LocalCenters& z, std::size_t c, std::size_t n_total);

}  // namespace kmpi
