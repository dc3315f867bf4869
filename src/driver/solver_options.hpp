// solver.* as the solvers' typed settings. The parsed options map stays in the driver layer and
// above (issue 28): the solvers take these structs, and tune (search/) builds its points' settings
// through the same functions as a run alone, so a point and its refit train alike.
#pragma once

#include <cstdint>

#include "kmpi/matrix.hpp"
#include "kmpi/options.hpp"
#include "solvers/solvers.hpp"

namespace kmpi {

// local: solver.nystrom_samples, preconditioner_level, batch_size, batch_cap and epochs as
// EigenPro2Options (run_eigenpro2, tune's eigenpro2 points).
EigenPro2Options eigenpro2_options(const Options& o, std::uint64_t seed, Precision precision);

// local: solver.* as EigenPro4Options: its data preconditioner and batch are EigenPro 2's
// settings; solver.projection must be resolved already (cholesky or eigenpro2, not auto).
EigenPro4Options eigenpro4_options(const Options& o, std::uint64_t seed, Precision precision,
                                   const Matrix<double>* given_centers);

// local: solver.* as FalkonOptions (run_falkon, tune's falkon grid).
FalkonOptions falkon_options(const Options& o, std::uint64_t seed, Precision precision,
                             const Matrix<double>* given_centers);

}  // namespace kmpi
