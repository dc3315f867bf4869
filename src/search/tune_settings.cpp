// `kmpi tune`'s settings (src/search/tune_internal.hpp): the tune.* options and the grid they
// resolve to, with tune.bandwidths = auto from the median pairwise distance.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include <utility>

#include "base/permutation.hpp"
#include "search/tune_internal.hpp"

namespace kmpi {

namespace {

// local: the distances of rank r's share of the pairs (i, j > i) of the rows of s: row i's
// m - 1 - i pairs go to rank i mod P, folded (0..P-1, P-1..0, ...) so the long and short rows
// spread evenly. Each distance is summed in the same order as a serial loop would.
std::vector<double> my_pair_distances(const Matrix<double>& s, int rank, int size) {
  const std::size_t m = s.rows(), procs = static_cast<std::size_t>(size);
  std::vector<double> dist;
  for (std::size_t i = 0; i + 1 < m; ++i) {
    const std::size_t round = i / procs, slot = i % procs;
    const std::size_t owner = round % 2 == 0 ? slot : procs - 1 - slot;
    if (owner != static_cast<std::size_t>(rank)) continue;
    for (std::size_t j = i + 1; j < m; ++j) {
      double sum = 0;
      for (std::size_t l = 0; l < s.cols(); ++l) {
        const double t = s(i, l) - s(j, l);
        sum += t * t;
      }
      dist.push_back(std::sqrt(sum));
    }
  }
  std::sort(dist.begin(), dist.end());
  return dist;
}

}  // namespace

// collective: the k-th smallest (0-based) of the pairwise distances, k = pairs / 2 (the element
// std::nth_element puts in the middle), found without gathering them: each rank sorts its share
// of the pairs, and a bisection over the bit patterns of non-negative doubles (ordered as the
// values are) counts the distances <= a candidate with one allreduce of an integer per step, at
// most 64 steps. The counts are integers, so every rank takes the same steps and ends on the
// same bits; the answer is an element, bit-identical to a serial nth_element over all pairs.
double median_pairwise_distance(const mpi::Communicator& comm, const BlockPartition& part,
                                const Matrix<double>& x, std::size_t samples, std::uint64_t seed) {
  const std::size_t m = std::min(samples, part.size());
  if (m < 2) return 0;
  std::vector<std::size_t> picks = random_subset(part.size(), m, seed, RngStream::kTune);
  std::sort(picks.begin(), picks.end());
  const Matrix<double> s = gather_selected_rows(comm, part, x, picks);
  const std::vector<double> dist = my_pair_distances(s, comm.rank(), comm.size());
  const std::uint64_t wanted = m * (m - 1) / 2 / 2 + 1;  // at least this many <= the median
  std::uint64_t lo = 0, hi = 0x7ff0000000000000ULL;      // the bits of 0 and of +infinity
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    double v = 0;
    std::memcpy(&v, &mid, sizeof v);
    const std::uint64_t below = static_cast<std::uint64_t>(
        std::upper_bound(dist.begin(), dist.end(), v) - dist.begin());
    if (comm.allreduce_value(below) >= wanted)
      hi = mid;
    else
      lo = mid + 1;
  }
  double median = 0;
  std::memcpy(&median, &lo, sizeof median);
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

// The extra dimensions: (tune.* list, the option it sets).
constexpr std::pair<const char*, const char*> kExtraDimensions[] = {
    {"tune.exponents", "kernel.exponent"},
    {"tune.norms", "kernel.norm_p"},
    {"tune.agop_powers", "rfm.agop_power"},
    {"tune.rfm_metrics", "rfm.metric"}};

// collective (agreed checks): tune.exponents, tune.norms, tune.agop_powers, tune.rfm_metrics,
// tune.samples into `s`; every point's kernel is built once here so a bad combination is one
// agreed error before any fit.
void extra_dimensions(const mpi::Communicator& comm, const Options& o, const TrainSetup& setup,
                      TuneSettings& s) {
  s.rfm = setup.rfm_iterations > 0;
  s.samples = o.count("tune.samples");
  mpi::agree_on(comm, [&] {
    for (const auto& [list, key] : kExtraDimensions) {
      if (o.str(list).empty()) continue;
      std::vector<std::string> values;
      if (std::string(key) == "rfm.metric") {
        std::stringstream in(o.str(list));
        for (std::string item; std::getline(in, item, ',');) {
          if (item != "diagonal" && item != "full")
            throw Error("option " + std::string(list) + ": '" + item +
                        "' is not a metric (diagonal, full)");
          values.push_back(item);
        }
      } else {
        for (double v : parse_list(list, o.str(list))) values.push_back(number(v));
      }
      if (std::string(key).rfind("rfm.", 0) == 0 && !s.rfm)
        throw Error("option " + std::string(list) + ": needs rfm.iterations > 0 (RFM at every point)");
      s.extra.emplace_back(key, values);
    }
    // Every point's kernel, as the runs will build it (the Laplace family only for laplacian,
    // 0 < q <= p <= 2).
    if (s.samples == 0)
      for (const TunePoint& p : tune_points(s, setup.seed)) {
        double q = o.real("kernel.exponent"), norm = o.real("kernel.norm_p");
        for (const auto& [k, v] : p.extra) {
          if (k == "kernel.exponent") q = std::stod(v);
          if (k == "kernel.norm_p") norm = std::stod(v);
        }
        Kernel::from_name(o.str("kernel.name"), p.bandwidth, o.real("kernel.nu"), q, norm);
      }
  });
  mpi::agree(comm, s.folds < 2 || s.plain_grid(),
             "tune.folds: cross-validation searches bandwidths and ridges of a plain fit; RFM, "
             "the extra dimensions and tune.samples select on the validation split");
  if (!s.plain_grid()) s.shared = false;  // the shared solvers fit bandwidths x ridges only
}

// local: random point k of tune.samples (see tune_points).
TunePoint random_point(const TuneSettings& s, std::uint64_t seed, std::size_t k) {
  std::uint64_t counter = 0;
  const auto uniform = [&] {
    const std::uint64_t w = counter_random(seed, RngStream::kTune, 0x7475 + k, counter++);
    return static_cast<double>(w >> 11) * 0x1.0p-53;  // [0, 1)
  };
  const auto range = [](const std::vector<double>& v) {
    return std::pair(*std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()));
  };
  const auto log_uniform = [&](const std::vector<double>& v) {
    const auto [lo, hi] = range(v);
    return std::exp(std::log(lo) + uniform() * (std::log(hi) - std::log(lo)));
  };
  TunePoint p;
  p.bandwidth = log_uniform(s.bandwidths);
  p.ridge = s.ridges.size() > 1 ? log_uniform(s.ridges) : s.ridges.front();
  double norm = 2;  // kernel.exponent's upper bound: the point's norm_p
  for (const auto& [key, values] : s.extra) {
    if (key == "rfm.metric") {
      p.extra.emplace_back(key, values[bounded(counter_random(seed, RngStream::kTune, 0x7475 + k,
                                                              counter++),
                                               values.size())]);
      continue;
    }
    std::vector<double> v;
    for (const std::string& x : values) v.push_back(std::stod(x));
    auto [lo, hi] = range(v);
    if (key == "kernel.exponent") hi = std::min(hi, norm), lo = std::min(lo, hi);
    const double x = lo + uniform() * (hi - lo);
    if (key == "kernel.norm_p") norm = x;
    p.extra.emplace_back(key, number(x));
  }
  return p;
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
  mpi::agree_on(comm, [&] {
    const std::string groups = o.str("tune.groups");
    if (groups == "auto") {
      s.groups = 0;
      return;
    }
    char* end = nullptr;
    const long v = std::strtol(groups.c_str(), &end, 10);
    if (groups.empty() || *end != '\0' || v < 1 || v > comm.size())
      throw Error("option tune.groups: auto or a count from 1 to the " +
                  std::to_string(comm.size()) + " ranks, not '" + groups + "'");
    s.groups = static_cast<std::size_t>(v);
  });
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
             "tune.folds: the folds are the validation split; data.validation_fraction must be 0 "
             "and data.validation_features not given");
  mpi::agree(comm, s.folds < 2 || s.folds <= problem.partition.size(),
             "tune.folds: more folds than training rows");
  mpi::agree(comm, s.folds >= 2 || sets.validation.labeled,
             "kmpi tune selects on a validation split; give data.validation_fraction or "
             "data.validation_features (or validation rows with labels), or tune.folds");
  extra_dimensions(comm, o, setup, s);
  return s;
}

