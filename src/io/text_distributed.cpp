// Text files read in parallel (src/io/text_distributed.hpp): byte ranges per rank, counts
// combined, rows sent to their owners.
#include "io/text_distributed.hpp"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <limits>

#include "kmpi/error.hpp"
#include "io/posix_file.hpp"

namespace kmpi::detail {

namespace {

// The largest block a rank may densify: the node's physical memory. A LIBSVM file with one
// absurd index (or data.dimension) would otherwise allocate rows x d doubles and die in the
// allocator; refuse with the numbers instead.
void check_dense_size(const std::string& path, std::size_t rows, std::size_t d) {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  const double limit = pages > 0 && page > 0 ? static_cast<double>(pages) * page : 1e18;
  const double bytes = static_cast<double>(rows) * static_cast<double>(d) * sizeof(double);
  if (bytes > limit)
    fail(path, "densifying " + std::to_string(rows) + " rows x " + std::to_string(d) +
                   " features needs " + std::to_string(bytes / (1 << 30)) +
                   " GiB on one rank, more than this node's memory (" +
                   std::to_string(limit / (1 << 30)) +
                   " GiB); use more ranks, or check the largest feature index / data.dimension");
}

}  // namespace

FileInfo text_info(const text::TextLayout& layout, std::size_t rows, std::size_t max_index,
                   bool labels_integer, bool features_integer) {
  FileInfo info;
  info.format = layout.format;
  info.rows = rows;
  if (layout.format == FileFormat::kCsv) {
    info.cols = layout.feature_columns();
    info.label_cols = layout.label_column == text::kNone ? 0 : 1;
  } else {
    info.cols = layout.dimension > 0 ? layout.dimension : max_index;
    info.label_cols = layout.embedded_labels ? 1 : 0;
  }
  info.element = features_integer ? ElementKind::kInteger : ElementKind::kFloating;
  info.label_element = labels_integer ? ElementKind::kInteger : ElementKind::kFloating;
  return info;
}

void check_text_shape(const std::string& path, const FileInfo& info) {
  if (info.rows == 0) fail(path, "no data rows");
  if (info.cols == 0)
    fail(path, info.format == FileFormat::kLibsvm
                   ? "no feature index:value pair on any line (d would be 0)"
                   : "the rows are empty");
}

void chunk_row(const text::TextChunk& chunk, FileFormat format, std::size_t i, std::size_t d,
               double* x, double* label) {
  if (format == FileFormat::kCsv) {
    std::copy(chunk.values.begin() + static_cast<std::ptrdiff_t>(i * d),
              chunk.values.begin() + static_cast<std::ptrdiff_t>((i + 1) * d), x);
  } else {
    std::fill(x, x + d, 0.0);
    for (std::size_t k = chunk.row_start[i]; k < chunk.row_start[i + 1]; ++k)
      x[chunk.index[k]] = chunk.values[k];
  }
  if (label != nullptr && !chunk.labels.empty()) *label = chunk.labels[i];
}

text::TextChunk parse_text_file(const std::string& path, FileFormat format,
                                const ReadOptions& options, bool keep, text::TextLayout& layout) {
  layout = text::read_layout(path, format, options);
  text::ChunkParser parser(path, layout, keep);
  text::parse_byte_range(path, 0, std::numeric_limits<std::uint64_t>::max(), parser);
  text::TextChunk chunk = std::move(parser.chunk());
  if (chunk.failed) throw Error(text::chunk_error(path, chunk, 0));
  return chunk;
}

TextScan scan_text_distributed(const mpi::Communicator& comm, const std::string& path,
                               FileFormat format, const ReadOptions& options, bool keep) {
  TextScan scan;
  mpi::agree_on(comm, [&] {
    scan.layout = text::read_layout(path, format, options);
    const std::uint64_t size = PosixFile(path).size();
    const auto P = static_cast<std::uint64_t>(comm.size()),
               r = static_cast<std::uint64_t>(comm.rank());
    // floor(size * k / P) without overflowing 64 bits for any file size.
    auto cut = [&](std::uint64_t k) { return size / P * k + size % P * k / P; };
    text::ChunkParser parser(path, scan.layout, keep);
    const auto range = static_cast<double>(cut(r + 1) - cut(r));
    std::function<void(double, double)> progress;
    if (options.progress) {
      progress = [&](double done, double) { options.progress(path, done, range); };
      progress(0, range);
    }
    text::parse_byte_range(path, cut(r), cut(r + 1), parser, progress);
    if (progress) progress(range, range);
    scan.chunk = std::move(parser.chunk());
  });
  const text::TextChunk& c = scan.chunk;
  const unsigned long long mine[5] = {c.lines, c.rows, c.max_index, c.labels_integer ? 1ull : 0ull,
                                      c.features_integer ? 1ull : 0ull};
  const std::vector<unsigned long long> all = comm.allgather(mine, 5);
  std::size_t rows = 0, max_index = 0;
  bool labels_integer = true, features_integer = true;
  for (int k = 0; k < comm.size(); ++k) {
    const unsigned long long* v = all.data() + 5 * k;
    if (k < comm.rank()) {
      scan.line_offset += v[0];
      scan.row_offset += v[1];
    }
    rows += v[1];
    max_index = std::max<std::size_t>(max_index, v[2]);
    labels_integer = labels_integer && v[3] == 1;
    features_integer = features_integer && v[4] == 1;
  }
  // The lowest failing rank holds the earliest error in the file.
  mpi::agree(comm, !c.failed,
             c.failed ? text::chunk_error(path, c, scan.line_offset) : std::string());
  scan.info = text_info(scan.layout, rows, max_index, labels_integer, features_integer);
  mpi::agree_on(comm, [&] { check_text_shape(path, scan.info); });
  return scan;
}

namespace {

// Packs the kept rows of this rank's chunk, in row order, one record per row:
// [row, line, label?, d features] (dense) or [row, line, label?, nnz, nnz indices, nnz values]
// (LIBSVM, so sparse rows travel sparse); send_count[q] gets the values for rank q, the owner of
// position k of the kept rows under `part`. Rows and lines travel as doubles (exact below 2^53).
void pack_selected_rows(const std::string& path, const TextScan& scan, const LocalSubset& kept,
                        const BlockPartition& part, std::vector<double>& send,
                        std::vector<std::size_t>& send_count) {
  const text::TextChunk& chunk = scan.chunk;
  const bool sparse = scan.layout.format == FileFormat::kLibsvm;
  const std::size_t d = scan.info.cols, label_cols = scan.info.label_cols;
  for (std::size_t j = 0; j < kept.rows.size(); ++j) {
    const std::size_t k = kept.before + j, g = kept.rows[j];
    const std::size_t i = g - scan.row_offset;
    const int owner = part.owner(k);
    const std::size_t before = send.size();
    send.push_back(static_cast<double>(g));
    send.push_back(static_cast<double>(scan.line_offset + chunk.row_lines[i] + 1));
    if (label_cols > 0) send.push_back(chunk.labels[i]);
    if (sparse) {
      const std::size_t b = chunk.row_start[i], e = chunk.row_start[i + 1];
      send.push_back(static_cast<double>(e - b));
      for (std::size_t q = b; q < e; ++q) send.push_back(static_cast<double>(chunk.index[q]));
      send.insert(send.end(), chunk.values.begin() + static_cast<std::ptrdiff_t>(b),
                  chunk.values.begin() + static_cast<std::ptrdiff_t>(e));
    } else {
      send.insert(send.end(), chunk.values.begin() + static_cast<std::ptrdiff_t>(i * d),
                  chunk.values.begin() + static_cast<std::ptrdiff_t>((i + 1) * d));
    }
    send_count[owner] += send.size() - before;
  }
  for (std::size_t q = 0; q < send_count.size(); ++q)
    if (send_count[q] > static_cast<std::size_t>(INT_MAX))
      fail(path, "a rank would send " + std::to_string(send_count[q]) +
                     " values to one other rank, more than MPI's int counts allow; use more "
                     "ranks or convert the file to .npy (kmpi convert)");
}

// collective: sends send_count[q] values of `send` (in rank order) to rank q and returns what
// this rank receives, in rank order. Frees `send` once it is sent.
std::vector<double> exchange_values(const mpi::Communicator& comm, const std::string& path,
                                    std::vector<double>& send,
                                    const std::vector<std::size_t>& send_count) {
  const int P = comm.size();
  std::vector<int> counts(P), displs(P), ones(P, 1), steps(P);
  for (int q = 0; q < P; ++q) {
    counts[q] = static_cast<int>(send_count[q]);
    displs[q] = q == 0 ? 0 : displs[q - 1] + counts[q - 1];
    steps[q] = q;
  }
  std::vector<int> recv_counts(P), recv_displs(P);
  comm.alltoallv(counts.data(), ones, steps, recv_counts.data(), ones, steps);
  std::size_t total = 0;
  for (int q = 0; q < P; ++q) {
    recv_displs[q] = static_cast<int>(total);
    total += static_cast<std::size_t>(recv_counts[q]);
  }
  mpi::agree(comm, total <= static_cast<std::size_t>(INT_MAX),
             path +
                 ": one rank would receive more values than MPI's int counts allow; use more "
                 "ranks or convert the file to .npy (kmpi convert)");
  std::vector<double> recv(total);
  comm.alltoallv(send.data(), counts, displs, recv.data(), recv_counts, recv_displs);
  send = std::vector<double>();
  return recv;
}

// Unpacks the records of pack_selected_rows into local's rows; returns how many values it used.
std::size_t unpack_rows(const std::vector<double>& recv, const TextScan& scan, std::size_t count,
                        LocalData& local) {
  const bool sparse = scan.layout.format == FileFormat::kLibsvm;
  const std::size_t d = scan.info.cols, label_cols = scan.info.label_cols;
  local.features.resize(count, d);
  if (label_cols > 0) local.targets.resize(count, 1);
  local.source_rows.resize(count);
  local.source_lines.resize(count);
  std::size_t pos = 0;
  for (std::size_t i = 0; i < count; ++i) {
    local.source_rows[i] = static_cast<std::size_t>(recv[pos++]);
    local.source_lines[i] = static_cast<std::size_t>(recv[pos++]);
    if (label_cols > 0) local.targets(i, 0) = recv[pos++];
    if (sparse) {
      const auto nnz = static_cast<std::size_t>(recv[pos++]);
      for (std::size_t q = 0; q < nnz; ++q)
        local.features(i, static_cast<std::size_t>(recv[pos + q])) = recv[pos + nnz + q];
      pos += 2 * nnz;
    } else {
      std::copy(recv.begin() + static_cast<std::ptrdiff_t>(pos),
                recv.begin() + static_cast<std::ptrdiff_t>(pos + d), local.features.row(i));
      pos += d;
    }
  }
  return pos;
}

}  // namespace

// Rank s's chunk holds the global rows [row_offset_s, row_offset_s + rows_s), ascending in s, so
// the blocks a rank receives, in rank order, are already in row order.
void distribute_text(const mpi::Communicator& comm, const std::string& path, const TextScan& scan,
                     const LocalSubset& kept, LocalData& local) {
  const int rank = comm.rank();
  const BlockPartition& part = local.partition;
  mpi::agree_on(comm, [&] { check_dense_size(path, part.count(rank), scan.info.cols); });
  std::vector<double> send;
  std::vector<std::size_t> send_count(comm.size(), 0);
  mpi::agree_on(comm, [&] { pack_selected_rows(path, scan, kept, part, send, send_count); });
  const std::vector<double> recv = exchange_values(comm, path, send, send_count);
  const std::size_t pos = unpack_rows(recv, scan, part.count(rank), local);
  mpi::agree(comm, pos == recv.size(),
             path + ": internal error: received " + std::to_string(recv.size()) + " values, used " +
                 std::to_string(pos));
}
}  // namespace kmpi::detail
