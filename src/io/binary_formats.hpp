// Internal: the binary readers (IDX in src/io/idx.cpp, .npy in src/io/npy.cpp) and what they
// share (src/io/binary_rows.cpp): the element types, the layout a header describes, and the row
// reader that touches only the requested rows. Each reader has two steps: a probe (*_layout)
// that learns the shape from the header and refuses anything the file cannot hold, and
// read_binary_rows. Every message starts with the path, so rank 0 can print one line that says
// which file is wrong.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kmpi/matrix.hpp"
#include "io/posix_file.hpp"

namespace kmpi::detail {

// Element types. IDX is big-endian, .npy little-endian; both decode through the same table.
enum class Scalar { kU8, kI8, kU16, kI16, kU32, kI32, kU64, kI64, kF32, kF64 };

struct ElementType {
  Scalar scalar = Scalar::kF64;
  bool big_endian = false;

  // local: bytes per value.
  std::size_t bytes() const;
  // local: whether the values are float32 or float64 (NaN/Inf are possible).
  bool floating() const { return scalar == Scalar::kF32 || scalar == Scalar::kF64; }
  // local: numpy's name of the type ("uint8", "float64", ...), for messages.
  std::string name() const;
};

// The layout of a binary (IDX or .npy) file: where the rows start and how they are encoded.
struct BinaryLayout {
  ElementType type;
  std::uint64_t data_offset = 0;
  std::size_t rows = 0, cols = 0;
  bool gzip = false;
  std::size_t row_bytes() const { return cols * type.bytes(); }
};

// A gzip stream read forward only (gzseek forward decompresses and discards).
class GzipFile {
 public:
  // local: throws kmpi::Error naming the path when zlib cannot open it.
  explicit GzipFile(const std::string& path);
  ~GzipFile();
  GzipFile(const GzipFile&) = delete;
  GzipFile& operator=(const GzipFile&) = delete;

  // local: reads up to n bytes at the uncompressed offset (>= the current position); returns
  // how many it got. A corrupt stream is an error; a short count means the data ended early.
  std::size_t read_at(std::uint64_t offset, void* buffer, std::size_t n);

 private:
  std::string path_;
  gzFile file_ = nullptr;
  std::uint64_t position_ = 0;
};

// local: a * b; `ok` turns false when it overflows (sizes from headers are untrusted).
inline std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b, bool& ok) {
  std::uint64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) ok = false;
  return out;
}

// local: refuses a shape with no rows or empty rows, naming the file.
void refuse_empty_shape(const std::string& path, std::uint64_t rows, std::uint64_t cols);

// local: the layout of an IDX file (raw or gzip), validated against the file's size.
BinaryLayout idx_layout(const std::string& path);

// local: the layout of a .npy file (format 1.0, 2.0 or 3.0), validated against its size.
BinaryLayout npy_layout(const std::string& path);
// local: the .npy header (format 1.0, data aligned to 64 bytes) of a little-endian float64
// (or int64) array of rows x cols, or of `rows` values when one_dimensional.
std::string npy_header(std::size_t rows, std::size_t cols, bool as_int64, bool one_dimensional);

// local: reads `rows` (ascending, repeats allowed) of a binary layout into the rows of `out`,
// rejecting NaN/Inf (with the row named) unless allow_nonfinite.
// `progress` (optional) gets the bytes read so far and in all after every chunk.
using ReadProgress = std::function<void(double done, double total)>;
void read_binary_rows(const std::string& path, const PosixFile& stream, const BinaryLayout& layout,
                      const std::vector<std::size_t>& rows, Matrix<double>& out,
                      bool allow_nonfinite, const ReadProgress& progress = {});
void read_binary_rows(const std::string& path, GzipFile& stream, const BinaryLayout& layout,
                      const std::vector<std::size_t>& rows, Matrix<double>& out,
                      bool allow_nonfinite, const ReadProgress& progress = {});

}  // namespace kmpi::detail
