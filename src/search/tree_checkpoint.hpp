// What a tree run keeps under run.checkpoint_dir/tree for a resumed run (search/tree.hpp): the
// finished splits' directions, a fingerprint of the options and rows the tree was grown on.
// The finished leaves are their model files, written by the leaves' own fits.
#pragma once

#include <cstring>

#include <cstdint>
#include <string>
#include <vector>

#include "kmpi/mpi.hpp"
#include "kmpi/options.hpp"
#include "search/tree.hpp"

namespace kmpi {

// collective: whether rank 0 finds `path` (a finished leaf of an earlier run).
bool exists_on_rank0(const mpi::Communicator& comm, const std::string& path);

// collective: keeps the direction v of split `node` (n rows) in `dir` (rank 0 writes; agreed).
void save_split(const mpi::Communicator& comm, const std::string& dir, std::uint64_t node,
                std::size_t n, const std::vector<double>& v);

// collective: the direction of split `node` an earlier run kept for the same n and d, if rank 0
// finds a whole one (its CRC checked); false: compute it again.
bool load_split(const mpi::Communicator& comm, const std::string& dir, std::uint64_t node,
                std::size_t n, std::size_t d, std::vector<double>& v);

// collective: what a tree checkpoint must match to be reused: the options that shape the fits
// (not run.*, output.*, the test set or the routing), the training rows (n, d and a sum of
// per-row hashes keyed by the row index, the same for any rank count) and the given validation
// rows, if any (partition size 0: none).
std::string tree_fingerprint(const mpi::Communicator& comm, const Options& options,
                             const NodeRows& root, const NodeRows& validation);

// collective: refuses (agreed) a checkpoint in `dir` written for another fingerprint, naming the
// first line that differs; with none there, records `text`.
void check_fingerprint(const mpi::Communicator& comm, const std::string& dir,
                       const std::string& text);

// local: a double's bits as an integer and back (thresholds and IQRs travel as exact bits in
// checkpoint and tree records).
inline unsigned long long bits_of(double v) {
  unsigned long long b = 0;
  std::memcpy(&b, &v, sizeof b);
  return b;
}
inline double double_of(unsigned long long b) {
  double v = 0;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

}  // namespace kmpi
