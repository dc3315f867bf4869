// _kmpi: the Python binding of the train path (kmpi/train.hpp) and of prediction. Each rank
// passes its own rows; an mpi4py communicator says which ranks take part. Errors are agreed
// (CollectiveError, the same message on every rank) and raised as kmpi.Error; the GIL is released
// while kmpi computes.
#include <mpi4py/mpi4py.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/fault.hpp"
#include "base/temporaries.hpp"
#include "kmpi/error.hpp"
#include "kmpi/model.hpp"
#include "solvers/solvers.hpp"
#include "driver/train_steps.hpp"
#include "io/table_encoding.hpp"
#include "search/tree.hpp"
#include "driver/data_options.hpp"

namespace py = pybind11;

namespace kmpi {
namespace {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

// local: the MPI_Comm inside an mpi4py communicator.
MPI_Comm mpi_comm_of(const py::object& comm) {
  MPI_Comm* c = PyMPIComm_Get(comm.ptr());
  if (c == nullptr) throw py::error_already_set();
  return *c;
}

// collective: `work()`, whose failures are agreed (a CollectiveError: kmpi.Error on every rank)
// or this rank's alone. A lone failure at more than one rank leaves the others in a collective
// that never completes, so this rank does what the kmpi binary does (DESIGN §3): one line
// "[rank r] kmpi: fatal: ...", the job's registered temporaries removed, MPI_Abort. Python's own
// errors (py::error_already_set) are raised where they happen: kmpi/__init__.py agrees on its
// conversions before any collective.
template <class Work>
auto abort_if_alone(const py::object& comm_obj, Work&& work) -> decltype(work()) {
  try {
    return work();
  } catch (const CollectiveError&) {
    throw;
  } catch (const py::error_already_set&) {
    throw;
  } catch (const std::exception& e) {
    int size = 1, rank = 0;
    MPI_Comm_size(mpi_comm_of(comm_obj), &size);
    if (size == 1) throw;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    std::fprintf(stderr, "[rank %d] kmpi: fatal: %s\n", rank, e.what());
    std::fflush(stderr);
    temporaries::remove_registered();
    MPI_Abort(MPI_COMM_WORLD, 1);
    throw;
  }
}

// collective: a 1-D (n) or 2-D (n x k) float64 array as a Matrix, shapes agreed over the ranks.
Matrix<double> to_matrix(const mpi::Communicator& comm, const Array& a, const std::string& what) {
  mpi::agree(comm, a.ndim() == 1 || a.ndim() == 2,
             what + ": expected a 1-D or 2-D array, got " + std::to_string(a.ndim()) +
                 " dimensions");
  const std::size_t rows = static_cast<std::size_t>(a.shape(0));
  const std::size_t cols = a.ndim() == 2 ? static_cast<std::size_t>(a.shape(1)) : 1;
  Matrix<double> m(rows, cols);
  std::copy(a.data(), a.data() + rows * cols, m.data());
  return m;
}

// local: the bytes of a file (rank 0 keeps a tree model file's bytes to save it again).
std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot read the tree model file");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A trained or loaded model: this rank's part, and the communicator it lives on. A tree of
// models (rfm.leaf_size, search/tree.hpp) is held whole (`tree_`, its header the tree's input
// header) with its file's bytes on rank 0 for save.
class PyModel {
 public:
  PyModel(py::object comm, LocalModel model) : comm_obj_(std::move(comm)), model_(std::move(model)) {}

  // collective: the tree model file at `path`, loaded.
  static PyModel load_tree(py::object comm_obj, const std::string& path) {
    const mpi::Communicator comm(mpi_comm_of(comm_obj));
    PyModel m(std::move(comm_obj), LocalModel{});
    {
      py::gil_scoped_release release;
      m.tree_ = std::make_shared<TreeModel>(load_tree_model(comm, path));
      mpi::agree_on(comm, [&] {
        if (comm.rank() == 0) m.tree_bytes_ = file_bytes(path);
      });
    }
    m.model_.header = m.tree_->input_header();
    return m;
  }
  bool is_tree() const { return tree_ != nullptr; }
  const py::object& comm() const { return comm_obj_; }

