// The AGOP (DESIGN §1.5): G_u = (1/N_s) sum_j sum_c g_jc g_jc^T with g_jc = grad_u f_c(u_j) =
// u_j A_jc - B_jc, A = W alpha, B_c = W diag(alpha_c) V, W_ji = phi'(r_ji) / r_ji; G = S G_u S.
//
// One product gives A and all B_c at once: W F with F = [alpha | alpha_1 V | ... | alpha_c V]
// (p x c (d + 1)), so a block's sums are [A | B_1 | ... | B_c] (N_b x c (d + 1)). F is never
// formed whole (p = 60000, c d = 7840 would be 1.9 GB in float32): each center tile builds its
// rows of F, multiplies them with its weight tile and the partial sums are added in float64.
//
// Communication per layout:
// - kPartitioned: rounds of N_b sample rows over the union of every rank's rows (every rank in
//   every round). The round's rows are allgathered (N_b d values), each rank forms the sums over
//   its own centers, and one reduce-scatter (N_b c (d + 1) values) leaves each row's complete
//   sums on the rank that owns it, which forms its gradients and adds them into its G_u.
// - kReplicated: every rank has every center, so it forms its own rows' sums without
//   communicating.
// - kPartitioned with few centers (accumulate_gram: p (d + c) values within kAgopGatherBytes
//   and below the N_s c (d + 1) sums): the centers and weights are allgathered once and the
//   ranks go on as kReplicated. The sums over centers are then added in center order on one
//   rank instead of per rank and across ranks by the reduce-scatter: the same G to rounding, not
//   the same bits as the rounds at 2 or more ranks (1 rank: the same bits).
// Then one allreduce of G_u (d x d, or d in diagonal mode), and rank 0's G is broadcast so every
// rank holds the same bits. Centred gradients add one allreduce of the c x d gradient sums s_c and
// the correction N_s G_u -= sum_c s_c s_c^T / N_s, on G_u (u coordinates), before G = S G_u S.
#include "kernels/agop.hpp"

#include <algorithm>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/blas.hpp"
#include "kernels/lpq_kernel.hpp"
#include "kmpi/error.hpp"
#include "parallel/counts.hpp"
#include "parallel/log.hpp"

