#include "parallel/launcher.hpp"

#include <cstdio>
#include <cstdlib>

namespace kmpi::mpi {

namespace {

// The value of an MCA parameter as mpirun forwards it (OMPI_MCA_<name>), or `fallback`.
double mca_seconds(const EnvironmentLookup& env, const char* name, double fallback) {
  const std::string key = std::string("OMPI_MCA_") + name;
  const char* v = env(key.c_str());
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const double x = std::strtod(v, &end);
  return (end != v && x >= 0) ? x : fallback;
}

}  // namespace

std::string keepalive_warning(double stall_timeout, const EnvironmentLookup& env) {
  const char* hnp = env("OMPI_MCA_orte_hnp_uri");
  if (hnp == nullptr || *hnp == '\0') return "";  // not under mpirun
  if (mca_seconds(env, "orte_num_nodes", 1) <= 1) return "";
  const double time = mca_seconds(env, "oob_tcp_keepalive_time", kOpenMpiKeepaliveTime);
  const double interval = mca_seconds(env, "oob_tcp_keepalive_intvl", kOpenMpiKeepaliveInterval);
  const double probes = mca_seconds(env, "oob_tcp_keepalive_probes", kOpenMpiKeepaliveProbes);
  const double total = time + interval * probes;
  if (stall_timeout > 0 && total <= stall_timeout) return "";
  char line[512];
  std::snprintf(
      line, sizeof line,
      "kmpi: warning: mpirun across nodes with a daemon keepalive of %.0f s (%.0f + %.0f x "
      "%.0f) %s: a node cut off keeps mpirun waiting that long; source scripts/mpi_env.sh "
      "or pass --mca oob_tcp_keepalive_time 30 --mca oob_tcp_keepalive_intvl 10 --mca "
      "oob_tcp_keepalive_probes 3",
      total, time, interval, probes,
      stall_timeout > 0
          ? ("above run.stall_timeout = " + std::to_string(int(stall_timeout)) + " s").c_str()
          : "and run.stall_timeout off");
  return line;
}

}  // namespace kmpi::mpi
