// The tree model file (layout in state/tree_model.hpp). Rank 0 writes it alone, copying the
// leaves' model files (written collectively by the leaves' groups) into it; loading checks the
// whole file's CRC and the tree's structure on rank 0, then every leaf is read in place with
// load_model_window, so each rank reads only its rows of every leaf.
#include "state/tree_model.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "base/fault.hpp"
#include "io/little_endian.hpp"
#include "io/posix_file.hpp"

namespace kmpi {

namespace {

using detail::fail;
using detail::FileErrors;
using detail::get_f64;
using detail::get_le;
using detail::PosixFile;
using detail::put_f64;
using detail::put_le;

constexpr char kTreeMagic[8] = {'K', 'M', 'P', 'I', 'T', 'R', 'E', 'E'};
constexpr std::uint64_t kFixedHeaderBytes = 48;  // magic .. leaves, every version
constexpr std::size_t kCopyChunk = std::size_t{8} << 20;

std::uint64_t header_bytes(std::uint32_t version) { return version >= 2 ? 56 : 48; }
std::uint64_t node_bytes(std::uint32_t version, std::uint64_t d) {
  return (version >= 2 ? 28 : 20) + 8 * d;
}

// The tables from their bytes (already checked to be complete): header, nodes, leaf places.
TreeStructure decode_tables(const unsigned char* head, std::vector<std::uint64_t>& places) {
  TreeStructure t;
  const auto version = get_le<std::uint32_t>(head + 8);
  t.task = static_cast<Task>(get_le<std::uint32_t>(head + 12));
  const std::uint64_t d = get_le<std::uint64_t>(head + 16);
  t.dimension = d;
  t.outputs = get_le<std::uint64_t>(head + 24);
  t.nodes.resize(get_le<std::uint64_t>(head + 32));
  t.leaf_count = get_le<std::uint64_t>(head + 40);
  if (version >= 2) t.temperature = get_f64(head + 48);
  const unsigned char* p = head + header_bytes(version);
  const std::uint64_t at = version >= 2 ? 28 : 20;
  for (TreeNode& n : t.nodes) {
    n.leaf = get_le<std::uint32_t>(p) == 1;
    n.left = get_le<std::uint32_t>(p + 4);
    n.right = get_le<std::uint32_t>(p + 8);
    n.threshold = get_f64(p + 12);
    if (version >= 2) n.scale = get_f64(p + 20);
    if (!n.leaf) {
      n.direction.resize(d);
      for (std::size_t j = 0; j < d; ++j) n.direction[j] = get_f64(p + at + 8 * j);
    }
    p += node_bytes(version, d);
  }
  places.resize(2 * t.leaf_count);
  for (std::uint64_t& v : places) {
    v = get_le<std::uint64_t>(p);
    p += 8;
  }
  return t;
}

// The header, node table and leaf table; `offsets` and `lengths` place the leaves' files.
std::string encode_tables(const TreeStructure& t, const std::vector<std::uint64_t>& lengths) {
  std::string out(kTreeMagic, sizeof kTreeMagic);
  put_le<std::uint32_t>(out, kTreeModelVersion);
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(t.task));
  put_le<std::uint64_t>(out, t.dimension);
  put_le<std::uint64_t>(out, t.outputs);
  put_le<std::uint64_t>(out, t.nodes.size());
  put_le<std::uint64_t>(out, t.leaf_count);
  put_f64(out, t.temperature);
  for (const TreeNode& n : t.nodes) {
    put_le<std::uint32_t>(out, n.leaf ? 1 : 0);
    put_le<std::uint32_t>(out, n.left);
    put_le<std::uint32_t>(out, n.right);
    put_f64(out, n.threshold);
    put_f64(out, n.leaf ? 0.0 : n.scale);
    for (std::size_t j = 0; j < t.dimension; ++j) put_f64(out, n.leaf ? 0.0 : n.direction[j]);
  }
  std::uint64_t at = out.size() + 16 * lengths.size();
  for (std::uint64_t length : lengths) {
    put_le<std::uint64_t>(out, at);
    put_le<std::uint64_t>(out, length);
    at += length;
  }
  return out;
}

// Throws naming `path` unless the nodes form one tree in preorder: children after their parent,
// every node but the root some split's child exactly once, every leaf index used exactly once.
void check_structure(const std::string& path, const TreeStructure& t) {
  const std::size_t n = t.nodes.size();
  std::vector<int> parents(n, 0), leaf_uses(t.leaf_count, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const TreeNode& node = t.nodes[i];
    if (node.leaf) {
      if (node.left >= t.leaf_count) fail(path, "corrupt tree: a leaf index out of range");
      ++leaf_uses[node.left];
      continue;
    }
    if (node.left <= i || node.right <= i || node.left >= n || node.right >= n ||
        node.left == node.right)
      fail(path, "corrupt tree: node " + std::to_string(i) + " has children out of order");
    ++parents[node.left];
    ++parents[node.right];
    if (!std::isfinite(node.threshold)) fail(path, "corrupt tree: a threshold is not finite");
    for (double v : node.direction)
      if (!std::isfinite(v)) fail(path, "corrupt tree: a split direction is not finite");
  }
  for (std::size_t i = 1; i < n; ++i)
    if (parents[i] != 1)
      fail(path, "corrupt tree: node " + std::to_string(i) + " is not one child");
  for (int uses : leaf_uses)
    if (uses != 1) fail(path, "corrupt tree: a leaf model is not used exactly once");
}

// Reads and checks the tables of an open tree file (rank 0); `raw` gets their bytes.
TreeStructure read_tables(const std::string& path, const PosixFile& file, std::string& raw) {
  const std::uint64_t size = file.size();
  unsigned char head[kFixedHeaderBytes] = {};
  if (file.read_at(0, head, sizeof head) < sizeof head ||
      std::memcmp(head, kTreeMagic, sizeof kTreeMagic) != 0)
    fail(path, "not a kmpi tree model");
  const auto version = get_le<std::uint32_t>(head + 8);
  if (version == 0 || version > kTreeModelVersion)
    fail(path, "tree model format version " + std::to_string(version) +
                   " (this build reads up to " + std::to_string(kTreeModelVersion) + ")");
  detail::verify_crc_trailer(file, size);
  const auto task = get_le<std::uint32_t>(head + 12);
  const auto d = get_le<std::uint64_t>(head + 16), c = get_le<std::uint64_t>(head + 24);
  const auto nodes = get_le<std::uint64_t>(head + 32), leaves = get_le<std::uint64_t>(head + 40);
  const std::uint64_t per_node = node_bytes(version, d);
  if (task > 1 || d == 0 || c == 0 || nodes == 0 || leaves == 0 || d > size || nodes > size ||
      leaves > nodes || (nodes * per_node) / per_node != nodes)
    fail(path, "corrupt tree header");
  const std::uint64_t tables = header_bytes(version) + nodes * per_node + 16 * leaves;
  if (tables + 4 > size) fail(path, "truncated: the tree's tables end after the file");
  raw.resize(tables);
  file.read_exactly(0, raw.data(), tables);
  std::vector<std::uint64_t> places;
  TreeStructure t = decode_tables(reinterpret_cast<const unsigned char*>(raw.data()), places);
  if (!(t.temperature >= 0) || !std::isfinite(t.temperature))
    fail(path, "corrupt tree: the soft-routing temperature is not a finite value >= 0");
  for (const TreeNode& n : t.nodes)
    if (!(n.scale >= 0) || !std::isfinite(n.scale))
      fail(path, "corrupt tree: a split's scale is not a finite value >= 0");
  for (std::size_t l = 0; l < leaves; ++l) {
    const std::uint64_t offset = places[2 * l], length = places[2 * l + 1];
    if (offset < tables || length == 0 || offset > size - 4 || length > size - 4 - offset)
      fail(path, "corrupt tree: a leaf model lies outside the file");
  }
  check_structure(path, t);
  return t;
}

// Appends the bytes of `from` to `to` at `at`, updating `crc`; returns the bytes copied.
std::uint64_t copy_into(const PosixFile& to, std::uint64_t at, const std::string& from,
                        uLong& crc) {
  FileErrors errors;
  errors.label = from;
  const PosixFile in(from, O_RDONLY, 0, errors);
  std::vector<unsigned char> buffer(kCopyChunk);
  for (std::uint64_t done = 0; done < in.size();) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(in.size() - done, buffer.size()));
    in.read_exactly(done, buffer.data(), n);
    to.write_at(at + done, buffer.data(), n);
    crc = crc32(crc, buffer.data(), static_cast<uInt>(n));
    done += n;
  }
  return in.size();
}

}  // namespace