  // collective: predictions (rows x c) for this rank's query rows.
  py::array_t<double> predict(const Array& x) const {
    const mpi::Communicator comm(mpi_comm_of(comm_obj_));
    Matrix<double> q = to_matrix(comm, x, "predict: X");
    mpi::agree(comm, q.rows() == 0 || q.cols() == model_.header.dimension,
               "predict: X has " + std::to_string(q.cols()) + " features per row, the model " +
                   std::to_string(model_.header.dimension));
    if (q.rows() == 0) q = Matrix<double>(0, model_.header.dimension);
    Matrix<double> pred;
    {
      py::gil_scoped_release release;
      if (tree_ == nullptr) model_.header.prepare_inputs(q);
      const std::size_t mine = q.rows();
      const std::vector<std::size_t> counts = comm.allgather(&mine, 1);
      std::vector<std::size_t> offsets(counts.size() + 1, 0);
      for (std::size_t r = 0; r < counts.size(); ++r) offsets[r + 1] = offsets[r] + counts[r];
      if (tree_ != nullptr) {
        pred = predict_tree(comm, *tree_, offsets, q);  // raw rows: each leaf prepares its own
      } else {
        const LocalCenters centers(model_.centers, Precision::kFloat64);
        pred = predict_distributed(comm, model_.header.kernel, centers, model_.weights, offsets, q);
      }
    }
    py::array_t<double> out({pred.rows(), pred.cols()});
    std::copy(pred.data(), pred.data() + pred.size(), out.mutable_data());
    return out;
  }

  // collective
  void save(const std::string& path) const {
    const mpi::Communicator comm(mpi_comm_of(comm_obj_));
    py::gil_scoped_release release;
    if (tree_ == nullptr) {
      save_model(comm, path, model_);
      return;
    }
    mpi::agree_on(comm, [&] {
      if (comm.rank() != 0) return;
      const std::string tmp = path + ".tmp";
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(tree_bytes_.data(), static_cast<std::streamsize>(tree_bytes_.size()));
      out.close();
      if (!out || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw Error(path + ": cannot write the tree model file");
      }
    });
  }

  const ModelHeader& header() const { return model_.header; }

 private:
  py::object comm_obj_;
  LocalModel model_;
  std::shared_ptr<const TreeModel> tree_;
  std::string tree_bytes_;
};

// local: the SIGTERM and SIGUSR1 dispositions when it was made, put back when it ends. The train
// path installs kmpi's stop-signal handlers (with run.checkpoint_dir); in Python they would
// otherwise replace the interpreter's own (its signal module, a caller's handler) for good.
class SavedStopSignals {
 public:
  SavedStopSignals() {
    sigaction(SIGTERM, nullptr, &term_);
    sigaction(SIGUSR1, nullptr, &usr1_);
  }
  ~SavedStopSignals() {
    sigaction(SIGTERM, &term_, nullptr);
    sigaction(SIGUSR1, &usr1_, nullptr);
  }
  SavedStopSignals(const SavedStopSignals&) = delete;
  SavedStopSignals& operator=(const SavedStopSignals&) = delete;

 private:
  struct sigaction term_ {};
  struct sigaction usr1_ {};
};

// local: the binding's columns as MemoryColumns: each a tuple ("n", float64 array, integer) or
// ("t", list of str or None).
std::vector<detail::MemoryColumn> memory_columns(const std::vector<std::string>& names,
                                                 const py::list& columns) {
  std::vector<detail::MemoryColumn> out(names.size());
  for (std::size_t j = 0; j < names.size(); ++j) {
    detail::MemoryColumn& c = out[j];
    c.name = names[j];
    const py::tuple t = columns[j].cast<py::tuple>();
    c.fields = t[0].cast<std::string>() == "t";
    if (!c.fields) {
      const Array a = t[1].cast<Array>();
      c.numbers.assign(a.data(), a.data() + a.size());
      c.integer = t[2].cast<bool>();
      continue;
    }
    const py::list fields = t[1].cast<py::list>();
    c.texts.resize(fields.size());
    c.none.assign(fields.size(), 0);
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].is_none())
        c.none[i] = 1;
      else
        c.texts[i] = fields[i].cast<std::string>();
    }
  }
  return out;
}

// collective: this rank's rows of a table (a DataFrame's columns, see memory_columns) encoded as
// `kmpi train` encodes a CSV of the same table: with `encoding` None the encoding is fitted on
// every rank's rows (data.* options in `args`; `categorical_also`: pandas category columns),
// else the given one is applied, columns by name. `label`: the label column's index, or -1.
// Returns (X, labels or None, the encoding or None when it changes nothing, labels are integers).
py::tuple encode_table(const py::object& comm_obj, const std::string& name,
                       const std::vector<std::string>& args, const std::vector<std::string>& names,
                       const py::list& columns, long label,
                       const std::vector<std::string>& categorical_also, const py::object& encoding) {
  const mpi::Communicator comm(mpi_comm_of(comm_obj));
  Options options;
  ReadOptions read;
  std::vector<detail::MemoryColumn> cols;
  mpi::agree_on(comm, [&] {
    options = parse_options(args);
    read = read_options(options);
    cols = memory_columns(names, columns);
  });
  // Fitting: on the rows `kmpi train` keeps for training (data.limit, the validation split), as
  // train_in_memory will choose them again from the same n and seed.
  RowSubset selection;
  if (encoding.is_none()) {
    const SavedStopSignals saved_signals;
    const TrainSetup setup = check_train_options(comm, options, false);
    const std::size_t mine = cols.empty() ? 0 : cols[0].fields ? cols[0].texts.size()
                                                                : cols[0].numbers.size();
    selection = choose_rows(comm, options, setup, comm.allreduce_value(mine), name).train;
  }
  read.categorical_also = categorical_also;
  TableEncoding applied;
  if (!encoding.is_none()) {
    applied = encoding.cast<TableEncoding>();
    read.encoding = &applied;
  }
  detail::MemoryTable t;
  {
    py::gil_scoped_release release;
    t = detail::encode_memory_table(comm, name, cols,
                                    label < 0 ? text::kNone : static_cast<std::size_t>(label),
                                    read, selection);
  }
  const auto array = [](const Matrix<double>& m) {
    py::array_t<double> out({m.rows(), m.cols()});
    std::copy(m.data(), m.data() + m.size(), out.mutable_data());
    return out;
  };
  const bool fitted = encoding.is_none() && !t.info.trivial;
  return py::make_tuple(array(t.features),
                        t.info.labeled ? py::object(array(t.labels)) : py::object(py::none()),
                        fitted ? py::cast(std::move(t.info.fitted)) : py::object(py::none()),
                        t.info.target_kind == ElementKind::kInteger);
}

