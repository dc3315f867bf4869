// LIBSVM and CSV text parsing: values against the text that was written, every error message
// naming the file and line, and the byte-range split: parsing a file in two pieces cut at EVERY
// byte gives the same rows and line counts as parsing it whole.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kmpi/data.hpp"
#include "kmpi/error.hpp"
#include "support.hpp"
#include "io/text_formats.hpp"

namespace kmpi {
namespace {

namespace fs = std::filesystem;

std::string temp_file(const std::string& name, const std::string& text) {
  const fs::path p =
      fs::temp_directory_path() / ("kmpi_text_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

using testing_support::error_of;

ReadOptions embedded() {
  ReadOptions o;
  o.embedded_labels = true;
  return o;
}

TEST(Libsvm, DensifiesRowsWithLabels) {
  const std::string path = temp_file(
      "a.svm", "# comment line\n1 1:0.5 3:2\n\n-1 qid:3 2:-1.25e1   4:7 # trailing comment\n0\n");
  const FileInfo info = probe_file(path, embedded());
  EXPECT_EQ(info.format, FileFormat::kLibsvm);
  EXPECT_EQ(info.rows, 3u);
  EXPECT_EQ(info.cols, 4u);  // the largest index
  EXPECT_EQ(info.label_cols, 1u);
  EXPECT_EQ(info.label_element, ElementKind::kInteger);
  Matrix<double> labels;
  const Matrix<double> x = read_rows(path, info, {0, 1, 2}, embedded(), &labels);
  const std::vector<double> want = {0.5, 0, 2, 0, 0, -12.5, 0, 7, 0, 0, 0, 0};
  EXPECT_EQ(x.storage(), want);
  EXPECT_EQ(labels.storage(), (std::vector<double>{1, -1, 0}));
  // data.dimension widens
  ReadOptions wide = embedded();
  wide.dimension = 6;
  EXPECT_EQ(probe_file(path, wide).cols, 6u);
  fs::remove(path);
}

TEST(Libsvm, EveryBadLineIsNamed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"1 1:1\n2 0:1\n", "line 2: feature index 0"},
      {"1 1:1\n2 -3:1\n", "line 2: negative feature index"},
      {"1 2:1 2:3\n", "line 1: feature indices must increase: 2 after 2"},
      {"1 3:1 2:3\n", "line 1: feature indices must increase: 2 after 3"},
      {"1 1:1\n\n1,2 3:1\n", "line 3: multi-label line"},
      {"x 1:1\n", "line 1: label 'x' is not a number"},
      {"1 1:1\n1 2:abc\n", "line 2: value 'abc' of feature 2 is not a number"},
      {"1 1:nan\n", "line 1: value 'nan' of feature 1 is NaN"},
      {"inf 1:1\n", "line 1: label 'inf' is Inf"},
      {"1 1:1 7\n", "line 1: token '7' is not index:value"},
      {"1 x:1\n", "line 1: feature index in 'x:1' is not an integer"},
      {"1 99999999999:1\n", "absurdly large"},
      {"1:2 3:4\n", "line 1: the line starts with '1:2'"},
      {"1\n2\n", "no feature index:value pair"},
      {"\n\n# only comments\n", "empty file"},
  };
  for (const auto& [text, want] : cases) {
    const std::string path = temp_file("bad.svm", text);
    const std::string message = error_of([&] { probe_file(path, embedded()); });
    EXPECT_MESSAGE_HAS(message, path + ": ");
    EXPECT_MESSAGE_HAS(message, want);
    fs::remove(path);
  }
  ReadOptions narrow = embedded();
  narrow.dimension = 3;
  const std::string path = temp_file("wide.svm", "1 1:1\n0 2:1 4:1\n");
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path, narrow); }),
                     "line 2: feature index 4 is beyond the dimension 3");
  ReadOptions lenient = embedded();
  lenient.allow_nonfinite = true;
  const std::string nan_path = temp_file("nan.svm", "1 1:nan\n");
  EXPECT_TRUE(std::isnan(read_rows(nan_path, probe_file(nan_path, lenient), {0}, lenient)(0, 0)));
  fs::remove(path);
  fs::remove(nan_path);
}

