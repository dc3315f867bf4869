// Given validation rows in an xRFM tree (search/tree.hpp), as the reference xRFM
// (dmbeaglehole/xRFM, xrfm/xrfm.py: _build_tree, _refill_val_set) takes them: they go down the
// tree by the training rows' hard split (x . v <= threshold goes left: the threshold is the
// largest left projection, which is torch.median's lower median there), possibly unbalanced,
// and a leaf below the root whose share is small is topped up from its own training rows.
#include <algorithm>

#include "base/permutation.hpp"
#include "search/tree.hpp"

namespace kmpi {

MedianSplit route_validation(const mpi::Communicator& comm, const NodeRows& rows,
                             const std::vector<double>& v, double threshold) {
  MedianSplit split;
  split.threshold = threshold;
  const std::size_t local = rows.data.features.rows();
  split.left.resize(local);
  std::size_t left = 0;
  for (std::size_t i = 0; i < local; ++i) {
    // The projection of prediction's routing (tree_projection), so a validation row goes where
    // the same row would be routed as a query.
    split.left[i] = tree_projection(rows.data.features.row(i), v.data(), v.size()) <= threshold;
    left += split.left[i] != 0;
  }
  split.left_rows = comm.allreduce_value(left);
  return split;
}

std::size_t refill_count(std::size_t routed, std::size_t training, std::size_t refill_size) {
  if (routed > refill_size) return 0;
  // int(len(X) * 0.2) of the reference: the same double product, truncated.
  const auto fifth = static_cast<std::size_t>(static_cast<double>(training) * kRefillFraction);
  return std::min(refill_size - routed, fifth);
}

LeafRows leaf_rows_with_validation(const mpi::Communicator& comm, LocalData train,
                                   LocalData validation, std::size_t refilled, std::uint64_t seed,
                                   std::uint64_t node, bool classes) {
  LeafRows out;
  if (refilled > 0) {
    // A seeded draw of the leaf's rows (in tree-row order, the same at any rank count); the
    // reference draws with torch.randperm.
    const std::vector<std::size_t> picks =
        random_subset(train.partition.size(), refilled, seed, RngStream::kTreeRefill, node);
    const LocalData moved = take_rows(comm, train, picks);
    validation = append_rows(comm, validation, moved);
    train = take_rows_where(comm, train, [&](std::size_t i) {
      return !std::binary_search(picks.begin(), picks.end(), i);
    });
  }
  if (classes) {
    // The leaf's model knows the classes 0 .. (its largest training label); a validation row of
    // a later class cannot be scored by it and is left out (the reference's leaf RFM has every
    // class of the tree and counts such a row as a miss at every iteration alike).
    double top = 0;
    for (std::size_t i = 0; i < train.targets.rows(); ++i) top = std::max(top, train.targets(i, 0));
    top = comm.allreduce_value(top, mpi::Op::kMax);
    const std::size_t begin = validation.partition.begin(comm.rank());
    std::size_t unknown = 0;
    // (Label -1: a class no training row of the tree has, likewise left out.)
    const auto scored = [&](double label) { return label >= 0 && label <= top; };
    for (std::size_t i = 0; i < validation.targets.rows(); ++i)
      unknown += !scored(validation.targets(i, 0));
    out.unscored = comm.allreduce_value(unknown);
    if (out.unscored > 0)
      validation = take_rows_where(
          comm, validation, [&](std::size_t i) { return scored(validation.targets(i - begin, 0)); });
  }
  out.train = std::move(train);
  out.validation = std::move(validation);
  return out;
}

}  // namespace kmpi
