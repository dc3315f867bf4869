// What EigenPro 2 and EigenPro 4 share (DESIGN §1.2, §1.3): the Nystrom preconditioner over
// row-partitioned points and the pieces of a minibatch step that touch only the rows a rank owns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kmpi/kernel.hpp"
#include "kmpi/kernel_operator.hpp"
#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/partition.hpp"
#include "base/permutation.hpp"
#include "solvers/selected_rows.hpp"
#include "solvers/solvers.hpp"

namespace kmpi {

// The Nystrom preconditioner as this rank holds it: S is drawn by the counter RNG (the same at
// any rank count) from row-partitioned points, so rank r holds the members among its own rows.
struct NystromPreconditioner {
  std::vector<std::size_t> indices;     // S: sorted global row indices
  std::vector<std::size_t> offsets;     // rank r holds S members [offsets[r], offsets[r + 1])
  std::vector<std::size_t> local_rows;  // this rank's members as indices into its rows
  Matrix<double> v;                     // |S_r| x q: this rank's rows of V = U_q / sqrt(s)
  EigenPro2Parameters parameters;       // q, d_i, batch size m and step eta
  std::vector<double> eigenvalues;      // the top eigenvalues of K_SS / s computed, descending
  LocalCenters points;                  // X_{S_r} in the kernel precision, if asked for
  // The correction V D V^T has rows on this rank (q = 0 is plain SGD: no correction anywhere).
  bool acts_here() const { return parameters.q > 0 && !local_rows.empty(); }
};

struct NystromRequest {
  std::size_t samples = 0;  // s (at most the number of points)
  std::uint64_t seed = 1;
  RngStream stream = RngStream::kNystrom;
  EigenPro2Options options;     // level q, batch cap and size, damping, precision, precondition
  std::size_t batch_limit = 0;  // the largest batch eigenpro2_parameters may choose
  // K_SS in blocks of min(64, s / grid side) instead of 64 x 64 (see build_nystrom_preconditioner).
  bool small_blocks = false;
  bool keep_points = false;  // also fill NystromPreconditioner::points
  SetupProgress progress;    // optional: K_SS built, eigenpairs found (flops, estimated)
  const char* stage = "setup";
};

// collective: draws S from the rows of the row-partitioned `x` (partition `part`), computes the
// top eigenpairs of K_SS / s in float64 on a block-cyclic K_SS (pdsyevd), and the parameters by
// eigenpro2_parameters (agreed on every rank). X_S is replicated (s x d) while K_SS is built.
NystromPreconditioner build_nystrom_preconditioner(const mpi::Communicator& comm,
                                                   const Kernel& kernel, const BlockPartition& part,
                                                   const Matrix<double>& x,
                                                   const NystromRequest& request);

// collective: w = D V^T kg (q x c) for kg = K(X_{S_r}, X_B) g, this rank's |S_r| x c share
// (read only where pre.acts_here()), summed over the ranks by one allreduce of q x c (called on
// every rank, a no-op when q = 0). The allreduce's seconds are added to *comm_seconds if given.
Matrix<double> nystrom_coefficients(const mpi::Communicator& comm, const NystromPreconditioner& pre,
                                    const Matrix<double>& kg, std::size_t c,
                                    double* comm_seconds = nullptr);

// local: g(k, :) -= y(batch[k] - first, :) for this rank's members k of the batch (the targets
// it owns; first = its first global row), before the allreduce that sums g.
void subtract_owned_targets(Matrix<double>& g, const std::vector<std::size_t>& batch,
                            const SelectionLayout& layout, std::size_t first,
                            const Matrix<double>& y);

// local: the SGD step on the batch's own rows, alpha(batch[k] - first, :) -= eta g(k, :).
void step_owned_rows(Matrix<double>& alpha, const std::vector<std::size_t>& batch,
                     const SelectionLayout& layout, std::size_t first, double eta,
                     const Matrix<double>& g);

// local: the Nystrom correction on this rank's sample rows, alpha(rows[i], :) += eta vw(i, :).
void add_to_rows(Matrix<double>& alpha, const std::vector<std::size_t>& rows, double eta,
                 const Matrix<double>& vw);

// local: the report of a finished epoch with what both EigenPros fill in: batch_loss =
// loss_sum / (n c), the mean ||g||^2 / c over the epoch's batches.
EpochState epoch_report(std::size_t epoch, double epoch_seconds, double loss_sum, std::size_t n,
                        const Matrix<double>& alpha, const EigenPro2Parameters& parameters,
                        double setup_seconds);

// local: sum += g_ij^2 over g in storage order (the batch loss, accumulated term by term so the
// sum is the same as one running over the epoch).
void accumulate_squares(const Matrix<double>& g, double& sum);

}  // namespace kmpi