TEST(Csv, LabelColumnHeaderAndOptions) {
  const std::string path = temp_file("l.csv", "f1,y,f2\n1,7,2\n3,8,4\n");
  ReadOptions o = embedded();
  o.label_column = "y";
  FileInfo info = probe_file(path, o);
  EXPECT_EQ(info.cols, 2u);
  Matrix<double> labels;
  Matrix<double> x = read_rows(path, info, {0, 1}, o, &labels);
  EXPECT_EQ(x.storage(), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(labels.storage(), (std::vector<double>{7, 8}));
  o.label_column = "1";
  x = read_rows(path, probe_file(path, o), {1}, o, &labels);
  EXPECT_EQ(x.storage(), (std::vector<double>{8, 4}));
  EXPECT_EQ(labels.storage(), (std::vector<double>{3}));
  o.label_column = "last";
  x = read_rows(path, probe_file(path, o), {0}, o, &labels);
  EXPECT_EQ(x.storage(), (std::vector<double>{1, 7}));
  EXPECT_EQ(labels.storage(), (std::vector<double>{2}));
  o.label_column = "z";
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path, o); }), "data.label_column = 'z'");
  o.label_column = "4";
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path, o); }), "data.label_column = 4");
  // data.header = false makes the header a data line: its words are not numbers.
  ReadOptions no_header;
  no_header.header = HeaderMode::kNo;
  EXPECT_MESSAGE_HAS(error_of([&] { probe_file(path, no_header); }),
                     "line 1, column 1: 'f1' is not a number");
  // data.header = true skips a numeric first line.
  ReadOptions header;
  header.header = HeaderMode::kYes;
  EXPECT_EQ(probe_file(path, header).rows, 2u);
  const std::string numeric = temp_file("n.csv", "1,2\n3,4\n");
  EXPECT_EQ(probe_file(numeric, header).rows, 1u);
  EXPECT_EQ(probe_file(numeric).rows, 2u);
  fs::remove(path);
  fs::remove(numeric);
}

// RFC 4180 quotes: a quoted field holds the delimiter, "" is one quote, blanks around fields are
// dropped, a quote inside an unquoted field is text; an unclosed quote or text after a closing
// quote is refused (the parser names the line).
TEST(Csv, QuotedFields) {
  std::vector<std::string_view> t;
  std::string scratch;
  const auto fields = [&](std::string_view line, char delimiter = ',') {
    EXPECT_TRUE(text::split(line, delimiter, t, scratch)) << line;
    return std::vector<std::string>(t.begin(), t.end());
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(fields(R"(1,"a, b",c)"), (V{"1", "a, b", "c"}));
  EXPECT_EQ(fields(R"("say ""hi""", "x""",""," q ")"), (V{R"(say "hi")", R"(x")", "", " q "}));
  EXPECT_EQ(fields(R"(a"b,"c;d")"), (V{R"(a"b)", "c;d"}));
  EXPECT_EQ(fields("\"a\tb\"\t\t2", '\t'), (V{"a\tb", "", "2"}));
  EXPECT_EQ(fields(R"(x,"")"), (V{"x", ""}));
  EXPECT_FALSE(text::split(R"(1,"open,2)", ',', t, scratch));
  EXPECT_FALSE(text::split(R"(1,"a"b,2)", ',', t, scratch));

  ReadOptions o;
  o.fit_table = true;
  text::TextLayout layout;
  const text::TextChunk c = text::parse_text(
      "q.csv", "name,\"x, y\"\n\"a, b\",1\n\"\"\"q\"\"\",2\n", FileFormat::kCsv, o, true, &layout);
  EXPECT_EQ(layout.names, (V{"name", "x, y"}));
  EXPECT_EQ(c.text, R"(a, b"q")");
  EXPECT_EQ(c.rows, 2u);
  // A quoted comma in a TSV header does not make it a CSV.
  const text::TextChunk tsv = text::parse_text("t.tsv", "\"p, q\"\tr\nx, y\t2\n", FileFormat::kCsv,
                                               o, true, &layout);
  EXPECT_EQ(layout.delimiter, '\t');
  EXPECT_EQ(layout.names, (V{"p, q", "r"}));
  EXPECT_EQ(tsv.text, "x, y");
  EXPECT_MESSAGE_HAS(error_of([&] {
                       text::parse_text("bad.csv", "a,b\n\"x,1\n", FileFormat::kCsv, o, true);
                     }),
                     "bad.csv: line 2: a quoted field is not closed on its line");
}

