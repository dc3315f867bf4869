// Which contiguous rows each rank owns (DESIGN §2). A value type: no MPI needed.
#pragma once

#include <cstddef>
#include <vector>

#include "kmpi/error.hpp"

namespace kmpi {

// BlockPartition(n, P): rank r owns rows [begin(r), begin(r) + count(r)); the first n % P ranks
// own one extra row.
class BlockPartition {
 public:
  BlockPartition() = default;
  BlockPartition(std::size_t n, int parts) : n_(n), parts_(parts) {
    if (parts <= 0) throw Error("BlockPartition: number of parts must be positive");
  }
  std::size_t size() const { return n_; }
  int parts() const { return parts_; }
  std::size_t count(int r) const {
    return n_ / parts_ + (static_cast<std::size_t>(r) < n_ % parts_ ? 1 : 0);
  }
  std::size_t begin(int r) const {
    const std::size_t base = n_ / parts_, extra = n_ % parts_, ur = static_cast<std::size_t>(r);
    return ur * base + (ur < extra ? ur : extra);
  }
  std::size_t end(int r) const { return begin(r) + count(r); }
  // The rank that owns global row i (i < size()).
  int owner(std::size_t i) const {
    const std::size_t base = n_ / parts_, extra = n_ % parts_;
    const std::size_t cut = extra * (base + 1);  // rows held by the ranks with one extra
    if (i < cut) return static_cast<int>(i / (base + 1));
    return static_cast<int>(extra + (i - cut) / base);
  }
  // Counts and displacements as MPI's v-collectives want them, each times `scale` (e.g. columns).
  std::vector<int> counts(std::size_t scale = 1) const {
    std::vector<int> c(parts_);
    for (int r = 0; r < parts_; ++r) c[r] = static_cast<int>(count(r) * scale);
    return c;
  }
  std::vector<int> displacements(std::size_t scale = 1) const {
    std::vector<int> d(parts_);
    for (int r = 0; r < parts_; ++r) d[r] = static_cast<int>(begin(r) * scale);
    return d;
  }
  bool operator==(const BlockPartition& o) const { return n_ == o.n_ && parts_ == o.parts_; }

 private:
  std::size_t n_ = 0;
  int parts_ = 1;
};

}  // namespace kmpi
