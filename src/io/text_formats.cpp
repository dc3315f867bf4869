// CSV/TSV and LIBSVM/SVMlight parsing by byte ranges (see text_formats.hpp). Lines and columns
// in messages count from 1, as an editor shows them.
#include "io/text_formats.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "kmpi/error.hpp"
#include "io/posix_file.hpp"

namespace kmpi::text {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(path + ": " + what);
}

bool blank(std::string_view line) { return trim(line).empty(); }

// The first of ',', '\t', ';' found outside double quotes (a quoted "a, b" in a TSV header
// is no comma delimiter), else blanks.
char detect_delimiter(std::string_view first_line) {
  bool comma = false, tab = false, semicolon = false, quoted = false;
  for (const char c : first_line) {
    quoted = quoted != (c == '"');
    if (quoted) continue;
    comma = comma || c == ',';
    tab = tab || c == '\t';
    semicolon = semicolon || c == ';';
  }
  return comma ? ',' : tab ? '\t' : semicolon ? ';' : ' ';
}

std::string quoted(std::string_view token) {
  // Tokens from a broken file may be huge or binary; show a printable prefix.
  std::string s;
  for (char ch : token.substr(0, 40)) s += std::isprint(static_cast<unsigned char>(ch)) ? ch : '?';
  if (token.size() > 40) s += "...";
  return "'" + s + "'";
}

const char* nonfinite_name(double v) { return std::isnan(v) ? "NaN" : "Inf"; }

}  // namespace

bool parse_number(std::string_view token, double& value, bool& integer) {
  if (!token.empty() && token.front() == '+') token.remove_prefix(1);
  if (token.empty()) return false;
  const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (ec == std::errc::result_out_of_range) {
    // Overflow to +-Inf or underflow to 0; from_chars leaves value untouched, so give it one.
    value = std::strtod(std::string(token).c_str(), nullptr);
  } else if (ec != std::errc()) {
    return false;
  }
  if (ptr != token.data() + token.size()) return false;
  std::size_t k = token.front() == '-' ? 1 : 0;
  integer = k < token.size();
  for (; k < token.size(); ++k)
    if (!std::isdigit(static_cast<unsigned char>(token[k]))) integer = false;
  return true;
}

namespace {

// local: the first non-blank line of `head` (LIBSVM: comment lines do not count either), its
// line number and offset into `layout`; none is "empty file".
std::string_view first_data_line(const std::string& path, std::string_view head,
                                 TextLayout& layout) {
  std::size_t pos = 0, line_no = 0;
  while (pos < head.size()) {
    const std::size_t nl = head.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? head.size() : nl;
    std::string_view line = head.substr(pos, end - pos);
    ++line_no;
    std::string_view content = line;
    if (layout.format == FileFormat::kLibsvm) content = content.substr(0, content.find('#'));
    if (!blank(content)) {
      layout.first_line = line_no;
      layout.first_offset = pos;
      return line;
    }
    pos = end + 1;
  }
  fail(path, "empty file (no data lines)");
}

// local: the 0-based column data.label_column names (last, first, a 1-based number or a header
// name) in a CSV file whose first line split into `tokens`.
std::size_t label_column_of(const std::string& path, const ReadOptions& options,
                            const TextLayout& layout, const std::vector<std::string_view>& tokens) {
  const std::string& spec = options.label_column;
  std::size_t column = kNone;
  if (spec == "last") {
    column = layout.columns - 1;
  } else if (spec == "first") {
    column = 0;
  } else if (!spec.empty() && std::all_of(spec.begin(), spec.end(), [](char ch) {
               return std::isdigit(static_cast<unsigned char>(ch));
             })) {
    const unsigned long long k = std::strtoull(spec.c_str(), nullptr, 10);
    if (k == 0 || k > layout.columns)
      fail(path, "data.label_column = " + spec + " but line " +
                     std::to_string(layout.first_line) + " has " +
                     std::to_string(layout.columns) + " columns (columns count from 1)");
    column = static_cast<std::size_t>(k - 1);
  } else {
    if (layout.header)
      for (std::size_t j = 0; j < tokens.size(); ++j)
        if (tokens[j] == spec) column = j;
    if (column == kNone && options.encoding != nullptr)
      fail(path, "the model's label column '" + spec +
                     "' is not a column of the header on line " +
                     std::to_string(layout.first_line));
    if (column == kNone)
      fail(path, "data.label_column = '" + spec + "' is not " +
                     (layout.header
                          ? "a column of the header on line " + std::to_string(layout.first_line)
                          : std::string("usable: the file has no header line")) +
                     " (use last, first, a 1-based column number or a header name)");
  }
  if (layout.columns < 2)
    fail(path, "line " + std::to_string(layout.first_line) +
                   " has one column: nothing is left for the features once the label column "
                   "is taken (give the labels in their own file with a labels option)");
  return column;
}

}  // namespace