namespace kmpi {

namespace {

// f(), its seconds added to times->*phase where timing.
template <class F>
void timed(AgopTimes* times, double AgopTimes::*phase, F&& f) {
  if (!times) {
    f();
    return;
  }
  const Stopwatch clock;
  f();
  times->*phase += clock.seconds();
}

// Query rows in the kernel precision T with their squared norms.
template <class T>
struct QueryRows {
  Matrix<T> x;
  std::vector<T> norms;
};
template <class T>
QueryRows<T> query_rows(const Matrix<double>& u) {
  QueryRows<T> q{convert<T>(u), std::vector<T>(u.rows())};
  row_squared_norms(q.x.data(), u.rows(), u.cols(), u.cols(), q.norms.data());
  return q;
}

// sums (m x c (d + 1), float64) += W F for query rows q against the centers z with weights
// alpha (DESIGN §1.5), F = [alpha | alpha_1 V | ... | alpha_c V]. Center tiles are outermost so
// each tile of F is built once; both the weight tile (query chunk x center tile) and the F tile
// stay within tile_bytes. Products are formed in T and accumulated in float64 across tiles.
template <class T>
void add_weighted_sums(const Kernel& k, const QueryRows<T>& q, const LocalCenters& z,
                       const Matrix<double>& alpha, std::size_t tile_bytes, Matrix<double>& sums,
                       AgopTimes* times) {
  const std::size_t m = q.x.rows(), d = q.x.cols(), p = z.rows(), c = alpha.cols();
  const std::size_t cw = c * (d + 1);
  if (m == 0 || p == 0 || c == 0) return;
  if (tile_bytes == 0) tile_bytes = cache_tile_bytes();
  const std::size_t mq =
      std::min(m, std::clamp<std::size_t>(tile_bytes / (cw * sizeof(T)), 16, 4096));
  const std::size_t pt =
      std::min(p, std::max<std::size_t>(64, tile_bytes / (sizeof(T) * std::max(cw, mq))));
  const Matrix<T>& zt = z.rows_as<T>();
  const std::vector<T>& zn = z.norms_as<T>();
  if (!k.distances_from_products()) {
    // The Laplace family with p != 2: the gradient is not u A - B (lpq_kernel.hpp), so its
    // tile sums go straight into the B columns, negated, with A = 0: gradients_from_sums then
    // returns them unchanged, and the reductions over ranks (sums are linear in the centers)
    // are those of p = 2.
    std::vector<T> w(mq * pt);
    for (std::size_t j0 = 0; j0 < p; j0 += pt) {
      const std::size_t tj = std::min(pt, p - j0);
      for (std::size_t i0 = 0; i0 < m; i0 += mq) {
        const std::size_t mi = std::min(mq, m - i0);
        timed(times, &AgopTimes::weights_s, [&] {
          gradient_weight_block(k, q.x.row(i0), mi, d, zt.row(j0), tj, d, d, w.data(), tj);
        });
        timed(times, &AgopTimes::products_s, [&] {
          lpq_add_gradients(k, q.x.row(i0), mi, d, zt.row(j0), tj, d, d, w.data(), tj,
                            alpha.row(j0), c, c, -1.0, sums.row(i0) + c, cw);
        });
      }
    }
    return;
  }
  std::vector<T> f(pt * cw), w(mq * pt), part(std::is_same_v<T, double> ? 0 : mq * cw);
  for (std::size_t j0 = 0; j0 < p; j0 += pt) {
    const std::size_t tj = std::min(pt, p - j0);
    timed(times, &AgopTimes::products_s, [&] {
      for (std::size_t i = 0; i < tj; ++i) {
        T* fi = f.data() + i * cw;
        const T* vi = zt.row(j0 + i);
        for (std::size_t l = 0; l < c; ++l) {
          const double a = alpha(j0 + i, l);
          fi[l] = static_cast<T>(a);
          T* bl = fi + c + l * d;
          for (std::size_t t = 0; t < d; ++t)
            bl[t] = static_cast<T>(a * static_cast<double>(vi[t]));
        }
      }
    });
    for (std::size_t i0 = 0; i0 < m; i0 += mq) {
      const std::size_t mi = std::min(mq, m - i0);
      timed(times, &AgopTimes::weights_s, [&] {
        gradient_weight_block(k, q.x.row(i0), mi, d, zt.row(j0), tj, d, d, w.data(), tj,
                              q.norms.data() + i0, zn.data() + j0);
      });
      timed(times, &AgopTimes::products_s, [&] {
        if constexpr (std::is_same_v<T, double>) {
          blas::gemm(false, false, mi, cw, tj, 1.0, w.data(), tj, f.data(), cw, 1.0, sums.row(i0),
                     cw);
        } else {
          blas::gemm(false, false, mi, cw, tj, T(1), w.data(), tj, f.data(), cw, T(0), part.data(),
                     cw);
          double* out = sums.row(i0);
          for (std::size_t e = 0; e < mi * cw; ++e) out[e] += static_cast<double>(part[e]);
        }
      });
    }
  }
}

// The gradients of rows u (m x d) from their sums (m x c (d + 1)): row j c + l is
// u_j A_jl - B_jl.
// g is resized in place: the rounds reuse its storage (and the sums'), so a round's tens of MiB are
// not mapped and faulted in afresh each time.
void gradients_from_sums(const double* u, std::size_t m, std::size_t d, std::size_t c,
                         const Matrix<double>& sums, Matrix<double>& g) {
  g.resize(m * c, d);
  for (std::size_t j = 0; j < m; ++j) {
    const double* uj = u + j * d;
    const double* s = sums.row(j);
    for (std::size_t l = 0; l < c; ++l) {
      double* gl = g.row(j * c + l);
      const double a = s[l];
      const double* b = s + c + l * d;
      for (std::size_t t = 0; t < d; ++t) gl[t] = uj[t] * a - b[t];
    }
  }
}

// This rank's part of N_s G_u: the upper triangle of sum g g^T (d x d) or, where only the
// diagonal is wanted, sum g_t^2 (d values); with `c` > 0 also each output's gradient sum
// sum_j g_jc (c x d), for centring.
class GradientGram {
 public:
  GradientGram(std::size_t d, bool full, std::size_t c = 0)
      : d_(d), full_(full), gram_(full ? d : 1, d), sums_(c, d) {}
  void add(const Matrix<double>& g) {
    if (g.rows() == 0) return;
    if (const std::size_t c = sums_.rows())  // rows j c + l: output l
      for (std::size_t r = 0; r < g.rows(); ++r) {
        const double* gr = g.row(r);
        double* s = sums_.row(r % c);
        for (std::size_t t = 0; t < d_; ++t) s[t] += gr[t];
      }
    if (full_) {
      blas::syrk_upper_transposed(d_, g.rows(), 1.0, g.data(), d_, 1.0, gram_.data(), d_);
      return;
    }
    for (std::size_t r = 0; r < g.rows(); ++r) {
      const double* gr = g.row(r);
      for (std::size_t t = 0; t < d_; ++t) gram_.data()[t] += gr[t] * gr[t];
    }
  }
  Matrix<double>& matrix() { return gram_; }
  Matrix<double>& gradient_sums() { return sums_; }

