// Checkpoint files (layout in src/state/checkpoint.hpp; the stop signals are in stop_signals.cpp).
// The write protocol is the model file's (src/io/checksummed_file.hpp): a temporary sized by
// rank 0, each rank's rows written at computed offsets and fsynced, a CRC-32 trailer by rank 0,
// one rename. The rename is what makes the new checkpoint replace the old one; before it, the
// old one is intact.
#include "state/checkpoint.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "kmpi/error.hpp"
#include "io/checksummed_file.hpp"
#include "io/little_endian.hpp"
#include "kmpi/partition.hpp"
#include "io/posix_file.hpp"
#include "parallel/counts.hpp"

namespace kmpi {

namespace {

constexpr char kMagic[8] = {'K', 'M', 'P', 'I', 'C', 'K', 'P', 'T'};
constexpr std::size_t kNameBytes = 32;
constexpr std::uint64_t kHeaderBytes = 64;
constexpr std::uint64_t kScalarBytes = kNameBytes + 8;
constexpr std::uint64_t kArrayBytes = kNameBytes + 24;

using detail::PosixFile;
using detail::put_f64;
using detail::put_le;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error("checkpoint " + path + ": " + what);
}

void put_name(std::string& out, const std::string& name) {
  std::string padded = name;
  padded.resize(kNameBytes, '\0');
  out += padded;
}
void put_text(std::string& out, const std::string& text) {
  put_le<std::uint64_t>(out, text.size());
  out += text;
}

// Reads fields from a byte string, failing (not overrunning) at its end.
class Reader {
 public:
  Reader(const std::string& bytes, const std::string& path) : bytes_(bytes), path_(path) {}
  template <class U>
  U le() {
    need(sizeof(U));
    U v = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i)
      v |= static_cast<U>(static_cast<U>(static_cast<unsigned char>(bytes_[at_ + i])) << (8 * i));
    at_ += sizeof(U);
    return v;
  }
  double f64() {
    const auto u = le<std::uint64_t>();
    double v;
    std::memcpy(&v, &u, 8);
    return v;
  }
  std::string name() {
    need(kNameBytes);
    std::string s = bytes_.substr(at_, kNameBytes);
    at_ += kNameBytes;
    return s.substr(0, s.find('\0'));
  }
  std::string text() {
    const auto n = le<std::uint64_t>();
    need(n);
    std::string s = bytes_.substr(at_, static_cast<std::size_t>(n));
    at_ += static_cast<std::size_t>(n);
    return s;
  }
  std::size_t at() const { return at_; }

 private:
  void need(std::uint64_t n) const {
    if (n > bytes_.size() - at_) fail(path_, "corrupt: the header ends early");
  }
  const std::string& bytes_;
  const std::string& path_;
  std::size_t at_ = 0;
};

// Temporaries of writers that died before their rename (kill -9, a node lost mid-write): once a
// newer checkpoint is in place they can never be completed, so they only waste space. (Two runs
// sharing one checkpoint directory is not supported anyway: each would resume the other's state.)
void remove_stale_temporaries(const std::string& dir, const std::string& path) {
  const std::string prefix = std::filesystem::path(path).filename().string() + ".tmp.";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) == 0) std::filesystem::remove(entry.path(), ec);
  }
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    out.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

// Places the arrays' data one after another from `data_start` (their offsets into `offsets`);
// returns where the CRC trailer goes.
std::uint64_t place_arrays(const Checkpoint& s, std::uint64_t data_start,
                           std::vector<std::uint64_t>& offsets) {
  offsets.clear();
  std::uint64_t at = data_start;
  for (const auto& a : s.arrays) {
    offsets.push_back(at);
    at += 8ULL * a.rows * a.cols;
  }
  return at;
}

