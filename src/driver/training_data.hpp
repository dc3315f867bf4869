// From rows as read to what a solver and the reports need: the task and its targets (one-hot
// classes), the feature scaling, and evaluation sets (test, validation, a training probe) scaled
// and encoded like the training rows. Nothing here reads a file except load_eval_set, so a caller
// with rows in memory (tests, a Python binding) uses the same steps.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kmpi/data.hpp"
#include "kmpi/kernel_operator.hpp"
#include "kmpi/model.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/options.hpp"
#include "solvers/solvers.hpp"

namespace kmpi {

// collective: classification or regression: `setting` (data.task) when it says so, else
// integer labels mean classes.
Task decide_task(const mpi::Communicator& comm, const std::string& setting, const LocalData& data);

// collective: the number of classes 0..c-1 of integer labels; every label is checked (agreed
// error naming `labels_path` and the row).
std::size_t count_classes(const mpi::Communicator& comm, const LocalData& data,
                          const std::string& labels_path);

// local: one-hot rows of `classes` columns from a column of class indices.
Matrix<double> one_hot(const Matrix<double>& labels, std::size_t classes);

// local: data.scale's value as a mode.
ScaleMode scale_mode(const std::string& value);

// collective: scaling statistics of the training rows of every rank (n rows in all); the same
// bits for any rank count (standardize sums through reproducible_sums).
Scaling fit_scaling(const mpi::Communicator& comm, ScaleMode mode, const LocalData& data,
                    std::size_t n);

// local: a table's one-hot and missing-indicator columns are codes, not measurements: their
// scaling is reset to the identity (offset 0, multiplier 1), whatever data.scale did to them.
void keep_codes_unscaled(Scaling& scaling, const TableEncoding& table);

// collective (rank 0 prints): one line describing a training table's encoding.
void log_table(const mpi::Communicator& comm, const Options& o, const TableEncoding& table);

// Features and targets of an evaluation set, scaled and encoded like the training data, in any
// contiguous row layout: rank r holds rows [offsets[r], offsets[r+1]).
struct EvalSet {
  std::string name;
  std::vector<std::size_t> offsets;
  Matrix<double> x, y;
  std::size_t n = 0;
  bool labeled = false;  // y holds the targets of this rank's rows (one-hot for classes)
};

// local: the P + 1 row offsets of a block partition.
std::vector<std::size_t> offsets_of(const BlockPartition& partition);

// collective: an evaluation set from rows in memory (unscaled features; targets raw labels or
// values), checked against the model's d and c (agreed errors naming `features` or
// `label_source` and the row), scaled and encoded like the training rows.
// `unseen_classes_miss` (validation rows): labels of classes the model lacks are misses.
EvalSet make_eval_set(const mpi::Communicator& comm, const std::string& name, LocalData data,
                      bool has_labels, const std::string& features,
                      const std::string& label_source, const ModelHeader& header,
                      bool unseen_classes_miss = false);

// collective: class labels of rows of an evaluation set must be classes of the model, targets
// have its c columns (agreed error naming `label_source` and the row). `unseen_classes_miss`
// (validation rows): an integer label >= c, or -1 (a class name the training table lacks), is
// set to -1 instead, a row one_hot leaves all zeros and fit_metrics scores as a miss.
void check_eval_labels(const mpi::Communicator& comm, LocalData& data,
                       const std::string& label_source, const ModelHeader& header,
                       bool unseen_classes_miss = false);

// collective: the rows `selection` keeps of `features` (and `labels`, or labels from the
// features file itself when read.embedded_labels), as read, not scaled: LIBSVM rows widened to
// d, a table encoded with `table` (columns by name) when it is not empty. `has_labels`: whether
// labels were given or found (the same on every rank).
LocalData read_eval_rows(const mpi::Communicator& comm, const std::string& features,
                         const std::string& labels, const RowSubset& selection,
                         std::size_t d, const TableEncoding& table, ReadOptions read,
                         bool& has_labels);

// collective: read_eval_rows with the model's d and table, made an evaluation set.
EvalSet load_eval_set(const mpi::Communicator& comm, const std::string& name,
                      const std::string& features, const std::string& labels,
                      const RowSubset& selection, const ModelHeader& header,
                      ReadOptions read);

// collective: a fixed subsample of at most 2000 of the training rows (seeded, the same for any
// rank count), to report the training error cheaply next to an epoch.
EvalSet training_probe(const mpi::Communicator& comm, const TrainingProblem& problem,
                       std::uint64_t seed);

// collective: the model's predictions on `set` and, when it has labels, their metrics.
FitMetrics evaluate(const mpi::Communicator& comm, const Kernel& kernel,
                    const LocalCenters& centers, const Matrix<double>& alpha, const EvalSet& set,
                    bool classification, Matrix<double>* predictions = nullptr);
// collective: evaluate for every kernel g with its weights alphas[g] over the same centers, the
// distances shared (predict_distributed_shared): entry g equals evaluate(kernels[g], ...).
std::vector<FitMetrics> evaluate_shared(const mpi::Communicator& comm,
                                        const std::vector<Kernel>& kernels,
                                        const LocalCenters& centers,
                                        const std::vector<const Matrix<double>*>& alphas,
                                        const EvalSet& set, bool classification);

}  // namespace kmpi