TextLayout layout_from_text(const std::string& path, std::string_view head, FileFormat format,
                            const ReadOptions& options) {
  TextLayout layout;
  layout.format = format;
  layout.allow_nonfinite = options.allow_nonfinite;
  layout.embedded_labels = options.embedded_labels;
  layout.dimension = options.dimension;
  const std::string_view first = first_data_line(path, head, layout);
  if (format == FileFormat::kLibsvm) return layout;

  layout.delimiter = detect_delimiter(first);
  std::vector<std::string_view> tokens;
  std::string scratch;
  if (!split(first, layout.delimiter, tokens, scratch))
    fail(path, "line " + std::to_string(layout.first_line) +
                   ": a quoted field is not closed on its line, or text follows its closing "
                   "quote (a quoted field cannot span lines)");
  layout.columns = tokens.size();
  if (options.header == HeaderMode::kYes) {
    layout.header = true;
  } else if (options.header == HeaderMode::kAuto) {
    // Auto: a header is a first line with a token that is not a number.
    for (const auto& t : tokens) {
      double v;
      bool integer;
      if (!parse_number(t, v, integer)) layout.header = true;
    }
  }
  if (layout.header) layout.names.assign(tokens.begin(), tokens.end());
  layout.table = layout.header && (options.fit_table || options.encoding != nullptr);
  layout.missing_values = options.missing_values;
  if (options.embedded_labels) layout.label_column = label_column_of(path, options, layout, tokens);
  return layout;
}

TextLayout read_layout(const std::string& path, FileFormat format, const ReadOptions& options) {
  detail::PosixFile file(path);
  if (file.size() == 0) fail(path, "empty file");
  // Read forward until the text holds a complete non-blank line (or the whole file).
  std::string head;
  std::uint64_t offset = 0;
  constexpr std::size_t kStep = 1 << 16;
  while (true) {
    const std::size_t old = head.size();
    head.resize(old + kStep);
    const std::size_t got = file.read_at(offset, head.data() + old, kStep);
    head.resize(old + got);
    offset += got;
    const bool eof = got < kStep;
    // Is there a non-blank line that is complete?
    std::size_t pos = 0;
    bool found = false;
    while (pos < head.size()) {
      const std::size_t nl = head.find('\n', pos);
      if (nl == std::string::npos) break;
      std::string_view line(head.data() + pos, nl - pos);
      if (format == FileFormat::kLibsvm) line = line.substr(0, line.find('#'));
      if (!blank(line)) {
        found = true;
        break;
      }
      pos = nl + 1;
    }
    if (found || eof) break;
    if (head.size() - pos > kMaxLineBytes)
      fail(path, "the first line is longer than " + std::to_string(kMaxLineBytes >> 20) +
                     " MiB; not a text data file?");
  }
  return layout_from_text(path, head, format, options);
}

// `path` is part of the signature for symmetry with the readers; messages get it from
// chunk_error, once the global line is known.
ChunkParser::ChunkParser(const std::string& /*path*/, const TextLayout& layout, bool keep_values)
    : layout_(layout), keep_(keep_values) {
  if (keep_ && layout_.format == FileFormat::kLibsvm) chunk_.row_start.push_back(0);
}

bool ChunkParser::error(std::size_t column, std::string detail) {
  chunk_.failed = true;
  chunk_.error_line = chunk_.lines - 1;
  chunk_.error_column = column;
  chunk_.error_detail = std::move(detail);
  return false;
}

bool ChunkParser::add_line(std::string_view line, std::uint64_t offset) {
  if (chunk_.failed) return false;
  ++chunk_.lines;
  if (layout_.format == FileFormat::kCsv) {
    if (layout_.header && offset == layout_.first_offset) return true;
    if (blank(line)) return true;
    return add_csv(line);
  }
  return add_libsvm(line);
}

