// The distributed AGOP (DESIGN §1.5) against a serial dense reference computed here point by
// point in x coordinates: grad_x f_c(x_j) = sum_i alpha_ic w(r_ji) M (x_j - z_i) with M = S S,
// r_ji^2 = (x_j - z_i)^T M (x_j - z_i), w = Kernel::gradient_weight, G = (1/N_s) sum g g^T.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common.hpp"
#include "kernels/agop.hpp"
#include "kmpi/feature_metric.hpp"

namespace kmpi {
namespace {

using namespace testing_support;

// (metric_kind_name lives in feature_metric.cpp, another part of issue 12.)
std::string metric_kind_label(MetricKind kind) {
  return kind == MetricKind::kNone ? "none" : kind == MetricKind::kDiagonal ? "diagonal" : "full";
}

std::string label(const Kernel& k) {
  return k.name() + (k.kind == KernelKind::kMatern ? " nu=" + std::to_string(k.nu) : "");
}

// S as FeatureMetric holds it: none, diagonal (the last feature switched off) or full symmetric.
FeatureMetric test_metric(MetricKind kind, std::size_t d) {
  FeatureMetric m;
  m.kind = kind;
  m.dimension = d;
  if (kind == MetricKind::kDiagonal) {
    for (std::size_t t = 0; t < d; ++t)
      m.root.push_back(t + 1 == d ? 0.0 : 0.6 + 0.25 * static_cast<double>(t));
  } else if (kind == MetricKind::kFull) {
    m.root.assign(d * d, 0.0);
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j)
        m.root[i * d + j] =
            (i == j ? 0.9 : 0.0) + 0.15 * (uniform01(77, std::min(i, j), std::max(i, j)) - 0.5);
  }
  return m;
}

// S as a dense d x d matrix (identity for none).
Matrix<double> dense_root(const FeatureMetric& m, std::size_t d) {
  Matrix<double> s(d, d);
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < d; ++j)
      s(i, j) = m.kind == MetricKind::kFull       ? m.root[i * d + j]
                : i != j                          ? 0.0
                : m.kind == MetricKind::kDiagonal ? m.root[i]
                                                  : 1.0;
  return s;
}

// u = x S, done here (FeatureMetric::apply is another part of issue 12).
Matrix<double> transformed(const Matrix<double>& x, const Matrix<double>& s) {
  Matrix<double> u(x.rows(), s.cols());
  for (std::size_t i = 0; i < x.rows(); ++i)
    for (std::size_t j = 0; j < s.cols(); ++j)
      for (std::size_t t = 0; t < x.cols(); ++t) u(i, j) += x(i, t) * s(t, j);
  return u;
}

// The serial reference in x coordinates, point by point (loops over j, c, i). `center`: each
// output's gradients minus their mean over the rows of x (rfm.center_gradients), formed
// explicitly before the outer products.
Matrix<double> reference_agop(const Kernel& k, const Matrix<double>& x, const Matrix<double>& z,
                              const Matrix<double>& alpha, const Matrix<double>& s, bool diagonal,
                              bool center = false) {
  const std::size_t d = x.cols(), c = alpha.cols();
  const Matrix<double> mm = transformed(s, s);  // M = S S
  Matrix<double> g(d, d);
  std::vector<double> diff(d), mdiff(d), grad(d);
  Matrix<double> grads(x.rows() * c, d), mean(c, d);  // row j c + l: grad_x f_l(x_j)
  for (std::size_t j = 0; j < x.rows(); ++j)
    for (std::size_t l = 0; l < c; ++l) {
      std::fill(grad.begin(), grad.end(), 0.0);
      for (std::size_t i = 0; i < z.rows(); ++i) {
        for (std::size_t t = 0; t < d; ++t) diff[t] = x(j, t) - z(i, t);
        double r2 = 0;
        for (std::size_t a = 0; a < d; ++a) {
          mdiff[a] = 0;
          for (std::size_t b = 0; b < d; ++b) mdiff[a] += mm(a, b) * diff[b];
          r2 += diff[a] * mdiff[a];
        }
        const double w = k.gradient_weight(r2);
        for (std::size_t a = 0; a < d; ++a) grad[a] += alpha(i, l) * w * mdiff[a];
      }
      for (std::size_t a = 0; a < d; ++a) {
        grads(j * c + l, a) = grad[a];
        mean(l, a) += grad[a] / static_cast<double>(x.rows());
      }
    }
  for (std::size_t j = 0; j < x.rows(); ++j)
    for (std::size_t l = 0; l < c; ++l) {
      for (std::size_t a = 0; a < d; ++a) grad[a] = grads(j * c + l, a) - (center ? mean(l, a) : 0);
      for (std::size_t a = 0; a < d; ++a)
        for (std::size_t b = 0; b < d; ++b) g(a, b) += grad[a] * grad[b];
    }
  for (std::size_t e = 0; e < g.size(); ++e) g.data()[e] /= static_cast<double>(x.rows());
  if (!diagonal) return g;
  Matrix<double> diag(1, d);
  for (std::size_t t = 0; t < d; ++t) diag(0, t) = g(t, t);
  return diag;
}

