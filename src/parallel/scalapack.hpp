// Distributed dense matrices in ScaLAPACK's 2D block-cyclic layout (the vocabulary of Elemental):
// a BLACS process grid, a block-cyclic matrix that owns its local tiles, and the few drivers the
// solvers need. src/parallel/scalapack.cpp is the one place that declares the Fortran/C symbols.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <vector>

#include "kmpi/matrix.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/partition.hpp"

namespace kmpi {

// A near-square nprow x npcol BLACS grid over all ranks of a communicator (row-major order).
class BlacsGrid {
 public:
  // collective
  explicit BlacsGrid(const mpi::Communicator& comm);
  ~BlacsGrid();
  BlacsGrid(const BlacsGrid&) = delete;
  BlacsGrid& operator=(const BlacsGrid&) = delete;

  int context() const { return context_; }
  int rows() const { return nprow_; }
  int cols() const { return npcol_; }
  int my_row() const { return myrow_; }
  int my_col() const { return mycol_; }
  const mpi::Communicator& comm() const { return comm_; }

  // local: the grid shape used for P processes: nprow = largest divisor of P <= sqrt(P).
  static std::array<int, 2> shape_for(int processes);

 private:
  const mpi::Communicator& comm_;
  int context_ = -1, nprow_ = 1, npcol_ = 1, myrow_ = 0, mycol_ = 0;
};

// local: the P + 1 offsets of a BlockPartition.
std::vector<std::size_t> partition_offsets(const BlockPartition& part);

// Size of the local piece of a dimension of n split in blocks of nb over nprocs processes
// (ScaLAPACK's NUMROC, source process 0). local.
std::size_t local_extent(std::size_t n, std::size_t nb, int iproc, int nprocs);

// A global m x n matrix of T (double or float), block-cyclic with mb x nb blocks; this rank
// holds its local tiles column-major with leading dimension ld() (ScaLAPACK's convention).
// ScaLAPACK's descriptors carry no type: a float and a double matrix of the same shape share one.
template <class T>
class BasicBlockCyclicMatrix {
 public:
  BasicBlockCyclicMatrix(const BlacsGrid& grid, std::size_t m, std::size_t n, std::size_t mb = 64,
                         std::size_t nb = 64);

  const BlacsGrid& grid() const { return *grid_; }
  std::size_t rows() const { return m_; }
  std::size_t cols() const { return n_; }
  std::size_t local_rows() const { return lr_; }
  std::size_t local_cols() const { return lc_; }
  std::size_t ld() const { return ld_; }
  const int* descriptor() const { return desc_.data(); }
  T* data() { return local_.data(); }
  const T* data() const { return local_.data(); }
  T& local(std::size_t i, std::size_t j) { return local_[i + j * ld_]; }
  T local(std::size_t i, std::size_t j) const { return local_[i + j * ld_]; }

  // local: global index of local row i / local column j.
  std::size_t global_row(std::size_t i) const;
  std::size_t global_col(std::size_t j) const;
  std::vector<std::size_t> global_rows() const;
  std::vector<std::size_t> global_cols() const;

  // local: sets every local entry to f(global_row, global_col).
  void fill(const std::function<double(std::size_t, std::size_t)>& f);

  // collective: rank r receives rows [offsets[r], offsets[r+1]) of the columns
  // [col_begin, col_begin + ncols), as a row-major float64 matrix. `offsets` (P + 1 ascending
  // values from 0 to rows()) is any contiguous row partition over the communicator. One
  // all-to-all; no rank ever holds more than its own piece.
  Matrix<double> to_row_blocks(const std::vector<std::size_t>& offsets, std::size_t col_begin,
                               std::size_t ncols) const;
  Matrix<double> to_row_blocks(const BlockPartition& rows, std::size_t col_begin,
                               std::size_t ncols) const;

  // collective: the whole matrix on every rank as float64 (one allreduce of m x n values); only
  // for thin matrices such as the p x c right-hand sides of a solver, never for p x p ones.
  Matrix<double> replicate() const;

 private:
  const BlacsGrid* grid_;
  std::size_t m_, n_, mb_, nb_, lr_, lc_, ld_;
  std::array<int, 9> desc_{};
  std::vector<T> local_;
};

using BlockCyclicMatrix = BasicBlockCyclicMatrix<double>;
// A float32 factor: half the memory per rank of a float64 one (eigenpro4's exact projection at
// solver.factor_precision = float32).
using BlockCyclicMatrixF = BasicBlockCyclicMatrix<float>;

// Every driver below is collective over the grid and agrees on ScaLAPACK's info: a failure
// (e.g. a matrix that is not positive definite) becomes the same CollectiveError on all ranks.

// A = L L^T in place (lower triangle), pdpotrf; with kFloat32, pspotrf on a float32 copy (half
// the time at the machine's SGEMM rate), the factor's entries rounded to float32 and stored
// back as float64.
void cholesky_factor(BlockCyclicMatrix& a, Precision precision = Precision::kFloat64);
// A = L L^T in place in float32, pspotrf.
void cholesky_factor(BlockCyclicMatrixF& a);
// B <- A^{-1} B given the factor from cholesky_factor, pdpotrs (pspotrs for float32).
void cholesky_solve(const BlockCyclicMatrix& factor, BlockCyclicMatrix& b);
void cholesky_solve(const BlockCyclicMatrixF& factor, BlockCyclicMatrixF& b);
// B <- L^{-1} B (transpose = false) or L^{-T} B (transpose = true) for the lower triangle L of
// `factor` (e.g. from cholesky_factor; the upper triangle is not referenced), pdtrsm. B's row
// blocking must match the factor's.
void triangular_solve(const BlockCyclicMatrix& factor, BlockCyclicMatrix& b, bool transpose);
// Lower triangle of A <- L^T L for the lower triangle L of A (upper triangle untouched), pdlauum:
// a third of the flops of a general product. kFloat32: pslauum on a float32 copy, as above.
void lower_gram(BlockCyclicMatrix& a, Precision precision = Precision::kFloat64);
// C <- alpha op(A) op(B) + beta C, pdgemm.
void multiply(bool transpose_a, bool transpose_b, double alpha, const BlockCyclicMatrix& a,
              const BlockCyclicMatrix& b, double beta, BlockCyclicMatrix& c);

// The top k eigenpairs of the symmetric matrix A (A is overwritten): values in descending order
// (replicated); the eigenvectors are columns [first_column, first_column + k) of the n x n
// distributed `vectors`, in ascending order of eigenvalue (ScaLAPACK's order). pdsyevd.
struct TopEigenpairs {
  std::vector<double> values;
  BlockCyclicMatrix vectors;
  std::size_t first_column = 0;
  // collective: this rank's rows of `rows` of the k eigenvectors, row-major, column i belonging
  // to values[i] (descending).
  Matrix<double> rows_descending(const std::vector<std::size_t>& offsets) const;
};
TopEigenpairs top_eigenpairs(BlockCyclicMatrix& a, std::size_t k);

}  // namespace kmpi

namespace kmpi::serial {

// Serial LAPACK references (tests, small replicated problems). local.
// Solves A X = B for symmetric positive definite A (n x n) and B (n x c), dposv.
Matrix<double> solve_spd(Matrix<double> a, Matrix<double> b);
// All eigenvalues (descending) and eigenvectors (columns, same order) of symmetric A, dsyevd.
struct Eigensystem {
  std::vector<double> values;
  Matrix<double> vectors;  // n x n, column i belongs to values[i]
};
Eigensystem symmetric_eigen(Matrix<double> a);

}  // namespace kmpi::serial
