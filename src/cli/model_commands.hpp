// What predict and eval share: the model file, loaded on every rank.
#pragma once

#include "kmpi/kernel_operator.hpp"
#include "kmpi/model.hpp"
#include "kmpi/options.hpp"

namespace kmpi {

struct LoadedModel {
  LocalModel model;
  LocalCenters centers;  // float64 operands of this rank's centers
};

// collective: --model FILE, loaded (agreed errors name the file).
LoadedModel load_model_option(const mpi::Communicator& comm, const Options& options);

}  // namespace kmpi
