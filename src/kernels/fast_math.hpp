// Elementwise functions in forms the compiler vectorises under #pragma omp simd (libm's scalar
// exp, log and pow are not): the kernel blocks' elementwise passes (kernel.cpp, lpq_kernel.cpp).
//
// Two things make them vectorise with GCC and SSE2 (no -march):
// - -fno-trapping-math (CMakeLists.txt). Under GCC's default -ftrapping-math a select whose arm
//   holds a floating-point operation (tiny ? 0 : p * scale; GCC sinks the product into the arm)
//   is not if-converted, since the operation might trap, and the whole loop stays scalar:
//   measured (GCC 12), every pass that called exp or pow here ran one element at a time.
// - No double <-> int64 conversions (SSE2 has no packed form): 2^n is built from the bits of
//   the rounding sum x log2(e) + 1.5 * 2^52 itself, whose low bits hold n, and the exponent e of
//   log is made a double through the same constant. The values are those of the conversions.
//
// Their values do not depend on whether a loop is vectorised: each lane does the same IEEE
// operations (no contraction: ISO C++ mode compiles with -ffp-contract=off).
#pragma once

#include <cstdint>

// The functions below go into their callers' vectorised loops whole; GCC otherwise declines to
// inline pow's exp(e log x) into a generic lambda's loop and leaves it a call per element.
#define KMPI_ALWAYS_INLINE inline __attribute__((always_inline))

