// The AGOP (DESIGN §1.5) against its GEMM floor: the products W F of every sample row with every
// center, 2 N_s p d (1 + c) flops, at the machine's GEMM rate measured in the same run (every
// rank running SGEMM/DGEMM at once, as the AGOP's ranks do). Two shapes, Gaussian kernel, float32
// blocks (solver.precision's default), centers and sample rows partitioned over the ranks as RFM
// gives them to agop:
//   grokking   n = 1674 rows = centers = sample (d = 122: two one-hot codes mod 61, c = 61)
//   fmnist     p = 10000 centers, N_s = 2000 sample rows, d = 784, c = 10
// For each of `repeats` agop calls: its seconds (the slowest rank's) and the floor at the SGEMM
// rate measured just before it (1024 x 1024 times 1024 x 4096, every rank at once), their ratio;
// then the median ratio and where that call's time went (AgopTimes, the slowest rank's); once
// with the centers kept partitioned (gather_bytes = 0: rounds with a reduce-scatter, the only
// path before) and once with the default (small centers gathered to every rank).
//
//   mpirun -np 2 kmpi_bench_agop [repeats [shape]]   (shape: grokking, fmnist or all)
//   (bench/results/agop_cost.txt)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "base/blas.hpp"
#include "kernels/agop.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/partition.hpp"
#include "parallel/log.hpp"

