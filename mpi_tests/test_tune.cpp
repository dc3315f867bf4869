// kmpi tune's shared EigenPro 2 (train_eigenpro2_group) and automatic grid, across ranks: each
// model of a group run equals the model trained alone, bit for bit; a resumed group equals the
// uninterrupted one; the median distance equals a serial computation.
#include <gtest/gtest.h>

#include <cstring>

#include "base/permutation.hpp"
#include "common.hpp"
#include "search/tune.hpp"
#include "solvers/grid_solvers.hpp"

namespace kmpi {
namespace {

using namespace testing_support;

std::vector<Kernel> tune_kernels() {
  return {Kernel::from_name("gaussian", 0.6), Kernel::from_name("gaussian", 1.0),
          Kernel::from_name("gaussian", 2.0), Kernel::from_name("laplacian", 1.5)};
}

EigenPro2Options group_options(Precision precision) {
  EigenPro2Options o;
  o.nystrom_samples = 120;
  o.epochs = 2;
  o.seed = 5;
  o.precision = precision;
  o.preconditioner_level = 3;  // a small q: the automatic batch sizes differ between kernels
  return o;
}

bool bit_identical(const Matrix<double>& a, const Matrix<double>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// Sharing changes nothing: model g of the group is train_eigenpro2 alone with kernel g and the
// group's batch size, bit for bit (the same tiles, passes and sums), in both precisions and at
// every rank count (each group size of the world runs its own comparison).
TEST(TuneGroup, EveryModelEqualsItsRunAloneBitForBit) {
  auto world = mpi::Communicator::world();
  const std::vector<Kernel> kernels = tune_kernels();
  for (int g : rank_group_sizes(world.size())) {
    auto comm = world.split(world.rank() / g, world.rank());
    for (Precision precision : {Precision::kFloat32, Precision::kFloat64}) {
      TrainingProblem p = synthetic_problem(comm, 500, 5, kernels[0], 61);
      const EigenPro2Options o = group_options(precision);
      std::vector<std::size_t> epochs_seen(kernels.size(), 0);
      const EigenPro2GroupResult group =
          train_eigenpro2_group(comm, p, kernels, o,
                                [&](const std::vector<std::size_t>& models,
                                    const std::vector<EpochState>&, std::vector<char>&) {
                                  for (std::size_t k : models) ++epochs_seen[k];
                                });
      ASSERT_EQ(group.models.size(), kernels.size());
      // The automatic batch sizes differ across these kernels; the group takes the smallest, and
      // each model's step is derived for it.
      std::vector<std::size_t> automatic;
      for (const Kernel& k : kernels) {
        p.kernel = k;
        automatic.push_back(train_eigenpro2(comm, p, o).parameters.batch_size);
      }
      EXPECT_EQ(group.batch_size, *std::min_element(automatic.begin(), automatic.end()));
      EXPECT_NE(*std::min_element(automatic.begin(), automatic.end()),
                *std::max_element(automatic.begin(), automatic.end()));
      for (std::size_t k = 0; k < kernels.size(); ++k) {
        EXPECT_EQ(epochs_seen[k], o.epochs);
        EXPECT_EQ(group.status[k], ModelStatus::kActive);
        p.kernel = kernels[k];
        EigenPro2Options alone = o;
        alone.batch_size = group.batch_size;
        const EigenPro2Result r = train_eigenpro2(comm, p, alone);
        EXPECT_EQ(r.parameters.batch_size, group.batch_size);
        EXPECT_EQ(r.parameters.q, group.models[k].parameters.q);
        EXPECT_EQ(r.parameters.step_size, group.models[k].parameters.step_size);
        EXPECT_TRUE(bit_identical(r.alpha, group.models[k].alpha))
            << "kernel " << k << " group size " << g << " max diff "
            << max_abs_diff(r.alpha, group.models[k].alpha);
      }
    }
  }
}

// A model stopped early (its epoch callback said so) stays as it was while the others go on,
// and a group stopped at a step boundary and resumed from that state ends where the
// uninterrupted group does, bit for bit.
TEST(TuneGroup, EarlyStopAndResumeKeepEveryModelExact) {
  auto comm = mpi::Communicator::world();
  const std::vector<Kernel> kernels = tune_kernels();
  TrainingProblem p = synthetic_problem(comm, 400, 4, kernels[0], 62);
  EigenPro2Options o = group_options(Precision::kFloat64);
  o.epochs = 3;
  o.batch_size = 64;  // several steps per epoch, to stop inside one
  // Model 1 stops after epoch 1: its weights are then those of a 1-epoch run alone.
  const auto stop_model_1 = [](const std::vector<std::size_t>& models,
                               const std::vector<EpochState>& states, std::vector<char>& keep) {
    for (std::size_t i = 0; i < models.size(); ++i)
      if (models[i] == 1 && states[i].epoch == 1) keep[i] = 0;
  };
  const EigenPro2GroupResult full = train_eigenpro2_group(comm, p, kernels, o, stop_model_1);
  EXPECT_EQ(full.status[1], ModelStatus::kStopped);
  EXPECT_EQ(full.models[1].epochs_run, 1u);
  EXPECT_EQ(full.models[0].epochs_run, 3u);
  {
    p.kernel = kernels[1];
    EigenPro2Options one = o;
    one.epochs = 1;
    one.batch_size = full.batch_size;
    EXPECT_TRUE(bit_identical(train_eigenpro2(comm, p, one).alpha, full.models[1].alpha));
  }
  // Interrupt in epoch 2 after its first step (of several), keeping the state as a checkpoint
  // would.
  std::vector<Matrix<double>> saved;
  EigenPro2GroupStep at;
  EigenPro2GroupControl stop;
  stop.after_step = [&](const EigenPro2GroupStep& st) {
    if (st.epoch == 2 && st.step == 1) {
      at = st;
      for (const Matrix<double>* a : st.alphas) saved.push_back(*a);
      return false;
    }
    return true;
  };
  const EigenPro2GroupResult cut = train_eigenpro2_group(comm, p, kernels, o, stop_model_1, stop);
  ASSERT_TRUE(cut.interrupted);
  EXPECT_GT(at.steps_per_epoch, 1u);
  ASSERT_EQ(saved.size(), kernels.size());
  EigenPro2GroupControl resume;
  resume.start_epoch = at.epoch - 1;
  resume.start_step = at.step;
  resume.start_loss_sums = at.loss_sums;
  resume.start_status = at.status;
  for (const Matrix<double>& a : saved) resume.start_alphas.push_back(&a);
  const EigenPro2GroupResult resumed =
      train_eigenpro2_group(comm, p, kernels, o, stop_model_1, resume);
  for (std::size_t k = 0; k < kernels.size(); ++k) {
    EXPECT_EQ(resumed.status[k], full.status[k]) << "kernel " << k;
    EXPECT_TRUE(bit_identical(resumed.models[k].alpha, full.models[k].alpha)) << "kernel " << k;
  }
}

// The automatic grid's median: the same sampled rows at every rank count, and the median of
// their pairwise distances as computed here, serially, from all the rows.
// Rows of small integers give many equal distances (ties around the median); an even and an
// odd number of pairs.
class MedianDistance : public testing::TestWithParam<int> {};

TEST_P(MedianDistance, MatchesSerialComputationBitForBit) {
  auto world = mpi::Communicator::world();
  const bool ties = GetParam() == 1;
  const std::size_t n = 300, d = 7, samples = ties ? 40 : 41;
  Matrix<double> all = synthetic_rows(63, 0, n, d);
  if (ties)
    for (std::size_t i = 0; i < all.size(); ++i) all.data()[i] = std::round(2 * all.data()[i]);
  std::vector<std::size_t> picks = random_subset(n, samples, 11, RngStream::kTune);
  std::vector<double> dist;
  for (std::size_t a = 0; a < picks.size(); ++a)
    for (std::size_t b = 0; b < a; ++b) {
      double s = 0;
      for (std::size_t j = 0; j < d; ++j) {
        const double t = all(picks[a], j) - all(picks[b], j);
        s += t * t;
      }
      dist.push_back(std::sqrt(s));
    }
  std::sort(dist.begin(), dist.end());
  const double expected = dist[dist.size() / 2];
  for (int g : rank_group_sizes(world.size())) {
    auto comm = world.split(world.rank() / g, world.rank());
    const BlockPartition part(n, comm.size());
    const Matrix<double> mine = my_rows(all, part, comm.rank());
    const double median = median_pairwise_distance(comm, part, mine, samples, 11);
    // Each distance is the same sum of the same squares in the same order: equal bits.
    EXPECT_EQ(median, expected) << "group " << g;
  }
}

INSTANTIATE_TEST_SUITE_P(TuneGrid, MedianDistance, testing::Values(0, 1));

TEST(TuneGrid, AutoBandwidthsSpanAQuarterOfTheMedianToIt) {
  const std::vector<double> grid = auto_bandwidths(8.0, 5);
  ASSERT_EQ(grid.size(), 5u);
  EXPECT_DOUBLE_EQ(grid.front(), 2.0);
  EXPECT_DOUBLE_EQ(grid[2], 4.0);
  EXPECT_DOUBLE_EQ(grid.back(), 8.0);
}

}  // namespace
}  // namespace kmpi
