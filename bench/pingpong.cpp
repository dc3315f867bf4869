// MPI ping-pong between world ranks 0 and 1 (issue 13, "performance over the network"): the
// one-way time t(b) = round trip / 2 of a b-byte message for b = 8 B .. max_bytes (powers of 2),
// and the alpha-beta fit t(b) = alpha + beta b that bench/comm_model.py takes as its network
// (`--network NAME ALPHA BETA`, or `--check` on bench/run_cluster_net.sh's output). Ranks other
// than 0 and 1 only join the broadcasts (and the step's collectives below).
//   mpirun -np 2 kmpi_bench_pingpong [label=net] [max_bytes=67108864] [seconds_per_size=0.3]
//                                    [m,d,c,q]
// Prints one JSON line per size (the minimum and median one-way time over the repetitions, and
// the bandwidth b / t at the median) and one fit line:
// - alpha_s, beta_s_per_byte: least squares of t = alpha + beta b over the medians of all sizes,
//   weighted by 1 / t(b) (relative error: otherwise the 64 MiB point alone decides the fit and
//   alpha comes out as noise, possibly negative);
// - bulk_alpha_s, bulk_beta_s_per_byte: the same fit over the sizes >= 1 MiB, unweighted (the
//   bandwidth a bulk transfer sees; on TCP it is well below the all-sizes fit's);
// - latency_s: the median one-way time of the smallest message (alpha as a user would measure it);
// - asymptotic_GBps: b / t at the largest size (1 / beta as a user would measure it).
// The transport switches protocol with the size (Open MPI: eager below btl_*_eager_limit,
// rendezvous above), so one straight line is a model, not a law: max_rel_residual says how far
// the worst size is from the all-sizes line.
// With m,d,c,q it also times the three collectives of an EigenPro 2 step at those sizes on all
// ranks (one JSON line, step_collectives: the median of 30 calls each), what comm_model.py's
// per-step cost predicts from the fit.
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kmpi/mpi.hpp"

