// One split of the xRFM tree (search/tree.hpp): the splitter's direction, the median by rank of
// the projections, and the move of the rows to the children's groups.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/permutation.hpp"
#include "kernels/agop.hpp"
#include "search/tree.hpp"

namespace kmpi {

namespace {

// The AGOP of a splitter is averaged over at most this many of its rows (RFM's default N_s).
constexpr std::size_t kSplitAgopSamples = 20000;

// An unsigned key with the order of the doubles (not NaN): flip every bit of a negative, the sign
// bit of a positive. -0 is taken as +0, so equal projections have equal keys.
std::uint64_t order_key(double p) {
  if (p == 0) p = 0.0;
  std::uint64_t b = 0;
  std::memcpy(&b, &p, sizeof b);
  return (b >> 63) != 0 ? ~b : b | (std::uint64_t{1} << 63);
}

double from_order_key(std::uint64_t k) {
  const std::uint64_t b = (k >> 63) != 0 ? k & ~(std::uint64_t{1} << 63) : ~k;
  double p = 0;
  std::memcpy(&p, &b, sizeof p);
  return p;
}

// collective: the smallest v in [lo, hi] with count(v) >= target, where count is a non-decreasing
// count summed over the ranks (count(hi) >= target).
template <class Count>
std::uint64_t smallest_reaching(const mpi::Communicator& comm, std::uint64_t lo, std::uint64_t hi,
                                unsigned long long target, Count&& local_count) {
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    const auto c = comm.allreduce_value(static_cast<unsigned long long>(local_count(mid)));
    if (c >= target)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// collective: the splitter's fit on a seeded subsample of the node's rows, and that subsample
// (unscaled) for its AGOP.
TrainResult fit_splitter(const mpi::Communicator& comm, const Options& o, const NodeRows& rows,
                         std::uint64_t node, LocalData& sample) {
  const std::size_t n = rows.data.partition.size();
  const std::size_t s = std::min<std::size_t>(n, o.count("rfm.split_samples"));
  const std::uint64_t seed = static_cast<std::uint64_t>(o.integer("solver.seed"));
  sample = s < n
               ? take_rows(comm, rows.data, random_subset(n, s, seed, RngStream::kTreeSplit, node))
               : rows.data;
  Options fit = o;
  for (const char* key : {"output.model", "output.metrics", "output.metric_matrix"})
    fit.set(key, "");
  fit.set("rfm.iterations", "0");
  fit.set("rfm.leaf_size", "0");
  fit.set("data.limit", "0");
  TrainRows train;
  train.train = sample;
  train.train_name = "tree node " + std::to_string(node) + " rows";
  return train_in_memory(comm, fit, std::move(train));
}

}  // namespace

std::vector<double> top_eigenvector(const Matrix<double>& g) {
  const std::size_t d = g.cols();
  std::vector<double> v(d, 0.0);
  if (g.rows() == 1) {  // diagonal: the unit vector of the largest entry
    v[std::max_element(g.data(), g.data() + d) - g.data()] = 1.0;
    return v;
  }
  // A fixed start with distinct entries, so it is not orthogonal to the top eigenvector of any
  // structured G by accident.
  for (std::size_t j = 0; j < d; ++j) v[j] = 1.0 + static_cast<double>(j) / static_cast<double>(d);
  std::vector<double> w(d);
  for (int it = 0; it < kPowerIterations; ++it) {
    double norm = 0;
    for (std::size_t i = 0; i < d; ++i) {
      double s = 0;
      for (std::size_t j = 0; j < d; ++j) s += g(i, j) * v[j];
      w[i] = s;
      norm += s * s;
    }
    if (!(norm > 0) || !std::isfinite(norm)) break;  // G = 0 (a constant fit): keep the start
    norm = std::sqrt(norm);
    for (std::size_t i = 0; i < d; ++i) v[i] = w[i] / norm;
  }
  double norm = 0;
  for (double x : v) norm += x * x;
  norm = std::sqrt(norm);
  const auto top = std::max_element(v.begin(), v.end(),
                                    [](double a, double b) { return std::abs(a) < std::abs(b); });
  const double sign = *top < 0 ? -1.0 : 1.0;
  for (double& x : v) x *= sign / norm;
  return v;
}

std::vector<double> split_direction(const mpi::Communicator& comm, const Options& o,
                                    const NodeRows& rows, std::uint64_t node) {
  LocalData sample;
  const TrainResult fit = fit_splitter(comm, o, rows, node, sample);
  const ModelHeader& h = fit.model.header;
  // The AGOP sample: at most kSplitAgopSamples of the splitter's rows (seeded), as model inputs.
  const std::size_t s = sample.partition.size(), m = std::min(s, kSplitAgopSamples);
  const std::uint64_t seed = static_cast<std::uint64_t>(o.integer("solver.seed"));
  LocalData agop_rows =
      m < s ? take_rows(comm, sample, random_subset(s, m, seed, RngStream::kTreeSplit, ~node))
            : std::move(sample);
  h.prepare_inputs(agop_rows.features);
  const std::string kind = o.str("rfm.metric");
  AgopInput in;
  in.kernel = h.kernel;
  in.precision = o.str("solver.precision") == "float64" ? Precision::kFloat64 : Precision::kFloat32;
  in.sample = &agop_rows.features;
  in.sample_total = m;
  in.centers = &fit.model.centers;
  in.alpha = &fit.model.weights;
  in.layout = CenterLayout::kPartitioned;
  in.diagonal = kind == "diagonal" || (kind == "auto" && h.dimension > 2000);
  in.metric = h.metric.is_identity() ? nullptr : &h.metric;
  Matrix<double> g = agop(comm, in);
  // G is in scaled coordinates u = (x - offset) * multiplier: by the chain rule the raw
  // features' AGOP is D G D with D = diag(multiplier).
  const std::vector<double>& mult = h.scaling.multiplier;
  if (!mult.empty())
    for (std::size_t i = 0; i < g.rows(); ++i)
      for (std::size_t j = 0; j < g.cols(); ++j)
        g(i, j) *= (g.rows() == 1 ? mult[j] : mult[i]) * mult[j];
  std::vector<double> v = top_eigenvector(g);
  comm.broadcast(v.data(), v.size(), 0);  // the same bits on every rank, whatever the BLAS
  return v;
}

MedianSplit median_split(const mpi::Communicator& comm, const std::vector<double>& projections,
                         const std::vector<std::size_t>& index, std::size_t n) {
  MedianSplit split;
  split.left_rows = (n + 1) / 2;
  const std::size_t local = projections.size();
  std::vector<std::uint64_t> keys(local);
  for (std::size_t i = 0; i < local; ++i) keys[i] = order_key(projections[i]);
  const auto none = std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t lo = comm.allreduce_value(
      static_cast<unsigned long long>(local ? *std::min_element(keys.begin(), keys.end()) : none),
      mpi::Op::kMin);
  const std::uint64_t hi = comm.allreduce_value(
      static_cast<unsigned long long>(local ? *std::max_element(keys.begin(), keys.end()) : 0),
      mpi::Op::kMax);
  // K: the key of the ceil(n/2)-th smallest projection.
  const std::uint64_t k = smallest_reaching(comm, lo, hi, split.left_rows, [&](std::uint64_t v) {
    return std::count_if(keys.begin(), keys.end(), [&](std::uint64_t x) { return x <= v; });
  });
  std::size_t below_local = 0;
  for (std::uint64_t x : keys) below_local += x < k;
  const std::size_t below = comm.allreduce_value(below_local);
  // I: among the rows whose key is K, the largest index that still goes left.
  const std::uint64_t last =
      smallest_reaching(comm, 0,
                        static_cast<std::uint64_t>(comm.allreduce_value(
                            local ? index.back() : std::size_t{0}, mpi::Op::kMax)),
                        split.left_rows - below, [&](std::uint64_t v) {
                          std::size_t c = 0;
                          for (std::size_t i = 0; i < local; ++i)
                            c += keys[i] == k && index[i] <= v;
                          return c;
                        });
  // The quartiles' values (the ceil(n/4)-th and ceil(3n/4)-th smallest projections).
  const auto kth = [&](std::size_t rank) {
    return from_order_key(smallest_reaching(comm, lo, hi, rank, [&](std::uint64_t v) {
      return std::count_if(keys.begin(), keys.end(), [&](std::uint64_t x) { return x <= v; });
    }));
  };
  split.scale =
      kth(std::max<std::size_t>(1, (3 * n + 3) / 4)) - kth(std::max<std::size_t>(1, (n + 3) / 4));
  split.left.resize(local);
  for (std::size_t i = 0; i < local; ++i)
    split.left[i] = keys[i] < k || (keys[i] == k && index[i] <= last);
  split.threshold = from_order_key(k);
  return split;
}

NodeRows local_child(const NodeRows& rows, const MedianSplit& split, bool left) {
  std::vector<std::size_t> picked;
  for (std::size_t i = 0; i < split.left.size(); ++i)
    if ((split.left[i] != 0) == left) picked.push_back(i);
  NodeRows child;
  child.data.partition = BlockPartition(picked.size(), 1);
  child.data.dimension = rows.data.dimension;
  child.data.target_kind = rows.data.target_kind;
  child.data.features = select_rows(rows.data.features, picked);
  child.data.targets =
      rows.data.targets.empty() ? Matrix<double>() : select_rows(rows.data.targets, picked);
  for (std::size_t i : picked) child.index.push_back(rows.index[i]);
  child.data.source_rows = child.index;
  return child;
}

ChildRanks child_ranks(int P, std::size_t left_rows, std::size_t right_rows) {
  const double share = static_cast<double>(P) * static_cast<double>(left_rows) /
                       static_cast<double>(left_rows + right_rows);
  ChildRanks r;
  r.left = static_cast<int>(std::clamp<long long>(std::llround(share), 1, P - 1));
  r.left = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(r.left), left_rows));
  r.right =
      static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(P - r.left), right_rows));
  r.left =
      static_cast<int>(std::min<std::size_t>(left_rows, static_cast<std::size_t>(P - r.right)));
  return r;
}

