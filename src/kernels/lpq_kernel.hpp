// The Laplace family with p != 2 (DESIGN §1.5): k(u, v) = exp(-r^q / L^q), r = ||u - v||_p. Its
// distances are not the GEMM's, so a block is an elementwise pass over d for every pair:
// s_ij = sum_t |a_it - b_jt|^p (r = s^(1/p)), then one pass over the block for k or the weight.
#pragma once

#include <cstddef>

#include "kmpi/kernel.hpp"

namespace kmpi {

// local: out (ma x mb, ldo) = K(A, B) (Weight = false) or the gradient scale
// g_ij = -(q / L^q) k_ij r_ij^(q-p), 0 where r_ij < kLaplacianSelfDistance (Weight = true:
// Kernel::gradient_weight), for row-major A (ma x d, lda) and B (mb x d, ldb). The sums over d
// run in T over runs of kLpqSumLength coordinates and across runs in float64. Cost: ma mb d
// evaluations of |x|^p (p = 1: |x|; p = 1.5: |x| sqrt|x|; p = 1.25, 1.75 (any multiple of 1/4):
// products of |x|, sqrt|x| and sqrt(sqrt|x|); otherwise exp(p log |x|), within eps (2 + |p log2
// |x||) relative, fast_math.hpp), vectorised, against 2 ma mb d flops at the GEMM rate for p = 2
// (bench/results/lpq_kernel_cost.txt).
template <bool Weight, class T>
void lpq_block(const Kernel& k, const T* a, std::size_t ma, std::size_t lda, const T* b,
               std::size_t mb, std::size_t ldb, std::size_t d, T* out, std::size_t ldo);

// Coordinates summed in the block precision before the running sum is carried in float64.
inline constexpr std::size_t kLpqSumLength = 256;

// local: out_j (row j of out, ldo; c runs of d values) += scale sum_i alpha_il g_ji h(u_j - v_i)
// for l < c, with h(x)_t = |x_t|^(p-1) sign(x_t) (0 where x_t = 0) and g the gradient scales of
// lpq_block<true> (mi x tj, ldg): the gradients grad_u f_l(u_j) of f = K(., V) alpha over this
// tile of centers. u (mi x d, ldu), v (tj x d, ldv), alpha (tj x c, lda, float64). The terms are
// summed in T per tile and added into out in float64.
// Cost: mi tj d evaluations of |x|^(p-1) (p = 1: a sign; p = 1.5: a square root; p = 1.25, 1.75:
// two) and mi tj c d
// multiply-adds, not a GEMM: for p = 2 the direction u - v splits into u A - B, whose sums over
// centers are one GEMM of W with [alpha | alpha V] (agop.cpp); |u - v|^(p-1) does not split, so
// every pair forms its own d-vector. Pairs with g = 0 (the self term) are skipped.
template <class T>
void lpq_add_gradients(const Kernel& k, const T* u, std::size_t mi, std::size_t ldu, const T* v,
                       std::size_t tj, std::size_t ldv, std::size_t d, const T* g, std::size_t ldg,
                       const double* alpha, std::size_t lda, std::size_t c, double scale,
                       double* out, std::size_t ldo);

}  // namespace kmpi
