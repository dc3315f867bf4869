// The job's registered temporaries (base/temporaries.hpp): a registration ends with its scope on
// the normal path, stays while an exception unwinds it (the job may abort next), and
// remove_registered removes the registered files, and only those.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "base/temporaries.hpp"

namespace kmpi {
namespace {

std::string scratch_file(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "kmpi_test_temporaries";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path) << "partial";
  return path;
}

bool exists(const std::string& path) { return std::filesystem::exists(path); }

TEST(Temporaries, RemovesWhatIsRegisteredAndNothingElse) {
  const std::string kept = scratch_file("kept.tmp"), registered = scratch_file("model.tmp.1");
  {
    const temporaries::Registration r(registered);
    temporaries::remove_registered();
    EXPECT_FALSE(exists(registered));
  }
  EXPECT_TRUE(exists(kept));
  std::remove(kept.c_str());
}

TEST(Temporaries, ANormalEndUnregisters) {
  const std::string path = scratch_file("metrics.jsonl.tmp");
  { const temporaries::Registration r(path); }
  temporaries::remove_registered();
  EXPECT_TRUE(exists(path));
  std::remove(path.c_str());
}

TEST(Temporaries, AnExceptionLeavesItRegistered) {
  const std::string path = scratch_file("pred.txt.tmp");
  try {
    const temporaries::Registration r(path);
    throw std::runtime_error("a rank fails alone");
  } catch (const std::runtime_error&) {
    // main's lone-failure path: the registration is still there.
    temporaries::remove_registered();
  }
  EXPECT_FALSE(exists(path));
}

}  // namespace
}  // namespace kmpi
