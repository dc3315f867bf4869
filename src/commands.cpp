#include "kmpi/commands.hpp"

#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <numeric>
#include <optional>
#include <sstream>
#include <thread>

#include "kmpi/checkpoint.hpp"
#include "kmpi/data.hpp"
#include "kmpi/log.hpp"
#include "kmpi/memory_plan.hpp"
#include "kmpi/model.hpp"
#include "kmpi/rng.hpp"
#include "kmpi/solvers.hpp"

namespace kmpi {

namespace {

// Options are identical on every rank, so checks of them fail on every rank together.
void require(const mpi::Communicator& comm, bool ok, const std::string& message) {
  mpi::agree(comm, ok, message);
}

// Writes JSON lines on rank 0 to a temporary file renamed into place by finish(), so a failed
// run leaves no partial metrics file behind.
class MetricsWriter {
 public:
  MetricsWriter(const mpi::Communicator& comm, const std::string& path) : path_(path) {
    bool ok = true;
    if (comm.rank() == 0 && !path.empty()) {
      tmp_ = path + ".tmp";
      file_ = std::fopen(tmp_.c_str(), "w");
      ok = file_ != nullptr;
    }
    mpi::agree(comm, ok, path + ": cannot create metrics file");
  }
  ~MetricsWriter() {
    if (file_) {
      std::fclose(file_);
      std::remove(tmp_.c_str());
    }
  }
  // Every rank keeps the lines (they are built on every rank), so a checkpoint can store them.
  void line(const std::string& json) {
    lines_.push_back(json);
    if (!file_) return;
    std::fputs(json.c_str(), file_);
    std::fputc('\n', file_);
    std::fflush(file_);
  }
  // collective
  void finish(const mpi::Communicator& comm) {
    bool ok = true;
    if (file_) {
      ok = std::fclose(file_) == 0 && std::rename(tmp_.c_str(), path_.c_str()) == 0;
      file_ = nullptr;
    }
    mpi::agree(comm, ok, path_ + ": cannot write metrics file");
  }

  // The lines so far (every rank); restore() rewrites those of a resumed run first.
  const std::vector<std::string>& lines() const { return lines_; }
  void restore(const std::vector<std::string>& lines) {
    for (const auto& l : lines) line(l);
  }

 private:
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  std::vector<std::string> lines_;
};

class Json {
 public:
  Json& add(const std::string& key, double v) {
    std::ostringstream s;
    s.precision(10);
    if (std::isfinite(v))
      s << v;
    else
      s << "null";
    return raw(key, s.str());
  }
  Json& add(const std::string& key, const std::string& v) { return raw(key, "\"" + v + "\""); }
  Json& add(const std::string& key, const char* v) { return add(key, std::string(v)); }
  std::string str() const { return "{" + body_ + "}"; }

