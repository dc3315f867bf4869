// CSV fields (text_formats.hpp): a line cut at its delimiter, RFC 4180 quotes undone.
#include "io/text_formats.hpp"

namespace kmpi::text {
namespace {

bool blank_char(char c) { return c == ' ' || c == '\t'; }

// One RFC 4180 quoted field starting at line[pos] == '"': its text (doubled quotes undone in
// `scratch`, which holds at least line.size() bytes so that earlier views stay valid) and the
// position after the closing quote; npos when the quote is not closed on this line.
std::size_t quoted_field(std::string_view line, std::size_t pos, std::string& scratch,
                         std::string_view& token) {
  const std::size_t start = scratch.size();
  bool doubled = false;
  for (std::size_t k = pos + 1; k < line.size(); ++k) {
    if (line[k] != '"') continue;
    if (k + 1 < line.size() && line[k + 1] == '"') {
      doubled = true;
      ++k;
      continue;
    }
    token = line.substr(pos + 1, k - pos - 1);
    if (doubled) {
      for (std::size_t q = 0; q < token.size(); ++q) {
        scratch.push_back(token[q]);
        if (token[q] == '"') ++q;  // the second quote of a pair
      }
      token = std::string_view(scratch).substr(start);
    }
    return k + 1;
  }
  return std::string_view::npos;
}

}  // namespace

// Declared in text_formats.hpp.
std::string_view trim(std::string_view s) {
  while (!s.empty() && blank_char(s.front())) s.remove_prefix(1);
  while (!s.empty() && (blank_char(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}


bool split(std::string_view line, char delimiter, std::vector<std::string_view>& tokens,
           std::string& scratch) {
  tokens.clear();
  scratch.clear();
  scratch.reserve(line.size());
  line = trim(line);
  if (delimiter == ' ') {
    std::size_t pos = 0;
    while (pos < line.size()) {
      while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
      if (pos >= line.size()) break;
      std::size_t end = pos;
      while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
      tokens.push_back(line.substr(pos, end - pos));
      pos = end;
    }
    return true;
  }
  std::size_t pos = 0;
  while (true) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t') && line[pos] != delimiter)
      ++pos;
    std::size_t end = 0;
    std::string_view token;
    if (pos < line.size() && line[pos] == '"') {
      const std::size_t after = quoted_field(line, pos, scratch, token);
      if (after == std::string_view::npos) return false;
      end = after;
      while (end < line.size() && (line[end] == ' ' || line[end] == '\t') && line[end] != delimiter)
        ++end;
      if (end < line.size() && line[end] != delimiter) return false;
      if (end == line.size()) end = std::string_view::npos;
    } else {
      end = line.find(delimiter, pos);
      token = trim(
          line.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
    }
    tokens.push_back(token);
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return true;
}

}  // namespace kmpi::text
