// The xRFM tree across ranks (search/tree.hpp) against serial computations in the same test:
// the median split equals a sort of the gathered (projection, index) pairs; the tree's leaves
// hold exactly the rows that serial routing sends them; every leaf's model predicts like its
// rows trained alone; trees trained in groups of 1, 2 and P ranks, and one tree loaded at those
// sizes, predict alike; a failure inside the groups' leaves reaches every rank.
//
// Tolerances: a leaf trained on a group of g ranks and the same rows trained on P ranks factor
// the same kernel matrix in a different ScaLAPACK grid (and AGOP sums reduce in another order),
// so their float64 predictions differ by rounding, amplified by the RFM iteration; 1e-6 of the
// largest prediction is far above that and far below any difference of rows or options.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "common.hpp"
#include "driver/train_steps.hpp"
#include "kmpi/predict.hpp"
#include "search/tree.hpp"

namespace kmpi {
namespace {

using testing_support::uniform01;

constexpr std::size_t kDim = 4;

// Row i of the synthetic table: x uniform in [-1, 1)^4, y = 3 x0 + (x0 < 0 ? sin(3 x1) :
// sin(3 x2)): two halves with different functions, x0 the strongest direction.
double feature(std::size_t i, std::size_t j) { return 2 * uniform01(41, i, j) - 1; }
double target(std::size_t i) {
  const double x0 = feature(i, 0);
  return 3 * x0 + (x0 < 0 ? std::sin(3 * feature(i, 1)) : std::sin(3 * feature(i, 2)));
}

// local: this rank's block of the rows `rows` (indices of the table) over comm.
LocalData table_rows(const mpi::Communicator& comm, const std::vector<std::size_t>& rows) {
  LocalData data;
  data.partition = BlockPartition(rows.size(), comm.size());
  data.dimension = kDim;
  data.target_kind = ElementKind::kFloating;
  const std::size_t begin = data.partition.begin(comm.rank()),
                    count = data.partition.count(comm.rank());
  data.features = Matrix<double>(count, kDim);
  data.targets = Matrix<double>(count, 1);
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t j = 0; j < kDim; ++j) data.features(i, j) = feature(rows[begin + i], j);
    data.targets(i, 0) = target(rows[begin + i]);
  }
  return data;
}

std::vector<std::size_t> first_rows(std::size_t n) {
  std::vector<std::size_t> r(n);
  std::iota(r.begin(), r.end(), std::size_t(0));
  return r;
}

std::vector<std::string> leaf_args(const std::string& model) {
  return {"--solver.name=direct",     "--solver.precision=float64",
          "--solver.ridge=1e-4",      "--kernel.name=laplacian",
          "--kernel.bandwidth=2",     "--data.task=regression",
          "--data.scale=standardize", "--data.validation_fraction=0.25",
          "--rfm.iterations=1",       "--output.model=" + model};
}

Options tree_options(const std::string& model, std::size_t leaf_size) {
  std::vector<std::string> args = leaf_args(model);
  args.push_back("--rfm.leaf_size=" + std::to_string(leaf_size));
  args.push_back("--rfm.split_samples=100");
  return parse_options(args);
}

// collective: the predictions (all rows, on every rank) of `model` for the table rows `rows`.
Matrix<double> predictions(const mpi::Communicator& comm, const LocalModel& model,
                           const std::vector<std::size_t>& rows) {
  LocalData q = table_rows(comm, rows);
  model.header.prepare_inputs(q.features);
  const LocalCenters z(model.centers, Precision::kFloat64);
  const Matrix<double> local =
      predict_distributed(comm, model.header.kernel, z, model.weights, q.partition, q.features);
  return testing_support::gather_rows(comm, q.partition, local);
}

Matrix<double> tree_predictions(const mpi::Communicator& comm, const TreeModel& tree,
                                const std::vector<std::size_t>& rows) {
  const LocalData q = table_rows(comm, rows);
  const Matrix<double> local = predict_tree(comm, tree, offsets_of(q.partition), q.features);
  return testing_support::gather_rows(comm, q.partition, local);
}