 private:
  std::size_t d_;
  bool full_;
  Matrix<double> gram_;
  Matrix<double> sums_;
};

// sum_j (g_jc - m_c)(g_jc - m_c)^T = sum_j g_jc g_jc^T - s_c s_c^T / N_s over outputs c, with
// s_c = sum_j g_jc = N_s m_c (the complete sums, c x d): subtracted from the complete N_s G_u in
// the shape GradientGram accumulated it (upper triangle of d x d, or the diagonal as 1 x d).
void subtract_mean_outer_products(const Matrix<double>& sums, std::size_t total,
                                  Matrix<double>& gu) {
  const std::size_t c = sums.rows(), d = sums.cols();
  if (c == 0 || d == 0) return;
  const double inv = 1.0 / static_cast<double>(total);
  if (gu.rows() == d && d > 1) {
    blas::syrk_upper_transposed(d, c, -inv, sums.data(), d, 1.0, gu.data(), d);
    return;
  }
  for (std::size_t l = 0; l < c; ++l)
    for (std::size_t t = 0; t < d; ++t) gu.data()[t] -= inv * sums(l, t) * sums(l, t);
}

// Every rank's sample rows in rounds of nb, centers partitioned (see the file comment).
template <class T>
void partitioned_gram(const mpi::Communicator& comm, const AgopInput& in, const LocalCenters& z,
                      std::size_t d, std::size_t c, std::size_t nb, GradientGram& gram) {
  const int P = comm.size(), me = comm.rank();
  const unsigned long long mine = in.sample->rows();
  const std::vector<unsigned long long> counts = comm.allgather(&mine, 1);
  std::vector<std::size_t> offsets(static_cast<std::size_t>(P) + 1, 0);
  for (int r = 0; r < P; ++r) offsets[r + 1] = offsets[r] + static_cast<std::size_t>(counts[r]);
  const std::size_t total = offsets.back(), cw = c * (d + 1);
  std::vector<int> row_counts(P), row_displs(P), sum_counts(P);
  Matrix<double> block, sums, my_sums, g;  // reused by every round
  for (std::size_t b0 = 0; b0 < total; b0 += nb) {
    const std::size_t b1 = std::min(total, b0 + nb);
    auto rows = mpi::window_counts(offsets, b0, b1, d, "AGOP sample rows");
    row_counts = std::move(rows.counts);
    row_displs = std::move(rows.displs);
    sum_counts = mpi::window_counts(offsets, b0, b1, cw, "AGOP sums").counts;
    const std::size_t my_lo = std::clamp(offsets[me], b0, b1);
    const std::size_t my_rows = std::clamp(offsets[me + 1], b0, b1) - my_lo;
    const double* my_u = in.sample->data() + (my_rows > 0 ? (my_lo - offsets[me]) * d : 0);
    block.resize(b1 - b0, d);
    timed(in.times, &AgopTimes::communication_s,
          [&] { comm.allgatherv(my_u, block.data(), row_counts, row_displs); });
    sums.resize(b1 - b0, cw);
    add_weighted_sums(in.kernel, query_rows<T>(block), z, *in.alpha, in.tile_bytes, sums, in.times);
    // The owner of each row receives the sums over every rank's centers.
    my_sums.resize(my_rows, cw);
    timed(in.times, &AgopTimes::communication_s,
          [&] { comm.reduce_scatter(sums.data(), my_sums.data(), sum_counts); });
    timed(in.times, &AgopTimes::gram_s, [&] {
      gradients_from_sums(my_u, my_rows, d, c, my_sums, g);
      gram.add(g);
    });
    if (in.times) ++in.times->rounds;
  }
}

// This rank's sample rows in chunks of nb against all centers z (weights alpha), no
// communication.
template <class T>
void replicated_gram(const AgopInput& in, const LocalCenters& z, const Matrix<double>& alpha,
                     std::size_t d, std::size_t c, std::size_t nb, GradientGram& gram) {
  const Matrix<double>& u = *in.sample;
  const std::size_t m = u.rows(), cw = c * (d + 1);
  Matrix<double> block, sums, g;  // reused by every chunk
  for (std::size_t b0 = 0; b0 < m; b0 += nb) {
    const std::size_t mb = std::min(nb, m - b0);
    block.resize(mb, d);
    std::copy(u.row(b0), u.row(b0) + mb * d, block.data());
    sums.resize(mb, cw);
    add_weighted_sums(in.kernel, query_rows<T>(block), z, alpha, in.tile_bytes, sums, in.times);
    timed(in.times, &AgopTimes::gram_s, [&] {
      gradients_from_sums(block.data(), mb, d, c, sums, g);
      gram.add(g);
    });
    if (in.times) ++in.times->rounds;
  }
}

// collective: every rank's rows of m (cols columns each), in rank order, on every rank.
Matrix<double> gather_rows(const mpi::Communicator& comm, const Matrix<double>& m,
                           std::size_t cols) {
  const unsigned long long mine = m.rows();
  const std::vector<unsigned long long> rows = comm.allgather(&mine, 1);
  std::vector<int> counts(rows.size()), displs(rows.size());
  std::size_t total = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    displs[r] = static_cast<int>(total * cols);
    counts[r] = static_cast<int>(rows[r] * cols);
    total += static_cast<std::size_t>(rows[r]);
  }
  Matrix<double> all(total, cols);
  comm.allgatherv(m.rows() > 0 ? m.data() : all.data(), all.data(), counts, displs);
  return all;
}

// collective: this rank's part of N_s G_u (and gradient sums) for every sample row against every
// center, by the input's layout. Partitioned centers are gathered to every rank first where they
// are small (AgopInput::gather_bytes) and fewer values than the sums they would otherwise send
// (p (d + c) against N_s c (d + 1)): each rank then takes its own rows against all centers with
// no rounds (the grokking shape: 0.3 M values gathered instead of 12.5 M reduce-scattered).
void accumulate_gram(const mpi::Communicator& comm, const AgopInput& in, std::size_t d,
                     std::size_t c, std::size_t total, GradientGram& gram) {
  // Rows per round: block_rows, lowered so a round's sums stay within kAgopBlockBytes; so the
  // MPI counts of a round (N_b d rows, N_b c (d + 1) sums) stay below 2^22, far from INT_MAX.
  const std::size_t cw = c * (d + 1);
  const std::size_t nb = std::clamp<std::size_t>(kAgopBlockBytes / (cw * sizeof(double)), 1,
                                                 std::max<std::size_t>(in.block_rows, 1));
  if (in.times) in.times->rows_per_round = nb;
  const bool f32 = in.precision == Precision::kFloat32;
  bool replicated = in.layout == CenterLayout::kReplicated;
  Matrix<double> all_centers, all_alpha;
  if (!replicated && comm.size() > 1) {
    // Integer reductions: the same verdict on every rank.
    const std::size_t p =
        static_cast<std::size_t>(comm.allreduce_value<unsigned long long>(in.centers->rows()));
    replicated = p * (d + c) * sizeof(double) <= in.gather_bytes && p * (d + c) < total * cw;
    if (replicated)
      timed(in.times, &AgopTimes::communication_s, [&] {
        all_centers = gather_rows(comm, *in.centers, d);
        all_alpha = gather_rows(comm, *in.alpha, c);
      });
  }
  const Matrix<double>& centers = all_centers.rows() > 0 ? all_centers : *in.centers;
  const Matrix<double>& alpha = all_centers.rows() > 0 ? all_alpha : *in.alpha;
  const LocalCenters z(centers, in.precision);
  if (replicated) {
    if (f32)
      replicated_gram<float>(in, z, alpha, d, c, nb, gram);
    else
      replicated_gram<double>(in, z, alpha, d, c, nb, gram);
  } else {
    if (f32)
      partitioned_gram<float>(comm, in, z, d, c, nb, gram);
    else
      partitioned_gram<double>(comm, in, z, d, c, nb, gram);
  }
}

// G = S G_u S in x coordinates from G_u (d x d, upper triangle as accumulated, or 1 x d when only
// its diagonal was formed). Diagonal mode keeps diag(G) only.
Matrix<double> to_x_coordinates(Matrix<double> gu, const FeatureMetric* metric, bool diagonal) {
  const std::size_t d = gu.cols();
  // (d = 1: the full and the diagonal G_u are the same 1 x 1 matrix.)
  if (gu.rows() == d)
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < i; ++j) gu(i, j) = gu(j, i);
  const MetricKind kind = metric ? metric->kind : MetricKind::kNone;
  if (kind == MetricKind::kNone) {
    if (!diagonal || gu.rows() == 1) return gu;
    Matrix<double> g(1, d);
    for (std::size_t t = 0; t < d; ++t) g(0, t) = gu(t, t);
    return g;
  }
  const std::vector<double>& s = metric->root;
  if (kind == MetricKind::kDiagonal) {
    if (diagonal) {
      Matrix<double> g(1, d);
      for (std::size_t t = 0; t < d; ++t)
        g(0, t) = s[t] * s[t] * (gu.rows() == 1 ? gu(0, t) : gu(t, t));
      return g;
    }
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j) gu(i, j) *= s[i] * s[j];
    return gu;
  }
  // Full S (symmetric): T = S G_u, G = T S; diag(G)_i = sum_j T_ij S_ji = sum_j T_ij S_ij.
  Matrix<double> t(d, d);
  blas::gemm(false, false, d, d, d, 1.0, s.data(), d, gu.data(), d, 0.0, t.data(), d);
  if (diagonal) {
    Matrix<double> g(1, d);
    for (std::size_t i = 0; i < d; ++i) {
      double v = 0;
      for (std::size_t j = 0; j < d; ++j) v += t(i, j) * s[i * d + j];
      g(0, i) = v;
    }
    return g;
  }
  Matrix<double> g(d, d);
  blas::gemm(false, false, d, d, d, 1.0, t.data(), d, s.data(), d, 0.0, g.data(), d);
  return g;
}

