// BLAS through OpenBLAS's CBLAS, with overloads on the element type.
#pragma once

#include <cblas.h>

#include <cstddef>

namespace kmpi::blas {

// C (m x n) = alpha * op(A) * op(B) + beta * C, all row-major.
inline void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k,
                 float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
                 float beta, float* c, std::size_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta,
              c, static_cast<int>(ldc));
}
inline void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k,
                 double alpha, const double* a, std::size_t lda, const double* b, std::size_t ldb,
                 double beta, double* c, std::size_t ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta,
              c, static_cast<int>(ldc));
}

// C (n x n, upper triangle only) = alpha * A^T A + beta * C for row-major A (k x n, lda): the
// Gram matrix of A's columns.
inline void syrk_upper_transposed(std::size_t n, std::size_t k, double alpha, const double* a,
                                  std::size_t lda, double beta, double* c, std::size_t ldc) {
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(n), static_cast<int>(k),
              alpha, a, static_cast<int>(lda), beta, c, static_cast<int>(ldc));
}

}  // namespace kmpi::blas
