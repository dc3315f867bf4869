// Readers for IDX, .npy and CSV. Every test file is written here with code independent of the
// reader (headers by hand, gzip through zlib directly) and read back element by element; the
// error tests check that each message names the file and, where it applies, the line or row.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "kmpi/data.hpp"
#include "kmpi/error.hpp"
#include "support.hpp"

namespace kmpi {
namespace {

namespace fs = std::filesystem;
using namespace testing_support;

// A fresh directory per test (the fixture's name is the suite's).
class Readers : public ScratchDirTest {};

void write_gzip(const std::string& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// IDX: 0, 0, type, ndims, big-endian u32 dims, big-endian data.
template <class T>
Bytes idx_bytes(unsigned char type, const std::vector<std::uint32_t>& dims,
                const std::vector<T>& values) {
  Bytes out = {0, 0, type, static_cast<unsigned char>(dims.size())};
  for (auto d : dims) append<std::uint32_t>(out, d, true);
  for (auto v : values) append<T>(out, v, true);
  return out;
}

std::vector<std::size_t> all_rows(std::size_t n) {
  std::vector<std::size_t> r(n);
  for (std::size_t i = 0; i < n; ++i) r[i] = i;
  return r;
}

TEST(FormatFromPath, RecognisesTheNamesUsersHave) {
  EXPECT_EQ(format_from_path("a/b/x.npy"), FileFormat::kNpy);
  EXPECT_EQ(format_from_path("X.NPY"), FileFormat::kNpy);
  EXPECT_EQ(format_from_path("x.csv"), FileFormat::kCsv);
  EXPECT_EQ(format_from_path("x.tsv"), FileFormat::kCsv);
  EXPECT_EQ(format_from_path("x.txt"), FileFormat::kCsv);
  EXPECT_EQ(format_from_path("/d/train-images-idx3-ubyte.gz"), FileFormat::kIdx);
  EXPECT_EQ(format_from_path("train-labels-idx1-ubyte"), FileFormat::kIdx);
  EXPECT_EQ(format_from_path("data.idx"), FileFormat::kIdx);
  EXPECT_EQ(format_from_path("data.idx.gz"), FileFormat::kIdx);
  const std::string message = error_of([] { format_from_path("dir/weights.bin"); });
  EXPECT_MESSAGE_HAS(message, "dir/weights.bin: ");
  EXPECT_NE(error_of([] { format_from_path("x.csv.gz"); }), "");
}

// rows x (3 x 4) uint8 values v = 7 i + j (mod 256), in a raw and a gzip IDX file.
TEST_F(Readers, IdxUint8RawAndGzipReadEveryValueAndSubsets) {
  const std::size_t n = 50, d = 12;
  std::vector<std::uint8_t> values(n * d);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j)
      values[i * d + j] = static_cast<std::uint8_t>((7 * i + j) % 256);
  const Bytes bytes = idx_bytes<std::uint8_t>(0x08, {50, 3, 4}, values);
  write_file(path("raw-idx3-ubyte"), bytes);
  write_gzip(path("gz-idx3-ubyte.gz"), bytes);
  // Detection is by content: a gzip file without .gz, and a raw file named .gz.
  write_gzip(path("gz2-idx3-ubyte"), bytes);
  write_file(path("raw2-idx3-ubyte.gz"), bytes);
  for (const char* name :
       {"raw-idx3-ubyte", "gz-idx3-ubyte.gz", "gz2-idx3-ubyte", "raw2-idx3-ubyte.gz"}) {
    SCOPED_TRACE(name);
    const FileInfo info = probe_file(path(name));
    EXPECT_EQ(info.format, FileFormat::kIdx);
    EXPECT_EQ(info.rows, n);
    EXPECT_EQ(info.cols, d);
    EXPECT_EQ(info.element, ElementKind::kInteger);
    for (const std::vector<std::size_t>& rows :
         {all_rows(n), std::vector<std::size_t>{0}, std::vector<std::size_t>{49},
          std::vector<std::size_t>{1, 2, 3, 10, 11, 30, 49}, std::vector<std::size_t>{}}) {
      const Matrix<double> m = read_rows(path(name), info, rows);
      ASSERT_EQ(m.rows(), rows.size());
      ASSERT_EQ(m.cols(), d);
      for (std::size_t k = 0; k < rows.size(); ++k)
        for (std::size_t j = 0; j < d; ++j)
          EXPECT_EQ(m(k, j), static_cast<double>((7 * rows[k] + j) % 256));
    }
  }
}

TEST_F(Readers, IdxWiderTypesAndLabels) {
  // int16 with negatives, 2 rows x 3.
  write_file(path("a-idx2-ubyte"),
             idx_bytes<std::int16_t>(0x0B, {2, 3}, {-300, -1, 0, 1, 2, 32767}));
  // int32, float32, float64 labels/targets.
  write_file(path("b-idx1-ubyte"), idx_bytes<std::int32_t>(0x0C, {4}, {-100000, 5, 0, 2147483647}));
  write_gzip(path("c-idx2-ubyte.gz"), idx_bytes<float>(0x0D, {2, 2}, {0.5f, -1.25f, 3e10f, 0.0f}));
  write_file(path("d-idx1-ubyte"), idx_bytes<double>(0x0E, {3}, {0.1, -2.5e-300, 1e300}));
  write_file(path("e-idx1-ubyte"), idx_bytes<std::uint8_t>(0x08, {3}, {9, 0, 255}));

  FileInfo info = probe_file(path("a-idx2-ubyte"));
  EXPECT_EQ(info.element, ElementKind::kInteger);
  Matrix<double> m = read_rows(path("a-idx2-ubyte"), info, {0, 1});
  EXPECT_EQ(m.storage(), (std::vector<double>{-300, -1, 0, 1, 2, 32767}));

  info = probe_file(path("b-idx1-ubyte"));
  EXPECT_EQ(info.rows, 4u);
  EXPECT_EQ(info.cols, 1u);
  EXPECT_EQ(read_rows(path("b-idx1-ubyte"), info, {0, 1, 3}).storage(),
            (std::vector<double>{-100000, 5, 2147483647}));

  info = probe_file(path("c-idx2-ubyte.gz"));
  EXPECT_EQ(info.element, ElementKind::kFloating);
  EXPECT_EQ(read_rows(path("c-idx2-ubyte.gz"), info, {1}).storage(),
            (std::vector<double>{static_cast<double>(3e10f), 0.0}));

  info = probe_file(path("d-idx1-ubyte"));
  EXPECT_EQ(info.element, ElementKind::kFloating);
  EXPECT_EQ(read_rows(path("d-idx1-ubyte"), info, all_rows(3)).storage(),
            (std::vector<double>{0.1, -2.5e-300, 1e300}));

  info = probe_file(path("e-idx1-ubyte"));
  EXPECT_EQ(info.element, ElementKind::kInteger);
  EXPECT_EQ(read_rows(path("e-idx1-ubyte"), info, all_rows(3)).storage(),
            (std::vector<double>{9, 0, 255}));
}

TEST_F(Readers, IdxErrorsNameTheFile) {
  // Wrong magic: a .npy file under an IDX name.
  write_file(path("npy-idx1-ubyte"), npy_bytes<double>("<f8", "(1,)", {1.0}));
  std::string message = error_of([&] { probe_file(path("npy-idx1-ubyte")); });
  EXPECT_MESSAGE_HAS(message, path("npy-idx1-ubyte") + ": ");
  EXPECT_MESSAGE_HAS(message, "not an IDX file");

  // Unknown type byte.
  write_file(path("t-idx1-ubyte"), Bytes{0, 0, 0x07, 1, 0, 0, 0, 1, 5});
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path("t-idx1-ubyte")); }), "not an IDX file");

  // Raw file shorter than the header says: refused at the probe, before any read.
  Bytes bytes = idx_bytes<std::uint8_t>(0x08, {10, 4}, std::vector<std::uint8_t>(40, 1));
  bytes.resize(bytes.size() - 5);
  write_file(path("short-idx2-ubyte"), bytes);
  message = error_of([&] { probe_file(path("short-idx2-ubyte")); });
  EXPECT_MESSAGE_HAS(message, path("short-idx2-ubyte") + ": truncated");
  EXPECT_MESSAGE_HAS(message, "10 rows");

  // The file ends inside the header.
  write_file(path("hdr-idx3-ubyte"), Bytes{0, 0, 0x08, 3, 0, 0, 0, 2});
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path("hdr-idx3-ubyte")); }), "truncated");

  // Absurd sizes: 2^32-1 x 2^32-1 x 2^32-1 overflows 64 bits.
  write_file(path("huge-idx3-ubyte"),
             idx_bytes<std::uint8_t>(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu}, {}));
  message = error_of([&] { probe_file(path("huge-idx3-ubyte")); });
  EXPECT_MESSAGE_HAS(message, path("huge-idx3-ubyte") + ": absurd");

  // A gzip file whose header claims more than gzip can hold in its size.
  write_gzip(path("huge-idx2-ubyte.gz"),
             idx_bytes<std::uint8_t>(0x08, {0xffffffffu, 1000}, {1, 2, 3}));
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path("huge-idx2-ubyte.gz")); }),
                     "more than a gzip file");

  // Zero rows.
  write_file(path("zero-idx1-ubyte"), idx_bytes<std::uint8_t>(0x08, {0}, {}));
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path("zero-idx1-ubyte")); }), "no rows");
}

