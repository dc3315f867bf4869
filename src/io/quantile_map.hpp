// Internal: data.numeric_transform = quantile for tables (issue 27). A numeric column becomes the
// normal score of its training quantiles, as scikit-learn's
// QuantileTransformer(output_distribution = "normal") does: x -> Phi^-1(F(x)), where F
// interpolates linearly between K knots (the column's quantiles at levels k / (K - 1), K =
// min(1000, values)), a value tied with several knots takes the middle of their levels, values
// within 1e-7 of the ends (or past them) take levels 0 and 1, and the scores are clipped to
// Phi^-1(1e-7) and its negative (about -5.2 and 5.2). Heavy tails, counts and skewed columns come
// out on one scale, so a kernel's distances are not ruled by a few extreme rows.
#pragma once

#include <cstddef>
#include <vector>

#include "base/permutation.hpp"
#include "kmpi/mpi.hpp"

namespace kmpi::detail {

// local: Phi^-1(p), the standard normal quantile, for 0 < p < 1 (relative error about 1e-15).
double normal_quantile(double p);

// local: the K knots of a column from its sample (sorted here): the quantiles at levels
// k / (K - 1) with linear interpolation between order statistics (numpy's percentile).
std::vector<double> quantile_knots(std::vector<double> sample, std::size_t max_knots = 1000);

// local: x's normal score under the knots (empty knots: x unchanged).
double quantile_normal(const std::vector<double>& knots, double x);

// The seeded sample the knots are fitted on: at most kQuantileSamples values per column, the same
// rows at any rank count (a row is in it by its index among the file's rows alone).
inline constexpr std::size_t kQuantileSamples = 100000;

// local: whether row `row` of a file of `rows` rows is sampled when `selected` of them are
// selected for training (all of them when selected <= kQuantileSamples).
class QuantileSample {
 public:
  QuantileSample(std::size_t rows, std::size_t selected);
  bool contains(std::size_t row) const;

 private:
  std::size_t rows_, threshold_ = 0;
  CounterPermutation perm_;
};

// collective: the knots of every column from each rank's sampled values of it (columns[j]; a
// column no rank has values of gets none); the same bits on every rank.
std::vector<std::vector<double>> fit_quantile_knots(const mpi::Communicator& comm,
                                                    const std::vector<std::vector<double>>& columns);

}  // namespace kmpi::detail