namespace {

using kmpi::Matrix;

// The per-rank GEMM rate (GFLOP/s) with every rank multiplying at once, m x k times k x n: the
// slowest rank's, best of `calls` after one untimed call.
template <class T>
double gemm_rate(const kmpi::mpi::Communicator& comm, int calls, std::size_t m = 1024,
                 std::size_t n = 4096, std::size_t k = 1024) {
  std::vector<T> a(m * k), b(k * n), c(m * n);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<T>((i % 251) / 251.0);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<T>((i % 241) / 241.0);
  kmpi::blas::gemm(false, false, m, n, k, T(1), a.data(), k, b.data(), n, T(0), c.data(), n);
  double best = 0;
  for (int r = 0; r < calls; ++r) {
    comm.barrier();
    const kmpi::Stopwatch clock;
    kmpi::blas::gemm(false, false, m, n, k, T(1), a.data(), k, b.data(), n, T(0), c.data(), n);
    const double rate = 2.0 * double(m) * double(n) * double(k) / clock.seconds() / 1e9;
    best = std::max(best, comm.allreduce_value(rate, kmpi::mpi::Op::kMin));
  }
  return best;
}

Matrix<double> random_rows(std::size_t rows, std::size_t cols, unsigned seed, double lo,
                           double hi) {
  Matrix<double> m(rows, cols);
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = u(gen);
  return m;
}

// Rows [lo, hi) of m.
Matrix<double> slice(const Matrix<double>& m, std::size_t lo, std::size_t hi) {
  Matrix<double> s(hi - lo, m.cols());
  std::copy(m.row(lo), m.row(lo) + s.size(), s.data());
  return s;
}

struct Shape {
  const char* name;
  std::size_t p, samples, d, c;
  double bandwidth;
};

// One agop call's times (the slowest rank's phases) and the SGEMM rate measured just before it.
struct Run {
  kmpi::AgopTimes t;
  double rate = 0, ratio = 0;
};

void run_shape(const kmpi::mpi::Communicator& comm, const Shape& s, int repeats,
               std::size_t gather_bytes) {
  const int P = comm.size(), me = comm.rank();
  const kmpi::BlockPartition centers_part(s.p, P), sample_part(s.samples, P);
  // The same global matrices on every rank, each rank keeping its block.
  const Matrix<double> z = random_rows(s.p, s.d, 1, 0, 1), alpha = random_rows(s.p, s.c, 2, -1, 1);
  const Matrix<double> x = s.samples == s.p ? z : random_rows(s.samples, s.d, 3, 0, 1);
  const Matrix<double> my_z =
      slice(z, centers_part.begin(me), centers_part.begin(me) + centers_part.count(me));
  const Matrix<double> my_alpha =
      slice(alpha, centers_part.begin(me), centers_part.begin(me) + centers_part.count(me));
  const Matrix<double> my_x =
      slice(x, sample_part.begin(me), sample_part.begin(me) + sample_part.count(me));
  kmpi::AgopInput in;
  in.kernel = kmpi::Kernel::from_name("gaussian", s.bandwidth);
  in.precision = kmpi::Precision::kFloat32;
  in.sample = &my_x;
  in.sample_total = s.samples;
  in.centers = &my_z;
  in.alpha = &my_alpha;
  in.gather_bytes = gather_bytes;
  const double flops = 2.0 * double(s.samples) * double(s.p) * double(s.d) * double(1 + s.c);
  std::vector<Run> runs;
  for (int r = 0; r < repeats; ++r) {
    Run run;
    // The rate right before the call: the load of a shared machine drifts within seconds.
    run.rate = gemm_rate<float>(comm, 1);
    kmpi::AgopTimes& t = run.t;
    in.times = &t;
    comm.barrier();
    (void)kmpi::agop(comm, in);
    double v[5] = {t.total_s, t.weights_s, t.products_s, t.communication_s, t.gram_s};
    comm.allreduce(v, 5, kmpi::mpi::Op::kMax);  // the slowest rank's phases
    t.total_s = v[0], t.weights_s = v[1], t.products_s = v[2], t.communication_s = v[3];
    t.gram_s = v[4];
    run.ratio = t.total_s / (flops / (double(P) * run.rate * 1e9));
    runs.push_back(run);
  }
  std::vector<Run> sorted = runs;
  std::sort(sorted.begin(), sorted.end(),
            [](const Run& a, const Run& b) { return a.ratio < b.ratio; });
  const Run& m = sorted[sorted.size() / 2];
  const kmpi::AgopTimes& t = m.t;
  if (me != 0) return;
  std::printf("%-9s p=%zu N_s=%zu d=%zu c=%zu ranks=%d %s rows/round=%zu rounds=%zu flops=%.3g\n",
              s.name, s.p, s.samples, s.d, s.c, P,
              gather_bytes == 0 ? "centers partitioned (rounds)" : "default", t.rows_per_round,
              t.rounds, flops);
  std::printf("  runs (agop s, sgemm GFLOP/s per rank just before, ratio):");
  for (const Run& r : runs) std::printf("  %.3f %.1f %.2f", r.t.total_s, r.rate, r.ratio);
  std::printf("\n  median ratio %.2f (agop %.3f s, floor %.3f s)\n", m.ratio, t.total_s,
              flops / (double(P) * m.rate * 1e9));
  std::printf(
      "  phases (slowest rank): weights %.3f  products %.3f  communication %.3f  gram %.3f  "
      "other %.3f\n",
      t.weights_s, t.products_s, t.communication_s, t.gram_s,
      t.total_s - t.weights_s - t.products_s - t.communication_s - t.gram_s);
}

}  // namespace

int main(int argc, char** argv) {
  kmpi::mpi::Environment env(argc, argv);
  const kmpi::mpi::Communicator comm = kmpi::mpi::Communicator::world();
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const std::string which = argc > 2 ? argv[2] : "all";
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // Rates at a shape like the AGOP's products (a few hundred rows, thousands of columns).
  const double srate = gemm_rate<float>(comm, 3);
  const double drate = gemm_rate<double>(comm, 3);
  if (comm.rank() == 0)
    std::printf("GEMM rate per rank, %d ranks at once: sgemm %.1f GFLOP/s, dgemm %.1f GFLOP/s\n",
                comm.size(), srate, drate);
  const Shape shapes[] = {{"grokking", 1674, 1674, 122, 61, 2.5},
                          {"fmnist", 10000, 2000, 784, 10, 5.0}};
  for (const Shape& s : shapes)
    if (which == "all" || which == s.name)
      for (std::size_t gather : {std::size_t(0), kmpi::kAgopGatherBytes})
        run_shape(comm, s, repeats, gather);
  return 0;
}