 private:
  Json& raw(const std::string& key, const std::string& value) {
    body_ += (body_.empty() ? "\"" : ", \"") + key + "\": " + value;
    return *this;
  }
  std::string body_;
};

// Which task the labels describe; collective (labels of every rank are checked).
Task decide_task(const mpi::Communicator& comm, const std::string& setting, const LocalData& data,
                 const std::string& labels_path) {
  if (setting == "classification") return Task::kClassification;
  if (setting == "regression") return Task::kRegression;
  bool integral = data.target_kind == ElementKind::kInteger;
  if (!integral) {
    // Text labels such as "3.0" are integers too; decide on the values, agreed over ranks.
    bool all_int = data.targets.cols() == 1;
    for (std::size_t i = 0; i < data.targets.size() && all_int; ++i)
      all_int = data.targets.data()[i] == std::floor(data.targets.data()[i]);
    integral = comm.allreduce_value(all_int ? 1 : 0, mpi::Op::kMin) == 1 &&
               data.target_kind == ElementKind::kInteger;
  }
  (void)labels_path;
  return integral ? Task::kClassification : Task::kRegression;
}

// Classes 0..c-1 from integer labels; every label checked (collective).
std::size_t count_classes(const mpi::Communicator& comm, const LocalData& data,
                          const std::string& labels_path) {
  mpi::agree_on(comm, [&] {
    if (data.targets.cols() != 1)
      throw Error(labels_path + ": classification needs one label per row, found " +
                  std::to_string(data.targets.cols()) + " columns");
    for (std::size_t i = 0; i < data.targets.rows(); ++i) {
      const double v = data.targets(i, 0);
      if (v != std::floor(v) || v < 0 || v > 1e6)
        throw Error(labels_path + ": " + data.where(i) + ": classification label " +
                    std::to_string(v) + " is not a class index in 0..1e6");
    }
  });
  double top = 0;
  for (std::size_t i = 0; i < data.targets.rows(); ++i) top = std::max(top, data.targets(i, 0));
  return static_cast<std::size_t>(comm.allreduce_value(top, mpi::Op::kMax)) + 1;
}

Matrix<double> one_hot(const Matrix<double>& labels, std::size_t classes) {
  Matrix<double> y(labels.rows(), classes);
  for (std::size_t i = 0; i < labels.rows(); ++i)
    y(i, static_cast<std::size_t>(labels(i, 0))) = 1.0;
  return y;
}

// collective: scaling statistics from the training rows of every rank.
Scaling fit_scaling(const mpi::Communicator& comm, ScaleMode mode, const LocalData& data,
                    std::size_t n) {
  const std::size_t d = data.dimension;
  Scaling s;
  s.mode = mode;
  s.offset.assign(d, 0.0);
  s.multiplier.assign(d, 1.0);
  const Matrix<double>& x = data.features;
  if (mode == ScaleMode::kUnit) {
    double top = 0;
    for (std::size_t i = 0; i < x.size(); ++i) top = std::max(top, std::abs(x.data()[i]));
    top = comm.allreduce_value(top, mpi::Op::kMax);
    if (top > 0) s.multiplier.assign(d, 1.0 / top);
  } else if (mode == ScaleMode::kStandardize) {
    std::vector<double> sums(2 * d, 0.0);
    for (std::size_t i = 0; i < x.rows(); ++i)
      for (std::size_t j = 0; j < d; ++j) {
        sums[j] += x(i, j);
        sums[d + j] += x(i, j) * x(i, j);
      }
    comm.allreduce(sums);
    for (std::size_t j = 0; j < d; ++j) {
      const double mean = sums[j] / n, var = std::max(0.0, sums[d + j] / n - mean * mean);
      s.offset[j] = mean;
      s.multiplier[j] = var > 0 ? 1.0 / std::sqrt(var) : 1.0;
    }
  }
  return s;
}

ScaleMode scale_mode(const std::string& v) {
  if (v == "unit") return ScaleMode::kUnit;
  if (v == "standardize") return ScaleMode::kStandardize;
  return ScaleMode::kNone;
}

// Features and targets of an evaluation set, scaled and encoded like the training data.
struct EvalSet {
  std::string name;
  std::vector<std::size_t> offsets;  // rank r holds rows [offsets[r], offsets[r+1])
  Matrix<double> x, y;
  std::size_t n = 0;
};

std::vector<std::size_t> offsets_of(const BlockPartition& p) {
  std::vector<std::size_t> o(static_cast<std::size_t>(p.parts()) + 1, 0);
  for (int r = 0; r < p.parts(); ++r) o[r + 1] = p.end(r);
  return o;
}

// collective: reads an evaluation set, checks it against the model's d and c.
EvalSet load_eval_set(const mpi::Communicator& comm, const std::string& name,
                      const std::string& features, const std::string& labels,
                      const std::vector<std::size_t>& selection, const ModelHeader& header,
                      ReadOptions read) {
  // LIBSVM files are widened to the model's d (indices beyond it are refused, with the line).
  read.dimension = header.dimension;
  if (!labels.empty()) read.embedded_labels = false;
  LocalData data = read_distributed(comm, features, labels, selection, read);
  // Labels from the features file itself (LIBSVM, CSV label column) count as given labels.
  const bool has_labels = !labels.empty() || (read.embedded_labels && !data.targets.empty());
  const std::string& label_source = labels.empty() ? features : labels;
  require(comm, data.dimension == header.dimension,
          features + ": has " + std::to_string(data.dimension) +
              " features per row but the model expects " + std::to_string(header.dimension));
  header.scaling.apply(data.features);
  EvalSet e;
  e.name = name;
  e.offsets = offsets_of(data.partition);
  e.n = data.partition.size();
  e.x = std::move(data.features);
  if (has_labels) {
    if (header.task == Task::kClassification) {
      mpi::agree_on(comm, [&] {
        for (std::size_t i = 0; i < data.targets.rows(); ++i) {
          const double v = data.targets(i, 0);
          if (v != std::floor(v) || v < 0 || v >= static_cast<double>(header.outputs))
            throw Error(label_source + ": " + data.where(i) + ": label " + std::to_string(v) +
                        " is not one of the model's " + std::to_string(header.outputs) +
                        " classes");
        }
      });
      e.y = one_hot(data.targets, header.outputs);
    } else {
      require(comm, data.targets.cols() == header.outputs,
              label_source + ": has " + std::to_string(data.targets.cols()) +
                  " target columns, the model " + std::to_string(header.outputs));
      e.y = std::move(data.targets);
    }
  }
  return e;
}

FitMetrics evaluate(const mpi::Communicator& comm, const Kernel& kernel,
                    const LocalCenters& centers, const Matrix<double>& alpha, const EvalSet& set,
                    bool classification, Matrix<double>* predictions = nullptr) {
  Matrix<double> pred = predict_distributed(comm, kernel, centers, alpha, set.offsets, set.x);
  FitMetrics m =
      set.y.empty() ? FitMetrics{} : fit_metrics(comm, pred, set.y, set.n, classification);
  if (predictions) *predictions = std::move(pred);
  return m;
}

// collective: the largest peak resident set size of any rank, in MiB (from the OS).
double peak_rss_mb(const mpi::Communicator& comm) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return comm.allreduce_value(static_cast<double>(usage.ru_maxrss) / 1024.0, mpi::Op::kMax);
}

std::vector<std::size_t> all_rows(std::size_t n) {
  std::vector<std::size_t> v(n);
  std::iota(v.begin(), v.end(), std::size_t(0));
  return v;
}

// collective: the "key = value" lines a checkpoint must match to be resumed (their hash is the
// checkpoint's options hash): every option that shapes the iteration, and the training data
// itself as n, d, c and a fingerprint of its (scaled) values. Left out: where outputs go (output.*,
// run.*), evaluation-only inputs, the data paths (the fingerprint covers the content, so moved
// files still resume), and solver.epochs / solver.patience (a resumed run may train longer).
// collective: sum over rows of mix(global row, CRC-32 of the row's bytes in a, then b), modulo
// 2^64: a fingerprint of a row-partitioned matrix (pair) that does not depend on the rank count.
// `first` is this rank's first global row; b may be empty.
std::string rows_fingerprint(const mpi::Communicator& comm, std::size_t first,
                             const Matrix<double>& a, const Matrix<double>& b) {
  unsigned long long sum = 0;
  for (std::size_t i = 0; i < a.rows(); ++i) {
    const auto crc_a =
        crc32(0L, reinterpret_cast<const Bytef*>(a.row(i)), static_cast<uInt>(8 * a.cols()));
    const auto crc_b = b.rows() > i ? crc32(0L, reinterpret_cast<const Bytef*>(b.row(i)),
                                            static_cast<uInt>(8 * b.cols()))
                                    : 0UL;
    sum += mix64((first + i) ^ mix64((static_cast<std::uint64_t>(crc_a) << 32) | crc_b));
  }
  sum = comm.allreduce_value(sum, mpi::Op::kSum);
  char fingerprint[32];
  std::snprintf(fingerprint, sizeof fingerprint, "%016llx", sum);
  return fingerprint;
}

// `centers` are this rank's rows of centers read from data.centers (BlockPartition(p, P)), empty
// otherwise: their content is fingerprinted like the data, so a changed file refuses a resume.
std::string checkpoint_options_text(const mpi::Communicator& comm, const Options& o,
                                    const TrainingProblem& problem,
                                    const Matrix<double>& centers = Matrix<double>()) {
  static const char* const kIgnored[] = {
      "data.train_features", "data.train_labels", "data.test_features", "data.test_labels",
      "data.features",       "data.labels",       "data.centers",       "model",
      "solver.epochs",       "solver.patience"};
  std::ostringstream text;
  for (const auto& spec : option_table()) {
    const std::string& k = spec.key;
    if (k.rfind("run.", 0) == 0 || k.rfind("output.", 0) == 0) continue;
    if (std::find(std::begin(kIgnored), std::end(kIgnored), k) != std::end(kIgnored)) continue;
    text << k << " = " << o.str(k) << "\n";
  }
  text << "data.rows = " << problem.partition.size() << "\ndata.dimension = " << problem.x.cols()
       << "\ndata.outputs = " << problem.y.cols() << "\ndata.fingerprint = "
       << rows_fingerprint(comm, problem.partition.begin(comm.rank()), problem.x, problem.y)
       << "\n";
  const std::size_t p = comm.allreduce_value(centers.rows());
  if (p > 0)
    text << "data.centers.rows = " << p << "\ndata.centers.fingerprint = "
         << rows_fingerprint(comm, BlockPartition(p, comm.size()).begin(comm.rank()), centers,
                             Matrix<double>())
         << "\n";
  return text.str();
}

// local: a replicated matrix as a checkpoint array (this rank stores its rows of
// BlockPartition(rows, P); every rank holds the same values, so any split is the whole).
CheckpointArray replicated_checkpoint_array(const mpi::Communicator& comm, const std::string& name,
                                            const Matrix<double>& m) {
  const BlockPartition part(m.rows(), comm.size());
  CheckpointArray a{name, m.rows(), m.cols(), Matrix<double>(part.count(comm.rank()), m.cols())};
  std::copy(m.row(part.begin(comm.rank())), m.row(part.begin(comm.rank())) + a.local.size(),
            a.local.data());
  return a;
}

// collective: the whole of a checkpoint array on every rank (one allgatherv of its rows).
Matrix<double> gather_checkpoint_array(const mpi::Communicator& comm, const CheckpointArray& a) {
  const BlockPartition part(a.rows, comm.size());
  std::vector<int> counts(comm.size()), displs(comm.size());
  for (int r = 0; r < comm.size(); ++r) {
    counts[r] = static_cast<int>(part.count(r) * a.cols);
    displs[r] = static_cast<int>(part.begin(r) * a.cols);
  }
  Matrix<double> all(a.rows, a.cols);
  comm.allgatherv(a.local.data(), all.data(), counts, displs);
  return all;
}

}  // namespace

