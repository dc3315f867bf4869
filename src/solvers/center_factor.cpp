// Cholesky factors of K_ZZ + eps I (src/solvers/center_factor.hpp).
#include "solvers/center_factor.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "kmpi/error.hpp"

namespace kmpi {

// Rows are bucketed by a hash of their bytes, then compared in full; the same on every rank when
// z is replicated.
std::vector<std::size_t> distinct_rows(const Matrix<double>& z) {
  const std::size_t p = z.rows(), bytes = z.cols() * sizeof(double);
  std::vector<std::pair<std::uint64_t, std::size_t>> keyed(p);
  for (std::size_t i = 0; i < p; ++i) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a
    const auto* b = reinterpret_cast<const unsigned char*>(z.row(i));
    for (std::size_t k = 0; k < bytes; ++k) h = (h ^ b[k]) * 1099511628211ull;
    keyed[i] = {h, i};
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<char> repeat(p, 0);
  for (std::size_t a = 0; a < p; ++a)
    for (std::size_t b = a + 1; b < p && keyed[b].first == keyed[a].first; ++b)
      if (!repeat[keyed[b].second] &&
          std::memcmp(z.row(keyed[a].second), z.row(keyed[b].second), bytes) == 0)
        repeat[keyed[b].second] = 1;  // keyed[a] has the smaller index of the two
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < p; ++i)
    if (!repeat[i]) kept.push_back(i);
  return kept;
}

// local: eps / p in T = chol(K_ZZ + eps I). The factor is float64, but CG applies it to kernel
// products in the kernel precision: directions of K_ZZ below that precision's rounding
// (u ~ 6e-8 in float32, times ||K_ZZ|| <= p) are noise that T^{-1} would amplify, and with
// near-duplicate centers CG then stalls (Fashion-MNIST 6000 rows + 1500 copies with 1e-3 pixel
// noise, p = 2000: test accuracy 0.62 at 2^-52 p, 0.856 at 1e-8 p and above, 0.855 without the
// copies). So float32: 1e-7 p; float64: 1e-13 p, the reference Falkon's float64 rule.
// A float32 factor carries rounding of u ||K_ZZ|| itself, so T^T T = K_ZZ + eps I + E; eps
// must dominate E: 1e-6 p (the reference Falkon's float32 rule is 1e-5 p).
double jitter_per_center(Precision products, Precision factor) {
  if (factor == Precision::kFloat32) return 1e-6;
  return products == Precision::kFloat32 ? 1e-7 : 1e-13;
}

namespace {

// local: the local tiles of `l` <- K(Z, Z) + eps I. float64 tiles are written by one kernel
// call; float32 ones from float64 column panels (the same kernel values, rounded once), so no
// rank holds a float64 copy of its p^2 / P entries.
template <class T>
void fill_kzz(BasicBlockCyclicMatrix<T>& l, const Kernel& kernel, const Matrix<double>& z,
              double eps) {
  const auto rows = l.global_rows(), cols = l.global_cols();
  const Matrix<double> zr = select_rows(z, rows);
  constexpr std::size_t kPanel = std::is_same_v<T, double> ? ~std::size_t(0) : 512;
  std::vector<double> panel;
  for (std::size_t j0 = 0; j0 < cols.size(); j0 += kPanel) {
    const std::size_t jn = std::min(kPanel, cols.size() - j0);
    const Matrix<double> zc = select_rows(
        z, std::vector<std::size_t>(cols.begin() + static_cast<std::ptrdiff_t>(j0),
                                    cols.begin() + static_cast<std::ptrdiff_t>(j0 + jn)));
    // K(Z_cols, Z_rows) row-major with leading dimension ld is K(rows, cols) column-major.
    if constexpr (std::is_same_v<T, double>) {
      kernel_block(kernel, zc.data(), jn, zc.cols(), zr.data(), rows.size(), zr.cols(), zr.cols(),
                   l.data() + j0 * l.ld(), l.ld());
    } else {
      panel.resize(jn * rows.size());
      kernel_block(kernel, zc.data(), jn, zc.cols(), zr.data(), rows.size(), zr.cols(), zr.cols(),
                   panel.data(), rows.size());
      for (std::size_t j = 0; j < jn; ++j)
        for (std::size_t i = 0; i < rows.size(); ++i)
          l.local(i, j0 + j) = static_cast<T>(panel[j * rows.size() + i]);
    }
  }
  for (std::size_t j = 0; j < l.local_cols(); ++j)
    for (std::size_t i = 0; i < l.local_rows(); ++i)
      if (rows[i] == cols[j]) l.local(i, j) = static_cast<T>(l.local(i, j) + eps);
}

// collective: L with L L^T = K_ZZ + eps I, block-cyclic in nb x nb blocks, factored by `factor`
// (which agrees ScaLAPACK's info). eps starts at eps_per_center p and grows by 100x when
// rounding leaves K_ZZ numerically indefinite; `eps` returns the one used. The CollectiveError
// of a failed factorisation reaches every rank together, so the retry is collective.
template <class T, class Factor>
BasicBlockCyclicMatrix<T> factor_with_jitter(const BlacsGrid& grid, const Kernel& kernel,
                                             const Matrix<double>& z, std::size_t nb,
                                             double eps_per_center, Factor&& factor, double& eps) {
  const std::size_t p = z.rows();
  BasicBlockCyclicMatrix<T> l(grid, p, p, nb, nb);
  eps = static_cast<double>(p) * eps_per_center;
  for (int attempt = 0;; ++attempt) {
    fill_kzz(l, kernel, z, eps);
    try {
      factor(l);
      return l;
    } catch (const CollectiveError&) {
      if (attempt >= 6) throw;
      eps *= 100;
    }
  }
}

}  // namespace

BlockCyclicMatrix factor_kzz(const BlacsGrid& grid, const Kernel& kernel, const Matrix<double>& z,
                             std::size_t nb, Precision products, Precision factor, double& eps) {
  return factor_with_jitter<double>(
      grid, kernel, z, nb, jitter_per_center(products, factor),
      [&](BlockCyclicMatrix& l) { cholesky_factor(l, factor); }, eps);
}

BlockCyclicMatrixF factor_kzz_float32(const BlacsGrid& grid, const Kernel& kernel,
                                      const Matrix<double>& z, std::size_t nb, double& eps) {
  return factor_with_jitter<float>(
      grid, kernel, z, nb, jitter_per_center(Precision::kFloat32, Precision::kFloat32),
      [](BlockCyclicMatrixF& l) { cholesky_factor(l); }, eps);
}

// collective: A_L = chol(L^T L / p + lambda I), from a copy of L (pdlauum works in place).
BlockCyclicMatrix factor_a(const BlockCyclicMatrix& l, double lambda, Precision factor) {
  const std::size_t p = l.rows();
  BlockCyclicMatrix a = l;
  lower_gram(a, factor);
  const auto rows = a.global_rows(), cols = a.global_cols();
  for (std::size_t j = 0; j < a.local_cols(); ++j)
    for (std::size_t i = 0; i < a.local_rows(); ++i) {
      a.local(i, j) /= static_cast<double>(p);
      if (rows[i] == cols[j]) a.local(i, j) += lambda;
    }
  cholesky_factor(a, factor);
  return a;
}

}  // namespace kmpi
