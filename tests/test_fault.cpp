// The KMPI_FAULT parser (base/fault.hpp): the documented forms read to the site, rank and passage
// they name; anything else is a kmpi::Error whose message names KMPI_FAULT (the CLI turns it into
// one agreed line and exit code 1: tests/cli/fault_sweep.sh).
#include <gtest/gtest.h>

#include <string>

#include "base/fault.hpp"
#include "kmpi/error.hpp"

namespace kmpi::fault {
namespace {

// `text` parses to a site, rank and passage (no list, no delay).
void expect_spec(const std::string& text, const std::string& site, int rank, long long pass) {
  const Spec s = parse_spec(text);
  EXPECT_FALSE(s.list) << text;
  EXPECT_EQ(s.site, site) << text;
  EXPECT_EQ(s.rank, rank) << text;
  EXPECT_EQ(s.pass, pass) << text;
  EXPECT_EQ(s.delay_ms, 0) << text;
}

TEST(FaultSpec, ReadsSiteRankAndPass) {
  expect_spec("site=comm.allreduce,rank=1,pass=3", "comm.allreduce", 1, 3);
}

TEST(FaultSpec, RankAndPassDefaultToTheFirstPassageOnRankZero) {
  expect_spec("site=io.rename", "io.rename", 0, 1);
}

TEST(FaultSpec, KeysInAnyOrder) {
  expect_spec("pass=12,site=eigenpro2.step,rank=3", "eigenpro2.step", 3, 12);
}

TEST(FaultSpec, DelayInMilliseconds) {
  const Spec s = parse_spec("site=tree.leaf,rank=1,delay=2500");
  EXPECT_EQ(s.site, "tree.leaf");
  EXPECT_EQ(s.rank, 1);
  EXPECT_EQ(s.pass, 1);
  EXPECT_EQ(s.delay_ms, 2500);
  EXPECT_EQ(parse_spec("site=x").delay_ms, 0);
  EXPECT_THROW(parse_spec("site=x,delay=0"), Error);
  EXPECT_THROW(parse_spec("site=x,delay=-5"), Error);
  EXPECT_THROW(parse_spec("site=x,delay=1s"), Error);
}

TEST(FaultSpec, ListCountsEverySite) {
  const Spec s = parse_spec("list");
  EXPECT_TRUE(s.list);
  EXPECT_TRUE(s.site.empty());
}

TEST(FaultSpec, MalformedFormsThrowAnErrorNamingKmpiFault) {
  for (const std::string bad :
       {"garbage", "site=x,rank=abc", "site=x,pass=0", "site=x,pass=-2", "site=x,rank=-1",
        "site=x,rank=1x", "site=x,rank=", "site=x,pass=", "site=", "rank=1,pass=2", "site=x,",
        ",site=x", "site=x,colour=red", "site=x,rank=99999999999", "site=x,pass=1e3",
        "site=x,pass=99999999999999999999", "site=x,rank=+1", "lists"}) {
    SCOPED_TRACE(bad);
    try {
      parse_spec(bad);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind("KMPI_FAULT: ", 0), 0u) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  }
}

}  // namespace
}  // namespace kmpi::fault
