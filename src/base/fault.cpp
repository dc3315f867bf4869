// Fault injection for tests (src/base/fault.hpp).
#include "base/fault.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "kmpi/error.hpp"

namespace kmpi::fault {

namespace {

struct State {
  bool list = false;      // count every site (KMPI_FAULT=list)
  std::string site;       // inject: the site
  long long pass = 1;     // inject: the passage that throws (1 = first)
  long long delay_ms = 0;  // inject: > 0 sleeps this long at that passage instead
  int rank = 0;           // this process's rank
  std::string list_path;  // list: where the counts go at exit
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
  const int fd =
      ::open(g_state->list_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const ssize_t ignored = ::write(fd, text.data(), text.size());
  (void)ignored;
  ::close(fd);
}

}  // namespace

void* detail::state = nullptr;

namespace {

// The integer in `value` (all of it, in [low, high]), or an Error naming `item`.
long long spec_number(const std::string& item, const std::string& value, long long low,
                      long long high) {
  errno = 0;
  char* tail = nullptr;
  const long long n = std::strtoll(value.c_str(), &tail, 10);
  const bool digits_only = !value.empty() && std::isdigit(static_cast<unsigned char>(value[0])) &&
                           *tail == '\0' && errno != ERANGE;
  if (!digits_only)
    throw Error("KMPI_FAULT: '" + item + "' is not a number (site=NAME,rank=R,pass=N or list)");
  if (n < low || n > high)
    throw Error("KMPI_FAULT: '" + item + "' is out of range (" + std::to_string(low) +
                (high == LLONG_MAX ? " or more)" : " to " + std::to_string(high) + ")"));
  return n;
}

}  // namespace

Spec parse_spec(const std::string& text) {
  Spec spec;
  if (text == "list") {
    spec.list = true;
    return spec;
  }
  bool have_site = false;
  for (std::size_t at = 0; at <= text.size();) {
    const std::size_t end = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, end - at);
    at = end + 1;
    const std::size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (key == "site" && !value.empty()) {
      spec.site = value;
      have_site = true;
    } else if (key == "rank" && eq != std::string::npos) {
      spec.rank = static_cast<int>(spec_number(item, value, 0, INT_MAX));
    } else if (key == "pass" && eq != std::string::npos) {
      spec.pass = spec_number(item, value, 1, LLONG_MAX);
    } else if (key == "delay" && eq != std::string::npos) {
      spec.delay_ms = spec_number(item, value, 1, 3600000);
    } else {
      throw Error("KMPI_FAULT: cannot read '" + item + "' (site=NAME,rank=R,pass=N or list)");
    }
  }
  if (!have_site) throw Error("KMPI_FAULT: '" + text + "' names no site (site=NAME,rank=R,pass=N)");
  return spec;
}

void configure(int rank) {
  if (g_configured) return;
  g_configured = true;
  const char* spec = std::getenv("KMPI_FAULT");
  if (!spec || !*spec) return;
  const Spec parsed = parse_spec(spec);
  if (!parsed.list && parsed.rank != rank) return;  // other ranks never fail: points stay a branch
  auto s = std::make_unique<State>();
  s->rank = rank;
  s->list = parsed.list;
  s->site = parsed.site;
  s->pass = parsed.pass;
  s->delay_ms = parsed.delay_ms;
  if (s->list) {
    const char* path = std::getenv("KMPI_FAULT_LIST");
    s->list_path = path ? path : "";
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
  if (!s.list && n == s.pass && s.delay_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(s.delay_ms));
    return;
  }
  if (!s.list && n == s.pass)
    throw Error("fault injected at " + s.site + " (passage " + std::to_string(n) + ", rank " +
                std::to_string(s.rank) + ")");
}

}  // namespace kmpi::fault
