// Checkpoint files and the stop-signal agreement at the rank count of the run. Values are
// defined point by point from the global row index, so every rank checks its own rows against
// the formula that generated them, at this rank count and after a load at another one.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "common.hpp"
#include "state/checkpoint.hpp"
#include "kmpi/error.hpp"
#include "kmpi/mpi.hpp"

namespace kmpi {
namespace {

namespace fs = std::filesystem;
using namespace testing_support;

double value_at(std::size_t i, std::size_t j) {
  return 1.0 / (1.0 + static_cast<double>(i)) + 1e-3 * static_cast<double>(j) - 0.25;
}

Checkpoint sample_state(const mpi::Communicator& comm, std::size_t rows, std::size_t cols) {
  Checkpoint s;
  s.solver = "eigenpro2";
  s.options_text = "kernel.bandwidth = 5\nsolver.seed = 1\n";
  s.options_hash = checkpoint_hash(s.options_text);
  s.epoch = 2;
  s.step = 7;
  s.scalars = {{"loss_sum", 0.1 + 0x1p-40}, {"best_epoch", 2}};
  s.metrics = {"{\"epoch\": 1}", "{\"epoch\": 2, \"x\": 0.5}"};
  const BlockPartition part(rows, comm.size());
  s.arrays.push_back({"alpha", rows, cols,
                      rows_of(part.begin(comm.rank()), part.count(comm.rank()), cols, value_at)});
  s.arrays.push_back({"best_alpha", rows, 1,
                      rows_of(part.begin(comm.rank()), part.count(comm.rank()), 1,
                              [](std::size_t i, std::size_t) { return -value_at(i, 0); })});
  return s;
}

void expect_rows(const mpi::Communicator& comm, const Checkpoint& got, std::size_t rows,
                 std::size_t cols) {
  const BlockPartition part(rows, comm.size());
  const CheckpointArray* a = got.array("alpha");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->rows, rows);
  ASSERT_EQ(a->local.rows(), part.count(comm.rank()));
  ASSERT_EQ(a->local.cols(), cols);
  for (std::size_t i = 0; i < a->local.rows(); ++i)
    for (std::size_t j = 0; j < cols; ++j)
      ASSERT_EQ(a->local(i, j), value_at(part.begin(comm.rank()) + i, j));  // bit-exact
  const CheckpointArray* b = got.array("best_alpha");
  ASSERT_NE(b, nullptr);
  for (std::size_t i = 0; i < b->local.rows(); ++i)
    ASSERT_EQ(b->local(i, 0), -value_at(part.begin(comm.rank()) + i, 0));
}

TEST(Checkpoint, RoundTripAtThisRankCount) {
  const auto comm = mpi::Communicator::world();
  const SharedDir scratch(comm);
  const std::string dir = scratch.path("run/ck");  // created by the save
  const std::size_t rows = 37, cols = 3;
  const Checkpoint saved = sample_state(comm, rows, cols);
  save_checkpoint(comm, dir, saved);
  // A temporary left by a writer that was killed mid-write goes away with the next save.
  if (comm.rank() == 0) std::ofstream(checkpoint_path(dir) + ".tmp.99999.1") << "partial";
  comm.barrier();
  save_checkpoint(comm, dir, saved);
  EXPECT_TRUE(checkpoint_exists(comm, dir));
  const Checkpoint got =
      load_checkpoint(comm, dir, "eigenpro2", saved.options_hash, saved.options_text);
  EXPECT_EQ(got.epoch, 2u);
  EXPECT_EQ(got.step, 7u);
  EXPECT_EQ(got.scalar("loss_sum"), 0.1 + 0x1p-40);
  EXPECT_EQ(got.scalar("best_epoch"), 2.0);
  EXPECT_EQ(got.metrics, saved.metrics);
  expect_rows(comm, got, rows, cols);
  // No temporary is left next to the checkpoint, ours or the dead writer's.
  comm.barrier();
  if (comm.rank() == 0) {
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(dir)) files += e.is_regular_file() ? 1 : 0;
    EXPECT_EQ(files, 1u);
  }
}

// Written on P ranks, read on each half of them (another rank count when P > 1): the rows are
// stored by global index, so every layout reads the same values.
TEST(Checkpoint, LoadsOnAnotherRankCount) {
  const auto comm = mpi::Communicator::world();
  const SharedDir scratch(comm);
  const std::string& dir = scratch.str();
  const std::size_t rows = 41, cols = 2;
  const Checkpoint saved = sample_state(comm, rows, cols);
  save_checkpoint(comm, dir, saved);
  const int half = (comm.size() + 1) / 2;
  const auto sub = comm.split(comm.rank() < half ? 0 : 1, comm.rank());
  const Checkpoint got =
      load_checkpoint(sub, dir, "eigenpro2", saved.options_hash, saved.options_text);
  expect_rows(sub, got, rows, cols);
}

