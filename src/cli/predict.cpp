// `kmpi predict`: a model's predictions for a features file, one row per input.
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "cli/commands.hpp"
#include "base/fault.hpp"
#include "base/temporaries.hpp"
#include "io/posix_file.hpp"
#include "parallel/log.hpp"
#include "driver/training_data.hpp"
#include "cli/model_commands.hpp"
#include "parallel/counts.hpp"
#include "search/tree.hpp"
#include "driver/data_options.hpp"

namespace kmpi {

LoadedModel load_model_option(const mpi::Communicator& comm, const Options& o) {
  mpi::agree(comm, !o.str("model").empty(), "this command needs --model FILE");
  LoadedModel m;
  m.model = load_model(comm, o.str("model"));
  m.centers = LocalCenters(m.model.centers, Precision::kFloat64);
  return m;
}

AnyModel load_any_model(const mpi::Communicator& comm, const Options& o) {
  mpi::agree(comm, !o.str("model").empty(), "this command needs --model FILE");
  AnyModel m;
  m.is_tree = is_tree_model_file(comm, o.str("model"));
  if (!m.is_tree) {
    m.single = load_model_option(comm, o);
    return m;
  }
  m.tree = load_tree_model(comm, o.str("model"));
  if (o.given("rfm.soft_temperature")) m.tree.tree.temperature = o.real("rfm.soft_temperature");
  m.tree_header = m.tree.input_header();
  return m;
}

FitMetrics evaluate_any(const mpi::Communicator& comm, const AnyModel& m, const EvalSet& set,
                        Matrix<double>* predictions) {
  const bool classification = m.header().task == Task::kClassification;
  if (!m.is_tree)
    return evaluate(comm, m.header().kernel, m.single.centers, m.single.model.weights, set,
                    classification, predictions);
  Matrix<double> pred = predict_tree(comm, m.tree, set.offsets, set.x);
  FitMetrics fm;
  if (set.labeled) fm = fit_metrics(comm, pred, set.y, set.n, classification);
  if (predictions) *predictions = std::move(pred);
  return fm;
}

namespace {

// collective: every rank's predictions, gathered; rank 0 writes them under a temporary name and
// renames it (class index per row, or c values for regression). Errors are agreed.
void write_predictions(const mpi::Communicator& comm, const std::string& out, const EvalSet& set,
                       const Matrix<double>& pred, const ModelHeader& h) {
  const std::size_t c = h.outputs;
  const mpi::CountsDispls layout = mpi::window_counts(set.offsets, 0, set.n, c, out);
  // Rank 0 creates it after the gatherv, which waits for every rank's rows: by then every rank
  // knows its name (base/temporaries.hpp).
  const std::string tmp = out + ".tmp";
  const temporaries::Registration registration(tmp);
  // Gathered on the writer only: the other ranks keep their n/P rows.
  Matrix<double> all(comm.rank() == 0 ? set.n : 0, c);
  comm.gatherv(pred.data(), all.data(), layout.counts, layout.displs);
  bool ok = true;
  std::string why;  // rank 0: why the rename failed
  if (comm.rank() == 0) {
    fault::point("io.open_write");
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    ok = f != nullptr;
    for (std::size_t i = 0; ok && i < set.n; ++i) {
      if (h.task == Task::kClassification) {
        const auto k = std::max_element(all.row(i), all.row(i) + c) - all.row(i);
        if (h.table.classes.empty())
          std::fprintf(f, "%td\n", k);
        else  // a table's text labels: the class name
          std::fprintf(f, "%s\n", h.table.classes[static_cast<std::size_t>(k)].c_str());
      } else {
        for (std::size_t j = 0; j < c; ++j) std::fprintf(f, j ? ",%.17g" : "%.17g", all(i, j));
        std::fputc('\n', f);
      }
    }
    // Flushed and fsynced before the rename, so a crash leaves the old file or the new one.
    if (f) ok = ok && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
    if (f) ok = std::fclose(f) == 0 && ok;
    if (ok) why = detail::rename_into_place(tmp, out);
    ok = ok && why.empty();
    if (!ok && why.empty()) std::remove(tmp.c_str());
    if (ok) detail::sync_directory_of(out);
  }
  mpi::agree(comm, ok, out + ": cannot write predictions" + (why.empty() ? "" : ": " + why));
}

}  // namespace

int run_predict(const mpi::Communicator& comm, const Options& o) {
  const std::string features = o.str("data.features"), out = o.str("output.predictions");
  mpi::agree(comm, !features.empty(), "predict needs --data.features PATH");
  mpi::agree(comm, !out.empty(), "predict needs --output.predictions PATH");
  const AnyModel m = load_any_model(comm, o);
  const ModelHeader& h = m.header();
  check_data_options(comm, o, "predict");
  // A CSV label column is dropped only when named; LIBSVM labels are read and ignored.
  ReadOptions read = read_options(o);
  read.embedded_labels = o.given("data.label_column");
  // A table's label column, when the file has it, is one of the columns predict ignores.
  if (!h.table.empty()) read.embedded_labels = false;
  mpi::agree_on(comm, [&] {
    if (resolve_format(features, read) == FileFormat::kLibsvm) read.embedded_labels = true;
  });
  EvalSet set = load_eval_set(comm, "predict", features, "", {}, h, read);
  Matrix<double> pred;
  evaluate_any(comm, m, set, &pred);
  write_predictions(comm, out, set, pred, h);
  Log(comm).info("kmpi predict: %zu rows -> %s", set.n, out.c_str());
  return 0;
}

}  // namespace kmpi
