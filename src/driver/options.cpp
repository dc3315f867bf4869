#include "kmpi/options.hpp"

#include <boost/program_options.hpp>
#include <cmath>
#include <fstream>
#include <sstream>

#include "kmpi/error.hpp"
#include "driver/option_sections.hpp"

namespace po = boost::program_options;

namespace kmpi {

namespace {

using namespace option_spec;  // path, text, flag, choice, integer, real


std::vector<OptionSpec> data_options() {
  return {
      path("data.train_features",
           "Training features: .npy, .csv, LIBSVM (.svm) or IDX (gzip or raw)"),
      path("data.train_labels",
           "Training labels/targets (1-D for labels; next to a CSV table, a CSV of class names, "
           "one per line, optional header line); empty: from the features file (LIBSVM "
           "labels, CSV data.label_column)"),
      path("data.test_features", "Test features (optional), evaluated after training"),
      path("data.test_labels", "Test labels/targets"),
      path("data.validation_features",
           "Validation features (optional; formats and table encoding as data.test_features): "
           "these rows are the validation split (RFM's iteration, early stopping, kmpi tune's "
           "score, an xRFM tree's leaves) and no training row is held out; not with "
           "data.validation_fraction"),
      path("data.validation_labels",
           "Validation labels/targets (class names for a table model); empty: from the "
           "validation features file (LIBSVM labels, CSV label column)"),
      path("data.centers",
           "falkon / eigenpro4: read the centers from this file (any features format, the "
           "training d, scaled like the training data) instead of drawing solver.centers rows"),
      path("data.features", "Features for predict / eval"),
      path("data.labels", "Labels for eval (class names for a table model)"),
      choice("data.scale", "none",
             "Feature scaling, stored in the model: none | unit (divide by the largest absolute "
             "training value) | standardize (per feature)",
             {"none", "unit", "standardize"}),
      integer("data.limit", "0", "Train on this many rows drawn by solver.seed (0 = all)", 0),
      choice("data.task", "auto",
             "classification | regression | auto (integer labels = classes, floating = targets)",
             {"auto", "classification", "regression"}),
      choice("data.format", "auto",
             "Format of the features files: auto (from the name: .npy, .csv/.tsv/.txt, "
             ".svm/.libsvm/.svmlight, file.h5:/dataset, IDX names) | npy | csv | libsvm | idx | "
             "hdf5; labels files go by their name",
             {"auto", "npy", "csv", "libsvm", "idx", "hdf5"}),
      choice("data.header", "auto",
             "CSV header line: auto (a first line with a non-numeric token) | true | false",
             {"auto", "true", "false"}),
      text("data.label_column", "last",
           "CSV without a labels file: the column holding the labels (last | first | 1-based "
           "number | header name); the other columns are features"),
      integer("data.dimension", "0",
              "LIBSVM: number of features d (0 = the largest index in the file); larger indices "
              "are refused",
              0, 4294967295.0),
      flag("data.allow_nonfinite", "false",
           "Accept NaN/Inf values in features and labels (refused by default)"),
      real("data.validation_fraction", "0",
           "Fraction of training rows held out for validation and early stopping (iterative "
           "solvers); or give data.validation_features",
           0, 0.5),
  };
}

// kernel.*: the kernel function.
std::vector<OptionSpec> kernel_options() {
  return {
      choice("kernel.name", "gaussian", "Kernel: gaussian | laplacian | matern | cauchy",
             {"gaussian", "laplacian", "matern", "cauchy"}),
      real("kernel.bandwidth", "5", "Kernel bandwidth sigma (> 0)", 1e-300),
      real("kernel.nu", "1.5", "Matern smoothness: 0.5, 1.5 or 2.5"),
      real("kernel.exponent", "1",
           "Laplace family exp(-||x - z||_p^q / sigma^q) (kernel.name = laplacian only): the "
           "exponent q, 0 < q <= kernel.norm_p; 1 with norm_p 2 is the Laplacian",
           1e-300, 2),
      real("kernel.norm_p", "2",
           "Laplace family (kernel.name = laplacian only): the p of the p-norm distance, "
           "kernel.exponent <= p <= 2; p != 2 costs an elementwise pass over d per pair "
           "instead of a GEMM",
           1e-300, 2),
      choice("kernel.metric", "none",
             "Mahalanobis metric M of the kernel distance, r^2 = (x-z)^T M (x-z) on scaled "
             "features: none (Euclidean) | diagonal | full (M from kernel.metric_file)",
             {"none", "diagonal", "full"}),
      path("kernel.metric_file",
           "kernel.metric != none: .npy of M, d values (diagonal) or d x d (full, symmetric; "
           "negative eigenvalues are clipped to 0)"),
  };
}

// solver.*: which solver and its parameters.
std::vector<OptionSpec> solver_options() {
  return {
      choice("solver.name", "eigenpro2",
             "direct (exact KRR, ScaLAPACK Cholesky) | eigenpro2 (preconditioned SGD) | falkon "
             "(Nystrom KRR on solver.centers centers by preconditioned conjugate gradient) | "
             "eigenpro4 (square loss on solver.centers centers, preconditioned SGD with delayed "
             "projection)",
             {"direct", "eigenpro2", "falkon", "eigenpro4"}),
      integer("solver.epochs", "5", "Epochs of the iterative solvers", 1, 1e9),
      integer("solver.batch_size", "0",
              "Batch size m (0 = automatic: min(half the critical batch size, solver.batch_cap))",
              0, 1e9),
      integer("solver.batch_cap", "2000",
              "Upper limit for the automatic batch size (eigenpro4: 10000 unless given)", 1, 1e9),
      integer("solver.seed", "1", "Seed of every random choice (samples, batches, subsets)", 0,
              9.2e18),
      real("solver.ridge", "1e-8",
           "Ridge lambda: direct solves (K + lambda n I) alpha = Y; falkon minimises "
           "||K_nZ alpha - Y||^2 + lambda n alpha^T K_ZZ alpha",
           0),
      choice("solver.precision", "float32",
             "Kernel block precision; weights and reductions always accumulate in float64",
             {"float32", "float64"}),
      integer(
          "solver.nystrom_samples", "0",
          "Nystrom subsample size s (0 = min(n, 2000) for n < 1e5, else 12000; eigenpro4's data "
          "preconditioner: min(p, 3000) of its centers)",
          0, 1e9),
      integer("solver.preconditioner_level", "0",
              "Preconditioner level q (0 = automatic; eigenpro4: min(150, s / 3, p / 4))", 0, 1e9),
      integer("solver.centers", "0",
              "Centers p of falkon and eigenpro4: training rows drawn by solver.seed (0 = min(n, "
              "10000))",
              0, 1e9),
      integer("solver.projection_period", "0",
              "eigenpro4: batches T between projections onto the centers (0 = max(1, p / m); 1 = "
              "EigenPro 3)",
              0, 1e9),
      integer("solver.projection_epochs", "1",
              "eigenpro4: epochs of EigenPro 2 over the centers that solve each projection", 1,
              1e6),
      integer("solver.model_nystrom_samples", "0",
              "eigenpro4: Nystrom subsample of the centers for the projection (0 = min(p, 3000))",
              0, 1e9),
      integer("solver.model_preconditioner_level", "0",
              "eigenpro4: preconditioner level of the projection (0 = min(150, s_model / 3))", 0,
              1e9),
      choice("solver.projection", "auto",
             "eigenpro4: how each projection solves K_ZZ theta = h: cholesky (one factor of "
             "K_ZZ + eps I, p^2 / P doubles per rank, exact) | eigenpro2 (solver.projection_epochs "
             "epochs of EigenPro 2 over the centers) | auto (cholesky when the memory plan fits)",
             {"auto", "cholesky", "eigenpro2"}),
      choice("solver.factor_precision", "float64",
             "falkon: precision of its Cholesky factors of K_ZZ + eps I and of L^T L / p + lambda "
             "I (float32: half the setup time, with eps = 1e-6 p instead of 1e-7 p); eigenpro4: "
             "of the exact projection's factor (float32: stored in p^2 / P floats per rank, half "
             "the memory)",
             {"float64", "float32"}),
      integer("solver.eval_every", "1",
              "falkon: test metrics (a cg_iteration metrics line) after every this many CG "
              "iterations when a test set with labels is given (0 = only at the end); cheap: "
              "K(test, Z) is kept between evaluations",
              0, 1e9),
      integer("solver.iterations", "20", "Most conjugate gradient iterations (falkon)", 1, 1e9),
      real("solver.tolerance", "1e-7",
           "falkon stops when every output's residual is below this fraction of its first", 0, 1),
      integer("solver.patience", "2",
              "Early stopping: stop after this many epochs without a lower validation loss", 1,
              1e9),
  };
}

// output.* and the model file to read: what commands write and read.
std::vector<OptionSpec> output_options() {
  return {
      path("output.model", "Model file to write (train)"),
      path("output.metrics", "JSON-lines metrics file (train, eval)"),
      path("output.metric_matrix",
           "train with rfm.iterations > 0: the learned metric M of the returned model as .npy "
           "(d, or d x d)"),
      path("output.predictions", "Predictions file (predict): one row per input"),
      path("output.data", "convert: .npy file for the features (float64), written atomically"),
      path("output.labels",
           "convert: .npy file for the labels (int64 if all are integers, else float64)"),
      path("model", "Model file to read (predict, eval, info)"),
  };
}

// run.*: how a run is executed (logging, memory, checkpoints).
std::vector<OptionSpec> run_options() {
  return {
      flag("run.verbose_ranks", "false", "Every rank logs, prefixed with its rank"),
      text("run.memory_limit", "auto",
           "Memory one rank may use: a size such as 4G, or auto (the node's available memory / "
           "the ranks on it); train refuses a run whose estimate is larger"),
      flag("run.dry_run", "false",
           "train: print the memory plan and exit after reading the data (also --dry-run)"),
      path("run.checkpoint_dir",
           "Directory for checkpoints of the iterative solvers (empty = none). With it, SIGTERM "
           "and SIGUSR1 make train checkpoint at the next step and exit with code 3"),
      real("run.checkpoint_every", "600",
           "Seconds (rank 0's clock) between checkpoints; 0 = after every step", 0),
      choice("run.resume", "no",
             "no | auto (continue from run.checkpoint_dir's checkpoint if there is one) | require "
             "(fail if there is none); options that shape the run must match the checkpoint",
             {"no", "auto", "require"}),
      choice("run.progress", "auto",
             "Progress lines with an ETA on stderr from rank 0 (steps of an epoch, CG "
             "iterations): auto = one updating line when stderr is a terminal, else (SLURM logs; "
             "also under mpirun, which pipes the ranks' stderr) a plain line every "
             "run.progress_seconds | on (as auto, and every epoch's last step always gets a "
             "line) | off",
             {"auto", "on", "off"}),
      real("run.progress_seconds", "30",
           "Seconds between plain progress lines when stderr is not a terminal (0 = every step)",
           0),
      real("run.stall_timeout", "120",
           "Seconds a rank may wait in one MPI call (a collective whose peer or network is gone) "
           "before it ends the job with exit code 4 and one line; 0 = wait for ever. Its own "
           "local work never counts, but its peers wait for it: keep it above the longest time "
           "ranks wait for one rank's local work",
           0),
      real("run.step_delay_ms", "0",
           "Testing aid: sleep this long after every solver step (to exercise signals and time "
           "limits on tiny data); does not change the result",
           0, 60000),
  };
}

// The table in documentation order: sections in the order of a config file.
std::vector<OptionSpec> build_table() {
  std::vector<OptionSpec> table;
  for (auto section : {data_options, table_data_options, kernel_options, solver_options,
                       rfm_options, tree_options, tune_options, output_options, run_options})
    for (auto& spec : section()) table.push_back(std::move(spec));
  return table;
}

bool parse_bool(const std::string& v, bool* out) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") return *out = true, true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return *out = false, true;
  return false;
}

const OptionSpec* find_spec(const std::string& key) {
  for (const auto& s : option_table())
    if (s.key == key) return &s;
  return nullptr;
}

// Throws a one-line error naming the key (and `where`) if value does not fit the spec.
void check_value(const OptionSpec& spec, const std::string& value, const std::string& where) {
  const std::string prefix = where + "option " + spec.key + ": ";
  switch (spec.type) {
    case OptionType::kString:
      return;
    case OptionType::kBool: {
      bool b;
      if (!parse_bool(value, &b))
        throw Error(prefix + "expected true or false, got '" + value + "'");
      return;
    }
    case OptionType::kChoice: {
      for (const auto& c : spec.choices)
        if (c == value) return;
      std::string list;
      for (const auto& c : spec.choices) list += (list.empty() ? "" : ", ") + c;
      throw Error(prefix + "'" + value + "' is not one of " + list);
    }
    case OptionType::kInteger:
    case OptionType::kReal: {
      std::size_t used = 0;
      double v = 0;
      try {
        v = spec.type == OptionType::kInteger ? static_cast<double>(std::stoll(value, &used))
                                              : std::stod(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != value.size() || !std::isfinite(v))
        throw Error(prefix + "expected " +
                    (spec.type == OptionType::kInteger ? "an integer" : "a number") + ", got '" +
                    value + "'");
      if (v < spec.min || v > spec.max) {
        std::ostringstream range;
        range << "must be";
        if (spec.min > 0 && spec.min < 1e-200)
          range << " > 0";  // the table's "positive"
        else if (spec.min > -1e300)
          range << " >= " << spec.min;
        if (spec.max < 1e300) range << (spec.min > -1e300 ? " and" : "") << " <= " << spec.max;
        throw Error(prefix + range.str() + ", got " + value);
      }
      return;
    }
  }
}

po::options_description boost_description() {
  po::options_description desc;
  desc.add_options()("config", po::value<std::string>(), "INI config file");
  desc.add_options()("help", "Show this help");
  for (const auto& s : option_table())
    desc.add_options()(s.key.c_str(), po::value<std::string>(), s.description.c_str());
  return desc;
}

}  // namespace

const std::vector<OptionSpec>& option_table() {
  static const std::vector<OptionSpec> table = build_table();
  return table;
}

std::string Options::str(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw Error("internal: no option named " + key);
  return it->second;
}
long long Options::integer(const std::string& key) const { return std::stoll(str(key)); }
double Options::real(const std::string& key) const { return std::stod(str(key)); }
bool Options::flag(const std::string& key) const {
  bool b = false;
  parse_bool(str(key), &b);
  return b;
}
bool Options::given(const std::string& key) const {
  auto it = given_.find(key);
  return it != given_.end() && it->second;
}
void Options::set(const std::string& key, const std::string& value) {
  const OptionSpec* spec = find_spec(key);
  if (!spec) throw Error("unknown option " + key);
  check_value(*spec, value, "");
  values_[key] = value;
  given_[key] = true;
}

void Options::reset(const std::string& key) {
  const OptionSpec* spec = find_spec(key);
  if (!spec) throw Error("unknown option " + key);
  values_[key] = spec->default_value;
  given_.erase(key);
}

Options parse_options(const std::vector<std::string>& args) {
  const po::options_description desc = boost_description();
  po::variables_map cli, file;
  try {
    po::store(
        po::command_line_parser(args)
            .options(desc)
            .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
            .run(),
        cli);
  } catch (const po::error& e) {
    throw Error(std::string("command line: ") + e.what());
  }
  std::string config_path;
  if (cli.count("config")) {
    config_path = cli["config"].as<std::string>();
    std::ifstream in(config_path);
    if (!in) throw Error(config_path + ": cannot open config file");
    try {
      po::store(po::parse_config_file(in, desc, false), file);
    } catch (const po::error& e) {
      throw Error(config_path + ": " + e.what());
    }
  }
  Options o;
  for (const auto& s : option_table()) {
    o.values_[s.key] = s.default_value;
    std::string where;
    if (cli.count(s.key)) {
      o.values_[s.key] = cli[s.key].as<std::string>();
    } else if (file.count(s.key)) {
      o.values_[s.key] = file[s.key].as<std::string>();
      where = config_path + ": ";
    } else {
      continue;
    }
    o.given_[s.key] = true;
    check_value(s, o.values_[s.key], where);
  }
  return o;
}

std::string options_help() {
  std::ostringstream out;
  out << "usage: kmpi <train|predict|eval|info> [--config FILE] [--section.key=value ...]\n\n"
         "  train    train a model (solver.name) on data.train_features / data.train_labels\n"
         "  predict  --model FILE --data.features PATH --output.predictions PATH\n"
         "  eval     --model FILE --data.features PATH --data.labels PATH [--output.metrics PATH]\n"
         "  info     --model FILE | --data.features PATH | --print-config\n"
         "  convert  --data.features PATH [--data.labels PATH] --output.data X.npy "
         "[--output.labels Y.npy]\n\n"
         "Options (INI key = section.key; the command line wins over --config):\n";
  for (const auto& s : option_table()) {
    out << "  --" << s.key << " (default: " << (s.default_value.empty() ? "none" : s.default_value)
        << ")\n      " << s.description << "\n";
  }
  return out.str();
}

std::string default_config() {
  std::ostringstream out;
  out << "# kmpi configuration: every option at its default (generated by `kmpi info "
         "--print-config`).\n"
         "# Keys are section.key; the command line (--section.key=value) overrides this file.\n";
  std::string section = "\x01";
  for (const auto& s : option_table()) {
    const auto dot = s.key.find('.');
    const std::string sec = dot == std::string::npos ? "" : s.key.substr(0, dot);
    const std::string name = dot == std::string::npos ? s.key : s.key.substr(dot + 1);
    if (sec != section) {
      // Bare keys must come before any [section]; the table lists them last, so they are
      // written commented out (they are command-line options of predict/eval/info).
      if (!sec.empty()) out << "\n[" << sec << "]\n";
      section = sec;
    }
    out << "# " << s.description << "\n";
    if (sec.empty()) out << "# ";
    out << name << " = " << s.default_value << "\n";
  }
  return out.str();
}

}  // namespace kmpi
