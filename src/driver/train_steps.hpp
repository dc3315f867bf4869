// The train path. `kmpi train` (run_train, src/cli/train_command.cpp) reads its files and then
// takes the same steps as a caller that holds its rows in memory (a C++ user, a Python binding):
//
//   check_train_options   solver, kernel, checkpoint and centers options    (train.cpp)
//   choose_rows           data.limit and the validation split              (rows_in_memory.cpp)
//   describe_model        task, classes -> ModelHeader                    (train.cpp)
//   plan_and_scale        memory plan (or a dry run), scaling               (train.cpp)
//   prepare_centers / make_eval_set   centers and evaluation rows scaled like the data
//   fit_model             build the problem, run the solver (driver/solver.hpp), report, write
//                         the model and the metrics                         (train.cpp)
//
// train_in_memory chains them for rows already in memory.
#pragma once

#include <functional>
#include <string>

#include "driver/solver.hpp"
#include "driver/train_report.hpp"
#include "driver/training_data.hpp"
#include "kmpi/data.hpp"
#include "kmpi/model.hpp"
#include "kmpi/options.hpp"
#include "kmpi/train.hpp"

namespace kmpi {

// What the options decide before any row is read (the same on every rank).
struct TrainSetup {
  const SolverEntry* solver = nullptr;
  Kernel kernel;
  std::uint64_t seed = 1;
  Precision precision = Precision::kFloat32;
  MetricKind metric = MetricKind::kNone;  // kernel.metric (its file is read by plan_and_scale)
  std::size_t rfm_iterations = 0;  // rfm.iterations: > 0 runs the RFM loop around the solver
  bool tune = false;  // `kmpi tune`: the tune.* grid, selected on the validation split
  // Whether the run is split for validation and can checkpoint: an iterative solver, or RFM
  // around any solver (it validates every iteration and checkpoints between them).
  // A tune run validates every grid point and checkpoints between them.
  bool validates() const { return solver->iterative || rfm_iterations > 0 || tune; }
};

// collective: checks the solver, kernel, checkpoint and centers options (one agreed error
// naming the key) and installs the stop-signal handlers when checkpoints are on.
// `centers_given`: centers come from data.centers (or the caller's rows).
// `tune`: the run is `kmpi tune` (tune.* options allowed only then).
TrainSetup check_train_options(const mpi::Communicator& comm, const Options& options,
                               bool centers_given, bool tune = false);

// Which of n rows (of a file, or in memory) to train on and which to validate on, as tests each
// rank applies to the rows it holds or reads: no rank holds a list of the n rows.
struct RowSelection {
  RowSubset train, validation;  // validation keeps no row when validation_rows is 0
  std::size_t train_rows = 0, validation_rows = 0;  // how many rows each keeps
};

// collective (agreed checks only; the same on every rank and for any rank count): with pi the
// counter permutation of [0, n) keyed by solver.seed (RngStream::kDataLimit), row i is kept iff
// pi(i) < L (L = data.limit, or n), exactly L rows; for runs that validate, a kept row is a
// validation row iff pi(i) < round(data.validation_fraction L), the others train. `name` is named
// when data.limit is more than n or fewer training rows than ranks remain. Keeping every row,
// train is RowSubset() (all).
RowSelection choose_rows(const mpi::Communicator& comm, const Options& options,
                         const TrainSetup& setup, std::size_t n, const std::string& name);

// local: choose_rows' rule for n rows, `kept` of them kept, `validation` of those validating.
RowSelection row_selection(std::size_t n, std::size_t kept, std::size_t validation,
                           std::uint64_t seed);

// collective: the rows `selection` keeps (a sorted list of global indices, or a test each rank
// applies to its own rows) of rows in memory, as this rank's block of BlockPartition(kept, P).
LocalData take_rows(const mpi::Communicator& comm, const LocalData& data,
                    const RowSubset& selection);

// collective: the rows of `data` whose global index i has keep(i), in global order, as this
// rank's block of BlockPartition(kept, P). Each rank tests its own rows only: no list of n.
LocalData take_rows_where(const mpi::Communicator& comm, const LocalData& data,
                          const std::function<bool(std::size_t)>& keep);

// collective: the rows of `first` then those of `second` (each this rank's block of its own
// BlockPartition over the ranks; either may have none), as this rank's block of
// BlockPartition(n_first + n_second, P): the same rows in the same order at any rank count.
LocalData append_rows(const mpi::Communicator& comm, const LocalData& first,
                      const LocalData& second);

// collective: the model's header from the training rows: kernel, d, task, classes or targets
// (labels checked; `label_source` names them in messages). Scaling and p are set by
// plan_and_scale.
ModelHeader describe_model(const mpi::Communicator& comm, const Options& options,
                           const TrainSetup& setup, const LocalData& train,
                           const std::string& label_source);

// collective: the memory plan (`centers_p`: p of given centers, 0 = none) and, when it accepts
// the run, the scaling fitted on the training rows and the metric of kernel.metric_file (read
// by rank 0, broadcast), applied to `train.features` in place (header.prepare_inputs).
// false: a dry run, the plan is printed and nothing else is to be done. The log line reports
// `read_clock` as the read time.
bool plan_and_scale(const mpi::Communicator& comm, const Options& options,
                    const TrainSetup& setup, ModelHeader& header, LocalData& train,
                    std::size_t centers_p, const Stopwatch& read_clock);

// collective: given centers (this rank's rows of BlockPartition(p, P), unscaled) checked against
// the model's d (agreed error naming `name`) and prepared like the training rows (scaling, S).
Matrix<double> prepare_centers(const mpi::Communicator& comm, LocalData centers,
                               const std::string& name, const ModelHeader& header);

// Everything fit_model needs besides the training rows; all optional.
struct TrainExtras {
  Matrix<double> centers;     // prepared centers (this rank's rows), empty = none
  std::size_t centers_p = 0;  // their number over all ranks
  EvalSet validation, test;   // from make_eval_set / load_eval_set; n = 0: none
};

// collective: builds the problem from `train` (scaled by plan_and_scale), runs the solver,
// reports every epoch, writes output.model and output.metrics (both atomically), and returns the
// model. `clock` started with the command.
TrainResult fit_model(const mpi::Communicator& comm, const Options& options,
                      const TrainSetup& setup, const ModelHeader& header, LocalData train,
                      TrainExtras extras, RunClock& clock);

}  // namespace kmpi
