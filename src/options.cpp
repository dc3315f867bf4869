#include "kmpi/options.hpp"

#include <boost/program_options.hpp>
#include <cmath>
#include <fstream>
#include <sstream>

#include "kmpi/error.hpp"

namespace po = boost::program_options;

namespace kmpi {

namespace {

OptionSpec make(const char* key, OptionType type, const char* def, const char* description,
                std::vector<std::string> choices = {}, double min = -1e308, double max = 1e308) {
  return OptionSpec{key, type, def, description, std::move(choices), min, max};
}

std::vector<OptionSpec> build_table() {
  using T = OptionType;
  return {
      make("data.train_features", T::kString, "",
           "Training features: .npy, .csv, LIBSVM (.svm) or IDX (gzip or raw)"),
      make("data.train_labels", T::kString, "",
           "Training labels/targets (1-D for labels); empty: from the features file (LIBSVM "
           "labels, CSV data.label_column)"),
      make("data.test_features", T::kString, "",
           "Test features (optional), evaluated after training"),
      make("data.test_labels", T::kString, "", "Test labels/targets"),
      make("data.centers", T::kString, "",
           "falkon / eigenpro4: read the centers from this file (any features format, the "
           "training d, scaled like the training data) instead of drawing solver.centers rows"),
      make("data.features", T::kString, "", "Features for predict / eval"),
      make("data.labels", T::kString, "", "Labels for eval"),
      make("data.scale", T::kChoice, "none",
           "Feature scaling, stored in the model: none | unit (divide by the largest absolute "
           "training value) | standardize (per feature)",
           {"none", "unit", "standardize"}),
      make("data.limit", T::kInteger, "0", "Train on this many rows drawn by solver.seed (0 = all)",
           {}, 0),
      make("data.task", T::kChoice, "auto",
           "classification | regression | auto (integer labels = classes, floating = targets)",
           {"auto", "classification", "regression"}),
      make("data.format", T::kChoice, "auto",
           "Format of the features files: auto (from the name: .npy, .csv/.tsv/.txt, "
           ".svm/.libsvm/.svmlight, file.h5:/dataset, IDX names) | npy | csv | libsvm | idx | "
           "hdf5; labels files go by their name",
           {"auto", "npy", "csv", "libsvm", "idx", "hdf5"}),
      make("data.header", T::kChoice, "auto",
           "CSV header line: auto (a first line with a non-numeric token) | true | false",
           {"auto", "true", "false"}),
      make("data.label_column", T::kString, "last",
           "CSV without a labels file: the column holding the labels (last | first | 1-based "
           "number | header name); the other columns are features"),
      make("data.dimension", T::kInteger, "0",
           "LIBSVM: number of features d (0 = the largest index in the file); larger indices "
           "are refused",
           {}, 0, 4294967295.0),
      make("data.allow_nonfinite", T::kBool, "false",
           "Accept NaN/Inf values in features and labels (refused by default)"),
      make("data.validation_fraction", T::kReal, "0",
           "Fraction of training rows held out for validation and early stopping (iterative "
           "solvers)",
           {}, 0, 0.5),
      make("kernel.name", T::kChoice, "gaussian", "Kernel: gaussian | laplacian | matern | cauchy",
           {"gaussian", "laplacian", "matern", "cauchy"}),
      make("kernel.bandwidth", T::kReal, "5", "Kernel bandwidth sigma (> 0)", {}, 1e-300),
      make("kernel.nu", T::kReal, "1.5", "Matern smoothness: 0.5, 1.5 or 2.5"),
      make("solver.name", T::kChoice, "eigenpro2",
           "direct (exact KRR, ScaLAPACK Cholesky) | eigenpro2 (preconditioned SGD) | falkon "
           "(Nystrom KRR on solver.centers centers by preconditioned conjugate gradient) | "
           "eigenpro4 (square loss on solver.centers centers, preconditioned SGD with delayed "
           "projection)",
           {"direct", "eigenpro2", "falkon", "eigenpro4"}),
      make("solver.epochs", T::kInteger, "5", "Epochs of the iterative solvers", {}, 1, 1e9),
      make("solver.batch_size", T::kInteger, "0",
           "Batch size m (0 = automatic: min(critical batch size, solver.batch_cap))", {}, 0, 1e9),
      make("solver.batch_cap", T::kInteger, "2000",
           "Upper limit for the automatic batch size (eigenpro4: 10000 unless given)", {}, 1, 1e9),
      make("solver.seed", T::kInteger, "1",
           "Seed of every random choice (samples, batches, subsets)", {}, 0, 9.2e18),
      make("solver.ridge", T::kReal, "1e-8",
           "Ridge lambda: direct solves (K + lambda n I) alpha = Y; falkon minimises "
           "||K_nZ alpha - Y||^2 + lambda n alpha^T K_ZZ alpha",
           {}, 0),
      make("solver.precision", T::kChoice, "float32",
           "Kernel block precision; weights and reductions always accumulate in float64",
           {"float32", "float64"}),
      make("solver.nystrom_samples", T::kInteger, "0",
           "Nystrom subsample size s (0 = min(n, 2000) for n < 1e5, else 12000; eigenpro4's data "
           "preconditioner: min(p, 3000) of its centers)",
           {}, 0, 1e9),
      make("solver.preconditioner_level", T::kInteger, "0",
           "Preconditioner level q (0 = automatic; eigenpro4: min(150, s / 3, p / 4))", {}, 0, 1e9),
      make("solver.centers", T::kInteger, "0",
           "Centers p of falkon and eigenpro4: training rows drawn by solver.seed (0 = min(n, "
           "10000))",
           {}, 0, 1e9),
      make("solver.projection_period", T::kInteger, "0",
           "eigenpro4: batches T between projections onto the centers (0 = max(1, p / m); 1 = "
           "EigenPro 3)",
           {}, 0, 1e9),
      make("solver.projection_epochs", T::kInteger, "1",
           "eigenpro4: epochs of EigenPro 2 over the centers that solve each projection", {}, 1,
           1e6),
      make("solver.model_nystrom_samples", T::kInteger, "0",
           "eigenpro4: Nystrom subsample of the centers for the projection (0 = min(p, 3000))", {},
           0, 1e9),
      make("solver.model_preconditioner_level", T::kInteger, "0",
           "eigenpro4: preconditioner level of the projection (0 = min(150, s_model / 3))", {}, 0,
           1e9),
      make("solver.iterations", T::kInteger, "20", "Most conjugate gradient iterations (falkon)",
           {}, 1, 1e9),
      make("solver.tolerance", T::kReal, "1e-7",
           "falkon stops when every output's residual is below this fraction of its first", {}, 0,
           1),
      make("solver.patience", T::kInteger, "2",
           "Early stopping: stop after this many epochs without a lower validation loss", {}, 1,
           1e9),
      make("output.model", T::kString, "", "Model file to write (train)"),
      make("output.metrics", T::kString, "", "JSON-lines metrics file (train, eval)"),
      make("output.predictions", T::kString, "", "Predictions file (predict): one row per input"),
      make("output.data", T::kString, "",
           "convert: .npy file for the features (float64), written atomically"),
      make("output.labels", T::kString, "",
           "convert: .npy file for the labels (int64 if all are integers, else float64)"),
      make("model", T::kString, "", "Model file to read (predict, eval, info)"),
      make("run.verbose_ranks", T::kBool, "false", "Every rank logs, prefixed with its rank"),
      make("run.memory_limit", T::kString, "auto",
           "Memory one rank may use: a size such as 4G, or auto (the node's available memory / "
           "the ranks on it); train refuses a run whose estimate is larger"),
      make("run.dry_run", T::kBool, "false",
           "train: print the memory plan and exit after reading the data (also --dry-run)"),
      make("run.checkpoint_dir", T::kString, "",
           "Directory for checkpoints of the iterative solvers (empty = none). With it, SIGTERM "
           "and SIGUSR1 make train checkpoint at the next step and exit with code 3"),
      make("run.checkpoint_every", T::kReal, "600",
           "Seconds (rank 0's clock) between checkpoints; 0 = after every step", {}, 0),
      make("run.resume", T::kChoice, "no",
           "no | auto (continue from run.checkpoint_dir's checkpoint if there is one) | require "
           "(fail if there is none); options that shape the run must match the checkpoint",
           {"no", "auto", "require"}),
      make("run.step_delay_ms", T::kReal, "0",
           "Testing aid: sleep this long after every solver step (to exercise signals and time "
           "limits on tiny data); does not change the result",
           {}, 0, 60000),
  };
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