// Parses [0, cut) and [cut, size) separately and checks that together they hold exactly the
// rows (values, labels, lines) of the whole-file parse.
void check_every_cut(const std::string& path, FileFormat format, const ReadOptions& o) {
  const text::TextLayout layout = text::read_layout(path, format, o);
  text::ChunkParser whole(path, layout, true);
  text::parse_byte_range(path, 0, ~std::uint64_t{0}, whole);
  ASSERT_FALSE(whole.chunk().failed) << text::chunk_error(path, whole.chunk(), 0);
  const std::uint64_t size = fs::file_size(path);
  for (std::uint64_t cut = 0; cut <= size; ++cut) {
    text::ChunkParser a(path, layout, true), b(path, layout, true);
    text::parse_byte_range(path, 0, cut, a);
    text::parse_byte_range(path, cut, size, b);
    const text::TextChunk &ca = a.chunk(), &cb = b.chunk();
    ASSERT_EQ(ca.rows + cb.rows, whole.chunk().rows) << "cut " << cut;
    ASSERT_EQ(ca.lines + cb.lines, whole.chunk().lines) << "cut " << cut;
    std::vector<double> values = ca.values, labels = ca.labels;
    values.insert(values.end(), cb.values.begin(), cb.values.end());
    labels.insert(labels.end(), cb.labels.begin(), cb.labels.end());
    EXPECT_EQ(values, whole.chunk().values) << "cut " << cut;
    EXPECT_EQ(labels, whole.chunk().labels) << "cut " << cut;
    std::vector<std::size_t> lines = ca.row_lines;
    for (auto l : cb.row_lines) lines.push_back(l + ca.lines);
    EXPECT_EQ(lines, whole.chunk().row_lines) << "cut " << cut;
  }
}

TEST(ByteRanges, EveryCutGivesTheSameRows) {
  const std::string csv = temp_file("cut.csv", "a,b,y\n1,2,3\n\n4.5,5,6\r\n7,8,9\n10,11,12");
  check_every_cut(csv, FileFormat::kCsv, embedded());
  const std::string svm =
      temp_file("cut.svm", "1 1:1 3:3\n# c\n\n-1 2:2\n2 1:0.5 2:1.5 9:9\n0 4:4");
  check_every_cut(svm, FileFormat::kLibsvm, embedded());
  fs::remove(csv);
  fs::remove(svm);
}

TEST(ByteRanges, ErrorLineIsGlobalAfterAddingTheLinesBefore) {
  const std::string svm = temp_file("err.svm", "1 1:1\n1 1:1\n1 1:1\n1 0:1\n1 1:1\n");
  const text::TextLayout layout = text::read_layout(svm, FileFormat::kLibsvm, embedded());
  text::ChunkParser a(svm, layout, false), b(svm, layout, false);
  text::parse_byte_range(svm, 0, 13, a);  // lines 1-3 start before byte 13
  text::parse_byte_range(svm, 13, 100, b);
  EXPECT_FALSE(a.chunk().failed);
  ASSERT_TRUE(b.chunk().failed);
  EXPECT_MESSAGE_HAS(text::chunk_error(svm, b.chunk(), a.chunk().lines), svm + ": line 4: ");
  fs::remove(svm);
}

}  // namespace
}  // namespace kmpi
