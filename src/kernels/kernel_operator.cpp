#include "kmpi/kernel_operator.hpp"

#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "base/blas.hpp"
#include "kmpi/error.hpp"
#include "kernels/shared_operator.hpp"

namespace kmpi {

std::size_t cache_tile_bytes() {
  static const std::size_t bytes = [] {
    const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    const std::size_t guess = l2 > 0 ? 16 * static_cast<std::size_t>(l2) : std::size_t(16) << 20;
    return std::clamp(guess, std::size_t(4) << 20, std::size_t(64) << 20);
  }();
  return bytes;
}

LocalCenters::LocalCenters(const Matrix<double>& z, Precision precision)
    : precision_(precision), rows_(z.rows()), d_(z.cols()) {
  if (precision == Precision::kFloat32) {
    z32_ = convert<float>(z);
    n32_.resize(rows_);
    row_squared_norms(z32_.data(), rows_, d_, d_, n32_.data());
  } else {
    z64_ = z;
    n64_.resize(rows_);
    row_squared_norms(z64_.data(), rows_, d_, d_, n64_.data());
  }
}

void LocalCenters::append_rows(const Matrix<double>& x, const std::vector<std::size_t>& rows) {
  if (rows.empty()) return;
  if (rows_ == 0) {  // an empty one takes x's width (its precision is the constructor's)
    d_ = x.cols();
    z32_ = Matrix<float>(0, d_);
    z64_ = Matrix<double>(0, d_);
  }
  const Matrix<double> picked = select_rows(x, rows);
  if (precision_ == Precision::kFloat32) {
    const Matrix<float> f = convert<float>(picked);
    z32_.append_rows(f.data(), f.rows());
    n32_.resize(rows_ + rows.size());
    row_squared_norms(f.data(), f.rows(), d_, d_, n32_.data() + rows_);
  } else {
    z64_.append_rows(picked.data(), picked.rows());
    n64_.resize(rows_ + rows.size());
    row_squared_norms(picked.data(), picked.rows(), d_, d_, n64_.data() + rows_);
  }
  rows_ += rows.size();
}

namespace {

// Query rows per chunk and center rows per tile so that a tile stays within tile_bytes.
struct Tiling {
  std::size_t query_rows, center_rows;
};
template <class T>
Tiling tiling_for(std::size_t m, std::size_t p, std::size_t tile_bytes) {
  if (tile_bytes == 0) tile_bytes = cache_tile_bytes();
  const std::size_t mq = std::max<std::size_t>(1, std::min<std::size_t>(m, 4096));
  const std::size_t t = std::max<std::size_t>(64, tile_bytes / (mq * sizeof(T)));
  return {mq, std::min(std::max<std::size_t>(p, 1), t)};
}

// One product's operands in the kernel precision T: the centers and their norms as LocalCenters
// keeps them, the query rows converted with their norms, and the right-hand factor (alpha or
// g, m or p rows x c) converted.
template <class T>
struct TileOperands {
  const Matrix<T>& z;
  const std::vector<T>& z_norms;
  Matrix<T> q;
  std::vector<T> q_norms;
  Matrix<T> factor;
};
template <class T>
TileOperands<T> tile_operands(const LocalCenters& z, const Matrix<double>& q64,
                              const Matrix<double>& factor) {
  TileOperands<T> t{z.template rows_as<T>(), z.template norms_as<T>(), convert<T>(q64),
                    std::vector<T>(q64.rows()), convert<T>(factor)};
  row_squared_norms(t.q.data(), q64.rows(), q64.cols(), q64.cols(), t.q_norms.data());
  return t;
}

// Visits the tiles of an m x p product, f(i0, mi, j0, tj) for query rows [i0, i0 + mi) and
// center rows [j0, j0 + tj), query chunks outermost.
template <class F>
inline void for_each_tile(const Tiling& tl, std::size_t m, std::size_t p, F&& f) {
  for (std::size_t i0 = 0; i0 < m; i0 += tl.query_rows) {
    const std::size_t mi = std::min(tl.query_rows, m - i0);
    for (std::size_t j0 = 0; j0 < p; j0 += tl.center_rows)
      f(i0, mi, j0, std::min(tl.center_rows, p - j0));
  }
}

// out(row0 + i, l) += part(i, l) for a product in the kernel precision (rows x c, row-major):
// where a tile's partial sums are accumulated in float64.
template <class T>
inline void add_rows_to(Matrix<double>& out, std::size_t row0, std::size_t rows, std::size_t c,
                        const T* part) {
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t l = 0; l < c; ++l) out(row0 + i, l) += static_cast<double>(part[i * c + l]);
}

// The captured columns that fall in the tile of center rows [j0, j0 + tj) (a contiguous run of
// the sorted list), copied from the tile (mi x tj) into capture.values' rows [i0, i0 + mi).
template <class T>
void capture_columns(const T* tile, std::size_t i0, std::size_t mi, std::size_t j0, std::size_t tj,
                     KernelColumns& capture) {
  const std::vector<std::size_t>* wanted = capture.columns;
  if (!wanted) return;
  const auto first = std::lower_bound(wanted->begin(), wanted->end(), j0);
  const auto last = std::lower_bound(first, wanted->end(), j0 + tj);
  for (auto it = first; it != last; ++it) {
    const std::size_t col = static_cast<std::size_t>(it - wanted->begin()), j = *it - j0;
    for (std::size_t i = 0; i < mi; ++i)
      capture.values(i0 + i, col) = static_cast<double>(tile[i * tj + j]);
  }
}

// outs[g] += K_g(Q, Z_r) alphas[g] for every kernel g: each tile's products -2 Q Z^T once
// (product_block), each kernel's block from them by its elementwise pass (the bits of
// kernel_block; the last kernel's in place), then its product with alpha_g and its capture. The
// tiling depends on m, p and tile_bytes alone, so each kernel's sums are those it has alone.
template <class T>
void times_local(const std::vector<Kernel>& kernels, const Matrix<double>& q64,
                 const LocalCenters& z, const std::vector<const Matrix<double>*>& alphas,
                 const std::vector<Matrix<double>*>& outs, std::size_t tile_bytes,
                 const std::vector<KernelColumns*>& captures, const BetweenTiles& between_tiles) {
  const std::size_t m = q64.rows(), d = q64.cols(), p = z.rows(), g_count = kernels.size();
  // A kernel with no outputs is skipped whole (no capture either), as kernel_times_local was.
  std::vector<std::size_t> used;
  std::size_t widest = 0;
  for (std::size_t g = 0; g < g_count; ++g)
    if (alphas[g]->cols() > 0) {
      used.push_back(g);
      widest = std::max(widest, alphas[g]->cols());
    }
  if (m == 0 || p == 0 || used.empty()) return;
  const TileOperands<T> t = tile_operands<T>(z, q64, Matrix<double>());
  std::vector<Matrix<T>> factors(g_count);
  for (std::size_t g : used) factors[g] = convert<T>(*alphas[g]);
  const Tiling tl = tiling_for<T>(m, p, tile_bytes);
  std::vector<T> products(tl.query_rows * tl.center_rows),
      block(used.size() > 1 ? tl.query_rows * tl.center_rows : 0), part(tl.query_rows * widest);
  const auto capture_of = [&](std::size_t g) {
    return g < captures.size() ? captures[g] : nullptr;
  };
  for (std::size_t g : used)
    if (KernelColumns* cap = capture_of(g))
      cap->values = Matrix<double>(m, cap->columns ? cap->columns->size() : 0);
  // The products serve the kernels with Euclidean distances; a Laplace family kernel with
  // p != 2 computes its own (kernel_from_products_or_rows).
  const bool any_products = std::any_of(used.begin(), used.end(), [&](std::size_t g) {
    return kernels[g].distances_from_products();
  });
  for_each_tile(tl, m, p, [&](std::size_t i0, std::size_t mi, std::size_t j0, std::size_t tj) {
    if (between_tiles) between_tiles();
    if (any_products) product_block(t.q.row(i0), mi, d, t.z.row(j0), tj, d, d, products.data(), tj);
    for (std::size_t g : used) {
      T* kb = g == used.back() ? products.data() : block.data();
      kernel_from_products_or_rows(kernels[g], products.data(), tj, t.q.row(i0), mi, d, t.z.row(j0),
                                   tj, d, d, t.q_norms.data() + i0, t.z_norms.data() + j0, kb, tj);
      const std::size_t c = alphas[g]->cols();
      blas::gemm(false, false, mi, c, tj, T(1), kb, tj, factors[g].row(j0), c, T(0), part.data(),
                 c);
      add_rows_to(*outs[g], i0, mi, c, part.data());
      if (KernelColumns* cap = capture_of(g)) capture_columns(kb, i0, mi, j0, tj, *cap);
    }
  });
}

template <class T>
Matrix<double> transpose_times_local(const Kernel& k, const LocalCenters& z,
                                     const Matrix<double>& q64, const Matrix<double>& g,
                                     std::size_t tile_bytes) {
  const std::size_t m = q64.rows(), d = q64.cols(), p = z.rows(), c = g.cols();
  Matrix<double> out(p, c);
  if (m == 0 || p == 0 || c == 0) return out;
  const TileOperands<T> t = tile_operands<T>(z, q64, g);
  const Tiling tl = tiling_for<T>(m, p, tile_bytes);
  std::vector<T> block(tl.query_rows * tl.center_rows), part(tl.center_rows * c);
  for_each_tile(tl, m, p, [&](std::size_t i0, std::size_t mi, std::size_t j0, std::size_t tj) {
    kernel_block(k, t.z.row(j0), tj, d, t.q.row(i0), mi, d, d, block.data(), mi,
                 t.z_norms.data() + j0, t.q_norms.data() + i0);
    blas::gemm(false, false, tj, c, mi, T(1), block.data(), mi, t.factor.row(i0), c, T(0),
               part.data(), c);
    add_rows_to(out, j0, tj, c, part.data());
  });
  return out;
}

// The panel's two products, for its element type T. panel is m x p row-major in buf.
// out(i0 + i, :) += rows (mi x p, ld p) factor, summed over runs of kPanelSumLength columns in
// the kernel precision and across runs in float64 (part: mi x c scratch).
template <class T>
void panel_rows_times(const T* rows, std::size_t i0, std::size_t mi, std::size_t p,
                      const Matrix<T>& factor, Matrix<double>& out, std::vector<T>& part) {
  const std::size_t c = factor.cols(), run = KernelPanel::kPanelSumLength;
  part.resize(std::max(part.size(), mi * c));
  for (std::size_t j0 = 0; j0 < p && c > 0; j0 += run) {
    const std::size_t tj = std::min(run, p - j0);
    blas::gemm(false, false, mi, c, tj, T(1), rows + j0, p, factor.row(j0), c, T(0), part.data(),
               c);
    add_rows_to(out, i0, mi, c, part.data());
  }
}

template <class T>
void panel_build(const Kernel& k, const Matrix<double>& q64, const LocalCenters& z,
                 const Matrix<double>& alpha, Matrix<double>& out, std::size_t tile_bytes,
                 std::vector<T>& buf) {
  const std::size_t m = q64.rows(), d = q64.cols(), p = z.rows(), c = alpha.cols();
  if (m == 0 || p == 0) return;
  if (buf.size() < m * p) buf.resize(m * p);
  T* panel = buf.data();
  const TileOperands<T> t = tile_operands<T>(z, q64, alpha);
  if (tile_bytes == 0) tile_bytes = cache_tile_bytes();
  const std::size_t chunk = std::clamp<std::size_t>(tile_bytes / (p * sizeof(T)), 16, 4096);
  std::vector<T> part(chunk * c);
  for (std::size_t i0 = 0; i0 < m; i0 += chunk) {
    const std::size_t mi = std::min(chunk, m - i0);
    T* rows = panel + i0 * p;
    kernel_block(k, t.q.row(i0), mi, d, t.z.data(), p, d, d, rows, p, t.q_norms.data() + i0,
                 t.z_norms.data());
    panel_rows_times(rows, i0, mi, p, t.factor, out, part);
  }
}

template <class T>
Matrix<double> panel_transpose_times(const T* panel, std::size_t m, std::size_t p,
                                     const Matrix<double>& g) {
  const std::size_t c = g.cols();
  Matrix<double> out(p, c);
  if (m == 0 || p == 0 || c == 0) return out;
  // out^T (c x p) = g^T K: the panel is read untransposed (OpenBLAS packs a transposed tall
  // operand with small c far below peak; see falkon.cpp), in runs of rows summed in float64.
  const std::size_t run = KernelPanel::kPanelSumLength;
  std::vector<T> gt(c * std::min(m, run)), part(c * p);
  for (std::size_t i0 = 0; i0 < m; i0 += run) {
    const std::size_t mi = std::min(run, m - i0);
    for (std::size_t i = 0; i < mi; ++i)
      for (std::size_t l = 0; l < c; ++l) gt[l * mi + i] = static_cast<T>(g(i0 + i, l));
    blas::gemm(false, false, c, p, mi, T(1), gt.data(), mi, panel + i0 * p, p, T(0), part.data(),
               p);
    for (std::size_t j = 0; j < p; ++j)
      for (std::size_t l = 0; l < c; ++l) out(j, l) += static_cast<double>(part[l * p + j]);
  }
  return out;
}

}  // namespace