std::vector<TunePoint> tune_points(const TuneSettings& s, std::uint64_t seed) {
  std::vector<TunePoint> points;
  if (s.samples > 0) {
    for (std::size_t k = 0; k < s.samples; ++k) points.push_back(random_point(s, seed, k));
    return points;
  }
  for (double b : s.bandwidths)
    for (double r : s.ridges) {
      // The extra dimensions' product, the last one fastest.
      std::vector<OptionList> rows{{}};
      for (const auto& [key, values] : s.extra) {
        std::vector<OptionList> next;
        for (const OptionList& row : rows)
          for (const std::string& v : values) {
            next.push_back(row);
            next.back().emplace_back(key, v);
          }
        rows = std::move(next);
      }
      for (OptionList& row : rows) {
        TunePoint p;
        p.bandwidth = b;
        p.ridge = r;
        p.extra = std::move(row);
        points.push_back(std::move(p));
      }
    }
  return points;
}

std::string number(double v) {
  // The shortest of 15, 16, 17 significant digits that reads back as v (1e-06, not
  // 9.9999999999999995e-07): options and configs carry it, and it must name the same double.
  char text[32];
  for (int digits : {15, 16, 17}) {
    std::snprintf(text, sizeof text, "%.*g", digits, v);
    if (std::strtod(text, nullptr) == v) break;
  }
  return text;
}

}  // namespace tune_detail
}  // namespace kmpi
