// EigenPro 2 across ranks (DESIGN §1.2 for the math, §2 for what each step communicates).
//
// Setup: the Nystrom preconditioner (eigenpro_common.cpp: S, the top eigenpairs of K_SS / s,
// the batch size m and step eta). The iteration (EigenPro2Iteration below): each epoch visits the
// data in batches of m in the order CounterPermutation(n, seed, epoch); one batch step
// (EigenPro2Iteration::step) is
//   g = K(X_B, X) alpha - Y_B;  alpha_B -= eta g;  alpha_S += eta V D V^T K(X_S, X_B) g.
// Every rank holds its rows of X and alpha; X_B and g are replicated (one allgatherv and one
// allreduce of m x c), the q x c middle of the correction is one more allreduce.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "base/blas.hpp"
#include "base/fault.hpp"
#include "solvers/eigenpro_common.hpp"
#include "parallel/log.hpp"
#include "base/permutation.hpp"
#include "solvers/solvers.hpp"
#include "kernels/shared_operator.hpp"
#include "solvers/grid_solvers.hpp"

namespace kmpi {

namespace {

// One batch's rows on every rank: the sorted batch (each rank's members are a contiguous run
// of it, so one allgatherv builds X_B) and this rank's share, gathered without blocking.
struct BatchRows {
  std::vector<std::size_t> batch;  // sorted global rows
  SelectionLayout layout;          // this rank's members: batch[layout.lo, layout.hi)
  Matrix<double> mine, x;          // this rank's rows; X_B (|batch| x d) once complete
  mpi::Request request;
};

// collective (non-blocking): starts gathering rows perm[b0, b0 + mb) on every rank. The result
// lives on the heap so the buffers MPI writes into (and the counts it reads) never move.
std::unique_ptr<BatchRows> start_batch(const mpi::Communicator& comm, const BlockPartition& part,
                                       const Matrix<double>& x_local,
                                       const CounterPermutation& perm, std::size_t b0,
                                       std::size_t mb) {
  const int me = comm.rank();
  auto b = std::make_unique<BatchRows>();
  b->batch = permuted_range(perm, b0, mb);
  b->layout = selection_layout(b->batch, part, me, x_local.cols());
  b->mine = own_selected_rows(x_local, part.begin(me), b->batch, b->layout);
  b->x = Matrix<double>(mb, x_local.cols());
  b->request = comm.iallgatherv(b->mine.data(), b->x.data(), b->layout.counts, b->layout.displs);
  return b;
}

// What an epoch has summed so far (a resumed epoch starts from the checkpoint's loss sums).
struct EpochTotals {
  std::vector<double> loss_sums;  // per model: sum of ||g||^2 over the epoch's batches
  // Time in the step's collectives, waiting for slower ranks included: what overlapping
  // communication with the kernel blocks could at most save.
  double comm_seconds = 0;
  std::size_t steps = 0;  // batches run in this call
};

// One model of the iteration: what setup fixed for it (kernel, preconditioner, step eta) and
// its weights (this rank's rows).
struct EigenPro2Model {
  const Kernel* kernel = nullptr;
  const NystromPreconditioner* pre = nullptr;
  double eta = 0;  // step per sample
  Matrix<double>* alpha = nullptr;
  ModelStatus status = ModelStatus::kActive;
};

// The iteration over the data (DESIGN §1.2 step 8) for one model or several stepped together
// on the same batches (DESIGN §1.6), with the common batch size m.
class EigenPro2Iteration {
 public:
  EigenPro2Iteration(const mpi::Communicator& comm, const TrainingProblem& problem,
                     const EigenPro2Options& options, std::vector<EigenPro2Model>& models,
                     std::size_t batch_size, bool divergence_fatal)
      : comm_(comm),
        problem_(problem),
        models_(models),
        centers_(problem.x, options.precision),
        seed_(options.seed),
        n_(problem.partition.size()),
        first_(problem.partition.begin(comm.rank())),
        m_(batch_size),
        divergence_fatal_(divergence_fatal) {}

  std::size_t steps_per_epoch() const { return (n_ + m_ - 1) / m_; }

