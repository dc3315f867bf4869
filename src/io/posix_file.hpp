// A file opened with the error a user can act on, with positioned reads and writes (pread,
// pwrite), so that every rank reads or writes its own part of a shared file without moving a
// shared offset. The data readers (src/io/data.cpp, src/io/, text_formats.cpp, hdf5_reader.cpp), the
// model file (model.cpp), checkpoints (checkpoint.cpp) and the .npy writer all go through it, so
// an I/O failure reads the same wherever it happens.
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace kmpi::detail {

// How a PosixFile's errors read. The fields differ between callers because their messages are
// part of kmpi's interface (tests and users match them): a data reader says "no such file", a
// checkpoint says "cannot open: No such file or directory" under its "checkpoint " prefix.
struct FileErrors {
  std::string label;  // starts every message: the path, or "checkpoint <path>"
  std::string cannot_open = "cannot open";  // the words for a failed open(2)
  // ENOENT on an open without O_CREAT reads "<label>: no such file" instead of the errno text.
  bool say_no_such_file = true;
  // Non-empty: opening a directory is refused as "<label>: is a directory, not a <this>".
  std::string directory_is_not_a;
};

class PosixFile {
 public:
  // local: opens a data file read-only; throws kmpi::Error naming the path if it is missing,
  // unreadable or a directory.
  explicit PosixFile(const std::string& path);
  // local: opens with open(2) `flags` (O_CLOEXEC is added) and `mode`; errors read as `errors`.
  PosixFile(const std::string& path, int flags, mode_t mode, FileErrors errors);
  ~PosixFile();
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  // local: the size when the file was opened (of the window, once restricted).
  std::uint64_t size() const { return size_; }
  // local: from now on offsets count from `base` and the file reads as `length` bytes long: a
  // file stored inside another (a leaf model inside a tree model) reads like a file of its own.
  void restrict_to(std::uint64_t base, std::uint64_t length) {
    base_ += base;
    size_ = length;
  }
  const std::string& path() const { return path_; }

  // local: reads up to n bytes at offset; returns how many it got (fewer only at the end).
  std::size_t read_at(std::uint64_t offset, void* buffer, std::size_t n) const;
  // local: reads exactly n bytes at offset; a file that ends first is "truncated".
  void read_exactly(std::uint64_t offset, void* buffer, std::size_t n) const;
  // local: writes all n bytes at offset.
  void write_at(std::uint64_t offset, const void* buffer, std::size_t n) const;
  // local: sets the file's size (ftruncate).
  void truncate(std::uint64_t size) const;
  // local: fsync.
  void sync() const;
  // local: closes now, so that a failing close (NFS reports write errors there) is an error.
  void close();
  // local: throws kmpi::Error("<label>: <what>").
  [[noreturn]] void fail(const std::string& what) const;
  // local: the same with ": <strerror(errno)>" appended.
  [[noreturn]] void fail_errno(const std::string& what) const;

 private:
  std::string path_;
  FileErrors errors_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::uint64_t base_ = 0;  // restrict_to's window start
};

// local: throws kmpi::Error("<path>: <what>"), the form of every reader's message.
[[noreturn]] void fail(const std::string& path, const std::string& what);

// local: CRC-32 (zlib) of bytes [0, length) of a file, streamed through a fixed buffer so a file
// of any size can be checked.
std::uint32_t crc32_of(const PosixFile& file, std::uint64_t length);

// local: checks the little-endian CRC-32 trailer in bytes [total - 4, total) against the CRC of
// everything before it; a mismatch is "checksum mismatch (...): the file is corrupted".
void verify_crc_trailer(const PosixFile& file, std::uint64_t total);

// local: renames the closed temporary `tmp` to `path` (the io.rename fault site first). Returns ""
// when it is in place; otherwise removes `tmp` and returns why (the errno text, or the injected
// fault's message), so that no failure, an injected one included, leaves the temporary behind.
std::string rename_into_place(const std::string& tmp, const std::string& path);

// local: fsyncs the directory holding `path`, which makes a completed rename durable; best
// effort, since the file is already whole under its name.
void sync_directory_of(const std::string& path);

}  // namespace kmpi::detail
