// The Laplace family k = exp(-||u - v||_p^q / L^q) (DESIGN §1.5) at this rank count: the
// distributed AGOP against a serial reference written out here point by point, the direct solver
// against its normal equations from kernel_block, and the model file's (q, p).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common.hpp"
#include "kernels/agop.hpp"
#include "kmpi/feature_metric.hpp"
#include "kmpi/model.hpp"
#include "solvers/grid_solvers.hpp"

namespace kmpi {
namespace {

using namespace testing_support;

struct Family {
  double p, q;
  std::string label() const { return "p=" + std::to_string(p) + " q=" + std::to_string(q); }
};
// The grid of the issue: p in {1, 1.5, 2}, q in {0.7, 1, p} (q <= p).
std::vector<Family> grid() {
  return {{1, 0.7}, {1, 1}, {1.5, 0.7}, {1.5, 1}, {1.5, 1.5}, {2, 0.7}, {2, 1}, {2, 2}};
}

// S: identity, diagonal with the last feature switched off, or full symmetric.
Matrix<double> root_of(MetricKind kind, std::size_t d) {
  Matrix<double> s(d, d);
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      if (kind == MetricKind::kFull)
        s(i, j) =
            (i == j ? 0.9 : 0.0) + 0.15 * (uniform01(77, std::min(i, j), std::max(i, j)) - 0.5);
      else if (i == j)
        s(i, j) = kind == MetricKind::kNone ? 1.0 : (i + 1 == d ? 0.0 : 0.6 + 0.25 * double(i));
    }
  return s;
}

FeatureMetric metric_of(MetricKind kind, const Matrix<double>& s) {
  FeatureMetric m;
  m.kind = kind;
  m.dimension = s.rows();
  const std::size_t d = s.rows();
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < d; ++j)
      if (kind == MetricKind::kFull || (kind == MetricKind::kDiagonal && i == j))
        m.root.push_back(s(i, j));
  return m;
}

Matrix<double> times(const Matrix<double>& x, const Matrix<double>& s) {
  Matrix<double> u(x.rows(), s.cols());
  for (std::size_t i = 0; i < x.rows(); ++i)
    for (std::size_t j = 0; j < s.cols(); ++j)
      for (std::size_t t = 0; t < x.cols(); ++t) u(i, j) += x(i, t) * s(t, j);
  return u;
}

Matrix<double> rows_range(const Matrix<double>& m, std::size_t begin, std::size_t end) {
  return rows_of(begin, end - begin, m.cols(),
                 [&](std::size_t i, std::size_t l) { return m(i, l); });
}

// G in x coordinates, serial, point by point: u = x S, v = z S; grad_u f_l(u_j) =
// sum_i alpha_il g_ji h(u_j - v_i) with r = ||u_j - v_i||_p, g = -(q / L^q) k r^(q-p) (0 at
// r = 0), h_t = |.|^(p-1) sign(.); grad_x = S grad_u (S symmetric); G = mean of grad grad^T.
Matrix<double> reference_agop(const Family& f, double l, const Matrix<double>& x,
                              const Matrix<double>& z, const Matrix<double>& alpha,
                              const Matrix<double>& s) {
  const std::size_t d = x.cols(), c = alpha.cols();
  const Matrix<double> u = times(x, s), v = times(z, s);
  Matrix<double> g(d, d);
  std::vector<double> gu(d), gx(d);
  for (std::size_t j = 0; j < u.rows(); ++j)
    for (std::size_t a = 0; a < c; ++a) {
      std::fill(gu.begin(), gu.end(), 0.0);
      for (std::size_t i = 0; i < v.rows(); ++i) {
        double sum = 0;
        for (std::size_t t = 0; t < d; ++t) sum += std::pow(std::fabs(u(j, t) - v(i, t)), f.p);
        const double r = std::pow(sum, 1 / f.p);
        if (r < kLaplacianSelfDistance) continue;
        const double k = std::exp(-std::pow(r, f.q) / std::pow(l, f.q));
        const double scale = -(f.q / std::pow(l, f.q)) * k * std::pow(r, f.q - f.p);
        for (std::size_t t = 0; t < d; ++t) {
          const double x_t = u(j, t) - v(i, t);
          const double h = x_t == 0 ? 0.0 : std::copysign(std::pow(std::fabs(x_t), f.p - 1), x_t);
          gu[t] += alpha(i, a) * scale * h;
        }
      }
      for (std::size_t t = 0; t < d; ++t) {
        gx[t] = 0;
        for (std::size_t b = 0; b < d; ++b) gx[t] += s(t, b) * gu[b];
      }
      for (std::size_t t = 0; t < d; ++t)
        for (std::size_t b = 0; b < d; ++b) g(t, b) += gx[t] * gx[b];
    }
  for (std::size_t e = 0; e < g.size(); ++e) g.data()[e] /= static_cast<double>(u.rows());
  return g;
}

