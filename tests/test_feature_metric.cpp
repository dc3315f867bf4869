// FeatureMetric (DESIGN §1.5) against references written out here: the PSD part of M by a
// Jacobi eigendecomposition of the test's own (not LAPACK's), r^2 = (x - z)^T M+ (x - z) summed
// directly from M+ (not from S), then k(r^2) point by point. The metric file reader and writer,
// and model files of format version 2 written byte by byte.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kmpi/error.hpp"
#include "kmpi/feature_metric.hpp"
#include "kmpi/kernel.hpp"
#include "kmpi/model.hpp"
#include "support.hpp"

namespace kmpi {
namespace {

using testing_support::error_of;
using testing_support::npy_bytes;
using testing_support::write_file;
using testing_support::write_text;

// Symmetric A = V diag(values) V^T by cyclic Jacobi rotations (columns of V belong to values).
struct Jacobi {
  std::vector<double> values;
  Matrix<double> vectors;
};
Jacobi jacobi_eigen(Matrix<double> a) {
  const std::size_t n = a.rows();
  Matrix<double> v(n, n);
  for (std::size_t i = 0; i < n; ++i) v(i, i) = 1;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (std::size_t p = 0; p < n; ++p)
      for (std::size_t q = p + 1; q < n; ++q) off += a(p, q) * a(p, q);
    if (off < 1e-300) break;
    for (std::size_t p = 0; p < n; ++p)
      for (std::size_t q = p + 1; q < n; ++q) {
        if (a(p, q) == 0) continue;
        const double theta = (a(q, q) - a(p, p)) / (2 * a(p, q));
        const double t = (theta >= 0 ? 1 : -1) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (std::size_t k = 0; k < n; ++k) {  // A <- A J
          const double akp = a(k, p), akq = a(k, q);
          a(k, p) = c * akp - s * akq;
          a(k, q) = s * akp + c * akq;
        }
        for (std::size_t k = 0; k < n; ++k) {  // A <- J^T A
          const double apk = a(p, k), aqk = a(q, k);
          a(p, k) = c * apk - s * aqk;
          a(q, k) = s * apk + c * aqk;
        }
        for (std::size_t k = 0; k < n; ++k) {
          const double vkp = v(k, p), vkq = v(k, q);
          v(k, p) = c * vkp - s * vkq;
          v(k, q) = s * vkp + c * vkq;
        }
      }
  }
  Jacobi out{std::vector<double>(n), std::move(v)};
  for (std::size_t i = 0; i < n; ++i) out.values[i] = a(i, i);
  return out;
}

// M's PSD part V diag(max(l, 0)) V^T.
Matrix<double> psd_part(const Matrix<double>& m) {
  const Jacobi e = jacobi_eigen(m);
  const std::size_t n = m.rows();
  Matrix<double> out(n, n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      long double s = 0;
      for (std::size_t k = 0; k < n; ++k)
        s += static_cast<long double>(e.vectors(i, k)) * std::max(e.values[k], 0.0) *
             e.vectors(j, k);
      out(i, j) = static_cast<double>(s);
    }
  return out;
}

// (x - z)^T M (x - z) from the definition, in long double.
double mahalanobis_squared(const double* x, const double* z, const Matrix<double>& m) {
  const std::size_t d = m.rows();
  long double s = 0;
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < d; ++j)
      s += static_cast<long double>(x[i] - z[i]) * m(i, j) * (x[j] - z[j]);
  return static_cast<double>(s);
}

Matrix<double> random_matrix(std::size_t rows, std::size_t cols, std::mt19937_64& gen,
                             double scale = 1.0) {
  std::normal_distribution<double> normal(0.0, scale);
  Matrix<double> m(rows, cols);
  for (double& v : m.storage()) v = normal(gen);
  return m;
}

