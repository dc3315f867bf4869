#include "kernels/lpq_kernel.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/fast_math.hpp"

namespace kmpi {

namespace {

using detail::exp_nonpositive;
using detail::pow_nonnegative;

// sum_t f(|x_t - y_t|) over d coordinates: runs of kLpqSumLength in T (vectorised), the runs'
// sums added in float64 so a long float32 sum does not drift.
template <class T, class F>
double power_sum(const T* x, const T* y, std::size_t d, F f) {
  double total = 0;
  for (std::size_t t0 = 0; t0 < d; t0 += kLpqSumLength) {
    const std::size_t t1 = std::min(d, t0 + kLpqSumLength);
    T s = 0;
#pragma omp simd reduction(+ : s)
    for (std::size_t t = t0; t < t1; ++t) s += f(std::abs(x[t] - y[t]));
    total += static_cast<double>(s);
  }
  return total;
}

// out_ij = s_ij = sum_t |a_it - b_jt|^p. B is taken in tiles of rows that stay in cache (about
// 128 KiB) while every row of A passes over them.
template <class T, class F>
void power_sums(const T* a, std::size_t ma, std::size_t lda, const T* b, std::size_t mb,
                std::size_t ldb, std::size_t d, F f, T* out, std::size_t ldo) {
  const std::size_t tile = std::max<std::size_t>(
      8, (std::size_t(128) << 10) / (std::max<std::size_t>(d, 1) * sizeof(T)));
  for (std::size_t j0 = 0; j0 < mb; j0 += tile) {
    const std::size_t j1 = std::min(mb, j0 + tile);
    for (std::size_t i = 0; i < ma; ++i) {
      const T* ai = a + i * lda;
      T* row = out + i * ldo;
      for (std::size_t j = j0; j < j1; ++j)
        row[j] = static_cast<T>(power_sum(ai, b + j * ldb, d, f));
    }
  }
}

}  // namespace

template <bool Weight, class T>
void lpq_block(const Kernel& k, const T* a, std::size_t ma, std::size_t lda, const T* b,
               std::size_t mb, std::size_t ldb, std::size_t d, T* out, std::size_t ldo) {
  if (ma == 0 || mb == 0) return;
  const double p = k.norm_p, q = k.exponent;
  if (p == 1.0) {
    power_sums(
        a, ma, lda, b, mb, ldb, d, [](T x) { return x; }, out, ldo);
  } else if (p == 1.5) {  // |x| sqrt|x|: a square root instead of exp(1.5 log|x|)
    power_sums(
        a, ma, lda, b, mb, ldb, d, [](T x) { return x * std::sqrt(x); }, out, ldo);
  } else if (p == 1.25) {  // |x| sqrt(sqrt|x|): two square roots (correctly rounded: 2 ulp)
    power_sums(
        a, ma, lda, b, mb, ldb, d, [](T x) { return x * std::sqrt(std::sqrt(x)); }, out, ldo);
  } else if (p == 1.75) {  // |x| sqrt|x| sqrt(sqrt|x|)
    power_sums(
        a, ma, lda, b, mb, ldb, d,
        [](T x) {
          const T r = std::sqrt(x);
          return x * r * std::sqrt(r);
        },
        out, ldo);
  } else {
    const T pt = static_cast<T>(p);
    power_sums(
        a, ma, lda, b, mb, ldb, d, [pt](T x) { return pow_nonnegative(x, pt); }, out, ldo);
  }
  // k = exp(c r^q), c = -1 / L^q, r^q = s^(q/p); g = -(q / L^q) k r^(q-p) = q c k r^q / s.
  const T c = static_cast<T>(-1 / std::pow(k.bandwidth, q)), e = static_cast<T>(q / p);
  const bool identity = q == p;  // r^q = s exactly (the product Laplace kernel)
  // r < kLaplacianSelfDistance as s < kLaplacianSelfDistance^p (s = 0 exactly for equal rows).
  const T tiny = static_cast<T>(std::pow(kLaplacianSelfDistance, p)), cq = static_cast<T>(q) * c;
  for (std::size_t i = 0; i < ma; ++i) {
    T* row = out + i * ldo;
#pragma omp simd
    for (std::size_t j = 0; j < mb; ++j) {
      const T s = row[j];
      const T rq = identity ? s : pow_nonnegative(s, e);
      const T kv = exp_nonpositive(c * rq);
      if constexpr (Weight)
        row[j] = s < tiny ? T(0) : cq * kv * rq / (s < tiny ? T(1) : s);
      else
        row[j] = kv;
    }
  }
}

template <class T>
void lpq_add_gradients(const Kernel& k, const T* u, std::size_t mi, std::size_t ldu, const T* v,
                       std::size_t tj, std::size_t ldv, std::size_t d, const T* g, std::size_t ldg,
                       const double* alpha, std::size_t lda, std::size_t c, double scale,
                       double* out, std::size_t ldo) {
  if (mi == 0 || tj == 0 || c == 0 || d == 0) return;
  const bool sign_only = k.norm_p == 1.0, sqrt_power = k.norm_p == 1.5;
  const bool quarter_power = k.norm_p == 1.25 || k.norm_p == 1.75;  // |x|^0.25, |x|^0.75
  const bool three_quarters = k.norm_p == 1.75;
  const T e = static_cast<T>(k.norm_p - 1);
  std::vector<T> h(d), acc(c * d);
  for (std::size_t j = 0; j < mi; ++j) {
    const T* uj = u + j * ldu;
    std::fill(acc.begin(), acc.end(), T(0));
    for (std::size_t i = 0; i < tj; ++i) {
      const T gji = g[j * ldg + i];
      if (gji == T(0)) continue;
      const T* vi = v + i * ldv;
      T* hv = h.data();
      if (sqrt_power) {  // p = 1.5: |x|^0.5 sign(x)
#pragma omp simd
        for (std::size_t t = 0; t < d; ++t) {
          const T x = uj[t] - vi[t];
          const T m = std::sqrt(std::abs(x));
          hv[t] = x < T(0) ? -m : m;
        }
      } else if (quarter_power) {  // p = 1.25, 1.75
#pragma omp simd
        for (std::size_t t = 0; t < d; ++t) {
          const T x = uj[t] - vi[t];
          const T r = std::sqrt(std::abs(x)), r4 = std::sqrt(r);
          const T m = three_quarters ? r * r4 : r4;
          hv[t] = x < T(0) ? -m : m;
        }
      } else if (sign_only) {
#pragma omp simd
        for (std::size_t t = 0; t < d; ++t) {
          const T x = uj[t] - vi[t];
          hv[t] = x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
        }
      } else {
#pragma omp simd
        for (std::size_t t = 0; t < d; ++t) {
          const T x = uj[t] - vi[t];
          const T m = pow_nonnegative(std::abs(x), e);  // 0 where x = 0
          hv[t] = x < T(0) ? -m : m;
        }
      }
      for (std::size_t l = 0; l < c; ++l) {
        const T w = static_cast<T>(alpha[i * lda + l]) * gji;
        T* al = acc.data() + l * d;
#pragma omp simd
        for (std::size_t t = 0; t < d; ++t) al[t] += w * hv[t];
      }
    }
    double* oj = out + j * ldo;
    for (std::size_t e2 = 0; e2 < c * d; ++e2) oj[e2] += scale * static_cast<double>(acc[e2]);
  }
}

template void lpq_block<false, float>(const Kernel&, const float*, std::size_t, std::size_t,
                                      const float*, std::size_t, std::size_t, std::size_t, float*,
                                      std::size_t);
template void lpq_block<false, double>(const Kernel&, const double*, std::size_t, std::size_t,
                                       const double*, std::size_t, std::size_t, std::size_t,
                                       double*, std::size_t);
template void lpq_block<true, float>(const Kernel&, const float*, std::size_t, std::size_t,
                                     const float*, std::size_t, std::size_t, std::size_t, float*,
                                     std::size_t);
template void lpq_block<true, double>(const Kernel&, const double*, std::size_t, std::size_t,
                                      const double*, std::size_t, std::size_t, std::size_t, double*,
                                      std::size_t);
template void lpq_add_gradients<float>(const Kernel&, const float*, std::size_t, std::size_t,
                                       const float*, std::size_t, std::size_t, std::size_t,
                                       const float*, std::size_t, const double*, std::size_t,
                                       std::size_t, double, double*, std::size_t);
template void lpq_add_gradients<double>(const Kernel&, const double*, std::size_t, std::size_t,
                                        const double*, std::size_t, std::size_t, std::size_t,
                                        const double*, std::size_t, const double*, std::size_t,
                                        std::size_t, double, double*, std::size_t);

}  // namespace kmpi
