// HDF5 data sets: files written here through the HDF5 C API (independent of the reader), read
// back value by value, and every refusal naming the path. Skipped in builds without HDF5.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kmpi/data.hpp"
#include "kmpi/error.hpp"
#include "support.hpp"
#include "io/hdf5_reader.hpp"

#ifdef KMPI_HAVE_HDF5
#include <hdf5.h>
#endif

namespace kmpi {
namespace {

namespace fs = std::filesystem;

using testing_support::error_of;

double x_of(std::size_t i, std::size_t j) { return static_cast<double>(i) * 10 + j + 0.25; }

#ifdef KMPI_HAVE_HDF5
void write_dataset(hid_t file, const char* name, hid_t file_type, hid_t mem_type,
                   const std::vector<hsize_t>& dims, const void* data) {
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  const hid_t d = H5Dcreate2(file, name, file_type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(d, 0);
  ASSERT_GE(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
  H5Dclose(d);
  H5Pclose(lcpl);
  H5Sclose(space);
}
#endif

TEST(Hdf5, DataSetsReadRowByRowAndRefusalsNameThePath) {
  if (!hdf5::available()) GTEST_SKIP() << "built without HDF5";
#ifdef KMPI_HAVE_HDF5
  const std::string dir =
      (fs::temp_directory_path() / ("kmpi_h5_" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  const std::string file = dir + "/d.h5";
  const std::size_t n = 11;
  std::vector<float> x(n * 6);
  std::vector<long long> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < 6; ++j) x[i * 6 + j] = static_cast<float>(x_of(i, j));
    y[i] = static_cast<long long>(i % 3);
  }
  const std::vector<double> with_nan = {1, NAN, 3, 4};
  const char text[8] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
  {
    const hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    write_dataset(f, "/group/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {n, 2, 3}, x.data());
    write_dataset(f, "/y", H5T_STD_I64LE, H5T_NATIVE_LLONG, {n}, y.data());
    write_dataset(f, "/nan", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {2, 2}, with_nan.data());
    const hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, 4);
    write_dataset(f, "/text", str, str, {2}, text);
    H5Tclose(str);
    H5Fclose(f);
  }
  EXPECT_EQ(format_from_path(file + ":/group/x"), FileFormat::kHdf5);
  const FileInfo info = probe_file(file + ":/group/x");
  EXPECT_EQ(info.rows, n);
  EXPECT_EQ(info.cols, 6u);
  EXPECT_EQ(info.element, ElementKind::kFloating);
  const Matrix<double> m = read_rows(file + ":/group/x", info, {0, 4, 5, 6, 10});
  const std::size_t want_rows[] = {0, 4, 5, 6, 10};
  for (std::size_t r = 0; r < 5; ++r)
    for (std::size_t j = 0; j < 6; ++j)
      EXPECT_EQ(m(r, j), static_cast<double>(static_cast<float>(x_of(want_rows[r], j))));
  const FileInfo yinfo = probe_file(file + ":/y");
  EXPECT_EQ(yinfo.element, ElementKind::kInteger);
  EXPECT_EQ(read_rows(file + ":/y", yinfo, {2, 3}).storage(), (std::vector<double>{2, 0}));

  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(file + ":/nothing"); }),
                     file + ":/nothing: no data set '/nothing'");
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(file); }), "name the data set");
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(file + ":/text"); }), "not numbers");
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(dir + "/absent.h5:/x"); }),
                     dir + "/absent.h5: no such file");
  std::ofstream(dir + "/fake.h5") << "1,2,3\n";
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(dir + "/fake.h5:/x"); }),
                     dir + "/fake.h5: not an HDF5 file");
  const FileInfo ninfo = probe_file(file + ":/nan");
  EXPECT_MESSAGE_HAS(error_of([&] {
                       read_rows(file + ":/nan", ninfo, {0, 1});
                     }),
                     "row 0, column 1 (0-based) is NaN");
  fs::remove_all(dir);
#endif
}

}  // namespace
}  // namespace kmpi
