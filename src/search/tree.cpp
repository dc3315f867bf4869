// The xRFM tree across ranks (search/tree.hpp): growing it depth-first over shrinking groups of
// ranks, assembling what the groups found into one tree, writing the tree file, and predicting.
//
// Every group's rank 0 records its splits and leaves as words (u64) and the records reach every
// rank in one allgatherv at the end; nodes are named by heap numbers (root 1, children 2i and
// 2i + 1), so the records need no coordination while the groups work apart. Each leaf's model is
// written by its group (train_in_memory, output.model = a temporary per leaf); rank 0 then copies
// them into the tree file and removes them.
#include "search/tree.hpp"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>

#include "base/fault.hpp"
#include "base/permutation.hpp"
#include "driver/metrics.hpp"
#include "parallel/log.hpp"
#include "search/tree_checkpoint.hpp"
#include "state/checkpoint.hpp"

namespace kmpi {

namespace {

constexpr unsigned long long kSplitRecord = 0, kLeafRecord = 1;
// Heap numbers of depth 62 still fit 63 bits; halving n rows reaches it only beyond 2^61 rows.
constexpr int kMaxDepth = 62;


// What growing the tree needs and collects on this rank.
struct Growth {
  Options split_options, leaf_options;
  std::size_t leaf_size = 0;
  std::string leaf_prefix;  // leaf files: prefix + heap number
  // Checkpoints (run.checkpoint_dir/tree): finished splits and leaves are kept there, and
  // reused by a run with run.resume != no; each leaf's RFM checkpoints in its own directory.
  std::string dir;
  bool reuse = false;             // run.resume != no
  bool leaf_checkpoints = false;  // the leaves' fits write checkpoints (they validate)
  bool collect_leaf_rows = false;
  bool tune = false;  // rfm.tune_temperature: keep the leaves' validation rows
  TreeValidation validation;
  // Given validation rows (train_tree's `validation`): routed down the tree with the training
  // rows, refilled in the leaves below the root whose fits validate (iterative solvers, RFM).
  bool validated = false, leaf_validates = false;
  std::size_t refill_size = 0;
  bool integer_classes = false;  // classification by class index (no table class names)
  std::uint64_t seed = 1;
  std::vector<unsigned long long> records;  // [kind, node, words, payload...] (group roots only)
  const Log* log = nullptr;
  // A table's encoding (fitted on all the tree's rows): every leaf's model file carries it, so
  // predict encodes queries by column name as for one model (TreeModel::input_header).
  TableEncoding table;
};

// Thrown on every rank of a group that stops after a stop signal (its checkpoints written).
struct TreeStopped {};

std::string leaf_file(const std::string& prefix, std::uint64_t node) {
  return prefix + std::to_string(node);
}

// collective: a stop signal on any rank of the group (with checkpoints on) stops the group.
void stop_if_signalled(const mpi::Communicator& comm, const Growth& g) {
  if (!g.dir.empty() && comm.allreduce_value(stop_signal_received(), mpi::Op::kMax) != 0)
    throw TreeStopped{};
}

// collective over the leaf's group: the leaf's RFM on exactly its rows (and its routed and
// refilled validation rows `val`, when given), written to its file (unless a resumed run finds
// it there).
void train_leaf(const mpi::Communicator& comm, NodeRows rows, NodeRows val, std::uint64_t node,
                int depth, Growth& g) {
  fault::point("tree.leaf");
  const std::size_t n = rows.data.partition.size();
  const std::size_t routed = g.validated ? val.data.partition.size() : 0;
  // The reference refills a leaf below the root only (a tree of one leaf validates on the rows
  // as given), and its leaves always validate; here a leaf fit that takes no validation rows
  // (direct without RFM) keeps all its training rows.
  const std::size_t refilled =
      g.validated && depth > 0 && g.leaf_validates ? refill_count(routed, n, g.refill_size) : 0;
  std::vector<std::size_t> all;
  if (g.collect_leaf_rows) {  // tests only: the leaf's row indices, gathered
    all.resize(n);
    comm.allgatherv(rows.index.data(), all.data(), rows.data.partition.counts(),
                    rows.data.partition.displacements());
  }
  if (g.tune && !g.validated) keep_leaf_validation(comm, g.leaf_options, rows.data, g.validation);
  const std::string file = leaf_file(g.leaf_prefix, node);
  if (!(g.reuse && exists_on_rank0(comm, file))) {
    Options o = g.leaf_options;
    o.set("output.model", file);
    if (g.leaf_checkpoints) {
      o.set("run.checkpoint_dir", g.dir + "/leaf-" + std::to_string(node));
      o.set("run.resume", g.reuse ? "auto" : "no");
    }
    TrainRows train;
    if (g.validated) {
      LeafRows leaf = leaf_rows_with_validation(comm, std::move(rows.data), std::move(val.data),
                                                refilled, g.seed, node, g.integer_classes);
      const std::string left_out =
          leaf.unscored == 0 ? ""
                             : ", " + std::to_string(leaf.unscored) +
                                   " of classes it has no training row of left out";
      Log(comm).info(
          "tree: leaf %llu: %zu validation rows routed + %zu of its %zu training rows moved to "
          "them%s",
          static_cast<unsigned long long>(node), routed, refilled, n, left_out.c_str());
      train.train = std::move(leaf.train);
      train.validation = std::move(leaf.validation);
    } else {
      train.train = std::move(rows.data);
    }
    train.train.table = g.table;
    train.train_name = "tree leaf " + std::to_string(node) + " rows";
    const TrainResult r = train_in_memory(comm, o, std::move(train));
    if (r.exit_code == kExitCheckpointedOnSignal) throw TreeStopped{};
    mpi::agree(comm, r.trained, "tree leaf " + std::to_string(node) + ": no model was trained");
  } else {
    g.log->info("tree: leaf %llu reused from %s", static_cast<unsigned long long>(node),
                file.c_str());
  }
  if (comm.rank() != 0) return;
  g.records.insert(g.records.end(), {kLeafRecord, node, 3 + all.size(), n, routed, refilled});
  g.records.insert(g.records.end(), all.begin(), all.end());
}

// collective over `comm`: the subtree of `node` on its rows (and its given validation rows).
void grow(const mpi::Communicator& comm, NodeRows rows, NodeRows val, std::uint64_t node,
          int depth, Growth& g) {
  const std::size_t n = rows.data.partition.size();
  stop_if_signalled(comm, g);
  if (n <= g.leaf_size) {
    train_leaf(comm, std::move(rows), std::move(val), node, depth, g);
    return;
  }
  mpi::agree(comm, depth < kMaxDepth, "rfm.leaf_size: the tree is deeper than it can be");
  std::vector<double> v;
  if (!(g.reuse && load_split(comm, g.dir, node, n, rows.data.dimension, v))) {
    v = split_direction(comm, g.split_options, rows, node);
    if (!g.dir.empty()) save_split(comm, g.dir, node, n, v);
  }
  std::vector<double> projections(rows.data.features.rows());
  for (std::size_t i = 0; i < projections.size(); ++i)
    projections[i] = tree_projection(rows.data.features.row(i), v.data(), v.size());
  const MedianSplit split = median_split(comm, projections, rows.index, n);
  MedianSplit val_split;
  if (g.validated) val_split = route_validation(comm, val, v, split.threshold);
  const std::size_t nv = g.validated ? val.data.partition.size() : 0;
  g.log->info("tree: node %llu, %zu rows on %d ranks -> %zu left (x . v <= %.6g) + %zu right",
              static_cast<unsigned long long>(node), n, comm.size(), split.left_rows,
              split.threshold, n - split.left_rows);
  if (comm.rank() == 0) {
    g.records.insert(g.records.end(), {kSplitRecord, node, 4 + v.size(), bits_of(split.threshold),
                                       bits_of(split.scale), n, nv});
    for (double x : v) g.records.push_back(bits_of(x));
  }
  if (comm.size() == 1) {  // this rank grows both children, one after the other
    NodeRows right = local_child(rows, split, false);
    NodeRows left = local_child(rows, split, true);
    NodeRows val_right, val_left;
    if (g.validated) {
      val_right = local_child(val, val_split, false);
      val_left = local_child(val, val_split, true);
    }
    rows = val = NodeRows();
    grow(comm, std::move(left), std::move(val_left), 2 * node, depth + 1, g);
    grow(comm, std::move(right), std::move(val_right), 2 * node + 1, depth + 1, g);
    return;
  }
  const ChildRanks ranks = child_ranks(comm.size(), split.left_rows, n - split.left_rows);
  NodeRows child = send_to_children(comm, rows, split, ranks);
  // The validation rows go to the same groups, however unbalanced (a rank may get none).
  NodeRows val_child;
  if (g.validated) val_child = send_to_children(comm, val, val_split, ranks);
  rows = val = NodeRows();
  const int me = comm.rank();
  const int side = me < ranks.left ? 0 : me < ranks.left + ranks.right ? 1 : 2;
  const mpi::Communicator group = comm.split(side, me);
  if (side == 2) return;  // more ranks than rows: this one sits the subtree out
  grow(group, std::move(child), std::move(val_child), 2 * node + side, depth + 1, g);
}

// local: the tree in preorder from the records of every group (heap-numbered nodes).
TreeTrainResult assemble(const std::vector<unsigned long long>& records, Task task, std::size_t d,
                         std::size_t c, std::vector<std::uint64_t>& leaf_nodes) {
  struct Record {
    bool leaf;
    std::vector<unsigned long long> payload;
  };
  std::map<std::uint64_t, Record> by_node;
  for (std::size_t at = 0; at + 3 <= records.size();) {
    const std::size_t words = records[at + 2];
    by_node[records[at + 1]] = {records[at] == kLeafRecord,
                                {records.begin() + at + 3, records.begin() + at + 3 + words}};
    at += 3 + words;
  }
  TreeTrainResult out;
  out.tree.task = task;
  out.tree.dimension = d;
  out.tree.outputs = c;
  // Preorder: a node's index is its place in the walk; a split's children are filled in after.
  const auto visit = [&](auto&& self, std::uint64_t node) -> std::uint32_t {
    const auto it = by_node.find(node);
    if (it == by_node.end())
      throw Error("internal error: tree node " + std::to_string(node) + " has no record");
    const std::uint32_t index = static_cast<std::uint32_t>(out.tree.nodes.size());
    out.tree.nodes.emplace_back();
    if (it->second.leaf) {
      out.tree.nodes[index].leaf = true;
      out.tree.nodes[index].left = static_cast<std::uint32_t>(out.tree.leaf_count++);
      leaf_nodes.push_back(node);
      const auto& p = it->second.payload;  // n, validation rows routed, refilled, row indices
      out.node_rows.push_back(p[0]);
      out.node_validation.push_back(p[1]);
      out.node_refilled.push_back(p[2]);
      out.leaf_rows.emplace_back(p.begin() + 3, p.end());
      return index;
    }
    const auto& p = it->second.payload;  // threshold, scale, n, validation rows, v
    out.tree.nodes[index].threshold = double_of(p[0]);
    out.tree.nodes[index].scale = double_of(p[1]);
    out.node_rows.push_back(p[2]);
    out.node_validation.push_back(p[3]);
    out.node_refilled.push_back(0);
    for (std::size_t j = 4; j < p.size(); ++j)
      out.tree.nodes[index].direction.push_back(double_of(p[j]));
    const std::uint32_t left = self(self, 2 * node);
    const std::uint32_t right = self(self, 2 * node + 1);
    out.tree.nodes[index].left = left;
    out.tree.nodes[index].right = right;
    return index;
  };
  visit(visit, 1);
  return out;
}

// collective: the options of the tree's fits, after the agreed checks of the tree itself.
// `validated`: validation rows are given.
Growth tree_options(const mpi::Communicator& comm, const Options& o, bool validated) {
  mpi::agree(comm, !o.str("output.model").empty(),
             "rfm.leaf_size: the tree is written to output.model; give it");
  mpi::agree(
      comm, o.str("output.metric_matrix").empty(),
      "rfm.leaf_size: every leaf learns its own metric; output.metric_matrix is for one model");
  mpi::agree(comm, o.str("data.centers").empty() && !o.flag("run.dry_run"),
             "rfm.leaf_size: data.centers and run.dry_run are for one model");
  check_train_options(comm, o, false);  // every fit's options, agreed once before any fit
  // A leaf's RFM selects its iteration on its validation rows: refused here rather than in every
  // leaf after the splits.
  const bool split_off = o.real("data.validation_fraction") > 0;
  mpi::agree(comm, o.count("rfm.iterations") == 0 || split_off || validated,
             "rfm.iterations: every leaf's RFM selects its iteration on a validation split of its "
             "rows; give data.validation_fraction or data.validation_features");
  Growth g;
  g.leaf_size = o.count("rfm.leaf_size");
  g.tune = o.flag("rfm.tune_temperature");
  g.leaf_validates = find_solver(o.str("solver.name"))->iterative || o.count("rfm.iterations") > 0;
  mpi::agree(comm, !g.tune || validated || (g.leaf_validates && split_off),
             "rfm.tune_temperature: chosen on the validation rows; give data.validation_features, "
             "or data.validation_fraction with rfm.iterations > 0 or an iterative solver");
  g.validated = validated;
  g.refill_size = o.count("rfm.refill_size");
  g.seed = static_cast<std::uint64_t>(o.integer("solver.seed"));
  g.split_options = o;
  g.leaf_options = o;
  // Given validation rows reach the leaves as rows; the splitters fit without (the reference's
  // splitter holds out 5% of its own subsample instead, which it does not use).
  for (Options* fit : {&g.split_options, &g.leaf_options}) {
    fit->set("data.validation_features", "");
    fit->set("data.validation_labels", "");
  }
  // Each leaf is one model of the run's options on its rows: data.limit applied at the root,
  // no metrics file of its own.
  g.leaf_options.set("output.metrics", "");
  g.leaf_options.set("data.limit", "0");
  g.leaf_options.set("rfm.leaf_size", "0");
  // The splitters' fits are short: never checkpointed, never resumed.
  g.split_options.set("run.checkpoint_dir", "");
  g.split_options.set("run.resume", "no");
  const std::string dir = o.str("run.checkpoint_dir"), resume = o.str("run.resume");
  mpi::agree(comm, resume == "no" || !dir.empty(),
             "run.resume = " + resume + " needs run.checkpoint_dir");
  if (dir.empty()) {
    const std::string pid = comm.broadcast(std::to_string(::getpid()), 0);
    g.leaf_prefix = o.str("output.model") + ".tmp-tree-" + pid + ".leaf-";
    return g;
  }
  g.dir = dir + "/tree";
  g.reuse = resume != "no";
  g.leaf_checkpoints = g.leaf_validates;
  g.leaf_prefix = g.dir + "/leaf-model-";
  bool found = false;
  mpi::agree_on(comm, [&] {
    if (comm.rank() != 0) return;
    if (!g.reuse) std::filesystem::remove_all(g.dir);  // run.resume = no: start afresh
    found = std::filesystem::exists(g.dir);
    std::filesystem::create_directories(g.dir);
  });
  mpi::agree(comm, comm.allreduce_value(found ? 1 : 0, mpi::Op::kMax) == 1 || resume != "require",
             g.dir + ": run.resume = require but there is no tree checkpoint");
  return g;
}

// collective: rank 0 writes the tree (when `complete`) from the leaves' files, then removes
// what it no longer needs: every leaf file of the records without checkpoints; with checkpoints
// the whole checkpoint directory once the tree is written, nothing otherwise (a resumed run
// reuses it). Errors are agreed.
void write_tree(const mpi::Communicator& comm, const Growth& g, const std::string& path,
                const std::vector<unsigned long long>& records, const TreeStructure& tree,
                const std::vector<std::uint64_t>& leaf_nodes, bool complete) {
  mpi::agree_on(comm, [&] {
    if (comm.rank() != 0) return;
    std::vector<std::string> files;
    for (std::size_t at = 0; at + 3 <= records.size(); at += 3 + records[at + 2])
      if (records[at] == kLeafRecord) files.push_back(leaf_file(g.leaf_prefix, records[at + 1]));
    const auto clean = [&](bool written) {
      if (g.dir.empty())
        for (const std::string& f : files) std::remove(f.c_str());
      else if (written)
        std::filesystem::remove_all(g.dir);
    };
    try {
      if (complete) {
        std::vector<std::string> ordered;
        for (std::uint64_t node : leaf_nodes) ordered.push_back(leaf_file(g.leaf_prefix, node));
        write_tree_model(path, tree, ordered);
      }
    } catch (...) {
      clean(false);
      throw;
    }
    clean(complete);
  });
}

}  // namespace

TreeTrainResult train_tree(const mpi::Communicator& comm, const Options& o, LocalData train,
                           LocalData validation, bool collect_leaf_rows) {
  const bool validated = comm.allreduce_value(validation.partition.size(), mpi::Op::kMax) > 0;
  Growth g = tree_options(comm, o, validated);
  g.collect_leaf_rows = collect_leaf_rows;
  const Log log(comm, o.flag("run.verbose_ranks"));
  g.log = &log;
  mpi::agree(comm,
             train.partition == BlockPartition(train.partition.size(), comm.size()) &&
                 train.partition.count(comm.rank()) == train.features.rows(),
             "rfm.leaf_size: the training rows are not this rank's block of BlockPartition(n, P)");
  mpi::agree(
      comm,
      !validated ||
          (validation.partition == BlockPartition(validation.partition.size(), comm.size()) &&
           validation.partition.count(comm.rank()) == validation.features.rows()),
      "rfm.leaf_size: the validation rows are not this rank's block of BlockPartition(n, P)");
  // data.limit applies to the whole tree, as to one model.
  const std::size_t limit = o.count("data.limit");
  if (limit > 0 && limit < train.partition.size())
    train = take_rows(comm, train,
                      row_selection(train.partition.size(), limit, 0,
                                    static_cast<std::uint64_t>(o.integer("solver.seed")))
                          .train);
  const Task task = decide_task(comm, o.str("data.task"), train);
  const std::size_t c = task == Task::kClassification
                            ? count_classes(comm, train, "training labels")
                            : comm.allreduce_value(train.targets.cols(), mpi::Op::kMax);
  const std::size_t d = train.dimension;
  g.integer_classes = task == Task::kClassification && train.table.classes.empty();
  NodeRows val_root;
  if (validated) {
    ModelHeader h;  // what the validation rows are checked against: the tree's d, task and c
    h.dimension = d;
    h.task = task;
    h.outputs = c;
    mpi::agree(comm, validation.dimension == d,
               "validation rows: " + std::to_string(validation.dimension) +
                   " features per row but the training rows have " + std::to_string(d));
    check_eval_labels(comm, validation, "validation labels", h, /*unseen_classes_miss=*/true);
    for (std::size_t i = validation.partition.begin(comm.rank());
         i < validation.partition.end(comm.rank()); ++i)
      val_root.index.push_back(i);
    if (g.tune) g.validation = {validation.features, validation.targets};
    val_root.data = std::move(validation);
  }
  NodeRows root;
  for (std::size_t i = train.partition.begin(comm.rank()); i < train.partition.end(comm.rank());
       ++i)
    root.index.push_back(i);
  g.table = train.table;
  root.data = std::move(train);
  if (!g.dir.empty()) check_fingerprint(comm, g.dir, tree_fingerprint(comm, o, root, val_root));
  // A failure inside a group is agreed there (a CollectiveError on all its ranks), ends that
  // group's work, and meets every other rank at the allgather below.
  bool ok = true, stopped = false;
  std::string message;
  int failing = INT_MAX;  // the world rank a group's agreed error names
  try {
    grow(comm, std::move(root), std::move(val_root), 1, 0, g);
  } catch (const CollectiveError& e) {
    ok = false;
    message = e.what();
    failing = e.failing_rank();
  } catch (const TreeStopped&) {
    stopped = true;
  }
  // The groups finish at different times (one group's leaves can take minutes longer): the
  // ranks that are done wait here without the stall watchdog counting the wait as a lost peer.
  comm.wait_for_peers();
  const int P = comm.size();
  const int mine = static_cast<int>(g.records.size());
  const std::vector<int> counts = comm.allgather(&mine, 1);
  std::vector<int> displs(P, 0);
  for (int r = 1; r < P; ++r) displs[r] = displs[r - 1] + counts[r - 1];
  std::vector<unsigned long long> records(static_cast<std::size_t>(displs[P - 1] + counts[P - 1]));
  comm.allgatherv(g.records.data(), records.data(), counts, displs);
  const bool all_ok = comm.allreduce_value(ok ? 0 : 1, mpi::Op::kMax) == 0;
  const bool any_stopped = comm.allreduce_value(stopped ? 1 : 0, mpi::Op::kMax) == 1;
  TreeTrainResult result;
  std::vector<std::uint64_t> leaf_nodes;
  if (all_ok && !any_stopped) result = assemble(records, task, d, c, leaf_nodes);
  result.validated = validated;
  result.tree.temperature = o.real("rfm.soft_temperature");
  if (g.tune && all_ok && !any_stopped) {
    TreeModel model;
    model.tree = result.tree;
    for (std::uint64_t node : leaf_nodes)
      model.leaves.push_back(load_model(comm, leaf_file(g.leaf_prefix, node)));
    result.tree.temperature = tune_temperature(comm, model, g.validation, log);
  }
  write_tree(comm, g, o.str("output.model"), records, result.tree, leaf_nodes,
             all_ok && !any_stopped);
  // Every rank of a failed group holds its message; the line names the rank that failed.
  const int culprit = comm.allreduce_value(ok ? INT_MAX : failing, mpi::Op::kMin);
  if (culprit < INT_MAX) {
    const int holder = comm.allreduce_value(ok ? P : comm.rank(), mpi::Op::kMin);
    throw CollectiveError(comm.broadcast(comm.rank() == holder ? message : std::string(), holder),
                          culprit);
  }
  if (!collect_leaf_rows) result.leaf_rows.clear();
  if (any_stopped) {
    log.info(
        "tree: stopped; its finished splits and leaves are in %s: run again with "
        "run.resume = auto",
        g.dir.c_str());
    result.exit_code = kExitCheckpointedOnSignal;
    return result;
  }
  log.info("tree: %zu leaves, %zu nodes -> %s", result.tree.leaf_count, result.tree.nodes.size(),
           o.str("output.model").c_str());
  return result;
}

Matrix<double> predict_tree(const mpi::Communicator& comm, const TreeModel& model,
                            const std::vector<std::size_t>& offsets, const Matrix<double>& x) {
  (void)offsets;  // the layout of the rows each leaf sees is its own
  const std::size_t c = model.tree.outputs, local = x.rows();
  // Each leaf's rows and their weights (hard routing: one leaf, weight 1).
  std::vector<std::vector<std::pair<std::size_t, double>>> by_leaf(model.leaves.size());
  for (std::size_t i = 0; i < local; ++i)
    for (const auto& [leaf, weight] : model.tree.soft_route(x.row(i)))
      by_leaf[leaf].push_back({i, weight});
  Matrix<double> out(local, c);
  const int P = comm.size();
  for (std::size_t l = 0; l < model.leaves.size(); ++l) {
    const auto& mine = by_leaf[l];
    const std::size_t count = mine.size();
    const std::vector<std::size_t> counts = comm.allgather(&count, 1);
    std::vector<std::size_t> leaf_offsets(P + 1, 0);
    for (int r = 0; r < P; ++r) leaf_offsets[r + 1] = leaf_offsets[r] + counts[r];
    if (leaf_offsets[P] == 0) continue;  // no query reaches this leaf (the same on every rank)
    const LocalModel& m = model.leaves[l];
    Matrix<double> q(count, x.cols());
    for (std::size_t k = 0; k < count; ++k)
      std::copy(x.row(mine[k].first), x.row(mine[k].first) + x.cols(), q.row(k));
    m.header.prepare_inputs(q);
    const LocalCenters z(m.centers, Precision::kFloat64);
    const Matrix<double> p =
        predict_distributed(comm, m.header.kernel, z, m.weights, leaf_offsets, q);
    for (std::size_t k = 0; k < count; ++k)
      for (std::size_t j = 0; j < p.cols(); ++j) out(mine[k].first, j) += mine[k].second * p(k, j);
  }
  return out;
}

}  // namespace kmpi
