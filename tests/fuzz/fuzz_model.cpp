// libFuzzer target for the model reader (see harness.hpp; run by scripts/fuzz.sh).
#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kmpi::fuzz::read_model(data, size);
  return 0;
}
