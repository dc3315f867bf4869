// Helpers shared by the MPI tests: data defined point by point from the global row index, so
// every rank can build its own rows and the serial reference can build all of them; serial
// references and the comparisons against them; scratch directories shared by the ranks. The
// file-writing and error helpers of the unit tests (../tests/support.hpp) come with it.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "../tests/support.hpp"
#include "kmpi/error.hpp"
#include "kmpi/matrix.hpp"
#include "kmpi/model.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/partition.hpp"
#include "base/rng.hpp"
#include "solvers/solvers.hpp"

namespace kmpi::testing_support {

// local: a uniform value in [0, 1) that depends only on (seed, i, j).
inline double uniform01(std::uint64_t seed, std::size_t i, std::size_t j) {
  return static_cast<double>(counter_random(seed, RngStream::kGenerator, i, j) >> 11) * 0x1.0p-53;
}

// local: rows [begin, begin + count) of a synthetic data set (n x d uniform in [0, 1)).
inline Matrix<double> synthetic_rows(std::uint64_t seed, std::size_t begin, std::size_t count,
                                     std::size_t d) {
  Matrix<double> x(count, d);
  for (std::size_t i = 0; i < count; ++i)
    for (std::size_t j = 0; j < d; ++j) x(i, j) = uniform01(seed, begin + i, j);
  return x;
}

// local: rows [begin, begin + count) of a matrix given by f(global_row, col).
template <class F>
Matrix<double> rows_of(std::size_t begin, std::size_t count, std::size_t cols, F&& f) {
  Matrix<double> m(count, cols);
  for (std::size_t i = 0; i < count; ++i)
    for (std::size_t j = 0; j < cols; ++j) m(i, j) = f(begin + i, j);
  return m;
}

// local: largest |a_ij|.
inline double max_abs(const Matrix<double>& a) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a.data()[i]));
  return m;
}

// local: largest |a - b| over all entries (and a failure if the shapes differ).
inline double max_abs_diff(const Matrix<double>& a, const Matrix<double>& b) {
  EXPECT_EQ(a.rows(), b.rows());
  EXPECT_EQ(a.cols(), b.cols());
  double m = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
  return m;
}

// local: the rows of the replicated matrix `all` that `rank` owns under `part`.
inline Matrix<double> my_rows(const Matrix<double>& all, const BlockPartition& part, int rank) {
  return rows_of(part.begin(rank), part.count(rank), all.cols(),
                 [&](std::size_t i, std::size_t l) { return all(i, l); });
}

// collective: every rank's block of rows under `part`, in order, on every rank.
inline Matrix<double> gather_rows(const mpi::Communicator& comm, const BlockPartition& part,
                                  const Matrix<double>& local) {
  Matrix<double> all(part.size(), local.cols());
  comm.allgatherv(local.data(), all.data(), part.counts(local.cols()),
                  part.displacements(local.cols()));
  return all;
}

// collective: largest |a_ij| over every rank's rows.
inline double global_max_abs(const mpi::Communicator& comm, const Matrix<double>& a) {
  return comm.allreduce_value(max_abs(a), mpi::Op::kMax);
}

// collective: largest |a - b| over every rank's rows.
inline double global_max_diff(const mpi::Communicator& comm, const Matrix<double>& a,
                              const Matrix<double>& b) {
  return comm.allreduce_value(max_abs_diff(a, b), mpi::Op::kMax);
}

// local: the targets of the synthetic regression problem for row i of x: a smooth function of
// x (l = 0) and a step (l = 1), so c = 2 outputs of different character.
inline double smooth_target(const Matrix<double>& x, std::size_t i, std::size_t l) {
  double s = 0;
  for (std::size_t j = 0; j < x.cols(); ++j) s += x(i, j) * (j + 1);
  return l == 0 ? std::sin(s) : (x(i, 0) > 0.5 ? 1.0 : 0.0);
}

