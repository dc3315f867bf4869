// Readers for IDX, .npy and CSV (DESIGN §4). Each reader has two steps: a probe that learns the
// shape from the header (or a scan, for CSV) and refuses anything the file cannot hold, and a
// row reader that touches only the requested rows. Every message starts with the path so that
// rank 0 can print one line that says which file is wrong.
#include "kmpi/data.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <climits>
#include <fstream>
#include <limits>
#include <string_view>

#include "kmpi/error.hpp"
#include "kmpi/hdf5_reader.hpp"
#include "kmpi/options.hpp"
#include "kmpi/posix_file.hpp"
#include "kmpi/text_formats.hpp"

namespace kmpi {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(path + ": " + what);
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// a * b, or nullopt-like failure flagged through `ok` (sizes from headers are untrusted).
std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b, bool& ok) {
  std::uint64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) ok = false;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Element types. IDX is big-endian, .npy little-endian; both decode through the same table.

enum class Scalar { kU8, kI8, kU16, kI16, kU32, kI32, kU64, kI64, kF32, kF64 };

struct ElementType {
  Scalar scalar = Scalar::kF64;
  bool big_endian = false;

  std::size_t bytes() const {
    switch (scalar) {
      case Scalar::kU8:
      case Scalar::kI8:
        return 1;
      case Scalar::kU16:
      case Scalar::kI16:
        return 2;
      case Scalar::kU32:
      case Scalar::kI32:
      case Scalar::kF32:
        return 4;
      case Scalar::kU64:
      case Scalar::kI64:
      case Scalar::kF64:
        return 8;
    }
    return 8;
  }
  bool floating() const { return scalar == Scalar::kF32 || scalar == Scalar::kF64; }
  std::string name() const {
    switch (scalar) {
      case Scalar::kU8:
        return "uint8";
      case Scalar::kI8:
        return "int8";
      case Scalar::kU16:
        return "uint16";
      case Scalar::kI16:
        return "int16";
      case Scalar::kU32:
        return "uint32";
      case Scalar::kI32:
        return "int32";
      case Scalar::kU64:
        return "uint64";
      case Scalar::kI64:
        return "int64";
      case Scalar::kF32:
        return "float32";
      case Scalar::kF64:
        return "float64";
    }
    return "?";
  }
};

bool host_is_big_endian() {
  const std::uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 0;
}

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

// ---------------------------------------------------------------------------------------------
// Plain files: open with the error a user can act on, size, and positioned reads.

using detail::PosixFile;

// A gzip stream read forward only (gzseek forward decompresses and discards).
class GzipFile {
 public:
  explicit GzipFile(const std::string& path) : path_(path) {
    file_ = gzopen(path.c_str(), "rb");
    if (file_ == nullptr) fail(path, std::string("cannot open as gzip: ") + std::strerror(errno));
    gzbuffer(file_, 1 << 18);
  }
  ~GzipFile() {
    if (file_ != nullptr) gzclose(file_);
  }
  GzipFile(const GzipFile&) = delete;
  GzipFile& operator=(const GzipFile&) = delete;