// collective: soft routing (temperature 0.5) predicts the serial weighted sum of the leaves'
// predictions, the weights computed here from DESIGN §1.5's formula; a temperature near 0 routes
// like hard routing. 1e-12: the same leaf predictions, batched differently.
void expect_soft_routing_matches_serial(const mpi::Communicator& comm, TreeModel tree,
                                        const std::vector<std::size_t>& queries) {
  std::vector<Matrix<double>> leaf_pred;
  for (const LocalModel& leaf : tree.leaves) leaf_pred.push_back(predictions(comm, leaf, queries));
  const Matrix<double> hard = tree_predictions(comm, tree, queries);
  tree.tree.temperature = 1e-14;
  EXPECT_LE(testing_support::max_abs_diff(tree_predictions(comm, tree, queries), hard),
            1e-12 * testing_support::max_abs(hard));
  tree.tree.temperature = 0.5;
  const Matrix<double> soft = tree_predictions(comm, tree, queries);
  const TreeStructure& t = tree.tree;
  Matrix<double> expected(queries.size(), t.outputs);
  std::size_t several = 0;
  for (std::size_t k = 0; k < queries.size(); ++k) {
    double x[kDim];
    for (std::size_t j = 0; j < kDim; ++j) x[j] = feature(queries[k], j);
    std::vector<std::pair<double, std::uint32_t>> w;  // (weight, leaf)
    const auto walk = [&](auto&& self, std::uint32_t i, double weight) -> void {
      const TreeNode& node = t.nodes[i];
      if (node.leaf) return w.push_back({weight, node.left});
      const double z = (tree_projection(x, node.direction.data(), kDim) - node.threshold) /
                       (t.temperature * node.scale);
      self(self, node.left, weight / (1 + std::exp(z)));
      self(self, node.right, weight / (1 + std::exp(-z)));
    };
    walk(walk, 0, 1.0);
    std::sort(w.begin(), w.end(), [](auto& a, auto& b) { return a.first > b.first; });
    double kept = 0;
    std::size_t m = 0;
    while (m < w.size() && m < kSoftRoutingLeaves && kept < kSoftRoutingMass) kept += w[m++].first;
    several += m > 1;
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t c = 0; c < t.outputs; ++c)
        expected(k, c) += w[i].first / kept * leaf_pred[w[i].second](k, c);
  }
  EXPECT_GT(several, queries.size() / 10) << "soft routing should mix leaves for many queries";
  EXPECT_LE(testing_support::max_abs_diff(soft, expected),
            1e-12 * testing_support::max_abs(expected));
}

TEST(TreeSplit, MedianEqualsSortOfGatheredPairs) {
  auto comm = mpi::Communicator::world();
  const int P = comm.size(), me = comm.rank();
  for (std::size_t n : {2, 3, 7, 64, 101}) {
    for (int levels : {3, 1000000}) {  // many ties, or (almost) none
      // Rows spread unevenly: rank r holds a share that grows with r (rank 0 none when P > 1).
      std::vector<std::size_t> offsets(P + 1, 0);
      for (int r = 0; r < P; ++r)
        offsets[r + 1] =
            std::min(n, offsets[r] + (r == 0 && P > 1 ? 0 : (2 * n * (r + 1)) / (P * (P + 1)) + 1));
      offsets[P] = n;
      std::vector<double> proj;
      std::vector<std::size_t> index;
      for (std::size_t i = offsets[me]; i < offsets[me + 1]; ++i) {
        proj.push_back(std::floor(uniform01(7, i, 0) * levels) - levels / 2.0);
        index.push_back(i);
      }
      const MedianSplit split = median_split(comm, proj, index, n);
      // Serial reference: sort all (projection, index) pairs, the first ceil(n/2) go left.
      std::vector<std::pair<double, std::size_t>> all;
      for (std::size_t i = 0; i < n; ++i)
        all.push_back({std::floor(uniform01(7, i, 0) * levels) - levels / 2.0, i});
      std::sort(all.begin(), all.end());
      const std::size_t k = (n + 1) / 2;
      std::vector<char> left(n, 0);
      for (std::size_t i = 0; i < k; ++i) left[all[i].second] = 1;
      EXPECT_EQ(split.left_rows, k);
      EXPECT_EQ(split.threshold, all[k - 1].first) << "n " << n;
      for (std::size_t i = 0; i < index.size(); ++i)
        EXPECT_EQ(split.left[i], left[index[i]]) << "n " << n << " row " << index[i];
    }
  }
}

