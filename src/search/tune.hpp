// `kmpi tune` (src/search/tune*.cpp, its parts in tune_internal.hpp): the grid a search runs over
// and how it is chosen (tune_settings.cpp). The solvers that train every point of a grid at once
// are in src/solvers/grid_solvers.hpp, the operator they share in src/kernels/shared_operator.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/options.hpp"
#include "kmpi/partition.hpp"

namespace kmpi {

// collective: tune.selected_config (if given): the options given to tune but tune.*, output.*
// and run.*, with `selected` set, as an INI file `kmpi train --config` takes; written by rank 0
// under a temporary name and renamed; errors agreed (tune_report.cpp).
void write_selected_config(const mpi::Communicator& comm, const Options& o,
                           const std::vector<std::pair<std::string, std::string>>& selected);

// ---- The grid ----

// collective: the median of the pairwise Euclidean distances among `samples` training rows drawn
// by `seed` (RngStream::kTune; the same rows at any rank count) in float64: the element at
// position N / 2 of the N = s (s - 1) / 2 sorted distances, the pairs shared among the ranks
// (O(s^2 d / P) work and O(s^2 / P) memory per rank) and the element selected by an agreed
// bisection (tune_settings.cpp); the same bits at every rank count.
double median_pairwise_distance(const mpi::Communicator& comm, const BlockPartition& part,
                                const Matrix<double>& x, std::size_t samples, std::uint64_t seed);
// local: tune.bandwidths = auto: `points` values median * 2^(-2 + 2 k / (points - 1)), k = 0..
// points - 1, log-spaced from a quarter of the median up to the median (Gaussian bandwidths that
// do well sit there: Fashion-MNIST on [0, 1] pixels has median 11.5 and its usual bandwidth 5).
std::vector<double> auto_bandwidths(double median, std::size_t points);

}  // namespace kmpi
