// kmpi: train, tune, predict, eval, info, convert. Errors follow DESIGN §3: a failure agreed by all
// ranks (CollectiveError) ends every rank with exit code 1 and one message from rank 0; anything
// else is a bug or a lone failure and aborts the whole job so no rank is left waiting.
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "base/temporaries.hpp"
#include "cli/commands.hpp"
#include "kmpi/error.hpp"
#include "kmpi/mpi.hpp"
#include "kmpi/options.hpp"
#include "parallel/launcher.hpp"

int main(int argc, char** argv) {
  kmpi::mpi::Environment env(argc, argv);
  const auto comm = kmpi::mpi::Communicator::world();
  const bool root = comm.rank() == 0;
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::string command = args.empty() ? "" : args.front();
  if (!args.empty()) args.erase(args.begin());
  for (auto& a : args)
    if (a == "--dry-run") a = "--run.dry_run=true";  // the documented spelling of the flag
  bool help = command == "--help" || command == "-h" || command == "help";
  for (const auto& a : args) help = help || a == "--help" || a == "-h";
  const bool print_config = command == "info" && args.size() == 1 && args[0] == "--print-config";
  try {
    kmpi::Options options;
    // Every rank parses the same arguments and read the same KMPI_FAULT; agreeing still
    // guarantees one verdict.
    kmpi::mpi::agree_on(comm, [&] {
      if (!env.startup_error().empty()) throw kmpi::Error(env.startup_error());
      if (!help && !print_config) options = kmpi::parse_options(args);
    });
    if (help || print_config) {
      if (root)
        std::fputs(help ? kmpi::options_help().c_str() : kmpi::default_config().c_str(), stdout);
      return 0;
    }
    // A lone rank has no peer to lose.
    if (comm.size() > 1) kmpi::mpi::watch_for_stalls(options.real("run.stall_timeout"));
    // Every rank has mpirun's environment; rank 0 says it once.
    if (root) {
      const std::string w = kmpi::mpi::keepalive_warning(
          options.real("run.stall_timeout"), [](const char* k) { return std::getenv(k); });
      if (!w.empty()) std::fprintf(stderr, "%s\n", w.c_str());
    }
    if (command == "train") return kmpi::run_train(comm, options);
    if (command == "tune") return kmpi::run_tune(comm, options);
    if (command == "predict") return kmpi::run_predict(comm, options);
    if (command == "eval") return kmpi::run_eval(comm, options);
    if (command == "info") return kmpi::run_info(comm, options);
    if (command == "convert") return kmpi::run_convert(comm, options);
    kmpi::mpi::agree(
        comm, false,
        command.empty()
            ? "no command given (train, tune, predict, eval, info, convert; see --help)"
            : "unknown command '" + command + "' (train, tune, predict, eval, info, convert)");
  } catch (const kmpi::CollectiveError& e) {
    if (root) {
      if (comm.size() > 1)
        std::fprintf(stderr, "kmpi: error (rank %d): %s\n", e.failing_rank(), e.what());
      else
        std::fprintf(stderr, "kmpi: error: %s\n", e.what());
    }
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[rank %d] kmpi: fatal: %s\n", comm.rank(), e.what());
    std::fflush(stderr);
    // The other ranks die where they wait, rank 0's writers with their temporaries.
    kmpi::temporaries::remove_registered();
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return 1;
}
