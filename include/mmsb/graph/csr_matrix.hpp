// csr_matrix<T>: the weights of a matrix edge, `dst ⊕= A ⊗ src`, with A[i, j] the weight from
// source slot j to destination slot i. Stored twice: by row (CSR, for recomputing a destination
// slot from all of its sources) and by column (CSC, for pushing one changed source slot to the
// destinations it reaches). Both keep entries sorted by index, so every traversal has one fixed
// order and recomputation is bit-for-bit reproducible.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/bits.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/memory/huge_pages.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

namespace mmsb {

// One weight A[row, col] of a matrix edge, as given to csr_matrix::from_entries.
template <class T>
struct matrix_entry {
  std::uint32_t row;  // destination slot
  std::uint32_t col;  // source slot
  T value;            // the weight, ⊗-multiplied with the source slot's value
};

// An immutable sparse matrix (see the top comment). Built only by from_entries (or filter_rows);
// the default is 0 × 0. Safe to share read-only between threads and edges.
template <class T>
class csr_matrix {
public:
  using value_type = T;  // the weights' type (the semiring's value_type)
  // std::vector<bool> is not an array: boolean weights are stored one byte each.
  using stored_type = std::conditional_t<std::is_same_v<T, bool>, std::uint8_t, T>;

  csr_matrix() = default;

  // Builds a rows × cols matrix from entries in any order. Throws mmsb::error naming the entry
  // and the shape if an index is out of range, or if (row, col) appears twice.
  static csr_matrix from_entries(std::size_t rows, std::size_t cols, span<const matrix_entry<T>> entries)
  {
    if (rows > UINT32_MAX || cols > UINT32_MAX || entries.size() > UINT32_MAX)
      throw error(errc::out_of_range, "csr_matrix: shape " + std::to_string(rows) + " x " + std::to_string(cols) +
                                        " with " + std::to_string(entries.size()) + " entries is past 2^32");
    csr_matrix m;
    m.rows_ = static_cast<std::uint32_t>(rows);
    m.cols_ = static_cast<std::uint32_t>(cols);
    for (const auto& e : entries)
      if (e.row >= rows || e.col >= cols)
        throw error(errc::out_of_range, "csr_matrix: entry (" + std::to_string(e.row) + ", " + std::to_string(e.col) +
                                          ") is outside the " + std::to_string(rows) + " x " + std::to_string(cols) +
                                          " shape");
    m.build(entries);
    return m;
  }

  // Number of rows (destination slots).
  [[nodiscard]] std::size_t rows() const noexcept { return rows_; }
  // Number of columns (source slots).
  [[nodiscard]] std::size_t cols() const noexcept { return cols_; }
  // Number of stored entries.
  [[nodiscard]] std::size_t nnz() const noexcept { return row_col_.size(); }

  // Row i: its source columns (ascending) and weights.
  [[nodiscard]] span<const std::uint32_t> row_cols(std::size_t i) const noexcept
  {
    return {row_col_.data() + row_ptr_[i], row_ptr_[i + 1] - row_ptr_[i]};
  }
  // Row i's weights, in the order of row_cols(i). i < rows(), unchecked.
  [[nodiscard]] span<const stored_type> row_values(std::size_t i) const noexcept
  {
    return {row_val_.data() + row_ptr_[i], row_ptr_[i + 1] - row_ptr_[i]};
  }
  // Column j: the destination rows (ascending) it reaches and the weights.
  [[nodiscard]] span<const std::uint32_t> col_rows(std::size_t j) const noexcept
  {
    return {col_row_.data() + col_ptr_[j], col_ptr_[j + 1] - col_ptr_[j]};
  }
  // Column j's weights, in the order of col_rows(j). j < cols(), unchecked.
  [[nodiscard]] span<const stored_type> col_values(std::size_t j) const noexcept
  {
    return {col_val_.data() + col_ptr_[j], col_ptr_[j + 1] - col_ptr_[j]};
  }