// One problem: every rank's sample rows and centers in x coordinates, replicated (the reference
// needs all of them) with this rank's share given by [begin, end) row ranges.
struct Problem {
  std::string name;
  Matrix<double> sample_all, centers_all, alpha_all;
  std::size_t sample_begin = 0, sample_end = 0;  // this rank's sample rows
  std::size_t center_begin = 0, center_end = 0;  // this rank's centers (kPartitioned)
  CenterLayout layout = CenterLayout::kPartitioned;
};

Matrix<double> rows_range(const Matrix<double>& m, std::size_t begin, std::size_t end) {
  return rows_of(begin, end - begin, m.cols(),
                 [&](std::size_t i, std::size_t l) { return m(i, l); });
}

// Sample rows split so that rank 0 holds none when P > 1 (the others BlockPartition the rest).
std::pair<std::size_t, std::size_t> without_rank0(std::size_t n, int rank, int size) {
  if (size == 1) return {0, n};
  if (rank == 0) return {0, 0};
  const BlockPartition rest(n, size - 1);
  return {rest.begin(rank - 1), rest.end(rank - 1)};
}

std::vector<Problem> problems(const mpi::Communicator& comm) {
  const int P = comm.size(), me = comm.rank();
  const std::size_t d = 5;
  std::vector<Problem> out;
  auto alpha_for = [](std::size_t p, std::size_t c) {
    return rows_of(0, p, c,
                   [](std::size_t i, std::size_t l) { return std::sin(1.0 + i + 5.0 * l); });
  };
  {
    // (a) Z = X partitioned; the sample a seeded subset of the data, each rank its own rows.
    Problem a;
    a.name = "Z = X";
    const std::size_t n = 57;
    const BlockPartition part(n, P);
    a.centers_all = synthetic_rows(21, 0, n, d);
    a.alpha_all = alpha_for(n, 3);
    std::vector<std::size_t> picked;
    for (std::size_t i = 0; i < n; ++i)
      if (uniform01(22, i, 0) < 0.45) picked.push_back(i);
    a.sample_all = select_rows(a.centers_all, picked);
    a.sample_begin =
        std::lower_bound(picked.begin(), picked.end(), part.begin(me)) - picked.begin();
    a.sample_end = std::lower_bound(picked.begin(), picked.end(), part.end(me)) - picked.begin();
    a.center_begin = part.begin(me);
    a.center_end = part.end(me);
    out.push_back(std::move(a));
  }
  // (b) Z partitioned unlike the sample, c = 1; (c) Z replicated, c = 2. In both, rank 0 holds
  // no sample rows (when P > 1).
  auto separate_centers = [&](const char* name, CenterLayout layout, std::size_t ns, std::size_t c,
                              std::uint64_t seed) {
    Problem b;
    b.name = name;
    b.layout = layout;
    const std::size_t p = 83;
    b.centers_all = synthetic_rows(seed, 0, p, d);
    b.alpha_all = alpha_for(p, c);
    b.sample_all = synthetic_rows(seed + 1, 0, ns, d);
    std::tie(b.sample_begin, b.sample_end) = without_rank0(ns, me, P);
    const BlockPartition part(p, layout == CenterLayout::kReplicated ? 1 : P);
    const int owner = layout == CenterLayout::kReplicated ? 0 : me;
    b.center_begin = part.begin(owner);
    b.center_end = part.end(owner);
    return b;
  };
  out.push_back(separate_centers("Z partitioned, c = 1", CenterLayout::kPartitioned, 29, 1, 31));
  out.push_back(separate_centers("Z replicated", CenterLayout::kReplicated, 31, 2, 41));
  return out;
}