// The header, scalar, array and text sections, padded to a multiple of 8 bytes where the arrays'
// data starts, with the arrays' offsets (also returned in `offsets`) filled in.
std::string encode_head(const Checkpoint& s, std::vector<std::uint64_t>& offsets) {
  std::string text;
  put_text(text, s.solver);
  put_text(text, s.options_text);
  put_text(text, join_lines(s.metrics));
  const std::uint64_t head_bytes =
      kHeaderBytes + kScalarBytes * s.scalars.size() + kArrayBytes * s.arrays.size() + text.size();
  place_arrays(s, (head_bytes + 7) / 8 * 8, offsets);
  std::string out(kMagic, sizeof kMagic);
  put_le<std::uint32_t>(out, kCheckpointVersion);
  put_le<std::uint32_t>(out, 0);
  put_le<std::uint64_t>(out, s.options_hash);
  put_le<std::uint64_t>(out, s.epoch);
  put_le<std::uint64_t>(out, s.step);
  put_le<std::uint64_t>(out, s.scalars.size());
  put_le<std::uint64_t>(out, s.arrays.size());
  put_le<std::uint64_t>(out, text.size());
  for (const auto& [name, value] : s.scalars) {
    put_name(out, name);
    put_f64(out, value);
  }
  for (std::size_t k = 0; k < s.arrays.size(); ++k) {
    put_name(out, s.arrays[k].name);
    put_le<std::uint64_t>(out, s.arrays[k].rows);
    put_le<std::uint64_t>(out, s.arrays[k].cols);
    put_le<std::uint64_t>(out, offsets[k]);
  }
  out += text;
  out.resize(static_cast<std::size_t>((head_bytes + 7) / 8 * 8), '\0');
  return out;
}

// Decodes what encode_head wrote (arrays' `local` left empty); checks sizes against file_size.
Checkpoint decode_head(const std::string& bytes, const std::string& path, std::uint64_t file_size,
                       std::vector<std::uint64_t>& offsets) {
  Reader r(bytes, path);
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    fail(path, "not a kmpi checkpoint (the file does not start with \"KMPICKPT\")");
  for (std::size_t i = 0; i < sizeof kMagic; ++i) r.le<std::uint8_t>();
  const auto version = r.le<std::uint32_t>();
  if (version != kCheckpointVersion)
    fail(path, "format version " + std::to_string(version) + ", this build reads version " +
                   std::to_string(kCheckpointVersion));
  r.le<std::uint32_t>();
  Checkpoint s;
  s.options_hash = r.le<std::uint64_t>();
  s.epoch = static_cast<std::size_t>(r.le<std::uint64_t>());
  s.step = static_cast<std::size_t>(r.le<std::uint64_t>());
  const auto scalars = r.le<std::uint64_t>(), arrays = r.le<std::uint64_t>();
  const auto text_bytes = r.le<std::uint64_t>();
  if (scalars > 4096 || arrays > 4096 || text_bytes > file_size)
    fail(path, "corrupt header (" + std::to_string(scalars) + " scalars, " +
                   std::to_string(arrays) + " arrays)");
  for (std::uint64_t k = 0; k < scalars; ++k) {
    const std::string name = r.name();
    s.scalars[name] = r.f64();
  }
  offsets.clear();
  for (std::uint64_t k = 0; k < arrays; ++k) {
    CheckpointArray a;
    a.name = r.name();
    a.rows = static_cast<std::size_t>(r.le<std::uint64_t>());
    a.cols = static_cast<std::size_t>(r.le<std::uint64_t>());
    const auto offset = r.le<std::uint64_t>();
    std::uint64_t bytes_of = 0, end = 0;
    if (__builtin_mul_overflow(static_cast<std::uint64_t>(a.rows), a.cols, &bytes_of) ||
        __builtin_mul_overflow(bytes_of, 8, &bytes_of) ||
        __builtin_add_overflow(offset, bytes_of, &end) || end + 4 > file_size)
      fail(path, "corrupt or truncated: array " + a.name + " (" + std::to_string(a.rows) + " x " +
                     std::to_string(a.cols) + ") lies outside the " + std::to_string(file_size) +
                     "-byte file");
    offsets.push_back(offset);
    s.arrays.push_back(std::move(a));
  }
  s.solver = r.text();
  s.options_text = r.text();
  s.metrics = split_lines(r.text());
  return s;
}