  // Raw CSR arrays (row_ptr has rows + 1 entries), for kernels and peers' import.
  [[nodiscard]] span<const std::uint64_t> row_ptr() const noexcept { return {row_ptr_.data(), row_ptr_.size()}; }
  // CSR column indices (nnz entries; row i's are [row_ptr[i], row_ptr[i + 1])).
  [[nodiscard]] span<const std::uint32_t> col_index() const noexcept { return {row_col_.data(), row_col_.size()}; }
  // CSR weights, parallel to col_index().
  [[nodiscard]] span<const stored_type> values() const noexcept { return {row_val_.data(), row_val_.size()}; }
  // Raw CSC arrays: the same entries by column (col_ptr has cols + 1 entries).
  [[nodiscard]] span<const std::uint64_t> col_ptr() const noexcept { return {col_ptr_.data(), col_ptr_.size()}; }
  // CSC row indices (nnz entries; column j's are [col_ptr[j], col_ptr[j + 1])).
  [[nodiscard]] span<const std::uint32_t> row_index() const noexcept { return {col_row_.data(), col_row_.size()}; }
  // CSC weights, parallel to row_index().
  [[nodiscard]] span<const stored_type> col_major_values() const noexcept { return {col_val_.data(), col_val_.size()}; }

  // Whether every entry lies on the diagonal (square, row == column): slot i feeds slot i only.
  [[nodiscard]] bool diagonal() const noexcept { return diagonal_; }
  // For a diagonal matrix, its entries as bit masks of words_for(rows()) words each: first bit i
  // set where (i, i) is an entry, then bit i set where that entry's weight is not T{} (for bool
  // weights: true). Empty for any other matrix. For word-wide propagation over packed booleans.
  [[nodiscard]] span<const word_t> diagonal_masks() const noexcept { return {diag_masks_.data(), diag_masks_.size()}; }

  // Whether every stored weight is bit-identical to the first (true for an empty matrix): a pattern
  // matrix, such as GraphBLAS's iso-valued ones. Row sums over weights equal to the semiring's
  // one() can then skip ⊗ and the weights (graph_state::recompute_every_row).
  [[nodiscard]] bool uniform() const noexcept { return uniform_; }

  // Every entry, row-major.
  [[nodiscard]] std::vector<matrix_entry<T>> entries() const
  {
    std::vector<matrix_entry<T>> out;
    out.reserve(nnz());
    for (std::uint32_t i = 0; i < rows_; ++i)
      for (std::uint64_t k = row_ptr_[i]; k < row_ptr_[i + 1]; ++k) out.push_back({i, row_col_[k], static_cast<T>(row_val_[k])});
    return out;
  }

  // Keeps only the rows keep(row) accepts: GraphBLAS's structural mask on the output, so rows
  // outside it receive nothing through this edge.
  template <class Predicate>
  [[nodiscard]] csr_matrix filter_rows(Predicate keep) const
  {
    std::vector<matrix_entry<T>> kept;
    for (const auto& e : entries())
      if (keep(e.row)) kept.push_back(e);
    return from_entries(rows_, cols_, {kept.data(), kept.size()});
  }

