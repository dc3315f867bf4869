// Internal: fixed-width little-endian fields, independent of the host's byte order. The model
// and checkpoint files store every field little-endian, and so does the .npy writer.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace kmpi::detail {

// local: whether this host stores the most significant byte first.
inline bool host_is_big_endian() {
  const std::uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 0;
}

// local: appends v as sizeof(U) little-endian bytes.
template <class U>
void put_le(std::string& out, U v) {
  for (std::size_t i = 0; i < sizeof(U); ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// local: appends the bits of v as a little-endian u64.
inline void put_f64(std::string& out, double v) {
  std::uint64_t u;
  std::memcpy(&u, &v, 8);
  put_le(out, u);
}

// local: the little-endian U at p.
template <class U>
U get_le(const unsigned char* p) {
  U v = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i) v |= static_cast<U>(static_cast<U>(p[i]) << (8 * i));
  return v;
}

// local: the double whose bits are the little-endian u64 at p.
inline double get_f64(const unsigned char* p) {
  const auto u = get_le<std::uint64_t>(p);
  double v;
  std::memcpy(&v, &u, 8);
  return v;
}

// Doubles <-> little-endian bytes in bulk: a plain copy on little-endian hosts.
inline void doubles_to_le(const double* in, std::size_t count, unsigned char* out) {
  std::memcpy(out, in, count * 8);
  if (host_is_big_endian())
    for (std::size_t i = 0; i < count; ++i) std::reverse(out + 8 * i, out + 8 * i + 8);
}
inline void doubles_from_le(const unsigned char* in, std::size_t count, double* out) {
  if (!host_is_big_endian()) {
    std::memcpy(out, in, count * 8);
    return;
  }
  for (std::size_t i = 0; i < count; ++i) out[i] = get_f64(in + 8 * i);
}

}  // namespace kmpi::detail
