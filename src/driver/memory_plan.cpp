// The memory planner (see memory_plan.hpp).
#include "driver/memory_plan.hpp"
#include "driver/data_options.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "kmpi/data.hpp"
#include "kmpi/error.hpp"
#include "kmpi/kernel_operator.hpp"

namespace kmpi {

namespace {

// An option of another engineer's solver may not be in this build's table; 0 then.
long long integer_or_zero(const Options& o, const std::string& key) {
  try {
    return o.integer(key);
  } catch (const std::exception&) {
    return 0;
  }
}

std::string gib(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g GiB", bytes / (1024.0 * 1024 * 1024));
  return text;
}

// MemAvailable of /proc/meminfo, in bytes (0 if unknown).
double available_memory() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  return 0;
}

}  // namespace

double MemoryPlan::total() const {
  double t = 0;
  for (const auto& item : items) t += item.bytes;
  return t;
}

std::string MemoryPlan::describe() const {
  std::ostringstream out;
  for (const auto& item : items) out << "  " << item.what << ": " << gib(item.bytes) << "\n";
  out << "  total per rank: " << gib(total());
  return out.str();
}

namespace {

// What every solver's estimate starts from: P ranks, the busiest rank's ceil(n / P) data rows.
struct PlanShape {
  std::size_t n = 0;
  double P = 1, rows = 0, D = 0, C = 0;  // ranks, rows per rank, d, c
  bool f32 = true;                       // kernel operands in float32
  double tile_budget = 0;                // bytes of one kernel tile
};

// local: the items every run has, and the operands and weights of the solvers whose centers
// are the data rows (direct, eigenpro2).
void plan_common(const Options& o, const PlanShape& s, std::size_t n_eval, MemoryPlan& plan) {
  const double P = s.P, rows = s.rows, D = s.D, C = s.C;
  const std::string solver = o.str("solver.name");
  plan.items.push_back(
      {"data block (" + std::to_string(static_cast<std::size_t>(rows)) + " rows x (d + c) doubles)",
       rows * (D + C) * 8});
  // Measured here: a kmpi rank that trains 40 points peaks at 26 MiB (MPI, OpenBLAS, libraries);
  // the binary readers decode through a buffer of up to 32 MiB.
  plan.items.push_back({"process baseline and read buffer", (26.0 + 32.0) * 1024 * 1024});
  // kernel.metric = full: M and its eigenvectors while S = M^(1/2) is formed, S kept (d x d).
  if (o.str("kernel.metric") == "full")
    plan.items.push_back({"metric M, S (d x d, replicated)", 3 * D * D * 8});
  if (n_eval > 0)
    plan.items.push_back(
        {"test and validation rows", std::ceil(static_cast<double>(n_eval) / P) * (D + C) * 8});
  if (solver != "direct" && solver != "eigenpro2") return;
  plan.items.push_back(
      {"kernel operands (the rows again, float32 or float64)", rows * D * (s.f32 ? 4 : 8)});
  // The metrics of every epoch (train probe, validation, test) are computed with a second
  // operand copy that train builds next to the solver's own.
  if (solver != "direct")
    plan.items.push_back({"kernel operands for the epoch metrics", rows * D * (s.f32 ? 4 : 8)});
  const bool early_stopping =
      o.real("data.validation_fraction") > 0 || !o.str("data.validation_features").empty();
  plan.items.push_back({"weights alpha", rows * C * 8 * (early_stopping ? 2 : 1)});
}

void plan_direct(const PlanShape& s, MemoryPlan& plan) {
  const double N = static_cast<double>(s.n);
  plan.items.push_back({"K (n x n, block-cyclic)", N * N / s.P * 8});
  plan.reduce_hint = "more ranks, data.limit, or an iterative solver (solver.name=eigenpro2)";
}

void plan_eigenpro2(const Options& o, const PlanShape& s, MemoryPlan& plan) {
  const std::size_t n = s.n;
  const double P = s.P, D = s.D, C = s.C;
  long long samples = integer_or_zero(o, "solver.nystrom_samples");
  if (samples == 0)
    samples = n < 100000 ? static_cast<long long>(std::min<std::size_t>(n, 2000)) : 12000;
  const double S = static_cast<double>(std::min<std::size_t>(static_cast<std::size_t>(samples), n));
  long long m = integer_or_zero(o, "solver.batch_size");
  if (m == 0) m = integer_or_zero(o, "solver.batch_cap");
  const double M = static_cast<double>(m);
  plan.items.push_back({"K_SS and eigenvectors (s x s, block-cyclic)", 2 * S * S / P * 8});
  plan.items.push_back({"Nystrom rows X_S and V (replicated)", S * (D + S / 3) * 8});
  plan.items.push_back({"batch X_B, Y_B, g (replicated)", M * (D + 2 * C) * 8});
  plan.items.push_back(
      {"kernel tiles", std::min(s.tile_budget, M * s.rows * (s.f32 ? 4 : 8)) + M * S / P * 8});
  plan.reduce_hint =
      "more ranks, a smaller solver.batch_cap / solver.batch_size, fewer "
      "solver.nystrom_samples, or data.limit";
}

// eigenpro4 (src/solvers/eigenpro4.cpp): per rank p_r = p / P centers with their kernel
// operand, alpha, h and M (q columns); the temporary centers of T batches (T m ~ p by default,
// so about p_r rows); the panel K(X_B, Z_r) (m x p_r, at most 1 GiB); the replicated batch; the
// two preconditioners (s x s block-cyclic at setup, X_S replicated). m is automatic (at most the
// batch cap, 10000 for eigenpro4), so this is an upper bound.
void plan_eigenpro4(const Options& o, const PlanShape& s, long long p, MemoryPlan& plan) {
  const double P = s.P, rows = s.rows, D = s.D, C = s.C;
  const double Pc = static_cast<double>(p), pr = std::ceil(Pc / P), W = s.f32 ? 4 : 8;
  long long m = integer_or_zero(o, "solver.batch_size");
  if (m == 0) m = o.given("solver.batch_cap") ? integer_or_zero(o, "solver.batch_cap") : 10000;
  const double M = static_cast<double>(std::min<long long>(m, static_cast<long long>(s.n)));
  long long t = integer_or_zero(o, "solver.projection_period");
  // T m / P rows, T m ~ max(p, m) by default; doubled for the vector's growth.
  const double tmp_rows =
      2 * (t > 0 ? std::min(rows, static_cast<double>(t) * M / P) : std::max(pr, M / P));
  long long samples = integer_or_zero(o, "solver.nystrom_samples");
  const double S = static_cast<double>(std::min<long long>(samples > 0 ? samples : 3000, p));
  long long model_samples = integer_or_zero(o, "solver.model_nystrom_samples");
  const double Sm =
      static_cast<double>(std::min<long long>(model_samples > 0 ? model_samples : 3000, p));
  const double q = std::min({150.0, S / 3, Pc / 4});
  plan.items.push_back({"centers Z, kernel operand, alpha, h, M (p / P rows)",
                        pr * (D * (8 + W) + 2 * C * 8 + q * 8)});
  plan.items.push_back(
      {"temporary centers (T m / P rows, x 2 while growing)", tmp_rows * (D * W + C * 8)});
  plan.items.push_back(
      {"kernel panel K(X_B, Z_r)", std::min(M * pr * W, 1024.0 * 1024 * 1024) + s.tile_budget});
  plan.items.push_back({"batch X_B and residual (replicated)", M * (D * (8 + W) + 2 * C * 8)});
  // Setup: block-cyclic K_SS, its eigenvectors and pdsyevd's workspace (about two more local
  // blocks); X_S replicated plus the rows/columns each rank selects from it.
  plan.items.push_back({"preconditioner setup (K_SS, eigenvectors, pdsyevd work; X_S)",
                        4 * std::max(S * S, Sm * Sm) / P * 8 + 2 * S * D * 8});
  // solver.projection = cholesky (auto takes it only when this fits: resolve_projection).
  if (o.str("solver.projection") == "cholesky") {
    const std::string factor = o.str("solver.factor_precision");
    plan.items.push_back(
        {"exact projection: " + factor + " factor of K_ZZ (p x p block-cyclic), Z replicated",
         Pc * Pc / P * (factor == "float32" ? 4 : 8) + Pc * D * 8});
  }
}

// falkon (src/solvers/falkon.cpp's layout; driver/solver_falkon.cpp's test metrics).
void plan_falkon(const Options& o, const PlanShape& s, double Pc, std::size_t n_eval,
                 MemoryPlan& plan) {
  const double pr = std::ceil(Pc / s.P), W = s.f32 ? 4 : 8;
  plan.items.push_back({"centers Z and weights (p / P rows)", pr * (s.D + s.C) * 8 * 2});
  plan.items.push_back(
      {"centers Z replicated (kernel precision) and CG vectors", Pc * s.D * W + 4 * Pc * s.C * 8});
  plan.items.push_back({"K_ZZ and factors (p x p, block-cyclic)", 3 * Pc * Pc / s.P * 8});
  plan.items.push_back({"kernel tiles", s.tile_budget});
  const double T = static_cast<double>(n_eval), panel = T * pr * W;
  if (integer_or_zero(o, "solver.eval_every") > 0 && n_eval > 0 &&
      panel <= static_cast<double>(kFalkonTestPanelBytes))
    plan.items.push_back({"test metrics: test rows and predictions replicated, K(test, Z_r)",
                          T * (s.D + s.C) * 8 + panel});
}

// falkon and eigenpro4: the models on p centers.
void plan_centers(const Options& o, const PlanShape& s, std::size_t n_eval, MemoryPlan& plan) {
  long long p = integer_or_zero(o, "solver.centers");
  if (p == 0) p = static_cast<long long>(std::min<std::size_t>(s.n, 10000));
  if (o.str("solver.name") == "falkon") {
    plan_falkon(o, s, static_cast<double>(p), n_eval, plan);
  } else {
    plan_eigenpro4(o, s, p, plan);
  }
  plan.reduce_hint = "more ranks, fewer solver.centers, or data.limit";
}

// RFM around any solver (src/search/rfm.cpp): the rows transformed by the current metric next to
// the untransformed ones (data, test and validation rows), the best iteration's weights, the
// d x d matrices (S, M, G, the eigendecomposition's) and the AGOP's blocks: the sample rows and,
// per round of 1024 of them, the weights W (centers' precision) and the c x d gradients.
void plan_rfm(const Options& o, const PlanShape& s, std::size_t n_eval, MemoryPlan& plan) {
  if (integer_or_zero(o, "rfm.iterations") == 0) return;
  const double P = s.P, rows = s.rows, D = s.D, C = s.C;
  const bool full = o.str("rfm.metric") == "full" || (o.str("rfm.metric") == "auto" && D <= 2000);
  long long samples = integer_or_zero(o, "rfm.agop_samples");
  if (samples == 0) samples = 20000;
  const double Ns = std::min(static_cast<double>(samples), static_cast<double>(s.n));
  const double round = std::min(Ns, 1024.0);
  plan.items.push_back({"rfm: transformed rows (training, test, validation)",
                        (rows + std::ceil(static_cast<double>(n_eval) / P)) * D * 8});
  plan.items.push_back({"rfm: best iteration's weights", rows * C * 8});
  plan.items.push_back(
      {"rfm: metric matrices (S, M, G, eigenvectors)", (full ? 5 * D * D : 5 * D) * 8});
  plan.items.push_back(
      {"rfm: AGOP sample rows and blocks",
       2 * std::ceil(Ns / P) * D * 8 + round * (C * (D + 1) * 8 * 2) + s.tile_budget * 2});
}

// kmpi tune (src/search/tune.cpp): G bandwidths x R ridges, beyond the one fit planned above.
// Shared: eigenpro2 keeps G models (weights and best weights; each preconditioner's V), falkon
// G factors L and G R factors A_L (p^2 / P each, 3 planned above), direct the products, one
// kernel matrix and a factor (3 n^2 / P, 1 planned above); point by point, the best model.
void plan_tune(const Options& o, const PlanShape& s, MemoryPlan& plan) {
  const std::string list = o.str("tune.bandwidths");
  const double G = list == "auto"
                       ? static_cast<double>(integer_or_zero(o, "tune.auto_points"))
                       : 1.0 + static_cast<double>(std::count(list.begin(), list.end(), ','));
  const std::string ridges = o.str("tune.ridges");
  const double R = ridges.empty()
                       ? 1.0
                       : 1.0 + static_cast<double>(std::count(ridges.begin(), ridges.end(), ','));
  const std::string solver = o.str("solver.name");
  const bool shared = o.flag("tune.shared");
  const double N = static_cast<double>(s.n);
  if (shared && solver == "eigenpro2") {
    long long samples = integer_or_zero(o, "solver.nystrom_samples");
    if (samples == 0)
      samples = s.n < 100000 ? static_cast<long long>(std::min<std::size_t>(s.n, 2000)) : 12000;
    const double S = std::min(static_cast<double>(samples), N);
    plan.items.push_back({"tune: the other bandwidths' models (weights, best weights, V)",
                          (G - 1) * (2 * s.rows * s.C * 8 + S / s.P * (S / 3) * 8)});
  } else if (shared && solver == "falkon") {
    long long p = integer_or_zero(o, "solver.centers");
    if (p == 0) p = static_cast<long long>(std::min<std::size_t>(s.n, 10000));
    const double Pc = static_cast<double>(p);
    plan.items.push_back({"tune: the grid's factors L (per bandwidth) and A_L (per point)",
                          std::max(0.0, G + G * R - 3) * Pc * Pc / s.P * 8});
  } else if (shared && solver == "direct" && G * R > 1) {
    plan.items.push_back(
        {"tune: the shared products and a factor (n x n, block-cyclic)", 2 * N * N / s.P * 8});
  }
  plan.items.push_back({"tune: the best point's weights", s.rows * s.C * 8});
}

}  // namespace

