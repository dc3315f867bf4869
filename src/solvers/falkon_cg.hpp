// What train_falkon (src/solvers/falkon.cpp) and train_falkon_grid (src/solvers/falkon_grid.cpp)
// share: the centers, the preconditioned system of one (kernel, ridge) split around its kernel
// product (so a grid can do the products of all its points in one pass), and the conjugate
// gradient iteration with its residual-growth rule, best iterate and weights recovery. The math
// is in falkon.cpp's header.
#pragma once

#include <cstddef>
#include <vector>

#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/partition.hpp"
#include "parallel/scalapack.hpp"
#include "solvers/solvers.hpp"

namespace kmpi {

// collective: the centers of a falkon run, the same for every kernel (they depend on the seed
// and the data): drawn (result.center_indices) or given, exact duplicates dropped
// (result.duplicate_centers), result.center_partition and result.centers (this rank's rows)
// set. Returns Z replicated in float64 (p x d).
Matrix<double> falkon_centers(const mpi::Communicator& comm, const TrainingProblem& problem,
                              const FalkonOptions& options, FalkonResult& result);

// Estimated flops of the setup stages, for the progress line: one K_ZZ with its Cholesky
// (2 p^2 d + p^3 / 3), one A_L (2 p^3 / 3), the right-hand side pass (2 n p d). The float64
// block-cyclic stages count 3x: they ran at about a third of the float32 GEMM rate here
// (Fashion-MNIST, p = 10000, 2 ranks: 52 and 46 against 134 GFLOP/s).
struct FalkonSetupWork {
  double kzz = 0, a = 0, rhs = 0;
  FalkonSetupWork(std::size_t p, std::size_t d, std::size_t n);
};

// The preconditioned normal equations B^T H B beta = B^T K_nZ^T Y / n of one (kernel, ridge)
// over its factors L and A_L. The kernel products K_nZ^T (.) are the caller's (one kernel, or a
// whole grid's in one pass); everything here goes through the block-cyclic factors and back to
// replicated p x c matrices, so CG itself works on replicated data. All members are collective.
class FalkonSystem {
 public:
  FalkonSystem(const BlockCyclicMatrix& l, const BlockCyclicMatrix& a, double lambda)
      : l_(l), a_(a), lambda_(lambda) {}

  // r_0 = B^T w for w = K_nZ^T Y / n.
  Matrix<double> right_hand_side(const Matrix<double>& w) const;

  // B^T H B u = A^{-T} [ T^{-T} K_nZ^T K_nZ T^{-1} A^{-1} u / n + lambda A^{-1} u ] in two
  // halves around the kernel product: before_product gives A^{-1} u (kept block-cyclic) and
  // v = T^{-1} A^{-1} u (replicated); after_product takes w = K_nZ^T K_nZ v / n.
  struct BeforeProduct {
    BlockCyclicMatrix au;
    Matrix<double> v;
  };
  BeforeProduct before_product(const Matrix<double>& u) const;
  Matrix<double> after_product(const Matrix<double>& w, const BlockCyclicMatrix& au) const;

  // alpha = B beta = L^{-T} A_L^{-T} beta, this rank's rows of the centers' partition.
  Matrix<double> weights(const Matrix<double>& beta, const BlockPartition& centers) const;

  static constexpr std::size_t kBlock =
      128;  // of every block-cyclic matrix here (bench/bench_factor.cpp)

 private:
  const BlockCyclicMatrix& l_;  // L = T^T
  const BlockCyclicMatrix& a_;  // A_L
  const double lambda_;
};

// collective: CG's state from beta = 0 for the right-hand side r (p x c), or `start` (checked
// against p x c: a CollectiveError, the data being replicated); r0 gets ||r_0|| per column of
// this r either way (a resumed run's right-hand side is rebuilt bit-identically on the same rank
// count), rank 0's on every rank (agreed: the tolerance rule branches on it).
FalkonCgState starting_cg(const mpi::Communicator& comm, const Matrix<double>& r,
                          const FalkonCgState* start, std::vector<double>& r0);

// local: whether CG goes on from cg: some column still active and iterations left.
bool cg_running(const FalkonCgState& cg, std::size_t iterations);

// How an iteration ended: go on; the residual grew past kFalkonResidualGrowth x the best (the
// best iterate is kept); or the first iteration was already non-finite (nothing to keep).
enum class CgStep { kContinue, kGrew, kDiverged };

// collective (replicated data): one CG iteration given hd = B^T H B cg.dir: an independent
// recurrence per output column still active; the residual max_l ||r_t|| / ||r_0|| appended to
// cg.residuals, the best iterate kept, cg.iteration advanced. On kGrew and kDiverged every
// column is made inactive: the run is over (the state says so to a resumed run). The dot
// products every rule branches on are rank 0's (agreed), so the returned step, the active
// columns and the best iteration are the same on every rank even where hd differs in its bits.
CgStep cg_step(const mpi::Communicator& comm, FalkonCgState& cg, const Matrix<double>& hd,
               const std::vector<double>& r0, double tolerance);

// collective: result.residuals, residual_grew, best_iteration and alpha from the final state:
// the best iterate after a growth, else the last. A run diverged at its first iteration
// (CgStep::kDiverged; train_falkon throws instead) gets residual_grew, best_iteration 0 and
// alpha = 0, the iterate it started from.
void finish_cg(const FalkonSystem& system, const FalkonCgState& cg, std::size_t rank,
               FalkonResult& result);

}  // namespace kmpi