// collective: the train path on this rank's rows. `args` are option arguments
// ("--solver.name=falkon", ...); y holds class indices (classification) or targets; the test
// set is optional (empty arrays), and so is the validation set (empty arrays: none; else its rows
// select the RFM iteration / stop the iterative solvers, as data.validation_fraction's rows do).
// Returns the model and the test metrics.
py::tuple fit(const py::object& comm_obj, const std::vector<std::string>& args, const Array& x,
              const Array& y, bool classification, const Array& x_test, const Array& y_test,
              const Array& x_val, const Array& y_val, const py::object& table) {
  const mpi::Communicator comm(mpi_comm_of(comm_obj));
  // Each rank parses its own arguments; a rank whose arguments fail must not leave the others
  // in the first collective below: the verdict is agreed, and every rank raises the same error.
  Options options;
  mpi::agree_on(comm, [&] { options = parse_options(args); });
  const SavedStopSignals saved_signals;
  mpi::agree(comm, options.str("data.validation_features").empty(),
             "fit: data.validation_features is a file of `kmpi train`; pass the rows as "
             "fit(X, y, X_val=, y_val=)");
  const bool allow = options.flag("data.allow_nonfinite");
  const ElementKind kind = classification ? ElementKind::kInteger : ElementKind::kFloating;
  TrainRows rows;
  rows.train_name = "fit: X, y";
  rows.train = block_rows(comm, rows.train_name, to_matrix(comm, x, "fit: X"),
                          to_matrix(comm, y, "fit: y"), kind, allow);
  // A DataFrame's encoding (encode_table), stored in the model as `kmpi train` stores a table's.
  if (!table.is_none()) rows.train.table = table.cast<TableEncoding>();
  const bool has_test = comm.allreduce_value(x_test.size(), mpi::Op::kMax) > 0;
  if (has_test)
    rows.test = block_rows(comm, "fit: test rows", to_matrix(comm, x_test, "fit: X_test"),
                           to_matrix(comm, y_test, "fit: y_test"), kind, allow);
  const bool has_validation = comm.allreduce_value(x_val.size(), mpi::Op::kMax) > 0;
  if (has_validation)
    rows.validation = block_rows(comm, "fit: validation rows", to_matrix(comm, x_val, "fit: X_val"),
                                 to_matrix(comm, y_val, "fit: y_val"), kind, allow);
  if (options.count("rfm.leaf_size") > 0) {
    // The tree (rfm.leaf_size): trained as `kmpi train` trains it, written to output.model (a
    // temporary file the wrapper names), then loaded whole. X_val's rows go down the tree to
    // the leaves (as data.validation_features' do); without them each leaf draws its own.
    mpi::agree(comm, !has_test,
               "fit: rfm.leaf_size: the tree takes no X_test (score the tree with score())");
    int exit_code = 0;
    {
      py::gil_scoped_release release;
      exit_code =
          train_tree(comm, options, std::move(rows.train), std::move(rows.validation)).exit_code;
    }
    mpi::agree(comm, exit_code == 0, "fit: training stopped before the tree was made (signal)");
    return py::make_tuple(PyModel::load_tree(comm_obj, options.str("output.model")), py::dict());
  }
  TrainResult result;
  {
    py::gil_scoped_release release;
    result = train_in_memory(comm, options, std::move(rows));
  }
  mpi::agree(comm, result.trained, "fit: training stopped before a model was made (dry run or signal)");
  py::dict metrics;
  if (result.tested) {
    metrics["test_mse"] = result.test.mse;
    if (result.test.accuracy >= 0) metrics["test_accuracy"] = result.test.accuracy;
  }
  return py::make_tuple(PyModel(comm_obj, std::move(result.model)), metrics);
}

}  // namespace
}  // namespace kmpi

