// The Laplace family k = exp(-||u - v||_p^q / L^q) (DESIGN §1.5): blocks and gradient scales
// against the formula written out here in long double, the model gradients against central
// finite differences, and the Laplacian (q = 1, p = 2) bit for bit as it was.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/agop.hpp"
#include "kernels/fast_math.hpp"
#include "kmpi/error.hpp"
#include "kmpi/kernel.hpp"
#include "kmpi/matrix.hpp"

namespace kmpi {
namespace {

// The grid of the issue, p in {1, 1.5, 2}, q in {0.7, 1, p} (q <= p); p = 1.25 and 1.75 for the
// quarter powers (|x| sqrt(sqrt|x|), ...) and p = 1.2 for the general one (exp(p log |x|)).
struct Family {
  double p, q;
  std::string label() const { return "p=" + std::to_string(p) + " q=" + std::to_string(q); }
};
std::vector<Family> grid() {
  return {{1, 0.7}, {1, 1},     {1.2, 0.7}, {1.2, 1.2}, {1.25, 0.7}, {1.25, 1.25}, {1.5, 0.7},
          {1.5, 1}, {1.5, 1.5}, {1.75, 1},  {2, 0.7},   {2, 1},      {2, 2}};
}

Kernel family(const Family& f, double bandwidth) {
  return Kernel::from_name("laplacian", bandwidth, 1.5, f.q, f.p);
}

Matrix<double> random_matrix(std::size_t rows, std::size_t cols, unsigned seed, double lo,
                             double hi) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  Matrix<double> m(rows, cols);
  for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = dist(gen);
  return m;
}

// r = (sum_t |x_t - z_t|^p)^(1/p) from the stored values, in long double.
template <class T>
long double p_distance(const T* x, const T* z, std::size_t d, long double p) {
  long double s = 0;
  for (std::size_t t = 0; t < d; ++t)
    s += std::pow(std::fabs(static_cast<long double>(x[t]) - static_cast<long double>(z[t])), p);
  return std::pow(s, 1 / p);
}

long double family_value(long double r, const Family& f, long double l) {
  return std::exp(-std::pow(r, f.q) / std::pow(l, f.q));
}

// -(q / L^q) k r^(q-p), 0 at r = 0.
long double family_scale(long double r, const Family& f, long double l) {
  if (r == 0) return 0;
  return -(f.q / std::pow(l, f.q)) * family_value(r, f, l) * std::pow(r, f.q - f.p);
}

template <class T>
class LpqBlockTest : public ::testing::Test {};
using Precisions = ::testing::Types<float, double>;
TYPED_TEST_SUITE(LpqBlockTest, Precisions);

// Tolerances: float64 blocks carry a few ulp per term of |x|^p (exp(p log x), ~1e-15 relative)
// and, for p = 2, the norm expansion's cancellation (~d eps ||u||^2 / r^2), so k (in [0, 1]) to
// 1e-11 absolute; the scale g, up to q / L^q r^(q-p) large, to 1e-9 relative. float32: the same
// with eps 6e-8 (d = 300: the norm expansion loses ~1e-5 absolute in k, as for the Laplacian's
// 1e-5 in test_kernel.cpp), hence 2e-5 absolute and 1e-3 relative for g (q < 1 near r = 0 turns
// the relative error of r into q - p times it).
TYPED_TEST(LpqBlockTest, BlockAndScaleMatchTheFormulaPointByPoint) {
  using T = TypeParam;
  constexpr bool f32 = std::is_same_v<T, float>;
  for (std::size_t d : {3, 300}) {  // 300: more than one run of kLpqSumLength coordinates
    const Matrix<T> a = convert<T>(random_matrix(7, d, 1, -1, 1));
    const Matrix<T> b = convert<T>(random_matrix(9, d, 2, -1, 1));
    const double l = d == 3 ? 0.9 : 6.0;
    for (const Family& f : grid()) {
      const Kernel k = family(f, l);
      const Matrix<T> kab = kernel_block(k, a, b);
      Matrix<T> g(7, 9);
      gradient_weight_block(k, a.data(), 7, d, b.data(), 9, d, d, g.data(), 9);
      for (std::size_t i = 0; i < 7; ++i)
        for (std::size_t j = 0; j < 9; ++j) {
          const long double r = p_distance(a.row(i), b.row(j), d, f.p);
          EXPECT_NEAR(double(kab(i, j)), double(family_value(r, f, l)), f32 ? 2e-5 : 1e-11)
              << f.label() << " d=" << d << " (" << i << ", " << j << ")";
          const double want = double(family_scale(r, f, l));
          EXPECT_NEAR(double(g(i, j)), want, (f32 ? 1e-3 : 1e-9) * std::fabs(want))
              << f.label() << " d=" << d << " (" << i << ", " << j << ")";
          // Kernel::gradient_weight (double) is the same scale, given r^2.
          EXPECT_NEAR(k.gradient_weight(double(r * r)), want, 1e-12 * std::fabs(want)) << f.label();
        }
      // k(u, u) = 1 and g(u, u) = 0 exactly: the self term.
      const Matrix<T> kaa = kernel_block(k, a, a);
      Matrix<T> gaa(7, 7);
      gradient_weight_block(k, a.data(), 7, d, a.data(), 7, d, d, gaa.data(), 7);
      for (std::size_t i = 0; i < 7; ++i) {
        EXPECT_EQ(kaa(i, i), T(1)) << f.label();
        EXPECT_EQ(gaa(i, i), T(0)) << f.label();
      }
    }
  }
}

// What the shared-products paths call: for p != 2 the rows' own distances (the products are
// not read), for p = 2 the products; either way kernel_block's bits.
TYPED_TEST(LpqBlockTest, SharedProductsPathIsKernelBlockBitForBit) {
  using T = TypeParam;
  const std::size_t d = 11;
  const Matrix<T> a = convert<T>(random_matrix(6, d, 3, -2, 2));
  const Matrix<T> b = convert<T>(random_matrix(5, d, 4, -2, 2));
  std::vector<T> an(6), bn(5);
  row_squared_norms(a.data(), 6, d, d, an.data());
  row_squared_norms(b.data(), 5, d, d, bn.data());
  for (const Family& f : grid()) {
    const Kernel k = family(f, 1.7);
    const Matrix<T> want = kernel_block(k, a, b);
    Matrix<T> products(6, 5);
    if (k.distances_from_products())
      product_block(a.data(), 6, d, b.data(), 5, d, d, products.data(), 5);
    else
      std::fill(products.data(), products.data() + products.size(), T(-1));  // never read
    kernel_from_products_or_rows(k, products.data(), 5, a.data(), 6, d, b.data(), 5, d, d,
                                 an.data(), bn.data(), products.data(), 5);  // in place
    EXPECT_EQ(std::memcmp(products.data(), want.data(), sizeof(T) * want.size()), 0) << f.label();
    if (!k.distances_from_products()) {
      EXPECT_THROW(kernel_from_products(k, products.data(), 5, 6, 5, an.data(), bn.data(),
                                        products.data(), 5),
                   Error);
    }
  }
}

// kernel.exponent = 1, kernel.norm_p = 2 given explicitly is the Laplacian of before: the same
// kernel, the same code path, the same bits (blocks, gradient weights, shared products).
TYPED_TEST(LpqBlockTest, DefaultLaplacianIsBitIdentical) {
  using T = TypeParam;
  const std::size_t d = 13;
  const Matrix<T> a = convert<T>(random_matrix(8, d, 5, -1, 1));
  const Matrix<T> b = convert<T>(random_matrix(10, d, 6, -1, 1));
  const Kernel old = Kernel::from_name("laplacian", 1.3);
  const Kernel given = Kernel::from_name("laplacian", 1.3, 1.5, 1.0, 2.0);
  EXPECT_FALSE(given.is_laplace_family());
  EXPECT_TRUE(given.distances_from_products());
  const Matrix<T> k_old = kernel_block(old, a, b), k_new = kernel_block(given, a, b);
  EXPECT_EQ(std::memcmp(k_old.data(), k_new.data(), sizeof(T) * k_old.size()), 0);
  Matrix<T> w_old(8, 10), w_new(8, 10);
  gradient_weight_block(old, a.data(), 8, d, b.data(), 10, d, d, w_old.data(), 10);
  gradient_weight_block(given, a.data(), 8, d, b.data(), 10, d, d, w_new.data(), 10);
  EXPECT_EQ(std::memcmp(w_old.data(), w_new.data(), sizeof(T) * w_old.size()), 0);
  // And the Laplacian's formula itself: exp(-r / L) on r = sqrt(r^2) of the GEMM.
  for (std::size_t i = 0; i < 8; ++i)
    for (std::size_t j = 0; j < 10; ++j)
      EXPECT_NEAR(double(k_new(i, j)),
                  std::exp(-double(p_distance(a.row(i), b.row(j), d, 2.0L)) / 1.3),
                  (std::is_same_v<T, float> ? 1e-5 : 1e-12));
}

// f_l(u) = sum_i alpha_il k(u, v_i) from the definition (p-norm of the difference, double).
double model_value(const Kernel& k, const Family& f, const std::vector<double>& u,
                   const Matrix<double>& v, const Matrix<double>& alpha, std::size_t l) {
  double s = 0;
  for (std::size_t i = 0; i < v.rows(); ++i)
    s += alpha(i, l) *
         double(family_value(p_distance(u.data(), v.row(i), u.size(), f.p), f, k.bandwidth));
  return s;
}

// The closed form (lpq_add_gradients for p != 2, u A - B for p = 2) in float64 blocks against
// central differences with h = 1e-5: their error is h^2 f''' / 6 + eps |f| / h, ~1e-10 of the
// gradient where f is smooth. |x|^p is not smooth where a coordinate of u - v_i is 0 (p = 1: a
// kink; p = 1.5: |x|^0.5 in f'), and r^q is not where r = 0; the seeded points keep every
// coordinate difference at least 0.005 (by construction, checked), so the difference quotient never
// straddles one. Several center tiles and row chunks (tile budget 2048 bytes).
TEST(LpqModelGradients, MatchFiniteDifferences) {
  const std::size_t m = 9, p = 40, d = 3;
  // v on the grid 0.01 Z, u on 0.005 + 0.01 Z: every coordinate difference is at least 0.005.
  Matrix<double> u = random_matrix(m, d, 7, -1, 1), v = random_matrix(p, d, 8, -1, 1);
  for (std::size_t e = 0; e < v.size(); ++e) v.data()[e] = std::round(v.data()[e] * 100) / 100;
  for (std::size_t e = 0; e < u.size(); ++e)
    u.data()[e] = std::round(u.data()[e] * 100) / 100 + 0.005;
  for (std::size_t j = 0; j < m; ++j)
    for (std::size_t i = 0; i < p; ++i)
      for (std::size_t t = 0; t < d; ++t) ASSERT_GT(std::fabs(u(j, t) - v(i, t)), 1e-3);
  for (std::size_t c : {1, 3}) {
    const Matrix<double> alpha = random_matrix(p, c, 9 + static_cast<unsigned>(c), -1, 1);
    for (const Family& f : grid()) {
      const Kernel k = family(f, 0.8);
      const Matrix<double> g = model_gradients(k, Precision::kFloat64, u, v, alpha, 2048);
      ASSERT_EQ(g.rows(), m * c);
      Matrix<double> fd(m * c, d);
      const double h = 1e-5;
      for (std::size_t j = 0; j < m; ++j)
        for (std::size_t l = 0; l < c; ++l)
          for (std::size_t t = 0; t < d; ++t) {
            std::vector<double> up(u.row(j), u.row(j) + d), um = up;
            up[t] += h;
            um[t] -= h;
            fd(j * c + l, t) =
                (model_value(k, f, up, v, alpha, l) - model_value(k, f, um, v, alpha, l)) / (2 * h);
          }
      double scale = 0;
      for (std::size_t e = 0; e < fd.size(); ++e) scale = std::max(scale, std::fabs(fd.data()[e]));
      ASSERT_GT(scale, 0.0);
      for (std::size_t e = 0; e < fd.size(); ++e)
        ASSERT_NEAR(g.data()[e], fd.data()[e], 1e-6 * scale) << f.label() << " c=" << c << " " << e;
      // float32 blocks: the same to float32 rounding (~1e-6 relative per term, 40 centers).
      const Matrix<double> g32 = model_gradients(k, Precision::kFloat32, u, v, alpha, 2048);
      for (std::size_t e = 0; e < g.size(); ++e)
        ASSERT_NEAR(g32.data()[e], g.data()[e], 1e-4 * scale) << f.label() << " f32 " << e;
    }
  }
}

// The vectorisable pow behind p != 2 against std::pow: a few ulp of exp(e log x).
TEST(LpqFastMath, PowNonnegativeMatchesStdPow) {
  for (double e : {-0.5, 0.35, 0.5, 0.7, 1.5, 2.0 / 3}) {
    EXPECT_EQ(detail::pow_nonnegative(0.0, e), 0.0);
    EXPECT_EQ(detail::pow_nonnegative(0.0f, float(e)), 0.0f);
    for (double x : {1e-30, 1e-8, 0.01, 0.3, 1.0, 1.7, 42.0, 1e6, 1e30}) {
      const double want = std::pow(x, e);
      EXPECT_NEAR(detail::pow_nonnegative(x, e), want, 1e-14 * want) << x << "^" << e;
      if (x > 1e-30 && x < 1e30) {
        EXPECT_NEAR(detail::pow_nonnegative(float(x), float(e)), std::pow(float(x), float(e)),
                    2e-6 * want)
            << x << "^" << e << " (float)";
      }
    }
  }
}

// The bound the p != 2 blocks rest on, inside a vectorised loop (the kernels' form): x^e =
// exp(e log x) is within eps (2 + |e log2 x|) of x^e relative (eps = 2^-23 float, 2^-52
// double): e log x, rounded, carries eps |e log x| absolute, which exp turns into that much
// relative error; log and exp themselves add about 2 eps. Results below the smallest normal
// number (e log x < -87 in float, -708 in double) are 0 and left out; x = 0 gives 0 exactly.
template <class T>
void expect_pow_bound(double eps, double log2_range) {
  std::mt19937_64 gen(11);
  std::uniform_real_distribution<double> u(-log2_range, log2_range);
  const std::size_t n = 4096;
  std::vector<T> x(n), y(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<T>(std::exp2(u(gen)));
  x[0] = 0;
  for (double e : {0.25, 0.7, 1.25, 1.5, 1.75, 2.0}) {
    const T et = static_cast<T>(e);
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) y[i] = detail::pow_nonnegative(x[i], et);
    EXPECT_EQ(y[0], T(0));
    for (std::size_t i = 1; i < n; ++i) {
      const long double want =
          std::pow(static_cast<long double>(x[i]), static_cast<long double>(et));
      const double bound = eps * (2 + std::fabs(double(et) * std::log2(double(x[i]))));
      EXPECT_LE(double(std::fabs((y[i] - want) / want)), bound) << x[i] << "^" << e;
    }
  }
}

TEST(LpqFastMath, PowRelativeErrorWithinItsBound) {
  expect_pow_bound<float>(std::ldexp(1.0, -23), 40);  // results stay above 2^-87 * 2 (e <= 2)
  expect_pow_bound<double>(std::ldexp(1.0, -52), 300);
}

TEST(LpqKernelName, ChecksTheFamily) {
  const Kernel k = Kernel::from_name("laplacian", 2.0, 1.5, 0.7, 1.5);
  EXPECT_EQ(k.exponent, 0.7);
  EXPECT_EQ(k.norm_p, 1.5);
  EXPECT_TRUE(k.is_laplace_family());
  EXPECT_FALSE(k.distances_from_products());
  EXPECT_EQ(k.name(), "laplacian");
  const auto message = [](auto f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(message([] { Kernel::from_name("gaussian", 1.0, 1.5, 0.7, 2.0); }).find("laplacian"),
            std::string::npos);
  EXPECT_NE(message([] { Kernel::from_name("matern", 1.0, 0.5, 1.0, 1.0); }).find("laplacian"),
            std::string::npos);
  for (auto [q, p] :
       {std::pair{1.5, 1.0}, {0.5, 2.5}, {0.0, 1.0}, {-1.0, 1.0}, {std::nan(""), 1.0}})
    EXPECT_NE(message([&] {
                Kernel::from_name("laplacian", 1.0, 1.5, q, p);
              }).find("0 < kernel.exponent"),
              std::string::npos)
        << q << " " << p;
  // Defaults given explicitly to another kernel are no family.
  EXPECT_NO_THROW(Kernel::from_name("gaussian", 1.0, 1.5, 1.0, 2.0));
}

}  // namespace
}  // namespace kmpi