void KernelPanel::compute(const Kernel& k, const Matrix<double>& q, const LocalCenters& z,
                          const Matrix<double>& alpha, Matrix<double>& out,
                          std::size_t tile_bytes) {
  precision_ = z.precision();
  m_ = q.rows();
  p_ = z.rows();
  if (precision_ == Precision::kFloat32)
    panel_build<float>(k, q, z, alpha, out, tile_bytes, k32_);
  else
    panel_build<double>(k, q, z, alpha, out, tile_bytes, k64_);
}

void KernelPanel::times(const Matrix<double>& alpha, Matrix<double>& out) const {
  std::vector<float> part32;
  std::vector<double> part64;
  if (precision_ == Precision::kFloat32)
    panel_rows_times(k32_.data(), 0, m_, p_, convert<float>(alpha), out, part32);
  else
    panel_rows_times(k64_.data(), 0, m_, p_, alpha, out, part64);
}

Matrix<double> KernelPanel::transpose_times(const Matrix<double>& g) const {
  if (precision_ == Precision::kFloat32) return panel_transpose_times(k32_.data(), m_, p_, g);
  return panel_transpose_times(k64_.data(), m_, p_, g);
}

void kernel_times_local_shared(const std::vector<Kernel>& kernels, const Matrix<double>& q,
                               const LocalCenters& z,
                               const std::vector<const Matrix<double>*>& alphas,
                               const std::vector<Matrix<double>*>& outs, std::size_t tile_bytes,
                               const std::vector<KernelColumns*>& captures,
                               const BetweenTiles& between_tiles) {
  if (z.precision() == Precision::kFloat32)
    times_local<float>(kernels, q, z, alphas, outs, tile_bytes, captures, between_tiles);
  else
    times_local<double>(kernels, q, z, alphas, outs, tile_bytes, captures, between_tiles);
}