TEST_F(Readers, TruncatedGzipIdxFailsOnReadNamingTheFile) {
  const std::size_t n = 200, d = 64;
  std::vector<std::uint8_t> values(n * d);
  std::uint32_t state = 12345;  // incompressible bytes, so half the gzip is about half the rows
  for (auto& v : values) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<std::uint8_t>(state >> 24);
  }
  write_gzip(path("full-idx2-ubyte.gz"), idx_bytes<std::uint8_t>(0x08, {200, 64}, values));
  Bytes gz = read_file(path("full-idx2-ubyte.gz"));
  gz.resize(gz.size() / 2);
  write_file(path("cut-idx2-ubyte.gz"), gz);
  const FileInfo info = probe_file(path("cut-idx2-ubyte.gz"));
  EXPECT_EQ(info.rows, n);
  // The first rows are intact; reading past the cut fails with the file named.
  const Matrix<double> first = read_rows(path("cut-idx2-ubyte.gz"), info, {0, 1});
  for (std::size_t j = 0; j < d; ++j) EXPECT_EQ(first(1, j), values[d + j]);
  const std::string message =
      error_of([&] { read_rows(path("cut-idx2-ubyte.gz"), info, all_rows(n)); });
  EXPECT_MESSAGE_HAS(message, path("cut-idx2-ubyte.gz") + ": truncated: expected 200 rows");
  EXPECT_MESSAGE_HAS(error_of([&] { read_rows(path("cut-idx2-ubyte.gz"), info, {199}); }),
                     "truncated");
}

