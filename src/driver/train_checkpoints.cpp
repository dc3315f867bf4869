#include "driver/train_checkpoints.hpp"

#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include "base/rng.hpp"

namespace kmpi {

namespace {

// collective: sum over rows of mix(global row, CRC-32 of the row's bytes in a, then b), modulo
// 2^64: a fingerprint of a row-partitioned matrix (pair) that does not depend on the rank count.
// `first` is this rank's first global row; b may be empty.
std::string rows_fingerprint(const mpi::Communicator& comm, std::size_t first,
                             const Matrix<double>& a, const Matrix<double>& b) {
  unsigned long long sum = 0;
  for (std::size_t i = 0; i < a.rows(); ++i) {
    const auto crc_a =
        crc32(0L, reinterpret_cast<const Bytef*>(a.row(i)), static_cast<uInt>(8 * a.cols()));
    const auto crc_b = b.rows() > i ? crc32(0L, reinterpret_cast<const Bytef*>(b.row(i)),
                                            static_cast<uInt>(8 * b.cols()))
                                    : 0UL;
    sum += mix64((first + i) ^ mix64((static_cast<std::uint64_t>(crc_a) << 32) | crc_b));
  }
  sum = comm.allreduce_value(sum, mpi::Op::kSum);
  char fingerprint[32];
  std::snprintf(fingerprint, sizeof fingerprint, "%016llx", sum);
  return fingerprint;
}

// collective: the "key = value" lines a checkpoint must match to be resumed (their hash is the
// checkpoint's options hash): every option that shapes the iteration, and the training data
// itself as n, d, c and a fingerprint of its (scaled) values. Left out: where outputs go
// (output.*, run.*), evaluation-only inputs, the data paths (the fingerprint covers the content,
// so moved files still resume), and solver.epochs / solver.patience (a resumed run may train
// longer). `centers` are this rank's rows of a data.centers file (BlockPartition(p, P)), empty
// otherwise: their content is fingerprinted like the data, so a changed file refuses a resume.
std::string checkpoint_options_text(const mpi::Communicator& comm, const Options& o,
                                    const TrainingProblem& problem,
                                    const Matrix<double>& centers) {
  static const char* const kIgnored[] = {
      "data.train_features", "data.train_labels", "data.test_features", "data.test_labels",
      "data.features",       "data.labels",       "data.centers",       "model",
      "solver.epochs",       "solver.patience"};
  // Options added after checkpoints existed: listed only away from their default, so a
  // checkpoint written before them (which ran with the default) still resumes.
  static const char* const kListedWhenSet[] = {"rfm.agop_power", "rfm.center_gradients",
                                               "data.validation_features",
                                               "data.validation_labels"};
  std::ostringstream text;
  for (const auto& spec : option_table()) {
    const std::string& k = spec.key;
    if (k.rfind("run.", 0) == 0 || k.rfind("output.", 0) == 0) continue;
    if (std::find(std::begin(kIgnored), std::end(kIgnored), k) != std::end(kIgnored)) continue;
    const bool listed_when_set =
        std::find(std::begin(kListedWhenSet), std::end(kListedWhenSet), k) !=
        std::end(kListedWhenSet);
    // The Laplace family's keys at their defaults (the kernels of before) leave the text as it
    // was too.
    if ((listed_when_set && o.str(k) == spec.default_value) ||
        (k == "kernel.exponent" && o.real(k) == 1.0) || (k == "kernel.norm_p" && o.real(k) == 2.0))
      continue;
    text << k << " = " << o.str(k) << "\n";
  }
  text << "data.rows = " << problem.partition.size() << "\ndata.dimension = " << problem.x.cols()
       << "\ndata.outputs = " << problem.y.cols() << "\ndata.fingerprint = "
       << rows_fingerprint(comm, problem.partition.begin(comm.rank()), problem.x, problem.y)
       << "\n";
  const std::size_t p = comm.allreduce_value(centers.rows());
  if (p > 0)
    text << "data.centers.rows = " << p << "\ndata.centers.fingerprint = "
         << rows_fingerprint(comm, BlockPartition(p, comm.size()).begin(comm.rank()), centers,
                             Matrix<double>())
         << "\n";
  return text.str();
}

std::string describe_step(const StepState& st) {
  return "epoch " + std::to_string(st.epoch) + ", step " + std::to_string(st.step) + " of " +
         std::to_string(st.steps_per_epoch);
}

}  // namespace

TrainCheckpoints::TrainCheckpoints(const mpi::Communicator& comm, const Options& o,
                                   const TrainingProblem& problem,
                                   const Matrix<double>& given_centers, MetricsWriter& metrics,
                                   RunClock& clock, const Log& log, Progress& progress)
    : comm_(comm),
      metrics_(metrics),
      clock_(clock),
      log_(log),
      progress_(progress),
      outputs_(problem.y.cols()),
      rows_(problem.partition.size()),
      epochs_(o.count("solver.epochs")),
      dir_(o.str("run.checkpoint_dir")),
      resume_mode_(o.str("run.resume")),
      checkpointing_(!o.str("run.checkpoint_dir").empty()),
      step_delay_ms_(o.real("run.step_delay_ms")),
      schedule_(o.real("run.checkpoint_every")) {
  // The data fingerprint reads every row: only when checkpoints or resumes are on.
  if (checkpointing_ || resume_mode_ != "no")
    text_ = checkpoint_options_text(comm, o, problem, given_centers);
  hash_ = checkpoint_hash(text_);
}

const Checkpoint* TrainCheckpoints::resume(const std::string& solver) {
  if (resume_mode_ == "no") return nullptr;
  mpi::agree(comm_, !dir_.empty(), "run.resume = " + resume_mode_ + " needs run.checkpoint_dir");
  const bool exists = checkpoint_exists(comm_, dir_);
  mpi::agree(comm_, exists || resume_mode_ == "auto",
             checkpoint_path(dir_) + ": run.resume = require but there is no checkpoint");
  if (!exists) return nullptr;
  resumed_ = load_checkpoint(comm_, dir_, solver, hash_, text_);
  clock_.before = resumed_->scalar("elapsed_s");
  metrics_.restore(resumed_->metrics);
  return &*resumed_;
}

Checkpoint TrainCheckpoints::create(const std::string& solver) const {
  Checkpoint ck;
  ck.solver = solver;
  ck.options_hash = hash_;
  ck.options_text = text_;
  ck.scalars["elapsed_s"] = clock_.elapsed();
  ck.metrics = metrics_.lines();
  return ck;
}

bool TrainCheckpoints::after_step(const std::function<Checkpoint()>& make,
                                  const std::function<std::string()>& describe) {
  if (step_delay_ms_ > 0)
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(step_delay_ms_));
  if (!checkpointing_) return true;
  const auto decision = schedule_.poll(comm_);
  if (decision == CheckpointSchedule::Decision::kContinue) return true;
  // A run whose metrics could not be written stops here, before a checkpoint that would be newer
  // than what a resume could report; the last one holds every line so far.
  metrics_.check(comm_);
  Stopwatch clock;
  save_checkpoint(comm_, dir_, make());
  schedule_.restart();
  log_.info("checkpoint: %s -> %s (%.3f s)", describe().c_str(), path().c_str(),
            clock.seconds());
  if (decision == CheckpointSchedule::Decision::kCheckpointAndStop) {
    stop_signal_ = schedule_.signal();
    return false;
  }
  return true;
}

