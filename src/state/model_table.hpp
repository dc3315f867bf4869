// Internal: the table section of a model file (format version 4; layout in kmpi/model.hpp).
#pragma once

#include <cstddef>
#include <string>

#include "kmpi/data.hpp"

namespace kmpi::detail {

// local: whether a column has quantile knots (data.numeric_transform = quantile): such a
// section needs model format version 5.
bool has_quantiles(const TableEncoding& table);

// local: the section's bytes (empty for an empty encoding).
std::string encode_table(const TableEncoding& table);

// local: the encoding from `size` bytes at `p`; throws kmpi::Error naming `path` when the bytes
// are not a table section (truncated, absurd counts, trailing bytes).
TableEncoding decode_table(const std::string& path, const unsigned char* p, std::size_t size);

}  // namespace kmpi::detail