TEST(TreeSplit, ChildRanksFollowRowsAndNeverExceedThem) {
  EXPECT_EQ(child_ranks(4, 50, 50).left, 2);
  EXPECT_EQ(child_ranks(4, 50, 50).right, 2);
  EXPECT_EQ(child_ranks(2, 1000, 1).left, 1);  // at least one each
  EXPECT_EQ(child_ranks(7, 61, 40).left, 4);
  EXPECT_EQ(child_ranks(7, 61, 40).right, 3);
  const ChildRanks few = child_ranks(8, 2, 1);  // more ranks than rows: 3 work, 5 sit out
  EXPECT_EQ(few.left, 2);
  EXPECT_EQ(few.right, 1);
}

// A tree down to leaves of 1 and 2 rows (rfm.leaf_size 2 on 7 rows): at 4 ranks the groups
// shrink to one rank per node with at most as many ranks as rows (child_ranks), every leaf
// trains, and the tree predicts like the 1-rank one.
TEST(Tree, LeavesOfOneAndTwoRows) {
  auto world = mpi::Communicator::world();
  const testing_support::SharedDir scratch(world);
  std::vector<std::string> args = {"--solver.name=direct", "--solver.precision=float64",
                                   "--data.task=regression", "--rfm.leaf_size=2",
                                   "--rfm.split_samples=100"};
  const std::vector<std::size_t> queries = first_rows(12);
  Matrix<double> reference;
  for (int g : {1, world.size()}) {
    const mpi::Communicator comm = world.split(world.rank() / g, world.rank());
    const std::string model = scratch.str() + "/small_g" + std::to_string(g) + "_" +
                              std::to_string(world.rank() / g) + ".kmpi";
    std::vector<std::string> a = args;
    a.push_back("--output.model=" + model);
    const TreeTrainResult r =
        train_tree(comm, parse_options(a), table_rows(comm, first_rows(7)), {});
    EXPECT_EQ(r.tree.leaf_count, 4u);  // 7 -> 4 + 3 -> 2 + 2 + 2 + 1
    const Matrix<double> p = tree_predictions(comm, load_tree_model(comm, model), queries);
    if (reference.empty()) reference = p;
    EXPECT_LE(testing_support::max_abs_diff(p, reference),
              1e-9 * testing_support::max_abs(reference));
  }
}

TEST(TreeSplit, TopEigenvectorOfKnownMatrix) {
  // G = diag(1, 3, 2) rotated in the (0, 1) plane: its top eigenvector is the rotated e1.
  const double c = std::cos(0.3), s = std::sin(0.3);
  Matrix<double> g(3, 3);
  const double l0 = 1, l1 = 3;
  g(0, 0) = c * c * l0 + s * s * l1;
  g(1, 1) = s * s * l0 + c * c * l1;
  g(0, 1) = g(1, 0) = c * s * (l1 - l0) * -1;
  g(2, 2) = 2;
  const std::vector<double> v = top_eigenvector(g);
  // Eigenvector of l1: (-s, c, 0) up to sign; the largest entry (c) is made positive.
  EXPECT_NEAR(v[0], -s, 1e-12);
  EXPECT_NEAR(v[1], c, 1e-12);
  EXPECT_NEAR(v[2], 0, 1e-12);
}