const Checkpoint* TrainCheckpoints::resume_epochs(const std::string& solver, std::size_t rows,
                                                  IterationControl& control,
                                                  EarlyStopping& stopping) {
  const Checkpoint* ck = resume(solver);
  if (!ck) return nullptr;
  const CheckpointArray* a = ck->array("alpha");
  mpi::agree(comm_, a && a->rows == rows && a->cols == outputs_,
             path() + ": has no weights of this problem's shape");
  control.start_epoch = ck->epoch;
  control.start_step = ck->step;
  control.start_loss_sum = ck->scalar("loss_sum");
  control.start_alpha = &a->local;
  stopping.best_epoch = static_cast<std::size_t>(ck->scalar("best_epoch"));
  stopping.best_val = stopping.best_epoch > 0 ? ck->scalar("best_val") : INFINITY;
  if (const CheckpointArray* b = ck->array("best_alpha")) stopping.best_alpha = b->local;
  log_.info("resuming from %s: epoch %zu, step %zu done (written on this run's options)",
            path().c_str(), ck->epoch, ck->step);
  return ck;
}

void TrainCheckpoints::hook_epochs(const std::string& solver, std::size_t rows,
                                   IterationControl& control, const EarlyStopping& stopping,
                                   std::function<void(Checkpoint&)> extra) {
  if (progress_.enabled())
    control.on_setup = [this](const char* stage, double done, double total) {
      progress_.work(stage, done, total);
    };
  if (!hooked()) return;
  control.after_step = [this, solver, rows, &stopping, extra](const StepState& st) {
    progress_.epoch_step(st.epoch, epochs_, st.step, st.steps_per_epoch, rows_);
    auto make = [&] {
      Checkpoint ck = create(solver);
      ck.epoch = st.epoch - 1;
      ck.step = st.step;
      ck.scalars["loss_sum"] = st.loss_sum;
      ck.scalars["best_epoch"] = static_cast<double>(stopping.best_epoch);
      ck.scalars["best_val"] = stopping.best_epoch > 0 ? stopping.best_val : 0.0;
      ck.arrays.push_back({"alpha", rows, outputs_, *st.alpha});
      if (stopping.best_epoch > 0)
        ck.arrays.push_back({"best_alpha", rows, outputs_, stopping.best_alpha});
      if (extra) extra(ck);
      return ck;
    };
    return after_step(make, [&] { return describe_step(st); });
  };
}
}  // namespace kmpi
