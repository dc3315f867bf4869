// libFuzzer target for the libsvm reader (see harness.hpp; run by scripts/fuzz.sh).
#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kmpi::fuzz::read_text(data, size, kmpi::FileFormat::kLibsvm);
  return 0;
}