  // Reads up to n bytes at the uncompressed offset (>= the current position); returns how many
  // it got. A corrupt stream is an error; a short count means the data ended early.
  std::size_t read_at(std::uint64_t offset, void* buffer, std::size_t n) {
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

 private:
  std::string path_;
  gzFile file_ = nullptr;
  std::uint64_t position_ = 0;
};

bool has_gzip_magic(const PosixFile& file) {
  unsigned char magic[2] = {0, 0};
  return file.read_at(0, magic, 2) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

// The layout of a binary (IDX or .npy) file: where the rows start and how they are encoded.
struct BinaryLayout {
  ElementType type;
  std::uint64_t data_offset = 0;
  std::size_t rows = 0, cols = 0;
  bool gzip = false;
  std::size_t row_bytes() const { return cols * type.bytes(); }
};

void refuse_empty_shape(const std::string& path, std::uint64_t rows, std::uint64_t cols) {
  if (rows == 0) fail(path, "the file holds no rows (first dimension is 0)");
  if (cols == 0) fail(path, "the rows are empty (a trailing dimension is 0)");
}

// ---------------------------------------------------------------------------------------------
// IDX: magic 0x00 0x00 type ndims, then ndims big-endian u32 sizes, then the data big-endian.

bool idx_type(unsigned char code, ElementType& type) {
  type.big_endian = true;
  switch (code) {
    case 0x08:
      type.scalar = Scalar::kU8;
      return true;
    case 0x09:
      type.scalar = Scalar::kI8;
      return true;
    case 0x0B:
      type.scalar = Scalar::kI16;
      return true;
    case 0x0C:
      type.scalar = Scalar::kI32;
      return true;
    case 0x0D:
      type.scalar = Scalar::kF32;
      return true;
    case 0x0E:
      type.scalar = Scalar::kF64;
      return true;
    default:
      return false;
  }
}

std::string hex32(std::uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", v);
  return text;
}

// The largest expansion deflate can achieve is about 1032:1, so a gzip file of m bytes cannot
// hold more than that; a header claiming more is refused before anything is allocated.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

BinaryLayout idx_layout(const std::string& path) {
  PosixFile raw(path);
  if (raw.size() == 0) fail(path, "empty file");
  BinaryLayout layout;
  layout.gzip = has_gzip_magic(raw);

  // Reads the header through whichever stream the file is.
  unsigned char magic[4] = {0, 0, 0, 0};
  std::vector<unsigned char> dims_raw;
  std::size_t got = 0, got_dims = 0;
  auto read_header = [&](auto& stream) {
    got = stream.read_at(0, magic, 4);
    if (got == 4 && magic[0] == 0 && magic[1] == 0 && magic[3] > 0) {
      dims_raw.resize(4u * magic[3]);
      got_dims = stream.read_at(4, dims_raw.data(), dims_raw.size());
    }
  };
  if (layout.gzip) {
    GzipFile gz(path);
    read_header(gz);
  } else {
    read_header(raw);
  }

  const std::uint32_t magic_value = (std::uint32_t{magic[0]} << 24) |
                                    (std::uint32_t{magic[1]} << 16) |
                                    (std::uint32_t{magic[2]} << 8) | magic[3];
  if (got < 4) fail(path, "too short for an IDX header (" + std::to_string(got) + " bytes)");
  if (magic[0] != 0 || magic[1] != 0 || !idx_type(magic[2], layout.type) || magic[3] == 0)
    fail(path, "not an IDX file: magic number " + hex32(magic_value) +
                   " (expected 0x00000Tnn with type T in 08,09,0B,0C,0D,0E and nn dimensions)");
  if (got_dims < dims_raw.size())
    fail(path, "truncated: the IDX header names " + std::to_string(magic[3]) +
                   " dimensions but the file ends inside it");

  bool ok = true;
  std::uint64_t rows = 0, cols = 1;
  for (std::size_t k = 0; k < magic[3]; ++k) {
    const unsigned char* p = dims_raw.data() + 4 * k;
    const std::uint64_t dim = (std::uint64_t{p[0]} << 24) | (std::uint64_t{p[1]} << 16) |
                              (std::uint64_t{p[2]} << 8) | p[3];
    if (k == 0)
      rows = dim;
    else
      cols = checked_mul(cols, dim, ok);
  }
  refuse_empty_shape(path, rows, cols);
  const std::uint64_t values = checked_mul(rows, cols, ok);
  const std::uint64_t data_bytes = checked_mul(values, layout.type.bytes(), ok);
  if (!ok)
    fail(path, "absurd IDX shape: " + std::to_string(rows) + " rows x " + std::to_string(cols) +
                   " values overflows");
  layout.data_offset = 4 + 4 * std::uint64_t{magic[3]};
  const std::string claim = "the header says " + std::to_string(rows) + " rows of " +
                            std::to_string(cols) + " " + layout.type.name() + " values (" +
                            std::to_string(data_bytes) + " bytes)";
  if (layout.gzip) {
    if (data_bytes / kMaxDeflateRatio > raw.size())
      fail(path, "truncated or corrupt: " + claim + ", more than a gzip file of " +
                     std::to_string(raw.size()) + " bytes can hold");
  } else {
    const std::uint64_t expected = layout.data_offset + data_bytes;
    if (raw.size() < expected)
      fail(path, "truncated: " + claim + " but the file holds " +
                     std::to_string(raw.size() - layout.data_offset) + " bytes of data");
    if (raw.size() > expected)
      fail(path, claim + " but the file holds " + std::to_string(raw.size() - layout.data_offset) +
                     " bytes of data (trailing bytes; not an IDX file?)");
  }
  layout.rows = static_cast<std::size_t>(rows);
  layout.cols = static_cast<std::size_t>(cols);
  return layout;
}

// ---------------------------------------------------------------------------------------------
// .npy: "\x93NUMPY", major, minor, header length (u16 for 1.0, u32 for 2.0/3.0), then a Python
// dict literal {'descr': '<f8', 'fortran_order': False, 'shape': (n, d), } padded with spaces.

class NpyHeaderParser {
 public:
  NpyHeaderParser(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  void parse(std::string& descr, bool& fortran_order, std::vector<std::uint64_t>& shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') {
        ++pos_;
        break;
      }
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        descr = parse_string();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran_order = parse_bool();
        have_order = true;
      } else if (key == "shape") {
        shape = parse_tuple();
        have_shape = true;
      } else {
        bad("unexpected key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') ++pos_;
    }
    if (!have_descr || !have_order || !have_shape)
      bad("the header must name 'descr', 'fortran_order' and 'shape'");
  }

 private:
  [[noreturn]] void bad(const std::string& what) const {
    fail(path_, "malformed .npy header (" + what + "): " + text_);
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void expect(char ch) {
    skip_space();
    if (peek() != ch) bad(std::string("expected '") + ch + "'");
    ++pos_;
  }
  std::string parse_string() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') bad("expected a quoted string");
    const std::size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string::npos) bad("unterminated string");
    std::string s = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return s;
  }
  bool parse_bool() {
    skip_space();
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    bad("expected True or False");
  }
  std::vector<std::uint64_t> parse_tuple() {
    expect('(');
    std::vector<std::uint64_t> dims;
    while (true) {
      skip_space();
      if (peek() == ')') {
        ++pos_;
        return dims;
      }
      std::uint64_t v = 0;
      const char* first = text_.data() + pos_;
      const char* last = text_.data() + text_.size();
      const auto [ptr, ec] = std::from_chars(first, last, v);
      if (ec == std::errc::result_out_of_range)
        fail(path_, "absurd .npy shape: a dimension overflows 64 bits");
      if (ec != std::errc() || ptr == first) bad("expected a dimension");
      pos_ += static_cast<std::size_t>(ptr - first);
      dims.push_back(v);
      skip_space();
      if (peek() == ',')
        ++pos_;
      else if (peek() != ')')
        bad("expected ',' or ')' in the shape");
    }
  }

  const std::string& path_;
  const std::string& text_;
  std::size_t pos_ = 0;
};

ElementType npy_type(const std::string& path, const std::string& descr) {
  if (descr.size() < 2) fail(path, "unsupported .npy dtype '" + descr + "'");
  const char order = descr[0];
  std::string code = descr.substr(1);
  if (order == '>' && code != "u1" && code != "i1")
    fail(path, "big-endian .npy dtype '" + descr +
                   "' is not supported; save it little-endian "
                   "(e.g. arr.astype('<f8'))");
  if (order != '<' && order != '|' && order != '=' && order != '>')
    fail(path, "unsupported .npy dtype '" + descr + "'");
  if (order == '=' && host_is_big_endian())
    fail(path, "native-order .npy dtype '" + descr + "' on a big-endian host is not supported");
  ElementType type;
  type.big_endian = false;
  static const std::pair<const char*, Scalar> table[] = {
      {"u1", Scalar::kU8},  {"i1", Scalar::kI8},  {"u2", Scalar::kU16}, {"i2", Scalar::kI16},
      {"u4", Scalar::kU32}, {"i4", Scalar::kI32}, {"u8", Scalar::kU64}, {"i8", Scalar::kI64},
      {"f4", Scalar::kF32}, {"f8", Scalar::kF64}};
  for (const auto& [name, scalar] : table)
    if (code == name) {
      type.scalar = scalar;
      return type;
    }
  fail(path, "unsupported .npy dtype '" + descr +
                 "' (supported: float32, float64, uint8, int8, int16, int32, int64 and unsigned)");
}

BinaryLayout npy_layout(const std::string& path) {
  PosixFile file(path);
  if (file.size() == 0) fail(path, "empty file");
  unsigned char pre[12] = {};
  const std::size_t got = file.read_at(0, pre, sizeof pre);
  if (got < 10 || std::memcmp(pre, "\x93NUMPY", 6) != 0)
    fail(path, "not a .npy file (missing the \\x93NUMPY magic)");
  const unsigned major = pre[6], minor = pre[7];
  std::uint64_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = std::uint64_t{pre[8]} | (std::uint64_t{pre[9]} << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (got < 12) fail(path, "truncated: the .npy preamble ends early");
    header_len = std::uint64_t{pre[8]} | (std::uint64_t{pre[9]} << 8) |
                 (std::uint64_t{pre[10]} << 16) | (std::uint64_t{pre[11]} << 24);
    header_start = 12;
  } else {
    fail(path, "unsupported .npy format version " + std::to_string(major) + "." +
                   std::to_string(minor) + " (this build reads 1.0, 2.0 and 3.0)");
  }
  if (header_start + header_len > file.size())
    fail(path, "truncated: the .npy header is " + std::to_string(header_len) +
                   " bytes but the file holds " + std::to_string(file.size()));
  std::string text(header_len, '\0');
  file.read_at(header_start, text.data(), header_len);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\0'))
    text.pop_back();

  std::string descr;
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
  NpyHeaderParser(path, text).parse(descr, fortran_order, shape);

  BinaryLayout layout;
  layout.type = npy_type(path, descr);
  if (shape.empty())
    fail(path, "a 0-dimensional .npy array has no rows; save at least a 1-D array");
  bool ok = true;
  std::uint64_t cols = 1;
  for (std::size_t k = 1; k < shape.size(); ++k) cols = checked_mul(cols, shape[k], ok);
  const std::uint64_t rows = shape[0];
  const std::uint64_t values = checked_mul(rows, cols, ok);
  const std::uint64_t data_bytes = checked_mul(values, layout.type.bytes(), ok);
  if (!ok)
    fail(path, "absurd .npy shape: " + text.substr(text.find("shape")) + " overflows 64 bits");
  // A vector (or a single row or column) has the same bytes in either order.
  if (fortran_order && shape.size() > 1 && rows > 1 && cols > 1)
    fail(path,
         "fortran_order (column-major) .npy arrays are not supported; save with "
         "np.save(path, np.ascontiguousarray(a))");
  refuse_empty_shape(path, rows, cols);
  layout.data_offset = header_start + header_len;
  const std::uint64_t data_held = file.size() - layout.data_offset;
  const std::string claim = "the header says " + std::to_string(rows) + " rows of " +
                            std::to_string(cols) + " " + layout.type.name() + " values (" +
                            std::to_string(data_bytes) + " bytes)";
  if (data_held < data_bytes)
    fail(path, "truncated: " + claim + " but the file holds " + std::to_string(data_held));
  if (data_held > data_bytes)
    fail(path, claim + " but the file holds " + std::to_string(data_held) + " (trailing bytes)");
  layout.rows = static_cast<std::size_t>(rows);
  layout.cols = static_cast<std::size_t>(cols);
  return layout;
}

// Reads `rows` (ascending) of a binary layout into out, one contiguous run at a time so that
// consecutive rows cost one read; runs are cut into pieces of at most kChunkBytes.
constexpr std::size_t kChunkBytes = std::size_t{32} << 20;

template <class Stream>
void read_binary_rows(const std::string& path, Stream& stream, const BinaryLayout& layout,
                      const std::vector<std::size_t>& rows, Matrix<double>& out,
                      bool allow_nonfinite) {
  const std::size_t row_bytes = layout.row_bytes();
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
  }
}

