#include "parallel/scalapack.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "kmpi/error.hpp"

// The one place that declares BLACS/ScaLAPACK symbols (Fortran calling convention: everything
// by pointer, trailing underscore).
extern "C" {
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int* context, const char* order, int nprow, int npcol);
void Cblacs_gridinfo(int context, int* nprow, int* npcol, int* myrow, int* mycol);
void Cblacs_gridexit(int context);
int numroc_(const int* n, const int* nb, const int* iproc, const int* isrcproc, const int* nprocs);
void descinit_(int* desc, const int* m, const int* n, const int* mb, const int* nb,
               const int* irsrc, const int* icsrc, const int* context, const int* lld, int* info);
void pdpotrf_(const char* uplo, const int* n, double* a, const int* ia, const int* ja,
              const int* desca, int* info);
void pdpotrs_(const char* uplo, const int* n, const int* nrhs, const double* a, const int* ia,
              const int* ja, const int* desca, double* b, const int* ib, const int* jb,
              const int* descb, int* info);
void pdsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* ia,
              const int* ja, const int* desca, double* w, double* z, const int* iz, const int* jz,
              const int* descz, double* work, const int* lwork, int* iwork, const int* liwork,
              int* info);
void pdtrsm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m,
             const int* n, const double* alpha, const double* a, const int* ia, const int* ja,
             const int* desca, double* b, const int* ib, const int* jb, const int* descb);
void pdlauum_(const char* uplo, const int* n, double* a, const int* ia, const int* ja,
              const int* desca, int* info);
void pspotrs_(const char* uplo, const int* n, const int* nrhs, const float* a, const int* ia,
              const int* ja, const int* desca, float* b, const int* ib, const int* jb,
              const int* descb, int* info);
void pspotrf_(const char* uplo, const int* n, float* a, const int* ia, const int* ja,
              const int* desca, int* info);
void pslauum_(const char* uplo, const int* n, float* a, const int* ia, const int* ja,
              const int* desca, int* info);
void pdsyrk_(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha,
             const double* a, const int* ia, const int* ja, const int* desca, const double* beta,
             double* c, const int* ic, const int* jc, const int* descc);
void pssyrk_(const char* uplo, const char* trans, const int* n, const int* k, const float* alpha,
             const float* a, const int* ia, const int* ja, const int* desca, const float* beta,
             float* c, const int* ic, const int* jc, const int* descc);
void pdtrmm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m,
             const int* n, const double* alpha, const double* a, const int* ia, const int* ja,
             const int* desca, double* b, const int* ib, const int* jb, const int* descb);
void pstrmm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m,
             const int* n, const float* alpha, const float* a, const int* ia, const int* ja,
             const int* desca, float* b, const int* ib, const int* jb, const int* descb);
void pdgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
             const double* alpha, const double* a, const int* ia, const int* ja, const int* desca,
             const double* b, const int* ib, const int* jb, const int* descb, const double* beta,
             double* c, const int* ic, const int* jc, const int* descc);
// Serial LAPACK, for references and small replicated problems.
void dposv_(const char* uplo, const int* n, const int* nrhs, double* a, const int* lda, double* b,
            const int* ldb, int* info);
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
             double* work, const int* lwork, int* iwork, const int* liwork, int* info);
}

// PBLAS asks PILAENV for the width of the rank-k updates inside pdgemm, pdsyrk and pdtrmm; the
// library's own returns 32, which makes those updates memory-bound on this kind of machine
// (pdgemm at 2.2x the DGEMM floor even on one rank; 1.1x with 512, and pdlauum 2.2x -> 1.5x
// with the recursion below: bench/bench_factor.cpp, p = 8000, 2 ranks). PILAENV is
// ScaLAPACK's documented tuning hook ("provided to allow users to tune"), and a definition in
// the program takes precedence over the shared library's (ELF symbol interposition).
extern "C" int pilaenv_(const int* /*ictxt*/, const char* /*prec*/) { return 512; }