// The first "key = value" line that differs between two options texts, for the refusal message.
std::string first_difference(const std::string& here, const std::string& there) {
  const auto a = split_lines(here), b = split_lines(there);
  auto value_of = [](const std::vector<std::string>& lines, const std::string& key) {
    for (const auto& l : lines)
      if (l.compare(0, key.size() + 3, key + " = ") == 0) return l.substr(key.size() + 3);
    return std::string("(unset)");
  };
  for (const auto& l : a) {
    const std::string key = l.substr(0, l.find(" = "));
    const std::string mine = value_of(a, key), theirs = value_of(b, key);
    if (mine != theirs) return key + " = " + mine + " here, " + theirs + " in the checkpoint";
  }
  for (const auto& l : b) {
    const std::string key = l.substr(0, l.find(" = "));
    if (value_of(a, key) == "(unset)") return key + " is set only in the checkpoint";
  }
  return "options hash differs";
}

// Errors of a checkpoint file read "checkpoint <path>: ..."; a missing file is the errno text.
detail::FileErrors checkpoint_errors(const std::string& path) {
  detail::FileErrors errors;
  errors.label = "checkpoint " + path;
  errors.say_no_such_file = false;
  return errors;
}

// Refuses what encode_head cannot store, and arrays that are not this rank's rows of
// BlockPartition(rows, P) (the offsets every rank computes assume them).
void check_state(const std::string& path, const Checkpoint& state, int rank, int P) {
  if (detail::host_is_big_endian()) fail(path, "big-endian hosts are not supported");
  for (const auto& a : state.arrays) {
    if (a.name.empty() || a.name.size() >= kNameBytes)
      fail(path, "internal error: array name '" + a.name + "' must have 1..31 bytes");
    const BlockPartition part(a.rows, P);
    if (a.local.rows() != part.count(rank) || (a.local.rows() > 0 && a.local.cols() != a.cols))
      fail(path, "internal error: rank " + std::to_string(rank) + " holds " +
                     std::to_string(a.local.rows()) + " rows of array " + a.name + ", expected " +
                     std::to_string(part.count(rank)));
  }
  for (const auto& sc : state.scalars)
    if (sc.first.empty() || sc.first.size() >= kNameBytes)
      fail(path, "internal error: scalar name '" + sc.first + "' must have 1..31 bytes");
}

// A unique temporary per save (rank 0's pid and a counter), the same name on every rank: a
// crashed writer's leftover never collides with a new one.
std::string temporary_name(const mpi::Communicator& comm, const std::string& path) {
  static unsigned long long serial = 0;
  return comm.broadcast(comm.rank() == 0 ? path + ".tmp." + std::to_string(::getpid()) + "." +
                                               std::to_string(++serial)
                                         : std::string(),
                        0);
}

// This rank's rows of every array, each at its global row's offset.
void write_local_arrays(const PosixFile& file, const Checkpoint& state,
                        const std::vector<std::uint64_t>& offsets, const mpi::Communicator& comm) {
  const int rank = comm.rank(), P = comm.size();
  for (std::size_t k = 0; k < state.arrays.size(); ++k) {
    const CheckpointArray& a = state.arrays[k];
    if (a.local.empty()) continue;
    const std::uint64_t first = BlockPartition(a.rows, P).begin(rank);
    // Little-endian hosts only (check_state): the doubles are the bytes.
    file.write_at(offsets[k] + 8 * first * a.cols, a.local.data(), 8 * a.local.size());
  }
}