int run_train(const mpi::Communicator& comm, const Options& o) {
  Log log(comm, o.flag("run.verbose_ranks"));
  Stopwatch wall;
  const int P = comm.size();
  const std::string train_x = o.str("data.train_features"), train_y = o.str("data.train_labels");
  require(comm, !train_x.empty(), "train needs data.train_features");
  check_data_options(comm, o, "train");
  // Without a labels file the labels come from the features file (LIBSVM, CSV label column).
  ReadOptions read = read_options(o);
  read.embedded_labels = train_y.empty();
  {
    FileFormat format = FileFormat::kNpy;
    mpi::agree_on(comm, [&] { format = resolve_format(train_x, read); });
    require(comm, !train_y.empty() || format_has_labels(format),
            train_x + ": this format holds no labels; give data.train_labels");
  }
  const std::string& label_source = train_y.empty() ? train_x : train_y;
  Kernel kernel;
  mpi::agree_on(comm, [&] {
    kernel =
        Kernel::from_name(o.str("kernel.name"), o.real("kernel.bandwidth"), o.real("kernel.nu"));
  });
  const std::string solver = o.str("solver.name");
  const std::uint64_t seed = static_cast<std::uint64_t>(o.integer("solver.seed"));
  const bool iterative = solver != "direct";
  // Stop signals are caught only where a checkpoint can be written (the iterative solvers, at
  // their step boundaries); otherwise they keep their default action (terminate).
  const std::string checkpoint_dir = o.str("run.checkpoint_dir");
  const bool checkpoints = iterative;  // eigenpro2, falkon, eigenpro4
  const bool checkpointing = checkpoints && !checkpoint_dir.empty();
  require(comm, o.str("run.resume") == "no" || checkpoints,
          "run.resume: solver.name = " + solver + " writes no checkpoints");
  if (checkpointing) install_stop_signal_handlers();
  const std::string centers_path = o.str("data.centers");
  require(comm, centers_path.empty() || solver == "falkon" || solver == "eigenpro4",
          "data.centers: only solver.name = falkon or eigenpro4 has centers, not " + solver);
  require(comm, centers_path.empty() || !o.given("solver.centers"),
          "data.centers and solver.centers conflict: give the centers file or their number");
  double elapsed_before = 0;  // wall time of the earlier runs a resumed run continues

  // Rows: a seeded subset (data.limit), then a seeded validation split; the same on all ranks.
  const FileInfo info = probe_distributed(comm, train_x, read);
  const std::size_t limit = static_cast<std::size_t>(o.integer("data.limit"));
  require(comm, limit <= info.rows,
          "option data.limit = " + std::to_string(limit) + " asks for more rows than " + train_x +
              " has (" + std::to_string(info.rows) + ")");
  std::vector<std::size_t> rows = limit > 0 && limit < info.rows
                                      ? random_subset(info.rows, limit, seed, RngStream::kDataLimit)
                                      : all_rows(info.rows);
  std::vector<std::size_t> validation_rows;
  const double vfrac = o.real("data.validation_fraction");
  if (iterative && vfrac > 0) {
    const std::size_t nv = static_cast<std::size_t>(std::llround(vfrac * rows.size()));
    const auto picks = random_subset(rows.size(), nv, seed, RngStream::kValidation);
    std::vector<char> is_val(rows.size(), 0);
    for (auto k : picks) is_val[k] = 1;
    std::vector<std::size_t> train_rows;
    for (std::size_t k = 0; k < rows.size(); ++k)
      (is_val[k] ? validation_rows : train_rows).push_back(rows[k]);
    rows.swap(train_rows);
  }
  require(comm, rows.size() >= static_cast<std::size_t>(P),
          train_x + ": " + std::to_string(rows.size()) + " training rows are fewer than the " +
              std::to_string(P) + " ranks");

  Stopwatch read_clock;
  LocalData train = read_distributed(comm, train_x, train_y, rows, read);
  const std::size_t n = train.partition.size(), d = train.dimension;
  ModelHeader header;
  header.kernel = kernel;
  header.dimension = d;
  header.task = decide_task(comm, o.str("data.task"), train, label_source);
  const bool classification = header.task == Task::kClassification;
  header.outputs = classification ? count_classes(comm, train, label_source) : train.targets.cols();
  // Memory planner: refuse a run that cannot fit before the solver allocates (--dry-run: print
  // the plan and stop).
  // data.centers: read as features only, LIBSVM rows widened to the training d. The memory plan
  // counts p from solver.centers; with a centers file, from its rows (one probe).
  ReadOptions cread = read;
  cread.embedded_labels = false;
  cread.dimension = d;
  Options plan_options = o;
  if (!centers_path.empty())
    plan_options.set("solver.centers",
                     std::to_string(probe_distributed(comm, centers_path, cread).rows));
  if (!check_memory_plan(comm, plan_options, n, d, header.outputs)) return 0;
  header.centers = n;
  header.scaling = fit_scaling(comm, scale_mode(o.str("data.scale")), train, n);
  header.scaling.apply(train.features);
  log.info(
      "kmpi train: %s, %zu rows x %zu features, %zu %s, %d ranks, kernel %s bandwidth %g, read "
      "%.2f s",
      solver.c_str(), n, d, header.outputs, classification ? "classes" : "targets", P,
      kernel.name().c_str(), kernel.bandwidth, read_clock.seconds());

  TrainingProblem problem;
  problem.kernel = kernel;
  problem.partition = train.partition;
  problem.y = classification ? one_hot(train.targets, header.outputs) : train.targets;
  problem.x = std::move(train.features);
  train.targets = Matrix<double>();

  // data.centers: Z from a file, its rows of BlockPartition(p, P) on each rank, scaled like X.
  Matrix<double> file_centers;
  std::size_t file_p = 0;
  if (!centers_path.empty()) {
    LocalData zd = read_distributed(comm, centers_path, "", {}, cread);
    require(comm, zd.dimension == d,
            centers_path + ": has " + std::to_string(zd.dimension) +
                " features per row but the training data has " + std::to_string(d));
    header.scaling.apply(zd.features);
    file_p = zd.partition.size();
    file_centers = std::move(zd.features);
    log.info("data.centers: %zu centers from %s", file_p, centers_path.c_str());
  }

  EvalSet test, validation;
  const bool has_test = !o.str("data.test_features").empty();
  if (has_test)
    test = load_eval_set(comm, "test", o.str("data.test_features"), o.str("data.test_labels"), {},
                         header, read);
  if (!validation_rows.empty())
    validation = load_eval_set(comm, "validation", train_x, train_y, validation_rows, header, read);
  // Training error on a fixed subsample of at most 2000 training rows (cheap next to an epoch).
  EvalSet train_probe;
  {
    const auto picks =
        random_subset(n, std::min<std::size_t>(n, 2000), seed, RngStream::kValidation, 1);
    train_probe.n = picks.size();
    train_probe.offsets.assign(P + 1, 0);
    for (int r = 0; r < P; ++r)
      train_probe.offsets[r + 1] = static_cast<std::size_t>(
          std::lower_bound(picks.begin(), picks.end(), problem.partition.end(r)) - picks.begin());
    std::vector<std::size_t> local;
    for (std::size_t k = train_probe.offsets[comm.rank()]; k < train_probe.offsets[comm.rank() + 1];
         ++k)
      local.push_back(picks[k] - problem.partition.begin(comm.rank()));
    train_probe.x = select_rows(problem.x, local);
    train_probe.y = select_rows(problem.y, local);
  }

  MetricsWriter metrics(comm, o.str("output.metrics"));
  // collective: a solver stopped on a signal after writing a checkpoint. No model is written
  // (only finished runs write one); the metrics say so, and the exit code asks for a resubmit.
  auto stopped_after_checkpoint = [&](int signal) {
    metrics.line(Json()
                     .add("event", "checkpointed")
                     .add("signal", static_cast<double>(signal))
                     .add("elapsed_s", elapsed_before + wall.seconds())
                     .str());
    metrics.finish(comm);
    log.info(
        "kmpi: stopped on signal %d after writing a checkpoint; resubmit with "
        "run.resume=auto (exit code %d)",
        signal, kExitCheckpointedOnSignal);
    return kExitCheckpointedOnSignal;
  };
  const Precision precision =
      o.str("solver.precision") == "float64" ? Precision::kFloat64 : Precision::kFloat32;
  FitMetrics last_test;
  // model_centers: the centers of a model on p << n centers (falkon); null = the training rows.
  // rank_seconds: this rank's solver time for the epoch (or solve), reduced to min/avg/max over
  // ranks before it is printed; < 0 when there is none.
  auto report = [&](std::size_t epoch, const Matrix<double>& alpha, Json extra,
                    const LocalCenters* model_centers = nullptr, double rank_seconds = -1) {
    const LocalCenters own = model_centers ? LocalCenters() : LocalCenters(problem.x, precision);
    const LocalCenters& centers = model_centers ? *model_centers : own;
    const FitMetrics tr = evaluate(comm, kernel, centers, alpha, train_probe, classification);
    Json j;
    j.add("epoch", static_cast<double>(epoch))
        .add("elapsed_s", elapsed_before + wall.seconds())
        .add("train_mse", tr.mse);
    std::string line = "epoch " + std::to_string(epoch);
    if (rank_seconds >= 0) {
      const TimerStats t = reduce_timer(comm, rank_seconds);
      j.add("solver_s_min", t.min).add("solver_s_avg", t.avg).add("solver_s_max", t.max);
      char text[96];
      std::snprintf(text, sizeof text, " (%.2f s; min/avg/max over ranks %.2f/%.2f/%.2f)", t.max,
                    t.min, t.avg, t.max);
      line += text;
    }
    line += ": train mse " + std::to_string(tr.mse);
    FitMetrics val;
    if (!validation.x.empty() || validation.n > 0) {
      val = evaluate(comm, kernel, centers, alpha, validation, classification);
      j.add("validation_mse", val.mse);
      line += ", validation mse " + std::to_string(val.mse);
      if (classification) j.add("validation_accuracy", val.accuracy);
    }
    if (has_test && !test.y.empty()) {
      last_test = evaluate(comm, kernel, centers, alpha, test, classification);
      j.add("test_mse", last_test.mse);
      line += ", test mse " + std::to_string(last_test.mse);
      if (classification) {
        j.add("test_accuracy", last_test.accuracy);
        line += ", test accuracy " + std::to_string(last_test.accuracy);
      }
    }
    j.add("ranks", static_cast<double>(P)).add("peak_rss_mb_max", peak_rss_mb(comm));
    std::string body = j.str();
    std::string more = extra.str();
    if (more.size() > 2) body = body.substr(0, body.size() - 1) + ", " + more.substr(1);
    metrics.line(body);
    log.info("%s", line.c_str());
    return val.mse;
  };

  // ---- Checkpoint/resume plumbing shared by the iterative solvers (kmpi/checkpoint.hpp) ----
  // The options text and hash a checkpoint of this run carries (empty unless checkpoints or
  // resumes are on: the data fingerprint reads every row).
  const std::string resume = o.str("run.resume");
  const std::string run_text = checkpointing || resume != "no"
                                   ? checkpoint_options_text(comm, o, problem, file_centers)
                                   : "";
  const std::uint64_t run_hash = checkpoint_hash(run_text);
  // collective: run.resume: the checkpoint to continue from, if there is one and it was written
  // by `solver_name` on these options (else every rank fails with one message). Restores the
  // metrics written so far and the elapsed time.
  auto load_resume = [&](const char* solver_name) -> std::optional<Checkpoint> {
    if (resume == "no") return std::nullopt;
    require(comm, !checkpoint_dir.empty(), "run.resume = " + resume + " needs run.checkpoint_dir");
    const bool exists = checkpoint_exists(comm, checkpoint_dir);
    require(comm, exists || resume == "auto",
            checkpoint_path(checkpoint_dir) + ": run.resume = require but there is no checkpoint");
    if (!exists) return std::nullopt;
    Checkpoint ck = load_checkpoint(comm, checkpoint_dir, solver_name, run_hash, run_text);
    elapsed_before = ck.scalar("elapsed_s");
    metrics.restore(ck.metrics);
    return ck;
  };
  // A checkpoint of this run with the driver's part filled in.
  auto new_checkpoint = [&](const char* solver_name) {
    Checkpoint ck;
    ck.solver = solver_name;
    ck.options_hash = run_hash;
    ck.options_text = run_text;
    ck.scalars["elapsed_s"] = elapsed_before + wall.seconds();
    ck.metrics = metrics.lines();
    return ck;
  };
  // collective: the hook after every step/iteration: the test delay (run.step_delay_ms), then a
  // checkpoint when the schedule says so (timer or an agreed stop signal). false = stop now,
  // the checkpoint is written; stop_signal then says which signal.
  CheckpointSchedule schedule(o.real("run.checkpoint_every"));
  const double step_delay_ms = o.real("run.step_delay_ms");
  const bool step_hook = checkpointing || step_delay_ms > 0;
  int stop_signal = 0;
  auto after_step = [&](const std::function<Checkpoint()>& make,
                        const std::function<std::string()>& describe) {
    if (step_delay_ms > 0)
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(step_delay_ms));
    if (!checkpointing) return true;
    const auto decision = schedule.poll(comm);
    if (decision == CheckpointSchedule::Decision::kContinue) return true;
    Stopwatch clock;
    save_checkpoint(comm, checkpoint_dir, make());
    schedule.restart();
    log.info("checkpoint: %s -> %s (%.3f s)", describe().c_str(),
             checkpoint_path(checkpoint_dir).c_str(), clock.seconds());
    if (decision == CheckpointSchedule::Decision::kCheckpointAndStop) {
      stop_signal = schedule.signal();
      return false;
    }
    return true;
  };
  // Early stopping on the validation loss (eigenpro2, eigenpro4) keeps the best epoch's weights;
  // that state travels in their checkpoints.
  const std::size_t patience = static_cast<std::size_t>(o.integer("solver.patience"));
  double best_val = INFINITY;
  std::size_t best_epoch = 0;
  Matrix<double> best_alpha;
  // false = stop: the validation loss has not improved for `patience` epochs.
  auto keep_best = [&](std::size_t epoch, double val, const Matrix<double>& a) {
    if (validation.n == 0) return true;
    if (val < best_val) {
      best_val = val;
      best_epoch = epoch;
      best_alpha = a;
      return true;
    }
    if (epoch - best_epoch < patience) return true;
    log.info("early stopping: validation loss has not improved for %zu epochs (best: epoch %zu)",
             patience, best_epoch);
    return false;
  };
  // The epoch solvers' resume (weights `rows` x c and counters) and checkpoint.
  auto resume_epochs = [&](const char* solver_name, std::size_t rows, IterationControl& control)
      -> std::optional<Checkpoint> {
    std::optional<Checkpoint> ck = load_resume(solver_name);
    if (!ck) return ck;
    const CheckpointArray* a = ck->array("alpha");
    require(comm, a && a->rows == rows && a->cols == problem.y.cols(),
            checkpoint_path(checkpoint_dir) + ": has no weights of this problem's shape");
    control.start_epoch = ck->epoch;
    control.start_step = ck->step;
    control.start_loss_sum = ck->scalar("loss_sum");
    best_epoch = static_cast<std::size_t>(ck->scalar("best_epoch"));
    best_val = best_epoch > 0 ? ck->scalar("best_val") : INFINITY;
    if (const CheckpointArray* b = ck->array("best_alpha")) best_alpha = b->local;
    log.info("resuming from %s: epoch %zu, step %zu done (written on this run's options)",
             checkpoint_path(checkpoint_dir).c_str(), ck->epoch, ck->step);
    return ck;
  };
  auto epoch_checkpoint = [&](const char* solver_name, std::size_t rows, const StepState& st) {
    Checkpoint ck = new_checkpoint(solver_name);
    ck.epoch = st.epoch - 1;
    ck.step = st.step;
    ck.scalars["loss_sum"] = st.loss_sum;
    ck.scalars["best_epoch"] = static_cast<double>(best_epoch);
    ck.scalars["best_val"] = best_epoch > 0 ? best_val : 0.0;
    ck.arrays.push_back({"alpha", rows, problem.y.cols(), *st.alpha});
    if (best_epoch > 0) ck.arrays.push_back({"best_alpha", rows, problem.y.cols(), best_alpha});
    return ck;
  };
  auto describe_step = [](const StepState& st) {
    return "epoch " + std::to_string(st.epoch) + ", step " + std::to_string(st.step) + " of " +
           std::to_string(st.steps_per_epoch);
  };

  Matrix<double> alpha;
  // Models on p << n centers of their own (falkon): Z's rows of BlockPartition(p, P) per rank.
  bool own_centers = false;
  BlockPartition center_partition;
  Matrix<double> center_rows;
  if (solver == "direct") {
    Stopwatch solve_clock;
    alpha = solve_direct(comm, problem, o.real("solver.ridge"));
    const double solve_s = solve_clock.seconds();
    log.info("direct: solved (K + %g n I) alpha = Y in %.2f s", o.real("solver.ridge"), solve_s);
    report(1, alpha, Json().add("solver", "direct").add("solve_s", solve_s), nullptr, solve_s);
  } else if (solver == "falkon") {
    FalkonOptions fo;
    fo.centers = static_cast<std::size_t>(o.integer("solver.centers"));
    fo.ridge = o.real("solver.ridge");
    fo.iterations = static_cast<std::size_t>(o.integer("solver.iterations"));
    fo.tolerance = o.real("solver.tolerance");
    fo.seed = seed;
    fo.precision = precision;
    if (!centers_path.empty()) fo.given_centers = &file_centers;
    // Checkpoint and resume (kmpi/checkpoint.hpp): the CG state after an iteration (step =
    // iterations completed); the centers and the factors L, A_L are rebuilt from the seed and
    // the data, bit-identically on the same rank count (the options hash guarantees the same
    // problem). Nothing is written to the metrics before the solve ends, so none are stored.
    FalkonControl control;
    FalkonCgState start;
    const std::size_t c = problem.y.cols();
    if (const std::optional<Checkpoint> ck = load_resume("falkon")) {
      const CheckpointArray *b = ck->array("beta"), *r = ck->array("r"), *dir = ck->array("dir");
      // The options hash fixes p and c, so a mismatch here means a damaged writer; checked on
      // every rank alike (the header is replicated).
      const bool shaped = b && r && dir && b->cols == c && r->cols == c && dir->cols == c &&
                          r->rows == b->rows && dir->rows == b->rows;
      require(comm, shaped,
              checkpoint_path(checkpoint_dir) + ": has no CG state of this problem's shape");
      start.iteration = ck->step;
      start.beta = gather_checkpoint_array(comm, *b);
      start.r = gather_checkpoint_array(comm, *r);
      start.dir = gather_checkpoint_array(comm, *dir);
      for (std::size_t l = 0; l < c; ++l) {
        start.rs_old.push_back(ck->scalar("rs_old_" + std::to_string(l)));
        start.active.push_back(ck->scalar("active_" + std::to_string(l)) != 0 ? 1 : 0);
      }
      for (std::size_t it = 1; it <= ck->step; ++it)
        start.residuals.push_back(ck->scalar("residual_" + std::to_string(it)));
      control.start = &start;
      log.info("resuming from %s: %zu CG iterations done (written on this run's options)",
               checkpoint_path(checkpoint_dir).c_str(), ck->step);
    }
    if (step_hook)
      control.after_iteration = [&](const FalkonCgState& st) {
        auto make = [&] {
          Checkpoint ck = new_checkpoint("falkon");
          ck.step = st.iteration;
          for (std::size_t l = 0; l < c; ++l) {
            ck.scalars["rs_old_" + std::to_string(l)] = st.rs_old[l];
            ck.scalars["active_" + std::to_string(l)] = st.active[l] ? 1.0 : 0.0;
          }
          for (std::size_t it = 1; it <= st.residuals.size(); ++it)
            ck.scalars["residual_" + std::to_string(it)] = st.residuals[it - 1];
          ck.arrays.push_back(replicated_checkpoint_array(comm, "beta", st.beta));
          ck.arrays.push_back(replicated_checkpoint_array(comm, "r", st.r));
          ck.arrays.push_back(replicated_checkpoint_array(comm, "dir", st.dir));
          return ck;
        };
        return after_step(make, [&] { return "CG iteration " + std::to_string(st.iteration); });
      };
    Stopwatch cg_clock;
    FalkonResult fr = train_falkon(
        comm, problem, fo,
        [&](std::size_t it, double residual) {
          log.info("falkon: iteration %zu, relative residual %.3e, %.2f s", it, residual,
                   cg_clock.seconds());
        },
        control);
    if (fr.interrupted) {
      return stopped_after_checkpoint(stop_signal);
    }
    const std::size_t iterations = fr.residuals.size();
    log.info(
        "falkon: p = %zu centers, lambda = %g, eps = %.3g, %zu CG iterations, setup %.2f s, "
        "solve %.2f s",
        fr.center_partition.size(), fo.ridge, fr.jitter, iterations, fr.setup_seconds,
        fr.solve_seconds);
    metrics.line(Json()
                     .add("event", "setup")
                     .add("solver", "falkon")
                     .add("centers", static_cast<double>(fr.center_partition.size()))
                     .add("ridge", fo.ridge)
                     .add("jitter", fr.jitter)
                     .add("setup_s", fr.setup_seconds)
                     .str());
    own_centers = true;
    center_partition = fr.center_partition;
    center_rows = std::move(fr.centers);
    alpha = std::move(fr.alpha);
    const LocalCenters z(center_rows, precision);
    report(1, alpha,
           Json()
               .add("solver", "falkon")
               .add("setup_s", fr.setup_seconds)
               .add("solve_s", fr.solve_seconds)
               .add("iterations", static_cast<double>(iterations))
               .add("residual", iterations > 0 ? fr.residuals.back() : 1.0),
           &z);
  } else if (solver == "eigenpro4") {
    EigenPro4Options eo;
    eo.centers = static_cast<std::size_t>(o.integer("solver.centers"));
    eo.data_samples = static_cast<std::size_t>(o.integer("solver.nystrom_samples"));
    eo.data_level = static_cast<std::size_t>(o.integer("solver.preconditioner_level"));
    eo.model_samples = static_cast<std::size_t>(o.integer("solver.model_nystrom_samples"));
    eo.model_level = static_cast<std::size_t>(o.integer("solver.model_preconditioner_level"));
    eo.batch_size = static_cast<std::size_t>(o.integer("solver.batch_size"));
    if (o.given("solver.batch_cap"))
      eo.batch_cap = static_cast<std::size_t>(o.integer("solver.batch_cap"));
    eo.projection_period = static_cast<std::size_t>(o.integer("solver.projection_period"));
    eo.projection_epochs = static_cast<std::size_t>(o.integer("solver.projection_epochs"));
    eo.epochs = static_cast<std::size_t>(o.integer("solver.epochs"));
    eo.seed = seed;
    eo.precision = precision;
    EigenPro4Result result;
    if (!centers_path.empty()) eo.given_centers = &file_centers;
    const std::size_t p =
        eo.given_centers ? file_p : std::min(n, eo.centers > 0 ? eo.centers : std::size_t(10000));
    auto on_epoch = [&](const EpochState& st) {
      if (st.epoch == 1) {
        const auto& prm = *st.parameters;
        log.info("eigenpro4: p = %zu, s = %zu, q = %zu, batch %zu, step %.4g, setup %.2f s", p,
                 prm.s, prm.q, prm.batch_size, prm.step_size, st.setup_seconds);
        metrics.line(Json()
                         .add("event", "setup")
                         .add("solver", "eigenpro4")
                         .add("centers", static_cast<double>(p))
                         .add("nystrom_samples", static_cast<double>(prm.s))
                         .add("q", static_cast<double>(prm.q))
                         .add("batch_size", static_cast<double>(prm.batch_size))
                         .add("step_size", prm.step_size)
                         .add("setup_s", st.setup_seconds)
                         .str());
      }
      const double val = report(st.epoch, *st.alpha,
                                Json()
                                    .add("solver", "eigenpro4")
                                    .add("epoch_s", st.epoch_seconds)
                                    .add("batch_loss", st.batch_loss)
                                    .add("setup_s", st.setup_seconds),
                                st.centers);
      return keep_best(st.epoch, val, *st.alpha);
    };
    // Checkpoint and resume at projection boundaries, where the solver's state is alpha and its
    // counters (see train_eigenpro4); the preconditioners are rebuilt from the seed and the data.
    IterationControl control;
    const std::optional<Checkpoint> resumed = resume_epochs("eigenpro4", p, control);
    if (resumed) control.start_alpha = &resumed->array("alpha")->local;
    if (step_hook)
      control.after_step = [&](const StepState& st) {
        return after_step([&] { return epoch_checkpoint("eigenpro4", p, st); },
                          [&] { return describe_step(st); });
      };
    result = train_eigenpro4(comm, problem, eo, on_epoch, control);
    if (result.interrupted) {
      return stopped_after_checkpoint(stop_signal);
    }
    log.info("eigenpro4: projection period T = %zu batches, projection batch %zu",
             result.projection_period, result.model_parameters.batch_size);
    own_centers = true;
    center_partition = result.center_partition;
    center_rows = std::move(result.centers);
    alpha = best_epoch > 0 ? std::move(best_alpha) : std::move(result.alpha);
    if (best_epoch > 0 && has_test)
      last_test = evaluate(comm, kernel, LocalCenters(center_rows, precision), alpha, test,
                           classification);
  } else {
    EigenPro2Options eo;
    eo.nystrom_samples = static_cast<std::size_t>(o.integer("solver.nystrom_samples"));
    eo.preconditioner_level = static_cast<std::size_t>(o.integer("solver.preconditioner_level"));
    eo.batch_size = static_cast<std::size_t>(o.integer("solver.batch_size"));
    eo.batch_cap = static_cast<std::size_t>(o.integer("solver.batch_cap"));
    eo.epochs = static_cast<std::size_t>(o.integer("solver.epochs"));
    eo.seed = seed;
    eo.precision = precision;
    bool logged_setup = false;
    EigenPro2Result result;
    auto on_epoch = [&](const EpochState& st) {
      if (!logged_setup) {
        logged_setup = true;
        const auto& prm = *st.parameters;
        log.info(
            "eigenpro2: s = %zu, q = %zu, lambda_1 = %.4g, lambda_q+1 = %.4g, beta = %g, m* = "
            "%.1f, batch %zu, step %.4g (per batch %.4g), setup %.2f s",
            prm.s, prm.q, prm.lambda_1, prm.lambda_q1, prm.beta, prm.critical_batch, prm.batch_size,
            prm.step_size, prm.batch_step, st.setup_seconds);
        metrics.line(Json()
                         .add("event", "setup")
                         .add("solver", "eigenpro2")
                         .add("nystrom_samples", static_cast<double>(prm.s))
                         .add("q", static_cast<double>(prm.q))
                         .add("beta", prm.beta)
                         .add("lambda_1", prm.lambda_1)
                         .add("lambda_q1", prm.lambda_q1)
                         .add("critical_batch", prm.critical_batch)
                         .add("batch_size", static_cast<double>(prm.batch_size))
                         .add("step_size", prm.step_size)
                         .add("batch_step", prm.batch_step)
                         .add("setup_s", st.setup_seconds)
                         .str());
      }
      const double val = report(
          st.epoch, *st.alpha,
          Json()
              .add("solver", "eigenpro2")
              .add("epoch_s", st.epoch_seconds)
              .add("batch_loss", st.batch_loss)
              .add("batch_size", static_cast<double>(st.parameters->batch_size))
              .add("step_size", st.parameters->step_size)
              .add("q", static_cast<double>(st.parameters->q))
              .add("setup_s", st.setup_seconds)
              .add("bytes_per_step", static_cast<double>(st.bytes_sent) /
                                         static_cast<double>(std::max<std::size_t>(st.steps, 1)))
              .add("comm_s", st.comm_seconds),
          nullptr, st.epoch_seconds);
      return keep_best(st.epoch, val, *st.alpha);
    };
    // Checkpoint and resume: the solver's weights and counters plus this driver's early-stopping
    // state and metrics; the preconditioner is rebuilt from the seed.
    IterationControl control;
    const std::optional<Checkpoint> resumed = resume_epochs("eigenpro2", n, control);
    if (resumed) {
      control.start_alpha = &resumed->array("alpha")->local;
      logged_setup = resumed->scalar("logged_setup") != 0;
    }
    if (step_hook)
      control.after_step = [&](const StepState& st) {
        auto make = [&] {
          Checkpoint ck = epoch_checkpoint("eigenpro2", n, st);
          ck.scalars["logged_setup"] = logged_setup ? 1.0 : 0.0;
          return ck;
        };
        return after_step(make, [&] { return describe_step(st); });
      };
    result = train_eigenpro2(comm, problem, eo, on_epoch, control);
    if (result.interrupted) {
      return stopped_after_checkpoint(stop_signal);
    }
    alpha = best_epoch > 0 ? std::move(best_alpha) : std::move(result.alpha);
    if (best_epoch > 0 && has_test) {
      const LocalCenters centers(problem.x, precision);
      last_test = evaluate(comm, kernel, centers, alpha, test, classification);
    }
  }

  if (!o.str("output.model").empty()) {
    LocalModel model;
    model.header = header;
    model.partition = own_centers ? center_partition : problem.partition;
    model.centers = own_centers ? std::move(center_rows) : std::move(problem.x);
    model.header.centers = model.partition.size();
    model.weights = std::move(alpha);
    save_model(comm, o.str("output.model"), model);
  }
  Json done;
  done.add("event", "done")
      .add("elapsed_s", elapsed_before + wall.seconds())
      .add("ranks", static_cast<double>(P));
  if (has_test && !test.y.empty()) {
    done.add("test_mse", last_test.mse);
    if (classification) done.add("test_accuracy", last_test.accuracy);
  }
  metrics.line(done.str());
  metrics.finish(comm);
  if (has_test && !test.y.empty() && classification)
    log.info("kmpi: test accuracy %.4f on %zu points, wall time %.2f s on %d ranks",
             last_test.accuracy, test.n, wall.seconds(), P);
  else
    log.info("kmpi: done, wall time %.2f s on %d ranks", wall.seconds(), P);
  return 0;
}

