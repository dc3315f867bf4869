// The model file (layout in kmpi/model.hpp). Every rank writes and reads only its own rows at
// offsets it can compute from the header, so saving and loading cost one pass over the file in
// total, whatever the rank count. Integrity: a CRC-32 trailer that rank 0 checks before any rank
// trusts a row, and a temporary name renamed into place only once the file is complete.
#include "kmpi/model.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "io/checksummed_file.hpp"
#include "io/little_endian.hpp"
#include "io/posix_file.hpp"
#include "kmpi/error.hpp"
#include "state/model_table.hpp"
#include "state/tree_model.hpp"

namespace kmpi {

namespace {

using detail::ChecksummedWrite;
using detail::doubles_from_le;
using detail::doubles_to_le;
using detail::fail;
using detail::FileErrors;
using detail::get_f64;
using detail::get_le;
using detail::host_is_big_endian;
using detail::PosixFile;
using detail::put_f64;
using detail::put_le;

constexpr char kMagic[8] = {'K', 'M', 'P', 'I', 'M', 'O', 'D', 'L'};
constexpr std::uint64_t kHeaderBytes = 64;  // magic .. p, see model.hpp
constexpr std::size_t kIoChunk = std::size_t{8} << 20;

// Where everything lives in a model file with these sizes (offsets in bytes). `metric_values`:
// the f64 values of S stored (0, d or d*d); `version` 1 has no metric section at all, version 3
// adds the 16 bytes of the Laplace family after it.
struct Layout {
  std::uint64_t d = 0, c = 0, p = 0;
  std::uint64_t metric = 0, centers = 0, weights = 0, crc = 0, total = 0;
  bool ok = true;  // false when a size overflows 64 bits (an absurd header)

  Layout(std::uint32_t version, std::uint64_t d_, std::uint64_t c_, std::uint64_t p_,
         std::uint64_t metric_values, std::uint64_t table_bytes = 0)
      : d(d_), c(c_), p(p_) {
    std::uint64_t scaling = 0, metric_bytes = 0, center_bytes = 0, weight_bytes = 0;
    // The table section (version >= 4) follows the family: 8 bytes of length, then the table.
    ok = !__builtin_mul_overflow(d, 16, &scaling) &&
         !__builtin_mul_overflow(metric_values, 8, &metric_bytes) &&
         !__builtin_add_overflow(metric_bytes, (version >= 2 ? 4 : 0) + (version >= 3 ? 16 : 0),
                                 &metric_bytes) &&
         !__builtin_add_overflow(metric_bytes, version >= 4 ? 8 : 0, &metric_bytes) &&
         !__builtin_add_overflow(metric_bytes, version >= 4 ? table_bytes : 0, &metric_bytes) &&
         !__builtin_mul_overflow(p, d, &center_bytes) &&
         !__builtin_mul_overflow(center_bytes, 8, &center_bytes) &&
         !__builtin_mul_overflow(p, c, &weight_bytes) &&
         !__builtin_mul_overflow(weight_bytes, 8, &weight_bytes) &&
         !__builtin_add_overflow(kHeaderBytes, scaling, &metric) &&
         !__builtin_add_overflow(metric, metric_bytes, &centers) &&
         !__builtin_add_overflow(centers, center_bytes, &weights) &&
         !__builtin_add_overflow(weights, weight_bytes, &crc) &&
         !__builtin_add_overflow(crc, 4, &total);
  }
  std::uint64_t center_row(std::uint64_t i) const { return centers + i * d * 8; }
  std::uint64_t weight_row(std::uint64_t i) const { return weights + i * c * 8; }
};

// How many f64 values of S a metric of `kind` on d features stores (0 when d*d overflows).
std::uint64_t metric_values(MetricKind kind, std::uint64_t d) {
  if (kind == MetricKind::kDiagonal) return d;
  std::uint64_t dd = 0;
  if (kind == MetricKind::kFull && !__builtin_mul_overflow(d, d, &dd)) return dd;
  return 0;
}

// The lowest version that holds the model: without a table or a Laplace family kernel it stays
// a version 2 file, identical to before (3: the family section; 4: the table after it).
std::uint32_t version_of(const ModelHeader& h) {
  if (detail::has_quantiles(h.table)) return 5;  // the table section's knots
  if (!h.table.empty()) return 4;
  return h.kernel.is_laplace_family() ? 3 : 2;
}

Layout layout_of(const ModelHeader& h) {
  return Layout(version_of(h), h.dimension, h.outputs, h.centers,
                metric_values(h.metric.kind, h.dimension), detail::encode_table(h.table).size());
}

// Reading a model: a missing file is "no such file", a directory "not a model file".
// `window`: the model is the bytes [base, base + length) of the file (length 0: the whole file).
struct Window {
  std::uint64_t base = 0, length = 0;
};

PosixFile open_model(const std::string& path) {
  FileErrors errors;
  errors.label = path;
  errors.directory_is_not_a = "model file";
  return PosixFile(path, O_RDONLY, 0, errors);
}

void restrict_to(PosixFile& file, const std::string& path, Window window) {
  if (window.length == 0) return;
  if (window.base > file.size() || file.size() - window.base < window.length)
    fail(path, "truncated: a model stored inside it ends after the end of the file");
  file.restrict_to(window.base, window.length);
}

// The header and scaling section, as bytes.
std::string encode_header(const ModelHeader& h) {
  std::string out(kMagic, sizeof kMagic);
  put_le<std::uint32_t>(out, version_of(h));
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(h.kernel.kind));
  put_f64(out, h.kernel.nu);
  put_f64(out, h.kernel.bandwidth);
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(h.scaling.mode));
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(h.task));
  put_le<std::uint64_t>(out, h.dimension);
  put_le<std::uint64_t>(out, h.outputs);
  put_le<std::uint64_t>(out, h.centers);
  // No scaling is stored as the identity, so every file has the same layout.
  const bool identity = h.scaling.offset.empty();
  for (std::size_t j = 0; j < h.dimension; ++j) put_f64(out, identity ? 0.0 : h.scaling.offset[j]);
  for (std::size_t j = 0; j < h.dimension; ++j)
    put_f64(out, identity ? 1.0 : h.scaling.multiplier[j]);
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(h.metric.kind));
  for (double v : h.metric.root) put_f64(out, v);
  if (version_of(h) >= 3) {
    put_f64(out, h.kernel.exponent);
    put_f64(out, h.kernel.norm_p);
  }
  if (version_of(h) >= 4) {
    const std::string table = detail::encode_table(h.table);
    put_le<std::uint64_t>(out, table.size());
    out += table;
  }
  return out;
}