// ---------------------------------------------------------------------------------------------
// Text formats (CSV, LIBSVM): parsed by text_formats.cpp. The local reader parses the whole file
// as one range; the distributed one gives each rank a byte range and combines the counts.

bool is_text(FileFormat f) { return f == FileFormat::kCsv || f == FileFormat::kLibsvm; }

// Shape of a parsed text file: d, and what the labels are.
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

// Densifies chunk row i (features into `x`, d columns; label into *label).
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

// The whole text file on one rank (local readers, convert's tests, fuzzing).
text::TextChunk parse_text_file(const std::string& path, FileFormat format,
                                const ReadOptions& options, bool keep, text::TextLayout& layout) {
  layout = text::read_layout(path, format, options);
  text::ChunkParser parser(path, layout, keep);
  text::parse_byte_range(path, 0, std::numeric_limits<std::uint64_t>::max(), parser);
  text::TextChunk chunk = std::move(parser.chunk());
  if (chunk.failed) throw Error(text::chunk_error(path, chunk, 0));
  return chunk;
}

// One rank's share of a text file after the ranks exchanged their counts.
struct TextScan {
  text::TextLayout layout;
  text::TextChunk chunk;
  FileInfo info;
  std::size_t row_offset = 0, line_offset = 0;  // rows and lines before this rank's range
};