TEST_F(Readers, NpyEveryDtypeAndVersion) {
  const std::size_t n = 6, d = 5;
  auto value = [](std::size_t i, std::size_t j) { return static_cast<double>(10 * i + j); };
  auto make = [&](auto zero) {
    std::vector<decltype(zero)> v(n * d);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < d; ++j) v[i * d + j] = static_cast<decltype(zero)>(value(i, j));
    return v;
  };
  int file = 0;
  auto check = [&](const Bytes& bytes, ElementKind kind) {
    const std::string p = path("f" + std::to_string(file++) + ".npy");
    write_file(p, bytes);
    SCOPED_TRACE(p);
    const FileInfo info = probe_file(p);
    EXPECT_EQ(info.format, FileFormat::kNpy);
    EXPECT_EQ(info.rows, n);
    EXPECT_EQ(info.cols, d);
    EXPECT_EQ(info.element, kind);
    for (const std::vector<std::size_t>& rows :
         {all_rows(n), std::vector<std::size_t>{5}, std::vector<std::size_t>{0, 2, 3, 5}}) {
      const Matrix<double> m = read_rows(p, info, rows);
      ASSERT_EQ(m.rows(), rows.size());
      for (std::size_t k = 0; k < rows.size(); ++k)
        for (std::size_t j = 0; j < d; ++j) EXPECT_EQ(m(k, j), value(rows[k], j));
    }
  };
  for (int major : {1, 2, 3}) {
    check(npy_bytes("<f8", "(6, 5)", make(0.0), major), ElementKind::kFloating);
    check(npy_bytes("<f4", "(6, 5)", make(0.0f), major), ElementKind::kFloating);
  }
  check(npy_bytes("|u1", "(6, 5)", make(std::uint8_t{0})), ElementKind::kInteger);
  check(npy_bytes("|i1", "(6, 5)", make(std::int8_t{0})), ElementKind::kInteger);
  check(npy_bytes("<i4", "(6, 5)", make(std::int32_t{0})), ElementKind::kInteger);
  check(npy_bytes("<i8", "(6, 5)", make(std::int64_t{0})), ElementKind::kInteger);
  check(npy_bytes("<i2", "(6, 5)", make(std::int16_t{0})), ElementKind::kInteger);
  // Trailing dimensions fold into columns; a 1-D array is one column.
  check(npy_bytes("<f8", "(6, 5, 1)", make(0.0)), ElementKind::kFloating);

  write_file(path("labels.npy"), npy_bytes<std::int64_t>("<i8", "(4,)", {3, -1, 0, 9}));
  const FileInfo info = probe_file(path("labels.npy"));
  EXPECT_EQ(info.rows, 4u);
  EXPECT_EQ(info.cols, 1u);
  EXPECT_EQ(read_rows(path("labels.npy"), info, {1, 3}).storage(), (std::vector<double>{-1, 9}));
  // Negative and fractional values survive exactly.
  write_file(path("neg.npy"), npy_bytes<double>("<f8", "(2,2)", {-0.125, 1e-7, -3.5, 2.0}));
  EXPECT_EQ(read_rows(path("neg.npy"), probe_file(path("neg.npy")), {0, 1}).storage(),
            (std::vector<double>{-0.125, 1e-7, -3.5, 2.0}));
}

