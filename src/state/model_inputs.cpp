// How raw features become model inputs (kmpi/model.hpp): the stored scaling, then the metric S.
#include <string>

#include "kmpi/error.hpp"
#include "kmpi/model.hpp"

namespace kmpi {

void Scaling::apply(Matrix<double>& x) const {
  if (mode == ScaleMode::kNone && offset.empty() && multiplier.empty()) return;
  if (offset.size() != x.cols() || multiplier.size() != x.cols())
    throw Error("scaling has " + std::to_string(offset.size()) + " offsets and " +
                std::to_string(multiplier.size()) + " multipliers but the data has " +
                std::to_string(x.cols()) + " columns");
  for (std::size_t i = 0; i < x.rows(); ++i) {
    double* row = x.row(i);
    for (std::size_t j = 0; j < x.cols(); ++j) row[j] = (row[j] - offset[j]) * multiplier[j];
  }
}

void ModelHeader::prepare_inputs(Matrix<double>& x) const {
  scaling.apply(x);
  metric.apply(x);
}

}  // namespace kmpi
