// What the binary readers share: element types decoded through one table, the gzip stream and
// the row reader (src/io/binary_formats.hpp).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "io/binary_formats.hpp"
#include "io/little_endian.hpp"

namespace kmpi::detail {

namespace {

struct ScalarTraits {
  std::size_t bytes;
  const char* name;
};

// Indexed by Scalar.
constexpr ScalarTraits kScalarTraits[] = {
    {1, "uint8"}, {1, "int8"},   {2, "uint16"}, {2, "int16"},   {4, "uint32"},
    {4, "int32"}, {8, "uint64"}, {8, "int64"},  {4, "float32"}, {8, "float64"}};

// Loads one value of `bytes` bytes into an unsigned integer of the host's order.
template <class U>
U load_swapped(const unsigned char* p, bool swap) {
  unsigned char tmp[sizeof(U)];
  if (swap) {
    for (std::size_t i = 0; i < sizeof(U); ++i) tmp[i] = p[sizeof(U) - 1 - i];
  } else {
    std::memcpy(tmp, p, sizeof(U));
  }
  U u;
  std::memcpy(&u, tmp, sizeof(U));
  return u;
}

template <class T, class U>
double decode_as(const unsigned char* p, bool swap) {
  static_assert(sizeof(T) == sizeof(U));
  const U u = load_swapped<U>(p, swap);
  T t;
  std::memcpy(&t, &u, sizeof(T));
  return static_cast<double>(t);
}

double decode(const ElementType& type, const unsigned char* p, bool swap) {
  switch (type.scalar) {
    case Scalar::kU8:
      return static_cast<double>(p[0]);
    case Scalar::kI8:
      return static_cast<double>(static_cast<std::int8_t>(p[0]));
    case Scalar::kU16:
      return decode_as<std::uint16_t, std::uint16_t>(p, swap);
    case Scalar::kI16:
      return decode_as<std::int16_t, std::uint16_t>(p, swap);
    case Scalar::kU32:
      return decode_as<std::uint32_t, std::uint32_t>(p, swap);
    case Scalar::kI32:
      return decode_as<std::int32_t, std::uint32_t>(p, swap);
    case Scalar::kU64:
      return decode_as<std::uint64_t, std::uint64_t>(p, swap);
    case Scalar::kI64:
      return decode_as<std::int64_t, std::uint64_t>(p, swap);
    case Scalar::kF32:
      return decode_as<float, std::uint32_t>(p, swap);
    case Scalar::kF64:
      return decode_as<double, std::uint64_t>(p, swap);
  }
  return 0.0;
}

// Converts `count` whole rows of raw bytes into doubles; global_row is the first row's index,
// used to name the row of a NaN/Inf.
void decode_rows(const std::string& path, const ElementType& type, const unsigned char* raw,
                 std::size_t count, std::size_t cols, std::size_t global_row, double* out,
                 bool allow_nonfinite) {
  const bool swap = type.big_endian != host_is_big_endian();
  const std::size_t width = type.bytes();
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      const double v = decode(type, raw + (i * cols + j) * width, swap);
      if (type.floating() && !allow_nonfinite && !std::isfinite(v))
        fail(path, "row " + std::to_string(global_row + i) + ", column " + std::to_string(j) +
                       " (0-based) is " + (std::isnan(v) ? "NaN" : "Inf") +
                       "; NaN/Inf values are refused (data.allow_nonfinite = true accepts them)");
      out[i * cols + j] = v;
    }
  }
}

}  // namespace

std::size_t ElementType::bytes() const {
  return kScalarTraits[static_cast<std::size_t>(scalar)].bytes;
}

std::string ElementType::name() const {
  return kScalarTraits[static_cast<std::size_t>(scalar)].name;
}

GzipFile::GzipFile(const std::string& path) : path_(path) {
  file_ = gzopen(path.c_str(), "rb");
  if (file_ == nullptr) fail(path, std::string("cannot open as gzip: ") + std::strerror(errno));
  gzbuffer(file_, 1 << 18);
}

GzipFile::~GzipFile() {
  if (file_ != nullptr) gzclose(file_);
}

