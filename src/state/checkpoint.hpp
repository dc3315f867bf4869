// Checkpoints of iterative solvers (DESIGN §4) and the stop signals of a batch system.
//
// A checkpoint is one file, `<dir>/checkpoint.kmpi`, written collectively: rank 0 writes the
// header and the replicated part, every rank writes its rows of each distributed array at offsets
// computed from the global row index, rank 0 appends a CRC-32 and renames the complete, fsynced
// temporary into place. Until that rename the previous checkpoint stays untouched, so a crash or
// a full disk while writing never leaves a run without a usable checkpoint. Arrays are stored by
// global row, so a checkpoint written on P ranks loads on any rank count.
//
// Layout (little-endian):
//   header  : magic "KMPICKPT" (8 bytes), version u32, reserved u32, options hash u64,
//             epoch u64, step u64, scalar count u64, array count u64, text bytes u64
//   scalars : per scalar: name (32 bytes, NUL padded), value f64
//   arrays  : per array: name (32 bytes, NUL padded), rows u64, cols u64, data offset u64
//   text    : solver name, options text and metrics lines (lengths u64 + bytes, each)
//   data    : each array rows x cols f64, row-major, at its offset
//   trailer : CRC-32 (zlib) of every byte before it, u32
//
// What a solver must store to continue exactly: its weights, the counters its randomness is a
// function of (for EigenPro 2 the batch order is CounterPermutation(n, seed, epoch), so (epoch, step)
// are the RNG state), and whatever it accumulates inside an epoch. What it rebuilds instead of
// storing is what is a deterministic function of the data and the options: the EigenPro 2
// preconditioner (S from the seed; K_SS and its eigenpairs from X_S) is recomputed bit-identically
// on the same rank count, which the options hash (data fingerprint included) guarantees is the
// same problem.
//
// Falkon (FalkonControl, its CG state replicated, stored as arrays split by rows and gathered
// on load) and EigenPro 4 (IterationControl at projection boundaries only) have adopted it; see
// the README's checkpoint section for what each stores and rebuilds.
// Adopting it in another iterative solver: take an IterationControl
// (src/solvers/solvers.hpp), start from its start_* state, call after_step at every step boundary (a
// point where all ranks are between collectives) and return at once when it says false. The
// solver's entry (run_<name>, src/driver/solver.hpp) wires it to TrainCheckpoints
// (src/driver/train_checkpoints.hpp: resume_epochs + hook_epochs for epoch solvers), storing whatever
// else the solver needs to continue exactly as further CheckpointArrays (each rank its rows by
// global index, e.g. CG's residual and direction for falkon) and scalars, under its solver name.
#pragma once

#include <csignal>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kmpi/feature_metric.hpp"
#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"

namespace kmpi {

inline constexpr std::uint32_t kCheckpointVersion = 1;

// Exit code of `kmpi train` when it stopped on SIGTERM/SIGUSR1 after writing a checkpoint: the
// run is incomplete and should be resubmitted with run.resume=auto (slurm/train.sbatch requeues).
inline constexpr int kExitCheckpointedOnSignal = 3;

// A matrix distributed by rows: this rank holds rows of BlockPartition(rows, comm.size()).
struct CheckpointArray {
  std::string name;      // at most 31 bytes
  std::size_t rows = 0;  // global
  std::size_t cols = 0;
  Matrix<double> local;  // this rank's rows
};

struct Checkpoint {
  std::string solver;              // e.g. "eigenpro2"; a resume must use the same solver
  std::uint64_t options_hash = 0;  // of options_text
  std::string
      options_text;       // "key = value" lines that shaped the run (see checkpoint_options_text)
  std::size_t epoch = 0;  // epochs completed
  std::size_t step = 0;   // batches completed in epoch `epoch + 1`
  std::map<std::string, double> scalars;  // replicated solver/driver state (names <= 31 bytes)
  std::vector<std::string> metrics;       // metrics lines written so far (replicated)
  std::vector<CheckpointArray> arrays;    // distributed state (weights, best weights, ...)