// collective: every rank parses the lines starting in its byte range [size r/P, size (r+1)/P);
// then the ranks exchange (lines, rows, max index, integer flags) so each knows the global line
// and row numbers of its own lines, and the first error in the file is reported with its line.
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
    text::parse_byte_range(path, cut(r), cut(r + 1), parser);
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

// collective: sends the selected rows of every rank's text chunk to the rank that owns them
// under `partition` (of the selection). Rank s's chunk holds the global rows
// [row_offset_s, row_offset_s + rows_s), ascending in s, so the blocks a rank receives, in rank
// order, are already in row order. Records: [line, label?, d features] (dense) or
// [line, label?, nnz, nnz indices, nnz values] (LIBSVM, so sparse rows travel sparse).
void distribute_text(const mpi::Communicator& comm, const std::string& path, const TextScan& scan,
                     const std::vector<std::size_t>& selection, LocalData& local) {
  const int P = comm.size(), rank = comm.rank();
  const text::TextChunk& chunk = scan.chunk;
  const bool sparse = scan.layout.format == FileFormat::kLibsvm;
  const std::size_t d = scan.info.cols, label_cols = scan.info.label_cols;
  const BlockPartition& part = local.partition;
  mpi::agree_on(comm, [&] { check_dense_size(path, part.count(rank), d); });

  std::vector<double> send;
  std::vector<std::size_t> send_count(P, 0);
  mpi::agree_on(comm, [&] {
    // Selected rows of this chunk: positions k in the selection with selection[k] in range.
    const std::size_t lo = scan.row_offset, hi = scan.row_offset + chunk.rows;
    std::size_t k = selection.empty() ? lo
                                      : static_cast<std::size_t>(
                                            std::lower_bound(selection.begin(), selection.end(), lo) -
                                            selection.begin());
    std::vector<double> row(sparse ? 0 : d);
    for (; k < (selection.empty() ? hi : selection.size()); ++k) {
      const std::size_t g = selection.empty() ? k : selection[k];
      if (g >= hi) break;
      const std::size_t i = g - lo;
      const int owner = part.owner(k);
      const std::size_t before = send.size();
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
    for (int q = 0; q < P; ++q)
      if (send_count[q] > static_cast<std::size_t>(INT_MAX))
        fail(path, "a rank would send " + std::to_string(send_count[q]) +
                       " values to one other rank, more than MPI's int counts allow; use more "
                       "ranks or convert the file to .npy (kmpi convert)");
  });
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
             path + ": one rank would receive more values than MPI's int counts allow; use more "
                    "ranks or convert the file to .npy (kmpi convert)");
  std::vector<double> recv(total);
  comm.alltoallv(send.data(), counts, displs, recv.data(), recv_counts, recv_displs);
  send = std::vector<double>();

  const std::size_t count = part.count(rank);
  local.features.resize(count, d);
  if (label_cols > 0) local.targets.resize(count, 1);
  local.source_lines.resize(count);
  std::size_t pos = 0;
  for (std::size_t i = 0; i < count; ++i) {
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
  mpi::agree(comm, pos == total,
             path + ": internal error: received " + std::to_string(total) + " values, used " +
                 std::to_string(pos));
}

void check_rows(const std::string& path, const FileInfo& info,
                const std::vector<std::size_t>& rows) {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] >= info.rows)
      fail(path, "row " + std::to_string(rows[i]) + " requested but the file has " +
                     std::to_string(info.rows) + " rows");
    if (i > 0 && rows[i] < rows[i - 1])
      fail(path, "internal error: rows to read must be sorted ascending");
  }
}