TEST_F(Readers, NpyErrorsNameTheFile) {
  const std::vector<double> four = {1, 2, 3, 4};
  write_file(path("fortran.npy"), npy_bytes("<f8", "(2, 2)", four, 1, true));
  std::string message = error_of([&] { probe_file(path("fortran.npy")); });
  EXPECT_MESSAGE_HAS(message, path("fortran.npy") + ": ");
  EXPECT_MESSAGE_HAS(message, "fortran_order");

  write_file(path("big.npy"), npy_bytes(">f8", "(2, 2)", four));
  message = error_of([&] { probe_file(path("big.npy")); });
  EXPECT_MESSAGE_HAS(message, path("big.npy") + ": big-endian");

  write_file(path("dtype.npy"), npy_bytes("<c16", "(1,)", std::vector<double>{1, 2}));
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path("dtype.npy")); }),
                     "unsupported .npy dtype '<c16'");

  Bytes bytes = npy_bytes<double>("<f8", "(100, 784)", std::vector<double>(100, 0.5));
  write_file(path("short.npy"), bytes);
  message = error_of([&] { probe_file(path("short.npy")); });
  EXPECT_MESSAGE_HAS(message, path("short.npy") +
                                  ": truncated: the header says 100 rows of 784 float64 values "
                                  "(627200 bytes) but the file holds 800");

  // Absurd shapes: an overflowing product, and one that does not overflow but no file holds.
  write_file(path("absurd.npy"), npy_bytes<double>("<f8", "(4294967296, 4294967296, 8)", {1.0}));
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path("absurd.npy")); }),
                     path("absurd.npy") + ": absurd");
  write_file(path("huge.npy"), npy_bytes<double>("<f8", "(1000000000000, 784)", {1.0}));
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path("huge.npy")); }),
                     path("huge.npy") + ": truncated");

  write_file(path("magic.npy"), Bytes{'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path("magic.npy")); }),
                     path("magic.npy") + ": not a .npy file");
  write_file(path("garbled.npy"), npy_bytes<double>("<f8", "[2]", {1.0, 2.0}));
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path("garbled.npy")); }), "malformed .npy header");

  // NaN and Inf are named by row and column when read.
  std::vector<double> values(12, 1.0);
  values[2 * 4 + 2] = std::numeric_limits<double>::quiet_NaN();  // row 2, column 2
  write_file(path("nan.npy"), npy_bytes("<f8", "(3, 4)", values));
  const FileInfo info = probe_file(path("nan.npy"));
  EXPECT_NO_THROW(read_rows(path("nan.npy"), info, {0, 1}));
  message = error_of([&] { read_rows(path("nan.npy"), info, all_rows(3)); });
  EXPECT_MESSAGE_HAS(message, path("nan.npy") + ": row 2, column 2");
  EXPECT_MESSAGE_HAS(message, "NaN");
  write_file(path("inf.npy"),
             npy_bytes<float>("<f4", "(2,)", {1.0f, -std::numeric_limits<float>::infinity()}));
  message = error_of([&] { read_rows(path("inf.npy"), probe_file(path("inf.npy")), {0, 1}); });
  EXPECT_MESSAGE_HAS(message, path("inf.npy") + ": row 1");
  EXPECT_MESSAGE_HAS(message, "Inf");

  // Rows out of range.
  EXPECT_MESSAGE_HAS(error_of([&] {
                       read_rows(path("nan.npy"), info, {0, 3});
                     }),
                     path("nan.npy") + ": row 3");
}