bool ChunkParser::add_csv(std::string_view line) {
  if (!split(line, layout_.delimiter, tokens_, scratch_))
    return error(0, "a quoted field is not closed on its line, or text follows its closing quote "
                    "(a quoted field cannot span lines)");
  if (tokens_.size() != layout_.columns)
    return error(0, "has " + std::to_string(tokens_.size()) + " values but " +
                        (layout_.header ? "the header on line " : "line ") +
                        std::to_string(layout_.first_line) + " has " +
                        std::to_string(layout_.columns) + " (ragged rows)");
  if (layout_.table) return add_table_cells();
  for (std::size_t j = 0; j < tokens_.size(); ++j) {
    double v = 0;
    bool integer = false;
    if (!parse_number(tokens_[j], v, integer)) {
      if (tokens_[j].empty()) return error(j + 1, "empty value");
      return error(j + 1, quoted(tokens_[j]) + " is not a number");
    }
    const bool is_label = j == layout_.label_column;
    if (!std::isfinite(v) && !layout_.allow_nonfinite)
      return error(j + 1, quoted(tokens_[j]) + " is " + nonfinite_name(v) +
                              (is_label ? " (a label)" : "") +
                              "; NaN/Inf values are refused (data.allow_nonfinite = true "
                              "accepts them)");
    if (is_label) {
      chunk_.labels_integer = chunk_.labels_integer && integer;
      if (keep_) chunk_.labels.push_back(v);
    } else {
      chunk_.features_integer = chunk_.features_integer && integer;
      if (keep_) chunk_.values.push_back(v);
    }
  }
  if (keep_) chunk_.row_lines.push_back(chunk_.lines - 1);
  ++chunk_.rows;
  return true;
}

bool ChunkParser::add_libsvm(std::string_view line) {
  line = line.substr(0, line.find('#'));  // SVMlight comments
  if (blank(line)) return true;
  split(line, ' ', tokens_, scratch_);
  const std::string_view label_token = tokens_[0];
  if (label_token.find(',') != std::string_view::npos)
    return error(
        0, "multi-label line (label " + quoted(label_token) + "); kmpi reads one label per line");
  if (label_token.find(':') != std::string_view::npos)
    return error(0, "the line starts with " + quoted(label_token) +
                        " but a LIBSVM line starts with its label (label idx:val ...)");
  double label = 0;
  bool label_integer = false;
  if (!parse_number(label_token, label, label_integer))
    return error(0, "label " + quoted(label_token) + " is not a number");
  if (!std::isfinite(label) && !layout_.allow_nonfinite)
    return error(0, "label " + quoted(label_token) + " is " + nonfinite_name(label) +
                        "; NaN/Inf values are refused (data.allow_nonfinite = true accepts them)");
  chunk_.labels_integer = chunk_.labels_integer && label_integer;
  std::size_t previous = 0;
  for (std::size_t t = 1; t < tokens_.size(); ++t) {
    const std::string_view token = tokens_[t];
    const std::size_t colon = token.find(':');
    if (colon == std::string_view::npos)
      return error(0, "token " + quoted(token) + " is not index:value");
    const std::string_view idx_text = token.substr(0, colon), val_text = token.substr(colon + 1);
    if (idx_text == "qid") continue;  // SVMlight query ids: not a feature
    if (!idx_text.empty() && idx_text.front() == '-')
      return error(0, "negative feature index in " + quoted(token) + " (indices start at 1)");
    unsigned long long idx = 0;
    const auto [ptr, ec] = std::from_chars(idx_text.data(), idx_text.data() + idx_text.size(), idx);
    if (ec == std::errc::result_out_of_range ||
        (ec == std::errc() && ptr == idx_text.data() + idx_text.size() &&
         idx > std::numeric_limits<std::uint32_t>::max()))
      return error(0, "feature index in " + quoted(token) + " is absurdly large (more than 2^32)");
    if (ec != std::errc() || ptr != idx_text.data() + idx_text.size())
      return error(0, "feature index in " + quoted(token) + " is not an integer");
    if (idx == 0)
      return error(0, "feature index 0 in " + quoted(token) +
                          " (LIBSVM indices start at 1; was the file written 0-based?)");
    if (idx <= previous)
      return error(0, "feature indices must increase: " + std::to_string(idx) + " after " +
                          std::to_string(previous));
    if (layout_.dimension > 0 && idx > layout_.dimension)
      return error(0, "feature index " + std::to_string(idx) + " is beyond the dimension " +
                          std::to_string(layout_.dimension) +
                          " (data.dimension, or the training data's d)");
    double v = 0;
    bool integer = false;
    if (!parse_number(val_text, v, integer))
      return error(0, "value " + quoted(val_text) + " of feature " + std::to_string(idx) +
                          " is not a number");
    if (!std::isfinite(v) && !layout_.allow_nonfinite)
      return error(0, "value " + quoted(val_text) + " of feature " + std::to_string(idx) + " is " +
                          nonfinite_name(v) +
                          "; NaN/Inf values are refused (data.allow_nonfinite = true accepts "
                          "them)");
    chunk_.features_integer = chunk_.features_integer && integer;
    previous = static_cast<std::size_t>(idx);
    if (keep_) {
      chunk_.index.push_back(static_cast<std::uint32_t>(idx - 1));
      chunk_.values.push_back(v);
    }
  }
  chunk_.max_index = std::max(chunk_.max_index, previous);
  if (keep_) {
    chunk_.labels.push_back(label);
    chunk_.row_start.push_back(chunk_.index.size());
    chunk_.row_lines.push_back(chunk_.lines - 1);
  }
  ++chunk_.rows;
  return true;
}

