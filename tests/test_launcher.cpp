// keepalive_warning (src/parallel/launcher.hpp): the environment mpirun gives its ranks decides
// whether a cut node would outlive run.stall_timeout. Environments are written out here as
// mpirun 4.1 sets them (OMPI_MCA_orte_hnp_uri, OMPI_MCA_orte_num_nodes, forwarded --mca values).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "parallel/launcher.hpp"

namespace {

std::string warning(double stall, const std::map<std::string, std::string>& env) {
  return kmpi::mpi::keepalive_warning(stall, [&](const char* k) -> const char* {
    auto it = env.find(k);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

const std::map<std::string, std::string> kTwoNodes = {
    {"OMPI_MCA_orte_hnp_uri", "224788480.0;tcp://10.0.0.1:56089"},
    {"OMPI_MCA_orte_num_nodes", "2"}};

TEST(KeepaliveWarning, DefaultsAcrossNodesWarnWithTheTotal) {
  const std::string w = warning(120, kTwoNodes);
  EXPECT_NE(w.find("480 s (300 + 20 x 9)"), std::string::npos) << w;  // Open MPI's defaults
  EXPECT_NE(w.find("run.stall_timeout = 120"), std::string::npos) << w;
  EXPECT_EQ(w.find('\n'), std::string::npos);  // one line
}

TEST(KeepaliveWarning, ShortKeepaliveIsQuiet) {
  auto env = kTwoNodes;
  env["OMPI_MCA_oob_tcp_keepalive_time"] = "30";
  env["OMPI_MCA_oob_tcp_keepalive_intvl"] = "10";
  env["OMPI_MCA_oob_tcp_keepalive_probes"] = "3";
  EXPECT_EQ(warning(120, env), "");  // 60 s <= 120 s
  EXPECT_NE(warning(50, env), "");   // 60 s > 50 s
  EXPECT_NE(warning(0, env), "");    // watchdog off: nothing else ends the ranks
}

TEST(KeepaliveWarning, OneNodeOrSrunIsQuiet) {
  auto one = kTwoNodes;
  one["OMPI_MCA_orte_num_nodes"] = "1";
  EXPECT_EQ(warning(120, one), "");
  EXPECT_EQ(warning(120, {{"OMPI_MCA_orte_num_nodes", "2"}}), "");  // no HNP: srun's direct launch
  EXPECT_EQ(warning(120, {}), "");
}

}  // namespace