// The Laplace family section of a version >= 3 file (q, p) into `kernel`.
void decode_family(const unsigned char* section, Kernel& kernel) {
  kernel.exponent = get_f64(section);
  kernel.norm_p = get_f64(section + 8);
}

// The metric section of version >= 2 from its bytes (kind already validated, values bounded).
FeatureMetric decode_metric(const unsigned char* section, std::size_t d) {
  FeatureMetric m;
  m.kind = static_cast<MetricKind>(get_le<std::uint32_t>(section));
  if (m.kind == MetricKind::kNone) return m;
  m.dimension = d;
  m.root.resize(static_cast<std::size_t>(metric_values(m.kind, d)));
  doubles_from_le(section + 4, m.root.size(), m.root.data());
  return m;
}

// Fails naming `path` unless the fixed header fields are in range.
void check_header_fields(const std::string& path, std::uint32_t kernel_kind,
                         std::uint32_t scale_mode, std::uint32_t task, const Kernel& kernel,
                         std::uint64_t d, std::uint64_t c, std::uint64_t p) {
  if (kernel_kind > static_cast<std::uint32_t>(KernelKind::kCauchy))
    fail(path, "corrupt model header: unknown kernel kind " + std::to_string(kernel_kind));
  if (scale_mode > static_cast<std::uint32_t>(ScaleMode::kStandardize))
    fail(path, "corrupt model header: unknown scale mode " + std::to_string(scale_mode));
  if (task > static_cast<std::uint32_t>(Task::kRegression))
    fail(path, "corrupt model header: unknown task " + std::to_string(task));
  if (!(kernel.bandwidth > 0) || !std::isfinite(kernel.bandwidth) || !std::isfinite(kernel.nu))
    fail(path, "corrupt model header: bandwidth " + std::to_string(kernel.bandwidth) + ", nu " +
                   std::to_string(kernel.nu));
  if (d == 0 || c == 0 || p == 0)
    fail(path, "corrupt model header: d=" + std::to_string(d) + ", c=" + std::to_string(c) +
                   ", p=" + std::to_string(p) + " (all must be positive)");
}