  // collective: the batches of `epoch` from its step `first_step` on (a resumed run re-enters
  // an epoch after its completed steps: the batch order is a function of (seed, epoch) alone, so
  // those counters are the whole RNG state). Returns false when after_step stopped it.
  bool run_epoch(std::size_t epoch, std::size_t first_step,
                 const std::function<bool(const EigenPro2GroupStep&)>& after_step,
                 EpochTotals& totals) {
    const CounterPermutation perm(n_, seed_, RngStream::kBatches, epoch);
    const BlockPartition& part = problem_.partition;
    const std::size_t first_b0 = first_step * m_;
    std::unique_ptr<BatchRows> next =
        first_b0 < n_
            ? start_batch(comm_, part, problem_.x, perm, first_b0, std::min(m_, n_ - first_b0))
            : nullptr;
    for (std::size_t b0 = first_b0; b0 < n_; b0 += m_) {
      fault::point("eigenpro2.step");
      ++totals.steps;
      const std::unique_ptr<BatchRows> current = std::move(next);
      Stopwatch comm_clock;
      current->request.wait();
      totals.comm_seconds += comm_clock.seconds();
      // The data rows never change, so the next batch's rows travel while this one is computed
      // (progressed between kernel tiles; Open MPI has no progress thread).
      if (b0 + m_ < n_)
        next = start_batch(comm_, part, problem_.x, perm, b0 + m_, std::min(m_, n_ - b0 - m_));
      step(*current, next.get(), epoch, totals);
      // Step boundary: checkpoints and stop signals are agreed here.
      if (after_step && !after_step(boundary(epoch, b0 / m_ + 1, totals))) return false;
    }
    return true;
  }

  EigenPro2GroupStep boundary(std::size_t epoch, std::size_t step,
                              const EpochTotals& totals) const {
    EigenPro2GroupStep st;
    st.epoch = epoch;
    st.step = step;
    st.steps_per_epoch = steps_per_epoch();
    st.loss_sums = totals.loss_sums;
    for (const EigenPro2Model& model : models_) {
      st.alphas.push_back(model.alpha);
      st.status.push_back(model.status);
    }
    return st;
  }

 private:
  // collective: one batch step of every active model on the gathered batch `b`; `next` (if
  // any) is progressed between kernel tiles.
  void step(const BatchRows& b, BatchRows* next, std::size_t epoch, EpochTotals& totals) {
    const std::size_t mb = b.batch.size(), c = problem_.y.cols();
    // g = K(X_B, X) alpha - Y_B per model: local partial products (one kernel tile's products
    // shared by all models), minus the targets this rank owns, summed by one allreduce of m x c.
    // The kernel values K(X_B, X_{S_r}) are columns of the blocks computed here: captured for
    // the Nystrom correction instead of evaluating them again.
    std::vector<std::size_t> active;
    std::vector<Kernel> kernels;
    std::vector<const Matrix<double>*> alphas;
    std::vector<Matrix<double>> gs;
    std::vector<KernelColumns> nystrom_blocks(models_.size());
    for (std::size_t k = 0; k < models_.size(); ++k) {
      if (models_[k].status != ModelStatus::kActive) continue;
      active.push_back(k);
      kernels.push_back(*models_[k].kernel);
      alphas.push_back(models_[k].alpha);
      gs.emplace_back(mb, c);
      nystrom_blocks[k].columns = &models_[k].pre->local_rows;
    }
    std::vector<Matrix<double>*> outs;
    std::vector<KernelColumns*> captures;
    for (std::size_t a = 0; a < active.size(); ++a) {
      outs.push_back(&gs[a]);
      captures.push_back(models_[active[a]].pre->parameters.q > 0 ? &nystrom_blocks[active[a]]
                                                                  : nullptr);
    }
    kernel_times_local_shared(kernels, b.x, centers_, alphas, outs, kDefaultTileBytes, captures,
                              [next] {
                                if (next) next->request.test();
                              });
    for (std::size_t a = 0; a < active.size(); ++a)
      step_model(models_[active[a]], b, gs[a], nystrom_blocks[active[a]], epoch,
                 totals.loss_sums[active[a]], totals);
  }