// local: smooth_target for every row of x (rows x 2).
inline Matrix<double> smooth_targets(const Matrix<double>& x) {
  Matrix<double> y(x.rows(), 2);
  for (std::size_t i = 0; i < x.rows(); ++i)
    for (std::size_t l = 0; l < 2; ++l) y(i, l) = smooth_target(x, i, l);
  return y;
}

// local: this rank's block of the synthetic regression problem of n rows in d dimensions:
// x = synthetic_rows(seed, ...), y = smooth_targets(x), BlockPartition(n, P).
inline TrainingProblem synthetic_problem(const mpi::Communicator& comm, std::size_t n,
                                         std::size_t d, const Kernel& kernel,
                                         std::uint64_t seed) {
  TrainingProblem p;
  p.kernel = kernel;
  p.partition = BlockPartition(n, comm.size());
  p.x = synthetic_rows(seed, p.partition.begin(comm.rank()), p.partition.count(comm.rank()), d);
  p.y = smooth_targets(p.x);
  return p;
}

// local: the group sizes of the rank-invariance tests: 1, 2 (when P is even) and P (when P > 2).
// Every rank takes part in every run, in its own group of world.split(rank / g).
inline std::vector<int> rank_group_sizes(int world_size) {
  std::vector<int> groups = {1};
  if (world_size >= 2 && world_size % 2 == 0) groups.push_back(2);
  if (world_size > 2) groups.push_back(world_size);
  return groups;
}

// collective over `world`: runs train(comm) (a FalkonResult or an EigenPro4Result) in groups of
// every size of rank_group_sizes and expects each group's center indices and centers to equal
// those of the one-rank group, and its predictions on the queries q to agree with that group's
// to rel_tol of their largest value.
template <class Train>
void expect_same_model_in_every_group(const mpi::Communicator& world, const Kernel& kernel,
                                      const Matrix<double>& q, double rel_tol, Train&& train) {
  const std::vector<int> groups = rank_group_sizes(world.size());
  std::vector<Matrix<double>> predictions, centers;
  std::vector<std::vector<std::size_t>> indices;
  for (int g : groups) {
    auto comm = world.split(world.rank() / g, world.rank());
    const auto r = train(comm);
    const LocalCenters z(r.centers, Precision::kFloat64);
    predictions.push_back(kernel_times(comm, kernel, q, z, r.alpha));
    centers.push_back(gather_rows(comm, r.center_partition, r.centers));
    indices.push_back(r.center_indices);
  }
  for (std::size_t k = 1; k < groups.size(); ++k) {
    EXPECT_EQ(indices[k], indices[0]) << "group " << groups[k];
    EXPECT_EQ(max_abs_diff(centers[k], centers[0]), 0.0) << "group " << groups[k];
    EXPECT_LT(max_abs_diff(predictions[k], predictions[0]), rel_tol * max_abs(predictions[0]))
        << "group " << groups[k];
  }
}

// The normal equations of the serial least squares problem argmin ||K alpha - Y||.
struct NormalEquations {
  Matrix<double> h;    // K^T K
  Matrix<double> rhs;  // K^T Y
};

// local: K^T K and K^T Y, summed in row order (the serial reference of the solvers' tests).
inline NormalEquations normal_equations(const Matrix<double>& k, const Matrix<double>& y) {
  const std::size_t n = k.rows(), p = k.cols(), c = y.cols();
  NormalEquations e{Matrix<double>(p, p), Matrix<double>(p, c)};
  for (std::size_t a = 0; a < p; ++a) {
    for (std::size_t b = 0; b < p; ++b) {
      double v = 0;
      for (std::size_t i = 0; i < n; ++i) v += k(i, a) * k(i, b);
      e.h(a, b) = v;
    }
    for (std::size_t l = 0; l < c; ++l) {
      double v = 0;
      for (std::size_t i = 0; i < n; ++i) v += k(i, a) * y(i, l);
      e.rhs(a, l) = v;
    }
  }
  return e;
}

