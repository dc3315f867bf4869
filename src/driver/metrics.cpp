#include "driver/metrics.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <sstream>
#include <utility>

#include "base/fault.hpp"
#include "io/posix_file.hpp"

namespace kmpi {

namespace {

std::string json_number(double v) {
  std::ostringstream s;
  s.precision(10);
  if (std::isfinite(v))
    s << v;
  else
    s << "null";
  return s.str();
}

}  // namespace

Json& Json::add(const std::string& key, double v) { return raw(key, json_number(v)); }

Json& Json::add(const std::string& key, const std::vector<double>& v) {
  std::string list;
  for (double x : v) list += (list.empty() ? "" : ", ") + json_number(x);
  return raw(key, "[" + list + "]");
}

Json& Json::add(const std::string& key, const std::string& v) {
  return raw(key, "\"" + v + "\"");
}

Json& Json::merge(const Json& more) {
  if (!more.body_.empty()) body_ += (body_.empty() ? "" : ", ") + more.body_;
  return *this;
}

Json& Json::raw(const std::string& key, const std::string& value) {
  body_ += (body_.empty() ? "\"" : ", \"") + key + "\": " + value;
  return *this;
}

MetricsWriter::MetricsWriter(const mpi::Communicator& comm, const std::string& path)
    : path_(path), registration_(path.empty() ? std::string() : path + ".tmp") {
  comm.barrier();  // rank 0 creates it once every rank knows its name (base/temporaries.hpp)
  std::string message;
  if (comm.rank() == 0 && !path.empty()) {
    tmp_ = path + ".tmp";
    fault::point("io.open_write");
    file_ = std::fopen(tmp_.c_str(), "w");
    if (!file_)
      message = path + ": cannot create metrics file (" + tmp_ + ": " + std::strerror(errno) + ")";
  }
  mpi::agree(comm, message.empty(), message);
}

MetricsWriter::~MetricsWriter() { discard(); }

void MetricsWriter::discard() {
  if (!file_) return;
  std::fclose(std::exchange(file_, nullptr));
  std::remove(tmp_.c_str());
}

std::string MetricsWriter::write_error() const {
  return "metrics " + tmp_ + ": write error: " + std::strerror(write_errno_) +
         " (nothing written to " + path_ + ")";
}

void MetricsWriter::line(const std::string& json) {
  lines_.push_back(json);
  if (!file_ || write_errno_ != 0) return;
  fault::point("io.write");
  errno = 0;
  if (std::fputs(json.c_str(), file_) < 0 || std::fputc('\n', file_) == EOF ||
      std::fflush(file_) != 0)
    write_errno_ = errno != 0 ? errno : EIO;
}

void MetricsWriter::check(const mpi::Communicator& comm) {
  const bool ok = write_errno_ == 0;
  if (!ok) discard();
  mpi::agree(comm, ok, ok ? std::string() : write_error());
}

void MetricsWriter::finish(const mpi::Communicator& comm) {
  std::string message;
  if (file_) {
    errno = 0;
    // Flushed and fsynced before the rename, so a crash leaves the old file or the new one.
    if ((std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) && write_errno_ == 0)
      write_errno_ = errno != 0 ? errno : EIO;
    errno = 0;
    // fclose flushes what is left; its error counts like a failed line (NFS reports them here).
    if (std::fclose(std::exchange(file_, nullptr)) != 0 && write_errno_ == 0)
      write_errno_ = errno != 0 ? errno : EIO;
    if (write_errno_ != 0) {
      message = write_error();
    } else if (const std::string why = detail::rename_into_place(tmp_, path_); !why.empty()) {
      message = path_ + ": cannot rename " + tmp_ + " to it: " + why;
    }
    if (!message.empty()) std::remove(tmp_.c_str());
    if (message.empty()) detail::sync_directory_of(path_);
  }
  mpi::agree(comm, message.empty(), message);
}

void MetricsWriter::restore(const std::vector<std::string>& lines) {
  // A resumed RFM run restores twice: its own state's lines, then its solver checkpoint's, which
  // begin with them. Lines already written are not written again.
  std::size_t k = 0;
  while (k < lines_.size() && k < lines.size() && lines_[k] == lines[k]) ++k;
  for (; k < lines.size(); ++k) line(lines[k]);
}

}  // namespace kmpi