// The whole tree at the rank count of the run: leaves, routing, leaf models, file.
TEST(Tree, LeavesRoutingAndLeafModels) {
  auto comm = mpi::Communicator::world();
  const testing_support::SharedDir scratch(comm);
  const std::string model = scratch.str() + "/tree.kmpi";
  constexpr std::size_t n = 160, leaf_size = 40;
  const TreeTrainResult r =
      train_tree(comm, tree_options(model, leaf_size), table_rows(comm, first_rows(n)), {}, true);
  ASSERT_EQ(r.tree.leaf_count, 4u);
  ASSERT_EQ(r.leaf_rows.size(), 4u);
  ASSERT_EQ(r.node_rows.size(), r.tree.nodes.size());
  EXPECT_EQ(r.node_rows[0], n);
  for (std::size_t i = 0; i < r.tree.nodes.size(); ++i)
    if (r.tree.nodes[i].leaf) {
      EXPECT_EQ(r.node_rows[i], r.leaf_rows[r.tree.nodes[i].left].size());
    }
  // Serial routing of every training row reaches the leaf that trained on it.
  std::vector<int> leaf_of(n, -1);
  for (std::size_t l = 0; l < r.leaf_rows.size(); ++l) {
    EXPECT_LE(r.leaf_rows[l].size(), leaf_size);
    for (std::size_t i : r.leaf_rows[l]) leaf_of[i] = static_cast<int>(l);
  }
  for (std::size_t i = 0; i < n; ++i) {
    double x[kDim];
    for (std::size_t j = 0; j < kDim; ++j) x[j] = feature(i, j);
    EXPECT_EQ(static_cast<int>(r.tree.route(x)), leaf_of[i]) << "row " << i;
  }
  // The root: its left side is the lower ceil(n/2) of the serial projections on its direction.
  const TreeNode& root = r.tree.nodes[0];
  std::vector<std::pair<double, std::size_t>> proj;
  for (std::size_t i = 0; i < n; ++i) {
    double x[kDim];
    for (std::size_t j = 0; j < kDim; ++j) x[j] = feature(i, j);
    proj.push_back({tree_projection(x, root.direction.data(), kDim), i});
  }
  std::sort(proj.begin(), proj.end());
  EXPECT_EQ(root.threshold, proj[n / 2 - 1].first);
  for (std::size_t k = 0; k < n; ++k) {
    double x[kDim];
    for (std::size_t j = 0; j < kDim; ++j) x[j] = feature(proj[k].second, j);
    EXPECT_EQ(tree_projection(x, root.direction.data(), kDim) <= root.threshold, k < n / 2);
  }
  // Its scale is the interquartile range of those projections.
  EXPECT_EQ(root.scale, proj[(3 * n + 3) / 4 - 1].first - proj[(n + 3) / 4 - 1].first);
  // x0 carries the largest gradients: the root splits (mostly) along it.
  EXPECT_GT(std::abs(root.direction[0]), 0.9);
  // Every leaf's model predicts like its rows trained alone (on all ranks here).
  const TreeModel loaded = load_tree_model(comm, model);
  ASSERT_EQ(loaded.leaves.size(), 4u);
  const std::vector<std::size_t> queries = first_rows(n);
  for (std::size_t l = 0; l < 4; ++l) {
    TrainRows rows;
    rows.train = table_rows(comm, r.leaf_rows[l]);
    const std::string alone = scratch.str() + "/alone" + std::to_string(l) + ".kmpi";
    const TrainResult single =
        train_in_memory(comm, parse_options(leaf_args(alone)), std::move(rows));
    const Matrix<double> a = predictions(comm, single.model, queries);
    const Matrix<double> b = predictions(comm, loaded.leaves[l], queries);
    EXPECT_LE(testing_support::max_abs_diff(a, b), 1e-6 * testing_support::max_abs(a))
        << "leaf " << l;
  }
  // Rows not trained on: a training row at a threshold has z = 0 there, weighted half and half
  // however small the temperature, where hard routing sends it left.
  std::vector<std::size_t> fresh(160);
  std::iota(fresh.begin(), fresh.end(), std::size_t(1000));
  expect_soft_routing_matches_serial(comm, loaded, fresh);
}

