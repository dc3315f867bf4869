// The model and checkpoint write protocol (src/io/checksummed_file.hpp). Three agreed steps, so
// that no rank writes into a file that rank 0 failed to create and rank 0 computes the CRC only
// once every rank's rows are on disk.
#include "io/checksummed_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/fault.hpp"
#include "base/temporaries.hpp"
#include "kmpi/error.hpp"
#include "io/little_endian.hpp"

namespace kmpi::detail {

FileErrors checksummed_file_errors(const ChecksummedWrite& w, const std::string& path) {
  FileErrors errors;
  errors.label = w.label_prefix + path;
  errors.say_no_such_file = w.say_no_such_file;
  return errors;
}

namespace {

// Rank 0: the temporary with the head written and its final size (minus the trailer) set, so
// that every rank's rows land inside the file.
void create_temporary(const ChecksummedWrite& w, bool& created) {
  PosixFile file(w.temp, O_WRONLY | O_CREAT | O_EXCL, 0644, checksummed_file_errors(w, w.temp));
  created = true;
  file.write_at(0, w.head.data(), w.head.size());
  file.truncate(w.crc_at);
  file.close();
}

// Rank 0: checks the size, appends the CRC-32 of everything before crc_at and renames.
void seal_and_rename(const ChecksummedWrite& w, bool& created) {
  PosixFile file(w.temp, O_RDWR, 0, checksummed_file_errors(w, w.temp));
  if (file.size() != w.crc_at)
    file.fail("has " + std::to_string(file.size()) + " bytes after writing, expected " +
              std::to_string(w.crc_at));
  std::string trailer;
  put_le<std::uint32_t>(trailer, crc32_of(file, w.crc_at));
  file.write_at(w.crc_at, trailer.data(), trailer.size());
  file.sync();
  file.close();
  fault::point("io.rename");
  if (::rename(w.temp.c_str(), w.path.c_str()) != 0) {
    const int err = errno;
    throw Error(w.label_prefix + w.path + ": cannot rename " + w.temp +
                " to it: " + std::strerror(err));
  }
  created = false;
  sync_directory_of(w.path);
}

}  // namespace

void write_checksummed_file(const mpi::Communicator& comm, const ChecksummedWrite& w) {
  const int rank = comm.rank();
  const temporaries::Registration registration(w.temp);
  // Rank 0 creates the temporary only once every rank knows its name (base/temporaries.hpp).
  comm.barrier();
  bool created = false;  // rank 0: whether the temporary is ours to remove
  try {
    mpi::agree_on(comm, [&] {
      if (w.prepare) w.prepare();
      if (rank == 0) create_temporary(w, created);
    });
    mpi::agree_on(comm, [&] {
      if (!w.has_rows) return;
      FileErrors errors = checksummed_file_errors(w, w.temp);
      // Rank 0 created it: another rank that cannot open it runs on a node that does not see
      // the directory (node-local scratch instead of a shared file system).
      if (rank != 0)
        errors.cannot_open =
            "cannot open the file rank 0 created (is its directory on a file system every node "
            "shares?)";
      PosixFile file(w.temp, O_WRONLY, 0, errors);
      w.write_rows(file);
      file.sync();
      file.close();
    });
    mpi::agree_on(comm, [&] {
      if (rank != 0) return;
      seal_and_rename(w, created);
      if (w.after_rename) w.after_rename();
    });
  } catch (...) {
    if (created) ::unlink(w.temp.c_str());
    throw;
  }
}

}  // namespace kmpi::detail