namespace {

struct SizeResult {
  std::size_t bytes = 0;
  int reps = 0;
  double min_s = 0;     // one-way, the fastest repetition
  double median_s = 0;  // one-way, the median repetition
};

// collective (ranks 0 and 1 exchange, every rank joins the broadcast): `reps` round trips of
// `bytes`, each timed on rank 0; returns the one-way times (round trip / 2) on rank 0, empty
// elsewhere.
std::vector<double> round_trips(const kmpi::mpi::Communicator& comm, std::vector<char>& buf,
                                std::size_t bytes, int reps) {
  std::vector<double> one_way;
  const int count = static_cast<int>(bytes);
  const int tag = 7;
  if (comm.rank() == 0) {
    one_way.reserve(static_cast<std::size_t>(reps));
    for (int r = 0; r < reps; ++r) {
      const double t0 = MPI_Wtime();
      kmpi::mpi::check(MPI_Send(buf.data(), count, MPI_CHAR, 1, tag, comm.get()), "MPI_Send");
      kmpi::mpi::check(MPI_Recv(buf.data(), count, MPI_CHAR, 1, tag, comm.get(), MPI_STATUS_IGNORE),
                       "MPI_Recv");
      one_way.push_back((MPI_Wtime() - t0) / 2);
    }
  } else if (comm.rank() == 1) {
    for (int r = 0; r < reps; ++r) {
      kmpi::mpi::check(MPI_Recv(buf.data(), count, MPI_CHAR, 0, tag, comm.get(), MPI_STATUS_IGNORE),
                       "MPI_Recv");
      kmpi::mpi::check(MPI_Send(buf.data(), count, MPI_CHAR, 0, tag, comm.get()), "MPI_Send");
    }
  }
  return one_way;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t k = v.size() / 2;
  return v.size() % 2 ? v[k] : 0.5 * (v[k - 1] + v[k]);
}

// collective: measures one size. Rank 0 picks the repetition count from a warm-up round trip so
// each size takes about `seconds` (3 .. 20000 repetitions) and tells every rank.
SizeResult measure(const kmpi::mpi::Communicator& comm, std::vector<char>& buf, std::size_t bytes,
                   double seconds) {
  // Warm-up: connections and registration happen on the first messages of a size.
  const std::vector<double> warm = round_trips(comm, buf, bytes, 3);
  int reps = 0;
  if (comm.rank() == 0) {
    const double t = std::max(2 * median(warm), 1e-7);
    reps = static_cast<int>(std::clamp(seconds / t, 3.0, 20000.0));
  }
  comm.broadcast(&reps, 1, 0);
  comm.barrier();
  const std::vector<double> times = round_trips(comm, buf, bytes, reps);
  SizeResult out;
  out.bytes = bytes;
  out.reps = reps;
  if (comm.rank() == 0) {
    out.min_s = *std::min_element(times.begin(), times.end());
    out.median_s = median(times);
  }
  return out;
}

// The bulk fit's smallest size: kmpi's per-step messages are a batch's rows (m d 8 / P bytes,
// megabytes) and m x c residuals (~100 KB), so beta at these sizes is what its steps see.
constexpr std::size_t kBulkBytes = std::size_t(1) << 20;

struct Fit {
  double alpha = 0, beta = 0, max_rel_residual = 0;
};

// local: least squares of t = alpha + beta b over the sizes >= min_bytes, weighted by 1 / t
// (relative residuals) or not (absolute: the largest sizes decide, which is what a bulk
// transfer sees).
Fit fit_alpha_beta(const std::vector<SizeResult>& all, std::size_t min_bytes, bool relative) {
  std::vector<SizeResult> rows;
  for (const SizeResult& r : all)
    if (r.bytes >= min_bytes) rows.push_back(r);
  Fit f;
  if (rows.size() < 2) return f;
  double s00 = 0, s01 = 0, s11 = 0, r0 = 0, r1 = 0;
  for (const SizeResult& r : rows) {
    const double w = relative ? 1 / (r.median_s * r.median_s) : 1.0;
    const double b = static_cast<double>(r.bytes);
    s00 += w;
    s01 += w * b;
    s11 += w * b * b;
    r0 += w * r.median_s;
    r1 += w * b * r.median_s;
  }
  const double det = s00 * s11 - s01 * s01;
  f.alpha = (r0 * s11 - r1 * s01) / det;
  f.beta = (s00 * r1 - s01 * r0) / det;
  for (const SizeResult& r : rows) {
    const double pred = f.alpha + f.beta * static_cast<double>(r.bytes);
    f.max_rel_residual = std::max(f.max_rel_residual, std::abs(pred - r.median_s) / r.median_s);
  }
  return f;
}

// collective: the three collectives of one EigenPro 2 step at batch m, d features, c outputs and
// preconditioner level q (bench/COMM_MODEL.md): allgatherv of X_B (m / P rows of d doubles from
// each rank), allreduce of g (m x c) and of the q x c coefficients, each `reps` times after a
// warm-up; on rank 0 the median seconds of each (rank 0's clock, the calls back to back).
std::vector<double> step_collectives(const kmpi::mpi::Communicator& comm, std::size_t m,
                                     std::size_t d, std::size_t c, std::size_t q, int reps) {
  const int P = comm.size();
  std::vector<int> counts(static_cast<std::size_t>(P)), displs(static_cast<std::size_t>(P));
  for (int r = 0; r < P; ++r) {
    const std::size_t lo = m * static_cast<std::size_t>(r) / static_cast<std::size_t>(P);
    const std::size_t hi = m * static_cast<std::size_t>(r + 1) / static_cast<std::size_t>(P);
    counts[static_cast<std::size_t>(r)] = static_cast<int>((hi - lo) * d);
    displs[static_cast<std::size_t>(r)] = static_cast<int>(lo * d);
  }
  std::vector<double> mine(static_cast<std::size_t>(counts[static_cast<std::size_t>(comm.rank())]),
                           1.0),
      xb(m * d), g(m * c, 1.0), w(q * c, 1.0);
  std::vector<std::vector<double>> times(3);
  for (int r = -2; r < reps; ++r) {  // two warm-up rounds
    comm.barrier();
    double t0 = MPI_Wtime();
    comm.allgatherv(mine.data(), xb.data(), counts, displs);
    const double t1 = MPI_Wtime();
    comm.allreduce(g.data(), g.size());
    const double t2 = MPI_Wtime();
    comm.allreduce(w.data(), w.size());
    const double t3 = MPI_Wtime();
    if (r < 0) continue;
    times[0].push_back(t1 - t0);
    times[1].push_back(t2 - t1);
    times[2].push_back(t3 - t2);
  }
  return {median(times[0]), median(times[1]), median(times[2])};
}

}  // namespace

