// `kmpi convert`: parse a (large, text) data file once, in parallel, and write it as .npy so
// later runs read rows by offset instead of parsing text again.
#include <cmath>
#include <cstdio>

#include "cli/commands.hpp"
#include "base/fault.hpp"
#include "base/temporaries.hpp"
#include "io/posix_file.hpp"
#include "kmpi/data.hpp"
#include "parallel/log.hpp"
#include "driver/data_options.hpp"

namespace kmpi {

namespace {

bool npy_name(const std::string& path) {
  return path.size() >= 4 && path.compare(path.size() - 4, 4, ".npy") == 0;
}

}  // namespace

int run_convert(const mpi::Communicator& comm, const Options& o) {
  const std::string in = o.str("data.features"), labels_in = o.str("data.labels");
  const std::string out = o.str("output.data"), labels_out = o.str("output.labels");
  mpi::agree(comm, !in.empty() && !out.empty(),
             "convert needs --data.features PATH and --output.data X.npy");
  mpi::agree(comm, npy_name(out), "option output.data: " + out + " must end in .npy");
  mpi::agree(comm, labels_out.empty() || npy_name(labels_out),
             "option output.labels: " + labels_out + " must end in .npy");
  mpi::agree(comm, labels_in.empty() || !labels_out.empty(),
             "option data.labels is given without output.labels (where should they go?)");
  check_data_options(comm, o, "convert");
  ReadOptions read = read_options(o);
  FileFormat format = FileFormat::kNpy;
  mpi::agree_on(comm, [&] { format = resolve_format(in, read); });
  // Labels travel when asked for: from their own file, or from the features file itself.
  read.embedded_labels = !labels_out.empty() && labels_in.empty();
  mpi::agree(comm, !read.embedded_labels || format_has_labels(format),
             in + ": this format holds no labels; give --data.labels PATH for output.labels");
  Stopwatch clock;
  const LocalData data = read_distributed(comm, in, labels_in, {}, read);
  // Both files or neither, and nothing the user already has is lost (DESIGN §3): each is
  // written whole under a temporary name (write_npy_distributed syncs it), and both are renamed
  // into place only after both writes succeeded.
  const std::string part = ".convert-part";
  const temporaries::Registration out_registration(out + part);
  const temporaries::Registration labels_registration(labels_out.empty() ? "" : labels_out + part);
  const auto remove_parts = [&] {
    if (comm.rank() != 0) return;
    std::remove((out + part).c_str());
    if (!labels_out.empty()) std::remove((labels_out + part).c_str());
  };
  try {
    if (!labels_out.empty()) {
      bool integer = true;
      for (std::size_t i = 0; i < data.targets.size(); ++i)
        integer = integer && data.targets.data()[i] == std::floor(data.targets.data()[i]) &&
                  std::abs(data.targets.data()[i]) < 9e15;
      integer = comm.allreduce_value(integer ? 1 : 0, mpi::Op::kMin) == 1;
      write_npy_distributed(comm, labels_out + part, data.partition, data.targets, integer);
    }
    write_npy_distributed(comm, out + part, data.partition, data.features);
  } catch (const CollectiveError&) {
    remove_parts();
    throw;
  }
  std::string failed, why;
  if (comm.rank() == 0) {
    try {  // an injected fault, too, leaves no part behind
      fault::point("io.rename");
      if (std::rename((out + part).c_str(), out.c_str()) != 0)
        failed = out;
      else if (!labels_out.empty() && std::rename((labels_out + part).c_str(), labels_out.c_str()))
        failed = labels_out;
    } catch (const Error& e) {
      failed = out;
      why = std::string(": ") + e.what();
    }
    if (failed.empty()) {
      detail::sync_directory_of(out);
      if (!labels_out.empty()) detail::sync_directory_of(labels_out);
    }
  }
  if (!failed.empty()) remove_parts();
  mpi::agree(comm, failed.empty(),
             failed + ": cannot rename " + failed + part + " into place" + why);
  Log(comm).info("kmpi convert: %s -> %s: %zu rows x %zu features%s, %.2f s on %d ranks",
                 in.c_str(), out.c_str(), data.partition.size(), data.dimension,
                 labels_out.empty() ? "" : (" + labels -> " + labels_out).c_str(), clock.seconds(),
                 comm.size());
  return 0;
}

}  // namespace kmpi
