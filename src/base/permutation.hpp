// A seeded bijection on [0, n) evaluated point by point: the order of an epoch's batches, a
// random subset, a fold assignment, without an O(n) vector on any rank. Every rank computes the
// same permutation from (seed, stream, key) alone, so batches and models do not depend on the
// rank count (DESIGN §2).
//
// Construction: a balanced Feistel network on k = max(2, ceil(log2 n)) bits (halves of floor(k/2)
// and ceil(k/2) bits, alternately xored with a round function of the other half), which is a
// bijection on [0, 2^k) for any round functions; cycle walking (apply it again while the value is
// >= n) restricts it to a bijection on [0, n). 2^k < 2n, so a point takes fewer than two passes
// on average. The round functions are SplitMix64 of a per-round key and the other half; eight
// rounds, well past the four that make a Feistel network indistinguishable from a random
// permutation (Luby-Rackoff). Feistel networks on bits give only even permutations of [0, 2^k);
// the statistics a batch order needs (where each row lands, pairs) are uniform (tests).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "base/rng.hpp"

namespace kmpi {

class CounterPermutation {
 public:
  CounterPermutation(std::uint64_t n, std::uint64_t seed, RngStream stream, std::uint64_t key)
      : n_(n) {
    unsigned bits = 2;
    while (bits < 64 && (std::uint64_t(1) << bits) < n) ++bits;
    low_bits_ = bits / 2;
    const unsigned high_bits = bits - low_bits_;
    low_mask_ = (std::uint64_t(1) << low_bits_) - 1;
    high_mask_ = high_bits >= 64 ? ~std::uint64_t(0) : (std::uint64_t(1) << high_bits) - 1;
    for (std::size_t r = 0; r < kRounds; ++r) keys_[r] = counter_random(seed, stream, key, r);
  }

  std::uint64_t size() const { return n_; }

  // The image of i (i < n).
  std::uint64_t operator()(std::uint64_t i) const {
    do i = forward(i);
    while (i >= n_);
    return i;
  }

  // The i with (*this)(i) == j (j < n).
  std::uint64_t inverse(std::uint64_t j) const {
    do j = backward(j);
    while (j >= n_);
    return j;
  }

 private:
  static constexpr std::size_t kRounds = 8;

  std::uint64_t round(std::size_t r, std::uint64_t half) const { return mix64(keys_[r] ^ half); }

  // Round r xors the high half with a function of the low half (r even) or the other way round;
  // each round undoes itself, so the inverse runs the rounds backwards.
  std::uint64_t apply(std::size_t r, std::uint64_t x) const {
    std::uint64_t lo = x & low_mask_, hi = x >> low_bits_;
    if (r % 2 == 0)
      hi ^= round(r, lo) & high_mask_;
    else
      lo ^= round(r, hi) & low_mask_;
    return (hi << low_bits_) | lo;
  }
  std::uint64_t forward(std::uint64_t x) const {
    for (std::size_t r = 0; r < kRounds; ++r) x = apply(r, x);
    return x;
  }
  std::uint64_t backward(std::uint64_t x) const {
    for (std::size_t r = kRounds; r-- > 0;) x = apply(r, x);
    return x;
  }

  std::uint64_t n_;
  unsigned low_bits_ = 1;
  std::uint64_t low_mask_ = 1, high_mask_ = 1;
  std::array<std::uint64_t, kRounds> keys_{};
};

// Positions [b0, b0 + count) of `perm`, sorted ascending (a batch of rows).
inline std::vector<std::size_t> permuted_range(const CounterPermutation& perm, std::uint64_t b0,
                                               std::size_t count) {
  std::vector<std::size_t> out(count);
  for (std::size_t i = 0; i < count; ++i) out[i] = static_cast<std::size_t>(perm(b0 + i));
  std::sort(out.begin(), out.end());
  return out;
}

// k distinct indices of [0, n), sorted ascending (uniform without replacement): the first k
// positions of the permutation keyed by (seed, stream, key); O(k) memory whatever n.
inline std::vector<std::size_t> random_subset(std::size_t n, std::size_t k, std::uint64_t seed,
                                              RngStream stream, std::uint64_t key = 0) {
  return permuted_range(CounterPermutation(n, seed, stream, key), 0, std::min(k, n));
}

}  // namespace kmpi