  // local: the array named `name`, or nullptr.
  const CheckpointArray* array(const std::string& name) const;
  // local: the scalar named `name`, or `fallback`.
  double scalar(const std::string& name, double fallback = 0) const;
};

// local: the file a checkpoint directory holds.
std::string checkpoint_path(const std::string& dir);

// collective: writes `state` to checkpoint_path(dir) (creating dir), replacing the previous
// checkpoint only once the new one is complete and fsynced. Every array's `local` must hold this
// rank's rows of BlockPartition(rows, comm.size()). Errors are agreed; on error the previous
// checkpoint is kept and no temporary is left behind.
void save_checkpoint(const mpi::Communicator& comm, const std::string& dir,
                     const Checkpoint& state);

// collective: whether checkpoint_path(dir) exists (rank 0 looks; every rank gets its answer).
bool checkpoint_exists(const mpi::Communicator& comm, const std::string& dir);

// collective: reads and verifies checkpoint_path(dir) (magic, version, sizes, CRC-32; rank 0
// checks, the verdict is agreed) and refuses, with one line naming the file and the first
// differing option, a checkpoint of another solver or with another options hash. Each rank then
// reads its rows of BlockPartition(rows, comm.size()) of every array.
Checkpoint load_checkpoint(const mpi::Communicator& comm, const std::string& dir,
                           const std::string& solver, std::uint64_t options_hash,
                           const std::string& options_text);

// local: FNV-1a 64-bit hash of `text`.
std::uint64_t checkpoint_hash(const std::string& text);

// ---- Stop signals (SLURM sends SIGUSR1 with --signal, SIGTERM at the time limit) ----

// local: installs SIGTERM and SIGUSR1 handlers that only record the signal number in a
// sig_atomic_t; the solver acts on it at its next step boundary (see CheckpointSchedule).
void install_stop_signal_handlers();
// local: the last stop signal this process received, 0 if none.
int stop_signal_received();
// local: forgets a received stop signal (tests; a driver that wants to go on after one).
void clear_stop_signal();

// When to write checkpoints, decided by all ranks together at step boundaries: every
// `every_seconds` of rank 0's clock, and at once (followed by a stop) when any rank has received
// a stop signal. One MPI_Allreduce(MAX) of two integers per poll, so no rank ever decides alone.
class CheckpointSchedule {
 public:
  enum class Decision { kContinue, kCheckpoint, kCheckpointAndStop };
  explicit CheckpointSchedule(double every_seconds);
  // collective: the verdict for this step boundary (the same on every rank).
  Decision poll(const mpi::Communicator& comm);
  // local: restart rank 0's timer (after a checkpoint was written).
  void restart();
  // local: the signal that caused kCheckpointAndStop on any rank (SIGUSR1 = 10 or SIGTERM = 15).
  int signal() const { return signal_; }

 private:
  double every_;
  double last_;  // steady-clock seconds of the last checkpoint (rank 0's value is what counts)
  int signal_ = 0;
};

// local: a replicated matrix as a checkpoint array (this rank stores its rows of
// BlockPartition(rows, P); every rank holds the same values, so any split is the whole).
CheckpointArray replicated_checkpoint_array(const mpi::Communicator& comm, const std::string& name,
                                            const Matrix<double>& m);
// collective: the whole of a checkpoint array on every rank (one allgatherv of its rows).
Matrix<double> gather_checkpoint_array(const mpi::Communicator& comm, const CheckpointArray& a);


// local: a replicated feature metric S as a checkpoint array named `name` (1 row; d or d x d
// values; none: 0 values); its kind goes in the scalar `name`_kind, set by the caller.
CheckpointArray metric_checkpoint_array(const mpi::Communicator& comm, const std::string& name,
                                        const FeatureMetric& m);
// collective: the metric stored under `name` (kind from the scalar `name`_kind) for d features.
FeatureMetric metric_from_checkpoint(const mpi::Communicator& comm, const Checkpoint& ck,
                                     const std::string& name, std::size_t d);

}  // namespace kmpi
