// The temporary files this job is writing (issue 28: no partial output, whichever rank fails).
// A writer registers its temporary's name on every rank, the same name everywhere, while the file
// may exist (rank 0 usually creates it). A rank that fails alone ends the job with MPI_Abort,
// which kills the other ranks where they wait, so rank 0 never removes its temporary: main calls
// remove_registered() on the failing rank first (on a shared file system the name is rank 0's
// file; elsewhere nothing of that name exists). Agreed errors need none of this: every rank
// unwinds, and each writer removes its own temporary.
#pragma once

#include <cstdio>
#include <exception>
#include <mutex>
#include <set>
#include <string>
#include <utility>

namespace kmpi::temporaries {

namespace detail {
struct Registry {
  std::mutex mutex;
  std::multiset<std::string> names;
};
inline Registry& registry() {
  static Registry r;
  return r;
}
}  // namespace detail

// local: registers `name` for as long as the object lives; left registered when it ends by an
// exception (the job may be about to abort: remove_registered must still find it).
class Registration {
 public:
  explicit Registration(std::string name)
      : name_(std::move(name)), exceptions_(std::uncaught_exceptions()) {
    if (name_.empty()) return;
    std::lock_guard<std::mutex> lock(detail::registry().mutex);
    detail::registry().names.insert(name_);
  }
  ~Registration() {
    if (name_.empty() || std::uncaught_exceptions() > exceptions_) return;
    std::lock_guard<std::mutex> lock(detail::registry().mutex);
    auto& names = detail::registry().names;
    const auto it = names.find(name_);
    if (it != names.end()) names.erase(it);
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

 private:
  std::string name_;
  int exceptions_;
};

// local: removes every registered temporary (best effort), before a lone failure's MPI_Abort.
inline void remove_registered() {
  std::lock_guard<std::mutex> lock(detail::registry().mutex);
  for (const std::string& name : detail::registry().names) std::remove(name.c_str());
}

}  // namespace kmpi::temporaries
