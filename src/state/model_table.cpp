// The table section of a model file: how a CSV table with a header became the model's features
// (kmpi/data.hpp TableEncoding), so predict and eval encode raw tables alike.
//
// Layout (little-endian): u32 column count; per column: str name, u8 categorical, u8 indicator,
// f64 fill, u32 category count, str categories...; u32 missing-token count, str tokens...;
// str label name; u32 class count, str classes... (str = u32 byte length, then the bytes);
// then, only when a column has quantile knots (data.numeric_transform = quantile; model version
// 5): per column u32 knot count K, K f64 knots.
#include "state/model_table.hpp"

#include <cmath>

#include "io/little_endian.hpp"
#include "kmpi/error.hpp"

namespace kmpi::detail {

namespace {

void put_str(std::string& out, const std::string& s) {
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(s.size()));
  out += s;
}

void put_strs(std::string& out, const std::vector<std::string>& v) {
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(v.size()));
  for (const std::string& s : v) put_str(out, s);
}

// Reads fields from the section, refusing to run past its end.
class Reader {
 public:
  Reader(const std::string& path, const unsigned char* p, std::size_t size)
      : path_(path), p_(p), size_(size) {}
  const unsigned char* take(std::size_t n) {
    if (n > size_ - pos_) throw Error(path_ + ": corrupt model: the table section is truncated");
    const unsigned char* at = p_ + pos_;
    pos_ += n;
    return at;
  }
  std::uint32_t u32() { return get_le<std::uint32_t>(take(4)); }
  std::string str() {
    const std::uint32_t n = u32();
    return std::string(reinterpret_cast<const char*>(take(n)), n);
  }
  std::vector<std::string> strs() {
    const std::uint32_t n = u32();
    if (n > size_ - pos_) throw Error(path_ + ": corrupt model: absurd count in the table section");
    std::vector<std::string> v(n);
    for (std::string& s : v) s = str();
    return v;
  }
  bool done() const { return pos_ == size_; }

 private:
  const std::string& path_;
  const unsigned char* p_;
  std::size_t size_, pos_ = 0;
};

}  // namespace

std::string encode_table(const TableEncoding& table) {
  std::string out;
  if (table.empty()) return out;
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(table.columns.size()));
  for (const TableColumn& c : table.columns) {
    put_str(out, c.name);
    out.push_back(c.categorical ? 1 : 0);
    out.push_back(c.indicator ? 1 : 0);
    put_f64(out, c.fill);
    put_strs(out, c.categories);
  }
  put_strs(out, table.missing_values);
  put_str(out, table.label_name);
  put_strs(out, table.classes);
  if (has_quantiles(table))
    for (const TableColumn& c : table.columns) {
      put_le<std::uint32_t>(out, static_cast<std::uint32_t>(c.quantiles.size()));
      for (double v : c.quantiles) put_f64(out, v);
    }
  return out;
}

bool has_quantiles(const TableEncoding& table) {
  for (const TableColumn& c : table.columns)
    if (!c.quantiles.empty()) return true;
  return false;
}

TableEncoding decode_table(const std::string& path, const unsigned char* p, std::size_t size) {
  TableEncoding t;
  if (size == 0) return t;
  Reader r(path, p, size);
  const std::uint32_t columns = r.u32();
  if (columns == 0 || columns > size)
    throw Error(path + ": corrupt model: absurd column count in the table section");
  t.columns.resize(columns);
  for (TableColumn& c : t.columns) {
    c.name = r.str();
    const unsigned char* flags = r.take(2);
    c.categorical = flags[0] != 0;
    c.indicator = flags[1] != 0;
    c.fill = get_f64(r.take(8));
    c.categories = r.strs();
    if (!std::isfinite(c.fill) || (c.categorical && c.categories.empty()))
      throw Error(path + ": corrupt model: column '" + c.name + "' of the table section");
  }
  t.missing_values = r.strs();
  t.label_name = r.str();
  t.classes = r.strs();
  if (!r.done())
    for (TableColumn& c : t.columns) {
      const std::uint32_t k = r.u32();
      if (k > (size - 1) / 8 || (k > 0 && c.categorical))
        throw Error(path + ": corrupt model: absurd knot count in the table section");
      c.quantiles.resize(k);
      for (double& v : c.quantiles) v = get_f64(r.take(8));
      for (std::size_t i = 0; i < k; ++i)
        if (!std::isfinite(c.quantiles[i]) || (i > 0 && c.quantiles[i] < c.quantiles[i - 1]))
          throw Error(path + ": corrupt model: the knots of column '" + c.name +
                      "' in the table section");
    }
  if (!r.done()) throw Error(path + ": corrupt model: trailing bytes in the table section");
  return t;
}

}  // namespace kmpi::detail