// The metric kind of a version >= 2 file, right after the scaling section (it sizes the rest);
// 0 (none) for version 1.
std::uint32_t read_metric_code(const std::string& path, const PosixFile& file,
                               std::uint32_t version, std::uint64_t d, std::uint64_t size) {
  std::uint64_t metric_at = 0;
  const bool scaling_ok = !__builtin_mul_overflow(d, 16, &metric_at) &&
                          !__builtin_add_overflow(metric_at, kHeaderBytes, &metric_at);
  if (!scaling_ok) fail(path, "corrupt model header: absurd dimension d=" + std::to_string(d));
  if (version < 2) return 0;
  unsigned char kind[4] = {};
  if (size < metric_at + 4 || file.read_at(metric_at, kind, 4) < 4)
    fail(path, "truncated: the file ends before the metric section (d=" + std::to_string(d) + ")");
  const std::uint32_t code = get_le<std::uint32_t>(kind);
  if (code > static_cast<std::uint32_t>(MetricKind::kFull))
    fail(path, "corrupt model header: unknown metric kind " + std::to_string(code));
  return code;
}

// Where the table section of a version >= 4 file starts: after the header, scaling, metric and
// the Laplace family section.
std::uint64_t table_at(std::uint64_t d, std::uint64_t metric_stored) {
  return kHeaderBytes + 16 * d + 4 + 8 * metric_stored + 16;
}

// The byte length of the table section (0 before version 4); sizes checked by the caller's
// Layout and file size.
std::uint64_t read_table_length(const std::string& path, const PosixFile& file,
                                std::uint32_t version, std::uint64_t d, std::uint64_t metric_stored,
                                std::uint64_t size) {
  if (version < 4) return 0;
  const std::uint64_t at = table_at(d, metric_stored);
  unsigned char length[8] = {};
  if (at > size || size - at < 8 || file.read_at(at, length, 8) < 8)
    fail(path, "truncated: the file ends before the table section");
  const auto bytes = get_le<std::uint64_t>(length);
  if (bytes > size)
    fail(path, "corrupt model header: table section of " + std::to_string(bytes) +
                   " bytes in a file of " + std::to_string(size));
  return bytes;
}

// The table section from the header bytes `raw` (every byte before the centers).
TableEncoding decode_table_section(const std::string& path, const std::string& raw,
                                   std::uint32_t version, std::uint64_t d,
                                   std::uint64_t metric_stored) {
  if (version < 4) return {};
  const std::uint64_t at = table_at(d, metric_stored);
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data()) + at;
  const auto bytes = get_le<std::uint64_t>(p);
  return detail::decode_table(path, p + 8, static_cast<std::size_t>(bytes));
}

// Fails naming `path` unless the file holds exactly the bytes `layout` says.
void check_file_size(const std::string& path, const Layout& layout, std::uint64_t size,
                     std::uint64_t d, std::uint64_t c, std::uint64_t p, std::uint32_t metric_code,
                     std::uint64_t stored) {
  const std::string sizes =
      "p=" + std::to_string(p) + " centers, d=" + std::to_string(d) + ", c=" + std::to_string(c) +
      (metric_code == 0 ? std::string()
                        : std::string(", a ") +
                              metric_kind_name(static_cast<MetricKind>(metric_code)) + " metric");
  if (!layout.ok || (metric_code == static_cast<std::uint32_t>(MetricKind::kFull) && stored == 0))
    fail(path, "corrupt model header: absurd sizes " + sizes);
  if (size < layout.total)
    fail(path, "truncated: the header says " + sizes + " (" + std::to_string(layout.total) +
                   " bytes) but the file holds " + std::to_string(size));
  if (size > layout.total)
    fail(path, "the header says " + sizes + " (" + std::to_string(layout.total) +
                   " bytes) but the file holds " + std::to_string(size) + " (trailing bytes)");
}

