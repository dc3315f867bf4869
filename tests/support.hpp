// Helpers shared by the unit tests and the MPI tests (mpi_tests/common.hpp includes this file):
// a scratch directory per test, files written byte by byte with code independent of the readers,
// and the message of a thrown kmpi::Error. All local: nothing here talks to other ranks.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "kmpi/error.hpp"

namespace kmpi::testing_support {

using Bytes = std::vector<unsigned char>;

// The name of a fresh scratch directory for the running test: pid, suite and test name keep
// parallel runs and tests apart.
inline std::filesystem::path test_scratch_path(const std::string& prefix) {
  const auto* info = testing::UnitTest::GetInstance()->current_test_info();
  return std::filesystem::temp_directory_path() /
         (prefix + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
}

// Fixture: a fresh directory per test, removed afterwards. local.
class ScratchDirTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_scratch_path("kmpi_unit_");
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

// local: writes `bytes` to `path`, failing the test if the write does.
inline void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// local: writes the characters of `text` (any bytes) to `path`.
inline void write_text(const std::string& path, const std::string& text) {
  write_file(path, Bytes(text.begin(), text.end()));
}

// local: the bytes of `path` as a string ("" if it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// local: appends the bytes of `value`; the test hosts are little-endian (x86/ARM), so reverse
// them for big-endian formats.
template <class T>
void append(Bytes& out, T value, bool big_endian) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, &value, sizeof(T));
  if (big_endian)
    for (std::size_t i = sizeof(T); i-- > 0;) out.push_back(b[i]);
  else
    out.insert(out.end(), b, b + sizeof(T));
}

// local: a .npy file: magic, version, header length, dict padded with spaces and '\n' to a
// multiple of 64, then the values little-endian.
template <class T>
Bytes npy_bytes(const std::string& descr, const std::string& shape, const std::vector<T>& values,
                int major = 1, bool fortran = false) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shape + ", }";
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  Bytes out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(major), 0};
  if (major == 1)
    append<std::uint16_t>(out, static_cast<std::uint16_t>(dict.size()), false);
  else
    append<std::uint32_t>(out, static_cast<std::uint32_t>(dict.size()), false);
  out.insert(out.end(), dict.begin(), dict.end());
  for (auto v : values) append<T>(out, v, false);
  return out;
}

// local: the message of the kmpi::Error f() throws, or "" if it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace kmpi::testing_support

#define EXPECT_MESSAGE_HAS(message, text) \
  EXPECT_NE(std::string(message).find(text), std::string::npos) << "message: " << (message)