// Symmetric d x d: B B^T / d with `negative` of its eigen-directions pushed below 0 (an
// indefinite M, as a float32 AGOP rounded near 0 or a user's file may be).
Matrix<double> symmetric_metric(std::size_t d, std::size_t negative, std::mt19937_64& gen) {
  const Matrix<double> b = random_matrix(d, d, gen);
  Matrix<double> m(d, d);
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      double s = 0;
      for (std::size_t k = 0; k < d; ++k) s += b(i, k) * b(j, k);
      m(i, j) = s / static_cast<double>(d);
    }
  // Subtract 3 u u^T for `negative` random unit vectors u: at least that many eigenvalues turn
  // negative when 3 exceeds the PSD part's spread in those directions (checked by the caller).
  for (std::size_t k = 0; k < negative; ++k) {
    Matrix<double> u = random_matrix(1, d, gen);
    double norm = 0;
    for (double v : u.storage()) norm += v * v;
    for (double& v : u.storage()) v /= std::sqrt(norm);
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j) m(i, j) -= 3 * u(0, i) * u(0, j);
  }
  // Exactly symmetric (the loops above round both halves identically, but say so).
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < i; ++j) m(i, j) = m(j, i);
  return m;
}

struct KernelCase {
  const char* name;
  double nu;
};
const KernelCase kKernels[] = {
    {"gaussian", 1.5}, {"laplacian", 1.5}, {"matern", 1.5}, {"matern", 2.5}, {"cauchy", 1.5}};

// Absolute tolerances on kernel values in [0, 1]: the block's r^2 = ||u||^2 + ||v||^2 - 2 u.v
// on the transformed rows (||u||^2 / sigma^2 under ~10 here) rounds to a few d eps * 10, the
// transform u = x S adds a few d eps relative: ~1e-14 in float64, ~1e-6 in float32 (as in
// test_kernel.cpp).
constexpr double kTolerance64 = 1e-12, kTolerance32 = 1e-5;

// kernel_block on rows transformed by `metric` equals k(r^2) with r^2 = (x-z)^T M+ (x-z).
void expect_mahalanobis_blocks(const FeatureMetric& metric, const Matrix<double>& m_plus,
                               const Matrix<double>& x, const Matrix<double>& z) {
  Matrix<double> u = x, v = z;
  metric.apply(u);
  metric.apply(v);
  const Matrix<float> u32 = convert<float>(u), v32 = convert<float>(v);
  std::size_t informative = 0, total = 0;
  for (const KernelCase& kc : kKernels)
    for (double sigma : {1.0, 2.5}) {
      SCOPED_TRACE(std::string(kc.name) + " nu " + std::to_string(kc.nu) + " sigma " +
                   std::to_string(sigma));
      const Kernel k = Kernel::from_name(kc.name, sigma, kc.nu);
      const Matrix<double> got64 = kernel_block(k, u, v);
      const Matrix<float> got32 = kernel_block(k, u32, v32);
      double err64 = 0, err32 = 0;
      for (std::size_t i = 0; i < x.rows(); ++i)
        for (std::size_t j = 0; j < z.rows(); ++j) {
          const double want =
              k.of_squared_distance(mahalanobis_squared(x.row(i), z.row(j), m_plus));
          err64 = std::max(err64, std::fabs(got64(i, j) - want));
          err32 = std::max(err32, std::fabs(static_cast<double>(got32(i, j)) - want));
          informative += want > 0.05 && want < 0.95;
          ++total;
        }
      EXPECT_LE(err64, kTolerance64);
      EXPECT_LE(err32, kTolerance32);
    }
  EXPECT_GT(informative, total / 10) << "kernel values saturated: the test would test nothing";
}

TEST(FeatureMetric, FullMetricBlocksMatchPointwiseMahalanobisKernel) {
  std::mt19937_64 gen(1201);
  const std::size_t d = 7;
  const Matrix<double> x = random_matrix(23, d, gen, 0.6), z = random_matrix(31, d, gen, 0.6);
  for (std::size_t negative : {0, 2}) {
    SCOPED_TRACE("negative directions " + std::to_string(negative));
    const Matrix<double> m = symmetric_metric(d, negative, gen);
    const Jacobi e = jacobi_eigen(m);
    const auto below =
        std::count_if(e.values.begin(), e.values.end(), [](double l) { return l < 0; });
    if (negative > 0) {
      ASSERT_GE(below, 1) << "the indefinite case must have negative eigenvalues";
    } else {
      ASSERT_EQ(below, 0);
    }
    const Matrix<double> m_plus = psd_part(m);
    const FeatureMetric metric = FeatureMetric::from_matrix(MetricKind::kFull, m);
    ASSERT_EQ(metric.kind, MetricKind::kFull);
    ASSERT_EQ(metric.dimension, d);
    ASSERT_EQ(metric.root.size(), d * d);
    expect_mahalanobis_blocks(metric, m_plus, x, z);

    // matrix() = S S = M+; S symmetric; top_eigenvalues = M+'s, descending.
    const Matrix<double> back = metric.matrix();
    double largest = 0;
    for (double v : m_plus.storage()) largest = std::max(largest, std::fabs(v));
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j) {
        EXPECT_NEAR(back(i, j), m_plus(i, j), 1e-12 * largest);
        EXPECT_EQ(metric.root[i * d + j], metric.root[j * d + i]);
      }
    std::vector<double> want = e.values;
    for (double& l : want) l = std::max(l, 0.0);
    std::sort(want.begin(), want.end(), [](double a, double b) { return a > b; });
    const std::vector<double> top = metric.top_eigenvalues(3);
    ASSERT_EQ(top.size(), 3u);
    for (std::size_t k = 0; k < 3; ++k) EXPECT_NEAR(top[k], want[k], 1e-12 * want[0]);
    EXPECT_EQ(metric.top_eigenvalues(100).size(), d);
  }
}