std::size_t GzipFile::read_at(std::uint64_t offset, void* buffer, std::size_t n) {
  if (offset != position_) {
    if (offset < position_) fail(path_, "internal error: gzip rows must be read in order");
    if (gzseek(file_, static_cast<z_off_t>(offset), SEEK_SET) < 0) return 0;
    position_ = offset;
  }
  auto* p = static_cast<unsigned char*>(buffer);
  std::size_t done = 0;
  while (done < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 30));
    const int got = gzread(file_, p + done, chunk);
    if (got < 0) {
      int code = 0;
      const char* msg = gzerror(file_, &code);
      fail(path_, std::string("gzip read error: ") + (msg ? msg : "unknown"));
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  position_ += done;
  return done;
}

void refuse_empty_shape(const std::string& path, std::uint64_t rows, std::uint64_t cols) {
  if (rows == 0) fail(path, "the file holds no rows (first dimension is 0)");
  if (cols == 0) fail(path, "the rows are empty (a trailing dimension is 0)");
}

namespace {

// Reads `rows` (ascending) of a binary layout into out, one contiguous run at a time so that
// consecutive rows cost one read; runs are cut into pieces of at most kChunkBytes.
constexpr std::size_t kChunkBytes = std::size_t{32} << 20;

template <class Stream>
void read_rows_from(const std::string& path, Stream& stream, const BinaryLayout& layout,
                    const std::vector<std::size_t>& rows, Matrix<double>& out,
                    bool allow_nonfinite, const ReadProgress& progress) {
  const std::size_t row_bytes = layout.row_bytes();
  const double total = static_cast<double>(rows.size()) * static_cast<double>(row_bytes);
  if (progress) progress(0, total);
  std::size_t reported = 0;  // rows reported to `progress`
  const std::size_t rows_per_chunk = std::max<std::size_t>(1, kChunkBytes / row_bytes);
  std::vector<unsigned char> buffer;
  std::size_t i = 0;
  while (i < rows.size()) {
    if (i > 0 && rows[i] == rows[i - 1]) {  // a repeated row: copy, the stream may not go back
      std::copy(out.row(i - 1), out.row(i - 1) + layout.cols, out.row(i));
      ++i;
      continue;
    }
    std::size_t run = 1;
    while (i + run < rows.size() && run < rows_per_chunk && rows[i + run] == rows[i] + run) ++run;
    buffer.resize(run * row_bytes);
    const std::uint64_t offset = layout.data_offset + std::uint64_t{rows[i]} * row_bytes;
    const std::size_t got = stream.read_at(offset, buffer.data(), buffer.size());
    if (got < buffer.size())
      fail(path, "truncated: expected " + std::to_string(layout.rows) + " rows of " +
                     std::to_string(layout.cols) + " " + layout.type.name() +
                     " values but the data ends in row " +
                     std::to_string(rows[i] + got / row_bytes));
    decode_rows(path, layout.type, buffer.data(), run, layout.cols, rows[i], out.row(i),
                allow_nonfinite);
    i += run;
    // At most one report per chunk's worth of bytes (scattered rows come one run at a time).
    if (progress && (i == rows.size() || (i - reported) * row_bytes >= kChunkBytes)) {
      reported = i;
      progress(static_cast<double>(i) * static_cast<double>(row_bytes), total);
    }
  }
  if (progress && reported != rows.size()) progress(total, total);  // ended on a repeated row
}

}  // namespace

void read_binary_rows(const std::string& path, const PosixFile& stream, const BinaryLayout& layout,
                      const std::vector<std::size_t>& rows, Matrix<double>& out,
                      bool allow_nonfinite, const ReadProgress& progress) {
  read_rows_from(path, stream, layout, rows, out, allow_nonfinite, progress);
}

void read_binary_rows(const std::string& path, GzipFile& stream, const BinaryLayout& layout,
                      const std::vector<std::size_t>& rows, Matrix<double>& out,
                      bool allow_nonfinite, const ReadProgress& progress) {
  read_rows_from(path, stream, layout, rows, out, allow_nonfinite, progress);
}

}  // namespace kmpi::detail