namespace kmpi {

namespace {

int to_int(std::size_t v) {
  if (v > 2147483647u)
    throw Error("matrix dimension " + std::to_string(v) + " exceeds ScaLAPACK's int");
  return static_cast<int>(v);
}

// ScaLAPACK's info can differ between ranks (e.g. only the owner of a pivot sees it); agree.
void agree_info(const BlacsGrid& grid, int info, const std::string& what) {
  mpi::agree(grid.comm(), info == 0,
             what + " failed with info = " + std::to_string(info) +
                 (info > 0 && (what == "pdpotrf" || what == "pspotrf")
                      ? " (matrix not positive definite; raise solver.ridge)"
                      : ""));
}

// local: runs `f` on a float32 copy of a's local tiles (same descriptor: ScaLAPACK's descriptors
// carry no type) and stores the result back, rounded values in float64.
template <class F>
void in_float32(BlockCyclicMatrix& a, F&& f) {
  const std::size_t count = a.ld() * a.local_cols();
  std::vector<float> local(count);
  std::transform(a.data(), a.data() + count, local.begin(),
                 [](double v) { return static_cast<float>(v); });
  f(local.data());
  std::copy(local.begin(), local.end(), a.data());
}

}  // namespace

std::array<int, 2> BlacsGrid::shape_for(int processes) {
  int r = static_cast<int>(std::sqrt(static_cast<double>(processes)));
  while (r > 1 && processes % r != 0) --r;
  return {std::max(r, 1), processes / std::max(r, 1)};
}

BlacsGrid::BlacsGrid(const mpi::Communicator& comm) : comm_(comm) {
  const auto shape = shape_for(comm.size());
  nprow_ = shape[0];
  npcol_ = shape[1];
  context_ = Csys2blacs_handle(comm.get());
  Cblacs_gridinit(&context_, "Row", nprow_, npcol_);
  Cblacs_gridinfo(context_, &nprow_, &npcol_, &myrow_, &mycol_);
  mpi::agree(comm, myrow_ >= 0 && mycol_ >= 0, "BLACS grid initialisation failed");
}

BlacsGrid::~BlacsGrid() {
  if (context_ >= 0) Cblacs_gridexit(context_);
}

std::size_t local_extent(std::size_t n, std::size_t nb, int iproc, int nprocs) {
  const int in = to_int(n), inb = to_int(nb), zero = 0;
  return static_cast<std::size_t>(numroc_(&in, &inb, &iproc, &zero, &nprocs));
}

template <class T>
BasicBlockCyclicMatrix<T>::BasicBlockCyclicMatrix(const BlacsGrid& grid, std::size_t m,
                                                  std::size_t n, std::size_t mb, std::size_t nb)
    : grid_(&grid),
      m_(m),
      n_(n),
      mb_(std::max<std::size_t>(1, std::min(mb, std::max<std::size_t>(m, 1)))),
      nb_(std::max<std::size_t>(1, std::min(nb, std::max<std::size_t>(n, 1)))) {
  lr_ = local_extent(m_, mb_, grid.my_row(), grid.rows());
  lc_ = local_extent(n_, nb_, grid.my_col(), grid.cols());
  ld_ = std::max<std::size_t>(1, lr_);
  const int im = to_int(m_), in = to_int(n_), imb = to_int(mb_), inb = to_int(nb_), zero = 0,
            ctx = grid.context(), ild = to_int(ld_);
  int info = 0;
  descinit_(desc_.data(), &im, &in, &imb, &inb, &zero, &zero, &ctx, &ild, &info);
  if (info != 0) throw Error("descinit failed with info = " + std::to_string(info));
  local_.assign(ld_ * lc_, T(0));
}

template <class T>
std::size_t BasicBlockCyclicMatrix<T>::global_row(std::size_t i) const {
  return ((i / mb_) * grid_->rows() + grid_->my_row()) * mb_ + i % mb_;
}
template <class T>
std::size_t BasicBlockCyclicMatrix<T>::global_col(std::size_t j) const {
  return ((j / nb_) * grid_->cols() + grid_->my_col()) * nb_ + j % nb_;
}
template <class T>
std::vector<std::size_t> BasicBlockCyclicMatrix<T>::global_rows() const {
  std::vector<std::size_t> g(lr_);
  for (std::size_t i = 0; i < lr_; ++i) g[i] = global_row(i);
  return g;
}
template <class T>
std::vector<std::size_t> BasicBlockCyclicMatrix<T>::global_cols() const {
  std::vector<std::size_t> g(lc_);
  for (std::size_t j = 0; j < lc_; ++j) g[j] = global_col(j);
  return g;
}

template <class T>
void BasicBlockCyclicMatrix<T>::fill(const std::function<double(std::size_t, std::size_t)>& f) {
  for (std::size_t j = 0; j < lc_; ++j) {
    const std::size_t gj = global_col(j);
    for (std::size_t i = 0; i < lr_; ++i) local(i, j) = static_cast<T>(f(global_row(i), gj));
  }
}

std::vector<std::size_t> partition_offsets(const BlockPartition& part) {
  std::vector<std::size_t> o(static_cast<std::size_t>(part.parts()) + 1);
  for (int r = 0; r < part.parts(); ++r) o[r + 1] = part.end(r);
  return o;
}

template <class T>
Matrix<double> BasicBlockCyclicMatrix<T>::to_row_blocks(const BlockPartition& rows,
                                                        std::size_t col_begin,
                                                        std::size_t ncols) const {
  return to_row_blocks(partition_offsets(rows), col_begin, ncols);
}

template <class T>
Matrix<double> BasicBlockCyclicMatrix<T>::to_row_blocks(const std::vector<std::size_t>& offsets,
                                                        std::size_t col_begin,
                                                        std::size_t ncols) const {
  const auto& comm = grid_->comm();
  const int P = comm.size();
  if (offsets.size() != static_cast<std::size_t>(P) + 1 || offsets.back() != m_)
    throw Error("to_row_blocks: row partition does not match the matrix");
  struct Rows {
    const std::vector<std::size_t>& o;
    int owner(std::size_t i) const {
      return static_cast<int>(std::upper_bound(o.begin(), o.end(), i) - o.begin()) - 1;
    }
    std::size_t begin(int r) const { return o[r]; }
    std::size_t count(int r) const { return o[r + 1] - o[r]; }
  } rows{offsets};
  // Pack (row-major index within the target's block, value) pairs per target rank.
  std::vector<int> send_counts(P, 0);
  std::vector<std::size_t> cols;
  for (std::size_t j = 0; j < lc_; ++j) {
    const std::size_t gj = global_col(j);
    if (gj >= col_begin && gj < col_begin + ncols) cols.push_back(j);
  }
  for (std::size_t i = 0; i < lr_; ++i)
    send_counts[rows.owner(global_row(i))] += 2 * static_cast<int>(cols.size());
  std::vector<int> send_displs(P, 0);
  for (int r = 1; r < P; ++r) send_displs[r] = send_displs[r - 1] + send_counts[r - 1];
  std::vector<double> send(static_cast<std::size_t>(send_displs[P - 1] + send_counts[P - 1]));
  std::vector<int> fill_at = send_displs;
  for (std::size_t i = 0; i < lr_; ++i) {
    const std::size_t gi = global_row(i);
    const int owner = rows.owner(gi);
    for (std::size_t j : cols) {
      const std::size_t index = (gi - rows.begin(owner)) * ncols + (global_col(j) - col_begin);
      send[fill_at[owner]++] = static_cast<double>(index);  // exact below 2^53
      send[fill_at[owner]++] = static_cast<double>(local(i, j));
    }
  }
  std::vector<int> recv_counts(P);
  {
    auto all = comm.allgather(send_counts.data(), static_cast<std::size_t>(P));
    for (int r = 0; r < P; ++r) recv_counts[r] = all[static_cast<std::size_t>(r) * P + comm.rank()];
  }
  std::vector<int> recv_displs(P, 0);
  for (int r = 1; r < P; ++r) recv_displs[r] = recv_displs[r - 1] + recv_counts[r - 1];
  std::vector<double> recv(static_cast<std::size_t>(recv_displs[P - 1] + recv_counts[P - 1]));
  comm.alltoallv(send.data(), send_counts, send_displs, recv.data(), recv_counts, recv_displs);
  Matrix<double> out(rows.count(comm.rank()), ncols);
  for (std::size_t k = 0; k + 1 < recv.size(); k += 2)
    out.data()[static_cast<std::size_t>(recv[k])] = recv[k + 1];
  return out;
}

void cholesky_factor(BlockCyclicMatrix& a, Precision precision) {
  const int n = to_int(a.rows()), one = 1;
  int info = 0;
  if (precision == Precision::kFloat32) {
    in_float32(a,
               [&](float* local) { pspotrf_("L", &n, local, &one, &one, a.descriptor(), &info); });
    agree_info(a.grid(), info, "pspotrf");
    return;
  }
  pdpotrf_("L", &n, a.data(), &one, &one, a.descriptor(), &info);
  agree_info(a.grid(), info, "pdpotrf");
}

void cholesky_factor(BlockCyclicMatrixF& a) {
  const int n = to_int(a.rows()), one = 1;
  int info = 0;
  pspotrf_("L", &n, a.data(), &one, &one, a.descriptor(), &info);
  agree_info(a.grid(), info, "pspotrf");
}

void cholesky_solve(const BlockCyclicMatrixF& factor, BlockCyclicMatrixF& b) {
  const int n = to_int(factor.rows()), nrhs = to_int(b.cols()), one = 1;
  int info = 0;
  pspotrs_("L", &n, &nrhs, factor.data(), &one, &one, factor.descriptor(), b.data(), &one, &one,
           b.descriptor(), &info);
  agree_info(factor.grid(), info, "pspotrs");
}

void cholesky_solve(const BlockCyclicMatrix& factor, BlockCyclicMatrix& b) {
  const int n = to_int(factor.rows()), nrhs = to_int(b.cols()), one = 1;
  int info = 0;
  pdpotrs_("L", &n, &nrhs, factor.data(), &one, &one, factor.descriptor(), b.data(), &one, &one,
           b.descriptor(), &info);
  agree_info(factor.grid(), info, "pdpotrs");
}

void triangular_solve(const BlockCyclicMatrix& factor, BlockCyclicMatrix& b, bool transpose) {
  if (b.rows() != factor.rows() || factor.rows() != factor.cols())
    throw Error("triangular_solve: dimensions do not match");
  const int n = to_int(factor.rows()), nrhs = to_int(b.cols()), one = 1;
  const double unit = 1.0;
  pdtrsm_("L", "L", transpose ? "T" : "N", "N", &n, &nrhs, &unit, factor.data(), &one, &one,
          factor.descriptor(), b.data(), &one, &one, b.descriptor());
}

namespace {

// The three ScaLAPACK routines of the recursive gram product, per precision.
template <class T>
struct GramRoutines;
template <>
struct GramRoutines<double> {
  static constexpr auto lauum = pdlauum_;
  static constexpr auto syrk = pdsyrk_;
  static constexpr auto trmm = pdtrmm_;
};
template <>
struct GramRoutines<float> {
  static constexpr auto lauum = pslauum_;
  static constexpr auto syrk = pssyrk_;
  static constexpr auto trmm = pstrmm_;
};

// Lower triangle of L^T L for the diagonal block [i0, i0 + n) of `a` (1-based ScaLAPACK offsets
// i0 + 1), in place. pdlauum updates a panel of nb columns at a time, which runs at about 2.3x
// the GEMM floor of its p^3 / 3 flops (bench/bench_factor.cpp, p = 6000, 2 ranks); halving
// recursively puts nearly all flops into large PBLAS calls instead (1.5x, with PILAENV above;
// pdlauum alone 1.6-2.1x):
//   L = [L11 0; L21 L22]:  C11 = L11^T L11 + L21^T L21,  C21 = L22^T L21,  C22 = L22^T L22,
// in that order, since each step reads only blocks not yet overwritten. Splits fall on block
// boundaries; blocks of at most kLeaf columns go to pdlauum.
template <class T>
int gram_recursive(T* data, const int* desc, int i0, int n, int nb) {
  constexpr int kLeaf = 1024;
  if (n <= std::max(kLeaf, nb)) {
    int info = 0;
    const int ia = i0 + 1;
    GramRoutines<T>::lauum("L", &n, data, &ia, &ia, desc, &info);
    return info;
  }
  const int n1 = std::max(nb, n / 2 / nb * nb), n2 = n - n1;
  if (const int info = gram_recursive(data, desc, i0, n1, nb)) return info;
  const T one = 1;
  const int i11 = i0 + 1, i22 = i0 + n1 + 1;
  GramRoutines<T>::syrk("L", "T", &n1, &n2, &one, data, &i22, &i11, desc, &one, data, &i11, &i11,
                        desc);
  GramRoutines<T>::trmm("L", "L", "T", "N", &n2, &n1, &one, data, &i22, &i22, desc, data, &i22,
                        &i11, desc);
  return gram_recursive(data, desc, i0 + n1, n2, nb);
}

}  // namespace

void lower_gram(BlockCyclicMatrix& a, Precision precision) {
  const int n = to_int(a.rows()), nb = a.descriptor()[5];
  int info = 0;
  if (precision == Precision::kFloat32) {
    in_float32(a, [&](float* local) { info = gram_recursive(local, a.descriptor(), 0, n, nb); });
    agree_info(a.grid(), info, "pslauum");
    return;
  }
  info = gram_recursive(a.data(), a.descriptor(), 0, n, nb);
  agree_info(a.grid(), info, "pdlauum");
}

void multiply(bool transpose_a, bool transpose_b, double alpha, const BlockCyclicMatrix& a,
              const BlockCyclicMatrix& b, double beta, BlockCyclicMatrix& c) {
  const std::size_t m = transpose_a ? a.cols() : a.rows(), k = transpose_a ? a.rows() : a.cols();
  const std::size_t kb = transpose_b ? b.cols() : b.rows(), n = transpose_b ? b.rows() : b.cols();
  if (k != kb || c.rows() != m || c.cols() != n) throw Error("multiply: dimensions do not match");
  const int im = to_int(m), in = to_int(n), ik = to_int(k), one = 1;
  pdgemm_(transpose_a ? "T" : "N", transpose_b ? "T" : "N", &im, &in, &ik, &alpha, a.data(), &one,
          &one, a.descriptor(), b.data(), &one, &one, b.descriptor(), &beta, c.data(), &one, &one,
          c.descriptor());
}

template <class T>
Matrix<double> BasicBlockCyclicMatrix<T>::replicate() const {
  // Every entry lives on exactly one process: zeros elsewhere, then one sum.
  Matrix<double> out(m_, n_);
  for (std::size_t j = 0; j < lc_; ++j) {
    const std::size_t gj = global_col(j);
    for (std::size_t i = 0; i < lr_; ++i) out(global_row(i), gj) = static_cast<double>(local(i, j));
  }
  grid_->comm().allreduce(out.data(), out.size());
  return out;
}

template class BasicBlockCyclicMatrix<double>;
template class BasicBlockCyclicMatrix<float>;

TopEigenpairs top_eigenpairs(BlockCyclicMatrix& a, std::size_t k) {
  const std::size_t n = a.rows();
  if (k == 0 || k > n)
    throw Error("top_eigenpairs: k = " + std::to_string(k) +
                " out of range for n = " + std::to_string(n));
  TopEigenpairs result{
      {}, BlockCyclicMatrix(a.grid(), n, n, a.descriptor()[4], a.descriptor()[5]), 0};
  BlockCyclicMatrix& z = result.vectors;
  std::vector<double> w(n);
  const int in = to_int(n), one = 1;
  int info = 0;
  // Workspace queries write several entries of WORK/IWORK: arrays, never a single scalar.
  double wq[64] = {0};
  int iwq[64] = {0};
  const int query = -1;
  // pdsyevd computes all pairs; pdsyevr (range by index) was measured here too but Debian's
  // ScaLAPACK 2.2.1 returns wrong eigenvectors with info = 0 from it for common block sizes
  // (PDORMTR "parameter number 16 had an illegal value", e.g. n = 150, nb = 16..64, k = 3), so
  // it is not offered.
  // Reference ScaLAPACK's workspace queries can come out short of what PDORMTR (the back
  // transformation) needs on 2D grids (seen: "PDORMTR parameter number 16 had an illegal value"
  // and wrong eigenvectors with info = 0 on a 2x2 grid, nb = 64). Add the documented minimum of
  // pdsyevd (1 + 6n + 2 NP NQ + TRILWMIN + 2n) and PDORMTR's (NB (NP + NQ + NB)) on top.
  // Sizes of the process that holds the most (process 0 of each grid dimension), the same on every
  // rank: PDORMTR checks LWORK against them everywhere (seen failing on a 2 x 2 grid with
  // n = nb = 64, where three processes hold nothing).
  const std::size_t nb = static_cast<std::size_t>(a.descriptor()[5]);
  const double lr = static_cast<double>(local_extent(n, nb, 0, a.grid().rows()));
  const double lc = static_cast<double>(local_extent(n, nb, 0, a.grid().cols()));
  const double nbd = static_cast<double>(nb), nd = static_cast<double>(n);
  const double extra =
      1 + 6 * nd + 2 * lr * lc + 3 * nd + nbd * (lr + 1) + 3 * nbd + 2 * nd + nbd * (lr + lc + nbd);
  auto work_size = [&](double queried) {
    const double total = queried + extra;
    if (total > 2.0e9) throw Error("eigensolver workspace exceeds ScaLAPACK's int; use more ranks");
    return static_cast<int>(total);
  };
  {
    pdsyevd_("V", "L", &in, a.data(), &one, &one, a.descriptor(), w.data(), z.data(), &one, &one,
             z.descriptor(), wq, &query, iwq, &query, &info);
    agree_info(a.grid(), info, "pdsyevd workspace query");
    const int lwork = work_size(wq[0]),
              liwork = std::max(iwq[0], 7 * in + 8 * a.grid().cols() + 2) + 1;
    std::vector<double> work(static_cast<std::size_t>(lwork));
    std::vector<int> iwork(static_cast<std::size_t>(liwork));
    pdsyevd_("V", "L", &in, a.data(), &one, &one, a.descriptor(), w.data(), z.data(), &one, &one,
             z.descriptor(), work.data(), &lwork, iwork.data(), &liwork, &info);
    agree_info(a.grid(), info, "pdsyevd");
    result.first_column = n - k;
    for (std::size_t i = 0; i < k; ++i) result.values.push_back(w[n - 1 - i]);
  }
  // pdsyevd's W is "replicated", but processes can differ in the last bits (seen: a critical
  // batch of 33.1 on one rank and 32.99 on the other, so the ranks chose different batch sizes
  // and the next allgatherv failed). Everything derived from the eigenvalues must be identical
  // on every rank: take rank 0's.
  a.grid().comm().broadcast(result.values.data(), result.values.size(), 0);
  return result;
}

Matrix<double> TopEigenpairs::rows_descending(const std::vector<std::size_t>& offsets) const {
  const std::size_t k = values.size();
  Matrix<double> ascending = vectors.to_row_blocks(offsets, first_column, k);
  Matrix<double> out(ascending.rows(), k);
  for (std::size_t i = 0; i < out.rows(); ++i)
    for (std::size_t j = 0; j < k; ++j) out(i, j) = ascending(i, k - 1 - j);
  return out;
}

}  // namespace kmpi