// Centers partitioned (Z = X, the sample every rank's own rows, self terms included) and
// replicated (separate centers, rank 0 without sample rows when P > 1). Tolerances as in
// test_agop.cpp: float64 differs in summation order only (1e-10 of max |G|); float32 carries
// ~1e-6 relative per distance and scale, G is quadratic in the gradients: 1e-4.
TEST(LpqAgop, MatchesPointwiseReferenceOnBothLayoutsAndEveryMetric) {
  auto comm = mpi::Communicator::world();
  const int P = comm.size(), me = comm.rank();
  const std::size_t d = 4, n = 45, pz = 37, c = 2;
  const Matrix<double> x_all = synthetic_rows(51, 0, n, d), z_sep = synthetic_rows(52, 0, pz, d);
  const auto alpha_for = [&](std::size_t p) {
    return rows_of(0, p, c,
                   [](std::size_t i, std::size_t l) { return std::sin(1.0 + i + 5.0 * l); });
  };
  const BlockPartition part(n, P);
  // Partitioned centers by rounds (gather_bytes 0) and gathered (the default, at this size).
  for (auto [layout, gather] : {std::pair{CenterLayout::kPartitioned, std::size_t(0)},
                                {CenterLayout::kPartitioned, kAgopGatherBytes},
                                {CenterLayout::kReplicated, kAgopGatherBytes}}) {
    const bool partitioned = layout == CenterLayout::kPartitioned;
    const Matrix<double>& z_all = partitioned ? x_all : z_sep;
    const Matrix<double> alpha_all = alpha_for(z_all.rows());
    std::size_t s0 = part.begin(me), s1 = part.end(me);
    if (!partitioned && P > 1) {
      const BlockPartition rest(n, P - 1);
      s0 = me == 0 ? 0 : rest.begin(me - 1);
      s1 = me == 0 ? 0 : rest.end(me - 1);
    }
    const std::size_t z0 = partitioned ? part.begin(me) : 0, z1 = partitioned ? part.end(me) : pz;
    for (MetricKind kind : {MetricKind::kNone, MetricKind::kDiagonal, MetricKind::kFull}) {
      const Matrix<double> s = root_of(kind, d);
      const FeatureMetric metric = metric_of(kind, s);
      const Matrix<double> u = times(rows_range(x_all, s0, s1), s);
      const Matrix<double> v = times(rows_range(z_all, z0, z1), s);
      const Matrix<double> alpha = rows_range(alpha_all, z0, z1);
      for (const Family& f : grid()) {
        const double l = 1.1;
        const Matrix<double> want = reference_agop(f, l, x_all, z_all, alpha_all, s);
        ASSERT_GT(max_abs(want), 0.0);
        for (Precision precision : {Precision::kFloat64, Precision::kFloat32}) {
          AgopInput in;
          in.kernel = Kernel::from_name("laplacian", l, 1.5, f.q, f.p);
          in.precision = precision;
          in.sample = &u;
          in.sample_total = n;
          in.centers = &v;
          in.alpha = &alpha;
          in.layout = layout;
          in.metric = &metric;
          in.block_rows = 7;     // rounds that straddle the ranks' row ranges
          in.tile_bytes = 1024;  // several center tiles per rank
          in.gather_bytes = gather;
          const Matrix<double> got = agop(comm, in);
          const std::string what = f.label() + (partitioned ? ", partitioned" : ", replicated") +
                                   (gather == 0 ? " by rounds" : "") + ", metric " +
                                   std::to_string(int(kind)) +
                                   (precision == Precision::kFloat32 ? ", f32" : ", f64");
          ASSERT_EQ(got.rows(), d) << what;
          const double tol = precision == Precision::kFloat32 ? 1e-4 : 1e-10;
          EXPECT_LT(max_abs_diff(got, want), tol * max_abs(want)) << what;
        }
      }
    }
  }
}

