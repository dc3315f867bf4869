// A read-only file opened with the error a user can act on, with positioned reads (pread), so
// that every rank reads its own part of a shared file without moving a shared offset. Used by
// the readers in data.cpp and text_formats.cpp.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "kmpi/error.hpp"

namespace kmpi::detail {

class PosixFile {
 public:
  // local: throws kmpi::Error naming the path if it is missing, unreadable or a directory.
  explicit PosixFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      const int err = errno;
      if (err == ENOENT) throw Error(path + ": no such file");
      throw Error(path + ": cannot open: " + std::strerror(err));
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      const int err = errno;
      ::close(fd_);
      throw Error(path + ": cannot stat: " + std::strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd_);
      throw Error(path + ": is a directory, not a data file");
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
  }
  ~PosixFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  std::uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // local: reads up to n bytes at offset; returns how many it got (fewer only at the end).
  std::size_t read_at(std::uint64_t offset, void* buffer, std::size_t n) const {
    auto* p = static_cast<unsigned char*>(buffer);
    std::size_t done = 0;
    while (done < n) {
      const ssize_t got = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
      if (got < 0) {
        if (errno == EINTR) continue;
        throw Error(path_ + ": read error: " + std::strerror(errno));
      }
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

}  // namespace kmpi::detail