MemoryPlan plan_training(const Options& o, std::size_t n, std::size_t d, std::size_t c, int ranks,
                         std::size_t n_eval, bool tune) {
  PlanShape s;
  s.n = n;
  s.P = ranks;
  s.rows = std::ceil(static_cast<double>(n) / s.P);
  s.D = static_cast<double>(d);
  s.C = static_cast<double>(c);
  s.f32 = o.str("solver.precision") != "float64";
  s.tile_budget = static_cast<double>(cache_tile_bytes());
  const std::string solver = o.str("solver.name");
  MemoryPlan plan;
  plan_common(o, s, n_eval, plan);
  if (solver == "direct")
    plan_direct(s, plan);
  else if (solver == "eigenpro2")
    plan_eigenpro2(o, s, plan);
  else
    plan_centers(o, s, n_eval, plan);
  plan_rfm(o, s, n_eval, plan);
  if (tune) plan_tune(o, s, plan);
  return plan;
}

double memory_limit_bytes(const Options& o, int ranks_on_node) {
  const std::string v = o.str("run.memory_limit");
  if (v == "auto") {
    const double avail = available_memory();
    return avail > 0 ? avail / std::max(1, ranks_on_node) : 1e300;
  }
  std::size_t used = 0;
  double number = 0;
  try {
    number = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  double scale = 1;
  const std::string suffix = v.substr(used);
  if (suffix == "K" || suffix == "k")
    scale = 1024.0;
  else if (suffix == "M" || suffix == "m")
    scale = 1024.0 * 1024;
  else if (suffix == "G" || suffix == "g")
    scale = 1024.0 * 1024 * 1024;
  else if (suffix == "T" || suffix == "t")
    scale = 1024.0 * 1024 * 1024 * 1024;
  else if (!suffix.empty())
    used = 0;
  if (used == 0 || !(number > 0))
    throw Error("option run.memory_limit: expected auto or a positive size such as 4G, got '" + v +
                "'");
  return number * scale;
}

double agreed_memory_limit(const mpi::Communicator& comm, const Options& o) {
  // Ranks sharing this node (they share its memory).
  MPI_Comm node = MPI_COMM_NULL;
  mpi::check(
      MPI_Comm_split_type(comm.get(), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &node),
      "MPI_Comm_split_type");
  int on_node = 1;
  MPI_Comm_size(node, &on_node);
  MPI_Comm_free(&node);
  double limit = 0;
  mpi::agree_on(comm, [&] { limit = memory_limit_bytes(o, on_node); });
  // The tightest node decides (nodes may differ in free memory).
  return comm.allreduce_value(limit, mpi::Op::kMin);
}

Options resolve_projection(const Options& o, std::size_t n, std::size_t d, std::size_t c, int ranks,
                           std::size_t n_eval, bool tune, double limit) {
  if (o.str("solver.name") != "eigenpro4" || o.str("solver.projection") != "auto") return o;
  std::vector<std::string> factors = {o.str("solver.factor_precision")};
  if (!o.given("solver.factor_precision")) factors = {"float64", "float32"};
  for (const std::string& factor : factors) {
    Options cholesky = o;
    cholesky.set("solver.projection", "cholesky");
    cholesky.set("solver.factor_precision", factor);
    if (plan_training(cholesky, n, d, c, ranks, n_eval, tune).total() <= limit) return cholesky;
  }
  Options inexact = o;
  inexact.set("solver.projection", "eigenpro2");
  return inexact;
}

Options resolve_projection(const mpi::Communicator& comm, const Options& o, std::size_t n,
                           std::size_t d, std::size_t c, std::size_t n_eval) {
  return resolve_projection(o, n, d, c, comm.size(), n_eval, false, agreed_memory_limit(comm, o));
}

bool check_memory_plan(const mpi::Communicator& comm, const Options& o, std::size_t n,
                       std::size_t d, std::size_t c, bool tune) {
  const double limit = agreed_memory_limit(comm, o);
  // Evaluation sets: the test and validation files' rows (a probe: its header, or a scan for
  // text) and the validation rows split off the training file.
  std::size_t n_eval = 0;
  for (const char* key : {"data.test_features", "data.validation_features"}) {
    if (o.str(key).empty()) continue;
    ReadOptions read = read_options(o);
    read.fit_table = true;  // a table's text fields count as rows here; load_eval_set checks them
    n_eval += probe_distributed(comm, o.str(key), read).rows;
  }
  const double vfrac = o.real("data.validation_fraction");
  if (vfrac > 0 && o.str("solver.name") != "direct")
    n_eval += static_cast<std::size_t>(std::llround(static_cast<double>(n) * vfrac / (1 - vfrac)));
  // eigenpro4's solver.projection = auto: the plan of the projection it will take.
  const MemoryPlan plan =
      plan_training(resolve_projection(o, n, d, c, comm.size(), n_eval, tune, limit), n, d, c,
                    comm.size(), n_eval, tune);
  const bool dry_run = o.flag("run.dry_run");
  if (dry_run && comm.rank() == 0)
    std::printf(
        "kmpi memory plan (%s, n = %zu, d = %zu, c = %zu, %d ranks; per rank):\n%s\n"
        "  limit (run.memory_limit): %s\n",
        o.str("solver.name").c_str(), n, d, c, comm.size(), plan.describe().c_str(),
        limit > 1e290 ? "unknown" : gib(limit).c_str());
  mpi::agree(comm, plan.total() <= limit,
             "memory: the run needs about " + gib(plan.total()) + " per rank (largest item: " +
                 std::max_element(
                     plan.items.begin(), plan.items.end(),
                     [](const MemoryItem& a, const MemoryItem& b) { return a.bytes < b.bytes; })
                     ->what +
                 ") but run.memory_limit allows " + gib(limit) + "; use " + plan.reduce_hint);
  return !dry_run;
}

namespace {

// local: the tree's per-rank bytes at leaf size `leaf` (check_tree_memory_plan): every rank's
// block of the n training and n_val validation rows, held while the tree trains, plus the larger
// of a splitter's fit and a leaf's fit on its group (with the leaf's routed validation rows and
// those it refills from its training rows).
double tree_bytes(const Options& o, std::size_t n, std::size_t n_val, std::size_t d, std::size_t c,
                  int ranks, std::size_t leaf) {
  const auto block = [&](std::size_t rows, int over) {
    return std::ceil(static_cast<double>(rows) / over) * static_cast<double>(d + c) * 8;
  };
  const double share = block(n, ranks) + block(n_val, ranks);
  const std::size_t split_rows = std::min(n, o.count("rfm.split_samples"));
  const double split = plan_training(o, split_rows, d, c, ranks).total();
  const std::size_t leaf_rows = std::min(n, leaf);
  const int leaf_ranks = std::min(ranks, static_cast<int>(std::max<std::size_t>(
      1, static_cast<std::size_t>(ranks) * leaf_rows / std::max<std::size_t>(n, 1))));
  const std::size_t leaf_val =
      n_val == 0 ? 0
                 : static_cast<std::size_t>(std::ceil(static_cast<double>(n_val) * leaf_rows /
                                                      static_cast<double>(std::max<std::size_t>(n, 1)))) +
                       std::min(o.count("rfm.refill_size"), leaf_rows / 5);
  const double fit =
      plan_training(o, leaf_rows, d, c, leaf_ranks).total() + block(leaf_val, leaf_ranks);
  return share + std::max(split, fit);
}

}  // namespace

void check_tree_memory_plan(const mpi::Communicator& comm, const Options& o, std::size_t n,
                            std::size_t n_val, std::size_t d, std::size_t c) {
  const double limit = agreed_memory_limit(comm, o);
  const std::size_t leaf = o.count("rfm.leaf_size");
  const auto bytes = [&](std::size_t leaf_size) {
    return tree_bytes(o, n, n_val, d, c, comm.size(), leaf_size);
  };
  const double need = bytes(leaf);
  if (o.flag("run.dry_run") && comm.rank() == 0)
    std::printf("kmpi memory plan (xRFM tree, n = %zu, %zu validation rows, d = %zu, c = %zu, "
                "leaves of <= %zu rows, %d ranks): %s per rank (%.0f bytes); limit "
                "(run.memory_limit): %s\n",
                n, n_val, d, c, leaf, comm.size(), gib(need).c_str(), need,
                limit > 1e290 ? "unknown" : gib(limit).c_str());
  if (need <= limit) return;
  std::size_t fits = leaf;
  while (fits > 1 && bytes(fits) > limit) fits /= 2;
  mpi::agree(comm, false,
             "memory: the xRFM tree needs about " + gib(need) + " per rank with rfm.leaf_size = " +
                 std::to_string(leaf) + " but run.memory_limit allows " + gib(limit) + "; " +
                 (bytes(fits) <= limit
                      ? "rfm.leaf_size = " + std::to_string(fits) + " fits"
                      : "no leaf size fits: use more ranks or lower rfm.split_samples"));
}

}  // namespace kmpi