namespace {

struct LoadedModel {
  LocalModel model;
  LocalCenters centers;
};

LoadedModel load(const mpi::Communicator& comm, const Options& o) {
  require(comm, !o.str("model").empty(), "this command needs --model FILE");
  LoadedModel m;
  m.model = load_model(comm, o.str("model"));
  m.centers = LocalCenters(m.model.centers, Precision::kFloat64);
  return m;
}

}  // namespace

int run_predict(const mpi::Communicator& comm, const Options& o) {
  const std::string features = o.str("data.features"), out = o.str("output.predictions");
  require(comm, !features.empty(), "predict needs --data.features PATH");
  require(comm, !out.empty(), "predict needs --output.predictions PATH");
  LoadedModel m = load(comm, o);
  const ModelHeader& h = m.model.header;
  check_data_options(comm, o, "predict");
  // A CSV label column is dropped only when named; LIBSVM labels are read and ignored.
  ReadOptions read = read_options(o);
  read.embedded_labels = o.given("data.label_column");
  mpi::agree_on(comm, [&] {
    if (resolve_format(features, read) == FileFormat::kLibsvm) read.embedded_labels = true;
  });
  EvalSet set = load_eval_set(comm, "predict", features, "", {}, h, read);
  Matrix<double> pred;
  evaluate(comm, h.kernel, m.centers, m.model.weights, set, h.task == Task::kClassification, &pred);
  // Gather to rank 0, which writes the file under a temporary name and renames it.
  const int P = comm.size();
  const std::size_t c = h.outputs;
  std::vector<int> counts(P), displs(P);
  for (int r = 0; r < P; ++r) {
    counts[r] = static_cast<int>((set.offsets[r + 1] - set.offsets[r]) * c);
    displs[r] = static_cast<int>(set.offsets[r] * c);
  }
  Matrix<double> all(set.n, c);
  comm.allgatherv(pred.data(), all.data(), counts, displs);
  bool ok = true;
  if (comm.rank() == 0) {
    const std::string tmp = out + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    ok = f != nullptr;
    for (std::size_t i = 0; ok && i < set.n; ++i) {
      if (h.task == Task::kClassification) {
        std::fprintf(f, "%td\n", std::max_element(all.row(i), all.row(i) + c) - all.row(i));
      } else {
        for (std::size_t j = 0; j < c; ++j) std::fprintf(f, j ? ",%.17g" : "%.17g", all(i, j));
        std::fputc('\n', f);
      }
    }
    if (f) ok = std::fclose(f) == 0 && ok;
    ok = ok && std::rename(tmp.c_str(), out.c_str()) == 0;
    if (!ok) std::remove(tmp.c_str());
  }
  mpi::agree(comm, ok, out + ": cannot write predictions");
  Log(comm).info("kmpi predict: %zu rows -> %s", set.n, out.c_str());
  return 0;
}

