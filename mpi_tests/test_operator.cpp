// The distributed kernel operator against the formula evaluated point by point.
#include <gtest/gtest.h>

#include <cstring>

#include "common.hpp"
#include "kmpi/kernel_operator.hpp"
#include "solvers/solvers.hpp"
#include "kernels/shared_operator.hpp"

namespace kmpi {
namespace {

using namespace testing_support;

// Serial reference: sum_j k(q_i, z_j) alpha_jl with k from Kernel::of_squared_distance.
Matrix<double> reference_product(const Kernel& k, const Matrix<double>& q, const Matrix<double>& z,
                                 const Matrix<double>& alpha) {
  Matrix<double> out(q.rows(), alpha.cols());
  for (std::size_t i = 0; i < q.rows(); ++i)
    for (std::size_t j = 0; j < z.rows(); ++j) {
      double r2 = 0;
      for (std::size_t t = 0; t < q.cols(); ++t) r2 += (q(i, t) - z(j, t)) * (q(i, t) - z(j, t));
      const double kij = k.of_squared_distance(r2);
      for (std::size_t l = 0; l < alpha.cols(); ++l) out(i, l) += kij * alpha(j, l);
    }
  return out;
}

class KernelOperator : public ::testing::TestWithParam<Precision> {};

TEST_P(KernelOperator, ProductAndTransposeMatchPointwiseReference) {
  auto comm = mpi::Communicator::world();
  const std::size_t p = 203, m = 37, d = 9, c = 3;
  const BlockPartition part(p, comm.size());
  const int me = comm.rank();
  const Matrix<double> z_all = synthetic_rows(11, 0, p, d);
  const Matrix<double> q = synthetic_rows(12, 0, m, d);
  auto alpha_of = [](std::size_t i, std::size_t l) { return std::sin(1.0 + i + 7.0 * l); };
  const Matrix<double> alpha_all = rows_of(0, p, c, alpha_of);
  const Matrix<double> g =
      rows_of(0, m, c, [](std::size_t i, std::size_t l) { return std::cos(i + 3.0 * l); });
  const LocalCenters z(synthetic_rows(11, part.begin(me), part.count(me), d), GetParam());
  const Matrix<double> alpha = rows_of(part.begin(me), part.count(me), c, alpha_of);
  // float32 blocks: kernel values carry ~1e-6 relative error; sums of ~200 terms stay < 1e-4.
  const double tol = GetParam() == Precision::kFloat32 ? 1e-4 : 1e-11;
  for (const char* name : {"gaussian", "laplacian", "matern", "cauchy"}) {
    for (double nu : {1.5, 2.5}) {
      const Kernel k = Kernel::from_name(name, 0.8, nu);
      // A small tile budget forces several tiles per rank.
      const Matrix<double> got = kernel_times(comm, k, q, z, alpha, 4096);
      // The captured columns are the kernel values of those centers, point by point.
      std::vector<std::size_t> cols;
      for (std::size_t j = me % 3; j < part.count(me); j += 3) cols.push_back(j);
      KernelColumns captured;
      captured.columns = &cols;
      Matrix<double> scratch(m, c);
      kernel_times_local(k, q, z, alpha, scratch, 4096, &captured);
      for (std::size_t i = 0; i < m; ++i)
        for (std::size_t t = 0; t < cols.size(); ++t) {
          double r2 = 0;
          for (std::size_t l = 0; l < d; ++l) {
            const double diff = q(i, l) - z_all(part.begin(me) + cols[t], l);
            r2 += diff * diff;
          }
          EXPECT_NEAR(captured.values(i, t), k.of_squared_distance(r2), tol) << name;
        }
      const Matrix<double> want = reference_product(k, q, z_all, alpha_all);
      EXPECT_LT(max_abs_diff(got, want), tol * (1 + max_abs(want))) << name << " nu=" << nu;
      // Transpose: rows of K(Z_r, Q) G = reference with the roles swapped, restricted to Z_r.
      const Matrix<double> got_t = kernel_transpose_times_local(k, z, q, g, 4096);
      const Matrix<double> want_t_all = reference_product(k, z_all, q, g);
      const Matrix<double> want_t = my_rows(want_t_all, part, me);
      EXPECT_LT(max_abs_diff(got_t, want_t), tol * (1 + max_abs(want_t_all))) << name;
    }
  }
}

TEST_P(KernelOperator, PanelProductsMatchPointwiseReference) {
  auto comm = mpi::Communicator::world();
  // More than KernelPanel::kPanelSumLength rows and centers per rank, so both products sum
  // several runs; a small tile budget makes several row chunks.
  const std::size_t p = 2300 * static_cast<std::size_t>(comm.size()), m = 1100, d = 5, c = 2;
  const BlockPartition part(p, comm.size());
  const int me = comm.rank();
  const Matrix<double> z_all = synthetic_rows(21, 0, p, d);
  const Matrix<double> q = synthetic_rows(22, 0, m, d);
  auto alpha_of = [](std::size_t i, std::size_t l) { return std::sin(2.0 + i + 5.0 * l); };
  const Matrix<double> g =
      rows_of(0, m, c, [](std::size_t i, std::size_t l) { return std::cos(0.5 * i + l); });
  const Matrix<double> alpha = rows_of(part.begin(me), part.count(me), c, alpha_of);
  const Matrix<double> z_mine = synthetic_rows(21, part.begin(me), part.count(me), d);
  // Temporary centers grown in two appends equal the same rows converted at once.
  LocalCenters grown(Matrix<double>(0, d), GetParam());
  std::vector<std::size_t> first(part.count(me) / 3), rest;
  for (std::size_t i = 0; i < first.size(); ++i) first[i] = i;
  for (std::size_t i = first.size(); i < part.count(me); ++i) rest.push_back(i);
  grown.append_rows(z_mine, first);
  grown.append_rows(z_mine, rest);
  const LocalCenters z(z_mine, GetParam());
  ASSERT_EQ(grown.rows(), z.rows());
  // float32 kernel values carry ~1e-6 relative error; runs of 1024 terms summed in float32.
  const double tol = GetParam() == Precision::kFloat32 ? 2e-4 : 1e-11;
  const Kernel k = Kernel::from_name("gaussian", 1.5);
  Matrix<double> got(m, c);
  KernelPanel panel;
  {  // A larger block first: the buffer is reused, not reallocated, for the smaller one.
    Matrix<double> bigger_q = synthetic_rows(23, 0, m + 40, d), scratch(m + 40, c);
    panel.compute(k, bigger_q, grown, alpha, scratch, 1 << 16);
  }
  panel.compute(k, q, grown, alpha, got, 1 << 16);
  // The local product is this rank's share of the reference over all centers.
  Matrix<double> alpha_all(p, c);
  for (std::size_t i = part.begin(me); i < part.end(me); ++i)
    for (std::size_t l = 0; l < c; ++l) alpha_all(i, l) = alpha_of(i, l);
  const Matrix<double> want = reference_product(k, q, z_all, alpha_all);
  EXPECT_LT(max_abs_diff(got, want), tol * (1 + max_abs(want)));
  const Matrix<double> got_t = panel.transpose_times(g);
  const Matrix<double> want_t = reference_product(k, z_mine, q, g);
  EXPECT_LT(max_abs_diff(got_t, want_t), tol * (1 + max_abs(want_t)));
  // And the operator's own transpose product agrees.
  const Matrix<double> op_t = kernel_transpose_times_local(k, z, q, g);
  EXPECT_LT(max_abs_diff(got_t, op_t), tol * (1 + max_abs(want_t)));
}

// Several kernels sharing each tile's products (src/search/tune.hpp) give what each kernel gives
// alone bit for bit (products, captures), and so the pointwise reference; a kernel with no
// outputs is skipped without disturbing the others.
TEST_P(KernelOperator, SharedProductsEqualOneKernelAtATime) {
  auto comm = mpi::Communicator::world();
  const std::size_t p = 203, m = 37, d = 9;
  const BlockPartition part(p, comm.size());
  const int me = comm.rank();
  const Matrix<double> z_all = synthetic_rows(11, 0, p, d), q = synthetic_rows(12, 0, m, d);
  const LocalCenters z(my_rows(z_all, part, me), GetParam());
  const std::vector<Kernel> kernels = {Kernel::from_name("gaussian", 0.8),
                                       Kernel::from_name("laplacian", 1.1),
                                       Kernel::from_name("cauchy", 0.7)};
  const std::vector<std::size_t> widths = {3, 0, 2};
  std::vector<Matrix<double>> alpha_all, alphas, outs;
  for (std::size_t g = 0; g < kernels.size(); ++g) {
    alpha_all.push_back(rows_of(0, p, widths[g], [g](std::size_t i, std::size_t l) {
      return std::sin(1.0 + i + 7.0 * l + 3.0 * g);
    }));
    alphas.push_back(my_rows(alpha_all[g], part, me));
    outs.emplace_back(m, widths[g]);
  }
  std::vector<std::size_t> cols;
  for (std::size_t j = me % 3; j < part.count(me); j += 3) cols.push_back(j);
  KernelColumns cap0, cap2;
  cap0.columns = &cols;
  cap2.columns = &cols;
  kernel_times_local_shared(kernels, q, z, {&alphas[0], &alphas[1], &alphas[2]},
                            {&outs[0], &outs[1], &outs[2]}, 4096, {&cap0, nullptr, &cap2});
  const double tol = GetParam() == Precision::kFloat32 ? 1e-4 : 1e-11;
  for (std::size_t g : {std::size_t(0), std::size_t(2)}) {
    Matrix<double> alone(m, widths[g]);
    KernelColumns cap;
    cap.columns = &cols;
    kernel_times_local(kernels[g], q, z, alphas[g], alone, 4096, &cap);
    const KernelColumns& shared_cap = g == 0 ? cap0 : cap2;
    EXPECT_EQ(0, std::memcmp(alone.data(), outs[g].data(), 8 * alone.size())) << g;
    ASSERT_EQ(cap.values.size(), shared_cap.values.size());
    EXPECT_EQ(0, std::memcmp(cap.values.data(), shared_cap.values.data(), 8 * cap.values.size()));
    comm.allreduce(outs[g].data(), outs[g].size());
    const Matrix<double> want = reference_product(kernels[g], q, z_all, alpha_all[g]);
    EXPECT_LT(max_abs_diff(outs[g], want), tol * (1 + max_abs(want))) << g;
  }
}

// The shared normal product, K_g^T (K_g u_b + v_b) / n for two kernels with two right-hand sides
// each, against the serial formula over all rows.
TEST_P(KernelOperator, SharedNormalProductMatchesSerialFormula) {
  auto comm = mpi::Communicator::world();
  const std::size_t n = 150, p = 41, d = 6, c = 2;
  const BlockPartition part(n, comm.size());
  const int me = comm.rank();
  const Matrix<double> x_all = synthetic_rows(21, 0, n, d), z_all = synthetic_rows(22, 0, p, d);
  const LocalCenters x(my_rows(x_all, part, me), GetParam()), z(z_all, GetParam());
  const std::vector<Kernel> kernels = {Kernel::from_name("matern", 0.9, 2.5),
                                       Kernel::from_name("gaussian", 0.6)};
  std::vector<Matrix<double>> u, v_all, v;
  for (std::size_t b = 0; b < 4; ++b) {
    u.push_back(rows_of(0, p, c, [b](std::size_t i, std::size_t l) { return std::cos(i + 2.0 * l + b); }));
    v_all.push_back(rows_of(0, n, c, [b](std::size_t i, std::size_t l) { return std::sin(i * 0.3 + l + b); }));
    v.push_back(my_rows(v_all[b], part, me));
  }
  // Kernel 0: (u_0, v_0) and (u_1, no v); kernel 1: (no u, v_2) and (u_3, v_3).
  const std::vector<NormalProductTerm> terms = {{kernels[0], {&u[0], &u[1]}, {&v[0], nullptr}},
                                                {kernels[1], {nullptr, &u[3]}, {&v[2], &v[3]}}};
  const std::vector<Matrix<double>> got = kernel_normal_product_shared(comm, terms, x, z, c, n);
  ASSERT_EQ(got.size(), 4u);
  const double tol = GetParam() == Precision::kFloat32 ? 1e-4 : 1e-11;
  for (std::size_t b = 0; b < 4; ++b) {
    const Kernel& k = kernels[b / 2];
    const bool has_u = b != 2, has_v = b != 1;
    // K_nZ u_b + v_b (n x c) through the pointwise reference, then K_nZ^T of it.
    Matrix<double> inner = has_u ? reference_product(k, x_all, z_all, u[b]) : Matrix<double>(n, c);
    if (has_v)
      for (std::size_t i = 0; i < inner.size(); ++i) inner.data()[i] += v_all[b].data()[i];
    Matrix<double> want = reference_product(k, z_all, x_all, inner);
    for (std::size_t i = 0; i < want.size(); ++i) want.data()[i] /= static_cast<double>(n);
    EXPECT_LT(max_abs_diff(got[b], want), tol * (1 + max_abs(want))) << "right-hand side " << b;
  }
}

INSTANTIATE_TEST_SUITE_P(Precisions, KernelOperator,
                         ::testing::Values(Precision::kFloat32, Precision::kFloat64));

TEST(SelectedRows, DistributedEqualsTheGatheredBlocks) {
  auto comm = mpi::Communicator::world();
  const std::size_t n = 97, d = 3;
  const BlockPartition part(n, comm.size());
  const Matrix<double> x = synthetic_rows(31, part.begin(comm.rank()), part.count(comm.rank()), d);
  // Uneven selections: all from the first rows (later ranks send nothing), spread, and all rows.
  // Also fewer rows than ranks, and none.
  std::vector<std::vector<std::size_t>> selections = {{0, 1, 2, 3, 4, 5, 6}, {}, {}, {40, 90}, {}};
  for (std::size_t i = 3; i < n; i += 7) selections[1].push_back(i);
  for (std::size_t i = 0; i < n; ++i) selections[2].push_back(i);
  for (const auto& sel : selections) {
    const Matrix<double> all = gather_selected_rows(comm, part, x, sel);
    const BlockPartition to(sel.size(), comm.size());
    const Matrix<double> mine = distribute_selected_rows(comm, part, x, sel, to);
    ASSERT_EQ(mine.rows(), to.count(comm.rank()));
    for (std::size_t i = 0; i < mine.rows(); ++i)
      for (std::size_t j = 0; j < d; ++j)
        EXPECT_EQ(mine(i, j), all(to.begin(comm.rank()) + i, j)) << sel.size() << " row " << i;
  }
}

TEST(PredictDistributed, MatchesReplicatedProductForPartitionedQueries) {
  auto comm = mpi::Communicator::world();
  const std::size_t p = 150, nq = 97, d = 5, c = 2;
  const int me = comm.rank();
  const BlockPartition zp(p, comm.size()), qp(nq, comm.size());
  const Kernel k = Kernel::from_name("gaussian", 0.7);
  auto alpha_of = [](std::size_t i, std::size_t l) { return 1.0 / (1.0 + i) - 0.1 * l; };
  const LocalCenters z(synthetic_rows(21, zp.begin(me), zp.count(me), d), Precision::kFloat64);
  const Matrix<double> alpha = rows_of(zp.begin(me), zp.count(me), c, alpha_of);
  const Matrix<double> q_local = synthetic_rows(22, qp.begin(me), qp.count(me), d);
  // Block rows smaller than n_q so the rounds cross rank boundaries.
  const Matrix<double> got = predict_distributed(comm, k, z, alpha, qp, q_local, 16);
  const Matrix<double> want_all = reference_product(
      k, synthetic_rows(22, 0, nq, d), synthetic_rows(21, 0, p, d), rows_of(0, p, c, alpha_of));
  EXPECT_LT(max_abs_diff(got, my_rows(want_all, qp, me)), 1e-11);
}

}  // namespace
}  // namespace kmpi
