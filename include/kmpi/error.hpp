// Errors in kmpi (DESIGN §3). Library code throws; it never exits or aborts.
#pragma once

#include <stdexcept>
#include <string>

namespace kmpi {

// A failure of one rank: bad input, a failed library call, an impossible option value.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// The same failure, agreed on by every rank of a communicator: every rank throws it together,
// so `main` can end all ranks cleanly (exit 1) instead of aborting. `failing_rank` found it.
class CollectiveError : public Error {
 public:
  CollectiveError(const std::string& message, int failing_rank)
      : Error(message), failing_rank_(failing_rank) {}
  int failing_rank() const { return failing_rank_; }

 private:
  int failing_rank_;
};

// A solver's iterate turned non-finite, agreed by every rank (a CollectiveError): a run alone
// ends with it; the search (each tune point, each RFM iteration after the first) catches it on
// every rank together, marks that point or iteration diverged and goes on without it.
class DivergedError : public CollectiveError {
 public:
  explicit DivergedError(const std::string& message) : CollectiveError(message, 0) {}
};

}  // namespace kmpi