void kernel_times_local(const Kernel& k, const Matrix<double>& q, const LocalCenters& z,
                        const Matrix<double>& alpha, Matrix<double>& out, std::size_t tile_bytes,
                        KernelColumns* capture, const BetweenTiles& between_tiles) {
  kernel_times_local_shared({k}, q, z, {&alpha}, {&out}, tile_bytes, {capture}, between_tiles);
}

Matrix<double> kernel_times(const mpi::Communicator& comm, const Kernel& k, const Matrix<double>& q,
                            const LocalCenters& z, const Matrix<double>& alpha,
                            std::size_t tile_bytes) {
  Matrix<double> out(q.rows(), alpha.cols());
  kernel_times_local(k, q, z, alpha, out, tile_bytes);
  comm.allreduce(out.data(), out.size());
  return out;
}

Matrix<double> kernel_transpose_times_local(const Kernel& k, const LocalCenters& z,
                                            const Matrix<double>& q, const Matrix<double>& g,
                                            std::size_t tile_bytes) {
  if (z.precision() == Precision::kFloat32)
    return transpose_times_local<float>(k, z, q, g, tile_bytes);
  return transpose_times_local<double>(k, z, q, g, tile_bytes);
}

namespace {

// One term's right-hand sides in the kernel precision: u_1..u_k side by side (p x k c, null ones
// as 0; empty when all are null) and the v_i (n_r x c, null = 0).
template <class T>
struct TermOperands {
  Matrix<T> u;
  const std::vector<const Matrix<double>*>* v = nullptr;
};
template <class T>
TermOperands<T> term_operands(const NormalProductTerm& t, std::size_t p, std::size_t c) {
  TermOperands<T> o;
  o.v = &t.v;
  if (std::none_of(t.u.begin(), t.u.end(), [](const Matrix<double>* u) { return u != nullptr; }))
    return o;
  const std::size_t k = t.u.size();
  o.u = Matrix<T>(p, k * c);
  for (std::size_t b = 0; b < k; ++b)
    if (t.u[b])
      for (std::size_t j = 0; j < p; ++j)
        for (std::size_t l = 0; l < c; ++l) o.u(j, b * c + l) = static_cast<T>((*t.u[b])(j, l));
  return o;
}

// local: w[b] (p x c) += K_tile^T (K_tile u_b + v_b tile) for the k = w.size() right-hand sides
// of one term and one kernel tile (mi x p, row-major, mi <= kPanelSumLength) of data rows
// [i0, i0 + mi). tmp (mi x kc, float64), tmp_t (kc x mi), part_t (kc x p) and part (mi x kc)
// are scratch. K_tile u sums p terms: in runs of kPanelSumLength in the kernel precision and
// across runs in float64, as every other product (panel_rows_times, DESIGN §5). tmp_t and part_t
// are kept transposed so that both products read the tile untransposed: w^T += tmp^T K_tile.
// OpenBLAS packing K_tile^T for (p x mi)(mi x c) with small c was measured 15x slower than the
// whole kernel evaluation.
template <class T>
void tile_normal_product(const T* tile, std::size_t mi, std::size_t p, const TermOperands<T>& o,
                         std::size_t i0, std::size_t c, Matrix<double>* w, std::size_t k,
                         Matrix<double>& tmp, std::vector<T>& tmp_t, std::vector<T>& part_t,
                         std::vector<T>& part) {
  const std::size_t cols = k * c;
  // tmp = K_tile [u_1 .. u_k] (mi x kc): one product for all k
  std::fill(tmp.data(), tmp.data() + tmp.size(), 0.0);
  if (o.u.size() > 0) panel_rows_times(tile, 0, mi, p, o.u, tmp, part);
  for (std::size_t b = 0; b < k; ++b) {
    const Matrix<double>* v = (*o.v)[b];
    for (std::size_t i = 0; i < mi; ++i)
      for (std::size_t l = b * c; l < (b + 1) * c; ++l)
        tmp_t[l * mi + i] = static_cast<T>(tmp(i, l) + (v ? (*v)(i0 + i, l - b * c) : 0.0));
  }
  // w_b += K_tile^T tmp_b, as part_t = tmp^T K_tile, accumulated in float64 across tiles.
  blas::gemm(false, false, cols, p, mi, T(1), tmp_t.data(), mi, tile, p, T(0), part_t.data(), p);
  for (std::size_t b = 0; b < k; ++b)
    for (std::size_t j = 0; j < p; ++j)
      for (std::size_t l = 0; l < c; ++l)
        w[b](j, l) += static_cast<double>(part_t[(b * c + l) * p + j]);
}

// local: w (term by term, right-hand side by right-hand side, p x c each) += K_g(X_r, Z)^T
// (K_g(X_r, Z) u_b + v_b) over this rank's data rows X_r. Each data tile's products -2 X Z^T
// are computed once (product_block); every kernel's tile comes from them by its elementwise pass
// alone (kernel_from_products: the bits of kernel_block), the last kernel's in place, so one
// kernel needs one tile buffer as before the sharing. Each kernel tile then serves both products
// of its term, which halves the kernel work against two separate operator calls. The tiling
// depends on n_r and p alone, so a term's sums run in the same order whatever the other terms.
template <class T>
void normal_product_local(const std::vector<NormalProductTerm>& terms, const LocalCenters& x,
                          const LocalCenters& z, std::size_t c, std::vector<Matrix<double>>& w,
                          std::size_t tile_bytes) {
  const std::size_t n = x.rows(), p = z.rows(), d = z.dimension(), g_count = terms.size();
  std::size_t widest = 0;
  for (const NormalProductTerm& t : terms) widest = std::max(widest, t.u.size() * c);
  if (n == 0 || p == 0 || widest == 0) return;
  const Matrix<T>& xt = x.template rows_as<T>();
  const Matrix<T>& zt = z.template rows_as<T>();
  const std::vector<T>& xn = x.template norms_as<T>();
  const std::vector<T>& zn = z.template norms_as<T>();
  std::vector<TermOperands<T>> operands;
  for (const NormalProductTerm& t : terms) operands.push_back(term_operands<T>(t, p, c));
  // tile_bytes = 0 means the machine's budget (kernel_operator.hpp); a chunk is at least 64 rows
  // so the tile's GEMM keeps its shape even for very large p, and at most kPanelSumLength, the
  // run of rows K_tile^T sums in the kernel precision (across tiles the sums are float64).
  const std::size_t budget = tile_bytes > 0 ? tile_bytes : cache_tile_bytes();
  const std::size_t chunk = std::min(
      {n, KernelPanel::kPanelSumLength,
       std::max<std::size_t>(64, budget / (std::max<std::size_t>(p, 1) * sizeof(T)))});
  const bool any_products = std::any_of(terms.begin(), terms.end(), [](const NormalProductTerm& t) {
    return !t.u.empty() && t.kernel.distances_from_products();
  });
  std::vector<T> products(chunk * p), tile(g_count > 1 ? chunk * p : 0), tmp_t(widest * chunk),
      part_t(widest * p), part(chunk * widest);
  Matrix<double> tmp(chunk, widest);
  for (std::size_t i0 = 0; i0 < n; i0 += chunk) {
    const std::size_t mi = std::min(chunk, n - i0);
    if (any_products) product_block(xt.row(i0), mi, d, zt.data(), p, d, d, products.data(), p);
    for (std::size_t g = 0, first = 0; g < g_count; first += terms[g].u.size(), ++g) {
      const NormalProductTerm& t = terms[g];
      if (t.u.empty()) continue;
      T* kg = g + 1 == g_count ? products.data() : tile.data();
      kernel_from_products_or_rows(t.kernel, products.data(), p, xt.row(i0), mi, d, zt.data(), p, d,
                                   d, xn.data() + i0, zn.data(), kg, p);
      tile_normal_product(kg, mi, p, operands[g], i0, c, &w[first], t.u.size(), tmp, tmp_t, part_t,
                          part);
    }
  }
}

}  // namespace