// Rank 0: the head (header, scalars, arrays, text) of the checkpoint at `path`, once the magic,
// the sizes and the CRC-32 of the whole file have been checked.
std::string read_verified_head(const std::string& path) {
  const PosixFile file(path, O_RDONLY, 0, checkpoint_errors(path));
  const std::uint64_t size = file.size();
  // The header says how long the head is; read it, then verify the whole file's CRC.
  std::string fixed(kHeaderBytes, '\0');
  file.read_exactly(0, fixed.data(), static_cast<std::size_t>(std::min(size, kHeaderBytes)));
  if (size < sizeof kMagic || std::memcmp(fixed.data(), kMagic, sizeof kMagic) != 0)
    fail(path, "not a kmpi checkpoint (the file does not start with \"KMPICKPT\")");
  if (size < kHeaderBytes + 4) fail(path, "truncated: " + std::to_string(size) + " bytes");
  Reader r(fixed, path);
  for (int i = 0; i < 40; ++i) r.le<std::uint8_t>();
  const auto scalars = r.le<std::uint64_t>(), arrays = r.le<std::uint64_t>();
  const auto text_bytes = r.le<std::uint64_t>();
  if (scalars > 4096 || arrays > 4096 || text_bytes > size)
    fail(path, "corrupt header (" + std::to_string(scalars) + " scalars, " +
                   std::to_string(arrays) + " arrays, " + std::to_string(text_bytes) +
                   " text bytes)");
  const std::uint64_t head_bytes =
      kHeaderBytes + kScalarBytes * scalars + kArrayBytes * arrays + text_bytes;
  if (head_bytes + 4 > size) fail(path, "truncated: the file ends inside its header");
  std::string head(static_cast<std::size_t>(head_bytes), '\0');
  file.read_exactly(0, head.data(), head.size());
  detail::verify_crc_trailer(file, size);
  std::vector<std::uint64_t> offsets;
  decode_head(head, path, size, offsets);
  return head;
}

// collective: refuses, on every rank, a checkpoint of another solver or another options hash.
void refuse_another_run(const mpi::Communicator& comm, const std::string& path, const Checkpoint& s,
                        const std::string& solver, std::uint64_t options_hash,
                        const std::string& options_text) {
  mpi::agree(comm, s.solver == solver,
             "checkpoint " + path + ": written by solver " + s.solver + ", this run uses " +
                 solver + "; refusing to resume (remove it or use another run.checkpoint_dir)");
  mpi::agree(comm, s.options_hash == options_hash,
             "checkpoint " + path + ": incompatible with this run (" +
                 first_difference(options_text, s.options_text) +
                 "); refusing to resume (remove it or use another run.checkpoint_dir)");
}

// collective: every rank reads its rows of BlockPartition(rows, P) of each array.
void read_local_arrays(const mpi::Communicator& comm, const std::string& path,
                       const std::vector<std::uint64_t>& offsets, Checkpoint& s) {
  const int rank = comm.rank(), P = comm.size();
  mpi::agree_on(comm, [&] {
    bool any = false;
    for (const auto& a : s.arrays) any = any || BlockPartition(a.rows, P).count(rank) > 0;
    if (!any) return;
    const PosixFile file(path, O_RDONLY, 0, checkpoint_errors(path));
    for (std::size_t k = 0; k < s.arrays.size(); ++k) {
      CheckpointArray& a = s.arrays[k];
      const BlockPartition part(a.rows, P);
      a.local.resize(part.count(rank), a.cols);
      if (a.local.empty()) continue;
      file.read_exactly(offsets[k] + 8 * part.begin(rank) * a.cols, a.local.data(),
                        8 * a.local.size());
    }
  });
}

}  // namespace

const CheckpointArray* Checkpoint::array(const std::string& name) const {
  for (const auto& a : arrays)
    if (a.name == name) return &a;
  return nullptr;
}

double Checkpoint::scalar(const std::string& name, double fallback) const {
  auto it = scalars.find(name);
  return it == scalars.end() ? fallback : it->second;
}

std::string checkpoint_path(const std::string& dir) { return dir + "/checkpoint.kmpi"; }

