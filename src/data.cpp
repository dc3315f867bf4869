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
#include <fstream>
#include <string_view>

#include "kmpi/error.hpp"

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
                 std::size_t count, std::size_t cols, std::size_t global_row, double* out) {
  const bool swap = type.big_endian != host_is_big_endian();
  const std::size_t width = type.bytes();
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      const double v = decode(type, raw + (i * cols + j) * width, swap);
      if (type.floating() && !std::isfinite(v))
        fail(path, "row " + std::to_string(global_row + i) + ", column " + std::to_string(j) +
                       " (0-based) is " + (std::isnan(v) ? "NaN" : "Inf") +
                       "; NaN/Inf values are not accepted");
      out[i * cols + j] = v;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Plain files: open with the error a user can act on, size, and positioned reads.

class PosixFile {
 public:
  explicit PosixFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      const int err = errno;
      if (err == ENOENT) fail(path, "no such file");
      fail(path, std::string("cannot open: ") + std::strerror(err));
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      const int err = errno;
      ::close(fd_);
      fail(path, std::string("cannot stat: ") + std::strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd_);
      fail(path, "is a directory, not a data file");
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
  }
  ~PosixFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  std::uint64_t size() const { return size_; }

  // Reads up to n bytes at offset; returns how many it got (fewer only at the end of the file).
  std::size_t read_at(std::uint64_t offset, void* buffer, std::size_t n) const {
    auto* p = static_cast<unsigned char*>(buffer);
    std::size_t done = 0;
    while (done < n) {
      const ssize_t got = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
      if (got < 0) {
        if (errno == EINTR) continue;
        fail(path_, std::string("read error: ") + std::strerror(errno));
      }
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

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
                      const std::vector<std::size_t>& rows, Matrix<double>& out) {
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
    decode_rows(path, layout.type, buffer.data(), run, layout.cols, rows[i], out.row(i));
    i += run;
  }
}

// ---------------------------------------------------------------------------------------------
// CSV: numbers separated by commas (or tabs, or semicolons, or blanks: whichever the first line
// uses), an optional header line (a first line with a token that is not a number), blank lines
// skipped. Lines and columns in messages count from 1, as an editor shows them.

struct CsvDialect {
  char delimiter = ',';  // ' ' means runs of blanks
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool blank(std::string_view line) { return trim(line).empty(); }

void split(std::string_view line, const CsvDialect& dialect,
           std::vector<std::string_view>& tokens) {
  tokens.clear();
  line = trim(line);
  if (dialect.delimiter == ' ') {
    std::size_t pos = 0;
    while (pos < line.size()) {
      while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
      if (pos >= line.size()) break;
      std::size_t end = pos;
      while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
      tokens.push_back(line.substr(pos, end - pos));
      pos = end;
    }
    return;
  }
  std::size_t pos = 0;
  while (true) {
    const std::size_t end = line.find(dialect.delimiter, pos);
    std::string_view token =
        trim(line.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
    if (token.size() >= 2 && token.front() == '"' && token.back() == '"')
      token = token.substr(1, token.size() - 2);
    tokens.push_back(token);
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
}

CsvDialect detect_dialect(std::string_view first_line) {
  CsvDialect d;
  if (first_line.find(',') != std::string_view::npos)
    d.delimiter = ',';
  else if (first_line.find('\t') != std::string_view::npos)
    d.delimiter = '\t';
  else if (first_line.find(';') != std::string_view::npos)
    d.delimiter = ';';
  else
    d.delimiter = ' ';
  return d;
}

// Parses one token; false if it is not a number. `integer` says whether it is written as one.
bool parse_number(std::string_view token, double& value, bool& integer) {
  if (!token.empty() && token.front() == '+') token.remove_prefix(1);
  if (token.empty()) return false;
  const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (ec == std::errc::result_out_of_range) {
    // Overflow to +-Inf or underflow to 0; from_chars leaves value untouched, so give it one.
    value = std::strtod(std::string(token).c_str(), nullptr);
  } else if (ec != std::errc()) {
    return false;
  }
  if (ptr != token.data() + token.size()) return false;
  std::size_t k = token.front() == '-' ? 1 : 0;
  integer = k < token.size();
  for (; k < token.size(); ++k)
    if (!std::isdigit(static_cast<unsigned char>(token[k]))) integer = false;
  return true;
}

std::string csv_where(const std::string& path, std::size_t line, std::size_t column) {
  return path + ": line " + std::to_string(line) + ", column " + std::to_string(column);
}

// One pass over a CSV file. `on_row(row, line, tokens)` sees every data row; the header line, if
// any, is skipped. Returns the number of data rows; `cols` is set from the first row.
template <class OnRow>
std::size_t scan_csv(const std::string& path, std::size_t& cols, bool& header, OnRow&& on_row) {
  {
    PosixFile check(
        path);  // the open/directory/empty errors, with the same wording as binary files
    if (check.size() == 0) fail(path, "empty file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open");
  std::string text;
  std::vector<std::string_view> tokens;
  CsvDialect dialect;
  bool first = true;
  std::size_t line_no = 0, rows = 0, first_data_line = 0, header_line = 0;
  header = false;
  cols = 0;
  while (std::getline(in, text)) {
    ++line_no;
    if (blank(text)) continue;
    if (first) {
      dialect = detect_dialect(text);
      split(text, dialect, tokens);
      // Header: the first line holds at least one token that is not a number.
      for (const auto& t : tokens) {
        double v;
        bool integer;
        if (!parse_number(t, v, integer)) header = true;
      }
      first = false;
      cols = tokens.size();
      if (header) {
        header_line = line_no;
        continue;
      }
    } else {
      split(text, dialect, tokens);
    }
    if (first_data_line == 0) first_data_line = line_no;
    if (tokens.size() != cols)
      fail(path, "line " + std::to_string(line_no) + " has " + std::to_string(tokens.size()) +
                     " values but " +
                     (header ? "the header on line " + std::to_string(header_line)
                             : "line " + std::to_string(first_data_line)) +
                     " has " + std::to_string(cols) + " (ragged rows)");
    on_row(rows, line_no, tokens);
    ++rows;
  }
  if (in.bad()) fail(path, "read error");
  if (first) fail(path, "empty file (only blank lines)");
  if (rows == 0) fail(path, "no data rows (only a header line)");
  return rows;
}

// Parses a data row's tokens into out; every token must be a finite number.
void parse_csv_row(const std::string& path, std::size_t row, std::size_t line,
                   const std::vector<std::string_view>& tokens, double* out, bool& all_integer) {
  for (std::size_t j = 0; j < tokens.size(); ++j) {
    double v = 0;
    bool integer = false;
    if (!parse_number(tokens[j], v, integer)) {
      if (tokens[j].empty()) throw Error(csv_where(path, line, j + 1) + ": empty value");
      throw Error(csv_where(path, line, j + 1) + ": '" + std::string(tokens[j]) +
                  "' is not a number");
    }
    if (!std::isfinite(v))
      throw Error(csv_where(path, line, j + 1) + " (data row " + std::to_string(row) +
                  ", 0-based): '" + std::string(tokens[j]) + "' is " +
                  (std::isnan(v) ? "NaN" : "Inf") + "; NaN/Inf values are not accepted");
    all_integer = all_integer && integer;
    if (out != nullptr) out[j] = v;
  }
}

FileInfo probe_csv(const std::string& path) {
  FileInfo info;
  info.format = FileFormat::kCsv;
  bool all_integer = true, header = false;
  std::size_t cols = 0;
  info.rows =
      scan_csv(path, cols, header, [&](std::size_t row, std::size_t line, const auto& tokens) {
        parse_csv_row(path, row, line, tokens, nullptr, all_integer);
      });
  info.cols = cols;
  if (cols == 0) fail(path, "the rows are empty");
  info.element = all_integer ? ElementKind::kInteger : ElementKind::kFloating;
  return info;
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
  if (ends_with(name, ".npy")) return FileFormat::kNpy;
  if (ends_with(name, ".csv") || ends_with(name, ".tsv") || ends_with(name, ".txt"))
    return FileFormat::kCsv;
  const std::string stem = ends_with(name, ".gz") ? name.substr(0, name.size() - 3) : name;
  if (stem.find("idx") != std::string::npos || stem.find("-ubyte") != std::string::npos ||
      ends_with(stem, ".ubyte"))
    return FileFormat::kIdx;
  fail(path,
       "cannot tell the data format from the name (expected .npy, .csv/.tsv/.txt, or an IDX name "
       "such as train-images-idx3-ubyte[.gz])");
}

FileInfo probe_file(const std::string& path) {
  switch (format_from_path(path)) {
    case FileFormat::kIdx:
      return info_of(FileFormat::kIdx, idx_layout(path));
    case FileFormat::kNpy:
      return info_of(FileFormat::kNpy, npy_layout(path));
    case FileFormat::kCsv:
      return probe_csv(path);
  }
  fail(path, "unknown format");
}

Matrix<double> read_rows(const std::string& path, const FileInfo& info,
                         const std::vector<std::size_t>& rows) {
  check_rows(path, info, rows);
  Matrix<double> out(rows.size(), info.cols);
  if (rows.empty()) return out;
  switch (info.format) {
    case FileFormat::kIdx: {
      const BinaryLayout layout = idx_layout(path);
      check_unchanged(path, info, layout.rows, layout.cols);
      if (layout.gzip) {
        GzipFile gz(path);
        read_binary_rows(path, gz, layout, rows, out);
      } else {
        PosixFile file(path);
        read_binary_rows(path, file, layout, rows, out);
      }
      break;
    }
    case FileFormat::kNpy: {
      const BinaryLayout layout = npy_layout(path);
      check_unchanged(path, info, layout.rows, layout.cols);
      PosixFile file(path);
      read_binary_rows(path, file, layout, rows, out);
      break;
    }
    case FileFormat::kCsv: {
      // One more scan: lines are found by reading, only the requested ones are parsed.
      std::size_t next = 0, cols = 0;
      bool header = false, all_integer = true;
      const std::size_t total =
          scan_csv(path, cols, header, [&](std::size_t row, std::size_t line, const auto& tokens) {
            if (tokens.size() != info.cols) check_unchanged(path, info, info.rows, tokens.size());
            while (next < rows.size() && rows[next] == row) {
              parse_csv_row(path, row, line, tokens, out.row(next), all_integer);
              ++next;
            }
          });
      check_unchanged(path, info, total, cols);
      break;
    }
  }
  return out;
}

LocalData read_distributed(const mpi::Communicator& comm, const std::string& features_path,
                           const std::string& labels_path,
                           const std::vector<std::size_t>& selection) {
  FileInfo features_info, labels_info;
  const bool with_labels = !labels_path.empty();
  mpi::agree_on(comm, [&] {
    features_info = probe_file(features_path);
    if (with_labels) {
      labels_info = probe_file(labels_path);
      if (labels_info.rows != features_info.rows)
        throw Error(labels_path + ": " + std::to_string(labels_info.rows) + " labels for " +
                    std::to_string(features_info.rows) + " rows of features in " + features_path +
                    "; the two files must have the same number of rows");
    }
    const std::size_t n = selection.empty() ? features_info.rows : selection.size();
    for (std::size_t i = 0; i < selection.size(); ++i) {
      if (selection[i] >= features_info.rows)
        throw Error(features_path + ": selected row " + std::to_string(selection[i]) +
                    " but the file has " + std::to_string(features_info.rows) + " rows");
      if (i > 0 && selection[i] <= selection[i - 1])
        throw Error(features_path + ": the row selection must be strictly ascending");
    }
    if (n < static_cast<std::size_t>(comm.size()))
      throw Error(features_path + ": " + std::to_string(n) + " rows selected for " +
                  std::to_string(comm.size()) + " ranks; every rank needs at least one row");
  });
  agree_on_shape(comm, features_path, features_info);
  if (with_labels) agree_on_shape(comm, labels_path, labels_info);

  LocalData local;
  const std::size_t n = selection.empty() ? features_info.rows : selection.size();
  local.partition = BlockPartition(n, comm.size());
  local.dimension = features_info.cols;
  local.target_kind = with_labels ? labels_info.element : ElementKind::kFloating;
  const int rank = comm.rank();
  std::vector<std::size_t> mine(local.partition.count(rank));
  for (std::size_t i = 0; i < mine.size(); ++i) {
    const std::size_t k = local.partition.begin(rank) + i;
    mine[i] = selection.empty() ? k : selection[k];
  }
  mpi::agree_on(comm, [&] {
    local.features = read_rows(features_path, features_info, mine);
    if (with_labels) local.targets = read_rows(labels_path, labels_info, mine);
  });
  return local;
}

FileInfo probe_distributed(const mpi::Communicator& comm, const std::string& path) {
  FileInfo info;
  mpi::agree_on(comm, [&] { info = probe_file(path); });
  agree_on_shape(comm, path, info);
  return info;
}

}  // namespace kmpi
