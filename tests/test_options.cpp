#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "kmpi/error.hpp"
#include "kmpi/options.hpp"

namespace kmpi {
namespace {

std::string message_of(const std::vector<std::string>& args) {
  try {
    parse_options(args);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
  auto p = std::filesystem::temp_directory_path() /
           ("kmpi_opt_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p) << text;
  return p;
}

TEST(Options, DefaultsComeFromTheTable) {
  const Options o = parse_options({});
  for (const auto& spec : option_table())
    EXPECT_EQ(o.str(spec.key), spec.default_value) << spec.key;
  EXPECT_EQ(o.real("solver.ridge"), 1e-8);
  EXPECT_FALSE(o.given("kernel.bandwidth"));
}

TEST(Options, CommandLineWinsOverConfig) {
  const auto ini =
      write_temp("a.ini", "[kernel]\nname = laplacian\nbandwidth = 3\n[solver]\nepochs = 7\n");
  const Options o = parse_options({"--config", ini.string(), "--kernel.bandwidth=2.5"});
  EXPECT_EQ(o.str("kernel.name"), "laplacian");
  EXPECT_EQ(o.real("kernel.bandwidth"), 2.5);
  EXPECT_EQ(o.integer("solver.epochs"), 7);
  EXPECT_TRUE(o.given("solver.epochs"));
  std::filesystem::remove(ini);
}

TEST(Options, BadInputNamesTheKey) {
  EXPECT_NE(message_of({"--kernel.bandwith=3"}).find("kernel.bandwith"), std::string::npos);
  EXPECT_NE(message_of({"--kernel.bandwidth=-1"}).find("kernel.bandwidth"), std::string::npos);
  EXPECT_NE(message_of({"--kernel.bandwidth=abc"}).find("kernel.bandwidth"), std::string::npos);
  EXPECT_NE(message_of({"--kernel.name=rbf"}).find("kernel.name"), std::string::npos);
  EXPECT_NE(message_of({"--solver.epochs=1.5"}).find("solver.epochs"), std::string::npos);
  EXPECT_NE(message_of({"--solver.epochs=0"}).find("solver.epochs"), std::string::npos);
  EXPECT_NE(message_of({"--data.validation_fraction=0.9"}).find("data.validation_fraction"),
            std::string::npos);
  EXPECT_NE(message_of({"--config", "/nonexistent/kmpi.ini"}).find("/nonexistent/kmpi.ini"),
            std::string::npos);
  const auto ini = write_temp("b.ini", "[solver]\nepochz = 3\n");
  const std::string m = message_of({"--config", ini.string()});
  EXPECT_NE(m.find(ini.string()), std::string::npos) << m;
  EXPECT_NE(m.find("epochz"), std::string::npos) << m;
  std::filesystem::remove(ini);
  const auto ini2 = write_temp("c.ini", "[kernel]\nbandwidth = -2\n");
  const std::string m2 = message_of({"--config", ini2.string()});
  EXPECT_NE(m2.find(ini2.string()), std::string::npos) << m2;
  EXPECT_NE(m2.find("kernel.bandwidth"), std::string::npos) << m2;
  std::filesystem::remove(ini2);
}

// configs/default.ini is what `kmpi info --print-config` prints, and every shipped config parses.
TEST(Options, ShippedConfigsParseAndDefaultIniIsCurrent) {
  const std::filesystem::path dir = std::filesystem::path(KMPI_SOURCE_DIR) / "configs";
  std::ifstream in(dir / "default.ini");
  ASSERT_TRUE(in) << "configs/default.ini missing";
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, default_config()) << "regenerate: kmpi info --print-config > configs/default.ini";
  int parsed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".ini") continue;
    EXPECT_NO_THROW(parse_options({"--config", entry.path().string()})) << entry.path();
    ++parsed;
  }
  EXPECT_GE(parsed, 3);
}

}  // namespace
}  // namespace kmpi