// Falkon's serial problem on all n rows x: K_nZ (n x p), K_ZZ and Y = smooth_targets(x), for
// the centers Z = the rows `centers` of x.
struct SerialProblem {
  Matrix<double> x, z, knz, kzz, y;
};
inline SerialProblem serial_falkon_problem(const Matrix<double>& x, const Kernel& kernel,
                                           const std::vector<std::size_t>& centers) {
  SerialProblem s;
  s.x = x;
  s.z = select_rows(s.x, centers);
  s.knz = kernel_block(kernel, s.x, s.z);
  s.kzz = kernel_block(kernel, s.z, s.z);
  s.y = smooth_targets(s.x);
  return s;
}

// local: falkon's normal equations K_nZ^T K_nZ + shift K_ZZ and K_nZ^T Y (shift = lambda n).
inline NormalEquations ridge_normal_equations(const SerialProblem& s, double shift) {
  NormalEquations e = normal_equations(s.knz, s.y);
  for (std::size_t a = 0; a < e.h.rows(); ++a)
    for (std::size_t b = 0; b < e.h.cols(); ++b) e.h(a, b) = e.h(a, b) + shift * s.kzz(a, b);
  return e;
}

// A scratch directory shared by all ranks of `comm` (one machine), named after the running
// test: made by rank 0, which broadcasts its name; removed by rank 0 once every rank is done.
// Construction and destruction are collective.
class SharedDir {
 public:
  explicit SharedDir(const mpi::Communicator& comm) : comm_(comm) {
    std::string name;
    if (comm.rank() == 0) {
      name = test_scratch_path("kmpi_mpi_").string();
      std::filesystem::remove_all(name);
      std::filesystem::create_directories(name);
    }
    dir_ = comm.broadcast(name, 0);
    comm.barrier();
  }
  ~SharedDir() {
    comm_.barrier();
    if (comm_.rank() == 0) std::filesystem::remove_all(dir_);
  }
  SharedDir(const SharedDir&) = delete;
  SharedDir& operator=(const SharedDir&) = delete;

  // local: the directory itself, and the path of `name` in it.
  const std::string& str() const { return dir_; }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  // local: the names in the directory, sorted.
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  const mpi::Communicator& comm_;
  std::string dir_;
};

// local: the message of the CollectiveError f() throws, or "". A plain Error would mean one rank
// threw alone, which in a real run is a hang; it is reported as a failure.
template <class F>
std::string collective_error_of(F&& f) {
  try {
    f();
  } catch (const CollectiveError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a CollectiveError: " << e.what();
  }
  return "";
}

// local: this rank's parts of two models are the same bit for bit (shapes, scaling, metric,
// centers, weights), and the weights are not all zero (a model that learned nothing would pass
// alike).
inline void expect_identical_models(const LocalModel& a, const LocalModel& b) {
  ASSERT_EQ(a.header.centers, b.header.centers);
  ASSERT_EQ(a.header.outputs, b.header.outputs);
  ASSERT_EQ(a.centers.rows(), b.centers.rows());
  ASSERT_EQ(a.weights.rows(), b.weights.rows());
  ASSERT_EQ(a.weights.cols(), b.weights.cols());
  EXPECT_EQ(a.header.scaling.offset, b.header.scaling.offset);
  EXPECT_EQ(a.header.scaling.multiplier, b.header.scaling.multiplier);
  EXPECT_EQ(a.header.metric.kind, b.header.metric.kind);
  ASSERT_EQ(a.header.metric.root.size(), b.header.metric.root.size());
  if (!a.header.metric.root.empty()) {
    EXPECT_EQ(0, std::memcmp(a.header.metric.root.data(), b.header.metric.root.data(),
                             8 * a.header.metric.root.size()));
  }
  EXPECT_EQ(0, std::memcmp(a.centers.data(), b.centers.data(), 8 * a.centers.size()));
  EXPECT_EQ(0, std::memcmp(a.weights.data(), b.weights.data(), 8 * a.weights.size()));
  EXPECT_GT(max_abs(a.weights), 0.0);
}

}  // namespace kmpi::testing_support
