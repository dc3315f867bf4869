// BLAS through OpenBLAS's CBLAS, with overloads on the element type.
#pragma once

#include <cblas.h>

#include <cstddef>
#include <type_traits>

namespace kmpi::blas {

// The element type T, as a parameter that takes no part in deduction (C++20's type_identity):
// alpha and beta convert to the matrices' type, as they did for the two overloads this replaced.
template <class T>
struct Same {
  using type = T;
};

// C (m x n) = alpha * op(A) * op(B) + beta * C, all row-major; T = float or double.
template <class T>
inline void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k,
                 typename Same<T>::type alpha, const T* a, std::size_t lda, const T* b,
                 std::size_t ldb, typename Same<T>::type beta, T* c, std::size_t ldc) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "gemm: float or double");
  const CBLAS_TRANSPOSE op_a = trans_a ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE op_b = trans_b ? CblasTrans : CblasNoTrans;
  const int im = static_cast<int>(m), in = static_cast<int>(n), ik = static_cast<int>(k);
  const int ia = static_cast<int>(lda), ib = static_cast<int>(ldb), ic = static_cast<int>(ldc);
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, op_a, op_b, im, in, ik, alpha, a, ia, b, ib, beta, c, ic);
  else
    cblas_dgemm(CblasRowMajor, op_a, op_b, im, in, ik, alpha, a, ia, b, ib, beta, c, ic);
}

// C (n x n, upper triangle only) = alpha * A^T A + beta * C for row-major A (k x n, lda): the
// Gram matrix of A's columns.
inline void syrk_upper_transposed(std::size_t n, std::size_t k, double alpha, const double* a,
                                  std::size_t lda, double beta, double* c, std::size_t ldc) {
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(n), static_cast<int>(k),
              alpha, a, static_cast<int>(lda), beta, c, static_cast<int>(ldc));
}

}  // namespace kmpi::blas
