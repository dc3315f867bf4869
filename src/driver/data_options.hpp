// The data.* options as the readers' typed settings. The parsed options map stays in the driver
// layer and above (issue 28): the readers (io/) take ReadOptions.
#pragma once

#include <string>

#include "kmpi/data.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/options.hpp"

namespace kmpi {

// local: the data.* options as ReadOptions (embedded_labels is left off; commands decide it).
ReadOptions read_options(const Options& options);

// collective: checks of data.* options that conflict with each other (one agreed error naming
// the keys); `command` is train, predict, eval or convert.
void check_data_options(const mpi::Communicator& comm, const Options& options,
                        const std::string& command);

}  // namespace kmpi
