// Internal: reading the text formats (CSV, LIBSVM; parsed by text_formats.cpp) for data.cpp. The
// local reader parses the whole file as one range; the distributed one gives each rank a byte
// range, combines the counts, and sends every parsed row to the rank that owns it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kmpi/data.hpp"
#include "kmpi/mpi.hpp"
#include "io/row_subset.hpp"
#include "io/text_formats.hpp"

namespace kmpi::detail {

// local: whether a format is read by the text parser.
inline bool is_text(FileFormat f) { return f == FileFormat::kCsv || f == FileFormat::kLibsvm; }

// local: the shape of a parsed text file: d, and what the labels are.
FileInfo text_info(const text::TextLayout& layout, std::size_t rows, std::size_t max_index,
                   bool labels_integer, bool features_integer);

// local: refuses a text file without rows or without features.
void check_text_shape(const std::string& path, const FileInfo& info);

// local: densifies chunk row i (features into `x`, d columns; label into *label if not null).
void chunk_row(const text::TextChunk& chunk, FileFormat format, std::size_t i, std::size_t d,
               double* x, double* label);

// local: the whole text file on one rank (local readers, convert's tests, fuzzing); `keep`
// keeps the values, `layout` gets what read_layout found.
text::TextChunk parse_text_file(const std::string& path, FileFormat format,
                                const ReadOptions& options, bool keep, text::TextLayout& layout);

// One rank's share of a text file after the ranks exchanged their counts.
struct TextScan {
  text::TextLayout layout;
  text::TextChunk chunk;
  FileInfo info;
  std::size_t row_offset = 0, line_offset = 0;  // rows and lines before this rank's range
};

// collective: every rank parses the lines starting in its byte range [size r/P, size (r+1)/P);
// then the ranks exchange (lines, rows, max index, integer flags) so each knows the global line
// and row numbers of its own lines, and the first error in the file is reported with its line.
TextScan scan_text_distributed(const mpi::Communicator& comm, const std::string& path,
                               FileFormat format, const ReadOptions& options, bool keep);

// collective: sends the kept rows of every rank's text chunk (`kept`: local_subset of the
// chunk's rows, io/row_subset.hpp) to the rank that owns them under local.partition (of the kept
// rows) and fills local's features, targets (when the file holds labels), source_rows and
// source_lines.
void distribute_text(const mpi::Communicator& comm, const std::string& path, const TextScan& scan,
                     const LocalSubset& kept, LocalData& local);

}  // namespace kmpi::detail
