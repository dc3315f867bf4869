// Checkpoint and resume wiring of `train`, written once for every solver (the file format is
// src/state/checkpoint.hpp): the options text and hash a checkpoint carries (data fingerprint
// included), loading a checkpoint to resume and refusing a foreign one, the hook every iterative
// solver calls after each step (test delay, timer, agreed stop signals), and the state the epoch
// solvers share (weights, counters, early stopping). A solver only says what its own state is:
// which arrays and scalars to store, and how to continue from them.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "state/checkpoint.hpp"
#include "kmpi/options.hpp"
#include "driver/progress.hpp"
#include "solvers/solvers.hpp"
#include "driver/train_report.hpp"

namespace kmpi {

class TrainCheckpoints {
 public:
  // collective: reads run.checkpoint_dir / run.resume / run.checkpoint_every /
  // run.step_delay_ms; fingerprints the problem (and `given_centers`, this rank's rows of a
  // data.centers file, may be empty) only when checkpoints or resumes are on.
  TrainCheckpoints(const mpi::Communicator& comm, const Options& options,
                   const TrainingProblem& problem, const Matrix<double>& given_centers,
                   MetricsWriter& metrics, RunClock& clock, const Log& log, Progress& progress);

  // collective: with run.resume, the checkpoint to continue from, if there is one and it was
  // written by `solver` on these options (else every rank fails with one message naming the
  // first difference). Restores the metrics written so far and the elapsed time. The checkpoint
  // stays owned here: pointers into it live as long as this object.
  const Checkpoint* resume(const std::string& solver);
  // local: a new checkpoint of this run with the driver's part filled in (options, metrics,
  // elapsed time); the solver adds its state.
  Checkpoint create(const std::string& solver) const;

  // local: whether solvers must call after_step (checkpoints on, a test delay, or progress
  // lines; the same on every rank).
  bool hooked() const { return checkpointing_ || step_delay_ms_ > 0 || progress_.enabled(); }
  // collective: the hook after every step: the test delay (run.step_delay_ms), then a checkpoint
  // made by `make` when the schedule says so (timer, or a stop signal on any rank). Returns false
  // when the run must stop now (the checkpoint is written; stop_signal() says which signal).
  bool after_step(const std::function<Checkpoint()>& make,
                  const std::function<std::string()>& describe);
  int stop_signal() const { return stop_signal_; }

  // ---- The epoch solvers (eigenpro2, eigenpro4): weights over `rows` centers, counters, and
  // the early-stopping state ----
  // collective: resume as above and, when resuming, set control's start (epoch, step, loss sum,
  // weights) and `stopping`'s state from the checkpoint. Returns the checkpoint or null.
  const Checkpoint* resume_epochs(const std::string& solver, std::size_t rows,
                                  IterationControl& control, EarlyStopping& stopping);
  // local: sets control.on_setup to report the setup's progress (progress on) and, when
  // hooked(), control.after_step to report progress and write epoch checkpoints (`extra` adds the solver's own scalars). `stopping` must outlive the solver run.
  void hook_epochs(const std::string& solver, std::size_t rows, IterationControl& control,
                   const EarlyStopping& stopping,
                   std::function<void(Checkpoint&)> extra = nullptr);

  // local: the checkpoint file of this run (for messages).
  std::string path() const { return checkpoint_path(dir_); }

 private:
  const mpi::Communicator& comm_;
  MetricsWriter& metrics_;
  RunClock& clock_;
  const Log& log_;
  Progress& progress_;
  std::size_t outputs_;  // c of the problem
  std::size_t rows_;     // n of the problem (samples of an epoch)
  std::size_t epochs_;   // solver.epochs
  std::string dir_, resume_mode_, text_;
  std::uint64_t hash_ = 0;
  bool checkpointing_ = false;
  double step_delay_ms_ = 0;
  CheckpointSchedule schedule_;
  int stop_signal_ = 0;
  std::optional<Checkpoint> resumed_;
};

}  // namespace kmpi
