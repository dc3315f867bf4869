// kernel_block and Kernel (DESIGN §1.1) against the formulas written out here independently:
// r = ||x - z|| summed directly in long double (no norm expansion, no GEMM), then k(r).
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kmpi/error.hpp"
#include "kmpi/kernel.hpp"
#include "kmpi/matrix.hpp"

namespace kmpi {
namespace {

// One kernel of DESIGN §1.1 as the user names it (matern carries its nu).
struct KernelCase {
  std::string name;
  double nu;
  std::string label() const { return name == "matern" ? name + " nu=" + std::to_string(nu) : name; }
};

const std::vector<KernelCase>& all_kernels() {
  static const std::vector<KernelCase> cases = {
      {"gaussian", 1.5}, {"laplacian", 1.5}, {"matern", 1.5}, {"matern", 2.5}, {"cauchy", 1.5}};
  return cases;
}

// DESIGN §1.1, term by term, in long double. `nu` matters only for matern.
long double reference_kernel(const KernelCase& kc, long double r, long double sigma) {
  const long double q = r / sigma;
  if (kc.name == "gaussian") return std::exp(-(r * r) / (2 * sigma * sigma));
  if (kc.name == "laplacian") return std::exp(-q);
  if (kc.name == "cauchy") return 1 / (1 + (r * r) / (sigma * sigma));
  if (kc.name == "matern") {
    if (kc.nu == 0.5) return std::exp(-q);
    if (kc.nu == 1.5) {
      const long double t = std::sqrt(3.0L) * q;
      return (1 + t) * std::exp(-t);
    }
    if (kc.nu == 2.5) {
      const long double t = std::sqrt(5.0L) * q;
      return (1 + t + 5 * r * r / (3 * sigma * sigma)) * std::exp(-t);
    }
  }
  ADD_FAILURE() << "no reference for kernel " << kc.label();
  return std::numeric_limits<long double>::quiet_NaN();
}

// ||x - z|| straight from the definition, accumulated in long double from the stored values.
template <class T>
long double reference_distance(const T* x, const T* z, std::size_t d) {
  long double s = 0;
  for (std::size_t j = 0; j < d; ++j) {
    const long double diff = static_cast<long double>(x[j]) - static_cast<long double>(z[j]);
    s += diff * diff;
  }
  return std::sqrt(s);
}

// Absolute tolerances on kernel values, which lie in [0, 1]. The block evaluation forms
// r^2 = ||a||^2 + ||b||^2 - 2 a.b, whose rounding error is a few eps * d * (||a||^2 + ||b||^2);
// with the bandwidths chosen below (||a||^2 + ||b||^2) / sigma^2 stays under ~10 and the
// kernels' slopes in r^2 / sigma^2 are at most ~1 away from r = 0 (random points are far
// apart at these scales), so the error is ~d * eps * 10: ~3e-14 in float64, ~1e-5 in float32
// as a worst case (random rounding sits well below it: the largest errors seen with this data
// were 1.1e-6 and 1.5e-15, on the uniform data at the smallest bandwidth). float64 also gets the
// libm exp/sqrt error, ~1e-16.
template <class T>
struct Tolerance;
template <>
struct Tolerance<float> {
  static constexpr double value = 1e-5;
  static constexpr const char* name = "float32";
};
template <>
struct Tolerance<double> {
  static constexpr double value = 1e-12;
  static constexpr const char* name = "float64";
};

// One data scale: entries drawn by `draw` (normal with stddev `scale`, or uniform on [0, scale]
// like pixel data), and bandwidths near the typical pairwise distance so that the kernel values
// spread over (0, 1) instead of sitting at 0 or 1 (which would test nothing).
struct DataScale {
  std::string label;
  bool uniform;
  double scale;
  std::vector<double> bandwidths;
};

const std::vector<DataScale>& all_scales() {
  // d = 13: normal data has typical r ~ sqrt(2 d) scale ~ 5.1 scale, uniform [0, 1] data
  // r ~ sqrt(d / 6) ~ 1.5; bandwidths from half to three times that.
  static const std::vector<DataScale> scales = {
      {"normal 1e-2", false, 1e-2, {0.025, 0.05, 0.15}},
      {"uniform [0,1]", true, 1.0, {0.75, 1.5, 4.5}},
      {"normal 1", false, 1.0, {2.5, 5.0, 15.0}},
      {"normal 30", false, 30.0, {75.0, 150.0, 450.0}},
  };
  return scales;
}

template <class T>
Matrix<T> random_matrix(std::size_t rows, std::size_t cols, const DataScale& ds,
                        std::mt19937_64& gen) {
  Matrix<T> m(rows, cols);
  std::normal_distribution<double> normal(0.0, ds.scale);
  std::uniform_real_distribution<double> uniform(0.0, ds.scale);
  for (std::size_t i = 0; i < m.size(); ++i)
    m.data()[i] = static_cast<T>(ds.uniform ? uniform(gen) : normal(gen));
  return m;
}

// Copies m into a buffer with leading dimension ld >= cols; padding is NaN, so if anything reads
// it the NaN reaches the output and the comparison fails.
template <class T>
std::vector<T> padded(const Matrix<T>& m, std::size_t ld) {
  std::vector<T> out(m.rows() * ld, std::numeric_limits<T>::quiet_NaN());
  for (std::size_t i = 0; i < m.rows(); ++i)
    for (std::size_t j = 0; j < m.cols(); ++j) out[i * ld + j] = m(i, j);
  return out;
}

// Compares out (a.rows() x b.rows(), leading dimension ldo) with the reference; returns the
// largest absolute error seen. `exact_pairs` lists (i, j) where row j of B is row i of A, which
// must give exactly k(x, x) = 1.
template <class T>
double check_against_reference(
    const KernelCase& kc, double sigma, const Matrix<T>& a, const Matrix<T>& b, const T* out,
    std::size_t ldo, const std::vector<std::pair<std::size_t, std::size_t>>& exact_pairs) {
  const double tol = Tolerance<T>::value;
  double max_err = 0;
  std::size_t failures = 0;
  for (std::size_t i = 0; i < a.rows(); ++i) {
    for (std::size_t j = 0; j < b.rows(); ++j) {
      const long double r = reference_distance(a.row(i), b.row(j), a.cols());
      const double want = static_cast<double>(reference_kernel(kc, r, sigma));
      const double got = static_cast<double>(out[i * ldo + j]);
      const double err = std::abs(got - want);
      if (!(err <= tol) && failures++ < 5)
        ADD_FAILURE() << "K(" << i << ", " << j << ") = " << got << ", want " << want
                      << " (r = " << static_cast<double>(r) << ")";
      if (!(err <= max_err)) max_err = err;  // also catches NaN
    }
  }
  for (const auto& [i, j] : exact_pairs)
    EXPECT_EQ(out[i * ldo + j], T(1)) << "k(x, x) for A row " << i << " = B row " << j;
  return max_err;
}

// The values are not saturated: at least a tenth of them lie in [0.05, 0.95], where an error
// in r^2 shows in the kernel value (near 0 or 1 every formula hides it).
template <class T>
void expect_spread(const T* out, std::size_t rows, std::size_t cols, std::size_t ldo) {
  std::size_t informative = 0;
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j)
      informative += out[i * ldo + j] >= T(0.05) && out[i * ldo + j] <= T(0.95);
  EXPECT_GE(10 * informative, rows * cols) << "kernel values saturated for this bandwidth";
}

template <class T>
class KernelBlockTest : public ::testing::Test {};
using Precisions = ::testing::Types<float, double>;
TYPED_TEST_SUITE(KernelBlockTest, Precisions);

// A (37 x 13) and B (53 x 13) random, contiguous storage, every kernel, scale and bandwidth.
TYPED_TEST(KernelBlockTest, MatchesDefinitionOnRandomData) {
  using T = TypeParam;
  std::mt19937_64 gen(20240601);
  for (const auto& ds : all_scales()) {
    const Matrix<T> a = random_matrix<T>(37, 13, ds, gen);
    const Matrix<T> b = random_matrix<T>(53, 13, ds, gen);
    for (double sigma : ds.bandwidths) {
      for (const auto& kc : all_kernels()) {
        SCOPED_TRACE(kc.label() + ", " + Tolerance<T>::name + ", data " + ds.label + ", sigma " +
                     std::to_string(sigma));
        const Kernel k = Kernel::from_name(kc.name, sigma, kc.nu);
        Matrix<T> out(a.rows(), b.rows(), std::numeric_limits<T>::quiet_NaN());
        kernel_block(k, a.data(), a.rows(), a.cols(), b.data(), b.rows(), b.cols(), a.cols(),
                     out.data(), out.cols());
        check_against_reference(kc, sigma, a, b, out.data(), out.cols(), {});
        expect_spread(out.data(), out.rows(), out.cols(), out.cols());

        // The Matrix convenience form is the same computation.
        const Matrix<T> whole = kernel_block(k, a, b);
        for (std::size_t i = 0; i < out.size(); ++i) ASSERT_EQ(whole.data()[i], out.data()[i]);
      }
    }
  }
}

// B holds some rows of A (in other positions): those entries are k(x, x), which must come out as
// exactly 1 — the squared distance there is pure rounding residue that the implementation zeroes.
// The Laplacian is the sharp case: without that, sqrt(1e-16 residue) would give 1 - 1e-8.
TYPED_TEST(KernelBlockTest, DiagonalIsExactlyOneWhenBContainsRowsOfA) {
  using T = TypeParam;
  std::mt19937_64 gen(77);
  for (const auto& ds : all_scales()) {
    const Matrix<T> a = random_matrix<T>(37, 13, ds, gen);
    Matrix<T> b = random_matrix<T>(53, 13, ds, gen);
    std::vector<std::pair<std::size_t, std::size_t>> pairs;
    for (std::size_t i = 0; i < a.rows(); i += 3) {
      const std::size_t j = (7 * i + 5) % b.rows();  // distinct j for distinct i (7 coprime to 53)
      for (std::size_t c = 0; c < a.cols(); ++c) b(j, c) = a(i, c);
      pairs.emplace_back(i, j);
    }
    // And K(A, A): its whole diagonal.
    std::vector<std::pair<std::size_t, std::size_t>> diagonal;
    for (std::size_t i = 0; i < a.rows(); ++i) diagonal.emplace_back(i, i);
    for (double sigma : ds.bandwidths) {
      for (const auto& kc : all_kernels()) {
        SCOPED_TRACE(kc.label() + ", " + Tolerance<T>::name + ", data " + ds.label + ", sigma " +
                     std::to_string(sigma));
        const Kernel k = Kernel::from_name(kc.name, sigma, kc.nu);
        const Matrix<T> kab = kernel_block(k, a, b);
        check_against_reference(kc, sigma, a, b, kab.data(), kab.cols(), pairs);
        const Matrix<T> kaa = kernel_block(k, a, a);
        check_against_reference(kc, sigma, a, a, kaa.data(), kaa.cols(), diagonal);
        EXPECT_EQ(k.diagonal(), 1.0);
      }
    }
  }
}

// lda, ldb, ldo larger than needed: the input padding (NaN) is never read, the output padding is
// never written, and precomputed norms give the same result as norms computed inside.
TYPED_TEST(KernelBlockTest, LeadingDimensionsAndPrecomputedNorms) {
  using T = TypeParam;
  std::mt19937_64 gen(4242);
  const DataScale& ds = all_scales()[2];  // normal 1
  const double sigma = ds.bandwidths[0];
  const Matrix<T> a = random_matrix<T>(37, 13, ds, gen);
  const Matrix<T> b = random_matrix<T>(53, 13, ds, gen);
  const std::size_t d = a.cols(), lda = d + 3, ldb = d + 8, ldo = b.rows() + 11;
  const std::vector<T> ap = padded(a, lda), bp = padded(b, ldb);
  const T sentinel = T(-12345.5);

  std::vector<T> an(a.rows()), bn(b.rows());
  row_squared_norms(ap.data(), a.rows(), d, lda, an.data());
  row_squared_norms(bp.data(), b.rows(), d, ldb, bn.data());
  for (std::size_t i = 0; i < a.rows(); ++i) {
    long double s = 0;
    for (std::size_t j = 0; j < d; ++j) s += static_cast<long double>(a(i, j)) * a(i, j);
    EXPECT_NEAR(an[i], static_cast<double>(s), 4 * d * std::numeric_limits<T>::epsilon() * s);
  }

  for (const auto& kc : all_kernels()) {
    SCOPED_TRACE(kc.label() + ", " + Tolerance<T>::name);
    const Kernel k = Kernel::from_name(kc.name, sigma, kc.nu);
    for (bool with_norms : {false, true}) {
      SCOPED_TRACE(with_norms ? "norms passed in" : "norms computed inside");
      std::vector<T> out(a.rows() * ldo, sentinel);
      kernel_block(k, ap.data(), a.rows(), lda, bp.data(), b.rows(), ldb, d, out.data(), ldo,
                   with_norms ? an.data() : nullptr, with_norms ? bn.data() : nullptr);
      check_against_reference(kc, sigma, a, b, out.data(), ldo, {});
      for (std::size_t i = 0; i < a.rows(); ++i)
        for (std::size_t j = b.rows(); j < ldo; ++j)
          ASSERT_EQ(out[i * ldo + j], sentinel) << "padding written at (" << i << ", " << j << ")";

      // Same values as the contiguous call, bit for bit (same GEMM, same elementwise pass).
      const Matrix<T> dense = kernel_block(k, a, b);
      for (std::size_t i = 0; i < a.rows(); ++i)
        for (std::size_t j = 0; j < b.rows(); ++j)
          ASSERT_EQ(out[i * ldo + j], dense(i, j)) << "(" << i << ", " << j << ")";
    }
  }
}

// Empty blocks are a no-op (a rank can own no rows of a tile).
TYPED_TEST(KernelBlockTest, EmptyBlockWritesNothing) {
  using T = TypeParam;
  const Kernel k = Kernel::from_name("gaussian", 1.0);
  const std::vector<T> a(13, T(1)), b(13, T(2));
  std::vector<T> out(4, T(-7));
  kernel_block(k, a.data(), 0, 13, b.data(), 1, 13, 13, out.data(), 2);
  kernel_block(k, a.data(), 1, 13, b.data(), 0, 13, 13, out.data(), 2);
  for (T v : out) EXPECT_EQ(v, T(-7));
}

// matern nu = 0.5 is the Laplacian (DESIGN §1.1): same kind, same block, bit for bit.
TYPED_TEST(KernelBlockTest, MaternHalfIsLaplacian) {
  using T = TypeParam;
  std::mt19937_64 gen(5);
  const DataScale& ds = all_scales()[1];
  const Matrix<T> a = random_matrix<T>(37, 13, ds, gen);
  const Matrix<T> b = random_matrix<T>(53, 13, ds, gen);
  const Kernel m = Kernel::from_name("matern", 0.9, 0.5);
  const Kernel l = Kernel::from_name("laplacian", 0.9);
  EXPECT_EQ(m.kind, KernelKind::kLaplacian);
  const Matrix<T> km = kernel_block(m, a, b), kl = kernel_block(l, a, b);
  for (std::size_t i = 0; i < km.size(); ++i) ASSERT_EQ(km.data()[i], kl.data()[i]);
  check_against_reference(KernelCase{"matern", 0.5}, 0.9, a, b, km.data(), km.cols(), {});
  for (double r2 : {0.0, 0.01, 0.5, 2.0, 30.0})
    EXPECT_EQ(m.of_squared_distance(r2), l.of_squared_distance(r2));
}

// of_squared_distance is the scalar reference other code is tested against: check it against the
// same independent formulas, with r = sqrt(r2) in long double. Everything is float64 with a few
// roundings, hence 1e-14 absolute on values in [0, 1].
TEST(Kernel, OfSquaredDistanceMatchesDefinition) {
  for (const auto& kc : all_kernels()) {
    for (double sigma : {0.03, 1.0, 5.0, 170.0}) {
      SCOPED_TRACE(kc.label() + ", sigma " + std::to_string(sigma));
      const Kernel k = Kernel::from_name(kc.name, sigma, kc.nu);
      EXPECT_EQ(k.of_squared_distance(0.0), 1.0);
      for (double q : {1e-9, 1e-4, 0.01, 0.1, 0.3, 0.7, 1.0, 1.3, 2.0, 3.5, 6.0, 12.0, 40.0}) {
        const double r2 = q * q * sigma * sigma;
        const long double r = std::sqrt(static_cast<long double>(r2));
        const double want = static_cast<double>(reference_kernel(kc, r, sigma));
        EXPECT_NEAR(k.of_squared_distance(r2), want, 1e-14) << "r/sigma = " << q;
      }
      // Rounding can make a computed squared distance slightly negative; it is clamped at 0.
      EXPECT_EQ(k.of_squared_distance(-1e-18), 1.0);
    }
  }
}

TEST(Kernel, FromNameSetsKindBandwidthAndName) {
  EXPECT_EQ(Kernel::from_name("gaussian", 2.0).kind, KernelKind::kGaussian);
  EXPECT_EQ(Kernel::from_name("laplacian", 2.0).kind, KernelKind::kLaplacian);
  EXPECT_EQ(Kernel::from_name("cauchy", 2.0).kind, KernelKind::kCauchy);
  const Kernel m = Kernel::from_name("matern", 3.0, 2.5);
  EXPECT_EQ(m.kind, KernelKind::kMatern);
  EXPECT_EQ(m.nu, 2.5);
  EXPECT_EQ(m.bandwidth, 3.0);
  for (const char* name : {"gaussian", "laplacian", "matern", "cauchy"})
    EXPECT_EQ(Kernel::from_name(name, 1.0).name(), name);
}

// Throws kmpi::Error (not some other exception) whose message names `key`.
template <class F>
void expect_error_naming(F&& f, const std::string& key) {
  try {
    f();
    ADD_FAILURE() << "no error thrown; expected one naming " << key;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos)
        << "message '" << e.what() << "' does not name " << key;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected kmpi::Error, got another exception: " << e.what();
  }
}

TEST(Kernel, FromNameRejectsBadValuesNamingTheKey) {
  expect_error_naming([] { Kernel::from_name("rbf", 1.0); }, "kernel.name");
  expect_error_naming([] { Kernel::from_name("", 1.0); }, "kernel.name");
  expect_error_naming([] { Kernel::from_name("Gaussian", 1.0); }, "kernel.name");
  expect_error_naming([] { Kernel::from_name("gaussian", 0.0); }, "kernel.bandwidth");
  expect_error_naming([] { Kernel::from_name("gaussian", -1.0); }, "kernel.bandwidth");
  expect_error_naming([] { Kernel::from_name("laplacian", std::nan("")); }, "kernel.bandwidth");
  expect_error_naming([] { Kernel::from_name("cauchy", std::numeric_limits<double>::infinity()); },
                      "kernel.bandwidth");
  expect_error_naming([] { Kernel::from_name("matern", 1.0, 2.0); }, "kernel.nu");
  expect_error_naming([] { Kernel::from_name("matern", 1.0, 0.0); }, "kernel.nu");
  expect_error_naming([] { Kernel::from_name("matern", 1.0, std::nan("")); }, "kernel.nu");
}

}  // namespace
}  // namespace kmpi
