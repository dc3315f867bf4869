// IDX files (the MNIST family), raw or gzip: magic 0x00 0x00 type ndims, then ndims big-endian
// u32 sizes, then the data big-endian, row-major.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "io/binary_formats.hpp"

namespace kmpi::detail {

namespace {

// The IDX type codes (the third magic byte); 0x0A is unassigned.
bool idx_type(unsigned char code, ElementType& type) {
  static const std::pair<unsigned char, Scalar> table[] = {
      {0x08, Scalar::kU8},  {0x09, Scalar::kI8},  {0x0B, Scalar::kI16},
      {0x0C, Scalar::kI32}, {0x0D, Scalar::kF32}, {0x0E, Scalar::kF64}};
  type.big_endian = true;
  for (const auto& [value, scalar] : table)
    if (code == value) {
      type.scalar = scalar;
      return true;
    }
  return false;
}

std::string hex32(std::uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", v);
  return text;
}

// The largest expansion deflate can achieve is about 1032:1, so a gzip file of m bytes cannot
// hold more than that; a header claiming more is refused before anything is allocated.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

bool has_gzip_magic(const PosixFile& file) {
  unsigned char magic[2] = {0, 0};
  return file.read_at(0, magic, 2) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

// The header bytes as read, before any check: how many arrived tells a short file apart.
struct IdxHeader {
  unsigned char magic[4] = {0, 0, 0, 0};
  std::vector<unsigned char> dims_raw;  // 4 bytes per dimension (when the magic looked right)
  std::size_t got = 0, got_dims = 0;
  std::size_t ndims() const { return magic[3]; }
};

// Reads the header through whichever stream the file is.
template <class Stream>
void read_idx_header(Stream& stream, IdxHeader& h) {
  h.got = stream.read_at(0, h.magic, 4);
  if (h.got == 4 && h.magic[0] == 0 && h.magic[1] == 0 && h.magic[3] > 0) {
    h.dims_raw.resize(4u * h.magic[3]);
    h.got_dims = stream.read_at(4, h.dims_raw.data(), h.dims_raw.size());
  }
}

// Refuses a short header or a wrong magic number; sets the element type.
void check_idx_magic(const std::string& path, const IdxHeader& h, ElementType& type) {
  const unsigned char* magic = h.magic;
  const std::uint32_t magic_value = (std::uint32_t{magic[0]} << 24) |
                                    (std::uint32_t{magic[1]} << 16) |
                                    (std::uint32_t{magic[2]} << 8) | magic[3];
  if (h.got < 4) fail(path, "too short for an IDX header (" + std::to_string(h.got) + " bytes)");
  if (magic[0] != 0 || magic[1] != 0 || !idx_type(magic[2], type) || magic[3] == 0)
    fail(path, "not an IDX file: magic number " + hex32(magic_value) +
                   " (expected 0x00000Tnn with type T in 08,09,0B,0C,0D,0E and nn dimensions)");
  if (h.got_dims < h.dims_raw.size())
    fail(path, "truncated: the IDX header names " + std::to_string(magic[3]) +
                   " dimensions but the file ends inside it");
}

// The data size a header claims must be what the file holds (raw) or could hold (gzip).
void check_idx_size(const std::string& path, const PosixFile& raw, const BinaryLayout& layout,
                    std::uint64_t rows, std::uint64_t cols, std::uint64_t data_bytes) {
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
}

}  // namespace

BinaryLayout idx_layout(const std::string& path) {
  PosixFile raw(path);
  if (raw.size() == 0) fail(path, "empty file");
  BinaryLayout layout;
  layout.gzip = has_gzip_magic(raw);
  IdxHeader header;
  if (layout.gzip) {
    GzipFile gz(path);
    read_idx_header(gz, header);
  } else {
    read_idx_header(raw, header);
  }
  check_idx_magic(path, header, layout.type);

  // Rows are the first dimension; a row holds the product of the others.
  bool ok = true;
  std::uint64_t rows = 0, cols = 1;
  for (std::size_t k = 0; k < header.ndims(); ++k) {
    const unsigned char* p = header.dims_raw.data() + 4 * k;
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
  layout.data_offset = 4 + 4 * std::uint64_t{header.ndims()};
  check_idx_size(path, raw, layout, rows, cols, data_bytes);
  layout.rows = static_cast<std::size_t>(rows);
  layout.cols = static_cast<std::size_t>(cols);
  return layout;
}

}  // namespace kmpi::detail