void check_unchanged(const std::string& path, const FileInfo& info, std::size_t rows,
                     std::size_t cols) {
  if (rows != info.rows || cols != info.cols)
    fail(path, "the file changed since it was probed (" + std::to_string(info.rows) + "x" +
                   std::to_string(info.cols) + ", now " + std::to_string(rows) + "x" +
                   std::to_string(cols) + ")");
}

FileInfo info_of(FileFormat format, const BinaryLayout& layout) {
  FileInfo info;
  info.format = format;
  info.rows = layout.rows;
  info.cols = layout.cols;
  info.element = layout.type.floating() ? ElementKind::kFloating : ElementKind::kInteger;
  return info;
}

// All ranks must see the same shape; a file replaced between two ranks' probes would otherwise
// make them read inconsistent rows.
void agree_on_shape(const mpi::Communicator& comm, const std::string& path, const FileInfo& info) {
  unsigned long long lo[2] = {info.rows, info.cols}, hi[2] = {info.rows, info.cols};
  comm.allreduce(lo, 2, mpi::Op::kMin);
  comm.allreduce(hi, 2, mpi::Op::kMax);
  mpi::agree(comm, lo[0] == hi[0] && lo[1] == hi[1],
             path + ": ranks see different shapes (" + std::to_string(lo[0]) + "x" +
                 std::to_string(lo[1]) + " and " + std::to_string(hi[0]) + "x" +
                 std::to_string(hi[1]) + "); was the file changing?");
}

}  // namespace

