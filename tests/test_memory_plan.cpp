// The memory planner's arithmetic against the formulas in memory_plan.hpp, and the parsing of
// run.memory_limit.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kmpi/error.hpp"
#include "driver/memory_plan.hpp"
#include "kmpi/options.hpp"

namespace kmpi {
namespace {

double item(const MemoryPlan& plan, const std::string& prefix) {
  for (const auto& i : plan.items)
    if (i.what.rfind(prefix, 0) == 0) return i.bytes;
  ADD_FAILURE() << "no item " << prefix;
  return 0;
}

TEST(MemoryPlan, DirectAndEigenPro2FollowTheFormulas) {
  const Options direct = parse_options({"--solver.name=direct"});
  const MemoryPlan p = plan_training(direct, 1001, 10, 2, 4, 100);
  EXPECT_EQ(item(p, "data block"), 251.0 * 12 * 8);  // ceil(1001 / 4) rows
  EXPECT_EQ(item(p, "K (n x n"), 1001.0 * 1001 / 4 * 8);
  EXPECT_EQ(item(p, "test and validation"), 25.0 * 12 * 8);
  double sum = 0;
  for (const auto& i : p.items) sum += i.bytes;
  EXPECT_EQ(p.total(), sum);

  const Options ep2 = parse_options({"--solver.nystrom_samples=300", "--solver.batch_size=50"});
  const MemoryPlan q = plan_training(ep2, 5000, 20, 3, 2);
  EXPECT_EQ(item(q, "K_SS"), 2.0 * 300 * 300 / 2 * 8);
  EXPECT_EQ(item(q, "batch"), 50.0 * (20 + 6) * 8);
  EXPECT_EQ(item(q, "kernel operands"), 2500.0 * 20 * 4);  // float32 by default
  EXPECT_NE(q.reduce_hint.find("solver.batch_cap"), std::string::npos);
}

// Per-rank memory depends on n / P, not on n (DESIGN §2): n = 1e6 on 4 ranks against n = 1e8 on
// 400, d = 784, c = 10, 10000 test rows, for every iterative solver (with RFM and tune around
// it too): each item of the larger run is at most the smaller run's (the pieces of a fixed s or
// p split over more ranks shrink). direct's K is n^2 / P by design: it grows n-fold.
TEST(MemoryPlan, PerRankBytesDoNotGrowWithNAtFixedRowsPerRank) {
  const std::vector<std::vector<std::string>> runs = {
      {"--solver.name=eigenpro2"},
      {"--solver.name=eigenpro2", "--data.validation_fraction=0.1", "--rfm.iterations=3"},
      {"--solver.name=eigenpro4"},
      {"--solver.name=eigenpro4", "--solver.projection=cholesky", "--solver.centers=50000"},
      {"--solver.name=falkon", "--solver.centers=20000"},
      {"--solver.name=falkon", "--rfm.iterations=2"},
  };
  for (const auto& args : runs) {
    for (const bool tune : {false, true}) {
      std::vector<std::string> a = args;
      if (tune) a.push_back("--tune.bandwidths=2,5,10");
      const Options o = parse_options(a);
      const MemoryPlan small = plan_training(o, 1000000, 784, 10, 4, 10000, tune);
      const MemoryPlan large = plan_training(o, 100000000, 784, 10, 400, 10000, tune);
      const std::string what = args[0] + (args.size() > 1 ? " " + args[1] : "") +
                               (tune ? " (tune)" : "");
      ASSERT_EQ(small.items.size(), large.items.size()) << what;
      for (std::size_t i = 0; i < small.items.size(); ++i) {
        EXPECT_EQ(small.items[i].what, large.items[i].what) << what;
        EXPECT_LE(large.items[i].bytes, small.items[i].bytes) << what << ": " << small.items[i].what;
      }
      EXPECT_LE(large.total(), small.total()) << what;
      EXPECT_EQ(item(large, "data block"), item(small, "data block")) << what;  // n/P rows
    }
  }
  const Options direct = parse_options({"--solver.name=direct"});
  EXPECT_EQ(item(plan_training(direct, 1000000, 784, 10, 4), "K (n x n"), 1e12 / 4 * 8);
  EXPECT_EQ(item(plan_training(direct, 100000000, 784, 10, 400), "K (n x n"), 1e16 / 400 * 8);
}

// Falkon's replicated pieces are counted: Z (p x d) in the kernel precision, and with test rows
// and solver.eval_every the test rows, their predictions and K(test, Z_r).
TEST(MemoryPlan, FalkonCountsItsReplicatedCentersAndTestRows) {
  const Options o = parse_options({"--solver.name=falkon", "--solver.centers=1000"});
  const MemoryPlan plan = plan_training(o, 100000, 50, 3, 4, 2000);
  EXPECT_EQ(item(plan, "centers Z replicated"), 1000.0 * 50 * 4 + 4 * 1000.0 * 3 * 8);
  EXPECT_EQ(item(plan, "test metrics"), 2000.0 * (50 + 3) * 8 + 2000.0 * 250 * 4);
  const Options once = parse_options({"--solver.name=falkon", "--solver.centers=1000",
                                      "--solver.eval_every=0"});
  for (const auto& i : plan_training(once, 100000, 50, 3, 4, 2000).items)
    EXPECT_EQ(i.what.find("test metrics"), std::string::npos);
}

TEST(MemoryPlan, LimitParsing) {
  EXPECT_EQ(memory_limit_bytes(parse_options({"--run.memory_limit=4G"}), 1), 4.0 * (1 << 30));
  EXPECT_EQ(memory_limit_bytes(parse_options({"--run.memory_limit=512M"}), 3), 512.0 * (1 << 20));
  EXPECT_EQ(memory_limit_bytes(parse_options({"--run.memory_limit=1000"}), 1), 1000.0);
  EXPECT_GT(memory_limit_bytes(parse_options({}), 2), 0.0);  // auto: MemAvailable / 2
  EXPECT_THROW(memory_limit_bytes(parse_options({"--run.memory_limit=lots"}), 1), Error);
  EXPECT_THROW(memory_limit_bytes(parse_options({"--run.memory_limit=-3G"}), 1), Error);
}

}  // namespace
}  // namespace kmpi