PYBIND11_MODULE(_kmpi, m) {
  using namespace kmpi;
  if (import_mpi4py() < 0) throw py::error_already_set();
  m.doc() = "kmpi: large kernel models on MPI ranks (the C++ library; see kmpi/__init__.py)";
  // A ValueError, as scikit-learn expects of invalid input (its estimator checks catch ValueError).
  py::register_exception<Error>(m, "Error", PyExc_ValueError);
  // KMPI_FAULT (test-only, base/fault.hpp), read once as the kmpi binary does after MPI_Init
  // (mpi4py has initialised MPI): the fault sweep reaches fit, predict and save too.
  {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    fault::configure(rank);
  }
  py::class_<TableEncoding>(m, "Table",
                            "A table's encoding (columns, categories, imputation, class names)")
      .def_property_readonly("columns",
                             [](const TableEncoding& t) {
                               std::vector<std::string> names;
                               for (const TableColumn& c : t.columns) names.push_back(c.name);
                               return names;
                             })
      .def_property_readonly("categorical",
                             [](const TableEncoding& t) {
                               std::vector<std::string> names;
                               for (const TableColumn& c : t.columns)
                                 if (c.categorical) names.push_back(c.name);
                               return names;
                             })
      .def("categories",
           [](const TableEncoding& t, const std::string& column) {
             for (const TableColumn& c : t.columns)
               if (c.name == column) return c.categories;
             throw Error("the table has no column '" + column + "'");
           })
      .def_property_readonly("encoded_names", &TableEncoding::encoded_names)
      .def_readonly("classes", &TableEncoding::classes)
      .def_readonly("label_name", &TableEncoding::label_name)
      .def_readonly("missing_values", &TableEncoding::missing_values);
  py::class_<PyModel>(m, "Model")
      .def(
          "predict",
          [](const PyModel& p, const Array& x) {
            return abort_if_alone(p.comm(), [&] { return p.predict(x); });
          },
          py::arg("X"), "collective: predictions (rows x outputs) for this rank's rows")
      .def(
          "save",
          [](const PyModel& p, const std::string& path) {
            abort_if_alone(p.comm(), [&] { p.save(path); });
          },
          py::arg("path"), "collective: the model file (as the CLI's)")
      .def_property_readonly("dimension", [](const PyModel& p) { return p.header().dimension; })
      .def_property_readonly("outputs", [](const PyModel& p) { return p.header().outputs; })
      .def_property_readonly("centers", [](const PyModel& p) { return p.header().centers; })
      .def_property_readonly("kernel", [](const PyModel& p) { return p.header().kernel.name(); })
      .def_property_readonly("bandwidth",
                             [](const PyModel& p) { return p.header().kernel.bandwidth; })
      .def_property_readonly(
          "metric",
          [](const PyModel& p) { return std::string(metric_kind_name(p.header().metric.kind)); })
      .def_property_readonly("is_tree", &PyModel::is_tree)
      .def_property_readonly("table",
                             [](const PyModel& p) {
                               return p.header().table.empty() ? py::object(py::none())
                                          : py::cast(p.header().table);
                             })
      .def_property_readonly("classification", [](const PyModel& p) {
        return p.header().task == Task::kClassification;
      });
  m.def(
      "fit",
      [](const py::object& comm, const std::vector<std::string>& args, const Array& x,
         const Array& y, bool classification, const Array& x_test, const Array& y_test,
         const Array& x_val, const Array& y_val, const py::object& table) {
        return abort_if_alone(comm, [&] {
          return fit(comm, args, x, y, classification, x_test, y_test, x_val, y_val, table);
        });
      },
      py::arg("comm"), py::arg("args"), py::arg("X"), py::arg("y"),
        py::arg("classification"), py::arg("X_test"), py::arg("y_test"), py::arg("X_val"),
        py::arg("y_val"), py::arg("table") = py::none());
  m.def("encode_table", &encode_table, py::arg("comm"), py::arg("name"), py::arg("args"),
        py::arg("names"), py::arg("columns"), py::arg("label"), py::arg("categorical_also"),
        py::arg("encoding"));
  m.def(
      "load",
      [](const py::object& comm_obj, const std::string& path) {
        return abort_if_alone(comm_obj, [&] {
          const mpi::Communicator comm(mpi_comm_of(comm_obj));
          if (is_tree_model_file(comm, path)) return PyModel::load_tree(comm_obj, path);
          LocalModel model;
          {
            py::gil_scoped_release release;
            model = load_model(comm, path);
          }
          return PyModel(comm_obj, std::move(model));
        });
      },
      py::arg("comm"), py::arg("path"), "collective: a model file, each rank its block");
}