FileFormat format_from_path(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  const std::string name = lower(slash == std::string::npos ? path : path.substr(slash + 1));
  if (hdf5::is_hdf5_path(path)) return FileFormat::kHdf5;
  if (ends_with(name, ".npy")) return FileFormat::kNpy;
  if (ends_with(name, ".csv") || ends_with(name, ".tsv") || ends_with(name, ".txt"))
    return FileFormat::kCsv;
  if (ends_with(name, ".svm") || ends_with(name, ".libsvm") || ends_with(name, ".svmlight") ||
      ends_with(name, ".scale"))
    return FileFormat::kLibsvm;
  const std::string stem = ends_with(name, ".gz") ? name.substr(0, name.size() - 3) : name;
  if (stem.find("idx") != std::string::npos || stem.find("-ubyte") != std::string::npos ||
      ends_with(stem, ".ubyte"))
    return FileFormat::kIdx;
  fail(path,
       "cannot tell the data format from the name (expected .npy, .csv/.tsv/.txt, "
       ".svm/.libsvm/.svmlight, file.h5:/dataset, or an IDX name such as "
       "train-images-idx3-ubyte[.gz]); "
       "data.format names it");
}

FileFormat resolve_format(const std::string& path, const ReadOptions& options) {
  if (options.format == "npy") return FileFormat::kNpy;
  if (options.format == "csv") return FileFormat::kCsv;
  if (options.format == "libsvm") return FileFormat::kLibsvm;
  if (options.format == "idx") return FileFormat::kIdx;
  if (options.format == "hdf5") return FileFormat::kHdf5;
  return format_from_path(path);
}

bool format_has_labels(FileFormat format) {
  return format == FileFormat::kCsv || format == FileFormat::kLibsvm;
}

ReadOptions read_options(const Options& o) {
  ReadOptions r;
  r.format = o.str("data.format");
  const std::string header = o.str("data.header");
  r.header = header == "true" ? HeaderMode::kYes
                              : (header == "false" ? HeaderMode::kNo : HeaderMode::kAuto);
  r.label_column = o.str("data.label_column");
  r.allow_nonfinite = o.flag("data.allow_nonfinite");
  r.dimension = static_cast<std::size_t>(o.integer("data.dimension"));
  return r;
}

std::string LocalData::where(std::size_t i) const {
  if (i < source_lines.size() && source_lines[i] > 0)
    return "line " + std::to_string(source_lines[i]);
  if (i < source_rows.size()) return "row " + std::to_string(source_rows[i]);
  return "local row " + std::to_string(i);
}

FileInfo probe_file(const std::string& path, const ReadOptions& options) {
  const FileFormat format = resolve_format(path, options);
  switch (format) {
    case FileFormat::kIdx:
      return info_of(FileFormat::kIdx, idx_layout(path));
    case FileFormat::kNpy:
      return info_of(FileFormat::kNpy, npy_layout(path));
    case FileFormat::kHdf5:
      return hdf5::probe(path);
    case FileFormat::kCsv:
    case FileFormat::kLibsvm: {
      text::TextLayout layout;
      const text::TextChunk chunk = parse_text_file(path, format, options, false, layout);
      const FileInfo info = text_info(layout, chunk.rows, chunk.max_index, chunk.labels_integer,
                                      chunk.features_integer);
      check_text_shape(path, info);
      return info;
    }
  }
  fail(path, "unknown format");
}

Matrix<double> read_rows(const std::string& path, const FileInfo& info,
                         const std::vector<std::size_t>& rows, const ReadOptions& options,
                         Matrix<double>* labels) {
  check_rows(path, info, rows);
  Matrix<double> out(rows.size(), info.cols);
  if (rows.empty()) return out;
  switch (info.format) {
    case FileFormat::kIdx: {
      const BinaryLayout layout = idx_layout(path);
      check_unchanged(path, info, layout.rows, layout.cols);
      if (layout.gzip) {
        GzipFile gz(path);
        read_binary_rows(path, gz, layout, rows, out, options.allow_nonfinite);
      } else {
        PosixFile file(path);
        read_binary_rows(path, file, layout, rows, out, options.allow_nonfinite);
      }
      break;
    }
    case FileFormat::kNpy: {
      const BinaryLayout layout = npy_layout(path);
      check_unchanged(path, info, layout.rows, layout.cols);
      PosixFile file(path);
      read_binary_rows(path, file, layout, rows, out, options.allow_nonfinite);
      break;
    }
    case FileFormat::kHdf5:
      out = hdf5::read_rows(path, info, rows, options.allow_nonfinite);
      break;
    case FileFormat::kCsv:
    case FileFormat::kLibsvm: {
      text::TextLayout layout;
      ReadOptions o = options;
      if (info.format == FileFormat::kLibsvm && o.dimension == 0) o.dimension = info.cols;
      const text::TextChunk chunk = parse_text_file(path, info.format, o, true, layout);
      const FileInfo now = text_info(layout, chunk.rows, chunk.max_index, true, true);
      check_unchanged(path, info, chunk.rows, now.cols);
      if (labels != nullptr && info.label_cols > 0) labels->resize(rows.size(), 1);
      for (std::size_t i = 0; i < rows.size(); ++i)
        chunk_row(chunk, info.format, rows[i], info.cols, out.row(i),
                  labels != nullptr && info.label_cols > 0 ? labels->row(i) : nullptr);
      break;
    }
  }
  return out;
}

