// Solvers: free functions over the distributed training problem (one driver per file).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kmpi/kernel.hpp"
#include "kmpi/kernel_operator.hpp"
#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/partition.hpp"
#include "kmpi/predict.hpp"
#include "parallel/scalapack.hpp"

namespace kmpi {

// The training problem as every rank sees it: its rows of the (scaled) data and targets.
struct TrainingProblem {
  Kernel kernel;
  BlockPartition partition;  // of the n training rows over the ranks
  Matrix<double> x;          // partition.count(rank) x d
  Matrix<double> y;          // partition.count(rank) x c (one-hot for classification)
};

// collective: exact kernel ridge regression (K + ridge * n I) alpha = Y with K built tile by tile
// in block-cyclic layout and solved by pdpotrf/pdpotrs in float64. Returns this rank's rows of
// alpha. Memory: n^2 / P doubles per rank plus the replicated n x d data.
Matrix<double> solve_direct(const mpi::Communicator& comm, const TrainingProblem& problem,
                            double ridge);

// ---- EigenPro 2 (DESIGN §1.2, §2) ----

// The automatic batch is this fraction of the critical batch m* (a margin for the Nystrom
// estimate of the top preconditioned eigenvalue; eigenpro2_parameters).
inline constexpr double kAutomaticBatchFraction = 0.5;

struct EigenPro2Options {
  std::size_t nystrom_samples = 0;       // s; 0 = min(n, 2000) for n < 1e5, else 12000
  std::size_t preconditioner_level = 0;  // q; 0 = automatic
  std::size_t batch_size = 0;            // m; 0 = min(m* / 2, batch_cap)
  std::size_t batch_cap = 2000;
  std::size_t epochs = 5;
  std::uint64_t seed = 1;
  Precision precision = Precision::kFloat32;
  double damping = 0.95;     // a
  bool precondition = true;  // false: plain minibatch SGD (q = 0) with its own optimal step
};

// The automatic parameters, derived from the top eigenvalues (descending) of K_SS / s.
struct EigenPro2Parameters {
  std::size_t s = 0, q = 0, batch_size = 0;
  double beta = 1;                     // max k(x_i, x_i) over S
  double lambda_1 = 0, lambda_q1 = 0;  // top eigenvalue and lambda_{q+1}
  double preconditioned_top = 0;       // lh1 = lambda_1^(1-a) lambda_{q+1}^a
  double critical_batch = 0;           // m* = beta / lh1
  double batch_step = 0;               // eta_m
  double step_size = 0;                // eta = eta_m / m, per sample
  std::vector<double> d;               // d_i, i = 1..q
};

// local: the rules of DESIGN §1.2 steps 3-7, from eigenvalues (descending, at least q+1 of them
// when q is given; when q = 0 the largest admissible q <= min(s/3, values.size() - 1) is chosen).
// The batch is at most n. Defined with the rest of the Nystrom preconditioner that both
// EigenPros build, in src/solvers/eigenpro_common.cpp.
EigenPro2Parameters eigenpro2_parameters(const std::vector<double>& eigenvalues, std::size_t s,
                                         std::size_t n, double beta,
                                         const EigenPro2Options& options);

// What the solver reports after each epoch; the callback may evaluate the model (collectively)
// and returns false to stop early.
struct EpochState {
  std::size_t epoch = 0;  // 1-based
  double epoch_seconds = 0;
  double batch_loss = 0;  // mean ||g||^2 / c over the epoch's batches (before each update)
  const Matrix<double>* alpha = nullptr;  // this rank's weights
  const EigenPro2Parameters* parameters = nullptr;
  const LocalCenters* centers = nullptr;  // eigenpro4: this rank's centers (null: the data rows)
  double setup_seconds = 0;
  std::size_t steps = 0;            // batches this epoch
  std::uint64_t bytes_sent = 0;     // by this rank's collectives this epoch (MPI layer count)
  double comm_seconds = 0;          // in the step's collectives (waits included) this epoch
  double projection_residual = -1;  // eigenpro4: as EigenPro4Result::projection_residuals
};
using EpochCallback = std::function<bool(const EpochState&)>;

// Where an iterative solver starts and where it may stop (checkpoint/resume, stop signals; see
// src/state/checkpoint.hpp). Every iterative solver takes one; the defaults start from alpha = 0 and
// never stop early.
struct StepState {
  std::size_t epoch = 0;  // 1-based epoch the step belongs to
  std::size_t step = 0;   // steps completed in this epoch (1..steps_per_epoch)
  std::size_t steps_per_epoch = 0;
  const Matrix<double>* alpha = nullptr;  // this rank's weights after the step
  double loss_sum = 0;                    // sum of ||g||^2 over this epoch's batches so far
};
// Progress of a solver's setup (preconditioner, factorisation): `done` of `total` units of
// work (flops, estimated) of the stage named `stage`. Called on every rank; only rank 0 prints.
using SetupProgress = std::function<void(const char* stage, double done, double total)>;

struct IterationControl {
  std::size_t start_epoch = 0;                  // epochs already completed
  std::size_t start_step = 0;                   // steps already completed in epoch start_epoch + 1
  double start_loss_sum = 0;                    // loss_sum of those steps
  const Matrix<double>* start_alpha = nullptr;  // this rank's weights to start from; null = 0
  // collective: called on every rank after every step; returning false stops the solver, which
  // returns at once with `interrupted` set (the epoch callback is not called).
  std::function<bool(const StepState&)> after_step;
  SetupProgress on_setup;  // optional: the setup's progress
};

struct EigenPro2Result {
  Matrix<double> alpha;      // this rank's weights (rows of problem.partition)
  bool interrupted = false;  // stopped by IterationControl::after_step
  EigenPro2Parameters parameters;
  std::vector<std::size_t> nystrom_indices;  // S, sorted global row indices
  std::vector<double> eigenvalues;           // top q+1 of K_SS / s, descending
  double setup_seconds = 0;
  std::size_t epochs_run = 0;
};

// collective: EigenPro 2 with centers = the training data; starts from alpha = 0 or where
// `control` says (a resumed run continues bit-identically on the same rank count).
EigenPro2Result train_eigenpro2(const mpi::Communicator& comm, const TrainingProblem& problem,
                                const EigenPro2Options& options, const EpochCallback& on_epoch = {},
                                const IterationControl& control = {});

// ---- Models on p << n centers (DESIGN §1.3, §1.4) ----

// Sorted row selections (src/solvers/selected_rows.cpp; src/solvers/selected_rows.hpp has the layouts).
// collective: rows `indices` (sorted global indices of `part`) of the row-partitioned `local`,
// replicated on every rank (one allgatherv; indices.size() x cols values per rank).
Matrix<double> gather_selected_rows(const mpi::Communicator& comm, const BlockPartition& part,
                                    const Matrix<double>& local,
                                    const std::vector<std::size_t>& indices);
// local: for sorted global indices of `part`, runs[r]..runs[r + 1] are the positions of those rank
// r owns (P + 1 offsets): every rank's members of a sorted selection are one contiguous run.
std::vector<std::size_t> selection_runs(const std::vector<std::size_t>& indices,
                                        const BlockPartition& part);
// collective: the same rows, block-partitioned by `to` = BlockPartition(indices.size(), P) instead
// of replicated (one alltoallv; each rank receives only its to.count(rank) x cols values).
Matrix<double> distribute_selected_rows(const mpi::Communicator& comm, const BlockPartition& part,
                                        const Matrix<double>& local,
                                        const std::vector<std::size_t>& indices,
                                        const BlockPartition& to);

struct FalkonOptions {
  std::size_t centers = 0;      // p; 0 = min(n, 10000)
  double ridge = 1e-8;          // lambda in ||K_nZ alpha - Y||^2 + lambda n alpha^T K_ZZ alpha
  std::size_t iterations = 20;  // most conjugate gradient iterations
  double tolerance = 1e-7;      // stop when every column's ||r_t|| <= tolerance ||r_0||
  std::uint64_t seed = 1;       // centers: random_subset(n, p, seed, RngStream::kCenters)
  Precision precision = Precision::kFloat32;  // of the K_nZ tiles
  // Of the two Cholesky factors and the gram product between them (solver.factor_precision);
  // stored float64 either way. float32 halves the setup at a larger jitter (jitter_per_center).
  Precision factor_precision = Precision::kFloat64;
  // Centers given (data.centers): this rank's rows of Z, BlockPartition(p, P) with p the sum of
  // the ranks' rows; null = draw p training rows. centers and seed are then unused.
  const Matrix<double>* given_centers = nullptr;
};

// A model over p centers Z, partitioned over the ranks: what falkon and eigenpro4 return.
struct CenterModel {
  BlockPartition center_partition;          // BlockPartition(p, P)
  std::vector<std::size_t> center_indices;  // the training rows chosen as Z, sorted; empty if given
  Matrix<double> centers;                   // this rank's rows of Z
  Matrix<double> alpha;                     // this rank's rows of alpha
};

struct FalkonResult : CenterModel {
  std::vector<double> residuals;            // per iteration: max over columns of ||r_t|| / ||r_0||
  double jitter = 0;                        // eps in T = chol(K_ZZ + eps I)
  std::size_t duplicate_centers = 0;        // exact repeats among the p centers, dropped
  // CG stopped because its residual grew past kFalkonResidualGrowth x the best (near-singular
  // K_ZZ, rounding): alpha is then the best iteration's. best_iteration (1-based) is the
  // iteration whose weights alpha holds: that best one, or else the last.
  bool residual_grew = false;
  std::size_t best_iteration = 0;
  double setup_seconds = 0, solve_seconds = 0;
  bool interrupted = false;  // stopped by FalkonControl::after_iteration (alpha is empty)
};

// Called on every rank after each CG iteration with the iteration (1-based) and its residual.
using FalkonIterationCallback = std::function<void(std::size_t, double)>;

// Falkon's conjugate gradient between two iterations: everything CG needs to go on exactly
// (replicated, identical on every rank). What it does not hold, the centers and the factors L
// and A_L, is a deterministic function of the seed, the data and the options, rebuilt
// bit-identically on the same rank count.
struct FalkonCgState {
  std::size_t iteration = 0;       // CG iterations completed
  Matrix<double> beta, r, dir;     // p x c: iterate, residual, search direction
  std::vector<double> rs_old;      // per column: ||r||^2 of the last update
  std::vector<char> active;        // per column: still iterating
  std::vector<double> residuals;   // FalkonResult::residuals so far
  std::size_t best_iteration = 0;  // the iteration of the smallest residual (0: none yet)
  Matrix<double> best_beta;        // its iterate
};
// CG stops when its residual is this many times the best one so far (a healthy run's residual
// does not grow like that; a near-singular K_ZZ in float32 products makes it).
inline constexpr double kFalkonResidualGrowth = 4.0;
struct FalkonControl {
  const FalkonCgState* start = nullptr;  // continue from this state; null = from beta = 0
  // collective: called on every rank after every iteration (after on_iteration); returning
  // false stops the solver at once with `interrupted` set.
  std::function<bool(const FalkonCgState&)> after_iteration;
  SetupProgress
      on_setup;  // optional: the setup's progress (K_ZZ, its factors, the right-hand side)
  // collective: after every weights_every-th CG iteration (0 = never; after on_iteration), with
  // this rank's weights of that iterate and its rows of Z (both of the centers' partition): what
  // a caller's test metrics per iteration are computed from.
  std::size_t weights_every = 0;
  std::function<void(const FalkonCgState&, const Matrix<double>& alpha,
                     const Matrix<double>& centers)>
      on_weights;
};

// collective: Falkon (DESIGN §1.4): K_ZZ and the Cholesky factors T, A block-cyclic (2 p^2 / P
// doubles per rank), Z replicated (p x d), CG on the preconditioned normal equations.
FalkonResult train_falkon(const mpi::Communicator& comm, const TrainingProblem& problem,
                          const FalkonOptions& options,
                          const FalkonIterationCallback& on_iteration = {},
                          const FalkonControl& control = {});

struct EigenPro4Options {
  std::size_t centers = 0;            // p; 0 = min(n, 10000)
  std::size_t data_samples = 0;       // s_data, drawn from the centers; 0 = min(p, 3000)
  std::size_t data_level = 0;         // q_data; 0 = min(150, s_data / 3)
  std::size_t model_samples = 0;      // s_model; 0 = min(p, 3000)
  std::size_t model_level = 0;        // q_model; 0 = min(150, s_model / 3)
  std::size_t batch_size = 0;         // m; 0 = min(m* / 2, batch_cap) of the data preconditioner
  std::size_t batch_cap = 10000;      // also caps the projection's batch
  std::size_t projection_period = 0;  // T batches between projections; 0 = max(1, p / m)
  std::size_t projection_epochs = 1;  // EigenPro 2 epochs over the centers per projection
  // solver.projection = cholesky: theta = (K_ZZ + eps I)^{-1} h exactly, by one Cholesky factor
  // (CenterSolver, center_factor.hpp); false: projection_epochs of EigenPro 2.
  bool exact_projection = false;
  // Of the exact projection's factor (solver.factor_precision): float32 stores it in half the
  // memory.
  Precision factor_precision = Precision::kFloat64;
  std::size_t epochs = 5;
  std::uint64_t seed = 1;
  Precision precision = Precision::kFloat32;
  double damping = 0.95;
  bool precondition = true;  // false: no data preconditioner (projected minibatch SGD)
  // Centers given (data.centers): as FalkonOptions::given_centers; centers is then unused.
  const Matrix<double>* given_centers = nullptr;
};

struct EigenPro4Result : CenterModel {
  EigenPro2Parameters data_parameters;      // batch size m and step eta come from these
  EigenPro2Parameters model_parameters;     // of the projection's EigenPro 2 over Z (exact: none)
  std::size_t projection_period = 0;        // T used
  std::size_t epochs_run = 0;
  std::vector<double> epoch_losses;  // mean ||g||^2 / c over each epoch's batches (this run's)
  // Per epoch of this run: the mean over its projections of ||h - K_ZZ theta|| / ||h|| on a
  // fixed sample of kProjectionProbe centers (what an inexact projection loses).
  std::vector<double> projection_residuals;
  double jitter = 0;         // eps of the exact projection's factor (0: eigenpro2 projections)
  bool interrupted = false;  // stopped by IterationControl::after_step
  double setup_seconds = 0;
};

// collective: EigenPro 4 (DESIGN §1.3) on p centers drawn like Falkon's; T = 1 is EigenPro 3.
// on_epoch sees this rank's weights over its centers (EpochState::parameters = data_parameters).
// `control` works as for EigenPro 2 (alpha over the centers), but after_step is called only at
// projection boundaries (every T-th step and each epoch's last), where the state is alpha alone.
EigenPro4Result train_eigenpro4(const mpi::Communicator& comm, const TrainingProblem& problem,
                                const EigenPro4Options& options, const EpochCallback& on_epoch = {},
                                const IterationControl& control = {});

}  // namespace kmpi
