// The xRFM tree across ranks (DESIGN §1.5, issue 27 §2). While a node has more than
// rfm.leaf_size rows: fit a splitter (a plain kernel fit through the in-memory train path with
// the run's kernel and solver options, rfm.iterations = 0, on a seeded subsample of at most
// rfm.split_samples of the node's rows), take its AGOP's top eigenvector v (in raw feature
// coordinates), project the node's rows on v and split at the median by rank: the lower
// ceil(n/2) rows by (projection, row index) go left, threshold = the largest projection on the
// left. The children's rows move to sub-communicators (ranks in proportion to rows, at least one
// each); a group of one rank grows its subtree alone, its leaves one after another. Each leaf is
// the RFM of the run's options trained by train_in_memory on exactly its rows, so its model is
// the model of those rows trained alone. Prediction routes hard: x . v <= threshold goes left.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "driver/train_steps.hpp"
#include "kmpi/data.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/options.hpp"
#include "parallel/log.hpp"
#include "state/tree_model.hpp"

namespace kmpi {

// The rows of one node on its group: this rank's block of BlockPartition(n, group size)
// (features unscaled, targets as given), with each row's index among the tree's training rows
// (ascending over the ranks): the tie-break of the median and what names a leaf's rows.
struct NodeRows {
  LocalData data;
  std::vector<std::size_t> index;
};

// Power iterations of top_eigenvector: a fixed count, so every rank runs the same arithmetic.
inline constexpr int kPowerIterations = 300;

// local: the top eigenvector of symmetric g (d x d; 1 x d: a diagonal matrix) by
// kPowerIterations power iterations from a fixed start; unit length, its largest |entry| > 0.
std::vector<double> top_eigenvector(const Matrix<double>& g);

// collective: the split direction of a node (the splitter's AGOP's top eigenvector in raw
// feature coordinates), the same bits on every rank (rank 0's, broadcast). `node` keys the
// seeded subsample.
std::vector<double> split_direction(const mpi::Communicator& comm, const Options& options,
                                    const NodeRows& rows, std::uint64_t node);

// Where a node splits.
struct MedianSplit {
  double threshold = 0;       // the largest projection among the left rows
  double scale = 0;           // the interquartile range of the projections (soft routing)
  std::size_t left_rows = 0;  // ceil(n / 2)
  std::vector<char> left;     // per local row: goes left
};

// collective: the lower ceil(n/2) of the n rows by (projection, index) go left (ties in the
// projection broken by the index, so they cannot unbalance the split). Found by bisection on
// the order of the doubles and then of the indices, one allreduce of a count per step (at most
// 128, and 128 more for the quartiles of `scale`); no rank gathers the rows.
MedianSplit median_split(const mpi::Communicator& comm, const std::vector<double>& projections,
                         const std::vector<std::size_t>& index, std::size_t n);

// How a group of P ranks shares out to the children of a split: ranks [0, left) take the left
// rows, [left, left + right) the right ones, in proportion to their rows, at least one each and
// never more ranks than rows; any ranks left over (more ranks than rows) sit the subtree out.
struct ChildRanks {
  int left = 1, right = 1;
};

// local: the shares for P >= 2 ranks and left_rows, right_rows >= 1.
ChildRanks child_ranks(int P, std::size_t left_rows, std::size_t right_rows);

// collective: each row sent to its child's group: the left rows to ranks [0, ranks.left) as
// BlockPartition(left_rows, ranks.left), the right ones to the next ranks.right; rows keep their
// order. Returns this rank's rows of its own child (none on a rank left over).
NodeRows send_to_children(const mpi::Communicator& comm, const NodeRows& rows,
                          const MedianSplit& split, ChildRanks ranks);

// local (a group of one rank): the rows of one child.
NodeRows local_child(const NodeRows& rows, const MedianSplit& split, bool left);

// Given validation rows (data.validation_features, or Python's X_val) in the tree, as the
// reference xRFM takes them (search/tree_validation.cpp).

// The reference's val_size_frac: a refill takes at most this share of a leaf's training rows.
inline constexpr double kRefillFraction = 0.2;

// collective: the validation rows of a split's node routed as queries are (x . v <= threshold
// goes left, the side the same row takes at predict): `left` per local row, `left_rows` the
// group's count (unbalanced, unlike the training rows' median split). send_to_children and
// local_child move them to the children like training rows.
MedianSplit route_validation(const mpi::Communicator& comm, const NodeRows& rows,
                             const std::vector<double>& v, double threshold);

// local: how many of its `training` rows a leaf below the root moves to its `routed` validation
// rows (the reference's _refill_val_set): with routed <= refill_size, min(refill_size - routed,
// int(training * kRefillFraction)); else none.
std::size_t refill_count(std::size_t routed, std::size_t training, std::size_t refill_size);

// A leaf's training and validation rows (each this rank's block over the leaf's group).
struct LeafRows {
  LocalData train, validation;
  std::size_t unscored = 0;  // validation rows left out: classes the leaf has no row of
};

// collective over the leaf's group: `refilled` of the leaf's training rows (a seeded draw keyed
// by `node`) moved after its routed validation rows; then, with integer classes (`classes`),
// validation rows of a class beyond the leaf's largest training label left out (its model has
// no output for them).
LeafRows leaf_rows_with_validation(const mpi::Communicator& comm, LocalData train,
                                   LocalData validation, std::size_t refilled,
                                   std::uint64_t seed, std::uint64_t node, bool classes);

// What train_tree returns besides the file.
struct TreeTrainResult {
  // 0: trained and written; kExitCheckpointedOnSignal: stopped by a stop signal, the finished
  // splits and leaves kept under run.checkpoint_dir/tree for a run with run.resume = auto.
  int exit_code = 0;
  TreeStructure tree;
  std::vector<std::size_t> node_rows;  // per node (preorder): its training rows
  // With given validation rows (`validated`): per node, the validation rows routed to it, and
  // per leaf node the training rows it moved to them (refill_count; 0 for a split).
  bool validated = false;
  std::vector<std::size_t> node_validation, node_refilled;
  // With collect_leaf_rows: leaf l's rows (indices into the training rows,
  // ascending), on every rank. For tests; gathers O(n) indices.
  std::vector<std::vector<std::size_t>> leaf_rows;
};

// collective: the tree on `train` (this rank's block of BlockPartition(n, P) of comm, features
// unscaled, labels or targets as given), written to output.model. `validation` (the same layout;
// partition size 0: none) are given validation rows: routed down the tree and refilled in the
// leaves (route_validation, refill_count), they are every leaf's validation rows instead of a
// data.validation_fraction split of its own, and rfm.tune_temperature scores on them all (as
// the reference does). With run.checkpoint_dir, every
// finished split (its direction) and leaf (its model file) is kept in <dir>/tree, each leaf's
// RFM checkpoints in <dir>/tree/leaf-<node>, and a stop signal stops each group at its next
// node or step; run.resume = auto then reuses what is there. A failure inside one group
// (a CollectiveError of a split or a leaf) is agreed in that group, which stops, and then over
// all ranks: every rank throws the same CollectiveError at the end, never a hang.
TreeTrainResult train_tree(const mpi::Communicator& comm, const Options& options, LocalData train,
                           LocalData validation, bool collect_leaf_rows = false);

// The leaves' validation rows (raw features, targets as given): each rank its share, in no
// particular layout. What rfm.tune_temperature chooses the temperature on.
struct TreeValidation {
  Matrix<double> x, y;
};

// collective over a leaf's group: appends this rank's rows of the leaf's validation split (the
// rows train_in_memory holds out of `rows` under the leaf's options) to `validation`.
void keep_leaf_validation(const mpi::Communicator& comm, const Options& leaf_options,
                          const LocalData& rows, TreeValidation& validation);

// collective: the soft-routing temperature, among 0 (hard), 0.02, 0.05, 0.1, 0.2, 0.5 and 1,
// with the best validation score (error for classes, mse for targets; ties keep the smaller),
// the same on every rank. `model` is the tree with its leaves loaded; its temperature changes.
double tune_temperature(const mpi::Communicator& comm, TreeModel& model,
                        const TreeValidation& validation, const Log& log);

// collective: the tree's predictions (rows x c) for raw query rows in any contiguous layout
// (rank r holds rows [offsets[r], offsets[r+1])): hard routing, or soft routing when
// model.tree.temperature > 0 (the weighted sum of the kept leaves' predictions).
Matrix<double> predict_tree(const mpi::Communicator& comm, const TreeModel& model,
                            const std::vector<std::size_t>& offsets, const Matrix<double>& x);

}  // namespace kmpi
