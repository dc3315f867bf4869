// Test-only fault injection (issue 28): a chosen rank throws kmpi::Error at the n-th passage of a
// chosen site, so a test can sweep every collective wrapper, file operation and solver step and
// check that the job then ends by itself (DESIGN §3) with nothing lost. Configured once per
// process from the environment, by `configure` (the MPI environment calls it after MPI_Init):
//   KMPI_FAULT="site=comm.allreduce,rank=1,pass=3"  rank 1 throws at its 3rd comm.allreduce;
//   KMPI_FAULT=list  every rank counts its passages; at exit each appends "rank site count"
//                    lines to the file KMPI_FAULT_LIST (the sweep's list of sites);
//   KMPI_FAULT="site=tree.leaf,rank=1,delay=3000"  rank 1 sleeps 3 s at its first tree.leaf
//                    instead of throwing: a slow rank, for tests of waits that must not be
//                    taken for a lost peer.
// Unset (every real run), `point` costs one load and one predictable branch.
#pragma once

#include <string>

namespace kmpi::fault {

// What KMPI_FAULT asks for: every site counted (list), or `site` thrown at its `pass`-th passage
// on rank `rank`.
struct Spec {
  bool list = false;
  std::string site;
  int rank = 0;
  long long pass = 1;
  long long delay_ms = 0;  // > 0: sleep this long at the passage instead of throwing
};

// local: reads a KMPI_FAULT value, "list" or "site=NAME[,rank=R][,pass=N][,delay=MS]" (rank >= 0,
// default 0; pass >= 1, default 1; delay in ms, 1 to 3600000); anything else throws kmpi::Error whose message starts with "KMPI_FAULT".
Spec parse_spec(const std::string& text);

namespace detail {
// Null unless KMPI_FAULT is set; written once, by configure, before any site is passed.
extern void* state;
void pass(const char* site);
}  // namespace detail

// local: reads KMPI_FAULT and KMPI_FAULT_LIST for this process, whose rank is `rank`; a malformed
// KMPI_FAULT throws kmpi::Error (parse_spec) and leaves injection off. Later calls do nothing.
void configure(int rank);

// local: a fault site. Names are stable ("comm.allreduce", "io.rename", "eigenpro2.step"): tests
// select them by name.
inline void point(const char* site) {
  if (__builtin_expect(detail::state != nullptr, 0)) detail::pass(site);
}

}  // namespace kmpi::fault