// Trees trained by groups of 1, 2 and P ranks, and one tree loaded by groups of those sizes,
// predict alike.
TEST(Tree, SamePredictionsAtEveryGroupSize) {
  auto world = mpi::Communicator::world();
  const testing_support::SharedDir scratch(world);
  constexpr std::size_t n = 120, leaf_size = 30;
  std::vector<std::size_t> queries(200);
  std::iota(queries.begin(), queries.end(), std::size_t(1000));  // rows not trained on
  const auto model_of = [&](int g) {
    return scratch.str() + "/tree_g" + std::to_string(g) + "_" + std::to_string(world.rank() / g) +
           ".kmpi";
  };
  for (int g : testing_support::rank_group_sizes(world.size())) {
    const mpi::Communicator comm = world.split(world.rank() / g, world.rank());
    train_tree(comm, tree_options(model_of(g), leaf_size), table_rows(comm, first_rows(n)), {});
  }
  world.barrier();  // every group's file is written
  Matrix<double> reference;
  for (int g : testing_support::rank_group_sizes(world.size())) {
    const mpi::Communicator comm = world.split(world.rank() / g, world.rank());
    const std::string model = model_of(g);
    const Matrix<double> p = tree_predictions(comm, load_tree_model(comm, model), queries);
    if (reference.empty()) reference = p;
    EXPECT_LE(testing_support::max_abs_diff(p, reference),
              1e-6 * testing_support::max_abs(reference))
        << "trained by groups of " << g;
    // The one-rank tree read by this group: the same routing, sums in another order only.
    const std::string first = scratch.str() + "/tree_g1_0.kmpi";
    const Matrix<double> q = tree_predictions(comm, load_tree_model(comm, first), queries);
    EXPECT_LE(testing_support::max_abs_diff(q, reference),
              1e-12 * testing_support::max_abs(reference))
        << "loaded by groups of " << g;
  }
}

// A damaged tree file is refused on every rank with one message naming it: a flipped byte
// (checksum), a truncated file, a plain model file's reader on a tree.
TEST(Tree, DamagedFileIsRefusedEverywhere) {
  auto comm = mpi::Communicator::world();
  const testing_support::SharedDir scratch(comm);
  const std::string model = scratch.str() + "/tree.kmpi";
  train_tree(comm, tree_options(model, 20), table_rows(comm, first_rows(40)), {});
  std::string bytes;
  if (comm.rank() == 0) bytes = testing_support::read_text(model);
  bytes = comm.broadcast(bytes, 0);
  ASSERT_GT(bytes.size(), 100u);
  const auto expect_refused = [&](const std::string& name, const std::string& content,
                                  const std::string& words) {
    const std::string path = scratch.str() + "/" + name;
    if (comm.rank() == 0) testing_support::write_text(path, content);
    comm.barrier();
    std::string message;
    try {
      load_tree_model(comm, path);
    } catch (const CollectiveError& e) {
      message = e.what();
    }
    EXPECT_NE(message.find(words), std::string::npos) << name << ": " << message;
    EXPECT_NE(message.find(path), std::string::npos) << message;
  };
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  expect_refused("flipped.kmpi", flipped, "checksum mismatch");
  expect_refused("truncated.kmpi", bytes.substr(0, bytes.size() - 9), "checksum mismatch");
  std::string message;
  try {
    load_model(comm, model);
  } catch (const CollectiveError& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("not a kmpi model"), std::string::npos) << message;
}

// Every leaf refuses its options (accuracy on regression targets, checked only by a leaf's RFM
// loop): each group agrees on its failure and every rank throws the same error at the end, and
// no file is left behind.
TEST(Tree, LeafFailureReachesEveryRank) {
  auto comm = mpi::Communicator::world();
  const testing_support::SharedDir scratch(comm);
  const std::string model = scratch.str() + "/failed.kmpi";
  std::vector<std::string> args = leaf_args(model);
  args.push_back("--rfm.leaf_size=20");
  args.push_back("--rfm.validation_metric=accuracy");
  bool threw = false;
  try {
    train_tree(comm, parse_options(args), table_rows(comm, first_rows(80)), {});
  } catch (const CollectiveError& e) {
    threw = std::string(e.what()).find("rfm.validation_metric") != std::string::npos;
  }
  EXPECT_TRUE(threw);
  comm.barrier();
  if (comm.rank() == 0)
    for (const auto& entry : std::filesystem::directory_iterator(scratch.str()))
      ADD_FAILURE() << "left behind: " << entry.path();
}

}  // namespace
}  // namespace kmpi
