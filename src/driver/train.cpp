// The steps of the train path (kmpi/train.hpp), shared by `kmpi train` and train_in_memory.
#include "driver/train_steps.hpp"

#include <cmath>

#include "state/checkpoint.hpp"
#include "driver/memory_plan.hpp"

namespace kmpi {

namespace {

// "falkon or eigenpro4": the solvers with centers of their own, for messages.
std::string solvers_with_centers() {
  std::string names;
  for (const SolverEntry& e : solver_table())
    if (e.has_centers) names += (names.empty() ? "" : " or ") + e.name;
  return names;
}

// collective: `data` is empty or this rank's block of BlockPartition(n, P) (what block_rows
// makes); agreed error otherwise.
void check_block(const mpi::Communicator& comm, const LocalData& data, const std::string& what) {
  const bool empty = data.partition.size() == 0;
  const bool ok = empty || (data.partition.parts() == comm.size() &&
                            data.partition.count(comm.rank()) == data.features.rows() &&
                            (data.targets.empty() || data.targets.rows() == data.features.rows()));
  // The size decides branches with collectives in them: it must be the same on every rank.
  const std::size_t n = data.partition.size();
  const bool same = comm.allreduce_value(n, mpi::Op::kMin) == comm.allreduce_value(n, mpi::Op::kMax);
  mpi::agree(comm, ok && same,
             what + ": rows are not this rank's block of BlockPartition(n, P) (use block_rows)");
}

// collective: kernel.metric_file for d features, read and factored (S = M^(1/2)) by rank 0 and
// broadcast, so every rank transforms its rows with the same bits of S. Errors are agreed.
FeatureMetric read_metric(const mpi::Communicator& comm, const std::string& path, MetricKind kind,
                          std::size_t d) {
  FeatureMetric metric;
  if (kind == MetricKind::kNone) return metric;
  mpi::agree_on(comm, [&] {
    if (comm.rank() == 0) metric = load_metric_file(path, kind, d);
  });
  metric.kind = kind;
  metric.dimension = d;
  metric.root.resize(kind == MetricKind::kFull ? d * d : d);
  comm.broadcast(metric.root.data(), metric.root.size(), 0);
  return metric;
}

}  // namespace

TrainSetup check_train_options(const mpi::Communicator& comm, const Options& o,
                               bool centers_given, bool tune) {
  TrainSetup setup;
  setup.tune = tune;
  for (const auto& spec : option_table())
    if (spec.key.rfind("tune.", 0) == 0)
      mpi::agree(comm, tune || !o.given(spec.key),
                 spec.key + " is an option of `kmpi tune`, not of `kmpi train`");
  mpi::agree(comm, !tune || o.count("rfm.leaf_size") == 0,
             "rfm.leaf_size: kmpi tune fits one model; train the tree with kmpi train");
  mpi::agree_on(comm, [&] {
    setup.kernel =
        Kernel::from_name(o.str("kernel.name"), o.real("kernel.bandwidth"), o.real("kernel.nu"),
                          o.real("kernel.exponent"), o.real("kernel.norm_p"));
    setup.metric = metric_kind(o.str("kernel.metric"), "kernel.metric");
  });
  const bool metric_file = !o.str("kernel.metric_file").empty();
  mpi::agree(comm, setup.metric == MetricKind::kNone || metric_file,
             "kernel.metric = " + o.str("kernel.metric") + " needs kernel.metric_file = PATH");
  mpi::agree(comm, setup.metric != MetricKind::kNone || !metric_file,
             "kernel.metric_file is given but kernel.metric = none (set diagonal or full)");
  const std::string name = o.str("solver.name");
  setup.solver = find_solver(name);
  mpi::agree(comm, setup.solver != nullptr, "option solver.name: no solver named " + name);
  setup.seed = static_cast<std::uint64_t>(o.integer("solver.seed"));
  setup.precision =
      o.str("solver.precision") == "float64" ? Precision::kFloat64 : Precision::kFloat32;
  setup.rfm_iterations = o.count("rfm.iterations");
  // Stop signals are caught only where a checkpoint can be written (the iterative solvers at
  // their step boundaries, RFM between its iterations); otherwise they keep their default action
  // (terminate).
  const bool iterative = setup.validates();
  mpi::agree(comm, o.str("run.resume") == "no" || iterative,
             "run.resume: solver.name = " + name + " writes no checkpoints");
  mpi::agree(comm, setup.rfm_iterations == 0 || o.str("kernel.metric") == "none",
             "rfm.iterations: RFM learns the metric from M = I; kernel.metric must be none");
  if (iterative && !o.str("run.checkpoint_dir").empty()) {
    install_stop_signal_handlers();
    clear_stop_signal();  // one that stopped an earlier run in this process (a Python fit) is old
  }
  mpi::agree(comm, !centers_given || setup.solver->has_centers,
             "data.centers: only solver.name = " + solvers_with_centers() + " has centers, not " +
                 name);
  mpi::agree(comm, !centers_given || !o.given("solver.centers"),
             "data.centers and solver.centers conflict: give the centers file or their number");
  const bool validation_file = !o.str("data.validation_features").empty();
  mpi::agree(comm, !validation_file || o.real("data.validation_fraction") == 0,
             "data.validation_features and data.validation_fraction conflict: give the "
             "validation file or the fraction of training rows to hold out");
  mpi::agree(comm, validation_file || o.str("data.validation_labels").empty(),
             "data.validation_labels needs data.validation_features");
  return setup;
}

ModelHeader describe_model(const mpi::Communicator& comm, const Options& o,
                           const TrainSetup& setup, const LocalData& train,
                           const std::string& label_source) {
  ModelHeader header;
  header.kernel = setup.kernel;
  header.dimension = train.dimension;
  header.task = decide_task(comm, o.str("data.task"), train);
  header.outputs = header.task == Task::kClassification
                       ? count_classes(comm, train, label_source)
                       : train.targets.cols();
  header.table = train.table;
  if (!header.table.classes.empty()) {
    mpi::agree(comm, header.task == Task::kClassification,
               label_source + ": the labels in column '" + header.table.label_name +
                   "' are names (classes), but data.task = regression");
    header.outputs = header.table.classes.size();
  }
  return header;
}

bool plan_and_scale(const mpi::Communicator& comm, const Options& o, const TrainSetup& setup,
                    ModelHeader& header, LocalData& train, std::size_t centers_p,
                    const Stopwatch& read_clock) {
  const std::size_t n = train.partition.size(), d = train.dimension;
  // Memory planner: refuse a run that cannot fit before the solver allocates (--dry-run: print
  // the plan and stop). With given centers p is their number, not solver.centers.
  Options plan_options = o;
  if (centers_p > 0) plan_options.set("solver.centers", std::to_string(centers_p));
  if (!check_memory_plan(comm, plan_options, n, d, header.outputs, setup.tune)) return false;
  header.centers = n;
  header.scaling = fit_scaling(comm, scale_mode(o.str("data.scale")), train, n);
  keep_codes_unscaled(header.scaling, header.table);
  header.metric = read_metric(comm, o.str("kernel.metric_file"), setup.metric, d);
  header.prepare_inputs(train.features);
  const bool classification = header.task == Task::kClassification;
  if (!header.table.empty()) log_table(comm, o, header.table);
  Log(comm, o.flag("run.verbose_ranks"))
      .info(
          "kmpi %s: %s, %zu rows x %zu features, %zu %s, %d ranks, kernel %s bandwidth %g, "
          "read %.2f s",
          setup.tune ? "tune" : "train", setup.solver->name.c_str(), n, d, header.outputs,
          classification ? "classes" : "targets", comm.size(), setup.kernel.name().c_str(),
          setup.kernel.bandwidth, read_clock.seconds());
  return true;
}

Matrix<double> prepare_centers(const mpi::Communicator& comm, LocalData centers,
                               const std::string& name, const ModelHeader& header) {
  mpi::agree(comm, centers.dimension == header.dimension,
             name + ": has " + std::to_string(centers.dimension) +
                 " features per row but the training data has " + std::to_string(header.dimension));
  header.prepare_inputs(centers.features);
  return std::move(centers.features);
}

TrainResult train_in_memory(const mpi::Communicator& comm, const Options& o, TrainRows rows) {
  RunClock clock;
  check_block(comm, rows.train, rows.train_name);
  check_block(comm, rows.validation, "validation rows");
  check_block(comm, rows.test, "test rows");
  check_block(comm, rows.centers, "centers");
  const std::size_t centers_p = rows.centers.partition.size();
  // The tree (search/tree.hpp) calls this for every fit with rfm.leaf_size = 0.
  mpi::agree(comm, o.count("rfm.leaf_size") == 0,
             "rfm.leaf_size: train_in_memory trains one model; a tree is trained by `kmpi train`");
  mpi::agree(comm, o.str("data.validation_features").empty(),
             "data.validation_features: rows in memory take their validation rows as rows "
             "(TrainRows::validation; Python: fit(X, y, X_val=, y_val=)), not from a file");
  const TrainSetup setup = check_train_options(comm, o, centers_p > 0);
  // data.limit and the validation split, as `kmpi train` takes them from a file.
  const RowSelection selection =
      choose_rows(comm, o, setup, rows.train.partition.size(), rows.train_name);
  if (selection.validation_rows > 0) {
    mpi::agree(comm, rows.validation.partition.size() == 0,
               "data.validation_fraction: validation rows are given as well");
    rows.validation = take_rows(comm, rows.train, selection.validation);
  }
  if (!selection.train.all()) rows.train = take_rows(comm, rows.train, selection.train);
  ModelHeader header = describe_model(comm, o, setup, rows.train, rows.train_name);
  if (!plan_and_scale(comm, o, setup, header, rows.train, centers_p, clock.wall)) return {};
  TrainExtras extras;
  if (centers_p > 0) {
    extras.centers = prepare_centers(comm, std::move(rows.centers), "centers", header);
    extras.centers_p = centers_p;
  }
  // Validation rows of a class the training rows lack (label -1, or an index past the classes)
  // count as misses; test rows must be of the model's classes.
  const auto eval_set = [&](const char* name, LocalData& data, bool unseen_classes_miss) {
    const bool labeled = comm.allreduce_value(data.targets.cols(), mpi::Op::kMax) > 0;
    return make_eval_set(comm, name, std::move(data), labeled, std::string(name) + " rows",
                         std::string(name) + " labels", header, unseen_classes_miss);
  };
  if (rows.validation.partition.size() > 0)
    extras.validation = eval_set("validation", rows.validation, true);
  if (rows.test.partition.size() > 0) extras.test = eval_set("test", rows.test, false);
  return fit_model(comm, o, setup, header, std::move(rows.train), std::move(extras), clock);
}

}  // namespace kmpi