// float64: the distributed sums differ from the reference's only in summation order and the
// norm expansion of r^2 (~1e-15 relative), hence 1e-10. float32: distances, weights and the
// products W F carry ~1e-6 relative rounding (the norm expansion loses a factor
// ||u||^2 / r^2 ~ 10 more), G is quadratic in the gradients: 1e-4.
TEST(Agop, MatchesPointwiseReferenceOnEveryLayoutAndMetric) {
  auto comm = mpi::Communicator::world();
  const std::size_t d = 5;
  const std::vector<Kernel> kernels = {
      Kernel::from_name("laplacian", 1.1), Kernel::from_name("gaussian", 0.7),
      Kernel::from_name("matern", 0.9, 1.5), Kernel::from_name("matern", 0.9, 2.5),
      Kernel::from_name("cauchy", 0.8)};
  // Partitioned centers by rounds (gather_bytes 0) and gathered where small (the default).
  for (std::size_t gather : {std::size_t(0), kAgopGatherBytes})
    for (const Problem& pb : problems(comm)) {
      if (pb.layout == CenterLayout::kReplicated && gather == 0) continue;
      for (MetricKind kind : {MetricKind::kNone, MetricKind::kDiagonal, MetricKind::kFull}) {
        const FeatureMetric metric = test_metric(kind, d);
        const Matrix<double> s = dense_root(metric, d);
        const Matrix<double> u =
            transformed(rows_range(pb.sample_all, pb.sample_begin, pb.sample_end), s);
        const Matrix<double> v =
            transformed(rows_range(pb.centers_all, pb.center_begin, pb.center_end), s);
        const Matrix<double> alpha = rows_range(pb.alpha_all, pb.center_begin, pb.center_end);
        for (const Kernel& k : kernels)
          for (bool diagonal : {false, true}) {
            const Matrix<double> want =
                reference_agop(k, pb.sample_all, pb.centers_all, pb.alpha_all, s, diagonal);
            ASSERT_GT(max_abs(want), 0.0);
            for (Precision precision : {Precision::kFloat64, Precision::kFloat32}) {
              AgopInput in;
              in.kernel = k;
              in.precision = precision;
              in.sample = &u;
              in.sample_total = pb.sample_all.rows();
              in.centers = &v;
              in.alpha = &alpha;
              in.layout = pb.layout;
              in.diagonal = diagonal;
              // null for none on every other call, so both spellings of the identity are used
              in.metric = kind == MetricKind::kNone && !diagonal ? nullptr : &metric;
              in.block_rows = 6;     // rounds that straddle the ranks' row ranges
              in.tile_bytes = 1024;  // several center tiles per rank
              in.gather_bytes = gather;
              const Matrix<double> got = agop(comm, in);
              const std::string what = pb.name + (gather == 0 ? " by rounds, " : ", ") +
                                       metric_kind_label(kind) +
                                       (diagonal ? ", diagonal" : ", full G") + ", " + label(k) +
                                       (precision == Precision::kFloat32 ? ", f32" : ", f64");
              ASSERT_EQ(got.rows(), diagonal ? 1u : d) << what;
              ASSERT_EQ(got.cols(), d) << what;
              const double tol = precision == Precision::kFloat32 ? 1e-4 : 1e-10;
              EXPECT_LT(max_abs_diff(got, want), tol * max_abs(want)) << what;
              // The same bits on every rank.
              Matrix<double> root0 = got;
              comm.broadcast(root0.data(), root0.size(), 0);
              const int same = std::memcmp(root0.data(), got.data(), 8 * got.size()) == 0;
              EXPECT_EQ(comm.allreduce_value(same, mpi::Op::kMin), 1) << what;
            }
          }
      }
    }
}