std::uint64_t checkpoint_hash(const std::string& text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : text) {
    h ^= ch;
    h *= 0x100000001b3ULL;
  }
  return h;
}

void save_checkpoint(const mpi::Communicator& comm, const std::string& dir,
                     const Checkpoint& state) {
  const int rank = comm.rank();
  const std::string path = checkpoint_path(dir);
  detail::ChecksummedWrite w;
  std::vector<std::uint64_t> offsets;
  mpi::agree_on(comm, [&] {
    check_state(path, state, rank, comm.size());
    w.head = encode_head(state, offsets);
  });
  // The replicated part is rank 0's (metrics lines carry each rank's own timings, so their lengths
  // may differ); the array offsets follow from its length, the same on every rank.
  w.head = comm.broadcast(w.head, 0);
  w.crc_at = place_arrays(state, w.head.size(), offsets);
  w.label_prefix = "checkpoint ";
  w.say_no_such_file = false;
  w.path = path;
  w.temp = temporary_name(comm, path);
  w.prepare = [&] {
    if (rank != 0) return;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) fail(dir, "cannot create the directory: " + ec.message());
  };
  for (const auto& a : state.arrays) w.has_rows = w.has_rows || !a.local.empty();
  w.write_rows = [&](const PosixFile& file) { write_local_arrays(file, state, offsets, comm); };
  w.after_rename = [&] { remove_stale_temporaries(dir, path); };
  detail::write_checksummed_file(comm, w);
}

bool checkpoint_exists(const mpi::Communicator& comm, const std::string& dir) {
  int exists = 0;
  if (comm.rank() == 0) {
    struct stat st {};
    exists = ::stat(checkpoint_path(dir).c_str(), &st) == 0 ? 1 : 0;
  }
  comm.broadcast(&exists, 1, 0);
  return exists == 1;
}

Checkpoint load_checkpoint(const mpi::Communicator& comm, const std::string& dir,
                           const std::string& solver, std::uint64_t options_hash,
                           const std::string& options_text) {
  const std::string path = checkpoint_path(dir);
  std::string head;
  mpi::agree_on(comm, [&] {
    if (comm.rank() == 0) head = read_verified_head(path);
  });
  head = comm.broadcast(head, 0);
  std::vector<std::uint64_t> offsets;
  Checkpoint s;
  // Verified on rank 0 above, so this decodes the same way on every rank (no file size check).
  mpi::agree_on(comm, [&] { s = decode_head(head, path, ~std::uint64_t{0} >> 1, offsets); });
  refuse_another_run(comm, path, s, solver, options_hash, options_text);
  s.options_text = options_text;
  read_local_arrays(comm, path, offsets, s);
  // This run now owns the directory: a temporary there is a dead writer's (the run being resumed,
  // stopped mid-write), which could only be removed by this run's first checkpoint otherwise.
  if (comm.rank() == 0) remove_stale_temporaries(dir, path);
  return s;
}

CheckpointArray replicated_checkpoint_array(const mpi::Communicator& comm, const std::string& name,
                                            const Matrix<double>& m) {
  const BlockPartition part(m.rows(), comm.size());
  CheckpointArray a{name, m.rows(), m.cols(), Matrix<double>(part.count(comm.rank()), m.cols())};
  std::copy(m.row(part.begin(comm.rank())), m.row(part.begin(comm.rank())) + a.local.size(),
            a.local.data());
  return a;
}

Matrix<double> gather_checkpoint_array(const mpi::Communicator& comm, const CheckpointArray& a) {
  const BlockPartition part(a.rows, comm.size());
  const mpi::CountsDispls layout = mpi::partition_counts(part, a.cols, "checkpoint array " + a.name);
  Matrix<double> all(a.rows, a.cols);
  comm.allgatherv(a.local.data(), all.data(), layout.counts, layout.displs);
  return all;
}

}  // namespace kmpi
