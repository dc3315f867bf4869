// The options of the search layer's runs in the option table: rfm.* (the RFM loop and the xRFM
// tree) and tune.* (kmpi tune). Declared once here; the parser, --help and configs/default.ini
// come from the table (src/driver/options.cpp).
#include "driver/option_sections.hpp"

namespace kmpi {

using namespace option_spec;  // path, text, flag, choice, integer, real

// rfm.*: Recursive Feature Machines around the chosen solver (DESIGN §1.5).
std::vector<OptionSpec> rfm_options() {
  return {
      integer("rfm.iterations", "0",
              "RFM iterations T (0 = off): fit, validate, AGOP, M <- (G / max|G_ij|)^power, T times "
              "after the plain fit; needs data.validation_fraction or data.validation_features",
              0, 1000),
      choice("rfm.metric", "auto",
             "Learned metric M: full (d x d) | diagonal | auto (full when d <= 2000)",
             {"auto", "full", "diagonal"}),
      integer("rfm.agop_samples", "0",
              "Training rows the AGOP is averaged over (seeded; 0 = min(n, 20000))", 0, 1e9),
      real("rfm.agop_power", "1",
           "M <- (G / max|G_ij|)^power through the eigendecomposition (negative eigenvalues "
           "clipped; diagonal: elementwise); 1 = the original RFM, 0.5 with "
           "rfm.center_gradients = the grokking update",
           1e-300, 100),
      flag("rfm.center_gradients", "false",
           "Subtract from each output's gradients their mean over the AGOP sample rows before "
           "the outer products"),
      choice("rfm.validation_metric", "auto",
             "What selects the best iteration: auto (accuracy for classes, mse for targets) | "
             "accuracy | mse",
             {"auto", "accuracy", "mse"}),
  };
}

// rfm.leaf_size / rfm.split_samples: the xRFM tree (DESIGN §1.5, search/tree.hpp).
std::vector<OptionSpec> tree_options() {
  return {
      integer("rfm.leaf_size", "0",
              "xRFM tree: split every node of more than this many training rows at the median "
              "of its rows' projections on the top eigenvector of a splitter's AGOP, and train "
              "each leaf's RFM on its rows alone (0 = one model); train only",
              0, 1e15),
      integer("rfm.split_samples", "60000",
              "xRFM tree: the splitter of a node is fitted on at most this many of its rows "
              "(seeded)",
              2, 1e9),
      real("rfm.soft_temperature", "0",
           "xRFM tree: 0 = hard routing (x . v <= threshold goes left); T > 0 = soft routing, "
           "z = (x . v - threshold) / (T IQR) at every split, a leaf weighted by the softmax of "
           "its path's log-sigmoids (kept to 99% of the weight, at most 12 leaves). Stored in the "
           "tree; predict and eval accept it to override the stored value",
           0, 1e308),
      flag("rfm.tune_temperature", "false",
           "xRFM tree: choose the soft-routing temperature among 0 (hard), 0.02, 0.05, 0.1, 0.2, "
           "0.5 and 1 by the score on the leaves' validation rows (overrides "
           "rfm.soft_temperature; needs a validation split)"),
      integer("rfm.refill_size", "1500",
              "xRFM tree with data.validation_features: a leaf below the root that receives at "
              "most this many of the validation rows is topped up towards it with its own "
              "training rows, at most 20% of them (the reference's refill_size)",
              0, 1e15),
  };
}

// tune.*: `kmpi tune`, the bandwidth x ridge search on the validation split (DESIGN §1.6).
std::vector<OptionSpec> tune_options() {
  return {
      text("tune.bandwidths", "auto",
           "tune: the bandwidths to try, comma-separated (e.g. 2,3.5,5,7,10), or auto: "
           "tune.auto_points log-spaced values from 1/4 of the median pairwise distance of a "
           "seeded sample of tune.auto_samples training rows up to the median"),
      text("tune.ridges", "",
           "tune (falkon, direct): the ridges to try, comma-separated; empty = solver.ridge"),
      choice("tune.metric", "auto",
             "What selects the grid point: auto (validation accuracy for classes, mse for "
             "targets) | accuracy | mse",
             {"auto", "accuracy", "mse"}),
      integer("tune.folds", "0",
              "tune: score every point by k-fold cross-validation (k >= 2; seeded folds), then "
              "refit the selected point on every row; 0 = the data.validation_fraction split",
              0, 1000),
      integer("tune.auto_points", "5", "tune.bandwidths = auto: the number of bandwidths", 2, 100),
      integer("tune.auto_samples", "1000",
              "tune.bandwidths = auto: training rows (seeded) whose pairwise distances give the "
              "median (s^2 / 2 distances, shared among the ranks: 20000 rows are 1.6 GB)",
              2, 20000),
      text("tune.exponents", "",
           "tune (kernel.name = laplacian): the Laplace family's exponents q to try, "
           "comma-separated (0 < q <= kernel.norm_p); empty = kernel.exponent"),
      text("tune.norms", "",
           "tune (kernel.name = laplacian): the norms p to try, comma-separated (0 < p <= 2); "
           "empty = kernel.norm_p"),
      text("tune.agop_powers", "",
           "tune with rfm.iterations > 0: the AGOP powers to try (rfm.agop_power), "
           "comma-separated; empty = rfm.agop_power"),
      text("tune.rfm_metrics", "",
           "tune with rfm.iterations > 0: the RFM metrics to try, comma-separated (diagonal, "
           "full); empty = rfm.metric"),
      text("tune.numeric_transforms", "",
           "tune (a table): the values of data.numeric_transform to try, comma-separated (none, "
           "quantile): the grid is tuned once per value, the value whose selected point scores "
           "best kept and that point trained (not with run.checkpoint_dir); empty = "
           "data.numeric_transform"),
      integer("tune.samples", "0",
              "tune: K > 0 draws K random points (seeded by solver.seed) instead of the whole "
              "grid: bandwidth and ridge log-uniform between the least and largest listed value, "
              "exponents, norms and powers uniform between theirs, metrics one of the list",
              0, 100000),
      text("tune.selected_config", "",
           "tune: write the selected point as a config file (INI) that `kmpi train --config` "
           "takes: the options given to tune (but tune.*, output.* and run.*) and every option "
           "the selected point differs in from a run alone (kernel.bandwidth, solver.ridge, "
           "solver.batch_size of a shared eigenpro2 group); empty = none"),
      text("tune.groups", "1",
           "tune, point by point (RFM, tune.samples, extra dimensions, tune.shared = false, "
           "eigenpro4): G groups of ranks fit points at once on sub-communicators, each holding "
           "all the rows, and the selected point is fitted again on all ranks | auto (G from "
           "the ranks, points and rows: README) | 1 = one point after another on all ranks; "
           "not with run.checkpoint_dir or data.centers"),
      flag("tune.shared", "true",
           "tune: train the grid's models together, sharing each kernel block's distances "
           "(eigenpro2, falkon, direct); false trains every point alone, one after another"),
  };
}

}  // namespace kmpi