int main(int argc, char** argv) {
  kmpi::mpi::Environment env(argc, argv);
  const auto comm = kmpi::mpi::Communicator::world();
  const std::string label = argc > 1 ? argv[1] : "net";
  const std::size_t max_bytes = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : (64u << 20);
  const double seconds = argc > 3 ? std::atof(argv[3]) : 0.3;
  if (comm.size() < 2 || max_bytes < 8 || max_bytes > (1u << 30)) {
    if (comm.rank() == 0)
      std::fprintf(stderr, "kmpi_bench_pingpong: needs >= 2 ranks and 8 <= max_bytes <= 1 GiB\n");
    return 2;
  }
  // Where ranks 0 and 1 run (their hostnames), so a reader sees which path was measured.
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int len = 0;
  kmpi::mpi::check(MPI_Get_processor_name(name, &len), "MPI_Get_processor_name");
  std::string peer(name, static_cast<std::size_t>(len));
  peer.resize(MPI_MAX_PROCESSOR_NAME, '\0');
  comm.broadcast(peer.data(), peer.size(), 1);
  const std::string host0(name, static_cast<std::size_t>(len));
  const std::string host1(peer.c_str());

  std::vector<char> buf(comm.rank() < 2 ? max_bytes : 0, 1);
  std::vector<SizeResult> rows;
  for (std::size_t b = 8; b <= max_bytes; b *= 2) {
    rows.push_back(measure(comm, buf, b, seconds));
    const SizeResult& r = rows.back();
    if (comm.rank() == 0) {
      std::printf(
          "{\"bench\": \"pingpong\", \"label\": \"%s\", \"bytes\": %zu, \"reps\": %d, "
          "\"one_way_s_min\": %.4e, \"one_way_s_median\": %.4e, \"GBps_median\": %.4f}\n",
          label.c_str(), r.bytes, r.reps, r.min_s, r.median_s,
          static_cast<double>(r.bytes) / r.median_s / 1e9);
      std::fflush(stdout);
    }
  }
  // The step's collectives at the sizes given as m,d,c,q (e.g. 2000,784,10,420), all ranks.
  if (argc > 4) {
    std::size_t m = 0, d = 0, c = 0, q = 0;
    if (std::sscanf(argv[4], "%zu,%zu,%zu,%zu", &m, &d, &c, &q) != 4 || m == 0 || d == 0) {
      if (comm.rank() == 0) std::fprintf(stderr, "kmpi_bench_pingpong: step sizes are m,d,c,q\n");
      return 2;
    }
    const std::vector<double> t = step_collectives(comm, m, d, c, q, 30);
    if (comm.rank() == 0)
      std::printf(
          "{\"bench\": \"step_collectives\", \"label\": \"%s\", \"ranks\": %d, \"m\": %zu, "
          "\"d\": %zu, \"c\": %zu, \"q\": %zu, \"allgather_xb_s\": %.4e, "
          "\"allreduce_g_s\": %.4e, \"allreduce_qc_s\": %.4e}\n",
          label.c_str(), comm.size(), m, d, c, q, t[0], t[1], t[2]);
  }
  if (comm.rank() == 0) {
    const Fit f = fit_alpha_beta(rows, 0, true);
    const Fit bulk = fit_alpha_beta(rows, kBulkBytes, false);
    std::printf(
        "{\"bench\": \"pingpong_fit\", \"label\": \"%s\", \"ranks\": %d, \"host0\": \"%s\", "
        "\"host1\": \"%s\", \"alpha_s\": %.4e, \"beta_s_per_byte\": %.4e, \"fit_GBps\": %.4f, "
        "\"max_rel_residual\": %.3f, \"bulk_min_bytes\": %zu, \"bulk_alpha_s\": %.4e, "
        "\"bulk_beta_s_per_byte\": %.4e, \"bulk_GBps\": %.4f, \"latency_s\": %.4e, "
        "\"asymptotic_GBps\": %.4f}\n",
        label.c_str(), comm.size(), host0.c_str(), host1.c_str(), f.alpha, f.beta, 1 / f.beta / 1e9,
        f.max_rel_residual, kBulkBytes, bulk.alpha, bulk.beta,
        bulk.beta > 0 ? 1 / bulk.beta / 1e9 : 0.0, rows.front().median_s,
        static_cast<double>(rows.back().bytes) / rows.back().median_s / 1e9);
  }
  return 0;
}
