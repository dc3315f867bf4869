// HDF5 data sets (`file.h5:/group/dataset`) through the HDF5 library Debian builds for Open MPI
// (libhdf5-openmpi-dev). Each rank opens the file read-only by itself and reads its rows as
// hyperslabs (runs of consecutive rows), so no rank funnels the data through another; HDF5
// converts integer and float element types to double. Without the library at build time every
// call throws a kmpi::Error that says so.
#pragma once

#include <string>
#include <vector>

#include "kmpi/data.hpp"

namespace kmpi::hdf5 {

// local: whether this build can read HDF5.
bool available();

// local: `path` names an HDF5 data set or file (.h5 / .hdf5, optionally followed by :/dataset).
bool is_hdf5_path(const std::string& path);

// local: the shape and element kind of the data set (first dimension = rows, the product of the
// others = columns). Errors name the path: no file, not HDF5, no such data set, no data set
// named, a non-numeric element type, an empty or 0-dimensional data set.
FileInfo probe(const std::string& path);

// local: rows `rows` (ascending) as doubles; NaN/Inf refused unless allow_nonfinite.
Matrix<double> read_rows(const std::string& path, const FileInfo& info,
                         const std::vector<std::size_t>& rows, bool allow_nonfinite);

}  // namespace kmpi::hdf5