TEST(FeatureMetric, DiagonalMetricBlocksMatchPointwiseMahalanobisKernel) {
  std::mt19937_64 gen(1202);
  const std::size_t d = 6;
  const Matrix<double> x = random_matrix(19, d, gen, 0.6), z = random_matrix(29, d, gen, 0.6);
  Matrix<double> diag(1, d);
  const double entries[] = {0.3, 2.0, -0.5, 1.0, 0.0, 4.0};  // -0.5 is clipped to 0
  std::copy(entries, entries + d, diag.data());
  Matrix<double> m_plus(d, d);
  for (std::size_t j = 0; j < d; ++j) m_plus(j, j) = std::max(entries[j], 0.0);
  const FeatureMetric metric = FeatureMetric::from_matrix(MetricKind::kDiagonal, diag);
  ASSERT_EQ(metric.dimension, d);
  ASSERT_EQ(metric.root.size(), d);
  EXPECT_EQ(metric.root[2], 0.0);
  expect_mahalanobis_blocks(metric, m_plus, x, z);

  // A d x d input: its diagonal is taken.
  Matrix<double> square = random_matrix(d, d, gen);
  for (std::size_t j = 0; j < d; ++j) square(j, j) = std::max(entries[j], 0.0) + 0.0;
  const FeatureMetric from_square = FeatureMetric::from_matrix(MetricKind::kDiagonal, square);
  EXPECT_EQ(from_square.root, metric.root);
  const Matrix<double> back = metric.matrix();
  ASSERT_EQ(back.rows(), 1u);
  for (std::size_t j = 0; j < d; ++j) EXPECT_DOUBLE_EQ(back(0, j), m_plus(j, j));
  const std::vector<double> top = metric.top_eigenvalues(2);  // sqrt(2)^2 rounds: not == 2
  ASSERT_EQ(top.size(), 2u);
  EXPECT_DOUBLE_EQ(top[0], 4.0);
  EXPECT_DOUBLE_EQ(top[1], 2.0);
}

TEST(FeatureMetric, NoneIsTheIdentityAndBadInputsThrow) {
  const FeatureMetric none;
  EXPECT_TRUE(none.is_identity());
  Matrix<double> y(3, 4, 2.5);
  none.apply(y);
  for (double v : y.storage()) EXPECT_EQ(v, 2.5);
  EXPECT_TRUE(none.matrix().empty());
  EXPECT_TRUE(none.top_eigenvalues(3).empty());

  Matrix<double> identity(3, 3);
  for (std::size_t j = 0; j < 3; ++j) identity(j, j) = 1;
  const FeatureMetric full = FeatureMetric::from_matrix(MetricKind::kFull, identity);
  Matrix<double> wrong(2, 4, 1.0);
  EXPECT_MESSAGE_HAS(error_of([&] { full.apply(wrong); }), "d = 3");
  EXPECT_MESSAGE_HAS(error_of([&] { FeatureMetric::from_matrix(MetricKind::kFull, wrong); }),
                     "d x d");
  EXPECT_MESSAGE_HAS(error_of([&] { FeatureMetric::from_matrix(MetricKind::kDiagonal, wrong); }),
                     "1 x d");
  identity(1, 2) = std::numeric_limits<double>::infinity();
  EXPECT_MESSAGE_HAS(error_of([&] { FeatureMetric::from_matrix(MetricKind::kFull, identity); }),
                     "not finite");

  EXPECT_EQ(metric_kind("none", "kernel.metric"), MetricKind::kNone);
  EXPECT_EQ(metric_kind("diagonal", "kernel.metric"), MetricKind::kDiagonal);
  EXPECT_EQ(metric_kind("full", "kernel.metric"), MetricKind::kFull);
  EXPECT_MESSAGE_HAS(error_of([] { metric_kind("cholesky", "kernel.metric"); }),
                     "kernel.metric: unknown metric 'cholesky'");
  for (MetricKind k : {MetricKind::kNone, MetricKind::kDiagonal, MetricKind::kFull})
    EXPECT_EQ(metric_kind(metric_kind_name(k), "k"), k);
}

