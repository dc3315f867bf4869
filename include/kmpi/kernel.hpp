// Kernels (DESIGN §1.1) and block evaluation K(A, B): one GEMM for the inner products, then one
// elementwise pass over the squared distances ||a||^2 + ||b||^2 - 2 a.b, clamped at 0. The
// Laplace family's p != 2 distances (DESIGN §1.5) are an elementwise pass over d of their own.
#pragma once

#include <cstddef>
#include <string>

#include "kmpi/matrix.hpp"

namespace kmpi {

enum class KernelKind { kGaussian, kLaplacian, kMatern, kCauchy };

struct Kernel {
  KernelKind kind = KernelKind::kGaussian;
  double bandwidth = 1.0;  // sigma
  double nu = 1.5;         // Matern smoothness: 0.5, 1.5 or 2.5
  // The Laplace family of xRFM (DESIGN §1.5), laplacian only: k = exp(-||x - z||_p^q / L^q),
  // L = bandwidth, 0 < q <= p <= 2. q = 1, p = 2 is the Laplacian, computed exactly as before.
  double exponent = 1.0;  // q (kernel.exponent)
  double norm_p = 2.0;    // p (kernel.norm_p)

  // local: parses "gaussian", "laplacian", "matern", "cauchy"; throws kmpi::Error otherwise,
  // and where exponent or norm_p leave their defaults (1, 2) for a kernel other than laplacian
  // or outside 0 < exponent <= norm_p <= 2.
  static Kernel from_name(const std::string& name, double bandwidth, double nu = 1.5,
                          double exponent = 1.0, double norm_p = 2.0);
  std::string name() const;

  // local: whether the distances are Euclidean, so a block is one GEMM of products
  // (product_block) and an elementwise pass; false for the Laplace family with p != 2.
  bool distances_from_products() const { return norm_p == 2.0; }
  // local: whether this is the Laplace family with (q, p) other than the Laplacian's (1, 2).
  bool is_laplace_family() const {
    return kind == KernelKind::kLaplacian && (exponent != 1.0 || norm_p != 2.0);
  }

  // k(x, x): 1 for every kernel here (all are radial with k(0) = 1).
  double diagonal() const { return 1.0; }

  // local: k as a function of the squared distance r2 >= 0, evaluated in double (the reference
  // the block evaluation is tested against). For the Laplace family r2 is the square of the
  // p-norm distance r.
  double of_squared_distance(double r2) const;

  // local: phi'(r) / r as a function of r2 = r^2 (the weight w of grad_x k(x, z) = w M (x - z),
  // DESIGN §1.5), in double: gaussian -k / sigma^2; laplacian -k / (sigma r), 0 where r <
  // kLaplacianSelfDistance (the self term, whose direction x - z is 0 anyway); matern 1.5
  // -a^2 e^(-a r) with a = sqrt(3) / sigma; matern 2.5 -(a^2 / 3)(1 + a r) e^(-a r) with
  // a = sqrt(5) / sigma; cauchy -2 k^2 / sigma^2. The Laplace family: g = -(q / L^q) k r^(q-p)
  // with r the p-norm distance (p = 2: phi'(r) / r), 0 below kLaplacianSelfDistance; the
  // gradient is then g (|x - z|^(p-1) sign(x - z)) elementwise (lpq_kernel.hpp).
  double gradient_weight(double r2) const;
};

// Below this distance the Laplacian's gradient weight -k / (sigma r) is taken as 0.
inline constexpr double kLaplacianSelfDistance = 1e-10;

// local: squared row norms of an (rows x cols) row-major matrix with leading dimension ld.
template <class T>
void row_squared_norms(const T* a, std::size_t rows, std::size_t cols, std::size_t ld, T* norms);

// local: out (ma x mb, leading dimension ldo) = K(A, B) for row-major A (ma x d, lda) and
// B (mb x d, ldb). Norms of A's and B's rows may be passed in (computed once per block); pass
// nullptr to compute them here.
template <class T>
void kernel_block(const Kernel& k, const T* a, std::size_t ma, std::size_t lda, const T* b,
                  std::size_t mb, std::size_t ldb, std::size_t d, T* out, std::size_t ldo,
                  const T* a_norms = nullptr, const T* b_norms = nullptr);

// local: out (ma x mb, ldo) = W with W_ij = phi'(r_ij) / r_ij (Kernel::gradient_weight) for the
// same squared distances kernel_block computes (one GEMM, the same noise clamp), arguments as
// kernel_block's. The weight block of the AGOP (agop.hpp).
template <class T>
void gradient_weight_block(const Kernel& k, const T* a, std::size_t ma, std::size_t lda, const T* b,
                           std::size_t mb, std::size_t ldb, std::size_t d, T* out, std::size_t ldo,
                           const T* a_norms = nullptr, const T* b_norms = nullptr);

// The two halves of kernel_block, for kernels that share their distances (DESIGN §1.6: G
// bandwidths on one block cost one GEMM and G elementwise passes).
// local: out (ma x mb, ldo) = -2 A B^T, one GEMM: what every kernel of A and B is computed from.
template <class T>
void product_block(const T* a, std::size_t ma, std::size_t lda, const T* b, std::size_t mb,
                   std::size_t ldb, std::size_t d, T* out, std::size_t ldo);
// local: out (ma x mb, ldo) = K(A, B) from products = product_block(A, B) (ldp; it may be out,
// in place) and the rows' squared norms: the elementwise pass alone. kernel_block is
// product_block followed by this, so a block from shared products equals kernel_block's bit for
// bit.
template <class T>
void kernel_from_products(const Kernel& k, const T* products, std::size_t ldp, std::size_t ma,
                          std::size_t mb, const T* a_norms, const T* b_norms, T* out,
                          std::size_t ldo);

// local: kernel_from_products where k.distances_from_products(), else kernel_block on the rows A
// (ma x d, lda) and B (mb x d, ldb) themselves (the p != 2 distances are not in the products,
// which are then not read and may be uninitialised). out may be products, as for
// kernel_from_products. What the shared-products paths (DESIGN §1.6) call for each kernel.
template <class T>
void kernel_from_products_or_rows(const Kernel& k, const T* products, std::size_t ldp, const T* a,
                                  std::size_t ma, std::size_t lda, const T* b, std::size_t mb,
                                  std::size_t ldb, std::size_t d, const T* a_norms,
                                  const T* b_norms, T* out, std::size_t ldo);

// local: convenience form for whole matrices.
template <class T>
Matrix<T> kernel_block(const Kernel& k, const Matrix<T>& a, const Matrix<T>& b) {
  Matrix<T> out(a.rows(), b.rows());
  kernel_block(k, a.data(), a.rows(), a.cols(), b.data(), b.rows(), b.cols(), a.cols(), out.data(),
               out.cols());
  return out;
}

}  // namespace kmpi
