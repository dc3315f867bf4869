// What the launcher (mpirun, srun) tells the ranks through their environment, and the one check
// kmpi makes of it: whether a node cut off from the network would end the job.
#pragma once

#include <functional>
#include <string>

namespace kmpi::mpi {

// Open MPI 4.1's defaults for the keepalive on its daemons' TCP connections (oob_tcp_keepalive_*):
// 300 s idle, then 9 probes 20 s apart. mpirun notices a node cut off only after all of them.
inline constexpr double kOpenMpiKeepaliveTime = 300, kOpenMpiKeepaliveInterval = 20;
inline constexpr double kOpenMpiKeepaliveProbes = 9;

// How a variable of the environment is read (getenv; a test passes its own).
using EnvironmentLookup = std::function<const char*(const char*)>;

// local: "" or the one-line warning rank 0 prints at start when this process runs under mpirun
// (OMPI_MCA_orte_hnp_uri set) across several nodes (OMPI_MCA_orte_num_nodes > 1) and the daemons'
// keepalive (oob_tcp_keepalive_time + intvl x probes, as mpirun passed them in OMPI_MCA_*, else
// Open MPI's defaults) is longer than run.stall_timeout: then a cut node leaves mpirun waiting
// after the ranks' watchdog has fired. srun (no HNP) and one node: never.
std::string keepalive_warning(double stall_timeout, const EnvironmentLookup& env);

}  // namespace kmpi::mpi