FileInfo probe_distributed(const mpi::Communicator& comm, const std::string& path,
                           const ReadOptions& options) {
  FileFormat format = FileFormat::kNpy;
  mpi::agree_on(comm, [&] { format = resolve_format(path, options); });
  if (is_text(format)) return scan_text_distributed(comm, path, format, options, false).info;
  FileInfo info;
  mpi::agree_on(comm, [&] { info = probe_file(path, options); });
  agree_on_shape(comm, path, info);
  return info;
}

LocalData read_distributed(const mpi::Communicator& comm, const std::string& features_path,
                           const std::string& labels_path,
                           const std::vector<std::size_t>& selection, const ReadOptions& options) {
  const bool with_labels = !labels_path.empty();
  ReadOptions feature_options = options;
  feature_options.embedded_labels = options.embedded_labels && !with_labels;
  // A labels file is read by its own name (data.format describes the features file).
  ReadOptions label_options;
  label_options.allow_nonfinite = options.allow_nonfinite;

  FileFormat format = FileFormat::kNpy;
  mpi::agree_on(comm, [&] { format = resolve_format(features_path, feature_options); });
  FileInfo labels_info;
  if (with_labels) labels_info = probe_distributed(comm, labels_path, label_options);

  // Text: one parse that keeps the values; binary: the header only.
  TextScan scan;
  FileInfo features_info;
  if (is_text(format)) {
    scan = scan_text_distributed(comm, features_path, format, feature_options, true);
    features_info = scan.info;
  } else {
    mpi::agree_on(comm, [&] { features_info = probe_file(features_path, feature_options); });
    agree_on_shape(comm, features_path, features_info);
  }
  // Checks on agreed values: every rank reaches the same verdict.
  mpi::agree_on(comm, [&] {
    if (with_labels && labels_info.rows != features_info.rows)
      throw Error(labels_path + ": " + std::to_string(labels_info.rows) + " labels for " +
                  std::to_string(features_info.rows) + " rows of features in " + features_path +
                  "; the two files must have the same number of rows");
    for (std::size_t i = 0; i < selection.size(); ++i) {
      if (selection[i] >= features_info.rows)
        throw Error(features_path + ": selected row " + std::to_string(selection[i]) +
                    " but the file has " + std::to_string(features_info.rows) + " rows");
      if (i > 0 && selection[i] <= selection[i - 1])
        throw Error(features_path + ": the row selection must be strictly ascending");
    }
    const std::size_t n = selection.empty() ? features_info.rows : selection.size();
    if (n < static_cast<std::size_t>(comm.size()))
      throw Error(features_path + ": " + std::to_string(n) + " rows selected for " +
                  std::to_string(comm.size()) + " ranks; every rank needs at least one row");
  });

  LocalData local;
  const std::size_t n = selection.empty() ? features_info.rows : selection.size();
  local.partition = BlockPartition(n, comm.size());
  local.dimension = features_info.cols;
  const int rank = comm.rank();
  std::vector<std::size_t> mine(local.partition.count(rank));
  for (std::size_t i = 0; i < mine.size(); ++i) {
    const std::size_t k = local.partition.begin(rank) + i;
    mine[i] = selection.empty() ? k : selection[k];
  }
  local.source_rows = mine;
  if (is_text(format)) {
    distribute_text(comm, features_path, scan, selection, local);
    scan = TextScan();
    if (features_info.label_cols > 0) local.target_kind = features_info.label_element;
  } else {
    mpi::agree_on(comm, [&] {
      local.features = read_rows(features_path, features_info, mine, feature_options);
    });
  }
  if (with_labels) {
    // Through the same path, so a CSV labels file is split by byte ranges too.
    LocalData labels = read_distributed(comm, labels_path, "", selection, label_options);
    local.targets = std::move(labels.features);
    local.target_kind = labels_info.element;
  }
  return local;
}