std::vector<Matrix<double>> kernel_normal_product_shared(
    const mpi::Communicator& comm, const std::vector<NormalProductTerm>& terms,
    const LocalCenters& x, const LocalCenters& z, std::size_t c, std::size_t n_total) {
  std::size_t count = 0;
  for (const NormalProductTerm& t : terms) {
    if (t.u.size() != t.v.size())
      throw CollectiveError(  // the same terms on every rank
          "kernel_normal_product_shared: a term's u and v differ in number", 0);
    count += t.u.size();
  }
  std::vector<Matrix<double>> w(count, Matrix<double>(z.rows(), c));
  if (z.precision() == Precision::kFloat32)
    normal_product_local<float>(terms, x, z, c, w, kDefaultTileBytes);
  else
    normal_product_local<double>(terms, x, z, c, w, kDefaultTileBytes);
  // One allreduce per right-hand side: each p x c result is then reduced exactly as the
  // one-kernel product reduces it (an allreduce's summation order may depend on its length).
  for (Matrix<double>& wb : w) {
    comm.allreduce(wb.data(), wb.size());
    for (std::size_t i = 0; i < wb.size(); ++i) wb.data()[i] /= static_cast<double>(n_total);
  }
  return w;
}

Matrix<double> kernel_normal_product(const mpi::Communicator& comm, const Kernel& k,
                                     const LocalCenters& x, const LocalCenters& z,
                                     const Matrix<double>* u, const Matrix<double>* v,
                                     std::size_t c, std::size_t n_total) {
  return std::move(kernel_normal_product_shared(comm, {{k, {u}, {v}}}, x, z, c, n_total)[0]);
}

}  // namespace kmpi
