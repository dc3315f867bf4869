// What each fuzz target does with one input, shared with the corpus replay in the unit tests
// (tests/test_fuzz_corpus.cpp): a reader may accept the bytes or throw kmpi::Error, nothing
// else (no crash, no other exception, no sanitizer report, no huge allocation). The text
// harness also checks a property: a file parsed in two byte ranges, cut anywhere, gives the
// same rows as the whole parse (what the ranks of a distributed read rely on).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "kmpi/data.hpp"
#include "kmpi/error.hpp"
#include "kmpi/model.hpp"
#include "io/text_formats.hpp"

namespace kmpi::fuzz {

// The input as a file named like the format wants (per process, overwritten each call).
inline std::string as_file(const std::uint8_t* data, std::size_t size, const std::string& suffix) {
  const std::string path = "/tmp/kmpi_fuzz_" + std::to_string(::getpid()) + suffix;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

[[noreturn]] inline void property_failed(const char* what) {
  std::fprintf(stderr, "kmpi fuzz: property violated: %s\n", what);
  std::abort();
}

// Binary readers (.npy, IDX): probe, then read every row (at most 4096).
inline void read_binary(const std::uint8_t* data, std::size_t size, const std::string& suffix) {
  const std::string path = as_file(data, size, suffix);
  try {
    const FileInfo info = probe_file(path);
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < info.rows && i < 4096; ++i) rows.push_back(i);
    const Matrix<double> x = read_rows(path, info, rows);
    if (x.rows() != rows.size() || x.cols() != info.cols) property_failed("read_rows shape");
  } catch (const Error&) {
  }
  std::remove(path.c_str());
}

inline void read_text(const std::uint8_t* data, std::size_t size, FileFormat format) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const bool embedded : {false, true}) {
    ReadOptions o;
    o.embedded_labels = embedded;
    try {
      text::parse_text("input", text, format, o, true);
    } catch (const Error&) {
    }
  }
  // Split property, on a file cut where the first byte says.
  const std::string path = as_file(data, size, format == FileFormat::kCsv ? ".csv" : ".svm");
  try {
    ReadOptions o;
    o.embedded_labels = format == FileFormat::kLibsvm;
    const text::TextLayout layout = text::read_layout(path, format, o);
    text::ChunkParser whole(path, layout, true), a(path, layout, true), b(path, layout, true);
    text::parse_byte_range(path, 0, size, whole);
    const std::size_t cut = size == 0 ? 0 : data[0] % (size + 1);
    text::parse_byte_range(path, 0, cut, a);
    text::parse_byte_range(path, cut, size, b);
    const auto &w = whole.chunk(), &ca = a.chunk(), &cb = b.chunk();
    if (!w.failed && !ca.failed && !cb.failed) {
      if (ca.rows + cb.rows != w.rows) property_failed("rows of two ranges != whole");
      if (ca.lines + cb.lines != w.lines) property_failed("lines of two ranges != whole");
      std::vector<double> values = ca.values;
      values.insert(values.end(), cb.values.begin(), cb.values.end());
      // NaN != NaN: compare bit patterns through memcmp-like equality on finite data only.
      if (values.size() != w.values.size()) property_failed("values of two ranges != whole");
      for (std::size_t i = 0; i < values.size(); ++i)
        if (values[i] != w.values[i] && values[i] == values[i])
          property_failed("values of two ranges != whole");
    }
    if (w.failed != (ca.failed || cb.failed)) property_failed("error found by ranges != whole");
  } catch (const Error&) {
  }
  std::remove(path.c_str());
}

inline void read_model(const std::uint8_t* data, std::size_t size) {
  const std::string path = as_file(data, size, ".kmpi");
  try {
    read_model_header(path);
  } catch (const Error&) {
  }
  std::remove(path.c_str());
}

}  // namespace kmpi::fuzz
