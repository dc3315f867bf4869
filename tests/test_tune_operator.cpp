// The shared operator of kmpi tune (kernel_times_local_shared): for several kernels at once it
// gives each kernel's K(Q, Z) alpha and captured columns bit for bit as kernel_times_local alone,
// in both precisions and with tiles smaller than the problem (several tiles per product); and
// kernel_times_local itself against a product written out here from kernel_block.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "kmpi/kernel.hpp"
#include "kmpi/kernel_operator.hpp"
#include "kernels/shared_operator.hpp"

namespace kmpi {
namespace {

Matrix<double> random_matrix(std::size_t rows, std::size_t cols, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  Matrix<double> m(rows, cols);
  for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = u(gen);
  return m;
}

bool same_bits(const Matrix<double>& a, const Matrix<double>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

TEST(SharedOperator, EveryKernelEqualsItsProductAloneBitForBit) {
  const std::size_t m = 37, p = 300, d = 9, c = 3;
  const Matrix<double> q = random_matrix(m, d, 1), z = random_matrix(p, d, 2);
  const std::vector<Kernel> kernels = {
      Kernel::from_name("gaussian", 0.7), Kernel::from_name("gaussian", 2.0),
      Kernel::from_name("laplacian", 1.3), Kernel::from_name("matern", 1.1, 2.5),
      Kernel::from_name("cauchy", 0.9),
      // The Laplace family: p != 2 computes its own distances (kernel_from_products_or_rows),
      // p = 2 with q != 1 shares the products; one of each between the others.
      Kernel::from_name("laplacian", 1.2, 1.5, 0.7, 1.5),
      Kernel::from_name("laplacian", 1.2, 1.5, 0.7, 2.0),
      Kernel::from_name("laplacian", 2.5, 1.5, 1.0, 1.0)};
  std::vector<Matrix<double>> alphas;
  for (std::size_t g = 0; g < kernels.size(); ++g) alphas.push_back(random_matrix(p, c, 10 + g));
  const std::vector<std::size_t> columns = {0, 5, 64, 65, 199, 299};
  // 4 KiB tiles: several center tiles per product, so tile boundaries are exercised.
  for (std::size_t tile : {std::size_t(4096), std::size_t(0)})
    for (Precision precision : {Precision::kFloat32, Precision::kFloat64}) {
      const LocalCenters centers(z, precision);
      std::vector<Matrix<double>> shared(kernels.size(), Matrix<double>(m, c));
      std::vector<KernelColumns> captured(kernels.size());
      std::vector<const Matrix<double>*> a;
      std::vector<Matrix<double>*> outs;
      std::vector<KernelColumns*> captures;
      for (std::size_t g = 0; g < kernels.size(); ++g) {
        a.push_back(&alphas[g]);
        outs.push_back(&shared[g]);
        captured[g].columns = &columns;
        captures.push_back(g % 2 == 0 ? &captured[g] : nullptr);  // some kernels capture
      }
      kernel_times_local_shared(kernels, q, centers, a, outs, tile, captures);
      for (std::size_t g = 0; g < kernels.size(); ++g) {
        Matrix<double> alone(m, c);
        KernelColumns alone_capture;
        alone_capture.columns = &columns;
        kernel_times_local(kernels[g], q, centers, alphas[g], alone, tile,
                           g % 2 == 0 ? &alone_capture : nullptr);
        EXPECT_TRUE(same_bits(shared[g], alone)) << "kernel " << g << " tile " << tile;
        if (g % 2 == 0) {
          EXPECT_TRUE(same_bits(captured[g].values, alone_capture.values));
        }
        // And the product itself, from kernel_block in float64 here: 1e-5 relative covers the
        // float32 blocks (1e-12 in float64).
        const Matrix<double> k = kernel_block(kernels[g], q, z);
        double err = 0, scale = 0;
        for (std::size_t i = 0; i < m; ++i)
          for (std::size_t l = 0; l < c; ++l) {
            double s = 0;
            for (std::size_t j = 0; j < p; ++j) s += k(i, j) * alphas[g](j, l);
            err = std::max(err, std::abs(s - alone(i, l)));
            scale = std::max(scale, std::abs(s));
          }
        EXPECT_LT(err, (precision == Precision::kFloat32 ? 1e-5 : 1e-12) * scale);
      }
    }
}

}  // namespace
}  // namespace kmpi
