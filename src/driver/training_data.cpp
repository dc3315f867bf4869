#include "driver/training_data.hpp"

#include <algorithm>
#include <cmath>

#include "base/permutation.hpp"
#include "kernels/shared_operator.hpp"
#include "parallel/exact_sum.hpp"

namespace kmpi {

Task decide_task(const mpi::Communicator& comm, const std::string& setting,
                 const LocalData& data) {
  if (setting == "classification") return Task::kClassification;
  if (setting == "regression") return Task::kRegression;
  bool integral = data.target_kind == ElementKind::kInteger;
  if (!integral) {
    // Text labels such as "3.0" are integers too; decide on the values, agreed over ranks.
    bool all_int = data.targets.cols() == 1;
    for (std::size_t i = 0; i < data.targets.size() && all_int; ++i)
      all_int = data.targets.data()[i] == std::floor(data.targets.data()[i]);
    integral = comm.allreduce_value(all_int ? 1 : 0, mpi::Op::kMin) == 1 &&
               data.target_kind == ElementKind::kInteger;
  }
  return integral ? Task::kClassification : Task::kRegression;
}

std::size_t count_classes(const mpi::Communicator& comm, const LocalData& data,
                          const std::string& labels_path) {
  mpi::agree_on(comm, [&] {
    if (data.targets.cols() != 1)
      throw Error(labels_path + ": classification needs one label per row, found " +
                  std::to_string(data.targets.cols()) + " columns");
    for (std::size_t i = 0; i < data.targets.rows(); ++i) {
      const double v = data.targets(i, 0);
      if (v != std::floor(v) || v < 0 || v > 1e6)
        throw Error(labels_path + ": " + data.where(i) + ": classification label " +
                    std::to_string(v) + " is not a class index in 0..1e6");
    }
  });
  double top = 0;
  for (std::size_t i = 0; i < data.targets.rows(); ++i) top = std::max(top, data.targets(i, 0));
  return static_cast<std::size_t>(comm.allreduce_value(top, mpi::Op::kMax)) + 1;
}

Matrix<double> one_hot(const Matrix<double>& labels, std::size_t classes) {
  Matrix<double> y(labels.rows(), classes);
  for (std::size_t i = 0; i < labels.rows(); ++i)
    if (labels(i, 0) >= 0) y(i, static_cast<std::size_t>(labels(i, 0))) = 1.0;  // -1: none
  return y;
}

ScaleMode scale_mode(const std::string& value) {
  if (value == "unit") return ScaleMode::kUnit;
  if (value == "standardize") return ScaleMode::kStandardize;
  return ScaleMode::kNone;
}

Scaling fit_scaling(const mpi::Communicator& comm, ScaleMode mode, const LocalData& data,
                    std::size_t n) {
  const std::size_t d = data.dimension;
  Scaling s;
  s.mode = mode;
  s.offset.assign(d, 0.0);
  s.multiplier.assign(d, 1.0);
  const Matrix<double>& x = data.features;
  if (mode == ScaleMode::kUnit) {
    double top = 0;
    for (std::size_t i = 0; i < x.size(); ++i) top = std::max(top, std::abs(x.data()[i]));
    top = comm.allreduce_value(top, mpi::Op::kMax);
    if (top > 0) s.multiplier.assign(d, 1.0 / top);
  } else if (mode == ScaleMode::kStandardize) {
    // Sums with the same bits at every rank count: the scaled rows (and so the checkpoint's
    // data fingerprint and the model) do not depend on P.
    const std::vector<double> sums =
        reproducible_sums(comm, x.rows(), 2 * d, n, [&](std::size_t i, std::size_t j) {
          return j < d ? x(i, j) : x(i, j - d) * x(i, j - d);
        });
    for (std::size_t j = 0; j < d; ++j) {
      const double mean = sums[j] / n, var = std::max(0.0, sums[d + j] / n - mean * mean);
      s.offset[j] = mean;
      s.multiplier[j] = var > 0 ? 1.0 / std::sqrt(var) : 1.0;
    }
  }
  return s;
}

std::vector<std::size_t> offsets_of(const BlockPartition& partition) {
  std::vector<std::size_t> o(static_cast<std::size_t>(partition.parts()) + 1, 0);
  for (int r = 0; r < partition.parts(); ++r) o[r + 1] = partition.end(r);
  return o;
}

void check_eval_labels(const mpi::Communicator& comm, LocalData& data,
                       const std::string& label_source, const ModelHeader& header,
                       bool unseen_classes_miss) {
  if (header.task == Task::kClassification) {
    mpi::agree_on(comm, [&] {
      for (std::size_t i = 0; i < data.targets.rows(); ++i) {
        double& v = data.targets(i, 0);
        // Validation rows: an integer label beyond the model's classes (or a class name the
        // training rows lack, read as -1) is a miss.
        if (unseen_classes_miss && v == std::floor(v) && (v >= header.outputs || v == -1)) v = -1;
        else if (v != std::floor(v) || v < 0 || v >= static_cast<double>(header.outputs))
          throw Error(label_source + ": " + data.where(i) + ": label " + std::to_string(v) +
                      " is not one of the model's " + std::to_string(header.outputs) +
                      " classes");
      }
    });
  } else {
    mpi::agree(comm, data.targets.cols() == header.outputs,
               label_source + ": has " + std::to_string(data.targets.cols()) +
                   " target columns, the model " + std::to_string(header.outputs));
  }
}

EvalSet make_eval_set(const mpi::Communicator& comm, const std::string& name, LocalData data,
                      bool has_labels, const std::string& features,
                      const std::string& label_source, const ModelHeader& header,
                      bool unseen_classes_miss) {
  mpi::agree(comm, data.dimension == header.dimension,
             features + ": has " + std::to_string(data.dimension) +
                 " features per row but the model expects " + std::to_string(header.dimension));
  header.prepare_inputs(data.features);
  EvalSet e;
  e.name = name;
  e.offsets = offsets_of(data.partition);
  e.n = data.partition.size();
  e.x = std::move(data.features);
  e.labeled = has_labels;
  if (has_labels) {
    check_eval_labels(comm, data, label_source, header, unseen_classes_miss);
    e.y = header.task == Task::kClassification ? one_hot(data.targets, header.outputs)
                                               : std::move(data.targets);
  }
  return e;
}

LocalData read_eval_rows(const mpi::Communicator& comm, const std::string& features,
                         const std::string& labels, const RowSubset& selection,
                         std::size_t d, const TableEncoding& table, ReadOptions read,
                         bool& has_labels) {
  // LIBSVM files are widened to the model's d (indices beyond it are refused, with the line).
  read.dimension = d;
  if (!labels.empty()) read.embedded_labels = false;
  // A table is encoded as the training table was (columns by name); nothing is fitted here.
  read.fit_table = false;
  read.encoding = table.empty() ? nullptr : &table;
  LocalData data = read_distributed(comm, features, labels, selection, read);
  // Labels from the features file itself (LIBSVM, CSV label column) count as given labels
  // (decided on every rank alike: a rank may hold no rows).
  has_labels =
      !labels.empty() ||
      (read.embedded_labels && comm.allreduce_value(data.targets.cols(), mpi::Op::kMax) > 0);
  return data;
}

EvalSet load_eval_set(const mpi::Communicator& comm, const std::string& name,
                      const std::string& features, const std::string& labels,
                      const RowSubset& selection, const ModelHeader& header,
                      ReadOptions read) {
  bool has_labels = false;
  const bool unseen_classes_miss = read.unseen_classes_miss;
  LocalData data = read_eval_rows(comm, features, labels, selection, header.dimension,
                                  header.table, std::move(read), has_labels);
  return make_eval_set(comm, name, std::move(data), has_labels, features,
                       labels.empty() ? features : labels, header, unseen_classes_miss);
}

EvalSet training_probe(const mpi::Communicator& comm, const TrainingProblem& problem,
                       std::uint64_t seed) {
  const int P = comm.size(), me = comm.rank();
  const std::size_t n = problem.partition.size();
  const auto picks =
      random_subset(n, std::min<std::size_t>(n, 2000), seed, RngStream::kValidation, 1);
  EvalSet probe;
  probe.name = "train";
  probe.n = picks.size();
  probe.offsets.assign(P + 1, 0);
  for (int r = 0; r < P; ++r)
    probe.offsets[r + 1] = static_cast<std::size_t>(
        std::lower_bound(picks.begin(), picks.end(), problem.partition.end(r)) - picks.begin());
  std::vector<std::size_t> local;
  for (std::size_t k = probe.offsets[me]; k < probe.offsets[me + 1]; ++k)
    local.push_back(picks[k] - problem.partition.begin(me));
  probe.labeled = true;
  probe.x = select_rows(problem.x, local);
  probe.y = select_rows(problem.y, local);
  return probe;
}

std::vector<FitMetrics> evaluate_shared(const mpi::Communicator& comm,
                                        const std::vector<Kernel>& kernels,
                                        const LocalCenters& centers,
                                        const std::vector<const Matrix<double>*>& alphas,
                                        const EvalSet& set, bool classification) {
  std::vector<FitMetrics> out(kernels.size());
  if (set.n == 0 || kernels.empty()) return out;
  const std::vector<Matrix<double>> pred =
      predict_distributed_shared(comm, kernels, centers, alphas, set.offsets, set.x);
  if (set.labeled)
    for (std::size_t g = 0; g < kernels.size(); ++g)
      out[g] = fit_metrics(comm, pred[g], set.y, set.n, classification);
  return out;
}

FitMetrics evaluate(const mpi::Communicator& comm, const Kernel& kernel,
                    const LocalCenters& centers, const Matrix<double>& alpha, const EvalSet& set,
                    bool classification, Matrix<double>* predictions) {
  Matrix<double> pred = predict_distributed(comm, kernel, centers, alpha, set.offsets, set.x);
  FitMetrics m =
      !set.labeled ? FitMetrics{} : fit_metrics(comm, pred, set.y, set.n, classification);
  if (predictions) *predictions = std::move(pred);
  return m;
}

}  // namespace kmpi
