// Replays the committed fuzz corpus (tests/fuzz/corpus/<reader>/*) through the same harness the
// libFuzzer targets use: each input must be accepted or refused with kmpi::Error, never crash
// (under the sanitizer build, never touch memory it should not). Inputs that once broke a
// reader are added to the corpus, so this is the regression suite of the fuzzers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/harness.hpp"

namespace kmpi {
namespace {

namespace fs = std::filesystem;

std::vector<std::vector<std::uint8_t>> corpus(const std::string& reader) {
  std::vector<std::vector<std::uint8_t>> out;
  const fs::path dir = fs::path(KMPI_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / reader;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

TEST(FuzzCorpus, EveryInputIsAcceptedOrRefusedCleanly) {
  std::size_t inputs = 0;
  for (const auto& bytes : corpus("npy")) fuzz::read_binary(bytes.data(), bytes.size(), ".npy");
  for (const auto& bytes : corpus("idx"))
    fuzz::read_binary(bytes.data(), bytes.size(), "-idx3-ubyte");
  for (const auto& bytes : corpus("csv"))
    fuzz::read_text(bytes.data(), bytes.size(), FileFormat::kCsv);
  for (const auto& bytes : corpus("libsvm"))
    fuzz::read_text(bytes.data(), bytes.size(), FileFormat::kLibsvm);
  for (const auto& bytes : corpus("model")) fuzz::read_model(bytes.data(), bytes.size());
  for (const char* reader : {"npy", "idx", "csv", "libsvm", "model"})
    inputs += corpus(reader).size();
  EXPECT_GE(inputs, 25u);  // the corpus is there (a wrong path would make this test vacuous)
}

}  // namespace
}  // namespace kmpi