namespace kmpi::serial {

Matrix<double> solve_spd(Matrix<double> a, Matrix<double> b) {
  // Row-major symmetric A is its own column-major transpose; B is transposed to column-major.
  const int n = static_cast<int>(a.rows()), c = static_cast<int>(b.cols());
  std::vector<double> bc(static_cast<std::size_t>(n) * c);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < c; ++j) bc[i + static_cast<std::size_t>(j) * n] = b(i, j);
  int info = 0;
  dposv_("L", &n, &c, a.data(), &n, bc.data(), &n, &info);
  if (info != 0) throw Error("dposv failed with info = " + std::to_string(info));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < c; ++j) b(i, j) = bc[i + static_cast<std::size_t>(j) * n];
  return b;
}

Eigensystem symmetric_eigen(Matrix<double> a) {
  const int n = static_cast<int>(a.rows());
  std::vector<double> w(n);
  double wq[64] = {0};
  int iwq[64] = {0};
  const int query = -1;
  int info = 0;
  dsyevd_("V", "L", &n, a.data(), &n, w.data(), wq, &query, iwq, &query, &info);
  const int lwork = static_cast<int>(wq[0]) + 1, liwork = iwq[0] + 1;
  std::vector<double> work(lwork);
  std::vector<int> iwork(liwork);
  dsyevd_("V", "L", &n, a.data(), &n, w.data(), work.data(), &lwork, iwork.data(), &liwork, &info);
  if (info != 0) throw Error("dsyevd failed with info = " + std::to_string(info));
  // Column-major eigenvectors in ascending order: column k of the result is a[k*n ...].
  Eigensystem e{std::vector<double>(n), Matrix<double>(n, n)};
  for (int k = 0; k < n; ++k) {
    const int src = n - 1 - k;
    e.values[k] = w[src];
    for (int i = 0; i < n; ++i) e.vectors(i, k) = a.data()[i + static_cast<std::size_t>(src) * n];
  }
  return e;
}

}  // namespace kmpi::serial
