// Text formats (CSV/TSV and LIBSVM/SVMlight) parsed in pieces: a file is cut into byte ranges,
// one per rank, each range owning the lines that START in it (so a line is parsed by exactly one
// rank, whatever the cut). A rank parses its lines with line numbers counted from its range's
// first line; after the ranks exchange their line and row counts, an error is reported with the
// file's global line number (chunk_error). What the parse needs to know from outside its range
// (the CSV delimiter, header and column count) comes from the first non-blank line, which every
// rank reads for itself (read_layout), so all ranks agree without communicating.
//
// LIBSVM/SVMlight: `label idx:val idx:val ... [# comment]`, indices 1-based and strictly
// increasing; `qid:n` tokens are skipped; one label per line (multi-label `1,3` is refused).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "kmpi/data.hpp"

namespace kmpi::text {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// What a table column held (TextChunk::seen): a number, a missing value, text, a non-integer.
constexpr unsigned char kCellNumber = 1, kCellMissing = 2, kCellText = 4, kCellFraction = 8;

// What every rank learns alone from the start of the file and the options.
struct TextLayout {
  FileFormat format = FileFormat::kCsv;
  char delimiter = ',';              // CSV: ',', '\t', ';' or ' ' (runs of blanks)
  bool header = false;               // CSV: the first non-blank line is a header
  std::size_t first_line = 0;        // 1-based line of the first non-blank line (0: none)
  std::uint64_t first_offset = 0;    // its byte offset: the header is skipped by offset, which
                                     // every range can recognise without knowing line numbers
  std::size_t columns = 0;           // CSV: values per line, a label column included
  std::size_t label_column = kNone;  // CSV: 0-based column holding the labels
  std::size_t dimension = 0;         // LIBSVM: d given by the user (0: free)
  bool allow_nonfinite = false;
  bool embedded_labels = false;
  // CSV read as a table (a header line, and ReadOptions fit_table or encoding): every cell is
  // kept, numbers as numbers and other text as text (table_encoding.cpp encodes them).
  bool table = false;
  std::vector<std::string> names;           // CSV with a header: the column names
  std::vector<std::string> missing_values;  // table: the tokens that mean "missing"
  // A table handed over from memory (Python), not read from a file: messages name rows
  // (0-based, row_lines) rather than lines, and the table rather than a header line.
  bool in_memory = false;
  // The feature columns of a CSV row (columns minus the label column).
  std::size_t feature_columns() const { return columns - (label_column == kNone ? 0 : 1); }
};

// local: the layout of `path` (reads the file's start up to its first non-blank line). Throws
// kmpi::Error naming the file: missing, directory, empty, no data, unknown label column.
TextLayout read_layout(const std::string& path, FileFormat format, const ReadOptions& options);

// local: the same from text already in memory (`head` holds at least the first non-blank line,
// or the whole file).
TextLayout layout_from_text(const std::string& path, std::string_view head, FileFormat format,
                            const ReadOptions& options);

// The rows of one byte range, and the first error in it (parsing stops there).
struct TextChunk {
  std::size_t lines = 0;      // lines that start in the range (blank ones too)
  std::size_t rows = 0;       // data rows
  std::size_t max_index = 0;  // LIBSVM: largest index seen (1-based)
  bool labels_integer = true, features_integer = true;
  // Kept only when asked: CSV dense (rows x feature_columns), LIBSVM sparse (CSR, 0-based
  // indices), labels (one per row) when embedded, and each row's local line index (0-based).
  std::vector<double> values;
  std::vector<std::size_t> row_start;  // LIBSVM: rows + 1 offsets into index/values
  std::vector<std::uint32_t> index;
  std::vector<double> labels;
  std::vector<std::size_t> row_lines;
  // Table mode: `values` holds every cell (label column included), rows x columns, NaN where the
  // cell is missing or text; the text cells' flat indices (ascending) and their texts; and per
  // column what the lines held (kCell* bits, kept whether or not the values are).
  std::vector<std::uint64_t> text_cells;
  std::string text;
  std::vector<std::size_t> text_end;
  std::vector<unsigned char> seen;
  // The first error: local 0-based line, 1-based column (0: none), and the text after it.
  bool failed = false;
  std::size_t error_line = 0, error_column = 0;
  std::string error_detail;
};

// Parses lines in order. local.
class ChunkParser {
 public:
  ChunkParser(const std::string& path, const TextLayout& layout, bool keep_values);
  // One line without its '\n', starting at byte `offset` of the file. Returns false once an
  // error has been recorded (stop feeding).
  bool add_line(std::string_view line, std::uint64_t offset);
  TextChunk& chunk() { return chunk_; }

 private:
  bool error(std::size_t column, std::string detail);
  bool add_csv(std::string_view line);
  bool add_table_cells();  // table_rows.cpp: the cells of tokens_ in table mode
  bool add_libsvm(std::string_view line);

  const TextLayout& layout_;
  bool keep_;
  TextChunk chunk_;
  std::vector<std::string_view> tokens_;
  std::string scratch_;  // quoted fields with doubled quotes, undone (tokens_ may point here)
};

// local: feeds the lines that start in [begin, end) of the file to `parser`, stopping at the
// first error. Lines longer than kMaxLineBytes are refused. `progress` (optional) gets the bytes
// of the range read so far and the range's size, about every 32 MiB.
constexpr std::size_t kMaxLineBytes = std::size_t{256} << 20;
void parse_byte_range(const std::string& path, std::uint64_t begin, std::uint64_t end,
                      ChunkParser& parser,
                      const std::function<void(double done, double total)>& progress = {});

// local: the chunk's error as one line, given how many lines precede the chunk in the file.
std::string chunk_error(const std::string& path, const TextChunk& chunk, std::size_t line_offset);

// local: parses a whole text held in memory (tests and fuzz targets): layout, then every line.
// Throws kmpi::Error (the same messages as files) on the first error.
TextChunk parse_text(const std::string& name, std::string_view text, FileFormat format,
                     const ReadOptions& options, bool keep_values,
                     TextLayout* layout_out = nullptr);

// local: one cell of table column j appended to `chunk` (its values and text when `keep`; its
// `seen` bits always; seen must hold the columns): a field as the CSV parser reads it (one of
// layout.missing_values, a number, or text), a number (`token`: how to show it in the error), or
// a missing value. Returns the error detail ("" when accepted): a NaN/Inf value without
// layout.allow_nonfinite.
std::string add_table_field(TextChunk& chunk, const TextLayout& layout, bool keep, std::size_t j,
                            std::string_view token);
std::string add_table_number(TextChunk& chunk, const TextLayout& layout, bool keep,
                             std::size_t j, double v, bool integer, std::string_view token);
void add_table_missing(TextChunk& chunk, bool keep, std::size_t j);

// local: the CSV tokens of `line` (csv_fields.cpp): `delimiter` ' ' means runs of blanks. A
// field in double quotes (RFC 4180) may hold the delimiter, and "" inside it stands for one
// quote; blanks around fields are dropped. Tokens may point into `line` or `scratch`. false: a
// quote not closed on this line (a quoted field cannot span lines) or text after a closing quote.
bool split(std::string_view line, char delimiter, std::vector<std::string_view>& tokens,
           std::string& scratch);
// local: s without the blanks (and a '\r') around it.
std::string_view trim(std::string_view s);

// local: helpers shared with data.cpp.
bool parse_number(std::string_view token, double& value, bool& integer);

}  // namespace kmpi::text
