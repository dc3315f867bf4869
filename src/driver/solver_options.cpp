// solver.* as the solvers' typed settings (driver/solver_options.hpp).
#include "driver/solver_options.hpp"

namespace kmpi {

namespace {

// The settings every solver takes from the run rather than from solver.*: the seed of its
// random draws and the precision of its kernel blocks.
template <class Settings>
Settings seeded(std::uint64_t seed, Precision precision) {
  Settings s;
  s.seed = seed;
  s.precision = precision;
  return s;
}

// solver.factor_precision: the Cholesky factors' precision (falkon, eigenpro4's exact projection).
Precision factor_precision(const Options& o) {
  return o.str("solver.factor_precision") == "float32" ? Precision::kFloat32 : Precision::kFloat64;
}

}  // namespace

EigenPro2Options eigenpro2_options(const Options& o, std::uint64_t seed, Precision precision) {
  auto eo = seeded<EigenPro2Options>(seed, precision);
  eo.nystrom_samples = o.count("solver.nystrom_samples");
  eo.preconditioner_level = o.count("solver.preconditioner_level");
  eo.batch_size = o.count("solver.batch_size");
  eo.batch_cap = o.count("solver.batch_cap");
  eo.epochs = o.count("solver.epochs");
  return eo;
}

EigenPro4Options eigenpro4_options(const Options& o, std::uint64_t seed, Precision precision,
                                   const Matrix<double>* given_centers) {
  const EigenPro2Options data = eigenpro2_options(o, seed, precision);
  auto eo = seeded<EigenPro4Options>(seed, precision);
  eo.centers = o.count("solver.centers");
  eo.data_samples = data.nystrom_samples;
  eo.data_level = data.preconditioner_level;
  eo.model_samples = o.count("solver.model_nystrom_samples");
  eo.model_level = o.count("solver.model_preconditioner_level");
  eo.batch_size = data.batch_size;
  // Not given: EigenPro4Options' own cap, which also bounds the projection's batch.
  if (o.given("solver.batch_cap")) eo.batch_cap = data.batch_cap;
  eo.projection_period = o.count("solver.projection_period");
  eo.projection_epochs = o.count("solver.projection_epochs");
  // solver.projection = auto was resolved by run_solver (the memory plan's rule, the same as
  // check_memory_plan's), so the checkpoint fingerprint records the choice made here.
  eo.exact_projection = o.str("solver.projection") == "cholesky";
  eo.factor_precision = factor_precision(o);
  eo.epochs = data.epochs;
  eo.given_centers = given_centers;
  return eo;
}

FalkonOptions falkon_options(const Options& o, std::uint64_t seed, Precision precision,
                             const Matrix<double>* given_centers) {
  auto fo = seeded<FalkonOptions>(seed, precision);
  fo.centers = o.count("solver.centers");
  fo.ridge = o.real("solver.ridge");
  fo.iterations = o.count("solver.iterations");
  fo.tolerance = o.real("solver.tolerance");
  fo.factor_precision = factor_precision(o);
  fo.given_centers = given_centers;
  return fo;
}

}  // namespace kmpi
