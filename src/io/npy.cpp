// .npy files: "\x93NUMPY", major, minor, header length (u16 for 1.0, u32 for 2.0/3.0), then a
// Python dict literal {'descr': '<f8', 'fortran_order': False, 'shape': (n, d), } padded with
// spaces. Reading (npy_layout, then read_binary_rows) and the collective writer
// (write_npy_distributed) of kmpi/data.hpp.
#include <fcntl.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <utility>

#include "kmpi/data.hpp"
#include "base/temporaries.hpp"
#include "kmpi/error.hpp"
#include "io/binary_formats.hpp"
#include "io/little_endian.hpp"

namespace kmpi {

namespace detail {

namespace {

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

}  // namespace

namespace {

// The preamble: checks the magic and the version, and returns the header dict's text (trailing
// padding removed); `data_offset` gets where the data starts.
std::string read_npy_header(const std::string& path, const PosixFile& file,
                            std::uint64_t& data_offset) {
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
  data_offset = header_start + header_len;
  return text;
}

}  // namespace

BinaryLayout npy_layout(const std::string& path) {
  PosixFile file(path);
  if (file.size() == 0) fail(path, "empty file");
  std::uint64_t data_offset = 0;
  const std::string text = read_npy_header(path, file, data_offset);

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
  layout.data_offset = data_offset;
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

// Version 1.0, the dict padded with spaces and '\n' so that the data starts at a multiple of 64.
std::string npy_header(std::size_t rows, std::size_t cols, bool as_int64, bool one_dimensional) {
  std::string dict = std::string("{'descr': '") + (as_int64 ? "<i8" : "<f8") +
                     "', 'fortran_order': False, 'shape': (" + std::to_string(rows) +
                     (one_dimensional ? ",)" : ", " + std::to_string(cols) + ")") + ", }";
  while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string header = "\x93NUMPY";
  header += '\x01';
  header += '\x00';
  put_le<std::uint16_t>(header, static_cast<std::uint16_t>(dict.size()));
  header += dict;
  return header;
}

}  // namespace detail

namespace {

using detail::FileErrors;
using detail::PosixFile;

// The block's values as 8-byte float64 or int64 (truncated toward zero) in the host's order,
// which the little-endian '<f8' / '<i8' of the header describes on the hosts kmpi supports.
std::vector<char> npy_bytes(const Matrix<double>& local, bool as_int64) {
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
  return bytes;
}

// The writer's errors name the temporary; a failed open is "cannot create" on rank 0 and
// "cannot open for writing" on the others.
FileErrors writer_errors(const std::string& tmp, const std::string& cannot_open) {
  FileErrors errors;
  errors.label = tmp;
  errors.cannot_open = cannot_open;
  errors.say_no_such_file = false;
  return errors;
}

}  // namespace

void write_npy_distributed(const mpi::Communicator& comm, const std::string& path,
                           const BlockPartition& partition, const Matrix<double>& local,
                           bool as_int64) {
  const std::size_t n = partition.size(), cols = local.cols();
  const std::string tmp = path + ".tmp";
  const std::string header = detail::npy_header(n, cols, as_int64, cols == 1);
  const std::uint64_t total = header.size() + std::uint64_t{n} * cols * 8;
  const temporaries::Registration registration(tmp);
  comm.barrier();  // rank 0 creates it once every rank knows its name (base/temporaries.hpp)
  bool created = false;  // rank 0: whether the temporary is ours to remove
  try {
    // Rank 0 creates the file at its full size; then every rank writes its rows.
    mpi::agree_on(comm, [&] {
      if (comm.rank() != 0) return;
      PosixFile file(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644, writer_errors(tmp, "cannot create"));
      created = true;
      file.truncate(total);
      file.write_at(0, header.data(), header.size());
      file.close();
    });
    mpi::agree_on(comm, [&] {
      PosixFile file(tmp, O_WRONLY, 0, writer_errors(tmp, "cannot open for writing"));
      const std::vector<char> bytes = npy_bytes(local, as_int64);
      file.write_at(header.size() + std::uint64_t{partition.begin(comm.rank())} * cols * 8,
                    bytes.data(), bytes.size());
      file.sync();
      file.close();
    });
  } catch (const CollectiveError&) {
    if (created) std::remove(tmp.c_str());
    throw;
  }
  const std::string why = comm.rank() == 0 ? detail::rename_into_place(tmp, path) : std::string();
  mpi::agree(comm, why.empty(), path + ": cannot rename " + tmp + " into place: " + why);
}

}  // namespace kmpi
