// Checkpoint files (layout in kmpi/checkpoint.hpp) and the stop-signal flag. The write protocol
// is the model file's (src/model.cpp): a temporary sized by rank 0, each rank's rows written at
// computed offsets and fsynced, a CRC-32 trailer by rank 0, one rename. The rename is what makes
// the new checkpoint replace the old one; before it, the old one is intact.
#include "kmpi/checkpoint.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "kmpi/error.hpp"
#include "kmpi/partition.hpp"

namespace kmpi {

namespace {

constexpr char kMagic[8] = {'K', 'M', 'P', 'I', 'C', 'K', 'P', 'T'};
constexpr std::size_t kNameBytes = 32;
constexpr std::uint64_t kHeaderBytes = 64;
constexpr std::uint64_t kScalarBytes = kNameBytes + 8;
constexpr std::uint64_t kArrayBytes = kNameBytes + 24;
constexpr std::size_t kIoChunk = std::size_t{8} << 20;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error("checkpoint " + path + ": " + what);
}
[[noreturn]] void fail_errno(const std::string& path, const std::string& what) {
  const int err = errno;
  fail(path, what + ": " + std::strerror(err));
}

template <class U>
void put_le(std::string& out, U v) {
  for (std::size_t i = 0; i < sizeof(U); ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_f64(std::string& out, double v) {
  std::uint64_t u;
  std::memcpy(&u, &v, 8);
  put_le(out, u);
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

bool host_is_little_endian() {
  const std::uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

class Fd {
 public:
  Fd(const std::string& path, int flags, mode_t mode = 0) : path_(path) {
    fd_ = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd_ < 0) fail_errno(path, "cannot open");
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  std::uint64_t size() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail_errno(path_, "cannot stat");
    return static_cast<std::uint64_t>(st.st_size);
  }
  void read_exactly(std::uint64_t offset, void* buffer, std::size_t n) const {
    auto* p = static_cast<unsigned char*>(buffer);
    for (std::size_t done = 0; done < n;) {
      const ssize_t got = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) fail_errno(path_, "read error");
      if (got == 0) fail(path_, "truncated: the file ended while reading it");
      done += static_cast<std::size_t>(got);
    }
  }
  void write_at(std::uint64_t offset, const void* buffer, std::size_t n) const {
    const auto* p = static_cast<const unsigned char*>(buffer);
    for (std::size_t done = 0; done < n;) {
      const ssize_t put = ::pwrite(fd_, p + done, n - done, static_cast<off_t>(offset + done));
      if (put < 0 && errno == EINTR) continue;
      if (put < 0) fail_errno(path_, "write error");
      done += static_cast<std::size_t>(put);
    }
  }
  void truncate(std::uint64_t size) const {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) fail_errno(path_, "cannot size the file");
  }
  void sync() const {
    if (::fsync(fd_) != 0) fail_errno(path_, "fsync failed");
  }
  void close() {
    const int fd = fd_;
    fd_ = -1;
    if (fd >= 0 && ::close(fd) != 0) fail_errno(path_, "close failed");
  }

 private:
  std::string path_;
  int fd_ = -1;
};

std::uint32_t crc_of(const Fd& file, std::uint64_t length) {
  std::vector<unsigned char> buffer(static_cast<std::size_t>(
      std::min<std::uint64_t>(std::max<std::uint64_t>(length, 1), kIoChunk)));
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::uint64_t at = 0; at < length;) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(length - at, buffer.size()));
    file.read_exactly(at, buffer.data(), n);
    crc = crc32(crc, buffer.data(), static_cast<uInt>(n));
    at += n;
  }
  return static_cast<std::uint32_t>(crc);
}

void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

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