// local: the shape errors of this rank's part of the input, "" if none.
std::string input_error(const AgopInput& in, std::size_t d, std::size_t c) {
  if (!in.sample || !in.centers || !in.alpha) return "agop: sample, centers and alpha are required";
  if (in.sample->rows() > 0 && in.sample->cols() != d)
    return "agop: sample rows have " + std::to_string(in.sample->cols()) + " columns, centers " +
           std::to_string(d);
  if (in.centers->rows() > 0 && in.centers->cols() != d)
    return "agop: centers have " + std::to_string(in.centers->cols()) + " columns on one rank, " +
           std::to_string(d) + " on another";
  if (in.alpha->rows() != in.centers->rows())
    return "agop: " + std::to_string(in.alpha->rows()) + " weight rows for " +
           std::to_string(in.centers->rows()) + " centers";
  if (in.centers->rows() > 0 && in.alpha->cols() != c)
    return "agop: weights have " + std::to_string(in.alpha->cols()) + " columns on one rank, " +
           std::to_string(c) + " on another";
  if (in.metric && in.metric->kind != MetricKind::kNone) {
    const std::size_t want = in.metric->kind == MetricKind::kFull ? d * d : d;
    if (in.metric->root.size() != want)
      return "agop: the metric holds " + std::to_string(in.metric->root.size()) + " values for " +
             std::to_string(d) + " features (expected " + std::to_string(want) + ")";
  }
  return "";
}

}  // namespace

