// `kmpi tune`'s reports (src/search/tune_internal.hpp): the grid's line, the table of every
// point (log and metrics) and the selected point's line.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "search/tune_internal.hpp"
#include "base/fault.hpp"
#include "base/temporaries.hpp"
#include "io/posix_file.hpp"

namespace kmpi::tune_detail {

void report_table(const Log& log, MetricsWriter& metrics, const TuneSettings& ts,
                  const std::vector<TunePoint>& points, std::size_t best, bool classification,
                  bool tested, const OptionList& selected,
                  const std::vector<std::vector<TunePoint>>* folds) {
  log.info("tune: %5s %10s %10s %10s %12s %10s %12s %9s", "point", "bandwidth",
           ts.has_ridge ? "ridge" : "", "val_acc", "val_mse", "test_acc", "test_mse", "fit_s");
  for (std::size_t i = 0; i < points.size(); ++i) {
    const TunePoint& p = points[i];
    const bool diverged = p.status == ModelStatus::kDiverged;
    char ridge[16] = "", test_acc[16] = "", test_mse[16] = "";
    if (ts.has_ridge) std::snprintf(ridge, sizeof ridge, "%.3g", p.ridge);
    if (tested) {
      std::snprintf(test_acc, sizeof test_acc, "%.4f", p.test.accuracy);
      std::snprintf(test_mse, sizeof test_mse, "%.6g", p.test.mse);
    }
    std::string extra;
    for (const auto& [key, value] : p.extra) extra += " " + key + "=" + value;
    log.info("tune: %5zu %10.4g %10s %10.4f %12.6g %10s %12s %9.2f%s%s", i, p.bandwidth, ridge,
             p.validation.accuracy, p.validation.mse, test_acc, test_mse, p.fit_seconds,
             extra.c_str(), diverged ? "  diverged" : (i == best ? "  <- selected" : ""));
    Json j;
    j.add("event", "tune").add("point", static_cast<double>(i)).add("bandwidth", p.bandwidth);
    if (ts.has_ridge) j.add("ridge", p.ridge);
    for (const auto& [key, value] : p.extra) j.add(key, value);
    j.add("status", diverged ? "diverged" : "ok");
    if (!diverged) {
      j.add("validation_mse", p.validation.mse);
      if (classification) j.add("validation_accuracy", p.validation.accuracy);
      if (tested) {
        j.add("test_mse", p.test.mse);
        if (classification) j.add("test_accuracy", p.test.accuracy);
      }
      if (folds) {
        std::vector<double> mse, acc;
        for (const std::vector<TunePoint>& f : *folds) {
          mse.push_back(f[i].validation.mse);
          acc.push_back(f[i].validation.accuracy);
        }
        j.add("folds", static_cast<double>(folds->size())).add("validation_mse_folds", mse);
        if (classification) j.add("validation_accuracy_folds", acc);
      }
    }
    j.add("fit_s", p.fit_seconds).add("shared", ts.shared ? 1.0 : 0.0);
    metrics.line(j.str());
  }
  const TunePoint& b = points[best];
  std::string args;
  Json object;
  for (const auto& [key, value] : selected) {
    args += " --" + key + "=" + value;
    object.add(key, value);
  }
  log.info("tune: selected bandwidth %g%s (validation %s %.6g); kmpi train reproduces it with%s",
           b.bandwidth, ts.has_ridge ? (", ridge " + number(b.ridge)).c_str() : "",
           ts.accuracy ? "accuracy" : "mse",
           ts.accuracy ? b.validation.accuracy : b.validation.mse, args.c_str());
  Json sel;
  sel.add("event", "tune_selected").add("point", static_cast<double>(best));
  sel.add("bandwidth", b.bandwidth);
  if (ts.has_ridge) sel.add("ridge", b.ridge);
  sel.add("options", object);
  metrics.line(sel.str());
}

OptionList TuneRun::selected_options(const TunePoint& p) const {
  OptionList out{{"kernel.bandwidth", number(p.bandwidth)}};
  if (ts_.has_ridge) out.emplace_back("solver.ridge", number(p.ridge));
  if (group_batch_ > 0) out.emplace_back("solver.batch_size", std::to_string(group_batch_));
  for (const auto& kv : p.extra) out.push_back(kv);
  return out;
}

void TuneRun::report_grid() {
  std::string list;
  for (double b : ts_.bandwidths) list += (list.empty() ? "" : ", ") + number(b).substr(0, 8);
  if (ts_.median > 0)
    in_.log.info("tune: median pairwise distance %.4g of %zu sampled rows: bandwidths %s",
                 ts_.median,
                 std::min(in_.options.count("tune.auto_samples"), in_.problem.partition.size()),
                 list.c_str());
  else
    in_.log.info("tune: bandwidths %s", list.c_str());
  Json j;
  j.add("event", "tune_grid").add("solver", in_.setup.solver->name);
  j.add("bandwidths", ts_.bandwidths);
  if (ts_.has_ridge) j.add("ridges", ts_.ridges);
  if (ts_.median > 0) j.add("median_distance", ts_.median);
  j.add("shared", ts_.shared ? 1.0 : 0.0);
  in_.metrics.line(j.str());
}

}  // namespace kmpi::tune_detail

namespace kmpi {

void write_selected_config(const mpi::Communicator& comm, const Options& o,
                           const std::vector<std::pair<std::string, std::string>>& selected) {
  const std::string path = o.str("tune.selected_config");
  if (path.empty()) return;
  // Sections in the option table's order; within one, the keys as given, then the selected.
  std::map<std::string, std::string> values;
  for (const OptionSpec& spec : option_table()) {
    const std::string& key = spec.key;
    if (key.find('.') == std::string::npos || !o.given(key)) continue;  // bare keys: commands'
    const std::string section = key.substr(0, key.find('.'));
    if (section == "tune" || section == "output" || section == "run") continue;
    values[key] = o.str(key);
  }
  for (const auto& [key, value] : selected) values[key] = value;
  std::string text = "# written by kmpi tune: the selected point as a run alone\n";
  std::string section;
  for (const OptionSpec& spec : option_table()) {
    const auto it = values.find(spec.key);
    if (it == values.end()) continue;
    const std::string s = spec.key.substr(0, spec.key.find('.'));
    if (s != section) text += "\n[" + (section = s) + "]\n";
    text += spec.key.substr(s.size() + 1) + " = " + it->second + "\n";
  }
  bool ok = true;
  std::string why;  // rank 0: why the rename failed
  const std::string tmp = path + ".tmp";
  const temporaries::Registration registration(tmp);
  comm.barrier();  // rank 0 creates it once every rank knows its name (base/temporaries.hpp)
  if (comm.rank() == 0) {
    fault::point("io.open_write");
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    ok = f != nullptr && std::fputs(text.c_str(), f) >= 0;
    if (f) ok = std::fclose(f) == 0 && ok;
    if (ok) why = detail::rename_into_place(tmp, path);
    ok = ok && why.empty();
    if (!ok && why.empty()) std::remove(tmp.c_str());
  }
  mpi::agree(comm, ok,
             "tune.selected_config: cannot write " + path + (why.empty() ? "" : ": " + why));
}

}  // namespace kmpi
