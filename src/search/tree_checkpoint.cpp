// A tree run's checkpoint files (search/tree_checkpoint.hpp). Rank 0 reads and writes them; every
// verdict is agreed or broadcast, so a group branches the same way on all its ranks.
#include "search/tree_checkpoint.hpp"

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/fault.hpp"
#include "base/rng.hpp"
#include "io/posix_file.hpp"

namespace kmpi {

namespace {

// The file of a finished split: n, d, v (d values), CRC-32 of those bytes, as 64-bit words of
// this machine's byte order (a checkpoint is resumed where it was written).
std::string split_file(const std::string& dir, std::uint64_t node) {
  return dir + "/split-" + std::to_string(node);
}

}  // namespace

// collective: whether rank 0 finds `path` (a finished leaf of an earlier run).
bool exists_on_rank0(const mpi::Communicator& comm, const std::string& path) {
  int found = comm.rank() == 0 && std::filesystem::exists(path) ? 1 : 0;
  comm.broadcast(&found, 1, 0);
  return found != 0;
}

// collective: keeps a split's direction for a resumed run (rank 0 writes; agreed).
void save_split(const mpi::Communicator& comm, const std::string& dir, std::uint64_t node,
                std::size_t n, const std::vector<double>& v) {
  mpi::agree_on(comm, [&] {
    if (comm.rank() != 0) return;
    std::vector<unsigned long long> words = {n, v.size()};
    for (double x : v) words.push_back(bits_of(x));
    words.push_back(crc32(0L, reinterpret_cast<const Bytef*>(words.data()),
                          static_cast<uInt>(words.size() * 8)));
    const std::string path = split_file(dir, node), temp = path + ".tmp";
    fault::point("io.open_write");
    std::FILE* f = std::fopen(temp.c_str(), "wb");
    bool ok = f && std::fwrite(words.data(), 8, words.size(), f) == words.size();
    if (f) ok = std::fclose(f) == 0 && ok;
    // Whatever fails, the temporary goes (rename_into_place removes it on its own failures).
    const std::string why = ok ? detail::rename_into_place(temp, path) : "not written";
    if (!ok) std::remove(temp.c_str());
    if (!why.empty()) throw Error(path + ": cannot write a tree checkpoint (" + why + ")");
  });
}

// collective: the direction of a split an earlier run finished on the same n and d rows, if
// rank 0 finds a whole one (else the split is computed again).
bool load_split(const mpi::Communicator& comm, const std::string& dir, std::uint64_t node,
                std::size_t n, std::size_t d, std::vector<double>& v) {
  std::vector<unsigned long long> words(d + 3, 0);
  int ok = 0;
  if (comm.rank() == 0) {
    if (std::FILE* f = std::fopen(split_file(dir, node).c_str(), "rb")) {
      ok = std::fread(words.data(), 8, words.size(), f) == words.size() && std::fgetc(f) == EOF &&
           words[0] == n && words[1] == d &&
           words[d + 2] == crc32(0L, reinterpret_cast<const Bytef*>(words.data()),
                                 static_cast<uInt>((d + 2) * 8));
      std::fclose(f);
    }
  }
  comm.broadcast(&ok, 1, 0);
  if (!ok) return false;
  comm.broadcast(words.data(), words.size(), 0);
  v.resize(d);
  for (std::size_t j = 0; j < d; ++j) v[j] = double_of(words[j + 2]);
  return true;
}

// collective: what a tree checkpoint must match to be reused: the options that shape the fits
// (not run.*, output.*, the test set or the routing) and the training rows (n, d and a sum of
// per-row hashes keyed by the row index, the same for any rank count).
namespace {

// collective: "n x d, hash h" of rows: a sum of per-row hashes keyed by the row index, the same
// for any rank count.
std::string rows_fingerprint(const mpi::Communicator& comm, const NodeRows& rows) {
  unsigned long long hash = 0;
  const LocalData& data = rows.data;
  for (std::size_t i = 0; i < data.features.rows(); ++i) {
    uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(data.features.row(i)),
                      static_cast<uInt>(8 * data.features.cols()));
    if (!data.targets.empty())
      crc = crc32(crc, reinterpret_cast<const Bytef*>(data.targets.row(i)),
                  static_cast<uInt>(8 * data.targets.cols()));
    hash += mix64(crc ^ mix64(rows.index[i]));
  }
  hash = comm.allreduce_value(hash);
  return std::to_string(data.partition.size()) + " x " + std::to_string(data.dimension) +
         ", hash " + std::to_string(hash) + "\n";
}

}  // namespace

std::string tree_fingerprint(const mpi::Communicator& comm, const Options& o,
                             const NodeRows& root, const NodeRows& validation) {
  std::string text;
  for (const auto& [key, value] : o.values()) {
    const bool ignored = key.rfind("run.", 0) == 0 || key.rfind("output.", 0) == 0 ||
                         key.rfind("data.test_", 0) == 0 || key == "model" ||
                         key == "data.features" || key == "data.labels" ||
                         key == "rfm.soft_temperature";
    if (!ignored) text += key + " = " + value + "\n";
  }
  text += "rows = " + rows_fingerprint(comm, root);
  // Given validation rows steer every leaf (and the refill): a checkpoint is theirs too.
  if (validation.data.partition.size() > 0)
    text += "validation rows = " + rows_fingerprint(comm, validation);
  return text;
}

// collective: with checkpoints, refuses to reuse a tree checkpoint written for other options or
// rows (naming the first line that differs), else records this run's fingerprint.
void check_fingerprint(const mpi::Communicator& comm, const std::string& dir,
                       const std::string& text) {
  mpi::agree_on(comm, [&] {
    if (comm.rank() != 0) return;
    const std::string path = dir + "/fingerprint";
    std::ifstream in(path);
    if (in) {
      std::stringstream stored;
      stored << in.rdbuf();
      if (stored.str() == text) return;
      std::istringstream a(stored.str()), b(text);
      std::string theirs, ours;
      while (std::getline(a, theirs) && std::getline(b, ours) && theirs == ours) {
      }
      throw Error("run.resume: " + dir + " holds a tree of other options or rows (\"" + theirs +
                  "\" there); resume with those, or use run.resume = no");
    }
    fault::point("io.open_write");
    std::ofstream out(path);
    out << text;
    if (!out.good()) throw Error(path + ": cannot write");
  });
}

}  // namespace kmpi