std::vector<std::pair<std::uint32_t, double>> TreeStructure::soft_route(const double* x) const {
  if (!(temperature > 0)) return {{route(x), 1.0}};
  // log sigmoid(t), stable for large |t|.
  const auto log_sigmoid = [](double t) {
    return t >= 0 ? -std::log1p(std::exp(-t)) : t - std::log1p(std::exp(t));
  };
  std::vector<std::pair<std::uint32_t, double>> leaves, stack{{0u, 0.0}};  // (node, log weight)
  while (!stack.empty()) {
    const auto [i, log_weight] = stack.back();
    stack.pop_back();
    const TreeNode& n = nodes[i];
    if (n.leaf) {
      leaves.push_back({n.left, log_weight});
      continue;
    }
    const double proj = tree_projection(x, n.direction.data(), dimension);
    const double width = temperature * n.scale;
    if (!(width > 0)) {  // no spread to scale by: this split routes hard
      stack.push_back({proj <= n.threshold ? n.left : n.right, log_weight});
      continue;
    }
    const double z = (proj - n.threshold) / width;
    stack.push_back({n.left, log_weight + log_sigmoid(-z)});
    stack.push_back({n.right, log_weight + log_sigmoid(z)});
  }
  // The softmax of the path sums, heaviest first (ties by leaf index), cut at the mass or count.
  double top = -INFINITY, total = 0;
  for (const auto& l : leaves) top = std::max(top, l.second);
  for (auto& l : leaves) total += l.second = std::exp(l.second - top);
  for (auto& l : leaves) l.second /= total;
  std::sort(leaves.begin(), leaves.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::size_t keep = 0;
  double kept = 0;
  while (keep < leaves.size() && keep < kSoftRoutingLeaves && kept < kSoftRoutingMass)
    kept += leaves[keep++].second;
  leaves.resize(keep);
  for (auto& l : leaves) l.second /= kept;
  return leaves;
}

ModelHeader TreeModel::input_header() const {
  ModelHeader h;
  h.task = tree.task;
  h.dimension = tree.dimension;
  h.outputs = tree.outputs;
  h.centers = 0;
  // A tree trained on a table: its encoding (fitted on all the tree's training rows) is in
  // every leaf's model file, the same in each; queries are encoded with it as they are read.
  if (!leaves.empty()) {
    h.kernel = leaves[0].header.kernel;
    h.table = leaves[0].header.table;
  }
  return h;
}

bool is_tree_model_file(const mpi::Communicator& comm, const std::string& path) {
  int tree = 0;
  if (comm.rank() == 0) {
    if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
      char magic[8] = {};
      tree = std::fread(magic, 1, 8, f) == 8 && std::memcmp(magic, kTreeMagic, 8) == 0;
      std::fclose(f);
    }
  }
  comm.broadcast(&tree, 1, 0);
  return tree != 0;
}

