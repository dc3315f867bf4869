// `kmpi tune`'s settings (src/search/tune_internal.hpp): the tune.* options and the grid they
// resolve to, with tune.bandwidths = auto from the median pairwise distance.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "base/rng.hpp"
#include "search/tune_internal.hpp"

namespace kmpi {

double median_pairwise_distance(const mpi::Communicator& comm, const BlockPartition& part,
                                const Matrix<double>& x, std::size_t samples, std::uint64_t seed) {
  const std::size_t m = std::min(samples, part.size());
  std::vector<std::size_t> picks = random_subset(part.size(), m, seed, RngStream::kTune);
  std::sort(picks.begin(), picks.end());
  const Matrix<double> s = gather_selected_rows(comm, part, x, picks);
  // Rank 0 computes, every rank gets its bits (one broadcast of one value).
  double median = 0;
  if (comm.rank() == 0 && m >= 2) {
    std::vector<double> dist;
    dist.reserve(m * (m - 1) / 2);
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = i + 1; j < m; ++j) {
        double sum = 0;
        for (std::size_t l = 0; l < s.cols(); ++l) {
          const double t = s(i, l) - s(j, l);
          sum += t * t;
        }
        dist.push_back(std::sqrt(sum));
      }
    auto mid = dist.begin() + static_cast<std::ptrdiff_t>(dist.size() / 2);
    std::nth_element(dist.begin(), mid, dist.end());
    median = *mid;
  }
  comm.broadcast(&median, 1, 0);
  return median;
}

std::vector<double> auto_bandwidths(double median, std::size_t points) {
  std::vector<double> grid;
  for (std::size_t k = 0; k < points; ++k)
    grid.push_back(median * std::pow(2.0, -2.0 + 2.0 * static_cast<double>(k) /
                                                     static_cast<double>(
                                                         std::max<std::size_t>(points - 1, 1))));
  return grid;
}

namespace tune_detail {
namespace {

// local: a comma-separated list of positive numbers (throws naming the key).
std::vector<double> parse_list(const std::string& key, const std::string& text) {
  std::vector<double> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(v > 0) || !std::isfinite(v))
      throw Error("option " + key + ": '" + item +
                  "' is not a positive number (expected a list "
                  "such as 2,3.5,5)");
    values.push_back(v);
  }
  if (values.empty()) throw Error("option " + key + ": no values");
  return values;
}

}  // namespace

// collective (agreed checks): tune.* for this problem.
TuneSettings tune_settings(const mpi::Communicator& comm, const Options& o, const TrainSetup& setup,
                           const ModelHeader& header, const TrainingProblem& problem,
                           const TrainEvalSets& sets) {
  TuneSettings s;
  const std::string name = setup.solver->name;
  s.has_ridge = name == "falkon" || name == "direct";
  s.shared = o.flag("tune.shared");
  const bool automatic = o.str("tune.bandwidths") == "auto";
  mpi::agree_on(comm, [&] {
    if (!automatic) s.bandwidths = parse_list("tune.bandwidths", o.str("tune.bandwidths"));
    s.ridges = o.str("tune.ridges").empty() ? std::vector<double>{o.real("solver.ridge")}
                                            : parse_list("tune.ridges", o.str("tune.ridges"));
  });
  mpi::agree(comm, s.has_ridge || o.str("tune.ridges").empty(),
             "tune.ridges: solver.name = " + name + " has no ridge (falkon and direct have)");
  if (automatic) {
    s.median = median_pairwise_distance(comm, problem.partition, problem.x,
                                        o.count("tune.auto_samples"), setup.seed);
    mpi::agree(comm, s.median > 0,
               "tune.bandwidths = auto: the sampled training rows are all equal (median distance "
               "0); give tune.bandwidths");
    s.bandwidths = auto_bandwidths(s.median, o.count("tune.auto_points"));
  }
  const bool classification = header.task == Task::kClassification;
  const std::string metric = o.str("tune.metric");
  s.accuracy = metric == "accuracy" || (metric == "auto" && classification);
  mpi::agree(comm, classification || !s.accuracy,
             "tune.metric = accuracy needs classes; the targets are real values");
  s.folds = o.count("tune.folds");
  mpi::agree(comm, s.folds < 2 || !sets.validation.labeled,
             "tune.folds: the folds are the validation split; data.validation_fraction must be 0");
  mpi::agree(comm, s.folds < 2 || s.folds <= problem.partition.size(),
             "tune.folds: more folds than training rows");
  mpi::agree(comm, s.folds >= 2 || sets.validation.labeled,
             "kmpi tune selects on a validation split; give data.validation_fraction (or "
             "validation rows with labels), or tune.folds");
  return s;
}

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}

}  // namespace tune_detail
}  // namespace kmpi
