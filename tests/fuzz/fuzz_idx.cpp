// libFuzzer target for the idx reader (see harness.hpp; run by scripts/fuzz.sh).
#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kmpi::fuzz::read_binary(data, size, "-idx3-ubyte");
  return 0;
}
