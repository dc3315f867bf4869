// HDF5 reader (see hdf5_reader.hpp). The HDF5 error stack printer is switched off: it would
// write several lines per failure on every rank, where kmpi reports one line from rank 0.
#include "io/hdf5_reader.hpp"

#include <algorithm>
#include <cmath>

#include "kmpi/error.hpp"
#include "io/posix_file.hpp"

#ifdef KMPI_HAVE_HDF5
#include <hdf5.h>
#endif

namespace kmpi::hdf5 {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(path + ": " + what);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "file.h5:/a/b" -> ("file.h5", "/a/b"); the dataset is empty when not named.
void split_path(const std::string& path, std::string& file, std::string& dataset) {
  for (const char* ext : {".h5:", ".hdf5:", ".H5:", ".HDF5:"}) {
    const std::size_t at = path.rfind(ext);
    if (at != std::string::npos) {
      const std::size_t colon = at + std::string(ext).size() - 1;
      file = path.substr(0, colon);
      dataset = path.substr(colon + 1);
      return;
    }
  }
  file = path;
  dataset.clear();
}

}  // namespace

bool is_hdf5_path(const std::string& path) {
  std::string file, dataset;
  split_path(path, file, dataset);
  return !dataset.empty() || ends_with(file, ".h5") || ends_with(file, ".hdf5") ||
         ends_with(file, ".H5") || ends_with(file, ".HDF5");
}

#ifdef KMPI_HAVE_HDF5

bool available() { return true; }

namespace {

// An HDF5 handle closed by its own close function.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }
  void reset(hid_t id) {
    if (id_ >= 0) close_(id_);
    id_ = id;
  }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

struct Opened {
  std::string file, dataset;
  Handle f{-1, H5Fclose}, d{-1, H5Dclose}, space{-1, H5Sclose};
  std::vector<hsize_t> dims;
  bool integer = false;
};

void open(const std::string& path, Opened& o) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  split_path(path, o.file, o.dataset);
  {
    detail::PosixFile check(o.file);  // missing / directory, worded like every other reader
    if (check.size() == 0) fail(o.file, "empty file");
  }
  if (o.dataset.empty()) fail(path, "name the data set to read: " + o.file + ":/path/to/dataset");
  if (H5Fis_hdf5(o.file.c_str()) <= 0) fail(o.file, "not an HDF5 file");
  o.f.reset(H5Fopen(o.file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!o.f.ok()) fail(o.file, "cannot open as HDF5 (corrupt?)");
  if (H5Lexists(o.f.get(), o.dataset.c_str(), H5P_DEFAULT) <= 0)
    fail(path, "no data set '" + o.dataset + "' in the file");
  o.d.reset(H5Dopen2(o.f.get(), o.dataset.c_str(), H5P_DEFAULT));
  if (!o.d.ok()) fail(path, "'" + o.dataset + "' is not a data set");
  Handle type(H5Dget_type(o.d.get()), H5Tclose);
  const H5T_class_t cls = type.ok() ? H5Tget_class(type.get()) : H5T_NO_CLASS;
  if (cls != H5T_INTEGER && cls != H5T_FLOAT)
    fail(path, "the data set's elements are not numbers (integer or float)");
  o.integer = cls == H5T_INTEGER;
  o.space.reset(H5Dget_space(o.d.get()));
  const int nd = o.space.ok() ? H5Sget_simple_extent_ndims(o.space.get()) : -1;
  if (nd < 1) fail(path, "a 0-dimensional (scalar) data set has no rows");
  o.dims.assign(static_cast<std::size_t>(nd), 0);
  H5Sget_simple_extent_dims(o.space.get(), o.dims.data(), nullptr);
}

}  // namespace

FileInfo probe(const std::string& path) {
  Opened o;
  open(path, o);
  FileInfo info;
  info.format = FileFormat::kHdf5;
  info.rows = static_cast<std::size_t>(o.dims[0]);
  std::size_t cols = 1;
  for (std::size_t k = 1; k < o.dims.size(); ++k)
    if (__builtin_mul_overflow(cols, static_cast<std::size_t>(o.dims[k]), &cols))
      fail(path, "absurd data set shape (the columns overflow)");
  info.cols = cols;
  if (info.rows == 0) fail(path, "the data set holds no rows (first dimension is 0)");
  if (info.cols == 0) fail(path, "the rows are empty (a trailing dimension is 0)");
  info.element = o.integer ? ElementKind::kInteger : ElementKind::kFloating;
  return info;
}

Matrix<double> read_rows(const std::string& path, const FileInfo& info,
                         const std::vector<std::size_t>& rows, bool allow_nonfinite) {
  Opened o;
  open(path, o);
  Matrix<double> out(rows.size(), info.cols);
  if (o.dims[0] != info.rows) fail(path, "the data set changed since it was probed");
  const std::size_t cols = info.cols;
  const std::size_t max_run = std::max<std::size_t>(1, (std::size_t{32} << 20) / (8 * cols));
  std::vector<hsize_t> start(o.dims.size(), 0), count(o.dims);
  std::size_t i = 0;
  while (i < rows.size()) {
    std::size_t run = 1;
    while (i + run < rows.size() && run < max_run && rows[i + run] == rows[i] + run) ++run;
    start[0] = rows[i];
    count[0] = run;
    const hsize_t values = static_cast<hsize_t>(run * cols);
    Handle memory(H5Screate_simple(1, &values, nullptr), H5Sclose);
    if (H5Sselect_hyperslab(o.space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                            nullptr) < 0 ||
        H5Dread(o.d.get(), H5T_NATIVE_DOUBLE, memory.get(), o.space.get(), H5P_DEFAULT,
                out.row(i)) < 0)
      fail(path, "read error in rows " + std::to_string(rows[i]) + ".." +
                     std::to_string(rows[i] + run - 1));
    if (!allow_nonfinite && !o.integer)
      for (std::size_t k = 0; k < run * cols; ++k)
        if (!std::isfinite(out.row(i)[k]))
          fail(path, "row " + std::to_string(rows[i] + k / cols) + ", column " +
                         std::to_string(k % cols) + " (0-based) is " +
                         (std::isnan(out.row(i)[k]) ? "NaN" : "Inf") +
                         "; NaN/Inf values are refused (data.allow_nonfinite = true accepts them)");
    i += run;
  }
  return out;
}

#else

bool available() { return false; }

FileInfo probe(const std::string& path) {
  fail(path, "this kmpi was built without HDF5 (install libhdf5-openmpi-dev and rebuild)");
}

Matrix<double> read_rows(const std::string& path, const FileInfo&, const std::vector<std::size_t>&,
                         bool) {
  fail(path, "this kmpi was built without HDF5 (install libhdf5-openmpi-dev and rebuild)");
}

#endif

}  // namespace kmpi::hdf5