// Reads and validates the header of an open model file (magic, version, fields, file size) and
// returns it; `raw` gets the header, scaling and metric bytes, for rank 0 to broadcast.
ModelHeader read_header(const std::string& path, const PosixFile& file, std::string& raw,
                        std::uint64_t& total) {
  const std::uint64_t size = file.size();
  unsigned char head[kHeaderBytes] = {};
  const std::size_t got = file.read_at(0, head, sizeof head);
  if (got < sizeof kMagic || std::memcmp(head, kMagic, sizeof kMagic) != 0)
    fail(path, "not a kmpi model (the file does not start with \"KMPIMODL\")");
  if (got < kHeaderBytes)
    fail(path, "truncated: the file ends inside the " + std::to_string(kHeaderBytes) +
                   "-byte model header");
  const auto version = get_le<std::uint32_t>(head + 8);
  if (version > kModelVersion)
    fail(path, "written by a newer kmpi (format version " + std::to_string(version) +
                   ", this build reads up to " + std::to_string(kModelVersion) + ")");
  if (version == 0) fail(path, "invalid model format version 0");

  ModelHeader h;
  const auto kernel_kind = get_le<std::uint32_t>(head + 12);
  h.kernel.nu = get_f64(head + 16);
  h.kernel.bandwidth = get_f64(head + 24);
  const auto scale_mode = get_le<std::uint32_t>(head + 32);
  const auto task = get_le<std::uint32_t>(head + 36);
  const auto d = get_le<std::uint64_t>(head + 40);
  const auto c = get_le<std::uint64_t>(head + 48);
  const auto p = get_le<std::uint64_t>(head + 56);
  check_header_fields(path, kernel_kind, scale_mode, task, h.kernel, d, c, p);
  const std::uint32_t metric_code = read_metric_code(path, file, version, d, size);
  const std::uint64_t stored = metric_values(static_cast<MetricKind>(metric_code), d);
  const std::uint64_t table_bytes = read_table_length(path, file, version, d, stored, size);
  const Layout layout(version, d, c, p, stored, table_bytes);
  check_file_size(path, layout, size, d, c, p, metric_code, stored);

  h.kernel.kind = static_cast<KernelKind>(kernel_kind);
  h.scaling.mode = static_cast<ScaleMode>(scale_mode);
  h.task = static_cast<Task>(task);
  h.dimension = static_cast<std::size_t>(d);
  h.outputs = static_cast<std::size_t>(c);
  h.centers = static_cast<std::size_t>(p);
  // The scaling and metric sections are bounded by the file size checked above.
  raw.assign(reinterpret_cast<const char*>(head), kHeaderBytes);
  raw.resize(layout.centers);
  file.read_exactly(kHeaderBytes, raw.data() + kHeaderBytes, layout.centers - kHeaderBytes);
  const auto* s = reinterpret_cast<const unsigned char*>(raw.data()) + kHeaderBytes;
  h.scaling.offset.resize(h.dimension);
  h.scaling.multiplier.resize(h.dimension);
  doubles_from_le(s, h.dimension, h.scaling.offset.data());
  doubles_from_le(s + 8 * h.dimension, h.dimension, h.scaling.multiplier.data());
  if (version >= 2) {
    h.metric = decode_metric(s + 16 * h.dimension, h.dimension);
    for (double v : h.metric.root)
      if (!std::isfinite(v)) fail(path, "corrupt model: a value of the metric is not finite");
  }
  if (version >= 3) {
    decode_family(s + 16 * h.dimension + 4 + 8 * stored, h.kernel);
    const double q = h.kernel.exponent, pn = h.kernel.norm_p;
    // A version 4 file (a table) carries the family section for any kernel: q = 1, p = 2 is the
    // plain kernel.
    const bool plain = version >= 4 && q == 1 && pn == 2;
    if (!plain && (h.kernel.kind != KernelKind::kLaplacian || !(q > 0) || !(q <= pn) || !(pn <= 2)))
      fail(path, "corrupt model header: Laplace family exponent " + std::to_string(q) +
                     ", norm_p " + std::to_string(pn) +
                     " (needs the laplacian kernel and "
                     "0 < exponent <= norm_p <= 2)");
  }
  h.table = decode_table_section(path, raw, version, h.dimension, stored);
  total = layout.total;
  return h;
}

