// The model file's header and the feature scaling, without MPI: a file is written here byte by
// byte from the layout in kmpi/model.hpp (independent of the writer) and read back with
// read_model_header. Save/load round trips need ranks and live in mpi_tests/test_data_model.cpp.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "kmpi/error.hpp"
#include "kmpi/model.hpp"
#include "support.hpp"

namespace kmpi {
namespace {

namespace fs = std::filesystem;
using testing_support::error_of;
using testing_support::write_text;

// A fresh directory per test (the fixture's name is the suite's).
class ModelFile : public testing_support::ScratchDirTest {};

template <class T>
void put(std::string& out, T v) {  // little-endian host
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

// A model with d = 2, c = 3, p = 4: centers(i, j) = i + j / 10, weights(i, k) = -(i + 1) * (k + 1).
std::string model_bytes(std::uint32_t version = 1) {
  std::string b = "KMPIMODL";
  put<std::uint32_t>(b, version);
  put<std::uint32_t>(b, 2);  // matern
  put<double>(b, 2.5);
  put<double>(b, 0.75);
  put<std::uint32_t>(b, 2);  // standardize
  put<std::uint32_t>(b, 1);  // regression
  put<std::uint64_t>(b, 2);
  put<std::uint64_t>(b, 3);
  put<std::uint64_t>(b, 4);
  EXPECT_EQ(b.size(), 64u);
  put<double>(b, 10.0);
  put<double>(b, -20.0);
  put<double>(b, 0.5);
  put<double>(b, 4.0);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 2; ++j) put<double>(b, i + j / 10.0);
  for (int i = 0; i < 4; ++i)
    for (int k = 0; k < 3; ++k) put<double>(b, -(i + 1.0) * (k + 1.0));
  const uLong crc =
      crc32(0L, reinterpret_cast<const Bytef*>(b.data()), static_cast<uInt>(b.size()));
  put<std::uint32_t>(b, static_cast<std::uint32_t>(crc));
  return b;
}

TEST_F(ModelFile, HeaderOfAHandWrittenFile) {
  write_text(path("m.kmpi"), model_bytes());
  const ModelHeader h = read_model_header(path("m.kmpi"));
  EXPECT_EQ(h.kernel.kind, KernelKind::kMatern);
  EXPECT_EQ(h.kernel.nu, 2.5);
  EXPECT_EQ(h.kernel.bandwidth, 0.75);
  EXPECT_EQ(h.scaling.mode, ScaleMode::kStandardize);
  EXPECT_EQ(h.task, Task::kRegression);
  EXPECT_EQ(h.dimension, 2u);
  EXPECT_EQ(h.outputs, 3u);
  EXPECT_EQ(h.centers, 4u);
  EXPECT_EQ(h.scaling.offset, (std::vector<double>{10.0, -20.0}));
  EXPECT_EQ(h.scaling.multiplier, (std::vector<double>{0.5, 4.0}));
}

TEST_F(ModelFile, HeaderErrorsNameTheFile) {
  EXPECT_MESSAGE_HAS(error_of([&] { read_model_header(path("absent.kmpi")); }),
                     path("absent.kmpi") + ": no such file");

  write_text(path("text.kmpi"),
             "this is not a model at all, just some text that is long enough to have a header");
  EXPECT_MESSAGE_HAS(error_of([&] { read_model_header(path("text.kmpi")); }),
                     path("text.kmpi") + ": not a kmpi model");
  write_text(path("empty.kmpi"), "");
  EXPECT_MESSAGE_HAS(error_of([&] { read_model_header(path("empty.kmpi")); }), "not a kmpi model");

  write_text(path("newer.kmpi"), model_bytes(kModelVersion + 1));
  EXPECT_MESSAGE_HAS(error_of([&] { read_model_header(path("newer.kmpi")); }),
                     path("newer.kmpi") + ": written by a newer kmpi (format version " +
                         std::to_string(kModelVersion + 1) + ", this build reads up to " +
                         std::to_string(kModelVersion) + ")");

  std::string bytes = model_bytes();
  write_text(path("short.kmpi"), bytes.substr(0, bytes.size() - 9));
  EXPECT_MESSAGE_HAS(error_of([&] { read_model_header(path("short.kmpi")); }),
                     path("short.kmpi") + ": truncated");
  write_text(path("header.kmpi"), bytes.substr(0, 40));
  EXPECT_MESSAGE_HAS(error_of([&] { read_model_header(path("header.kmpi")); }),
                     path("header.kmpi") + ": truncated");

  bytes[12] = 9;  // kernel kind
  write_text(path("kind.kmpi"), bytes);
  EXPECT_MESSAGE_HAS(error_of([&] { read_model_header(path("kind.kmpi")); }),
                     "unknown kernel kind 9");

  bytes = model_bytes();
  for (int k = 56; k < 64; ++k) bytes[k] = static_cast<char>(0xff);  // p = 2^64 - 1
  write_text(path("absurd.kmpi"), bytes);
  EXPECT_MESSAGE_HAS(error_of([&] { read_model_header(path("absurd.kmpi")); }),
                     path("absurd.kmpi") + ": corrupt model header: absurd sizes");

  fs::create_directories(path("dir.kmpi"));
  EXPECT_MESSAGE_HAS(error_of([&] { read_model_header(path("dir.kmpi")); }),
                     path("dir.kmpi") + ": is a directory");
}

TEST(Scaling, AppliesOffsetThenMultiplierPerColumn) {
  Scaling s;
  s.mode = ScaleMode::kStandardize;
  s.offset = {1.0, -2.0, 0.0};
  s.multiplier = {2.0, 0.5, -1.0};
  Matrix<double> x(2, 3);
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j) x(i, j) = static_cast<double>(3 * i + j);
  s.apply(x);
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      EXPECT_EQ(x(i, j), (static_cast<double>(3 * i + j) - s.offset[j]) * s.multiplier[j]);

  Matrix<double> wrong(1, 2, 1.0);
  EXPECT_THROW(s.apply(wrong), Error);

  Scaling none;  // no scaling, no vectors: the identity for any width
  Matrix<double> y(2, 5, 3.0);
  none.apply(y);
  for (double v : y.storage()) EXPECT_EQ(v, 3.0);
}

}  // namespace
}  // namespace kmpi
