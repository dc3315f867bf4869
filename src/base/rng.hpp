// Counter-based randomness: every rank computes the same numbers from (seed, stream, counter),
// so samples, batches and therefore models do not depend on the rank count (DESIGN §2).
#pragma once

#include <cstdint>

namespace kmpi {

// Streams keep unrelated uses of one seed independent.
enum class RngStream : std::uint64_t {
  kDataLimit = 1,
  kValidation = 2,
  kNystrom = 3,
  kBatches = 4,
  kCenters = 5,
  kModelNystrom = 6,
  kGenerator = 7,
  kAgop = 8,  // the AGOP sample of RFM
  kTune = 9,  // the sample of tune.bandwidths = auto
  kTreeSplit = 10,  // the splitter's subsample of an xRFM tree node
  kTreeRefill = 11,  // the training rows a tree leaf moves to its validation rows
  kQuantile = 12,  // the sample of data.numeric_transform = quantile
};

// SplitMix64 finaliser: a bijective mixer with good avalanche; counter-based use of it.
inline std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline std::uint64_t counter_random(std::uint64_t seed, RngStream stream, std::uint64_t key,
                                    std::uint64_t counter) {
  return mix64(
      mix64(mix64(seed ^ mix64(static_cast<std::uint64_t>(stream))) ^ mix64(key + 0x51ed27)) +
      counter);
}

// Uniform integer in [0, bound) from a 64-bit random word (multiply-shift, negligible bias).
inline std::uint64_t bounded(std::uint64_t word, std::uint64_t bound) {
  __extension__ typedef unsigned __int128 u128;  // GCC/Clang extension; fine under -Wpedantic
  return static_cast<std::uint64_t>((static_cast<u128>(word) * bound) >> 64);
}

}  // namespace kmpi