// The header from bytes another rank read and verified (no file access).
ModelHeader decode_verified_header(const std::string& raw) {
  const auto* head = reinterpret_cast<const unsigned char*>(raw.data());
  ModelHeader h;
  h.kernel.kind = static_cast<KernelKind>(get_le<std::uint32_t>(head + 12));
  h.kernel.nu = get_f64(head + 16);
  h.kernel.bandwidth = get_f64(head + 24);
  h.scaling.mode = static_cast<ScaleMode>(get_le<std::uint32_t>(head + 32));
  h.task = static_cast<Task>(get_le<std::uint32_t>(head + 36));
  h.dimension = static_cast<std::size_t>(get_le<std::uint64_t>(head + 40));
  h.outputs = static_cast<std::size_t>(get_le<std::uint64_t>(head + 48));
  h.centers = static_cast<std::size_t>(get_le<std::uint64_t>(head + 56));
  h.scaling.offset.resize(h.dimension);
  h.scaling.multiplier.resize(h.dimension);
  doubles_from_le(head + kHeaderBytes, h.dimension, h.scaling.offset.data());
  doubles_from_le(head + kHeaderBytes + 8 * h.dimension, h.dimension, h.scaling.multiplier.data());
  const std::uint32_t version = get_le<std::uint32_t>(head + 8);
  if (version >= 2) h.metric = decode_metric(head + kHeaderBytes + 16 * h.dimension, h.dimension);
  if (version >= 3)
    decode_family(head + kHeaderBytes + 16 * h.dimension + 4 + 8 * h.metric.root.size(), h.kernel);
  h.table = decode_table_section("model", raw, version, h.dimension,
                                 metric_values(h.metric.kind, h.dimension));
  return h;
}

// Writes rows [0, rows) of a (rows x cols) matrix as row-major little-endian doubles at offset.
void write_block(const PosixFile& file, std::uint64_t offset, const Matrix<double>& m) {
  const std::size_t rows_per_chunk =
      std::max<std::size_t>(1, kIoChunk / (8 * std::max<std::size_t>(1, m.cols())));
  std::vector<unsigned char> bytes;
  for (std::size_t i = 0; i < m.rows(); i += rows_per_chunk) {
    const std::size_t n = std::min(rows_per_chunk, m.rows() - i) * m.cols();
    bytes.resize(8 * n);
    doubles_to_le(m.row(i), n, bytes.data());
    file.write_at(offset + 8 * i * m.cols(), bytes.data(), bytes.size());
  }
}

void read_block(const PosixFile& file, std::uint64_t offset, Matrix<double>& m) {
  std::vector<unsigned char> bytes(8 * m.size());
  file.read_exactly(offset, bytes.data(), bytes.size());
  doubles_from_le(bytes.data(), m.size(), m.data());
}

void check_local_model(const std::string& path, const LocalModel& local, int rank, int ranks) {
  const ModelHeader& h = local.header;
  if (h.dimension == 0 || h.outputs == 0 || h.centers == 0)
    fail(path, "cannot save an empty model (d=" + std::to_string(h.dimension) +
                   ", c=" + std::to_string(h.outputs) + ", p=" + std::to_string(h.centers) + ")");
  if (!(local.partition == BlockPartition(h.centers, ranks)))
    fail(path, "internal error: the centers' partition is not BlockPartition(p=" +
                   std::to_string(h.centers) + ", " + std::to_string(ranks) + ")");
  const std::size_t count = local.partition.count(rank);
  if (local.centers.rows() != count || local.centers.cols() != h.dimension)
    fail(path, "internal error: rank " + std::to_string(rank) + " holds " +
                   std::to_string(local.centers.rows()) + "x" +
                   std::to_string(local.centers.cols()) + " centers, expected " +
                   std::to_string(count) + "x" + std::to_string(h.dimension));
  if (local.weights.rows() != count || local.weights.cols() != h.outputs)
    fail(path, "internal error: rank " + std::to_string(rank) + " holds " +
                   std::to_string(local.weights.rows()) + "x" +
                   std::to_string(local.weights.cols()) + " weights, expected " +
                   std::to_string(count) + "x" + std::to_string(h.outputs));
  const bool identity = h.scaling.offset.empty() && h.scaling.multiplier.empty();
  if (!(identity && h.scaling.mode == ScaleMode::kNone) &&
      (h.scaling.offset.size() != h.dimension || h.scaling.multiplier.size() != h.dimension))
    fail(path, "internal error: the scaling has " + std::to_string(h.scaling.offset.size()) +
                   " offsets and " + std::to_string(h.scaling.multiplier.size()) +
                   " multipliers for d=" + std::to_string(h.dimension));
  if (!h.metric.is_identity() &&
      (h.metric.dimension != h.dimension ||
       h.metric.root.size() != metric_values(h.metric.kind, h.dimension)))
    fail(path, "internal error: the " + std::string(metric_kind_name(h.metric.kind)) +
                   " metric holds " + std::to_string(h.metric.root.size()) +
                   " values for d=" + std::to_string(h.dimension));
  if (!h.table.empty() && h.table.dimension() != h.dimension)
    fail(path, "internal error: the table encodes " + std::to_string(h.table.dimension()) +
                   " features for d=" + std::to_string(h.dimension));
  if (h.metric.is_identity() && !h.metric.root.empty())
    fail(path, "internal error: metric none with stored values");
  if (!(h.kernel.bandwidth > 0) || !std::isfinite(h.kernel.bandwidth))
    fail(path, "cannot save a model with bandwidth " + std::to_string(h.kernel.bandwidth));
}

}  // namespace