// Centred gradients (rfm.center_gradients): the distributed AGOP, which subtracts
// sum_c s_c s_c^T / N_s from the allreduced N_s G_u (s_c the gradient sums), against the
// reference that subtracts each output's mean gradient from every gradient before the outer
// products, in x coordinates. The centred G is smaller than the plain one (the mean gradient's
// part is gone), so float32's tolerance is taken relative to the plain G, the size of the terms
// that cancel.
TEST(Agop, CentredGradientsMatchPointwiseReference) {
  auto comm = mpi::Communicator::world();
  const std::size_t d = 5;
  const std::vector<Kernel> kernels = {Kernel::from_name("gaussian", 0.7),
                                       Kernel::from_name("laplacian", 1.1)};
  for (const Problem& pb : problems(comm)) {
    for (MetricKind kind : {MetricKind::kNone, MetricKind::kDiagonal, MetricKind::kFull}) {
      const FeatureMetric metric = test_metric(kind, d);
      const Matrix<double> s = dense_root(metric, d);
      const Matrix<double> u =
          transformed(rows_range(pb.sample_all, pb.sample_begin, pb.sample_end), s);
      const Matrix<double> v =
          transformed(rows_range(pb.centers_all, pb.center_begin, pb.center_end), s);
      const Matrix<double> alpha = rows_range(pb.alpha_all, pb.center_begin, pb.center_end);
      for (const Kernel& k : kernels)
        for (bool diagonal : {false, true}) {
          const Matrix<double> want = reference_agop(k, pb.sample_all, pb.centers_all, pb.alpha_all,
                                                     s, diagonal, /*center=*/true);
          const Matrix<double> plain =
              reference_agop(k, pb.sample_all, pb.centers_all, pb.alpha_all, s, diagonal);
          ASSERT_GT(max_abs(want), 0.0);
          // The centring changes G: the test would not see a correction that is never applied.
          ASSERT_GT(max_abs_diff(want, plain), 1e-3 * max_abs(plain));
          for (Precision precision : {Precision::kFloat64, Precision::kFloat32}) {
            AgopInput in;
            in.kernel = k;
            in.precision = precision;
            in.sample = &u;
            in.sample_total = pb.sample_all.rows();
            in.centers = &v;
            in.alpha = &alpha;
            in.layout = pb.layout;
            in.diagonal = diagonal;
            in.center = true;
            in.metric = &metric;
            in.block_rows = 6;
            in.tile_bytes = 1024;
            const Matrix<double> got = agop(comm, in);
            const std::string what = pb.name + ", " + metric_kind_label(kind) +
                                     (diagonal ? ", diagonal" : ", full G") + ", " + label(k) +
                                     (precision == Precision::kFloat32 ? ", f32" : ", f64");
            ASSERT_EQ(got.rows(), diagonal ? 1u : d) << what;
            const double tol =
                precision == Precision::kFloat32 ? 1e-4 * max_abs(plain) : 1e-10 * max_abs(want);
            EXPECT_LT(max_abs_diff(got, want), tol) << what;
            Matrix<double> root0 = got;
            comm.broadcast(root0.data(), root0.size(), 0);
            const int same = std::memcmp(root0.data(), got.data(), 8 * got.size()) == 0;
            EXPECT_EQ(comm.allreduce_value(same, mpi::Op::kMin), 1) << what;
          }
        }
    }
  }
}

}  // namespace
}  // namespace kmpi