NodeRows send_to_children(const mpi::Communicator& comm, const NodeRows& rows,
                          const MedianSplit& split, ChildRanks ranks) {
  const int left_ranks = ranks.left;
  const int P = comm.size(), me = comm.rank();
  const std::size_t d = rows.data.dimension, n = rows.data.partition.size();
  const std::size_t t = comm.allreduce_value(rows.data.targets.cols(), mpi::Op::kMax);
  const std::size_t width = d + t + 1, local = split.left.size();
  std::size_t mine[2] = {0, 0};  // this rank's left and right rows
  for (char l : split.left) ++mine[l ? 0 : 1];
  const std::vector<std::size_t> counts = comm.allgather(mine, 2);
  const BlockPartition sides[2] = {BlockPartition(split.left_rows, left_ranks),
                                   BlockPartition(n - split.left_rows, ranks.right)};
  const int first_rank[2] = {0, left_ranks};
  // The child positions of rank r's rows of side s start at the sum of earlier ranks' counts.
  std::vector<std::size_t> start(2 * P + 2, 0);
  for (int r = 0; r < P; ++r)
    for (int s = 0; s < 2; ++s) start[2 * (r + 1) + s] = start[2 * r + s] + counts[2 * r + s];
  // MPI counts are ints: the rows a rank sends or receives times their width must fit one.
  const std::size_t most = std::max({local, sides[0].count(0), sides[1].count(0)});
  mpi::agree(comm, most <= static_cast<std::size_t>(INT_MAX) / width,
             "rfm.leaf_size: a node's rows are too many to move between ranks in one message; "
             "use more ranks");
  std::vector<int> dest(local);
  std::vector<int> send_counts(P, 0), send_displs(P, 0), recv_counts(P, 0), recv_displs(P, 0);
  std::size_t at[2] = {start[2 * me], start[2 * me + 1]};
  for (std::size_t i = 0; i < local; ++i) {
    const int s = split.left[i] ? 0 : 1;
    dest[i] = first_rank[s] + sides[s].owner(at[s]++);
    send_counts[dest[i]] += static_cast<int>(width);
  }
  // What this rank receives from each rank: the overlap of its child's block with their rows.
  const int side = me < left_ranks ? 0 : 1, part = me - first_rank[side];
  const bool idle = me >= left_ranks + ranks.right;  // receives nothing
  const std::size_t begin = idle ? 0 : sides[side].begin(part),
                    end = idle ? 0 : sides[side].end(part);
  for (int r = 0; r < P && !idle; ++r) {
    const std::size_t lo = std::max(begin, start[2 * r + side]),
                      hi = std::min(end, start[2 * r + side] + counts[2 * r + side]);
    recv_counts[r] = hi > lo ? static_cast<int>((hi - lo) * width) : 0;
  }
  for (int r = 1; r < P; ++r) {
    send_displs[r] = send_displs[r - 1] + send_counts[r - 1];
    recv_displs[r] = recv_displs[r - 1] + recv_counts[r - 1];
  }
  std::vector<double> send(local * width);
  std::vector<int> cursor = send_displs;
  for (std::size_t i = 0; i < local; ++i) {
    double* row = send.data() + cursor[dest[i]];
    cursor[dest[i]] += static_cast<int>(width);
    std::copy(rows.data.features.row(i), rows.data.features.row(i) + d, row);
    if (t > 0) std::copy(rows.data.targets.row(i), rows.data.targets.row(i) + t, row + d);
    row[d + t] = static_cast<double>(rows.index[i]);
  }
  const std::size_t got = end - begin;
  std::vector<double> recv(got * width);
  comm.alltoallv(send.data(), send_counts, send_displs, recv.data(), recv_counts, recv_displs);
  NodeRows child;
  child.data.partition = BlockPartition(sides[side].size(), sides[side].parts());
  child.data.dimension = d;
  child.data.target_kind = rows.data.target_kind;
  child.data.features = Matrix<double>(got, d);
  child.data.targets = Matrix<double>(got, t);
  for (std::size_t i = 0; i < got; ++i) {
    const double* row = recv.data() + i * width;
    std::copy(row, row + d, child.data.features.row(i));
    std::copy(row + d, row + d + t, child.data.targets.row(i));
    child.index.push_back(static_cast<std::size_t>(row[d + t]));
  }
  child.data.source_rows = child.index;
  return child;
}

}  // namespace kmpi