// The direct solver's shared-products grid with a family kernel between two Euclidean ones:
// each alpha solves (K + lambda n I) alpha = Y with K = kernel_block in float64 (residual
// 1e-8 of ||Y||: a Cholesky solve of a matrix with condition ~1e5).
TEST(LpqDirect, GridSolvesItsNormalEquations) {
  auto comm = mpi::Communicator::world();
  const std::size_t n = 60, d = 3;
  const std::vector<Kernel> kernels = {Kernel::from_name("gaussian", 1.0),
                                       Kernel::from_name("laplacian", 1.0, 1.5, 0.7, 1.5),
                                       Kernel::from_name("laplacian", 1.0, 1.5, 1.0, 1.0),
                                       Kernel::from_name("laplacian", 1.0, 1.5, 0.7, 2.0)};
  const TrainingProblem problem = synthetic_problem(comm, n, d, kernels[0], 61);
  const double ridge = 1e-3;
  const std::vector<Matrix<double>> alphas = solve_direct_grid(comm, problem, kernels, {ridge});
  ASSERT_EQ(alphas.size(), kernels.size());
  const Matrix<double> x = gather_rows(comm, problem.partition, problem.x);
  const Matrix<double> y = gather_rows(comm, problem.partition, problem.y);
  for (std::size_t g = 0; g < kernels.size(); ++g) {
    const Matrix<double> a = gather_rows(comm, problem.partition, alphas[g]);
    const Matrix<double> k = kernel_block(kernels[g], x, x);
    double err = 0, scale = 0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t l = 0; l < y.cols(); ++l) {
        double s = ridge * n * a(i, l);
        for (std::size_t j = 0; j < n; ++j) s += k(i, j) * a(j, l);
        err = std::max(err, std::fabs(s - y(i, l)));
        scale = std::max(scale, std::fabs(y(i, l)));
      }
    EXPECT_LT(err, 1e-8 * scale) << "kernel " << g;
  }
}

// (q, p) survive the model file; a model without the family is still a version 2 file.
TEST(LpqModelFile, FamilyRoundTripsAndOthersStayVersion2) {
  const auto comm = mpi::Communicator::world();
  SharedDir dir(comm);
  for (const Kernel& kernel :
       {Kernel::from_name("laplacian", 2.5, 1.5, 0.7, 1.5), Kernel::from_name("laplacian", 2.5)}) {
    const std::size_t p = 5, d = 3, c = 2;
    LocalModel m;
    m.header.kernel = kernel;
    m.header.dimension = d;
    m.header.outputs = c;
    m.header.centers = p;
    m.partition = BlockPartition(p, comm.size());
    const std::size_t count = m.partition.count(comm.rank());
    m.centers = rows_of(m.partition.begin(comm.rank()), count, d,
                        [](std::size_t i, std::size_t j) { return double(i) + 0.25 * double(j); });
    m.weights = rows_of(0, count, c, [](std::size_t i, std::size_t j) { return double(i * j); });
    const std::string path = dir.path(kernel.is_laplace_family() ? "family.kmpi" : "plain.kmpi");
    save_model(comm, path, m);
    comm.barrier();
    const LocalModel back = load_model(comm, path);
    EXPECT_EQ(back.header.kernel.kind, KernelKind::kLaplacian);
    EXPECT_EQ(back.header.kernel.exponent, kernel.exponent);
    EXPECT_EQ(back.header.kernel.norm_p, kernel.norm_p);
    EXPECT_EQ(back.header.kernel.bandwidth, 2.5);
    EXPECT_EQ(max_abs_diff(back.centers, m.centers), 0.0);
    EXPECT_EQ(max_abs_diff(back.weights, m.weights), 0.0);
    const ModelHeader h = read_model_header(path);
    EXPECT_EQ(h.kernel.exponent, kernel.exponent);
    EXPECT_EQ(h.kernel.norm_p, kernel.norm_p);
    if (comm.rank() == 0) {
      const std::string bytes = read_text(path);
      std::uint32_t version = 0;
      std::memcpy(&version, bytes.data() + 8, 4);
      EXPECT_EQ(version, kernel.is_laplace_family() ? 3u : 2u);
      // metric none: its kind (4 bytes); the family: 16 more.
      EXPECT_EQ(bytes.size(),
                64 + 16 * d + 4 + (kernel.is_laplace_family() ? 16 : 0) + 8 * p * (d + c) + 4);
    }
  }
}

}  // namespace
}  // namespace kmpi