class MetricFile : public testing_support::ScratchDirTest {};

TEST_F(MetricFile, ReadsFullAndDiagonalFilesAndSavesThemBack) {
  std::mt19937_64 gen(1203);
  const std::size_t d = 5;
  const Matrix<double> m = symmetric_metric(d, 1, gen);
  write_file(path("full.npy"), npy_bytes("<f8", "(5, 5)", m.storage()));
  const FeatureMetric full = load_metric_file(path("full.npy"), MetricKind::kFull, d);
  const FeatureMetric direct = FeatureMetric::from_matrix(MetricKind::kFull, m);
  EXPECT_EQ(full.root, direct.root);  // the same bits as from the matrix in memory

  // float32 files, 1-D and (1, d) diagonal files.
  std::vector<float> f32(m.storage().begin(), m.storage().end());
  write_file(path("full32.npy"), npy_bytes("<f4", "(5, 5)", f32));
  EXPECT_EQ(load_metric_file(path("full32.npy"), MetricKind::kFull, d).dimension, d);
  const std::vector<double> diag = {1.0, 0.25, 4.0, 0.0, 9.0};
  write_file(path("diag.npy"), npy_bytes("<f8", "(5,)", diag));
  write_file(path("diag_row.npy"), npy_bytes("<f8", "(1, 5)", diag));
  const FeatureMetric dm = load_metric_file(path("diag.npy"), MetricKind::kDiagonal, d);
  EXPECT_EQ(dm.root, (std::vector<double>{1.0, 0.5, 2.0, 0.0, 3.0}));
  EXPECT_EQ(load_metric_file(path("diag_row.npy"), MetricKind::kDiagonal, d).root, dm.root);
  // diagonal from a d x d file: its diagonal.
  const FeatureMetric from_full = load_metric_file(path("full.npy"), MetricKind::kDiagonal, d);
  for (std::size_t j = 0; j < d; ++j)
    EXPECT_EQ(from_full.root[j], std::sqrt(std::max(m(j, j), 0.0)));

  // save_metric_file writes M = S S (float64), atomically; it reads back as the same metric.
  save_metric_file(path("saved_diag.npy"), dm);
  EXPECT_EQ(load_metric_file(path("saved_diag.npy"), MetricKind::kDiagonal, d).root, dm.root);
  save_metric_file(path("saved_full.npy"), full);
  const FeatureMetric again = load_metric_file(path("saved_full.npy"), MetricKind::kFull, d);
  // M+ may have eigenvalues clipped to 0; S S brings them back as +-1e-16 ||M|| rounding noise
  // whose square roots are ~1e-8: the round trip is good to sqrt(eps ||M||), not to eps (1.8e-10
  // was measured under the Debug/ASan build's LAPACK, 1e-13 in Release).
  for (std::size_t i = 0; i < d * d; ++i) EXPECT_NEAR(again.root[i], full.root[i], 1e-7);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(path("")))
    names.push_back(entry.path().filename().string());
  for (const std::string& n : names) EXPECT_EQ(n.find(".tmp"), std::string::npos) << n;
  EXPECT_MESSAGE_HAS(error_of([&] { save_metric_file(path("none.npy"), FeatureMetric()); }),
                     path("none.npy"));
  EXPECT_MESSAGE_HAS(error_of([&] { save_metric_file(path("no/such/dir/m.npy"), dm); }),
                     path("no/such/dir/m.npy"));
}

