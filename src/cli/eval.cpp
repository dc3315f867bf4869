// `kmpi eval`: a model's test metrics on a labelled data set.
#include "cli/commands.hpp"
#include "parallel/log.hpp"
#include "driver/metrics.hpp"
#include "driver/training_data.hpp"
#include "cli/model_commands.hpp"
#include "driver/data_options.hpp"

namespace kmpi {

int run_eval(const mpi::Communicator& comm, const Options& o) {
  const std::string features = o.str("data.features"), labels = o.str("data.labels");
  mpi::agree(comm, !features.empty(), "eval needs --data.features PATH");
  check_data_options(comm, o, "eval");
  ReadOptions read = read_options(o);
  read.embedded_labels = labels.empty();
  {
    FileFormat format = FileFormat::kNpy;
    mpi::agree_on(comm, [&] { format = resolve_format(features, read); });
    mpi::agree(comm, !labels.empty() || format_has_labels(format),
               features + ": this format holds no labels; give --data.labels PATH");
  }
  const AnyModel m = load_any_model(comm, o);
  const ModelHeader& h = m.header();
  const bool classification = h.task == Task::kClassification;
  EvalSet set = load_eval_set(comm, "eval", features, labels, {}, h, read);
  const FitMetrics fm = evaluate_any(comm, m, set);
  Log log(comm);
  if (classification)
    log.info("kmpi eval: %zu rows, mse %.6g, accuracy %.4f", set.n, fm.mse, fm.accuracy);
  else
    log.info("kmpi eval: %zu rows, mse %.6g", set.n, fm.mse);
  MetricsWriter metrics(comm, o.str("output.metrics"));
  Json j;
  j.add("event", "eval").add("rows", static_cast<double>(set.n)).add("test_mse", fm.mse);
  if (classification) j.add("test_accuracy", fm.accuracy);
  j.add("ranks", static_cast<double>(comm.size()));
  metrics.line(j.str());
  metrics.finish(comm);
  return 0;
}

}  // namespace kmpi