  // Heap bytes held by both orders (capacities, not sizes).
  [[nodiscard]] std::size_t memory_bytes() const noexcept
  {
    return (row_ptr_.capacity() + col_ptr_.capacity()) * sizeof(std::uint64_t) +
           (row_col_.capacity() + col_row_.capacity()) * sizeof(std::uint32_t) +
           (row_val_.capacity() + col_val_.capacity()) * sizeof(stored_type) + diag_masks_.capacity() * sizeof(word_t);
  }

private:
  // Counting sort into both orders: O(nnz + rows + cols), stable, so ties keep input order and
  // the duplicate check is one pass over each sorted row.
  void build(span<const matrix_entry<T>> entries)
  {
    const std::size_t n = entries.size();
    row_ptr_.assign(std::size_t{rows_} + 1, 0);
    col_ptr_.assign(std::size_t{cols_} + 1, 0);
    for (const auto& e : entries) {
      ++row_ptr_[e.row + 1];
      ++col_ptr_[e.col + 1];
    }
    std::partial_sum(row_ptr_.begin(), row_ptr_.end(), row_ptr_.begin());
    std::partial_sum(col_ptr_.begin(), col_ptr_.end(), col_ptr_.begin());
    // Column-major first (stable in input order), then row-major from it: rows come out sorted
    // by column without a comparison sort.
    std::vector<std::uint32_t> by_col(n);
    {
      std::vector<std::uint64_t> next(col_ptr_.begin(), col_ptr_.end() - 1);
      for (std::uint32_t k = 0; k < n; ++k) by_col[next[entries[k].col]++] = k;
    }
    row_col_.resize(n);
    row_val_.resize(n);
    {
      std::vector<std::uint64_t> next(row_ptr_.begin(), row_ptr_.end() - 1);
      for (const std::uint32_t k : by_col) {
        const auto& e = entries[k];
        const std::uint64_t at = next[e.row]++;
        row_col_[at] = e.col;
        row_val_[at] = static_cast<stored_type>(e.value);
      }
    }
    for (std::uint32_t i = 0; i < rows_; ++i)
      for (std::uint64_t k = row_ptr_[i] + 1; k < row_ptr_[i + 1]; ++k)
        if (row_col_[k] == row_col_[k - 1])
          throw error(errc::invalid_argument, "csr_matrix: entry (" + std::to_string(i) + ", " +
                                                std::to_string(row_col_[k]) + ") appears twice");
    col_row_.resize(n);
    col_val_.resize(n);
    std::vector<std::uint64_t> next(col_ptr_.begin(), col_ptr_.end() - 1);
    for (std::uint32_t i = 0; i < rows_; ++i)
      for (std::uint64_t k = row_ptr_[i]; k < row_ptr_[i + 1]; ++k) {
        const std::uint64_t at = next[row_col_[k]]++;
        col_row_[at] = i;
        col_val_[at] = row_val_[k];
      }
    uniform_ = n == 0 || std::all_of(row_val_.begin(), row_val_.end(), [&](const stored_type& v) {
      return std::memcmp(&v, row_val_.data(), sizeof(stored_type)) == 0;
    });
    diagonal_ = rows_ == cols_;
    for (std::uint32_t i = 0; i < rows_ && diagonal_; ++i)
      diagonal_ = row_ptr_[i + 1] == row_ptr_[i] || (row_ptr_[i + 1] == row_ptr_[i] + 1 && row_col_[row_ptr_[i]] == i);
    if (!diagonal_) return;
    const std::size_t w = words_for(rows_);
    diag_masks_.assign(2 * w, 0);
    for (std::uint32_t i = 0; i < rows_; ++i)
      if (row_ptr_[i + 1] != row_ptr_[i]) {
        set_bit(diag_masks_.data(), i);
        if (row_val_[row_ptr_[i]] != stored_type{}) set_bit(diag_masks_.data() + w, i);
      }
  }

  std::uint32_t rows_ = 0, cols_ = 0;
  // Read at random rows and columns: huge pages from 2 MiB up (memory/huge_pages.hpp).
  std::vector<std::uint64_t, huge_page_allocator<std::uint64_t>> row_ptr_{0}, col_ptr_{0};
  std::vector<std::uint32_t, huge_page_allocator<std::uint32_t>> row_col_, col_row_;
  std::vector<stored_type, huge_page_allocator<stored_type>> row_val_, col_val_;
  bool diagonal_ = true;            // the empty 0 x 0 matrix is diagonal
  bool uniform_ = true;             // see uniform()
  std::vector<word_t> diag_masks_;  // see diagonal_masks()
};

// f(i) for every row i whose entries differ, bit for bit, between a and b (same shape): what
// set_weights recomputes, and what a bus logs of a reweighting.
template <class T, class F>
void for_each_differing_row(const csr_matrix<T>& a, const csr_matrix<T>& b, F&& f)
{
  for (std::uint32_t i = 0; i < a.rows(); ++i) {
    const auto c0 = a.row_cols(i), c1 = b.row_cols(i);
    const auto v0 = a.row_values(i), v1 = b.row_values(i);
    if (c0.size() != c1.size() || !std::equal(c0.begin(), c0.end(), c1.begin()) ||
        (!v0.empty() && std::memcmp(v0.data(), v1.data(), v0.size_bytes()) != 0))  // an empty matrix's data() is null
      f(i);
  }
}

} // namespace mmsb
