#include "kmpi/kernel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kmpi/blas.hpp"
#include "kmpi/error.hpp"

namespace kmpi {

Kernel Kernel::from_name(const std::string& name, double bandwidth, double nu) {
  if (!(bandwidth > 0) || !std::isfinite(bandwidth))
    throw Error("kernel.bandwidth must be a positive number, got " + std::to_string(bandwidth));
  Kernel k;
  k.bandwidth = bandwidth;
  k.nu = nu;
  if (name == "gaussian")
    k.kind = KernelKind::kGaussian;
  else if (name == "laplacian")
    k.kind = KernelKind::kLaplacian;
  else if (name == "cauchy")
    k.kind = KernelKind::kCauchy;
  else if (name == "matern") {
    if (nu != 0.5 && nu != 1.5 && nu != 2.5)
      throw Error("kernel.nu must be 0.5, 1.5 or 2.5 for the matern kernel, got " +
                  std::to_string(nu));
    k.kind = nu == 0.5 ? KernelKind::kLaplacian : KernelKind::kMatern;
  } else {
    throw Error("unknown kernel.name '" + name +
                "' (expected gaussian, laplacian, matern, cauchy)");
  }
  return k;
}

std::string Kernel::name() const {
  switch (kind) {
    case KernelKind::kGaussian:
      return "gaussian";
    case KernelKind::kLaplacian:
      return "laplacian";
    case KernelKind::kMatern:
      return "matern";
    case KernelKind::kCauchy:
      return "cauchy";
  }
  return "unknown";
}

double Kernel::of_squared_distance(double r2) const {
  r2 = std::max(r2, 0.0);
  const double s = bandwidth;
  switch (kind) {
    case KernelKind::kGaussian:
      return std::exp(-r2 / (2 * s * s));
    case KernelKind::kLaplacian:
      return std::exp(-std::sqrt(r2) / s);
    case KernelKind::kCauchy:
      return 1.0 / (1.0 + r2 / (s * s));
    case KernelKind::kMatern: {
      const double r = std::sqrt(r2);
      if (nu == 1.5) {
        const double t = std::sqrt(3.0) * r / s;
        return (1 + t) * std::exp(-t);
      }
      const double t = std::sqrt(5.0) * r / s;
      return (1 + t + 5 * r2 / (3 * s * s)) * std::exp(-t);
    }
  }
  return 0;
}

template <class T>
void row_squared_norms(const T* a, std::size_t rows, std::size_t cols, std::size_t ld, T* norms) {
  for (std::size_t i = 0; i < rows; ++i) {
    const T* r = a + i * ld;
    T s = 0;
    for (std::size_t j = 0; j < cols; ++j) s += r[j] * r[j];
    norms[i] = s;
  }
}

namespace {

// The elementwise pass: row holds -2 a.b on entry and k(a, b) on exit. The squared distance
// ||a||^2 + ||b||^2 - 2 a.b carries a rounding error of a few eps (||a||^2 + ||b||^2); values
// below that are noise and become 0, so k(x, x) = 1 exactly (for the Laplacian, sqrt would
// otherwise turn a 1e-16 residue into a 1e-8 error on the diagonal).
template <class T, class F>
void finish_rows(const T* an, const T* bn, std::size_t ma, std::size_t mb, T* out, std::size_t ldo,
                 F&& f) {
  for (std::size_t i = 0; i < ma; ++i) {
    T* row = out + i * ldo;
    const T ai = an[i];
    constexpr T noise = T(16) * std::numeric_limits<T>::epsilon();
#pragma omp simd
    for (std::size_t j = 0; j < mb; ++j) {
      const T scale = ai + bn[j];
      T r2 = row[j] + scale;
      r2 = r2 > noise * scale ? r2 : T(0);
      row[j] = f(r2);
    }
  }
}

}  // namespace

template <class T>
void kernel_block(const Kernel& k, const T* a, std::size_t ma, std::size_t lda, const T* b,
                  std::size_t mb, std::size_t ldb, std::size_t d, T* out, std::size_t ldo,
                  const T* a_norms, const T* b_norms) {
  if (ma == 0 || mb == 0) return;
  std::vector<T> an_own, bn_own;
  if (!a_norms) {
    an_own.resize(ma);
    row_squared_norms(a, ma, d, lda, an_own.data());
    a_norms = an_own.data();
  }
  if (!b_norms) {
    bn_own.resize(mb);
    row_squared_norms(b, mb, d, ldb, bn_own.data());
    b_norms = bn_own.data();
  }
  // out = -2 A B^T
  blas::gemm(false, true, ma, mb, d, T(-2), a, lda, b, ldb, T(0), out, ldo);
  const T s = static_cast<T>(k.bandwidth);
  switch (k.kind) {
    case KernelKind::kGaussian: {
      const T c = T(-1) / (T(2) * s * s);
      finish_rows(a_norms, b_norms, ma, mb, out, ldo, [c](T r2) { return std::exp(c * r2); });
      break;
    }
    case KernelKind::kLaplacian: {
      const T c = T(-1) / s;
      finish_rows(a_norms, b_norms, ma, mb, out, ldo,
                  [c](T r2) { return std::exp(c * std::sqrt(r2)); });
      break;
    }
    case KernelKind::kCauchy: {
      const T c = T(1) / (s * s);
      finish_rows(a_norms, b_norms, ma, mb, out, ldo, [c](T r2) { return T(1) / (T(1) + c * r2); });
      break;
    }
    case KernelKind::kMatern: {
      if (k.nu == 1.5) {
        const T c = std::sqrt(T(3)) / s;
        finish_rows(a_norms, b_norms, ma, mb, out, ldo, [c](T r2) {
          const T t = c * std::sqrt(r2);
          return (T(1) + t) * std::exp(-t);
        });
      } else {
        const T c = std::sqrt(T(5)) / s, c2 = T(5) / (T(3) * s * s);
        finish_rows(a_norms, b_norms, ma, mb, out, ldo, [c, c2](T r2) {
          const T t = c * std::sqrt(r2);
          return (T(1) + t + c2 * r2) * std::exp(-t);
        });
      }
      break;
    }
  }
}

template void row_squared_norms<float>(const float*, std::size_t, std::size_t, std::size_t, float*);
template void row_squared_norms<double>(const double*, std::size_t, std::size_t, std::size_t,
                                        double*);
template void kernel_block<float>(const Kernel&, const float*, std::size_t, std::size_t,
                                  const float*, std::size_t, std::size_t, std::size_t, float*,
                                  std::size_t, const float*, const float*);
template void kernel_block<double>(const Kernel&, const double*, std::size_t, std::size_t,
                                   const double*, std::size_t, std::size_t, std::size_t, double*,
                                   std::size_t, const double*, const double*);

}  // namespace kmpi