Matrix<double> model_gradients(const Kernel& k, Precision precision, const Matrix<double>& u,
                               const Matrix<double>& centers, const Matrix<double>& alpha,
                               std::size_t tile_bytes) {
  const std::size_t m = u.rows(), d = u.cols(), c = alpha.cols();
  if (centers.rows() > 0 && centers.cols() != d)
    throw Error("model_gradients: rows have " + std::to_string(d) + " columns, centers " +
                std::to_string(centers.cols()));
  if (alpha.rows() != centers.rows())
    throw Error("model_gradients: " + std::to_string(alpha.rows()) + " weight rows for " +
                std::to_string(centers.rows()) + " centers");
  Matrix<double> sums(m, c * (d + 1));
  const LocalCenters z(centers, precision);
  if (precision == Precision::kFloat32)
    add_weighted_sums(k, query_rows<float>(u), z, alpha, tile_bytes, sums, nullptr);
  else
    add_weighted_sums(k, query_rows<double>(u), z, alpha, tile_bytes, sums, nullptr);
  Matrix<double> g;
  gradients_from_sums(u.data(), m, d, c, sums, g);
  return g;
}

Matrix<double> agop(const mpi::Communicator& comm, const AgopInput& in) {
  const Stopwatch clock;
  // d and c from the ranks that hold centers (a rank without any may hold 0 x 0 matrices).
  unsigned long long shape[2] = {0, 0};
  if (in.centers && in.alpha && in.centers->rows() > 0) {
    shape[0] = in.centers->cols();
    shape[1] = in.alpha->cols();
  } else if (in.sample && in.sample->rows() > 0) {
    shape[0] = in.sample->cols();
  }
  comm.allreduce(shape, 2, mpi::Op::kMax);
  const std::size_t d = static_cast<std::size_t>(shape[0]), c = static_cast<std::size_t>(shape[1]);
  const std::string error = input_error(in, d, c);
  mpi::agree(comm, error.empty(), error);
  const std::size_t total =
      static_cast<std::size_t>(comm.allreduce_value<unsigned long long>(in.sample->rows()));
  mpi::agree(comm, total == in.sample_total,
             "agop: the ranks hold " + std::to_string(total) + " sample rows, sample_total is " +
                 std::to_string(in.sample_total));
  if (total == 0) throw Error("agop: no rank holds any sample rows");
  // G_u in full unless only the diagonal is wanted and S is diagonal (diag(S G_u S) for a full
  // S needs all of G_u).
  const bool full_metric = in.metric && in.metric->kind == MetricKind::kFull;
  GradientGram gram(d, !in.diagonal || full_metric, in.center ? c : 0);
  if (c > 0 && d > 0) accumulate_gram(comm, in, d, c, total, gram);
  Matrix<double>& gu = gram.matrix();
  comm.allreduce(gu.data(), gu.size());
  if (in.center) {
    Matrix<double>& sums = gram.gradient_sums();
    comm.allreduce(sums.data(), sums.size());
    subtract_mean_outer_products(sums, total, gu);
  }
  const double inv = 1.0 / static_cast<double>(total);
  for (std::size_t e = 0; e < gu.size(); ++e) gu.data()[e] *= inv;
  Matrix<double> g = to_x_coordinates(std::move(gu), in.metric, in.diagonal);
  // MPI does not promise every rank the same bits from an allreduce; rank 0's G is the answer.
  comm.broadcast(g.data(), g.size(), 0);
  if (in.times) in.times->total_s += clock.seconds();
  return g;
}

}  // namespace kmpi