namespace kmpi::detail {

// local: c_0 r^k + c_1 r^(k-1) + ... + c_k by Horner's rule, unrolled at compile time (the fold
// expression is the same chain of multiply-adds a hand-written one is, so it vectorises alike).
template <class T, class... C>
inline T horner(T r, T c0, C... c) {
  T p = c0;
  ((p = p * r + c), ...);
  return p;
}

// 2^n from big = n + 1.5 * 2^52 (|n| < 2^51): its bits are those of 1.5 * 2^52 plus n, and
// shifting (n + 1023 + those bits) left by 52 leaves (n + 1023) << 52, the bits of 2^n for
// -1022 <= n <= 1023 (the callers clamp x so n stays there).
KMPI_ALWAYS_INLINE double two_to(double big) {
  const std::uint64_t bits = __builtin_bit_cast(std::uint64_t, big);
  return __builtin_bit_cast(double, (bits + 1023) << 52);
}

// exp(x) for x <= 0 in a form the compiler vectorises (libm's scalar exp is not, and was 20% of
// a Gaussian block): x = n ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), exp(r) by its
// Taylor polynomial, 2^n by building the exponent bits. Degree 7 (float) and 13 (double) keep
// the truncation below one ulp. Arguments below the smallest normal result give 0.
//
// exp_reduced is that reduction for x already clamped to [-87, 87] (float) or [-708, 708]
// (double); the callers clamp and pick 0 for the tiny ones in the select GCC if-converts.
KMPI_ALWAYS_INLINE float exp_reduced(float x) {
  // Round to nearest by adding and subtracting 1.5 * 2^23 (floor does not vectorise here).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  const float p =
      horner(r, 1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f);
  // __builtin_bit_cast (GCC >= 11, Clang >= 9) vectorises; memcpy through memory does not.
  const float scale = __builtin_bit_cast(float, (static_cast<std::int32_t>(n) + 127) << 23);
  return p * scale;
}

KMPI_ALWAYS_INLINE double exp_reduced(double x) {
  const double big = x * 1.4426950408889634 + 6755399441055744.0;  // n in its low bits
  const double n = big - 6755399441055744.0;
  const double r = (x - n * 6.93145751953125e-1) - n * 1.42860682030941723212e-6;
  // 1/13!, 1/12!, ..., 1/2!, 1, 1.
  const double p = horner(r, 1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
                          1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0,
                          1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0);
  return p * two_to(big);
}

inline float exp_nonpositive(float x) {
  const bool tiny = x < -87.0f;
  x = tiny ? -87.0f : x;
  return tiny ? 0.0f : exp_reduced(x);
}

inline double exp_nonpositive(double x) {
  const bool tiny = x < -708.0;
  x = tiny ? -708.0 : x;
  return tiny ? 0.0 : exp_reduced(x);
}

// log(x) for normal x > 0: x = 2^e m with m in [sqrt(1/2), sqrt(2)) read off the bits, then
// log(m) = 2 atanh(t), t = (m - 1) / (m + 1), |t| <= 0.172, by its odd series (through t^9 for
// float, t^21 for double: truncation below one ulp). Zero, subnormal or non-finite x is the
// caller's to mask.
KMPI_ALWAYS_INLINE float log_positive(float x) {
  const std::int32_t bits = __builtin_bit_cast(std::int32_t, x);
  const std::int32_t e = (bits - 0x3f3504f3) >> 23;  // 0x3f3504f3: the bits of sqrt(1/2)
  // e << 23 through unsigned: e is negative below 1, and shifting a negative value is undefined
  // before C++20 (the bits are the same).
  const float m = __builtin_bit_cast(
      float, bits - static_cast<std::int32_t>(static_cast<std::uint32_t>(e) << 23));
  const float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
  const float s = horner(t2, 1.0f / 9, 1.0f / 7, 1.0f / 5, 1.0f / 3, 1.0f);
  return static_cast<float>(e) * 0.693147180559945309f + 2.0f * t * s;
}

KMPI_ALWAYS_INLINE double log_positive(double x) {
  const std::int64_t bits = __builtin_bit_cast(std::int64_t, x);
  const std::int64_t e = (bits - 0x3fe6a09e667f3bcdLL) >> 52;  // the bits of sqrt(1/2)
  const double m = __builtin_bit_cast(
      double, bits - static_cast<std::int64_t>(static_cast<std::uint64_t>(e) << 52));
  const double t = (m - 1.0) / (m + 1.0), t2 = t * t;
  const double s = horner(t2, 1.0 / 21, 1.0 / 19, 1.0 / 17, 1.0 / 15, 1.0 / 13, 1.0 / 11, 1.0 / 9,
                          1.0 / 7, 1.0 / 5, 1.0 / 3, 1.0);
  // e as a double through 1.5 * 2^52 (no int64 -> double conversion; the same value).
  const double ed = __builtin_bit_cast(double, e + 0x4338000000000000LL) - 6755399441055744.0;
  return ed * 0.693147180559945309 + 2.0 * t * s;
}

// exp(x) for any x, clamped to [-87, 87] (float) or [-708, 708] (double), below that 0:
// exp_nonpositive's reduction with both bounds and no branch (so it vectorises inside pow).
KMPI_ALWAYS_INLINE float exp_bounded(float x) {
  const bool tiny = x < -87.0f;
  x = tiny ? -87.0f : (x > 87.0f ? 87.0f : x);
  return tiny ? 0.0f : exp_reduced(x);
}

KMPI_ALWAYS_INLINE double exp_bounded(double x) {
  const bool tiny = x < -708.0;
  x = tiny ? -708.0 : (x > 708.0 ? 708.0 : x);
  return tiny ? 0.0 : exp_reduced(x);
}

// x^e for x >= 0 and e != 0 as exp(e log x); 0 where x is below the smallest normal number
// (x = 0: the only such value a kernel pass meets in practice, a coordinate where two rows agree).
// Relative error within eps (2 + |e log2 x|), eps = 2^-23 (float) or 2^-52 (double): e log x is
// rounded to eps |e log x| absolute, which exp turns into that much relative error, and log and
// exp add about 2 eps (tests/test_lpq_kernel.cpp checks the bound; results below exp(-87) or
// exp(-708) are 0). About 25 vector operations and a division per element: the general p's cost
// (bench/results/lpq_kernel_cost.txt).
KMPI_ALWAYS_INLINE float pow_nonnegative(float x, float e) {
  const bool zero = x < 1.17549435e-38f;
  const float v = exp_bounded(e * log_positive(zero ? 1.0f : x));
  return zero ? 0.0f : v;
}

KMPI_ALWAYS_INLINE double pow_nonnegative(double x, double e) {
  const bool zero = x < 2.2250738585072014e-308;
  const double v = exp_bounded(e * log_positive(zero ? 1.0 : x));
  return zero ? 0.0 : v;
}

}  // namespace kmpi::detail
