// The memory planner's arithmetic against the formulas in memory_plan.hpp, and the parsing of
// run.memory_limit.
#include <gtest/gtest.h>

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
