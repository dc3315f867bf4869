// Internal: the collective write protocol of the model file and of checkpoints (DESIGN §4).
// Rank 0 creates a temporary and sizes it, every rank writes its rows at offsets it computes
// from global row indices, rank 0 appends a CRC-32 trailer and renames the complete, fsynced
// temporary into place. Until that rename a previous file under `path` stays untouched.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "kmpi/mpi.hpp"
#include "io/posix_file.hpp"

namespace kmpi::detail {

struct ChecksummedWrite {
  // Error messages read "<label_prefix><file>: ..." ("" for models, "checkpoint " for
  // checkpoints), and a missing file reads as "no such file" when say_no_such_file is set.
  std::string label_prefix;
  bool say_no_such_file = true;
  std::string path;  // the final name
  std::string temp;  // the same on every rank; must not exist yet
  // The bytes at offset 0, written by rank 0; the file is sized to crc_at before any rank writes.
  std::string head;
  std::uint64_t crc_at = 0;  // where the trailer goes: every byte before it is covered
  // Runs on every rank before rank 0 creates the temporary, inside the same agreed step.
  std::function<void()> prepare;
  // Whether this rank has rows to write, and the writer of its rows into the open temporary.
  bool has_rows = false;
  std::function<void(const PosixFile&)> write_rows;
  // Runs on rank 0 once the rename is done (inside the last agreed step).
  std::function<void()> after_rename;
};

// collective: writes `w.path` by the protocol above. Errors are agreed; on error rank 0 removes
// the temporary if it created it, so no partial file is left behind.
void write_checksummed_file(const mpi::Communicator& comm, const ChecksummedWrite& w);

// local: the errors a file of the protocol reports (label_prefix + path).
FileErrors checksummed_file_errors(const ChecksummedWrite& w, const std::string& path);

}  // namespace kmpi::detail
