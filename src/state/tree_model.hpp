// The tree model file (xRFM, DESIGN §1.5): the splits of a tree and every leaf's model in one
// file, so `kmpi predict` and `kmpi eval` read a tree like any model, at any rank count. A
// container rather than a new version of the model file: each leaf is a complete model file
// (kmpi/model.hpp, its own header, scaling, metric and CRC) stored inside it, read in place.
//
// Layout (little-endian):
//   header  : magic "KMPITREE" (8 bytes), version u32, task u32, d u64, c u64, nodes u64,
//             leaves u64, (version >= 2) soft-routing temperature f64 (0 = hard routing)
//   nodes   : per node, preorder from the root: kind u32 (0 split, 1 leaf), a u32, b u32
//             (split: the left and right children's node indices; leaf: its leaf index, 0),
//             threshold f64, (version >= 2) scale f64 (the interquartile range of the node's
//             training projections; a leaf: 0), direction d f64 (a leaf: zeros).
//             x . v <= threshold goes left, x the raw features (before any leaf's scaling).
//   leaves  : per leaf, offset u64 and length u64 of its model file inside this file
//   models  : the leaves' model files, back to back
//   trailer : CRC-32 (zlib) of every byte before it, u32
// A classification leaf may know fewer classes than the tree (c): its missing outputs are 0.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kmpi/model.hpp"
#include "kmpi/mpi.hpp"

namespace kmpi {

// 2: soft routing (the temperature and every split's scale); version 1 files route hard.
inline constexpr std::uint32_t kTreeModelVersion = 2;

// Soft routing keeps a query's leaves by weight until they hold this share of it, at most
// kSoftRoutingLeaves of them (xRFM's defaults).
inline constexpr double kSoftRoutingMass = 0.99;
inline constexpr std::size_t kSoftRoutingLeaves = 12;

struct TreeNode {
  bool leaf = false;
  std::uint32_t left = 0, right = 0;  // split: children's node indices; leaf: left = leaf index
  double threshold = 0;
  double scale = 0;               // split: the IQR of its training rows' projections
  std::vector<double> direction;  // split: v, d values
};

// local: x . v summed in index order: the projection of training rows (the split) and of queries
// (routing) is this one function, so a training row is routed to the side its split chose
// (rows whose projection equals the threshold go left; see search/tree.hpp).
inline double tree_projection(const double* x, const double* v, std::size_t d) {
  double s = 0;
  for (std::size_t j = 0; j < d; ++j) s += x[j] * v[j];
  return s;
}

struct TreeStructure {
  Task task = Task::kClassification;
  std::size_t dimension = 0;    // d of the raw features
  std::size_t outputs = 0;      // c: classes or targets of the whole tree
  std::vector<TreeNode> nodes;  // preorder, nodes[0] the root
  std::size_t leaf_count = 0;
  // Soft routing (DESIGN §1.5): at a split z = (x . v - threshold) / (temperature * scale); the
  // left child gets log sigmoid(-z), the right log sigmoid(z), a leaf the sum over its path.
  // 0: hard routing (route()).
  double temperature = 0;

  // local: the leaves of raw feature row x with their weights (summing to 1), heaviest first:
  // by soft routing, kept until they hold kSoftRoutingMass of the weight, at most
  // kSoftRoutingLeaves; a split whose temperature * scale is 0 routes hard. With temperature 0:
  // the one leaf of route(), weight 1.
  std::vector<std::pair<std::uint32_t, double>> soft_route(const double* x) const;

  // local: the leaf index of raw feature row x (hard routing).
  std::uint32_t route(const double* x) const {
    std::uint32_t i = 0;
    while (!nodes[i].leaf)
      i = tree_projection(x, nodes[i].direction.data(), dimension) <= nodes[i].threshold
              ? nodes[i].left
              : nodes[i].right;
    return nodes[i].left;
  }
};

struct TreeModel {
  TreeStructure tree;
  std::vector<LocalModel> leaves;  // each over all ranks of the loading communicator
  // local: the header raw queries are read with (d, c, task; no scaling, no metric: each leaf
  // prepares its own rows).
  ModelHeader input_header() const;
};

// collective: whether `path` starts with the tree magic (rank 0 reads 8 bytes; a file it cannot
// read is not a tree, and load_model reports why).
bool is_tree_model_file(const mpi::Communicator& comm, const std::string& path);

// local (one rank): writes the tree with the model files `leaf_files` (leaf_files[l] = leaf l)
// copied in, to a temporary name renamed to `path` once complete and fsynced; no file is left
// behind on error. Throws kmpi::Error naming the file.
void write_tree_model(const std::string& path, const TreeStructure& tree,
                      const std::vector<std::string>& leaf_files);

// collective: the tree (rank 0 checks the CRC of the whole file and the structure; verdicts
// agreed) and every leaf's model, each read in place on all ranks.
TreeModel load_tree_model(const mpi::Communicator& comm, const std::string& path);

// collective: load_model of the model file stored in bytes [base, base + length) of `path`
// (length 0: the whole file).
LocalModel load_model_window(const mpi::Communicator& comm, const std::string& path,
                             std::uint64_t base, std::uint64_t length);

}  // namespace kmpi
