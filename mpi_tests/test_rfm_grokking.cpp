// RFM groks modular arithmetic (DESIGN §1.5, rfm.agop_power and rfm.center_gradients): (a + b)
// mod 31, each pair's row the one-hot codes of a and b concatenated (d = 62), 31 classes. A seeded
// shuffle of the 961 pairs gives 60% for training, 10% for validation (RFM's iteration
// selection), 30% for the test. Gaussian kernel, bandwidth 2.5, direct solve with a tiny ridge:
// the plain kernel is near 0 test accuracy (its control below: the test can fail), and RFM with
// M = (centred AGOP)^(1/2) reaches (nearly) all of them.
//
// Measured at 1, 2 and 4 ranks (the same at each): the plain kernel 0.0 test accuracy; RFM's
// validation accuracy 0 up to iteration 8, then 0.06, 0.54, 0.77, 0.89, 0.94, 0.99 and 1.0 from
// iteration 16 (selected), test accuracy 1.0. About 5 s at 1-2 ranks on a loaded 2-core machine.
//
// Why 60% and not the paper's 50%: in a numpy model of this loop (other split), p = 31 with half
// the pairs climbs slowly, 0.77 test accuracy after 25 iterations and 0.89 after 45, while with
// 60% it is at 1.0 by iteration 20; p = 61 with half the pairs reaches 0.999 in about 20
// (bench/modular_arithmetic.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "common.hpp"
#include "kmpi/train.hpp"

namespace kmpi {
namespace {

constexpr std::size_t kP = 31;

// Rows [begin, end) of `order` (pair indices a p + b) as this communicator's block of LocalData.
LocalData pair_rows(const mpi::Communicator& comm, const std::vector<std::size_t>& order,
                    std::size_t begin, std::size_t end) {
  LocalData data;
  data.partition = BlockPartition(end - begin, comm.size());
  data.dimension = 2 * kP;
  data.target_kind = ElementKind::kInteger;
  const std::size_t first = data.partition.begin(comm.rank()),
                    count = data.partition.count(comm.rank());
  data.features = Matrix<double>(count, 2 * kP);
  data.targets = Matrix<double>(count, 1);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t pair = order[begin + first + i], a = pair / kP, b = pair % kP;
    data.features(i, a) = 1;
    data.features(i, kP + b) = 1;
    data.targets(i, 0) = static_cast<double>((a + b) % kP);
  }
  return data;
}

TrainRows modular_addition_rows(const mpi::Communicator& comm) {
  std::vector<std::size_t> order(kP * kP);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [](std::size_t i, std::size_t j) {
    return testing_support::uniform01(31, i, 0) < testing_support::uniform01(31, j, 0);
  });
  const std::size_t n = order.size(), train = n * 6 / 10, validation = n / 10;
  TrainRows rows;
  rows.train = pair_rows(comm, order, 0, train);
  rows.validation = pair_rows(comm, order, train, train + validation);
  rows.test = pair_rows(comm, order, train + validation, n);
  return rows;
}

std::vector<std::string> grokking_args(std::size_t iterations) {
  return {"--kernel.name=gaussian",      "--kernel.bandwidth=2.5",
          "--solver.name=direct",        "--solver.ridge=1e-8",
          "--solver.precision=float64",  "--data.task=classification",
          "--rfm.metric=full",           "--rfm.agop_power=0.5",
          "--rfm.center_gradients=true", "--rfm.iterations=" + std::to_string(iterations)};
}

TEST(RfmGrokking, ModularAdditionWithCentredAgopSquareRoot) {
  auto comm = mpi::Communicator::world();
  const TrainResult plain =
      train_in_memory(comm, parse_options(grokking_args(0)), modular_addition_rows(comm));
  ASSERT_TRUE(plain.trained && plain.tested);
  const TrainResult rfm =
      train_in_memory(comm, parse_options(grokking_args(20)), modular_addition_rows(comm));
  ASSERT_TRUE(rfm.trained && rfm.tested);
  if (comm.rank() == 0)
    std::printf("(a + b) mod %zu at %d ranks: test accuracy plain kernel %.4f, RFM %.4f\n", kP,
                comm.size(), plain.test.accuracy, rfm.test.accuracy);
  // The control: the plain kernel does not generalise on this task.
  EXPECT_LT(plain.test.accuracy, 0.2);
  EXPECT_FALSE(rfm.model.header.metric.is_identity());
  EXPECT_GE(rfm.test.accuracy, 0.95);
}

}  // namespace
}  // namespace kmpi
