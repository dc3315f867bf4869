// JSON-lines metrics (DESIGN §4): one object per line, written by rank 0 to a temporary file that
// is renamed into place only when the command succeeds, so a failed run leaves no partial file.
// A write error (the disk full) is kept, not thrown, since only rank 0 knows of it; the run
// agrees on it after each epoch's line (TrainReporter), at its next checkpoint, before it writes
// the model and at the end, then stops with one line and removes the temporary. So a run whose
// metrics cannot be written leaves no new output (no metrics file, no model, no newer
// checkpoint), and a previous file under the name is never touched. Nothing is lost beyond the
// last checkpoint: it holds every line so far, and a resume rewrites them.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "base/temporaries.hpp"
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
  // A nested object (its members as `object` holds them).
  Json& add(const std::string& key, const Json& object) { return raw(key, object.str()); }
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
  // checkpoint can store them; rank 0 also writes and flushes it, and after a write error writes
  // no more (check() and finish() report it).
  void line(const std::string& json);
  // collective: throws the agreed error if rank 0 could not write every line so far, after
  // removing the temporary. Called after each epoch's line, before each checkpoint and before
  // the model is written.
  void check(const mpi::Communicator& comm);
  // collective: closes and renames the file into place; a write or close error so far is the
  // agreed error instead, and the temporary is removed.
  void finish(const mpi::Communicator& comm);

  // local: the lines so far; restore() rewrites those of a resumed run first.
  const std::vector<std::string>& lines() const { return lines_; }
  void restore(const std::vector<std::string>& lines);

 private:
  // Rank 0: closes and removes the temporary (after an error).
  void discard();
  std::string write_error() const;

  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  int write_errno_ = 0;  // rank 0: the first failed write's errno, 0 if none
  std::vector<std::string> lines_;
  // `path`.tmp on every rank: a rank failing alone removes rank 0's (base/temporaries.hpp).
  temporaries::Registration registration_;
};

}  // namespace kmpi
