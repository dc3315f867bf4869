// The memory planner (issue 5): before the solver allocates anything large, estimate the bytes
// the busiest rank will hold (data block, kernel tiles, preconditioner pieces, distributed
// matrices, model) and compare with run.memory_limit, so an impossible run is refused in seconds
// with the option that would fix it instead of being killed by the OOM killer an hour in.
// `kmpi train --dry-run` prints the plan and exits.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kmpi/mpi.hpp"
#include "kmpi/options.hpp"

namespace kmpi {

struct MemoryItem {
  std::string what;
  double bytes = 0;
};

// Falkon's per-iteration test metrics keep K(test rows, Z_r) (and the test rows, replicated)
// while that block is at most this many bytes (float32 at 10000 test rows and 25000 centers per
// rank: 0.93 GiB); beyond it each evaluation computes its kernel blocks again, on the rows each
// rank holds.
inline constexpr std::size_t kFalkonTestPanelBytes = std::size_t(1) << 30;

struct MemoryPlan {
  std::vector<MemoryItem> items;
  std::string reduce_hint;  // which options shrink the largest items
  double total() const;
  std::string describe() const;  // one line per item, then the total
};

// local: the per-rank estimate for training `solver` on n x d data with c outputs on P ranks
// (`tune`: a kmpi tune run over the tune.* grid).
// Formulas (bytes, 8 per double, 4 per float; the largest rank holds ceil(n / P) rows):
//   baseline  26 MiB (a rank's libraries, measured) + 32 MiB (the binary readers' buffer)
//   data      ceil(n/P) (d + c) 8          features and targets
//   centers   ceil(n/P) d 4 (float32) or 8 kernel operands (Z = X); a second copy for the
//             epoch metrics of the iterative solvers
//   alpha     ceil(n/P) c 8 (x2 for the best-epoch copy with early stopping)
//   tiles     min(tile budget, m ceil(n/P) 4) plus the batch m (d + c) 8
//   eigenpro2 K_SS and its eigenvectors, block-cyclic: 2 s^2 / P 8; X_S replicated: s d 8
//   direct    K (n x n) block-cyclic: n^2 / P 8
//   falkon    K_ZZ and two Cholesky factors block-cyclic 3 p^2 / P 8; Z (and its weights)
//             ceil(p/P) (d + c) 16 and Z replicated p d 4 (float32) or 8, CG vectors 4 p c 8;
//             with solver.eval_every > 0 and test rows, when K(test, Z_r) fits
//             kFalkonTestPanelBytes: the test rows and predictions replicated n_eval (d + c) 8
//             plus that block n_eval ceil(p/P) 4 or 8 (n_eval is an upper bound of n_test)
//   eigenpro4 see plan_eigenpro4 in memory_plan.cpp
//   eval sets ceil(n_eval/P) (d + c) 8    test and validation rows (n_eval of them in all)
// Nothing of size n is held whole on any rank: batch orders, subsets and folds are counter
// permutations (base/permutation.hpp), so at a fixed n/P every item but direct's K (n^2 / P)
// stays the same as n grows (tests/test_memory_plan.cpp).
MemoryPlan plan_training(const Options& options, std::size_t n, std::size_t d, std::size_t c,
                         int ranks, std::size_t n_eval = 0, bool tune = false);

// local: run.memory_limit in bytes: a number with an optional K/M/G/T suffix, or auto = the
// node's available memory (MemAvailable) divided by `ranks_on_node`.
double memory_limit_bytes(const Options& options, int ranks_on_node);

// collective: run.memory_limit per rank, the tightest node's (agreed on every rank).
double agreed_memory_limit(const mpi::Communicator& comm, const Options& options);

// local: `options` with eigenpro4's solver.projection = auto resolved against `limit` bytes per
// rank: cholesky with a float64 factor (p^2 / P doubles per rank) when that plan fits, else,
// unless solver.factor_precision was given, cholesky with a float32 factor (half of it: the
// exact projection at twice the p^2 for the memory), else eigenpro2. Anything else: unchanged.
Options resolve_projection(const Options& options, std::size_t n, std::size_t d, std::size_t c,
                           int ranks, std::size_t n_eval, bool tune, double limit);

// collective: resolve_projection against agreed_memory_limit (the same on every rank).
Options resolve_projection(const mpi::Communicator& comm, const Options& options, std::size_t n,
                           std::size_t d, std::size_t c, std::size_t n_eval);

// collective: plans, prints the plan on rank 0 for --dry-run (run.dry_run), and refuses (one
// agreed error) when the estimate is over the limit. Returns false when the run should stop
// after the plan (dry run).
bool check_memory_plan(const mpi::Communicator& comm, const Options& options, std::size_t n,
                       std::size_t d, std::size_t c, bool tune = false);

// collective: the xRFM tree's plan (rfm.leaf_size > 0; search/tree.hpp), per rank: its share of
// the tree's rows, (ceil(n/P) + ceil(n_val/P)) (d + c) 8 with the n_val rows of
// data.validation_features, held while the tree grows, plus the larger of the splitter's fit
// (min(n, rfm.split_samples) rows on all P ranks, the root's; deeper nodes have fewer rows on
// fewer ranks) and a leaf's (min(n, rfm.leaf_size) rows on the ranks its rows earn,
// max(1, floor(P leaf / n)), the solver's plan_training at that size, plus the block of its
// validation rows: its share of n_val and up to rfm.refill_size refilled). Over
// run.memory_limit it is refused (one agreed error) with the largest leaf size, halving, that
// fits.
void check_tree_memory_plan(const mpi::Communicator& comm, const Options& options, std::size_t n,
                            std::size_t n_val, std::size_t d, std::size_t c);

}  // namespace kmpi
