// Kernel blocks against the GEMM they are built on (DESIGN §1.1, §5). A block K(A, B) with A
// (m x d) and B (t x d) is one GEMM C = -2 A B^T (2 m t d flops) plus an elementwise pass, so
// its rate in GEMM-flops per second, divided by the rate of the bare GEMM of the same shape, is
// the fraction of the machine's limit the solver can reach. Every benchmark reports
// "GFLOP/s" = 2 m t d / time, so the two rates compare directly.
//
// kernel_block is local: no MPI here. One rank is one core, so run with OPENBLAS_NUM_THREADS=1
// (bench/run_kernel_bench.sh does, and prints the ratio table).
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "base/blas.hpp"
#include "kmpi/kernel.hpp"
#include "kmpi/kernel_operator.hpp"
#include "kmpi/matrix.hpp"

namespace {

// The solver's block shape: m batch rows against t data rows, d features (Fashion-MNIST: 784).
struct Shape {
  std::size_t m, t, d;
  std::string label() const {
    return std::to_string(m) + "x" + std::to_string(t) + "x" + std::to_string(d);
  }
  double gflop() const { return 2.0 * double(m) * double(t) * double(d) * 1e-9; }
};

const Shape kShapes[] = {{2000, 4096, 784}, {2000, 2000, 784}};

// Bandwidth 5 on [0, 1] pixels: the Fashion-MNIST reference setting of DESIGN §5.
constexpr double kBandwidth = 5.0;

template <class T>
kmpi::Matrix<T> pixels(std::size_t rows, std::size_t cols, unsigned seed) {
  kmpi::Matrix<T> m(rows, cols);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<T>(u(gen));
  return m;
}

template <class T>
const char* precision_name() {
  return sizeof(T) == 4 ? "float32" : "float64";
}

void report_rate(benchmark::State& state, const Shape& s) {
  // Multiplied by the iteration count and divided by the elapsed time: GFLOP/s.
  state.counters["GFLOP/s"] =
      benchmark::Counter(s.gflop(), benchmark::Counter::kIsIterationInvariantRate);
}

// C (m x t) = -2 A B^T: the GEMM inside kernel_block, with the same arguments.
template <class T>
void bm_gemm(benchmark::State& state, Shape s) {
  const auto a = pixels<T>(s.m, s.d, 1), b = pixels<T>(s.t, s.d, 2);
  kmpi::Matrix<T> c(s.m, s.t);
  for (auto _ : state) {
    kmpi::blas::gemm(false, true, s.m, s.t, s.d, T(-2), a.data(), s.d, b.data(), s.d, T(0),
                     c.data(), s.t);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  report_rate(state, s);
}

// The whole block as the solver calls it: row norms computed inside, GEMM, elementwise pass.
template <class T>
void bm_kernel(benchmark::State& state, Shape s, kmpi::Kernel k) {
  const auto a = pixels<T>(s.m, s.d, 1), b = pixels<T>(s.t, s.d, 2);
  kmpi::Matrix<T> c(s.m, s.t);
  for (auto _ : state) {
    kmpi::kernel_block(k, a.data(), s.m, s.d, b.data(), s.t, s.d, s.d, c.data(), s.t);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  report_rate(state, s);
}

// The operator as one EigenPro 2 step calls it on one rank: K(X_B, X_r) alpha_r for a batch of
// m = 2000 against this rank's t rows (Fashion-MNIST at 2 ranks: 30000), c = 10 outputs, tiled
// with the given tile budget. GFLOP/s counts 2 m t (d + c): the floor's flops (DESIGN §5).
void bm_operator(benchmark::State& state, std::size_t tile_bytes, kmpi::Precision precision) {
  const std::size_t m = 2000, t = 30000, d = 784, c = 10;
  const auto q = pixels<double>(m, d, 1);
  const kmpi::LocalCenters z(pixels<double>(t, d, 2), precision);
  const auto alpha = pixels<double>(t, c, 3);
  kmpi::Matrix<double> out(m, c);
  const auto k = kmpi::Kernel::from_name("gaussian", kBandwidth);
  for (auto _ : state) {
    kmpi::kernel_times_local(k, q, z, alpha, out, tile_bytes);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * t * (d + c) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// Real time, not the main thread's CPU time: if OpenBLAS runs threads anyway, CPU time of this
// thread would overstate the rate.
void configure(benchmark::internal::Benchmark* b) {
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

template <class T>
void register_for_precision() {
  struct Named {
    const char* label;
    kmpi::Kernel kernel;
  };
  const Named kernels[] = {
      {"gaussian", kmpi::Kernel::from_name("gaussian", kBandwidth)},
      {"laplacian", kmpi::Kernel::from_name("laplacian", kBandwidth)},
      {"matern1.5", kmpi::Kernel::from_name("matern", kBandwidth, 1.5)},
      {"matern2.5", kmpi::Kernel::from_name("matern", kBandwidth, 2.5)},
      {"cauchy", kmpi::Kernel::from_name("cauchy", kBandwidth)},
  };
  // Names are op/precision/shape; run_kernel_bench.sh parses them.
  for (const Shape& s : kShapes) {
    const std::string suffix = std::string("/") + precision_name<T>() + "/" + s.label();
    configure(benchmark::RegisterBenchmark(
        (std::string(sizeof(T) == 4 ? "sgemm" : "dgemm") + suffix).c_str(), bm_gemm<T>, s));
    for (const Named& n : kernels)
      configure(benchmark::RegisterBenchmark((std::string(n.label) + suffix).c_str(), bm_kernel<T>,
                                             s, n.kernel));
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const char* threads = std::getenv("OPENBLAS_NUM_THREADS");
  benchmark::AddCustomContext("OPENBLAS_NUM_THREADS", threads ? threads : "(unset)");
  benchmark::AddCustomContext("kernel_bandwidth", std::to_string(kBandwidth));
  register_for_precision<float>();
  register_for_precision<double>();
  // Tile budgets around the cache sizes (L2 1 MiB, L3 32 MiB here) and the default.
  for (std::size_t mib : {1, 4, 16, 64}) {
    configure(benchmark::RegisterBenchmark(
        ("operator_tile" + std::to_string(mib) + "MiB/float32/2000x30000x784").c_str(), bm_operator,
        mib << 20, kmpi::Precision::kFloat32));
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
