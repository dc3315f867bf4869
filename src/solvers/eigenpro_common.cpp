// The Nystrom preconditioner and minibatch pieces EigenPro 2 and 4 share (DESIGN §1.2 steps 1-7).
#include "solvers/eigenpro_common.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "base/blas.hpp"
#include "parallel/log.hpp"
#include "parallel/scalapack.hpp"

namespace kmpi {

EigenPro2Parameters eigenpro2_parameters(const std::vector<double>& lambda, std::size_t s,
                                         std::size_t n, double beta, const EigenPro2Options& o) {
  const double a = o.damping;
  EigenPro2Parameters p;
  p.s = s;
  p.beta = beta;
  if (lambda.size() < 2)
    throw Error("EigenPro 2 needs at least 2 eigenvalues of the Nystrom matrix");
  // lambda is 0-based: lambda[i - 1] is lambda_i.
  if (!o.precondition) {
    p.q = 0;
  } else if (o.preconditioner_level > 0) {
    p.q = o.preconditioner_level;
    if (p.q + 1 > lambda.size())
      throw Error("solver.preconditioner_level = " + std::to_string(p.q) + " needs " +
                  std::to_string(p.q + 1) + " eigenvalues but the Nystrom sample has only " +
                  std::to_string(lambda.size()));
  } else {
    // The largest q whose damped critical batch size lambda_q^(-a) stays below the cap, at
    // least 5 and at most s/3 (and at most what was computed).
    const std::size_t q_max = std::min(s / 3, lambda.size() - 1);
    std::size_t q = std::min<std::size_t>(5, q_max);
    for (std::size_t i = q; i <= q_max; ++i)
      if (lambda[i - 1] > 0 && std::pow(lambda[i - 1], -a) <= static_cast<double>(o.batch_cap))
        q = i;
    p.q = std::max<std::size_t>(1, q);
  }
  p.lambda_1 = lambda[0];
  p.lambda_q1 = lambda[p.q];
  if (!(p.lambda_q1 > 0))
    throw Error("Nystrom eigenvalue lambda_{q+1} = " + std::to_string(p.lambda_q1) +
                " is not positive: lower solver.preconditioner_level or raise kernel.bandwidth");
  p.d.resize(p.q);
  for (std::size_t i = 1; i <= p.q; ++i)
    p.d[i - 1] = (1 - std::pow(p.lambda_q1 / lambda[i - 1], a)) / lambda[i - 1];
  // With q = 0 this is lambda_1 itself: plain SGD's critical batch and step.
  p.preconditioned_top = std::pow(p.lambda_1, 1 - a) * std::pow(p.lambda_q1, a);
  p.critical_batch = beta / p.preconditioned_top;
  // A batch is at most the whole data set. The automatic batch keeps a margin below m*: with
  // m < m* + 1 the step is eta_m = m / beta, and SGD on the quadratic is stable only while
  // eta_m < 2m / (beta + (m - 1) lh1_true), i.e. (m - 1) lh1_true < beta. At m = floor(m*) that
  // holds only if the Nystrom estimate lh1 is exact; it underestimates (lambda_{q+1} of a sample
  // of s points, q up to s/3), and Fashion-MNIST (configs/tiny.ini, 3000 rows, bandwidth 6,
  // m* = 836.9, m = 836) diverged: train mse 0.27 -> 6.9 -> 104. m = m*/2 tolerates lh1 low by 2x
  // (measured there at bandwidths 4, 6, 8, 12: every run's loss falls; 0.9 m* and 0.75 m*
  // still diverged at bandwidth 6). A user-given batch is taken as it is.
  const double automatic_batch = std::floor(
      std::min(kAutomaticBatchFraction * p.critical_batch, static_cast<double>(o.batch_cap)));
  const double m =
      std::min(static_cast<double>(n), o.batch_size > 0 ? static_cast<double>(o.batch_size)
                                                        : std::max(1.0, automatic_batch));
  p.batch_size = static_cast<std::size_t>(m);
  p.batch_step =
      m < p.critical_batch + 1 ? m / beta : 0.99 * 2 * m / (beta + (m - 1) * p.preconditioned_top);
  p.step_size = p.batch_step / m;
  return p;
}

namespace {

// collective: DESIGN §1.2 steps 2-7 for the sample in pre.offsets: the top eigenpairs of
// K_SS / s (K_SS evaluated tile by tile straight into block-cyclic layout from the replicated
// X_S, in float64, pdsyevd), then pre.eigenvalues and pre.parameters. Returns this rank's rows of
// the eigenvectors, in descending order of eigenvalue. The grid lives until they are out.
Matrix<double> nystrom_spectrum(const mpi::Communicator& comm, const Kernel& kernel,
                                const Matrix<double>& xs, const NystromRequest& request,
                                NystromPreconditioner& pre) {
  const std::size_t s = xs.rows(), d = xs.cols();
  const EigenPro2Options& options = request.options;
  // q + 1 eigenpairs (q given), s / 3 + 1 (q automatic), 2 (no preconditioner).
  const std::size_t k_wanted = !options.precondition ? 2
                               : options.preconditioner_level > 0
                                   ? std::min(s, options.preconditioner_level + 1)
                                   : std::min(s, s / 3 + 1);
  BlacsGrid grid(comm);
  // Small blocks: every process of the grid then holds some of K_SS. With s < 64 and the
  // default 64 x 64 blocks one process column holds it all, and pdsyevd then returned wrong
  // eigenvectors (info = 0) at 2 ranks (eigenpro4's preconditioners; eigenpro2 keeps 64 x 64,
  // which its results were fixed with).
  std::size_t nb = 64;
  if (request.small_blocks) {
    const std::size_t procs = static_cast<std::size_t>(std::max(grid.rows(), grid.cols()));
    nb = std::max<std::size_t>(1, std::min<std::size_t>(64, s / procs));
  }
  // Work for the progress line: 2 s^2 d for K_SS, about 10/3 s^3 for pdsyevd with vectors.
  const double ss = static_cast<double>(s), build = 2 * ss * ss * static_cast<double>(d);
  const double total = build + 10.0 / 3.0 * ss * ss * ss;
  if (request.progress) request.progress(request.stage, 0, total);
  BlockCyclicMatrix kss(grid, s, s, nb, nb);
  const auto rows = kss.global_rows(), cols = kss.global_cols();
  const Matrix<double> xr = select_rows(xs, rows), xc = select_rows(xs, cols);
  kernel_block(kernel, xc.data(), cols.size(), d, xr.data(), rows.size(), d, d, kss.data(),
               kss.ld());
  for (std::size_t j = 0; j < kss.local_cols(); ++j)
    for (std::size_t i = 0; i < kss.local_rows(); ++i) kss.local(i, j) /= static_cast<double>(s);
  if (request.progress) request.progress(request.stage, build, total);
  const TopEigenpairs top = top_eigenpairs(kss, std::max<std::size_t>(k_wanted, 2));
  if (request.progress) request.progress(request.stage, total, total);
  pre.eigenvalues = top.values;
  // Replicated eigenvalues, but the parameters are agreed anyway: a verdict must never depend
  // on one rank alone.
  mpi::agree_on(comm, [&] {
    pre.parameters =
        eigenpro2_parameters(top.values, s, request.batch_limit, kernel.diagonal(), options);
  });
  return top.rows_descending(pre.offsets);
}

}  // namespace

NystromPreconditioner build_nystrom_preconditioner(const mpi::Communicator& comm,
                                                   const Kernel& kernel, const BlockPartition& part,
                                                   const Matrix<double>& x,
                                                   const NystromRequest& request) {
  const int me = comm.rank();
  const std::size_t s = request.samples;
  const EigenPro2Options& options = request.options;
  NystromPreconditioner pre;
  // 1. The sample S, the same for every rank count.
  pre.indices = random_subset(part.size(), s, request.seed, request.stream);
  pre.offsets = selection_runs(pre.indices, part);
  for (std::size_t k = pre.offsets[me]; k < pre.offsets[me + 1]; ++k)
    pre.local_rows.push_back(pre.indices[k] - part.begin(me));
  // 2-7. The spectrum of K_SS / s and the parameters it gives.
  const Matrix<double> xs = gather_selected_rows(comm, part, x, pre.indices);  // s x d, small
  const Matrix<double> v_desc = nystrom_spectrum(comm, kernel, xs, request, pre);
  const std::size_t q = pre.parameters.q;
  pre.v = Matrix<double>(v_desc.rows(), q);
  const double inv_sqrt_s = 1.0 / std::sqrt(static_cast<double>(s));
  for (std::size_t i = 0; i < v_desc.rows(); ++i)
    for (std::size_t j = 0; j < q; ++j) pre.v(i, j) = v_desc(i, j) * inv_sqrt_s;
  if (request.keep_points)
    pre.points = LocalCenters(select_rows(x, pre.local_rows), options.precision);
  return pre;
}

Matrix<double> nystrom_coefficients(const mpi::Communicator& comm, const NystromPreconditioner& pre,
                                    const Matrix<double>& kg, std::size_t c, double* comm_seconds) {
  const std::size_t q = pre.parameters.q;
  Matrix<double> w(q, c);
  if (pre.acts_here())
    blas::gemm(true, false, q, c, kg.rows(), 1.0, pre.v.data(), q, kg.data(), c, 0.0, w.data(), c);
  Stopwatch comm_clock;
  comm.allreduce(w.data(), w.size());
  if (comm_seconds) *comm_seconds += comm_clock.seconds();
  for (std::size_t j = 0; j < q; ++j)
    for (std::size_t l = 0; l < c; ++l) w(j, l) *= pre.parameters.d[j];
  return w;
}

void subtract_owned_targets(Matrix<double>& g, const std::vector<std::size_t>& batch,
                            const SelectionLayout& layout, std::size_t first,
                            const Matrix<double>& y) {
  for (std::size_t k = layout.lo; k < layout.hi; ++k)
    for (std::size_t l = 0; l < g.cols(); ++l) g(k, l) -= y(batch[k] - first, l);
}

void step_owned_rows(Matrix<double>& alpha, const std::vector<std::size_t>& batch,
                     const SelectionLayout& layout, std::size_t first, double eta,
                     const Matrix<double>& g) {
  for (std::size_t k = layout.lo; k < layout.hi; ++k)
    for (std::size_t l = 0; l < g.cols(); ++l) alpha(batch[k] - first, l) -= eta * g(k, l);
}

void add_to_rows(Matrix<double>& alpha, const std::vector<std::size_t>& rows, double eta,
                 const Matrix<double>& vw) {
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t l = 0; l < vw.cols(); ++l) alpha(rows[i], l) += eta * vw(i, l);
}

EpochState epoch_report(std::size_t epoch, double epoch_seconds, double loss_sum, std::size_t n,
                        const Matrix<double>& alpha, const EigenPro2Parameters& parameters,
                        double setup_seconds) {
  EpochState state;
  state.epoch = epoch;
  state.epoch_seconds = epoch_seconds;
  state.batch_loss = loss_sum / (static_cast<double>(n) * static_cast<double>(alpha.cols()));
  state.alpha = &alpha;
  state.parameters = &parameters;
  state.setup_seconds = setup_seconds;
  return state;
}

void accumulate_squares(const Matrix<double>& g, double& sum) {
  for (std::size_t i = 0; i < g.size(); ++i) sum += g.data()[i] * g.data()[i];
}

}  // namespace kmpi
