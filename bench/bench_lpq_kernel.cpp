// The Laplace family's blocks (DESIGN §1.5) against the GEMM path: a block K(A, B), A and B
// 2048 x d, for the Laplacian (one SGEMM plus an elementwise pass), the family with p = 2
// (the same GEMM, a pow in the pass) and with p != 2 (an elementwise pass over d per pair:
// p = 1 |x|, p = 1.5 |x| sqrt|x|, p = 1.25 |x| sqrt(sqrt|x|), otherwise exp(p log |x|), here
// p = 1.2); and the AGOP gradients of one center tile. One core: run with OPENBLAS_NUM_THREADS=1.
// Prints the best of `repeats` runs of each (one run where that takes over 20 s).
//
//   kmpi_bench_lpq_kernel [repeats [rows [skip_pow]]]   (skip_pow = 1: leave out p = 1.2)
//   (bench/results/lpq_kernel_cost.txt)
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/agop.hpp"
#include "kmpi/kernel.hpp"
#include "kmpi/matrix.hpp"

namespace {

kmpi::Matrix<double> uniform_rows(std::size_t rows, std::size_t cols, unsigned seed) {
  kmpi::Matrix<double> m(rows, cols);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = u(gen);
  return m;
}

template <class F>
double best_seconds(int repeats, F&& f) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (best > 20) break;  // one run of a slow case is enough
  }
  return best;
}

struct Case {
  const char* label;
  double q, p;
};

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 3;
  const std::size_t m = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 2048;
  const bool skip_pow = argc > 3 && std::atoi(argv[3]) == 1;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const Case cases[] = {{"laplacian (q=1, p=2)", 1.0, 2.0}, {"family q=0.7, p=2", 0.7, 2.0},
                        {"family q=1, p=1", 1.0, 1.0},      {"family q=0.7, p=1", 0.7, 1.0},
                        {"family q=1, p=1.5", 1.0, 1.5},    {"family q=1.5, p=1.5", 1.5, 1.5},
                        {"family q=1, p=1.25", 1.0, 1.25},  {"family q=1, p=1.2", 1.0, 1.2}};
  std::printf(
      "# kernel_block float32, A and B %zu x d, one core; best of %d; ratio = time / the "
      "Laplacian's (GEMM path) at the same d\n",
      m, repeats);
  std::printf("%-24s %6s %12s %8s\n", "kernel", "d", "seconds", "ratio");
  for (std::size_t d : {std::size_t(784), std::size_t(20)}) {
    const auto a = kmpi::convert<float>(uniform_rows(m, d, 1));
    const auto b = kmpi::convert<float>(uniform_rows(m, d, 2));
    kmpi::Matrix<float> out(m, m);
    // Bandwidth ~ the median distance of uniform [0, 1]^d rows, so k is not all 0 or 1.
    const double bandwidth = d == 784 ? 11.0 : 1.8;
    double base = 0;
    for (const Case& c : cases) {
      if (skip_pow && c.p == 1.2) continue;
      const kmpi::Kernel k = kmpi::Kernel::from_name("laplacian", bandwidth, 1.5, c.q, c.p);
      const double t = best_seconds(repeats, [&] {
        kmpi::kernel_block(k, a.data(), m, d, b.data(), m, d, d, out.data(), m);
      });
      if (base == 0) base = t;
      std::printf("%-24s %6zu %12.4f %8.2f\n", c.label, d, t, t / base);
    }
  }
  // The AGOP's gradients (model_gradients: the serial building block of agop) of 256 rows
  // against 2048 centers, c = 1, float32 blocks.
  std::printf(
      "\n# model_gradients float32, 256 rows x %zu centers, c = 1; ratio = time / the "
      "Laplacian's at the same d\n",
      m);
  std::printf("%-24s %6s %12s %8s\n", "kernel", "d", "seconds", "ratio");
  for (std::size_t d : {std::size_t(784), std::size_t(20)}) {
    const auto u = uniform_rows(256, d, 3), v = uniform_rows(m, d, 4),
               alpha = uniform_rows(m, 1, 5);
    const double bandwidth = d == 784 ? 11.0 : 1.8;
    double base = 0;
    for (const Case& c : cases) {
      if (skip_pow && c.p == 1.2) continue;
      const kmpi::Kernel k = kmpi::Kernel::from_name("laplacian", bandwidth, 1.5, c.q, c.p);
      const double t = best_seconds(repeats, [&] {
        const auto g = kmpi::model_gradients(k, kmpi::Precision::kFloat32, u, v, alpha);
        if (g.rows() == 0) std::abort();
      });
      if (base == 0) base = t;
      std::printf("%-24s %6zu %12.4f %8.2f\n", c.label, d, t, t / base);
    }
  }
  return 0;
}