  // collective: the rest of one model's step from its local partial products g.
  void step_model(EigenPro2Model& model, const BatchRows& b, Matrix<double>& g,
                  const KernelColumns& nystrom_block, std::size_t epoch, double& loss_sum,
                  EpochTotals& totals) {
    const NystromPreconditioner& pre = *model.pre;
    const std::size_t mb = b.batch.size(), c = g.cols(), q = pre.parameters.q;
    subtract_owned_targets(g, b.batch, b.layout, first_, problem_.y);
    Stopwatch comm_clock;
    comm_.allreduce(g.data(), g.size());
    totals.comm_seconds += comm_clock.seconds();
    accumulate_squares(g, loss_sum);
    // g is replicated; the verdict is agreed (rank 0's) so every rank takes it together.
    if (!comm_.agreed(std::isfinite(loss_sum))) {
      if (divergence_fatal_)
        throw DivergedError("EigenPro 2 diverged in epoch " + std::to_string(epoch) +
                            " (non-finite residual); lower solver.batch_size or check the data");
      model.status = ModelStatus::kDiverged;
      return;
    }

    // Nystrom correction, with g from before the batch update:
    // alpha_S += eta V diag(d) V^T K(X_S, X_B) g, the q x c middle summed over ranks, where
    // K(X_{S_r}, X_B) g = (captured K(X_B, X_{S_r}))^T g.
    const std::size_t sr = pre.local_rows.size();
    Matrix<double> kg;
    if (pre.acts_here()) {
      kg = Matrix<double>(sr, c);
      blas::gemm(true, false, sr, c, mb, 1.0, nystrom_block.values.data(), sr, g.data(), c, 0.0,
                 kg.data(), c);
    }
    const Matrix<double> h = nystrom_coefficients(comm_, pre, kg, c, &totals.comm_seconds);

    // alpha_B -= eta g (this rank's batch rows), then alpha_S += eta V h.
    step_owned_rows(*model.alpha, b.batch, b.layout, first_, model.eta, g);
    if (pre.acts_here()) {
      Matrix<double> vh(sr, c);
      blas::gemm(false, false, sr, c, q, 1.0, pre.v.data(), q, h.data(), c, 0.0, vh.data(), c);
      add_to_rows(*model.alpha, pre.local_rows, model.eta, vh);
    }
  }

