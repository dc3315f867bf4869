// Fault injection for tests (src/base/fault.hpp).
#include "base/fault.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "kmpi/error.hpp"

namespace kmpi::fault {

namespace {

struct State {
  bool list = false;       // count every site (KMPI_FAULT=list)
  std::string site;        // inject: the site
  long long pass = 1;      // inject: the passage that throws (1 = first)
  int rank = 0;            // this process's rank
  std::string list_path;   // list: where the counts go at exit
  std::mutex mutex;
  std::map<std::string, long long> counts;
};

State* g_state = nullptr;
bool g_configured = false;

// list mode: appends "rank site count" lines in one write, so ranks do not interleave.
void write_list() {
  if (!g_state || g_state->list_path.empty()) return;
  std::string text;
  {
    std::lock_guard<std::mutex> lock(g_state->mutex);
    for (const auto& [site, n] : g_state->counts)
      text += std::to_string(g_state->rank) + " " + site + " " + std::to_string(n) + "\n";
  }
  const int fd = ::open(g_state->list_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const ssize_t ignored = ::write(fd, text.data(), text.size());
  (void)ignored;
  ::close(fd);
}

// "site=NAME,rank=R,pass=N" (rank defaults to 0, pass to 1).
void parse(const std::string& spec, State& s, int& target_rank) {
  std::size_t at = 0;
  bool have_site = false;
  while (at <= spec.size()) {
    const std::size_t end = std::min(spec.find(',', at), spec.size());
    const std::string item = spec.substr(at, end - at);
    const std::size_t eq = item.find('=');
    const std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
    char* tail = nullptr;
    if (key == "site" && !value.empty()) {
      s.site = value;
      have_site = true;
    } else if (key == "rank" && !value.empty()) {
      target_rank = static_cast<int>(std::strtol(value.c_str(), &tail, 10));
    } else if (key == "pass" && !value.empty()) {
      s.pass = std::strtoll(value.c_str(), &tail, 10);
    } else {
      throw Error("KMPI_FAULT: cannot read '" + item + "' (site=NAME,rank=R,pass=N or list)");
    }
    if (tail && *tail != '\0') throw Error("KMPI_FAULT: '" + item + "' is not a number");
    at = end + 1;
  }
  if (!have_site || s.pass < 1) throw Error("KMPI_FAULT: needs site=NAME and pass >= 1");
}

}  // namespace

void* detail::state = nullptr;

void configure(int rank) {
  if (g_configured) return;
  g_configured = true;
  const char* spec = std::getenv("KMPI_FAULT");
  if (!spec || !*spec) return;
  auto s = std::make_unique<State>();
  s->rank = rank;
  if (std::string(spec) == "list") {
    s->list = true;
    const char* path = std::getenv("KMPI_FAULT_LIST");
    s->list_path = path ? path : "";
  } else {
    int target_rank = 0;
    parse(spec, *s, target_rank);
    if (target_rank != rank) return;  // other ranks never fail: their points stay a branch
  }
  g_state = s.release();
  detail::state = g_state;
  if (g_state->list) std::atexit(write_list);
}

void detail::pass(const char* site) {
  State& s = *g_state;
  if (!s.list && s.site != site) return;
  long long n;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    n = ++s.counts[site];
  }
  if (!s.list && n == s.pass)
    throw Error("fault injected at " + s.site + " (passage " + std::to_string(n) + ", rank " +
                std::to_string(s.rank) + ")");
}

}  // namespace kmpi::fault