TEST_F(MetricFile, BadFilesGiveErrorsNamingTheFile) {
  const std::size_t d = 3;
  const std::vector<double> identity = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  write_file(path("i3.npy"), npy_bytes("<f8", "(3, 3)", identity));
  const auto message = [&](const std::string& name, MetricKind kind, std::size_t dim) {
    return error_of([&] { load_metric_file(path(name), kind, dim); });
  };
  const std::string wrong_d = message("i3.npy", MetricKind::kFull, 4);
  EXPECT_MESSAGE_HAS(wrong_d, path("i3.npy") + ": wrong shape for a full metric on d = 4");
  EXPECT_MESSAGE_HAS(wrong_d, "the file holds 3 x 3 values");
  write_file(path("v4.npy"), npy_bytes("<f8", "(4,)", std::vector<double>{1, 2, 3, 4}));
  EXPECT_MESSAGE_HAS(message("v4.npy", MetricKind::kDiagonal, d),
                     path("v4.npy") + ": wrong shape for a diagonal metric on d = 3");
  EXPECT_MESSAGE_HAS(message("v4.npy", MetricKind::kFull, 2), path("v4.npy") + ": wrong shape");
  write_file(path("rect.npy"), npy_bytes("<f8", "(3, 2)", std::vector<double>(6, 1.0)));
  EXPECT_MESSAGE_HAS(message("rect.npy", MetricKind::kDiagonal, d),
                     path("rect.npy") + ": wrong shape");

  std::vector<double> nan = identity;
  nan[4] = std::numeric_limits<double>::quiet_NaN();
  write_file(path("nan.npy"), npy_bytes("<f8", "(3, 3)", nan));
  EXPECT_MESSAGE_HAS(message("nan.npy", MetricKind::kFull, d), path("nan.npy") + ":");
  EXPECT_MESSAGE_HAS(message("nan.npy", MetricKind::kFull, d), "NaN");

  std::vector<double> asymmetric = identity;
  asymmetric[1] = 0.5;  // (0, 1) = 0.5, (1, 0) = 0
  write_file(path("asym.npy"), npy_bytes("<f8", "(3, 3)", asymmetric));
  EXPECT_MESSAGE_HAS(message("asym.npy", MetricKind::kFull, d),
                     path("asym.npy") + ": not symmetric: entry (0, 1) = 0.5 but (1, 0) = 0");
  asymmetric[1] = 1e-9;  // within the tolerance: symmetrised
  write_file(path("nearly.npy"), npy_bytes("<f8", "(3, 3)", asymmetric));
  EXPECT_EQ(load_metric_file(path("nearly.npy"), MetricKind::kFull, d).dimension, d);

  write_file(path("int.npy"), npy_bytes("<i8", "(3,)", std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_MESSAGE_HAS(message("int.npy", MetricKind::kDiagonal, d),
                     path("int.npy") + ": a metric file holds float64 or float32 values");
  EXPECT_MESSAGE_HAS(message("absent.npy", MetricKind::kFull, d),
                     path("absent.npy") + ": no such file");
  write_text(path("text.npy"), "not a numpy file at all, but long enough to be read as one");
  EXPECT_MESSAGE_HAS(message("text.npy", MetricKind::kFull, d), path("text.npy") + ":");
}

// Model files of format version 2, written byte by byte from the layout in kmpi/model.hpp.
class ModelFileV2 : public testing_support::ScratchDirTest {};

template <class T>
void put(std::string& out, T v) {  // little-endian host
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

// d = 2, c = 1, p = 3, gaussian, no scaling; `metric` kind and S values after the scaling.
std::string model_v2_bytes(std::uint32_t kind, const std::vector<double>& root,
                           std::uint32_t version = 2) {
  std::string b = "KMPIMODL";
  put<std::uint32_t>(b, version);
  put<std::uint32_t>(b, 0);  // gaussian
  put<double>(b, 1.5);
  put<double>(b, 2.0);
  put<std::uint32_t>(b, 0);  // no scaling
  put<std::uint32_t>(b, 1);  // regression
  put<std::uint64_t>(b, 2);
  put<std::uint64_t>(b, 1);
  put<std::uint64_t>(b, 3);
  for (double v : {0.0, 0.0, 1.0, 1.0}) put<double>(b, v);
  if (version >= 2) {
    put<std::uint32_t>(b, kind);
    for (double v : root) put<double>(b, v);
  }
  for (int i = 0; i < 6; ++i) put<double>(b, i * 0.5);
  for (int i = 0; i < 3; ++i) put<double>(b, -1.0 - i);
  const uLong crc =
      crc32(0L, reinterpret_cast<const Bytef*>(b.data()), static_cast<uInt>(b.size()));
  put<std::uint32_t>(b, static_cast<std::uint32_t>(crc));
  return b;
}

TEST_F(ModelFileV2, MetricSectionReadsBackBitForBit) {
  // Values whose bits matter: a subnormal, a negative zero, a value with a full mantissa.
  const std::vector<double> full = {std::nextafter(1.0, 2.0), 0.1 + 0.2, 0.1 + 0.2, -0.0};
  const std::vector<double> diagonal = {std::numeric_limits<double>::denorm_min(), 1.0 / 3.0};
  struct Case {
    MetricKind kind;
    std::vector<double> root;
  };
  for (const Case& c : {Case{MetricKind::kFull, full}, Case{MetricKind::kDiagonal, diagonal},
                        Case{MetricKind::kNone, {}}}) {
    SCOPED_TRACE(metric_kind_name(c.kind));
    write_text(path("m.kmpi"), model_v2_bytes(static_cast<std::uint32_t>(c.kind), c.root));
    const ModelHeader h = read_model_header(path("m.kmpi"));
    EXPECT_EQ(h.metric.kind, c.kind);
    EXPECT_EQ(h.dimension, 2u);
    EXPECT_EQ(h.centers, 3u);
    ASSERT_EQ(h.metric.root.size(), c.root.size());
    if (!c.root.empty()) {
      EXPECT_EQ(0, std::memcmp(h.metric.root.data(), c.root.data(), 8 * c.root.size()));
    }
    EXPECT_EQ(h.metric.dimension, c.kind == MetricKind::kNone ? 0u : 2u);
  }
  // Version 1 (no metric section) loads with metric none.
  write_text(path("v1.kmpi"), model_v2_bytes(0, {}, 1));
  const ModelHeader v1 = read_model_header(path("v1.kmpi"));
  EXPECT_EQ(v1.metric.kind, MetricKind::kNone);
  EXPECT_TRUE(v1.metric.root.empty());
  EXPECT_EQ(v1.centers, 3u);

  // prepare_inputs: the scaling, then S.
  ModelHeader h;
  h.dimension = 2;
  h.scaling.mode = ScaleMode::kStandardize;
  h.scaling.offset = {1.0, -1.0};
  h.scaling.multiplier = {2.0, 0.5};
  Matrix<double> diag(1, 2);
  diag(0, 0) = 4.0;
  diag(0, 1) = 9.0;
  h.metric = FeatureMetric::from_matrix(MetricKind::kDiagonal, diag);
  Matrix<double> x(1, 2);
  x(0, 0) = 3.0;
  x(0, 1) = 1.0;
  h.prepare_inputs(x);
  EXPECT_EQ(x(0, 0), (3.0 - 1.0) * 2.0 * 2.0);
  EXPECT_EQ(x(0, 1), (1.0 + 1.0) * 0.5 * 3.0);
}

TEST_F(ModelFileV2, DamagedMetricSectionsNameTheFile) {
  write_text(path("kind.kmpi"), model_v2_bytes(7, {}));
  EXPECT_MESSAGE_HAS(error_of([&] { read_model_header(path("kind.kmpi")); }),
                     path("kind.kmpi") + ": corrupt model header: unknown metric kind 7");
  // A full metric's 4 values missing: the sizes do not add up.
  write_text(path("short.kmpi"), model_v2_bytes(2, {1.0, 0.0}));
  EXPECT_MESSAGE_HAS(error_of([&] { read_model_header(path("short.kmpi")); }),
                     path("short.kmpi") + ": truncated");
  std::string cut = model_v2_bytes(1, {1.0, 1.0});
  write_text(path("cut.kmpi"), cut.substr(0, 64 + 32 + 2));
  EXPECT_MESSAGE_HAS(error_of([&] { read_model_header(path("cut.kmpi")); }),
                     path("cut.kmpi") + ": truncated");
  write_text(path("nan.kmpi"), model_v2_bytes(1, {1.0, std::nan("")}));
  EXPECT_MESSAGE_HAS(error_of([&] { read_model_header(path("nan.kmpi")); }),
                     path("nan.kmpi") + ": corrupt model: a value of the metric is not finite");
}

}  // namespace
}  // namespace kmpi
