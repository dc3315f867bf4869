// A dense row-major matrix: the local block of a distributed matrix, or a small replicated one.
#pragma once

#include <cstddef>
#include <vector>

namespace kmpi {

// The precision a computation runs in (kernel blocks, a factorisation); storage stays float64
// where sums are long.
enum class Precision { kFloat32, kFloat64 };

template <class T>
class Matrix {
 public:
  Matrix() = default;
  Matrix(std::size_t rows, std::size_t cols, T value = T(0))
      : rows_(rows), cols_(cols), data_(rows * cols, value) {}
  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  T* row(std::size_t i) { return data_.data() + i * cols_; }
  const T* row(std::size_t i) const { return data_.data() + i * cols_; }
  T& operator()(std::size_t i, std::size_t j) { return data_[i * cols_ + j]; }
  const T& operator()(std::size_t i, std::size_t j) const { return data_[i * cols_ + j]; }
  void resize(std::size_t rows, std::size_t cols, T value = T(0)) {
    rows_ = rows;
    cols_ = cols;
    data_.assign(rows * cols, value);
  }
  // Appends `count` rows of cols() values each (a matrix that grows by batches).
  void append_rows(const T* values, std::size_t count) {
    data_.insert(data_.end(), values, values + count * cols_);
    rows_ += count;
  }
  std::vector<T>& storage() { return data_; }
  const std::vector<T>& storage() const { return data_; }

 private:
  std::size_t rows_ = 0, cols_ = 0;
  std::vector<T> data_;
};

// Element type conversion (e.g. float64 data -> float32 kernel operands).
template <class To, class From>
Matrix<To> convert(const Matrix<From>& m) {
  Matrix<To> out(m.rows(), m.cols());
  for (std::size_t i = 0; i < m.size(); ++i) out.data()[i] = static_cast<To>(m.data()[i]);
  return out;
}

// Rows `rows` of m, in that order.
template <class T, class Index>
Matrix<T> select_rows(const Matrix<T>& m, const std::vector<Index>& rows) {
  Matrix<T> out(rows.size(), m.cols());
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < m.cols(); ++j) out(i, j) = m(static_cast<std::size_t>(rows[i]), j);
  return out;
}

}  // namespace kmpi