// The header, scalar, array and text sections, with array offsets filled in; `total` gets the
// offset of the CRC trailer.
std::string encode_head(const Checkpoint& s, std::vector<std::uint64_t>& offsets,
                        std::uint64_t& crc_at) {
  std::string text;
  put_text(text, s.solver);
  put_text(text, s.options_text);
  put_text(text, join_lines(s.metrics));
  const std::uint64_t head_bytes =
      kHeaderBytes + kScalarBytes * s.scalars.size() + kArrayBytes * s.arrays.size() + text.size();
  offsets.clear();
  std::uint64_t at = (head_bytes + 7) / 8 * 8;
  for (const auto& a : s.arrays) {
    offsets.push_back(at);
    at += 8ULL * a.rows * a.cols;
  }
  crc_at = at;
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

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void kmpi_on_stop_signal(int sig) { g_stop_signal = sig; }

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
  const int rank = comm.rank(), P = comm.size();
  const std::string path = checkpoint_path(dir);
  std::vector<std::uint64_t> offsets;
  std::uint64_t crc_at = 0;
  std::string head;
  mpi::agree_on(comm, [&] {
    if (!host_is_little_endian()) fail(path, "big-endian hosts are not supported");
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
    head = encode_head(state, offsets, crc_at);
  });
  // The replicated part is rank 0's (metrics lines carry each rank's own timings, so their lengths
  // may differ); the array offsets follow from its length, the same on every rank.
  head = comm.broadcast(head, 0);
  crc_at = head.size();
  for (std::size_t k = 0; k < state.arrays.size(); ++k) {
    offsets[k] = crc_at;
    crc_at += 8ULL * state.arrays[k].rows * state.arrays[k].cols;
  }
  // A unique temporary per save (rank 0's pid and a counter): a crashed writer's leftover never
  // collides with a new one.
  static unsigned long long serial = 0;
  const std::string temp = comm.broadcast(
      rank == 0 ? path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(++serial)
                : std::string(),
      0);
  bool created = false;
  try {
    mpi::agree_on(comm, [&] {
      if (rank != 0) return;
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) fail(dir, "cannot create the directory: " + ec.message());
      Fd file(temp, O_WRONLY | O_CREAT | O_EXCL, 0644);
      created = true;
      file.write_at(0, head.data(), head.size());
      file.truncate(crc_at);
      file.close();
    });
    mpi::agree_on(comm, [&] {
      bool any = false;
      for (const auto& a : state.arrays) any = any || !a.local.empty();
      if (!any) return;
      Fd file(temp, O_WRONLY);
      for (std::size_t k = 0; k < state.arrays.size(); ++k) {
        const CheckpointArray& a = state.arrays[k];
        if (a.local.empty()) continue;
        const std::uint64_t first = BlockPartition(a.rows, P).begin(rank);
        // Little-endian hosts only (checked above): the doubles are the bytes.
        file.write_at(offsets[k] + 8 * first * a.cols, a.local.data(), 8 * a.local.size());
      }
      file.sync();
      file.close();
    });
    mpi::agree_on(comm, [&] {
      if (rank != 0) return;
      Fd file(temp, O_RDWR);
      if (file.size() != crc_at)
        fail(temp, "has " + std::to_string(file.size()) + " bytes after writing, expected " +
                       std::to_string(crc_at));
      std::string trailer;
      put_le<std::uint32_t>(trailer, crc_of(file, crc_at));
      file.write_at(crc_at, trailer.data(), trailer.size());
      file.sync();
      file.close();
      if (::rename(temp.c_str(), path.c_str()) != 0)
        fail_errno(path, "cannot rename " + temp + " to it");
      created = false;
      sync_directory(dir);
      remove_stale_temporaries(dir, path);
    });
  } catch (...) {
    if (created) ::unlink(temp.c_str());
    throw;
  }
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
    if (comm.rank() != 0) return;
    Fd file(path, O_RDONLY);
    const std::uint64_t size = file.size();
    // The header says how long the head is; read it, then verify the whole file's CRC.
    std::string fixed(kHeaderBytes, '\0');
    file.read_exactly(0, fixed.data(), static_cast<std::size_t>(std::min(size, kHeaderBytes)));
    if (size < sizeof kMagic || std::memcmp(fixed.data(), kMagic, sizeof kMagic) != 0)
      fail(path, "not a kmpi checkpoint (the file does not start with \"KMPICKPT\")");
    if (size < kHeaderBytes + 4) fail(path, "truncated: " + std::to_string(size) + " bytes");
    std::vector<std::uint64_t> offsets;
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
    head.resize(static_cast<std::size_t>(head_bytes));
    file.read_exactly(0, head.data(), head.size());
    unsigned char trailer[4];
    file.read_exactly(size - 4, trailer, 4);
    const std::uint32_t stored =
        static_cast<std::uint32_t>(trailer[0]) | static_cast<std::uint32_t>(trailer[1]) << 8 |
        static_cast<std::uint32_t>(trailer[2]) << 16 | static_cast<std::uint32_t>(trailer[3]) << 24;
    const std::uint32_t computed = crc_of(file, size - 4);
    if (stored != computed) {
      char text[112];
      std::snprintf(text, sizeof text,
                    "checksum mismatch (stored 0x%08x, computed 0x%08x): the file is corrupted",
                    stored, computed);
      fail(path, text);
    }
    decode_head(head, path, size, offsets);
  });
  head = comm.broadcast(head, 0);
  std::vector<std::uint64_t> offsets;
  Checkpoint s;
  // Verified on rank 0 above, so this decodes the same way on every rank (no file size check).
  mpi::agree_on(comm, [&] { s = decode_head(head, path, ~std::uint64_t{0} >> 1, offsets); });
  mpi::agree(comm, s.solver == solver,
             "checkpoint " + path + ": written by solver " + s.solver + ", this run uses " +
                 solver + "; refusing to resume (remove it or use another run.checkpoint_dir)");
  mpi::agree(comm, s.options_hash == options_hash,
             "checkpoint " + path + ": incompatible with this run (" +
                 first_difference(options_text, s.options_text) +
                 "); refusing to resume (remove it or use another run.checkpoint_dir)");
  s.options_text = options_text;
  const int rank = comm.rank(), P = comm.size();
  mpi::agree_on(comm, [&] {
    bool any = false;
    for (const auto& a : s.arrays) any = any || BlockPartition(a.rows, P).count(rank) > 0;
    if (!any) return;
    Fd file(path, O_RDONLY);
    for (std::size_t k = 0; k < s.arrays.size(); ++k) {
      CheckpointArray& a = s.arrays[k];
      const BlockPartition part(a.rows, P);
      a.local.resize(part.count(rank), a.cols);
      if (a.local.empty()) continue;
      file.read_exactly(offsets[k] + 8 * part.begin(rank) * a.cols, a.local.data(),
                        8 * a.local.size());
    }
  });
  return s;
}

void install_stop_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = kmpi_on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // blocking reads and MPI progress continue; we act at a step boundary
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
}

int stop_signal_received() { return static_cast<int>(g_stop_signal); }

void clear_stop_signal() { g_stop_signal = 0; }

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

CheckpointSchedule::CheckpointSchedule(double every_seconds)
    : every_(every_seconds), last_(now_seconds()) {}

void CheckpointSchedule::restart() { last_ = now_seconds(); }

CheckpointSchedule::Decision CheckpointSchedule::poll(const mpi::Communicator& comm) {
  // [0]: the stop signal this rank saw (0 = none); [1]: rank 0's timer has run out. Only rank 0's
  // clock counts, so ranks whose clocks drift cannot disagree.
  int flags[2] = {stop_signal_received(),
                  comm.rank() == 0 && now_seconds() - last_ >= every_ ? 1 : 0};
  comm.allreduce(flags, 2, mpi::Op::kMax);
  if (flags[0] != 0) {
    signal_ = flags[0];
    return Decision::kCheckpointAndStop;
  }
  return flags[1] ? Decision::kCheckpoint : Decision::kContinue;
}

}  // namespace kmpi