void save_model(const mpi::Communicator& comm, const std::string& path, const LocalModel& local) {
  const int rank = comm.rank();
  std::string header_bytes;
  mpi::agree_on(comm, [&] {
    check_local_model(path, local, rank, comm.size());
    header_bytes = encode_header(local.header);
  });
  // Every rank must describe the same model: compare a checksum of the encoded headers.
  const unsigned long long mine = crc32(0L, reinterpret_cast<const Bytef*>(header_bytes.data()),
                                        static_cast<uInt>(header_bytes.size())) ^
                                  (static_cast<unsigned long long>(header_bytes.size()) << 32);
  mpi::agree(comm,
             comm.allreduce_value(mine, mpi::Op::kMin) == comm.allreduce_value(mine, mpi::Op::kMax),
             path + ": internal error: ranks hold different model headers");

  const Layout layout = layout_of(local.header);
  ChecksummedWrite w;
  w.path = path;
  w.temp =
      comm.broadcast(rank == 0 ? path + ".tmp." + std::to_string(::getpid()) : std::string(), 0);
  w.head = std::move(header_bytes);
  w.crc_at = layout.crc;
  w.prepare = [&] {
    if (!layout.ok) fail(path, "model too large to address");
  };
  w.has_rows = local.centers.rows() > 0;
  w.write_rows = [&](const PosixFile& file) {
    const std::size_t first = local.partition.begin(rank);
    write_block(file, layout.center_row(first), local.centers);
    write_block(file, layout.weight_row(first), local.weights);
  };
  detail::write_checksummed_file(comm, w);
}

LocalModel load_model(const mpi::Communicator& comm, const std::string& path) {
  return load_model_window(comm, path, 0, 0);
}

LocalModel load_model_window(const mpi::Communicator& comm, const std::string& path,
                             std::uint64_t base, std::uint64_t length) {
  const Window window{base, length};
  std::string raw;
  mpi::agree_on(comm, [&] {
    if (comm.rank() != 0) return;
    PosixFile file = open_model(path);
    restrict_to(file, path, window);
    std::uint64_t total = 0;
    read_header(path, file, raw, total);
    detail::verify_crc_trailer(file, total);
  });
  raw = comm.broadcast(raw, 0);

  LocalModel local;
  local.header = decode_verified_header(raw);
  const ModelHeader& h = local.header;
  local.partition = BlockPartition(h.centers, comm.size());
  const int rank = comm.rank();
  const std::size_t count = local.partition.count(rank);
  local.centers.resize(count, h.dimension);
  local.weights.resize(count, h.outputs);
  const Layout layout(get_le<std::uint32_t>(reinterpret_cast<const unsigned char*>(raw.data()) + 8),
                      h.dimension, h.outputs, h.centers, metric_values(h.metric.kind, h.dimension),
                      detail::encode_table(h.table).size());
  mpi::agree_on(comm, [&] {
    if (count == 0) return;
    PosixFile file = open_model(path);
    restrict_to(file, path, window);
    if (file.size() != layout.total) fail(path, "the file changed while it was being loaded");
    const std::size_t first = local.partition.begin(rank);
    read_block(file, layout.center_row(first), local.centers);
    read_block(file, layout.weight_row(first), local.weights);
  });
  return local;
}

ModelHeader read_model_header(const std::string& path) {
  const PosixFile file = open_model(path);
  std::string raw;
  std::uint64_t total = 0;
  return read_header(path, file, raw, total);
}

}  // namespace kmpi
