// `kmpi train`: read the training files, then the steps of kmpi/train.hpp.
#include "cli/commands.hpp"
#include "driver/metrics.hpp"
#include "driver/train_steps.hpp"
#include "parallel/log.hpp"
#include "driver/memory_plan.hpp"
#include "search/tree.hpp"
#include "search/tune.hpp"
#include "io/table_encoding.hpp"
#include "driver/data_options.hpp"

namespace kmpi {

namespace {

// The training files and how to read them.
struct TrainFiles {
  std::string features, labels;
  std::string label_source;  // the file the labels come from (labels, or features itself)
  ReadOptions read;
};

// collective: data.train_* and data.* read options (agreed errors naming the key or file).
TrainFiles check_train_files(const mpi::Communicator& comm, const Options& o) {
  TrainFiles f;
  f.features = o.str("data.train_features");
  f.labels = o.str("data.train_labels");
  mpi::agree(comm, !f.features.empty(), "train needs data.train_features");
  check_data_options(comm, o, "train");
  // Without a labels file the labels come from the features file (LIBSVM, CSV label column).
  f.read = read_options(o);
  f.read.embedded_labels = f.labels.empty();
  f.read.fit_table = true;  // a CSV with a header is a table (data.categorical, data.missing*)
  FileFormat format = FileFormat::kNpy;
  mpi::agree_on(comm, [&] { format = resolve_format(f.features, f.read); });
  mpi::agree(comm, !f.labels.empty() || format_has_labels(format),
             f.features + ": this format holds no labels; give data.train_labels");
  f.label_source = f.labels.empty() ? f.features : f.labels;
  return f;
}

// collective: the rows of the features file to train on and to validate on (choose_rows).
RowSelection select_training_rows(const mpi::Communicator& comm, const Options& o,
                                  const TrainFiles& files, const TrainSetup& setup) {
  const FileInfo info = probe_distributed(comm, files.features, files.read);
  return choose_rows(comm, o, setup, info.rows, files.features);
}

// collective: agreed error unless the rows of data.validation_features have labels.
void require_validation_labels(const mpi::Communicator& comm, bool labeled,
                               const std::string& path) {
  mpi::agree(comm, labeled,
             path + ": the validation rows need labels (data.validation_labels, or a format "
                    "that holds them)");
}

// data.centers is read as features only, LIBSVM rows widened to the training d.
ReadOptions centers_read_options(const TrainFiles& files, const ModelHeader& header) {
  ReadOptions read = files.read;
  read.embedded_labels = false;
  read.dimension = header.dimension;
  read.fit_table = false;  // a table of centers is encoded like the training table
  read.encoding = header.table.empty() ? nullptr : &header.table;
  return read;
}

// collective: data.centers, data.test_* and the validation rows, read and prepared like the
// training rows.
TrainExtras read_train_extras(const mpi::Communicator& comm, const Options& o,
                              const TrainFiles& files, const RowSelection& rows,
                              const ModelHeader& header) {
  TrainExtras extras;
  const std::string centers_path = o.str("data.centers");
  if (!centers_path.empty()) {
    LocalData z = read_distributed(comm, centers_path, "", {}, centers_read_options(files, header));
    extras.centers_p = z.partition.size();
    extras.centers = prepare_centers(comm, std::move(z), centers_path, header);
    Log(comm, o.flag("run.verbose_ranks"))
        .info("data.centers: %zu centers from %s", extras.centers_p, centers_path.c_str());
  }
  if (!o.str("data.test_features").empty())
    extras.test = load_eval_set(comm, "test", o.str("data.test_features"),
                                o.str("data.test_labels"), {}, header, files.read);
  if (rows.validation_rows > 0)
    extras.validation = load_eval_set(comm, "validation", files.features, files.labels,
                                      rows.validation, header, files.read);
  // data.validation_features: read as the test file is; these rows take the split's place
  // (check_train_options refused data.validation_fraction next to it, so nothing was held out).
  const std::string validation = o.str("data.validation_features");
  if (!validation.empty()) {
    ReadOptions read = files.read;
    read.unseen_classes_miss = true;  // as the reference scores them
    extras.validation = load_eval_set(comm, "validation", validation,
                                      o.str("data.validation_labels"), {}, header, read);
    require_validation_labels(comm, extras.validation.labeled, validation);
  }
  return extras;
}

// collective: `kmpi train` with rfm.leaf_size > 0: every training row read, the tree trained and
// written (search/tree.hpp), then its test metrics when a test set is given.
int train_tree_command(const mpi::Communicator& comm, const Options& o) {
  const TrainFiles files = check_train_files(comm, o);
  LocalData train = read_distributed(comm, files.features, files.labels, {}, files.read);
  // The plan before any work: outputs one per class (labels 0..c-1) or per target column.
  double top = 0;
  for (std::size_t i = 0; i < train.targets.size(); ++i)
    top = std::max(top, train.targets.data()[i]);
  top = comm.allreduce_value(top, mpi::Op::kMax);
  // data.task as the tree decides it (integer targets of a regression are not classes).
  const bool labels = decide_task(comm, o.str("data.task"), train) == Task::kClassification;
  const std::size_t columns = comm.allreduce_value(train.targets.cols(), mpi::Op::kMax);
  const std::size_t c = labels && columns == 1 ? static_cast<std::size_t>(top) + 1 : columns;
  // data.validation_features: raw rows (each leaf scales its own), encoded like the training
  // table; the tree routes them to its leaves. Read before the plan, which counts them.
  LocalData validation;
  const std::string validation_path = o.str("data.validation_features");
  if (!validation_path.empty()) {
    bool labeled = false;
    ReadOptions read = files.read;
    read.unseen_classes_miss = true;
    validation = read_eval_rows(comm, validation_path, o.str("data.validation_labels"), {},
                                train.dimension, train.table, read, labeled);
    require_validation_labels(comm, labeled, validation_path);
  }
  check_tree_memory_plan(comm, o, train.partition.size(), validation.partition.size(),
                         train.dimension, std::max<std::size_t>(c, 1));
  if (o.flag("run.dry_run")) return 0;
  const TreeTrainResult result = train_tree(comm, o, std::move(train), std::move(validation));
  if (result.exit_code != 0) return result.exit_code;  // stopped after its checkpoints
  MetricsWriter metrics(comm, o.str("output.metrics"));
  for (std::size_t i = 0; i < result.tree.nodes.size(); ++i) {
    const TreeNode& node = result.tree.nodes[i];
    Json line;
    line.add("event", "tree_node")
        .add("node", static_cast<double>(i))
        .add("rows", static_cast<double>(result.node_rows[i]));
    if (result.validated) {
      line.add("validation_rows", static_cast<double>(result.node_validation[i]));
      if (node.leaf) line.add("refilled", static_cast<double>(result.node_refilled[i]));
    }
    if (node.leaf)
      line.add("leaf", static_cast<double>(node.left));
    else
      line.add("threshold", node.threshold)
          .add("iqr", node.scale)
          .add("left", static_cast<double>(node.left))
          .add("right", static_cast<double>(node.right));
    metrics.line(line.str());
  }
  Json done;
  done.add("event", "done")
      .add("leaves", static_cast<double>(result.tree.leaf_count))
      .add("ranks", static_cast<double>(comm.size()));
  if (!o.str("data.test_features").empty()) {
    const TreeModel model = load_tree_model(comm, o.str("output.model"));
    const EvalSet set = load_eval_set(comm, "test", o.str("data.test_features"),
                                      o.str("data.test_labels"), {}, model.input_header(),
                                      files.read);
    const bool classification = model.tree.task == Task::kClassification;
    mpi::agree(comm, set.labeled, "data.test_features: the test rows need labels");
    const Matrix<double> pred = predict_tree(comm, model, set.offsets, set.x);
    const FitMetrics fm = fit_metrics(comm, pred, set.y, set.n, classification);
    done.add("test_mse", fm.mse);
    if (classification) done.add("test_accuracy", fm.accuracy);
    Log log(comm);
    if (classification)
      log.info("tree: test mse %.6g, accuracy %.4f on %zu rows", fm.mse, fm.accuracy, set.n);
    else
      log.info("tree: test mse %.6g on %zu rows", fm.mse, set.n);
  }
  metrics.line(done.str());
  metrics.finish(comm);
  return 0;
}

}  // namespace

namespace {

// collective: train or tune (the same steps; `tune` searches the tune.* grid in fit_model).
TrainResult train_command(const mpi::Communicator& comm, const Options& o, bool tune) {
  if (!tune && o.count("rfm.leaf_size") > 0) {
    TrainResult tree;
    tree.exit_code = train_tree_command(comm, o);
    return tree;
  }
  RunClock clock;
  TrainFiles files = check_train_files(comm, o);
  // Reads of large binary files report their progress (rank 0's share of the rows).
  Progress read_progress(comm, o);
  std::string read_stage;
  if (read_progress.enabled())
    files.read.progress = [&](const std::string& path, double done, double total) {
      if (done <= 0) read_stage = "reading " + path;
      read_progress.work(read_stage.c_str(), done, total);
    };
  const std::string centers_path = o.str("data.centers");
  const TrainSetup setup = check_train_options(comm, o, !centers_path.empty(), tune);
  const RowSelection rows = select_training_rows(comm, o, files, setup);
  Stopwatch read_clock;
  LocalData train = read_distributed(comm, files.features, files.labels, rows.train, files.read);
  ModelHeader header = describe_model(comm, o, setup, train, files.label_source);
  const std::size_t centers_p =
      centers_path.empty()
          ? 0
          : probe_distributed(comm, centers_path, centers_read_options(files, header)).rows;
  if (!plan_and_scale(comm, o, setup, header, train, centers_p, read_clock))
    return {};  // dry run: the plan is printed
  TrainExtras extras = read_train_extras(comm, o, files, rows, header);
  return fit_model(comm, o, setup, header, std::move(train), std::move(extras), clock);
}

// collective: tune.numeric_transforms with two or more values: the grid tuned once per value of
// data.numeric_transform, nothing written; the value whose selected point scores best (the first
// of equals) is kept: its selected config written, and its selected point trained as `kmpi
// train` would with every output asked for (the model the tune of that value returns).
int tune_numeric_transforms(const mpi::Communicator& comm, const Options& o,
                            const std::vector<std::string>& values) {
  mpi::agree(comm, o.str("run.checkpoint_dir").empty(),
             "tune.numeric_transforms: one tune per value runs without checkpoints; leave "
             "run.checkpoint_dir empty (or tune one value)");
  const Log log(comm, o.flag("run.verbose_ranks"));
  std::size_t best = values.size();
  double best_score = 0;
  std::vector<std::pair<std::string, std::string>> selected;
  std::string scores;
  for (std::size_t k = 0; k < values.size(); ++k) {
    Options candidate = o;
    candidate.set("data.numeric_transform", values[k]);
    for (const char* key : {"output.model", "output.metrics", "output.predictions",
                            "output.metric_matrix", "tune.selected_config"})
      candidate.set(key, "");
    log.info("tune.numeric_transforms: tuning with data.numeric_transform = %s",
             values[k].c_str());
    const TrainResult r = train_command(comm, candidate, true);
    if (r.exit_code != 0 || !r.trained) return r.exit_code;  // stopped, or a dry run
    const double score = comm.agreed_value(r.tune_score);
    scores += (scores.empty() ? "" : ", ") + values[k] + " " + std::to_string(score);
    if (best == values.size() || score < best_score) {
      best = k;
      best_score = score;
      selected = r.tune_selected;
    }
  }
  log.info("tune.numeric_transforms: selected-point scores (validation mse, or 1 - accuracy) %s: "
           "data.numeric_transform = %s; training its selected point",
           scores.c_str(), values[best].c_str());
  selected.emplace_back("data.numeric_transform", values[best]);
  Options final_run = o;
  for (const auto& [key, value] : selected) final_run.set(key, value);
  write_selected_config(comm, final_run, selected);
  for (const OptionSpec& spec : option_table())
    if (spec.key.rfind("tune.", 0) == 0) final_run.reset(spec.key);
  return train_command(comm, final_run, false).exit_code;
}

}  // namespace

int run_train(const mpi::Communicator& comm, const Options& o) {
  return train_command(comm, o, false).exit_code;
}

int run_tune(const mpi::Communicator& comm, const Options& o) {
  const std::vector<std::string> values = detail::split_names(o.str("tune.numeric_transforms"));
  for (const std::string& v : values)
    mpi::agree(comm, v == "none" || v == "quantile",
               "option tune.numeric_transforms: '" + v +
                   "' is not a value of data.numeric_transform (none, quantile)");
  if (values.size() < 2) {
    Options one = o;
    if (values.size() == 1) one.set("data.numeric_transform", values[0]);
    return train_command(comm, one, true).exit_code;
  }
  return tune_numeric_transforms(comm, o, values);
}

}  // namespace kmpi
