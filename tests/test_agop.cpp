// The closed-form gradients of the AGOP (DESIGN §1.5) against central finite differences of the
// model f evaluated directly from Kernel::of_squared_distance, and the gradient weight phi'(r)/r
// against finite differences of phi.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/agop.hpp"
#include "kmpi/error.hpp"
#include "kmpi/kernel.hpp"
#include "kmpi/matrix.hpp"

namespace kmpi {
namespace {

std::vector<Kernel> all_kernels(double sigma) {
  return {Kernel::from_name("gaussian", sigma), Kernel::from_name("laplacian", sigma),
          Kernel::from_name("matern", sigma, 1.5), Kernel::from_name("matern", sigma, 2.5),
          Kernel::from_name("cauchy", sigma)};
}

std::string label(const Kernel& k) {
  return k.name() + (k.kind == KernelKind::kMatern ? " nu=" + std::to_string(k.nu) : "");
}

Matrix<double> random_matrix(std::size_t rows, std::size_t cols, unsigned seed, double lo,
                             double hi) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Matrix<double> m(rows, cols);
  for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = u(gen);
  return m;
}

// x S for a d x d row-major S.
Matrix<double> times(const Matrix<double>& x, const Matrix<double>& s) {
  Matrix<double> out(x.rows(), s.cols());
  for (std::size_t i = 0; i < x.rows(); ++i)
    for (std::size_t j = 0; j < s.cols(); ++j) {
      double v = 0;
      for (std::size_t t = 0; t < x.cols(); ++t) v += x(i, t) * s(t, j);
      out(i, j) = v;
    }
  return out;
}

double max_abs(const Matrix<double>& a) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a.data()[i]));
  return m;
}

// Central differences of phi(r) = of_squared_distance(r^2), divided by r: phi'(r) / r to
// O(h^2 phi''') + O(eps / h), here below 1e-8 relative for h = 1e-5 r.
TEST(GradientWeight, MatchesFiniteDifferenceOfTheKernel) {
  for (const Kernel& k : all_kernels(0.9)) {
    for (double r : {0.02, 0.3, 0.9, 1.7, 4.0}) {
      const double h = 1e-5 * r;
      const double fd =
          (k.of_squared_distance((r + h) * (r + h)) - k.of_squared_distance((r - h) * (r - h))) /
          (2 * h) / r;
      const double w = k.gradient_weight(r * r);
      EXPECT_NEAR(w, fd, 1e-7 * std::abs(fd)) << label(k) << " r=" << r;
      EXPECT_LT(w, 0.0) << label(k);  // every kernel here decreases in r
    }
  }
  // The Laplacian's self term: 0 below kLaplacianSelfDistance (r^2 = 0 and r^2 = 1e-22).
  const Kernel lap = Kernel::from_name("laplacian", 0.9);
  EXPECT_EQ(lap.gradient_weight(0.0), 0.0);
  EXPECT_EQ(lap.gradient_weight(1e-22), 0.0);
  // The smooth kernels are finite at r = 0: phi''(0).
  EXPECT_DOUBLE_EQ(Kernel::from_name("gaussian", 2.0).gradient_weight(0.0), -0.25);
  EXPECT_DOUBLE_EQ(Kernel::from_name("cauchy", 2.0).gradient_weight(0.0), -0.5);
}

template <class T>
class GradientWeightBlockTest : public ::testing::Test {};
using Precisions = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GradientWeightBlockTest, Precisions);

// The block from the distance GEMM against Kernel::gradient_weight of the direct distances.
// float32: r^2 from the norm expansion carries ~eps ||a||^2 / r^2 relative error (< 1e-5 here),
// and so does w; float64 the same with eps = 1e-16.
TYPED_TEST(GradientWeightBlockTest, MatchesGradientWeightPointwise) {
  using T = TypeParam;
  const std::size_t ma = 9, mb = 13, d = 6;
  const Matrix<double> a = random_matrix(ma, d, 1, -1, 1), b = random_matrix(mb, d, 2, -1, 1);
  const Matrix<T> at = convert<T>(a), bt = convert<T>(b);
  const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-11;
  for (const Kernel& k : all_kernels(1.3)) {
    Matrix<T> w(ma, mb);
    gradient_weight_block(k, at.data(), ma, d, bt.data(), mb, d, d, w.data(), mb);
    for (std::size_t i = 0; i < ma; ++i)
      for (std::size_t j = 0; j < mb; ++j) {
        double r2 = 0;
        for (std::size_t t = 0; t < d; ++t)
          r2 += (double(at(i, t)) - double(bt(j, t))) * (double(at(i, t)) - double(bt(j, t)));
        const double want = k.gradient_weight(r2);
        EXPECT_NEAR(double(w(i, j)), want, tol * std::abs(want)) << label(k);
      }
    // A row against itself: r^2 is clamped to 0, so the Laplacian's weight is exactly 0.
    if (k.kind == KernelKind::kLaplacian) {
      Matrix<T> self(ma, ma);
      gradient_weight_block(k, at.data(), ma, d, at.data(), ma, d, d, self.data(), ma);
      for (std::size_t i = 0; i < ma; ++i) EXPECT_EQ(self(i, i), T(0));
    }
  }
}

