#include "kmpi/metrics.hpp"

#include <cmath>
#include <sstream>

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
    : path_(path) {
  bool ok = true;
  if (comm.rank() == 0 && !path.empty()) {
    tmp_ = path + ".tmp";
    file_ = std::fopen(tmp_.c_str(), "w");
    ok = file_ != nullptr;
  }
  mpi::agree(comm, ok, path + ": cannot create metrics file");
}

MetricsWriter::~MetricsWriter() {
  if (file_) {
    std::fclose(file_);
    std::remove(tmp_.c_str());
  }
}

void MetricsWriter::line(const std::string& json) {
  lines_.push_back(json);
  if (!file_) return;
  std::fputs(json.c_str(), file_);
  std::fputc('\n', file_);
  std::fflush(file_);
}

void MetricsWriter::finish(const mpi::Communicator& comm) {
  bool ok = true;
  if (file_) {
    ok = std::fclose(file_) == 0 && std::rename(tmp_.c_str(), path_.c_str()) == 0;
    file_ = nullptr;
  }
  mpi::agree(comm, ok, path_ + ": cannot write metrics file");
}

void MetricsWriter::restore(const std::vector<std::string>& lines) {
  // A resumed RFM run restores twice: its own state's lines, then its solver checkpoint's, which
  // begin with them. Lines already written are not written again.
  std::size_t k = 0;
  while (k < lines_.size() && k < lines.size() && lines_[k] == lines[k]) ++k;
  for (; k < lines.size(); ++k) line(lines[k]);
}

}  // namespace kmpi
