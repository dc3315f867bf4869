// The average gradient outer product (AGOP) of a fitted kernel model, the feature-learning step
// of Recursive Feature Machines (DESIGN §1.5), in closed form through GEMMs on kernel blocks.
//
// For f_c(x) = sum_i alpha_ic k(x S, z_i) with transformed centers v_i = z_i S and a radial kernel
// k = phi(r), grad_u f_c(u_j) = u_j A_jc - B_jc with W_ji = phi'(r_ji) / r_ji (Kernel::
// gradient_weight), A = W alpha and B_c = W diag(alpha_c) V; grad_x f = S grad_u f, so
// G = S G_u S with G_u = (1/N_s) sum_j sum_c grad_u f_c(u_j) grad_u f_c(u_j)^T (centred: with
// each output's mean gradient over the sample subtracted first).
#pragma once

#include <cstddef>

#include "kmpi/feature_metric.hpp"
#include "kmpi/kernel.hpp"
#include "kmpi/kernel_operator.hpp"
#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"

namespace kmpi {

// How the fitted model's centers are held across the ranks.
enum class CenterLayout {
  kPartitioned,  // each rank its own rows of Z (Z = X for direct/eigenpro2, eigenpro4's Z)
  kReplicated,   // every rank all of Z (falkon's layout)
};

// AgopInput::gather_bytes's default: partitioned centers are gathered to every rank when their
// p (d + c) float64 values fit in it and are fewer than the N_s c (d + 1) sums of the rounds.
inline constexpr std::size_t kAgopGatherBytes = std::size_t(32) << 20;

// Where one agop call's time went on this rank (bench/bench_agop.cpp), by this rank's clock;
// filled where AgopInput::times is set.
struct AgopTimes {
  double weights_s = 0;        // gradient-weight blocks W (a distance GEMM, one pass over W)
  double products_s = 0;       // W F (the floor's 2 N_s p d (1 + c) flops): F's tiles, the
                               // GEMMs and their float64 sums
  double communication_s = 0;  // each round's allgatherv of rows and reduce-scatter of sums
  double gram_s = 0;           // gradients from the sums and their outer products (syrk)
  double total_s = 0;
  std::size_t rounds = 0, rows_per_round = 0;
};

struct AgopInput {
  Kernel kernel;
  Precision precision = Precision::kFloat32;  // of the distance/weight blocks (as solver.precision)
  // This rank's sample rows in transformed coordinates (u = x S), any number per rank (0 too);
  // the sample is the union over ranks, sample_total rows.
  const Matrix<double>* sample = nullptr;
  std::size_t sample_total = 0;
  // Transformed centers and their weights: this rank's rows (kPartitioned) or all p (kReplicated).
  const Matrix<double>* centers = nullptr;
  const Matrix<double>* alpha = nullptr;
  CenterLayout layout = CenterLayout::kPartitioned;
  bool diagonal = false;  // only diag(G) (1 x d)
  // Centred gradients (rfm.center_gradients): each output's gradients minus their mean over the
  // sample rows, g_jc - m_c with m_c = (1/N_s) sum_j g_jc, before the outer products; formed as
  // N_s G_u = sum g g^T - N_s sum_c m_c m_c^T from the allreduced c x d sums of the gradients.
  bool center = false;
  const FeatureMetric* metric = nullptr;  // the S rows were transformed with; null = identity
  std::size_t block_rows = 1024;          // sample rows per round (bounds the N_b x c x d block)
  // Bytes of one weight tile or [alpha_c V] tile at most; 0 = cache_tile_bytes().
  std::size_t tile_bytes = kDefaultTileBytes;
  // Partitioned centers are gathered to every rank when their p (d + c) float64 values fit in
  // this many bytes and are fewer than the sums the rounds would send; 0: never (the rounds).
  std::size_t gather_bytes = kAgopGatherBytes;
  AgopTimes* times = nullptr;  // where to add this call's times, if anywhere
};

// The sums of one round, N_b x c (d + 1) float64 values (A and B of the block), are kept below
// this many bytes by lowering block_rows where c d is large (c d = 7840: 534 rows a round).
inline constexpr std::size_t kAgopBlockBytes = std::size_t(32) << 20;

// collective: G in x coordinates, d x d (diagonal: 1 x d), the same bits on every rank (rank 0's,
// broadcast). Each rank computes its kernel blocks; the sums over centers and over sample rows
// are completed by reductions (see agop.cpp for the communication per layout).
Matrix<double> agop(const mpi::Communicator& comm, const AgopInput& in);

// local: the gradients grad_u f_c(u_j) of f = K(., V) alpha at rows u (m x d) for all centers V
// (p x d) here, in closed form: (m c) x d, row j c + c' = grad_u f_c'(u_j). Blocks in `precision`.
// The serial building block of agop and the reference the finite-difference test checks.
// Centers are taken in tiles of at most tile_bytes (see AgopInput::tile_bytes).
Matrix<double> model_gradients(const Kernel& k, Precision precision, const Matrix<double>& u,
                               const Matrix<double>& centers, const Matrix<double>& alpha,
                               std::size_t tile_bytes = kDefaultTileBytes);

}  // namespace kmpi