TEST_F(Readers, CsvWithAndWithoutHeader) {
  write_text(path("ints.csv"), "1,2,3\n4,5,6\n\n7, 8 ,9\r\n-10,11,12\n");
  FileInfo info = probe_file(path("ints.csv"));
  EXPECT_EQ(info.format, FileFormat::kCsv);
  EXPECT_EQ(info.rows, 4u);
  EXPECT_EQ(info.cols, 3u);
  EXPECT_EQ(info.element, ElementKind::kInteger);
  EXPECT_EQ(read_rows(path("ints.csv"), info, all_rows(4)).storage(),
            (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, -10, 11, 12}));
  EXPECT_EQ(read_rows(path("ints.csv"), info, {1, 3}).storage(),
            (std::vector<double>{4, 5, 6, -10, 11, 12}));

  write_text(path("named.csv"), "x1,x2,\"label\"\n0.5,1e-3,2\n-1.5,+4,0\n");
  info = probe_file(path("named.csv"));
  EXPECT_EQ(info.rows, 2u);
  EXPECT_EQ(info.cols, 3u);
  EXPECT_EQ(info.element, ElementKind::kFloating);
  EXPECT_EQ(read_rows(path("named.csv"), info, {0, 1}).storage(),
            (std::vector<double>{0.5, 1e-3, 2, -1.5, 4, 0}));
  EXPECT_EQ(read_rows(path("named.csv"), info, {1}).storage(), (std::vector<double>{-1.5, 4, 0}));

  write_text(path("tabs.tsv"), "a\tb\n1\t2.25\n3\t4\n");
  info = probe_file(path("tabs.tsv"));
  EXPECT_EQ(info.rows, 2u);
  EXPECT_EQ(read_rows(path("tabs.tsv"), info, {0, 1}).storage(),
            (std::vector<double>{1, 2.25, 3, 4}));

  write_text(path("column.txt"), "3\n1\n4\n1\n5");  // one column, no final newline
  info = probe_file(path("column.txt"));
  EXPECT_EQ(info.rows, 5u);
  EXPECT_EQ(info.cols, 1u);
  EXPECT_EQ(info.element, ElementKind::kInteger);
  EXPECT_EQ(read_rows(path("column.txt"), info, {2, 4}).storage(), (std::vector<double>{4, 5}));
}

