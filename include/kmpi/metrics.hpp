// JSON-lines metrics (DESIGN §4): one object per line, written by rank 0 to a temporary file that
// is renamed into place only when the command succeeds, so a failed run leaves no partial file.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "kmpi/mpi.hpp"

namespace kmpi {

// One flat JSON object built key by key; non-finite numbers become null. local.
class Json {
 public:
  Json& add(const std::string& key, double v);
  Json& add(const std::string& key, const std::string& v);
  Json& add(const std::string& key, const char* v) { return add(key, std::string(v)); }
  // An array of numbers (non-finite ones null).
  Json& add(const std::string& key, const std::vector<double>& v);
  // local: this object's members followed by `more`'s (one object, not nested).
  Json& merge(const Json& more);
  std::string str() const { return "{" + body_ + "}"; }

 private:
  Json& raw(const std::string& key, const std::string& value);
  std::string body_;
};

class MetricsWriter {
 public:
  // collective: opens `path`.tmp on rank 0 (an empty path writes nothing); errors are agreed.
  MetricsWriter(const mpi::Communicator& comm, const std::string& path);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  // local: appends a line. Every rank keeps the lines (they are built on every rank), so a
  // checkpoint can store them; rank 0 also writes and flushes it.
  void line(const std::string& json);
  // collective: closes and renames the file into place (agreed).
  void finish(const mpi::Communicator& comm);

  // local: the lines so far; restore() rewrites those of a resumed run first.
  const std::vector<std::string>& lines() const { return lines_; }
  void restore(const std::vector<std::string>& lines);

 private:
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  std::vector<std::string> lines_;
};

}  // namespace kmpi
