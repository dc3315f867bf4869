// DESIGN §1.2 steps 3-7, evaluated independently here from a made-up spectrum.
#include <gtest/gtest.h>

#include <cmath>

#include "solvers/solvers.hpp"

namespace kmpi {
namespace {

std::vector<double> spectrum(std::size_t k) {
  std::vector<double> v(k);
  for (std::size_t i = 0; i < k; ++i) v[i] = 0.3 / std::pow(1.0 + i, 1.6);  // lambda_{i+1}
  return v;
}

TEST(EigenPro2Parameters, GivenQFollowsTheFormulas) {
  const auto lambda = spectrum(60);
  EigenPro2Options o;
  o.preconditioner_level = 40;
  o.batch_cap = 100000;
  const auto p = eigenpro2_parameters(lambda, 600, 50000, 1.0, o);
  const double a = 0.95, l1 = lambda[0], lq1 = lambda[40];
  EXPECT_EQ(p.q, 40u);
  EXPECT_DOUBLE_EQ(p.beta, 1.0);
  EXPECT_NEAR(p.preconditioned_top, std::pow(l1, 0.05) * std::pow(lq1, 0.95), 1e-15);
  const double mstar = 1.0 / (std::pow(l1, 1 - a) * std::pow(lq1, a));
  EXPECT_NEAR(p.critical_batch, mstar, 1e-9 * mstar);
  // The automatic batch: half of m* (a margin for the Nystrom estimate of lh1).
  EXPECT_EQ(p.batch_size, static_cast<std::size_t>(std::floor(mstar / 2)));
  // m < m* + 1: eta_m = m / beta, per-sample step 1 / beta.
  EXPECT_NEAR(p.batch_step, std::floor(mstar / 2), 1e-12);
  EXPECT_NEAR(p.step_size, 1.0, 1e-15);
  ASSERT_EQ(p.d.size(), 40u);
  for (std::size_t i = 0; i < 40; ++i)
    EXPECT_NEAR(p.d[i], (1 - std::pow(lq1 / lambda[i], a)) / lambda[i], 1e-12 * p.d[i] + 1e-300);
}

TEST(EigenPro2Parameters, LargeBatchTakesTheSecondBranch) {
  const auto lambda = spectrum(60);
  EigenPro2Options o;
  o.preconditioner_level = 10;
  o.batch_size = 5000;  // far above m*
  const auto p = eigenpro2_parameters(lambda, 600, 50000, 1.0, o);
  const double lh1 = std::pow(lambda[0], 0.05) * std::pow(lambda[10], 0.95);
  ASSERT_GT(5000.0, 1.0 / lh1 + 1);
  const double eta_m = 0.99 * 2 * 5000 / (1.0 + 4999 * lh1);
  EXPECT_NEAR(p.batch_step, eta_m, 1e-12 * eta_m);
  EXPECT_NEAR(p.step_size, eta_m / 5000, 1e-15);
}

TEST(EigenPro2Parameters, AutomaticQIsTheLargestWithinTheBatchCap) {
  const auto lambda = spectrum(201);  // s = 600: q at most 200
  EigenPro2Options o;
  o.batch_cap = 2000;
  const auto p = eigenpro2_parameters(lambda, 600, 50000, 1.0, o);
  std::size_t want = 5;
  for (std::size_t q = 5; q <= 200; ++q)
    if (std::pow(lambda[q - 1], -0.95) <= 2000) want = q;
  EXPECT_EQ(p.q, want);
  EXPECT_LE(p.batch_size, 2000u);
  // Plain SGD: q = 0, lh1 = lambda_1.
  o.precondition = false;
  const auto sgd = eigenpro2_parameters(lambda, 600, 50000, 1.0, o);
  EXPECT_EQ(sgd.q, 0u);
  EXPECT_NEAR(sgd.critical_batch, 1.0 / lambda[0], 1e-12);
}

TEST(EigenPro2Parameters, BatchNeverExceedsTheDataAndQMustFit) {
  const auto lambda = spectrum(30);
  EigenPro2Options o;
  o.batch_size = 900;
  o.preconditioner_level = 10;
  EXPECT_EQ(eigenpro2_parameters(lambda, 600, 500, 1.0, o).batch_size, 500u);
  o.preconditioner_level = 30;  // needs 31 eigenvalues
  EXPECT_THROW(eigenpro2_parameters(lambda, 600, 500, 1.0, o), Error);
}

}  // namespace
}  // namespace kmpi