int run_eval(const mpi::Communicator& comm, const Options& o) {
  const std::string features = o.str("data.features"), labels = o.str("data.labels");
  require(comm, !features.empty(), "eval needs --data.features PATH");
  check_data_options(comm, o, "eval");
  ReadOptions read = read_options(o);
  read.embedded_labels = labels.empty();
  {
    FileFormat format = FileFormat::kNpy;
    mpi::agree_on(comm, [&] { format = resolve_format(features, read); });
    require(comm, !labels.empty() || format_has_labels(format),
            features + ": this format holds no labels; give --data.labels PATH");
  }
  LoadedModel m = load(comm, o);
  const ModelHeader& h = m.model.header;
  const bool classification = h.task == Task::kClassification;
  EvalSet set = load_eval_set(comm, "eval", features, labels, {}, h, read);
  const FitMetrics fm = evaluate(comm, h.kernel, m.centers, m.model.weights, set, classification);
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

int run_info(const mpi::Communicator& comm, const Options& o) {
  Log log(comm);
  if (!o.str("model").empty()) {
    ModelHeader h;
    mpi::agree_on(comm, [&] { h = read_model_header(o.str("model")); });
    log.info(
        "model %s: kernel %s bandwidth %g, %s, d = %zu, outputs = %zu, centers = %zu, scaling %u",
        o.str("model").c_str(), h.kernel.name().c_str(), h.kernel.bandwidth,
        h.task == Task::kClassification ? "classification" : "regression", h.dimension, h.outputs,
        h.centers, static_cast<unsigned>(h.scaling.mode));
  }
  if (!o.str("data.features").empty()) {
    const FileInfo f = probe_distributed(comm, o.str("data.features"), read_options(o));
    log.info("data %s: %zu rows x %zu columns, %s", o.str("data.features").c_str(), f.rows, f.cols,
             f.element == ElementKind::kInteger ? "integer" : "floating");
  }
  return 0;
}

}  // namespace kmpi
