// The subcommands of the `kmpi` binary. Each is collective over `comm` and returns the exit code;
// failures are thrown as CollectiveError (agreed by all ranks) for main to report.
#pragma once

#include "kmpi/mpi.hpp"
#include "kmpi/options.hpp"

namespace kmpi {

// src/cli/train_command.cpp (the steps it takes: kmpi/train.hpp)
int run_train(const mpi::Communicator& comm, const Options& options);
// `kmpi tune`: the train path with the tune.* grid searched on the validation split.
int run_tune(const mpi::Communicator& comm, const Options& options);
// src/cli/predict.cpp, eval.cpp, info.cpp
int run_predict(const mpi::Communicator& comm, const Options& options);
int run_eval(const mpi::Communicator& comm, const Options& options);
int run_info(const mpi::Communicator& comm, const Options& options);
// Text (or any) data file -> .npy, in parallel (src/cli/convert.cpp).
int run_convert(const mpi::Communicator& comm, const Options& options);

}  // namespace kmpi