// f_c(x) = sum_i alpha_ic phi(||(x - z_i) S||) straight from the definition (the difference
// first, then S: no norm expansion, so no cancellation beyond double rounding).
double model_value(const Kernel& k, const std::vector<double>& x, const Matrix<double>& z,
                   const Matrix<double>& alpha, const Matrix<double>& s, std::size_t c) {
  const std::size_t d = x.size();
  double f = 0;
  std::vector<double> diff(d);
  for (std::size_t i = 0; i < z.rows(); ++i) {
    for (std::size_t t = 0; t < d; ++t) diff[t] = x[t] - z(i, t);
    double r2 = 0;
    for (std::size_t j = 0; j < d; ++j) {
      double v = 0;
      for (std::size_t t = 0; t < d; ++t) v += diff[t] * s(t, j);
      r2 += v * v;
    }
    f += alpha(i, c) * k.of_squared_distance(r2);
  }
  return f;
}

// The metrics of the test: identity, diagonal (one feature switched off) and a full symmetric S.
std::vector<std::pair<std::string, Matrix<double>>> roots(std::size_t d) {
  Matrix<double> eye(d, d), diag(d, d), full(d, d);
  const Matrix<double> r = random_matrix(d, d, 9, -0.2, 0.2);
  for (std::size_t i = 0; i < d; ++i) {
    eye(i, i) = 1;
    diag(i, i) = i + 1 == d ? 0.0 : 0.5 + 0.3 * static_cast<double>(i);
    for (std::size_t j = 0; j < d; ++j) full(i, j) = (i == j ? 0.8 : 0) + r(i, j) + r(j, i);
  }
  return {{"none", eye}, {"diagonal", diag}, {"full", full}};
}

// The closed form u_j A - B in float64 blocks, mapped to x (grad_x = S grad_u), against central
// differences with h = 1e-5: their error is h^2 f''' / 6 + eps |f| / h, ~1e-10 of the gradient
// for these smooth-away-from-centers models (no point closer than ~0.2 to a center), while the
// closed form is exact to ~1e-14. A small tile budget makes several center tiles and row chunks.
TEST(ModelGradients, MatchFiniteDifferencesForEveryKernelAndMetric) {
  const std::size_t m = 37, p = 150, d = 4;
  const Matrix<double> x = random_matrix(m, d, 3, -1, 1), z = random_matrix(p, d, 4, -1, 1);
  for (std::size_t c : {1, 3}) {
    const Matrix<double> alpha = random_matrix(p, c, 5 + static_cast<unsigned>(c), -1, 1);
    for (const auto& [metric, s] : roots(d)) {
      const Matrix<double> u = times(x, s), v = times(z, s);
      for (const Kernel& k : all_kernels(0.8)) {
        const Matrix<double> gu = model_gradients(k, Precision::kFloat64, u, v, alpha, 2048);
        ASSERT_EQ(gu.rows(), m * c);
        ASSERT_EQ(gu.cols(), d);
        const Matrix<double> gx = times(gu, s);  // rows: grad_u^T S = (S grad_u)^T, S symmetric
        Matrix<double> fd(m * c, d);
        const double h = 1e-5;
        for (std::size_t j = 0; j < m; ++j)
          for (std::size_t l = 0; l < c; ++l)
            for (std::size_t t = 0; t < d; ++t) {
              std::vector<double> xp(x.row(j), x.row(j) + d), xm = xp;
              xp[t] += h;
              xm[t] -= h;
              fd(j * c + l, t) =
                  (model_value(k, xp, z, alpha, s, l) - model_value(k, xm, z, alpha, s, l)) /
                  (2 * h);
            }
        const double scale = max_abs(fd);
        ASSERT_GT(scale, 0.0);
        for (std::size_t e = 0; e < fd.size(); ++e)
          ASSERT_NEAR(gx.data()[e], fd.data()[e], 1e-6 * scale)
              << label(k) << " metric " << metric << " c=" << c << " entry " << e;
      }
    }
  }
}

// float32 blocks agree with float64 ones to the float32 rounding of distances and weights
// (~1e-6 relative, a few times that after the sums over 150 centers).
TEST(ModelGradients, Float32AgreesWithFloat64) {
  const std::size_t m = 20, p = 300, d = 7, c = 2;
  const Matrix<double> u = random_matrix(m, d, 13, -1, 1), v = random_matrix(p, d, 14, -1, 1);
  const Matrix<double> alpha = random_matrix(p, c, 15, -1, 1);
  for (const Kernel& k : all_kernels(1.1)) {
    const Matrix<double> g64 = model_gradients(k, Precision::kFloat64, u, v, alpha);
    const Matrix<double> g32 = model_gradients(k, Precision::kFloat32, u, v, alpha, 4096);
    const double scale = max_abs(g64);
    for (std::size_t e = 0; e < g64.size(); ++e)
      ASSERT_NEAR(g32.data()[e], g64.data()[e], 1e-4 * scale) << label(k);
  }
}

TEST(ModelGradients, NoCentersGiveZeroAndBadShapesThrow) {
  const Matrix<double> u = random_matrix(3, 2, 1, 0, 1);
  const Matrix<double> g = model_gradients(Kernel::from_name("gaussian", 1.0), Precision::kFloat64,
                                           u, Matrix<double>(0, 2), Matrix<double>(0, 2));
  EXPECT_EQ(g.rows(), 6u);
  EXPECT_EQ(max_abs(g), 0.0);
  EXPECT_THROW(model_gradients(Kernel::from_name("gaussian", 1.0), Precision::kFloat64, u,
                               Matrix<double>(4, 3), Matrix<double>(4, 1)),
               Error);
  EXPECT_THROW(model_gradients(Kernel::from_name("gaussian", 1.0), Precision::kFloat64, u,
                               Matrix<double>(4, 2), Matrix<double>(3, 1)),
               Error);
}

}  // namespace
}  // namespace kmpi