void write_tree_model(const std::string& path, const TreeStructure& tree,
                      const std::vector<std::string>& leaf_files) {
  if (leaf_files.size() != tree.leaf_count)
    fail(path, "internal error: " + std::to_string(leaf_files.size()) + " leaf files for " +
                   std::to_string(tree.leaf_count) + " leaves");
  check_structure(path, tree);
  std::vector<std::uint64_t> lengths;
  for (const std::string& f : leaf_files) {
    FileErrors errors;
    errors.label = f;
    lengths.push_back(PosixFile(f, O_RDONLY, 0, errors).size());
  }
  const std::string head = encode_tables(tree, lengths);
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  FileErrors errors;
  errors.label = temp;
  try {
    PosixFile out(temp, O_WRONLY | O_CREAT | O_EXCL, 0644, errors);
    out.write_at(0, head.data(), head.size());
    uLong crc =
        crc32(0L, reinterpret_cast<const Bytef*>(head.data()), static_cast<uInt>(head.size()));
    std::uint64_t at = head.size();
    for (const std::string& f : leaf_files) at += copy_into(out, at, f, crc);
    std::string trailer;
    put_le<std::uint32_t>(trailer, static_cast<std::uint32_t>(crc));
    out.write_at(at, trailer.data(), trailer.size());
    out.sync();
    out.close();
    fault::point("io.rename");
    if (std::rename(temp.c_str(), path.c_str()) != 0) fail(path, "cannot rename the temporary");
  } catch (...) {
    std::remove(temp.c_str());
    throw;
  }
  detail::sync_directory_of(path);
}

TreeModel load_tree_model(const mpi::Communicator& comm, const std::string& path) {
  std::string raw;
  mpi::agree_on(comm, [&] {
    if (comm.rank() != 0) return;
    FileErrors errors;
    errors.label = path;
    errors.directory_is_not_a = "model file";
    const PosixFile file(path, O_RDONLY, 0, errors);
    read_tables(path, file, raw);
  });
  raw = comm.broadcast(raw, 0);
  // Every rank decodes the tables rank 0 read and checked.
  TreeModel m;
  std::vector<std::uint64_t> places;
  m.tree = decode_tables(reinterpret_cast<const unsigned char*>(raw.data()), places);
  for (std::size_t l = 0; l < m.tree.leaf_count; ++l) {
    m.leaves.push_back(load_model_window(comm, path, places[2 * l], places[2 * l + 1]));
    const ModelHeader& h = m.leaves.back().header;
    mpi::agree(
        comm,
        h.dimension == m.tree.dimension && h.task == m.tree.task && h.outputs <= m.tree.outputs,
        path + ": corrupt tree: leaf " + std::to_string(l) +
            " does not match the tree's d, task or outputs");
  }
  return m;
}

}  // namespace kmpi