void check_data_options(const mpi::Communicator& comm, const Options& o,
                        const std::string& command) {
  mpi::agree_on(comm, [&] {
    const std::string labels_key = command == "train" ? "data.train_labels" : "data.labels";
    if (o.given("data.label_column") && (command == "train" || command == "eval") &&
        !o.str(labels_key).empty())
      throw Error("options data.label_column and " + labels_key +
                  " conflict: the labels come either from a column of the features file or "
                  "from a labels file; give one of them");
    if (command == "train" && !o.str("data.test_labels").empty() &&
        o.str("data.test_features").empty())
      throw Error("option data.test_labels is given without data.test_features");
    if (o.given("data.dimension") && o.str("data.format") != "auto" &&
        o.str("data.format") != "libsvm")
      throw Error("options data.dimension and data.format = " + o.str("data.format") +
                  " conflict: data.dimension applies to LIBSVM files only");
    if (o.given("data.header") && o.str("data.format") != "auto" && o.str("data.format") != "csv")
      throw Error("options data.header and data.format = " + o.str("data.format") +
                  " conflict: data.header applies to CSV files only");
  });
}

void write_npy_distributed(const mpi::Communicator& comm, const std::string& path,
                           const BlockPartition& partition, const Matrix<double>& local,
                           bool as_int64) {
  const std::size_t n = partition.size(), cols = local.cols();
  const std::string tmp = path + ".tmp";
  // Header: version 1.0, dict padded with spaces and '\n' so the data starts at a multiple of 64.
  std::string dict = std::string("{'descr': '") + (as_int64 ? "<i8" : "<f8") +
                     "', 'fortran_order': False, 'shape': (" + std::to_string(n) +
                     (cols == 1 ? ",)" : ", " + std::to_string(cols) + ")") + ", }";
  while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string header = "\x93NUMPY";
  header += '\x01';
  header += '\x00';
  header += static_cast<char>(dict.size() & 0xff);
  header += static_cast<char>((dict.size() >> 8) & 0xff);
  header += dict;
  const std::uint64_t total = header.size() + std::uint64_t{n} * cols * 8;

  auto write_all = [&](int fd, const char* p, std::size_t bytes, std::uint64_t offset) {
    while (bytes > 0) {
      const ssize_t w = ::pwrite(fd, p, bytes, static_cast<off_t>(offset));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail(tmp, std::string("write error: ") + std::strerror(errno));
      p += w;
      bytes -= static_cast<std::size_t>(w);
      offset += static_cast<std::uint64_t>(w);
    }
  };
  // Rank 0 creates the file at its full size; then every rank writes its rows.
  mpi::agree_on(comm, [&] {
    if (comm.rank() != 0) return;
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail(tmp, std::string("cannot create: ") + std::strerror(errno));
    try {
      if (::ftruncate(fd, static_cast<off_t>(total)) != 0)
        fail(tmp, std::string("cannot size the file: ") + std::strerror(errno));
      write_all(fd, header.data(), header.size(), 0);
    } catch (...) {
      ::close(fd);
      throw;
    }
    if (::close(fd) != 0) fail(tmp, std::string("close failed: ") + std::strerror(errno));
  });
  bool ok = true;
  std::string message;
  try {
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail(tmp, std::string("cannot open for writing: ") + std::strerror(errno));
    std::vector<char> bytes(local.size() * 8);
    for (std::size_t i = 0; i < local.size(); ++i) {
      const double v = local.data()[i];
      if (as_int64) {
        const auto q = static_cast<std::int64_t>(v);
        std::memcpy(bytes.data() + 8 * i, &q, 8);
      } else {
        std::memcpy(bytes.data() + 8 * i, &v, 8);
      }
    }
    try {
      write_all(fd, bytes.data(), bytes.size(),
                header.size() + std::uint64_t{partition.begin(comm.rank())} * cols * 8);
      if (::fsync(fd) != 0) fail(tmp, std::string("fsync failed: ") + std::strerror(errno));
    } catch (...) {
      ::close(fd);
      throw;
    }
    if (::close(fd) != 0) fail(tmp, std::string("close failed: ") + std::strerror(errno));
  } catch (const std::exception& e) {
    ok = false;
    message = e.what();
  }
  try {
    mpi::agree(comm, ok, message);
  } catch (const CollectiveError&) {
    if (comm.rank() == 0) std::remove(tmp.c_str());
    throw;
  }
  ok = true;
  if (comm.rank() == 0) ok = std::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) std::remove(tmp.c_str());
  mpi::agree(comm, ok, path + ": cannot rename " + tmp + " into place");
}

}  // namespace kmpi