TEST(Checkpoint, RefusesIncompatibleAndCorruptFiles) {
  const auto comm = mpi::Communicator::world();
  const SharedDir scratch(comm);
  const std::string& dir = scratch.str();
  const Checkpoint saved = sample_state(comm, 23, 2);
  save_checkpoint(comm, dir, saved);

  const std::string other = "kernel.bandwidth = 4\nsolver.seed = 1\n";
  std::string msg = collective_error_of(
      [&] { load_checkpoint(comm, dir, "eigenpro2", checkpoint_hash(other), other); });
  EXPECT_NE(msg.find("incompatible"), std::string::npos) << msg;
  EXPECT_NE(msg.find("kernel.bandwidth = 4 here, 5 in the checkpoint"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;

  msg = collective_error_of(
      [&] { load_checkpoint(comm, dir, "falkon", saved.options_hash, saved.options_text); });
  EXPECT_NE(msg.find("written by solver eigenpro2"), std::string::npos) << msg;

  // One flipped byte in the weights: the CRC catches it.
  const std::string path = checkpoint_path(dir);
  if (comm.rank() == 0) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-20, std::ios::end);
    char ch = 0;
    f.read(&ch, 1);
    ch = static_cast<char>(ch ^ 0x10);
    f.seekp(-20, std::ios::end);
    f.write(&ch, 1);
  }
  comm.barrier();
  msg = collective_error_of(
      [&] { load_checkpoint(comm, dir, "eigenpro2", saved.options_hash, saved.options_text); });
  EXPECT_NE(msg.find("checksum mismatch"), std::string::npos) << msg;

  // Truncated, and not a checkpoint at all.
  if (comm.rank() == 0) fs::resize_file(path, 100);
  comm.barrier();
  msg = collective_error_of(
      [&] { load_checkpoint(comm, dir, "eigenpro2", saved.options_hash, saved.options_text); });
  EXPECT_NE(msg.find("checkpoint " + path), std::string::npos) << msg;
  if (comm.rank() == 0) std::ofstream(path) << "hello, world: not a checkpoint at all ...........";
  comm.barrier();
  msg = collective_error_of(
      [&] { load_checkpoint(comm, dir, "eigenpro2", saved.options_hash, saved.options_text); });
  EXPECT_NE(msg.find("not a kmpi checkpoint"), std::string::npos) << msg;
}

// A save that fails leaves the previous checkpoint as it was.
TEST(Checkpoint, FailedSaveKeepsThePreviousOne) {
  const auto comm = mpi::Communicator::world();
  const SharedDir scratch(comm);
  const std::string& dir = scratch.str();
  const Checkpoint first = sample_state(comm, 19, 2);
  save_checkpoint(comm, dir, first);
  Checkpoint bad = sample_state(comm, 19, 2);
  bad.epoch = 5;
  if (comm.rank() == comm.size() - 1) bad.arrays[0].local = Matrix<double>(1000, 2);  // one rank
  EXPECT_NE(collective_error_of([&] { save_checkpoint(comm, dir, bad); }), "");
  const Checkpoint got =
      load_checkpoint(comm, dir, "eigenpro2", first.options_hash, first.options_text);
  EXPECT_EQ(got.epoch, 2u);
  expect_rows(comm, got, 19, 2);
}

// The reader refuses more than 4096 scalars (or arrays) as a corrupt header, so the writer
// refuses to save them: an agreed error, the previous checkpoint kept; 4096 round-trip.
TEST(Checkpoint, TooManyScalarsAreRefusedWhenSaving) {
  const auto comm = mpi::Communicator::world();
  const SharedDir scratch(comm);
  const std::string& dir = scratch.str();
  const Checkpoint first = sample_state(comm, 19, 2);
  save_checkpoint(comm, dir, first);
  Checkpoint big = sample_state(comm, 19, 2);
  big.epoch = 5;
  for (int k = 0; big.scalars.size() < 4097; ++k) big.scalars["residual_" + std::to_string(k)] = k;
  const std::string msg = collective_error_of([&] { save_checkpoint(comm, dir, big); });
  EXPECT_NE(msg.find("at most 4096"), std::string::npos) << msg;
  Checkpoint got = load_checkpoint(comm, dir, "eigenpro2", first.options_hash, first.options_text);
  EXPECT_EQ(got.epoch, 2u);
  big.scalars.erase("residual_0");  // 4096: the limit itself is fine
  save_checkpoint(comm, dir, big);
  got = load_checkpoint(comm, dir, "eigenpro2", big.options_hash, big.options_text);
  EXPECT_EQ(got.epoch, 5u);
  EXPECT_EQ(got.scalars.size(), 4096u);
}

// A stop signal seen by one rank only stops every rank at the same poll; the timer is rank 0's.
TEST(CheckpointSchedule, SignalOnOneRankIsAgreed) {
  const auto comm = mpi::Communicator::world();
  install_stop_signal_handlers();
  clear_stop_signal();
  CheckpointSchedule never(1e9), always(0);
  EXPECT_EQ(never.poll(comm), CheckpointSchedule::Decision::kContinue);
  EXPECT_EQ(always.poll(comm), CheckpointSchedule::Decision::kCheckpoint);
  if (comm.rank() == comm.size() - 1) std::raise(SIGUSR1);
  EXPECT_EQ(never.poll(comm), CheckpointSchedule::Decision::kCheckpointAndStop);
  EXPECT_EQ(never.signal(), SIGUSR1);
  clear_stop_signal();
  EXPECT_EQ(never.poll(comm), CheckpointSchedule::Decision::kContinue);
  std::signal(SIGUSR1, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

}  // namespace
}  // namespace kmpi
