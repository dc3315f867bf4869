// `kmpi tune` with eigenpro2 and several bandwidths (src/search/tune_internal.hpp): one group run
// (train_eigenpro2_group): the models step together on the same batches, each tile's distances
// computed once for all of them. Its checkpoint holds the models' weights, counters and
// early-stopping states at a step boundary.
#include <memory>
#include <string>

#include "search/tune_internal.hpp"

namespace kmpi::tune_detail {

int TuneRun::run_eigenpro2_group() {
  std::vector<Kernel> kernels;
  for (const TunePoint& p : points_) kernels.push_back(kernel_of(p.bandwidth));
  std::vector<GroupModel> models = group_models(kernels);
  EigenPro2GroupControl control;
  std::vector<Matrix<double>> start_alphas;
  if (const Checkpoint* ck = outer_.resume(kGroupSolver))
    resume_group(*ck, control, start_alphas, models);
  hook_group(control, models);
  // Every epoch's reports: the models evaluated together on each set (shared distances).
  const LocalCenters rows(in_.problem.x, in_.setup.precision);
  const auto on_epoch = [&](const std::vector<std::size_t>& ks,
                            const std::vector<EpochState>& states, std::vector<char>& keep) {
    report_group_epoch(kernels, rows, models, ks, states, keep);
  };
  Stopwatch group_clock;
  EigenPro2GroupResult group = train_eigenpro2_group(
      in_.comm, in_.problem, kernels,
      eigenpro2_options(in_.options, in_.setup.seed, in_.setup.precision), on_epoch, control);
  if (group.interrupted) return outer_.stop_signal();
  finish_group(group, models, group_clock.seconds());
  return 0;
}

std::vector<TuneRun::GroupModel> TuneRun::group_models(const std::vector<Kernel>& kernels) {
  std::vector<GroupModel> models(points_.size());
  for (std::size_t k = 0; k < points_.size(); ++k) {
    models[k].reporter = std::make_unique<TrainReporter>(
        in_.comm, in_.log, in_.metrics, in_.clock, in_.problem, kernels[k], in_.setup.precision,
        classification_, in_.sets, "bandwidth " + number(points_[k].bandwidth).substr(0, 8) + ": ");
    models[k].stopping.patience = in_.options.count("solver.patience");
  }
  return models;
}

void TuneRun::resume_group(const Checkpoint& ck, EigenPro2GroupControl& control,
                           std::vector<Matrix<double>>& start_alphas,
                           std::vector<GroupModel>& models) {
  const std::size_t G = points_.size(), n = in_.problem.partition.size(), c = in_.problem.y.cols();
  start_alphas.resize(G);
  control.start_epoch = ck.epoch;
  control.start_step = ck.step;
  for (std::size_t k = 0; k < G; ++k) {
    const std::string s = std::to_string(k);
    const CheckpointArray* a = ck.array("alpha_" + s);
    mpi::agree(in_.comm, a && a->rows == n && a->cols == c,
               outer_.path() + ": has no weights of this problem's shape");
    start_alphas[k] = a->local;
    control.start_alphas.push_back(&start_alphas[k]);
    control.start_loss_sums.push_back(ck.scalar("loss_sum_" + s));
    control.start_status.push_back(static_cast<ModelStatus>(ck.scalar("status_" + s)));
    EarlyStopping& st = models[k].stopping;
    st.best_epoch = static_cast<std::size_t>(ck.scalar("best_epoch_" + s));
    st.best_val = st.best_epoch > 0 ? ck.scalar("best_val_" + s) : INFINITY;
    if (const CheckpointArray* b = ck.array("best_alpha_" + s)) st.best_alpha = b->local;
    models[k].logged_setup = ck.scalar("logged_" + s) != 0;
  }
  in_.log.info("resuming from %s: epoch %zu, step %zu done", outer_.path().c_str(), ck.epoch,
               ck.step);
}

void TuneRun::hook_group(EigenPro2GroupControl& control, std::vector<GroupModel>& models) {
  const std::size_t n = in_.problem.partition.size();
  if (progress_.enabled())
    control.on_setup = [this](const char* stage, double done, double total) {
      progress_.work(stage, done, total);
    };
  if (outer_.hooked())
    control.after_step = [this, &models, n](const EigenPro2GroupStep& st) {
      progress_.epoch_step(st.epoch, in_.options.count("solver.epochs"), st.step,
                           st.steps_per_epoch, n);
      return outer_.after_step([&] { return group_checkpoint(st, models); },
                               [&] {
                                 return "epoch " + std::to_string(st.epoch) + ", step " +
                                        std::to_string(st.step) + " of " +
                                        std::to_string(st.steps_per_epoch);
                               });
    };
}

void TuneRun::report_group_epoch(const std::vector<Kernel>& kernels, const LocalCenters& rows,
                                 std::vector<GroupModel>& models,
                                 const std::vector<std::size_t>& ks,
                                 const std::vector<EpochState>& states, std::vector<char>& keep) {
  std::vector<Kernel> ek;
  std::vector<const Matrix<double>*> ea;
  for (std::size_t i = 0; i < ks.size(); ++i) {
    ek.push_back(kernels[ks[i]]);
    ea.push_back(states[i].alpha);
  }
  const auto probe = evaluate_shared(in_.comm, ek, rows, ea, in_.sets.probe, classification_);
  const auto val = evaluate_shared(in_.comm, ek, rows, ea, in_.sets.validation, classification_);
  const auto test = evaluate_shared(in_.comm, ek, rows, ea, in_.sets.test, classification_);
  for (std::size_t i = 0; i < ks.size(); ++i) {
    const std::size_t k = ks[i];
    const EpochState& st = states[i];
    GroupModel& md = models[k];
    if (!md.logged_setup) {
      md.logged_setup = true;
      report_group_setup(k, st);
    }
    const double v = md.reporter->report_evaluated(
        st.epoch, {probe[i], val[i], test[i]},
        Json()
            .add("solver", "eigenpro2")
            .add("point", static_cast<double>(k))
            .add("bandwidth", points_[k].bandwidth)
            .add("epoch_s", st.epoch_seconds)
            .add("batch_loss", st.batch_loss)
            .add("batch_size", static_cast<double>(st.parameters->batch_size))
            .add("step_size", st.parameters->step_size),
        st.epoch_seconds);
    keep[i] = md.stopping.keep_best(in_.log, true, st.epoch, v, *st.alpha) ? 1 : 0;
  }
}

void TuneRun::finish_group(const EigenPro2GroupResult& group, const std::vector<GroupModel>& models,
                           double group_seconds) {
  const std::size_t G = points_.size();
  in_.log.info("tune: %zu eigenpro2 models stepped together (batch %zu) in %.2f s", G,
               group.batch_size, group_seconds);
  if (!in_.options.given("solver.batch_size")) group_batch_ = group.batch_size;
  std::vector<std::size_t> fitted;
  std::vector<const Matrix<double>*> returned;
  for (std::size_t k = 0; k < G; ++k) {
    points_[k].status = group.status[k];
    points_[k].fit_seconds = group_seconds;
    if (group.status[k] == ModelStatus::kDiverged) {
      in_.log.info("tune: bandwidth %g diverged (non-finite residual); left out",
                   points_[k].bandwidth);
      continue;
    }
    const EarlyStopping& st = models[k].stopping;
    fitted.push_back(k);
    returned.push_back(st.best_epoch > 0 ? &st.best_alpha : &group.models[k].alpha);
  }
  score_points(fitted, returned, nullptr);
  for (std::size_t w = 0; w < fitted.size(); ++w)
    consider(fitted[w], *returned[w], false, Matrix<double>(), 0);
}

Checkpoint TuneRun::group_checkpoint(const EigenPro2GroupStep& st,
                                     const std::vector<GroupModel>& models) {
  const std::size_t n = in_.problem.partition.size(), c = in_.problem.y.cols();
  Checkpoint ck = outer_.create(kGroupSolver);
  ck.epoch = st.epoch - 1;
  ck.step = st.step;
  for (std::size_t k = 0; k < models.size(); ++k) {
    const std::string s = std::to_string(k);
    const EarlyStopping& es = models[k].stopping;
    ck.scalars["loss_sum_" + s] = st.loss_sums[k];
    ck.scalars["status_" + s] = static_cast<double>(st.status[k]);
    ck.scalars["best_epoch_" + s] = static_cast<double>(es.best_epoch);
    ck.scalars["best_val_" + s] = es.best_epoch > 0 ? es.best_val : 0.0;
    ck.scalars["logged_" + s] = models[k].logged_setup ? 1.0 : 0.0;
    ck.arrays.push_back({"alpha_" + s, n, c, *st.alphas[k]});
    if (es.best_epoch > 0) ck.arrays.push_back({"best_alpha_" + s, n, c, es.best_alpha});
  }
  return ck;
}

void TuneRun::report_group_setup(std::size_t k, const EpochState& st) {
  const EigenPro2Parameters& prm = *st.parameters;
  in_.log.info(
      "eigenpro2 (bandwidth %g): q = %zu, lambda_1 = %.4g, lambda_q+1 = %.4g, batch %zu, "
      "step %.4g, setup %.2f s",
      points_[k].bandwidth, prm.q, prm.lambda_1, prm.lambda_q1, prm.batch_size, prm.step_size,
      st.setup_seconds);
  in_.metrics.line(Json()
                       .add("event", "setup")
                       .add("solver", "eigenpro2")
                       .add("point", static_cast<double>(k))
                       .add("bandwidth", points_[k].bandwidth)
                       .add("q", static_cast<double>(prm.q))
                       .add("lambda_1", prm.lambda_1)
                       .add("lambda_q1", prm.lambda_q1)
                       .add("batch_size", static_cast<double>(prm.batch_size))
                       .add("step_size", prm.step_size)
                       .add("setup_s", st.setup_seconds)
                       .str());
}

}  // namespace kmpi::tune_detail