TEST_F(Readers, CsvErrorsNameFileLineAndColumn) {
  write_text(path("ragged.csv"), "a,b,c\n1,2,3\n4,5,6\n7,8\n");
  std::string message = error_of([&] { probe_file(path("ragged.csv")); });
  EXPECT_MESSAGE_HAS(message, path("ragged.csv") + ": line 4: has 2 values");

  write_text(path("word.csv"), "1,2\n3,x4\n");
  message = error_of([&] { probe_file(path("word.csv")); });
  EXPECT_MESSAGE_HAS(message, path("word.csv") + ": line 2, column 2");
  EXPECT_MESSAGE_HAS(message, "'x4' is not a number");

  write_text(path("emptyvalue.csv"), "1,2\n3,\n");
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path("emptyvalue.csv")); }),
                     path("emptyvalue.csv") + ": line 2, column 2");

  write_text(path("nan.csv"), "h1,h2\n1,2\n3,nan\n");
  message = error_of([&] { probe_file(path("nan.csv")); });
  EXPECT_MESSAGE_HAS(message, path("nan.csv") + ": line 3, column 2: 'nan' is NaN");
  EXPECT_MESSAGE_HAS(message, "NaN");
  write_text(path("inf.csv"), "1,2\n-inf,3\n");
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path("inf.csv")); }),
                     path("inf.csv") + ": line 2, column 1");

  write_text(path("header_only.csv"), "a,b\n");
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path("header_only.csv")); }),
                     path("header_only.csv") + ": no data rows");
  write_text(path("blank.csv"), "\n  \n");
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path("blank.csv")); }),
                     path("blank.csv") + ": empty");
}

TEST_F(Readers, MissingDirectoryAndEmptyFiles) {
  for (const char* name : {"absent.npy", "absent.csv", "absent-idx1-ubyte"}) {
    const std::string message = error_of([&] { probe_file(path(name)); });
    EXPECT_MESSAGE_HAS(message, path(name) + ": no such file");
  }
  fs::create_directories(path("folder.npy"));
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path("folder.npy")); }),
                     path("folder.npy") + ": is a directory");
  fs::create_directories(path("folder.csv"));
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path("folder.csv")); }),
                     path("folder.csv") + ": is a directory");
  for (const char* name : {"empty.npy", "empty.csv", "empty-idx1-ubyte", "empty-idx1-ubyte.gz"}) {
    write_text(path(name), "");
    EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path(name)); }), path(name) + ": empty file");
  }
}

// The real data set, when the machine has it: shapes and the label range.
TEST(RealData, FashionMnistShapes) {
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  if (!fs::exists(dir + "train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "no Fashion-MNIST at " << dir;
  FileInfo info = probe_file(dir + "train-images-idx3-ubyte.gz");
  EXPECT_EQ(info.rows, 60000u);
  EXPECT_EQ(info.cols, 784u);
  EXPECT_EQ(info.element, ElementKind::kInteger);
  info = probe_file(dir + "t10k-labels-idx1-ubyte.gz");
  EXPECT_EQ(info.rows, 10000u);
  EXPECT_EQ(info.cols, 1u);
  const Matrix<double> labels =
      read_rows(dir + "t10k-labels-idx1-ubyte.gz", info, {0, 1, 2, 3, 9999});
  for (std::size_t i = 0; i < labels.rows(); ++i) {
    EXPECT_GE(labels(i, 0), 0.0);
    EXPECT_LE(labels(i, 0), 9.0);
  }
  info = probe_file(dir + "t10k-images-idx3-ubyte.gz");
  const Matrix<double> images = read_rows(dir + "t10k-images-idx3-ubyte.gz", info, {5000, 9999});
  double sum = 0;
  for (double v : images.storage()) {
    EXPECT_GE(v, 0.0);
    EXPECT_LE(v, 255.0);
    sum += v;
  }
  EXPECT_GT(sum, 0.0);
}

}  // namespace
}  // namespace kmpi