  const mpi::Communicator& comm_;
  const TrainingProblem& problem_;
  std::vector<EigenPro2Model>& models_;
  const LocalCenters centers_;  // this rank's data rows in the kernel precision
  const std::uint64_t seed_;
  const std::size_t n_, first_;  // data rows in all; this rank's first
  const std::size_t m_;          // batch size
  const bool divergence_fatal_;  // one model: a non-finite residual ends the run
};

// collective: setup steps 1-7 with the sample S drawn from the data.
NystromPreconditioner eigenpro2_preconditioner(const mpi::Communicator& comm,
                                               const TrainingProblem& problem, const Kernel& kernel,
                                               const EigenPro2Options& options,
                                               const SetupProgress& progress) {
  const std::size_t n = problem.partition.size();
  NystromRequest request;
  request.progress = progress;
  request.stage = "eigenpro2 setup";
  request.samples = std::min(
      n, options.nystrom_samples > 0 ? options.nystrom_samples : (n < 100000 ? 2000 : 12000));
  request.seed = options.seed;
  request.stream = RngStream::kNystrom;
  request.options = options;
  request.batch_limit = n;
  return build_nystrom_preconditioner(comm, kernel, problem.partition, problem.x, request);
}

// collective: each model's preconditioner (the same S: it depends on the seed alone), then the
// common batch size and each model's step for it (eigenpro2_parameters with that batch size gives
// what a run alone with solver.batch_size = m gets: q does not depend on the batch size). Fills
// `pres`, the group's per-model results and `models`, which point into both; returns m.
std::size_t set_up_group(const mpi::Communicator& comm, const TrainingProblem& problem,
                         const std::vector<Kernel>& kernels, const EigenPro2Options& options,
                         const SetupProgress& on_setup, std::vector<NystromPreconditioner>& pres,
                         EigenPro2GroupResult& group, std::vector<EigenPro2Model>& models) {
  const std::size_t n = problem.partition.size(), c = problem.y.cols(), G = kernels.size();
  const std::size_t my_count = problem.partition.count(comm.rank());
  Stopwatch setup_clock;
  for (const Kernel& kernel : kernels)
    pres.push_back(eigenpro2_preconditioner(comm, problem, kernel, options, on_setup));
  std::size_t m = pres.front().parameters.batch_size;
  for (const NystromPreconditioner& pre : pres) m = std::min(m, pre.parameters.batch_size);
  EigenPro2Options common = options;
  common.batch_size = m;
  for (std::size_t k = 0; k < G; ++k) {
    NystromPreconditioner& pre = pres[k];
    if (pre.parameters.batch_size != m)
      pre.parameters =
          eigenpro2_parameters(pre.eigenvalues, pre.parameters.s, n, kernels[k].diagonal(), common);
    EigenPro2Result& r = group.models[k];
    r.nystrom_indices = pre.indices;
    r.parameters = pre.parameters;
    r.eigenvalues = pre.eigenvalues;
    r.eigenvalues.resize(pre.parameters.q + 1);
    r.alpha = Matrix<double>(my_count, c);
    models[k] =
        EigenPro2Model{&kernels[k], &pre, pre.parameters.step_size, &r.alpha, ModelStatus::kActive};
  }
  const double setup_seconds = setup_clock.seconds();
  for (std::size_t k = 0; k < G; ++k) group.models[k].setup_seconds = setup_seconds;
  return m;
}

// collective: a resumed run: every model's weights and status as the checkpoint has them.
void resume_group(const mpi::Communicator& comm, const TrainingProblem& problem,
                  const EigenPro2GroupControl& control, EigenPro2GroupResult& group,
                  std::vector<EigenPro2Model>& models) {
  const std::size_t c = problem.y.cols(), G = models.size();
  const std::size_t my_count = problem.partition.count(comm.rank());
  for (std::size_t k = 0; k < control.start_alphas.size() && k < G; ++k) {
    const Matrix<double>* start = control.start_alphas[k];
    mpi::agree(comm, start && start->rows() == my_count && start->cols() == c,
               "EigenPro 2: the weights to resume from do not match the data (" +
                   std::to_string(start ? start->rows() : 0) + " x " +
                   std::to_string(start ? start->cols() : 0) + " on this rank)");
    group.models[k].alpha = *start;
  }
  for (std::size_t k = 0; k < control.start_status.size() && k < G; ++k)
    models[k].status = control.start_status[k];
}

// local: the epoch's report of each model that ran it and is still active, into `finished` (its
// index) and `states`; such a model has now run `epoch` epochs.
void epoch_states(std::size_t epoch, const std::vector<char>& ran,
                  const std::vector<EigenPro2Model>& models, const EpochTotals& totals,
                  double epoch_seconds, std::uint64_t bytes, std::size_t n,
                  EigenPro2GroupResult& group, std::vector<std::size_t>& finished,
                  std::vector<EpochState>& states) {
  for (std::size_t k = 0; k < models.size(); ++k) {
    if (!ran[k] || models[k].status != ModelStatus::kActive) continue;
    EigenPro2Result& r = group.models[k];
    r.epochs_run = epoch;
    EpochState state = epoch_report(epoch, epoch_seconds, totals.loss_sums[k], n, r.alpha,
                                    r.parameters, r.setup_seconds);
    state.steps = totals.steps;
    state.bytes_sent = bytes;
    state.comm_seconds = totals.comm_seconds;
    finished.push_back(k);
    states.push_back(state);
  }
}

// collective: the group run (train_eigenpro2_group; train_eigenpro2 with one kernel).
EigenPro2GroupResult run_group(const mpi::Communicator& comm, const TrainingProblem& problem,
                               const std::vector<Kernel>& kernels, const EigenPro2Options& options,
                               const EigenPro2GroupEpoch& on_epoch,
                               const EigenPro2GroupControl& control, bool divergence_fatal) {
  const std::size_t n = problem.partition.size(), G = kernels.size();
  EigenPro2GroupResult group;
  group.models.resize(G);
  std::vector<NystromPreconditioner> pres;
  std::vector<EigenPro2Model> models(G);
  const std::size_t m =
      set_up_group(comm, problem, kernels, options, control.on_setup, pres, group, models);
  group.batch_size = m;
  resume_group(comm, problem, control, group, models);
  EigenPro2Iteration iteration(comm, problem, options, models, m, divergence_fatal);
  for (EigenPro2Result& r : group.models) r.epochs_run = control.start_epoch;
  const auto any_active = [&] {
    return std::any_of(models.begin(), models.end(),
                       [](const EigenPro2Model& md) { return md.status == ModelStatus::kActive; });
  };
  for (std::size_t epoch = control.start_epoch + 1; epoch <= options.epochs && any_active();
       ++epoch) {
    const bool resumed_epoch = epoch == control.start_epoch + 1;
    Stopwatch epoch_clock;
    const std::uint64_t bytes_at_start = mpi::bytes_sent();
    EpochTotals totals;
    totals.loss_sums.assign(G, 0.0);
    if (resumed_epoch)
      for (std::size_t k = 0; k < control.start_loss_sums.size() && k < G; ++k)
        totals.loss_sums[k] = control.start_loss_sums[k];
    std::vector<char> ran(G);
    for (std::size_t k = 0; k < G; ++k) ran[k] = models[k].status == ModelStatus::kActive;
    if (!iteration.run_epoch(epoch, resumed_epoch ? control.start_step : 0, control.after_step,
                             totals)) {
      group.interrupted = true;
      break;
    }
    std::vector<std::size_t> finished;
    std::vector<EpochState> states;
    epoch_states(epoch, ran, models, totals, epoch_clock.seconds(),
                 mpi::bytes_sent() - bytes_at_start, n, group, finished, states);
    std::vector<char> keep(finished.size(), 1);
    if (on_epoch && !finished.empty()) on_epoch(finished, states, keep);
    for (std::size_t i = 0; i < finished.size(); ++i)
      if (!keep[i]) models[finished[i]].status = ModelStatus::kStopped;
  }
  for (std::size_t k = 0; k < G; ++k) {
    group.status.push_back(models[k].status);
    group.models[k].interrupted = group.interrupted;
  }
  return group;
}

}  // namespace

EigenPro2GroupResult train_eigenpro2_group(const mpi::Communicator& comm,
                                           const TrainingProblem& problem,
                                           const std::vector<Kernel>& kernels,
                                           const EigenPro2Options& options,
                                           const EigenPro2GroupEpoch& on_epoch,
                                           const EigenPro2GroupControl& control) {
  if (kernels.empty()) throw Error("EigenPro 2 group: no kernels");
  return run_group(comm, problem, kernels, options, on_epoch, control, false);
}

EigenPro2Result train_eigenpro2(const mpi::Communicator& comm, const TrainingProblem& problem,
                                const EigenPro2Options& options, const EpochCallback& on_epoch,
                                const IterationControl& control) {
  // One model: the group loop with the solo run's state and callbacks mapped onto it.
  EigenPro2GroupControl group_control;
  group_control.start_epoch = control.start_epoch;
  group_control.start_step = control.start_step;
  group_control.start_loss_sums = {control.start_loss_sum};
  if (control.start_alpha) group_control.start_alphas = {control.start_alpha};
  group_control.on_setup = control.on_setup;
  if (control.after_step)
    group_control.after_step = [&](const EigenPro2GroupStep& st) {
      return control.after_step(
          StepState{st.epoch, st.step, st.steps_per_epoch, st.alphas[0], st.loss_sums[0]});
    };
  EigenPro2GroupEpoch group_epoch;
  if (on_epoch)
    group_epoch = [&](const std::vector<std::size_t>&, const std::vector<EpochState>& states,
                      std::vector<char>& keep) { keep[0] = on_epoch(states[0]) ? 1 : 0; };
  EigenPro2GroupResult group =
      run_group(comm, problem, {problem.kernel}, options, group_epoch, group_control, true);
  EigenPro2Result result = std::move(group.models[0]);
  result.interrupted = group.interrupted;
  return result;
}

}  // namespace kmpi
