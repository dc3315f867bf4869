#include "kmpi/kernel.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <utility>
#include <vector>

#include "base/blas.hpp"
#include "kernels/fast_math.hpp"
#include "kernels/lpq_kernel.hpp"
#include "kmpi/error.hpp"

namespace kmpi {

namespace {

// The kernel.name values and the kinds they select (matern with nu = 0.5 is the Laplacian).
struct KernelName {
  KernelKind kind;
  const char* name;
};
constexpr KernelName kKernelNames[] = {{KernelKind::kGaussian, "gaussian"},
                                       {KernelKind::kLaplacian, "laplacian"},
                                       {KernelKind::kMatern, "matern"},
                                       {KernelKind::kCauchy, "cauchy"}};

}  // namespace

Kernel Kernel::from_name(const std::string& name, double bandwidth, double nu, double exponent,
                         double norm_p) {
  if (!(bandwidth > 0) || !std::isfinite(bandwidth))
    throw Error("kernel.bandwidth must be a positive number, got " + std::to_string(bandwidth));
  Kernel k;
  k.bandwidth = bandwidth;
  k.nu = nu;
  const auto* entry = std::find_if(std::begin(kKernelNames), std::end(kKernelNames),
                                   [&](const KernelName& e) { return name == e.name; });
  if (entry == std::end(kKernelNames))
    throw Error("unknown kernel.name '" + name +
                "' (expected gaussian, laplacian, matern, cauchy)");
  k.kind = entry->kind;
  if (k.kind == KernelKind::kMatern) {
    if (nu != 0.5 && nu != 1.5 && nu != 2.5)
      throw Error("kernel.nu must be 0.5, 1.5 or 2.5 for the matern kernel, got " +
                  std::to_string(nu));
    if (nu == 0.5) k.kind = KernelKind::kLaplacian;
  }
  if (exponent != 1.0 || norm_p != 2.0) {
    if (name != "laplacian")
      throw Error(
          "kernel.exponent and kernel.norm_p define the Laplace family and need "
          "kernel.name = laplacian, got " +
          name);
    if (!(exponent > 0) || !(norm_p <= 2) || !(exponent <= norm_p))
      throw Error(
          "the Laplace family needs 0 < kernel.exponent <= kernel.norm_p <= 2, got "
          "kernel.exponent = " +
          std::to_string(exponent) + ", kernel.norm_p = " + std::to_string(norm_p));
    k.exponent = exponent;
    k.norm_p = norm_p;
  }
  return k;
}

std::string Kernel::name() const {
  for (const KernelName& e : kKernelNames)
    if (e.kind == kind) return e.name;
  return "unknown";
}

double Kernel::of_squared_distance(double r2) const {
  r2 = std::max(r2, 0.0);
  const double s = bandwidth;
  switch (kind) {
    case KernelKind::kGaussian:
      return std::exp(-r2 / (2 * s * s));
    case KernelKind::kLaplacian:
      if (exponent != 1.0)  // the Laplace family: exp(-r^q / L^q)
        return std::exp(-std::pow(r2, exponent / 2) / std::pow(s, exponent));
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

double Kernel::gradient_weight(double r2) const {
  r2 = std::max(r2, 0.0);
  const double s = bandwidth, r = std::sqrt(r2);
  switch (kind) {
    case KernelKind::kGaussian:  // phi = exp(-r^2 / (2 s^2)), phi' = -(r / s^2) phi
      return -of_squared_distance(r2) / (s * s);
    case KernelKind::kLaplacian:  // phi = exp(-r / s), phi' = -phi / s
      if (r < kLaplacianSelfDistance) return 0.0;
      if (is_laplace_family())  // -(q / L^q) k r^(q-p), the scale of the direction (kernel.hpp)
        return -(exponent / std::pow(s, exponent)) * of_squared_distance(r2) *
               std::pow(r, exponent - norm_p);
      return -std::exp(-r / s) / (s * r);
    case KernelKind::kCauchy: {  // phi = 1 / (1 + r^2 / s^2), phi' = -(2 r / s^2) phi^2
      const double q = of_squared_distance(r2);
      return -2 * q * q / (s * s);
    }
    case KernelKind::kMatern: {
      if (nu == 1.5) {  // phi = (1 + a r) e^(-a r), phi' = -a^2 r e^(-a r), a = sqrt(3) / s
        const double a = std::sqrt(3.0) / s;
        return -a * a * std::exp(-a * r);
      }
      // phi = (1 + a r + a^2 r^2 / 3) e^(-a r), phi' = -(a^2 r / 3)(1 + a r) e^(-a r), a =
      // sqrt(5)/s
      const double a = std::sqrt(5.0) / s;
      return -(a * a / 3) * (1 + a * r) * std::exp(-a * r);
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

using detail::exp_nonpositive;

// The elementwise pass: products holds -2 a.b, out gets f(||a - b||^2) (products may be out:
// in place). The squared distance ||a||^2 + ||b||^2 - 2 a.b carries a rounding error of a few
// eps (||a||^2 + ||b||^2); values below that are noise and become 0, so k(x, x) = 1 exactly (for
// the Laplacian, sqrt would otherwise turn a 1e-16 residue into a 1e-8 error on the diagonal).
template <class T, class F>
void finish_rows(const T* an, const T* bn, std::size_t ma, std::size_t mb, const T* products,
                 std::size_t ldp, T* out, std::size_t ldo, F&& f) {
  for (std::size_t i = 0; i < ma; ++i) {
    const T* in = products + i * ldp;
    T* row = out + i * ldo;
    const T ai = an[i];
    constexpr T noise = T(16) * std::numeric_limits<T>::epsilon();
#pragma omp simd
    for (std::size_t j = 0; j < mb; ++j) {
      const T scale = ai + bn[j];
      T r2 = in[j] + scale;
      r2 = r2 > noise * scale ? r2 : T(0);
      row[j] = f(r2);
    }
  }
}

// The norms of a block's rows: the caller's, or computed into `own`.
template <class T>
const T* norms_or_own(const T* given, const T* rows, std::size_t m, std::size_t ld, std::size_t d,
                      std::vector<T>& own) {
  if (given) return given;
  own.resize(m);
  row_squared_norms(rows, m, d, ld, own.data());
  return own.data();
}

// The Laplace family with p = 2, q != 1 on squared distances r2 (DESIGN §1.5): k = exp(c r^q),
// c = -1 / L^q, r^q = (r2)^(q/2); the weight (Weight) -(q / L^q) k r^(q-2) = q c k r^q / r2,
// 0 below kLaplacianSelfDistance.
template <bool Weight, class T, class Block>
void laplace_family_pass(const Kernel& k, Block&& block) {
  using detail::pow_nonnegative;
  const double q = k.exponent;
  {
    const T c = static_cast<T>(-1 / std::pow(k.bandwidth, q)), h = static_cast<T>(q / 2);
    if constexpr (Weight) {
      const T cq = static_cast<T>(q) * c;
      const T tiny2 = static_cast<T>(kLaplacianSelfDistance * kLaplacianSelfDistance);
      block([c, h, cq, tiny2](T r2) {
        const T rq = pow_nonnegative(r2, h);
        return r2 < tiny2 ? T(0) : cq * exp_nonpositive(c * rq) * rq / (r2 < tiny2 ? T(1) : r2);
      });
    } else {
      block([c, h](T r2) { return exp_nonpositive(c * pow_nonnegative(r2, h)); });
    }
  }
}

// The elementwise pass of kernel_block (Weight = false: k = phi(r)) or of gradient_weight_block
// (Weight = true: w = phi'(r) / r, derived in Kernel::gradient_weight), kernel by kernel, on the
// products -2 A B^T (product_block) and the rows' squared norms.
template <bool Weight, class T>
void kernel_pass(const Kernel& k, const T* products, std::size_t ldp, std::size_t ma,
                 std::size_t mb, const T* a_norms, const T* b_norms, T* out, std::size_t ldo) {
  if (ma == 0 || mb == 0) return;
  const T s = static_cast<T>(k.bandwidth);
  auto block = [&](auto&& f) { finish_rows(a_norms, b_norms, ma, mb, products, ldp, out, ldo, f); };
  switch (k.kind) {
    case KernelKind::kGaussian: {
      const T c = T(-1) / (T(2) * s * s);
      if constexpr (Weight) {
        const T w = T(-1) / (s * s);
        block([c, w](T r2) { return w * exp_nonpositive(c * r2); });
      } else {
        block([c](T r2) { return exp_nonpositive(c * r2); });
      }
      break;
    }
    case KernelKind::kLaplacian: {
      if (k.exponent != 1.0) {
        laplace_family_pass<Weight, T>(k, block);
        break;
      }
      const T c = T(-1) / s;
      if constexpr (Weight) {
        // -k / (sigma r); the self term (r below kLaplacianSelfDistance: the noise clamp makes
        // it exactly 0) contributes nothing, its direction u - v being 0.
        const T tiny = static_cast<T>(kLaplacianSelfDistance);
        block([c, tiny](T r2) {
          const T r = std::sqrt(r2);
          return r < tiny ? T(0) : c * exp_nonpositive(c * r) / r;
        });
      } else {
        block([c](T r2) { return exp_nonpositive(c * std::sqrt(r2)); });
      }
      break;
    }
    case KernelKind::kCauchy: {
      const T c = T(1) / (s * s);
      if constexpr (Weight) {
        const T w = T(-2) / (s * s);
        block([c, w](T r2) {
          const T q = T(1) / (T(1) + c * r2);
          return w * q * q;
        });
      } else {
        block([c](T r2) { return T(1) / (T(1) + c * r2); });
      }
      break;
    }
    case KernelKind::kMatern: {
      if (k.nu == 1.5) {
        const T c = std::sqrt(T(3)) / s;
        if constexpr (Weight) {
          const T w = -c * c;
          block([c, w](T r2) { return w * exp_nonpositive(-c * std::sqrt(r2)); });
        } else {
          block([c](T r2) {
            const T t = c * std::sqrt(r2);
            return (T(1) + t) * exp_nonpositive(-t);
          });
        }
      } else {
        const T c = std::sqrt(T(5)) / s, c2 = T(5) / (T(3) * s * s);
        if constexpr (Weight) {
          const T w = -c * c / T(3);
          block([c, w](T r2) {
            const T t = c * std::sqrt(r2);
            return w * (T(1) + t) * exp_nonpositive(-t);
          });
        } else {
          block([c, c2](T r2) {
            const T t = c * std::sqrt(r2);
            return (T(1) + t + c2 * r2) * exp_nonpositive(-t);
          });
        }
      }
      break;
    }
  }
}

}  // namespace

template <class T>
void product_block(const T* a, std::size_t ma, std::size_t lda, const T* b, std::size_t mb,
                   std::size_t ldb, std::size_t d, T* out, std::size_t ldo) {
  if (ma == 0 || mb == 0) return;
  blas::gemm(false, true, ma, mb, d, T(-2), a, lda, b, ldb, T(0), out, ldo);
}

template <class T>
void kernel_from_products(const Kernel& k, const T* products, std::size_t ldp, std::size_t ma,
                          std::size_t mb, const T* a_norms, const T* b_norms, T* out,
                          std::size_t ldo) {
  if (!k.distances_from_products())
    throw Error(
        "internal error: kernel_from_products for the Laplace family with kernel.norm_p "
        "= " +
        std::to_string(k.norm_p) +
        " (its distances are not the products'; use "
        "kernel_from_products_or_rows)");
  kernel_pass<false>(k, products, ldp, ma, mb, a_norms, b_norms, out, ldo);
}

template <class T>
void kernel_from_products_or_rows(const Kernel& k, const T* products, std::size_t ldp, const T* a,
                                  std::size_t ma, std::size_t lda, const T* b, std::size_t mb,
                                  std::size_t ldb, std::size_t d, const T* a_norms,
                                  const T* b_norms, T* out, std::size_t ldo) {
  if (k.distances_from_products())
    kernel_pass<false>(k, products, ldp, ma, mb, a_norms, b_norms, out, ldo);
  else
    lpq_block<false>(k, a, ma, lda, b, mb, ldb, d, out, ldo);
}

namespace {

// out = f(||a_i - b_j||^2) for every pair: product_block into out, then the pass in place.
template <bool Weight, class T>
void block_of(const Kernel& k, const T* a, std::size_t ma, std::size_t lda, const T* b,
              std::size_t mb, std::size_t ldb, std::size_t d, T* out, std::size_t ldo,
              const T* a_norms, const T* b_norms) {
  if (ma == 0 || mb == 0) return;
  if (!k.distances_from_products()) {  // the Laplace family's p-norm distances (lpq_kernel.hpp)
    lpq_block<Weight>(k, a, ma, lda, b, mb, ldb, d, out, ldo);
    return;
  }
  std::vector<T> an_own, bn_own;
  a_norms = norms_or_own(a_norms, a, ma, lda, d, an_own);
  b_norms = norms_or_own(b_norms, b, mb, ldb, d, bn_own);
  product_block(a, ma, lda, b, mb, ldb, d, out, ldo);
  kernel_pass<Weight>(k, out, ldo, ma, mb, a_norms, b_norms, out, ldo);
}

}  // namespace

template <class T>
void kernel_block(const Kernel& k, const T* a, std::size_t ma, std::size_t lda, const T* b,
                  std::size_t mb, std::size_t ldb, std::size_t d, T* out, std::size_t ldo,
                  const T* a_norms, const T* b_norms) {
  block_of<false>(k, a, ma, lda, b, mb, ldb, d, out, ldo, a_norms, b_norms);
}

template <class T>
void gradient_weight_block(const Kernel& k, const T* a, std::size_t ma, std::size_t lda, const T* b,
                           std::size_t mb, std::size_t ldb, std::size_t d, T* out, std::size_t ldo,
                           const T* a_norms, const T* b_norms) {
  block_of<true>(k, a, ma, lda, b, mb, ldb, d, out, ldo, a_norms, b_norms);
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
template void product_block<float>(const float*, std::size_t, std::size_t, const float*,
                                   std::size_t, std::size_t, std::size_t, float*, std::size_t);
template void product_block<double>(const double*, std::size_t, std::size_t, const double*,
                                    std::size_t, std::size_t, std::size_t, double*, std::size_t);
template void kernel_from_products<float>(const Kernel&, const float*, std::size_t, std::size_t,
                                          std::size_t, const float*, const float*, float*,
                                          std::size_t);
template void kernel_from_products<double>(const Kernel&, const double*, std::size_t, std::size_t,
                                           std::size_t, const double*, const double*, double*,
                                           std::size_t);
template void gradient_weight_block<float>(const Kernel&, const float*, std::size_t, std::size_t,
                                           const float*, std::size_t, std::size_t, std::size_t,
                                           float*, std::size_t, const float*, const float*);
template void gradient_weight_block<double>(const Kernel&, const double*, std::size_t, std::size_t,
                                            const double*, std::size_t, std::size_t, std::size_t,
                                            double*, std::size_t, const double*, const double*);

template void kernel_from_products_or_rows<float>(const Kernel&, const float*, std::size_t,
                                                  const float*, std::size_t, std::size_t,
                                                  const float*, std::size_t, std::size_t,
                                                  std::size_t, const float*, const float*, float*,
                                                  std::size_t);
template void kernel_from_products_or_rows<double>(const Kernel&, const double*, std::size_t,
                                                   const double*, std::size_t, std::size_t,
                                                   const double*, std::size_t, std::size_t,
                                                   std::size_t, const double*, const double*,
                                                   double*, std::size_t);

}  // namespace kmpi
