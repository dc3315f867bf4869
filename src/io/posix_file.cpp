// PosixFile (src/io/posix_file.hpp): the one place that loops over pread/pwrite and turns errno
// into a message.
#include "io/posix_file.hpp"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "base/fault.hpp"
#include "kmpi/error.hpp"
#include "io/little_endian.hpp"

namespace kmpi::detail {

namespace {

constexpr std::size_t kCrcChunk = std::size_t{8} << 20;

FileErrors data_file_errors(const std::string& path) {
  FileErrors errors;
  errors.label = path;
  errors.directory_is_not_a = "data file";
  return errors;
}

}  // namespace

void fail(const std::string& path, const std::string& what) { throw Error(path + ": " + what); }

PosixFile::PosixFile(const std::string& path)
    : PosixFile(path, O_RDONLY, 0, data_file_errors(path)) {}

PosixFile::PosixFile(const std::string& path, int flags, mode_t mode, FileErrors errors)
    : path_(path), errors_(std::move(errors)) {
  fault::point((flags & (O_WRONLY | O_RDWR)) ? "io.open_write" : "io.open_read");
  fd_ = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd_ < 0) {
    if (errno == ENOENT && errors_.say_no_such_file && !(flags & O_CREAT)) fail("no such file");
    fail_errno(errors_.cannot_open);
  }
  // The destructor does not run for a constructor that throws: close before each throw.
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    errno = err;
    fail_errno("cannot stat");
  }
  if (S_ISDIR(st.st_mode) && !errors_.directory_is_not_a.empty()) {
    ::close(fd_);
    fail("is a directory, not a " + errors_.directory_is_not_a);
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
}

PosixFile::~PosixFile() {
  if (fd_ >= 0) ::close(fd_);
}

void PosixFile::fail(const std::string& what) const { throw Error(errors_.label + ": " + what); }

void PosixFile::fail_errno(const std::string& what) const {
  const int err = errno;
  fail(what + ": " + std::strerror(err));
}

namespace {

// Repeats a positioned transfer (pread or pwrite) until n bytes moved, retrying on EINTR; stops
// early when it moves nothing (a read at the end of the file). Returns the bytes moved, or -1
// with errno set.
template <class Transfer>
ssize_t transfer_all(Transfer transfer, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t moved = transfer(done);
    if (moved < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (moved == 0) break;
    done += static_cast<std::size_t>(moved);
  }
  return static_cast<ssize_t>(done);
}

}  // namespace

std::size_t PosixFile::read_at(std::uint64_t offset, void* buffer, std::size_t n) const {
  auto* p = static_cast<unsigned char*>(buffer);
  const ssize_t done = transfer_all(
      [&](std::size_t at) {
        return ::pread(fd_, p + at, n - at, static_cast<off_t>(base_ + offset + at));
      },
      n);
  if (done < 0) fail_errno("read error");
  return static_cast<std::size_t>(done);
}

void PosixFile::read_exactly(std::uint64_t offset, void* buffer, std::size_t n) const {
  if (read_at(offset, buffer, n) != n) fail("truncated: the file ended while reading it");
}

void PosixFile::write_at(std::uint64_t offset, const void* buffer, std::size_t n) const {
  fault::point("io.write");
  const auto* p = static_cast<const unsigned char*>(buffer);
  const ssize_t done = transfer_all(
      [&](std::size_t at) {
        return ::pwrite(fd_, p + at, n - at, static_cast<off_t>(base_ + offset + at));
      },
      n);
  if (done < 0) fail_errno("write error");
  // A pwrite that moves nothing without an error would otherwise be retried forever.
  if (static_cast<std::size_t>(done) < n) fail("write error: no bytes written");
}

void PosixFile::truncate(std::uint64_t size) const {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) fail_errno("cannot size the file");
}

void PosixFile::sync() const {
  if (::fsync(fd_) != 0) fail_errno("fsync failed");
}

void PosixFile::close() {
  const int fd = fd_;
  fd_ = -1;
  if (fd >= 0 && ::close(fd) != 0) fail_errno("close failed");
}

std::uint32_t crc32_of(const PosixFile& file, std::uint64_t length) {
  std::vector<unsigned char> buffer(static_cast<std::size_t>(
      std::min<std::uint64_t>(std::max<std::uint64_t>(length, 1), kCrcChunk)));
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

void verify_crc_trailer(const PosixFile& file, std::uint64_t total) {
  unsigned char trailer[4];
  file.read_exactly(total - 4, trailer, 4);
  const auto stored = get_le<std::uint32_t>(trailer);
  const std::uint32_t computed = crc32_of(file, total - 4);
  if (stored != computed) {
    char text[112];
    std::snprintf(text, sizeof text,
                  "checksum mismatch (stored 0x%08x, computed 0x%08x): the file is corrupted",
                  stored, computed);
    file.fail(text);
  }
}

std::string rename_into_place(const std::string& tmp, const std::string& path) {
  std::string why;
  try {
    fault::point("io.rename");
    if (std::rename(tmp.c_str(), path.c_str()) != 0) why = std::strerror(errno);
  } catch (const Error& e) {
    why = e.what();
  }
  if (!why.empty()) std::remove(tmp.c_str());
  return why;
}

void sync_directory_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace kmpi::detail