namespace {

constexpr std::size_t kBlock = std::size_t{1} << 20;

// The first line that starts at or after `begin` (< end <= file size): just after the first '\n'
// at or after begin - 1 (a line starting exactly at `begin` follows a '\n' at begin - 1); `end`
// when none starts before it.
std::uint64_t first_line_start(const detail::PosixFile& file, std::uint64_t begin,
                               std::uint64_t end) {
  if (begin == 0) return 0;
  std::uint64_t pos = begin - 1;
  // Blocks no larger than what is left of the file: small files cost small buffers.
  const auto block = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, file.size() - pos));
  std::string buffer(block, '\0');
  while (pos < end) {
    const std::size_t got = file.read_at(pos, buffer.data(), block);
    if (got == 0) break;
    const auto* nl = static_cast<const char*>(std::memchr(buffer.data(), '\n', got));
    if (nl != nullptr) return pos + static_cast<std::uint64_t>(nl - buffer.data()) + 1;
    pos += got;
  }
  return end;
}

}  // namespace

void parse_byte_range(const std::string& path, std::uint64_t begin, std::uint64_t end,
                      ChunkParser& parser,
                      const std::function<void(double done, double total)>& progress) {
  detail::PosixFile file(path);
  end = std::min<std::uint64_t>(end, file.size());
  if (begin >= end) return;
  const std::uint64_t start = first_line_start(file, begin, end);
  if (start >= end) return;
  std::string buffer;
  // buffer holds the file's bytes [base, base + buffer.size()); `head` is the current line start.
  buffer.clear();
  std::uint64_t base = start, next_read = start, reported = start;
  std::size_t head = 0;
  bool eof = false;
  while (true) {
    const std::size_t nl = buffer.find('\n', head);
    if (nl != std::string::npos) {
      if (base + head >= end) return;
      if (!parser.add_line(std::string_view(buffer).substr(head, nl - head), base + head)) return;
      head = nl + 1;
      continue;
    }
    if (eof) {
      if (head < buffer.size() && base + head < end)
        parser.add_line(std::string_view(buffer).substr(head), base + head);
      return;
    }
    if (base + head >= end) return;
    // Keep the partial line, read the next block after it.
    buffer.erase(0, head);
    base += head;
    head = 0;
    if (buffer.size() > kMaxLineBytes)
      fail(path, "a line starting at byte " + std::to_string(base) + " is longer than " +
                     std::to_string(kMaxLineBytes >> 20) + " MiB; not a text data file?");
    const std::size_t old = buffer.size();
    const auto want = static_cast<std::size_t>(
        std::min<std::uint64_t>(kBlock, file.size() > next_read ? file.size() - next_read : 0));
    buffer.resize(old + want);
    const std::size_t got = want == 0 ? 0 : file.read_at(next_read, buffer.data() + old, want);
    buffer.resize(old + got);
    next_read += got;
    eof = got < want || next_read >= file.size();
    constexpr std::uint64_t kProgressBytes = std::uint64_t{32} << 20;
    if (progress && next_read - reported >= kProgressBytes) {
      reported = next_read;
      progress(static_cast<double>(std::min(next_read, end) - start),
               static_cast<double>(end - start));
    }
  }
}

std::string chunk_error(const std::string& path, const TextChunk& chunk, std::size_t line_offset) {
  std::string where = path + ": line " + std::to_string(line_offset + chunk.error_line + 1);
  if (chunk.error_column > 0) where += ", column " + std::to_string(chunk.error_column);
  return where + ": " + chunk.error_detail;
}

TextChunk parse_text(const std::string& name, std::string_view text, FileFormat format,
                     const ReadOptions& options, bool keep_values, TextLayout* layout_out) {
  if (text.empty()) fail(name, "empty file");
  const TextLayout layout = layout_from_text(name, text, format, options);
  ChunkParser parser(name, layout, keep_values);
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    if (!parser.add_line(text.substr(pos, end - pos), pos)) break;
    pos = end + 1;
  }
  TextChunk chunk = std::move(parser.chunk());
  if (chunk.failed) throw Error(chunk_error(name, chunk, 0));
  if (chunk.rows == 0) fail(name, "no data rows");
  if (layout_out) *layout_out = layout;
  return chunk;
}

}  // namespace kmpi::text
