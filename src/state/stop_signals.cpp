// The stop signals of a batch system and the checkpoint schedule (declared in
// src/state/checkpoint.hpp). A handler only records the signal; the solver acts on it at a step
// boundary, where all ranks are between collectives and can agree to checkpoint and stop.
#include <chrono>
#include <csignal>

#include "state/checkpoint.hpp"

namespace kmpi {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void kmpi_on_stop_signal(int sig) { g_stop_signal = sig; }

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void install_stop_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = kmpi_on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // blocking reads and MPI progress continue; we act at a step boundary
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
}

int stop_signal_received() { return static_cast<int>(g_stop_signal); }

void clear_stop_signal() { g_stop_signal = 0; }

CheckpointSchedule::CheckpointSchedule(double every_seconds)
    : every_(every_seconds), last_(now_seconds()) {}

void CheckpointSchedule::restart() { last_ = now_seconds(); }

CheckpointSchedule::Decision CheckpointSchedule::poll(const mpi::Communicator& comm) {
  // [0]: the stop signal this rank saw (0 = none); [1]: rank 0's timer has run out. Only rank 0's
  // clock counts, so ranks whose clocks drift cannot disagree.
  int flags[2] = {stop_signal_received(),
                  comm.rank() == 0 && now_seconds() - last_ >= every_ ? 1 : 0};
  comm.allreduce(flags, 2, mpi::Op::kMax);
  if (flags[0] != 0) {
    signal_ = flags[0];
    return Decision::kCheckpointAndStop;
  }
  return flags[1] ? Decision::kCheckpoint : Decision::kContinue;
}

}  // namespace kmpi
