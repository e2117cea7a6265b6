// A read-only view over a caller-owned label matrix of any signed integer type and any strides.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace labelfuse {

template <class T>
struct LabelView {
    const T* data;
    int64_t n_rows;
    int64_t n_cols;
    int64_t row_stride;  // in elements, may be negative
    int64_t col_stride;  // in elements, may be negative

    int64_t operator()(int64_t r, int64_t j) const { return static_cast<int64_t>(data[r * row_stride + j * col_stride]); }
};

// Which rows to visit, grouped: group g holds positions offsets[g] .. offsets[g+1]-1 of `order` (row ids).
// order == nullptr means the identity (only valid with one group).
struct RowSet {
    int64_t n_groups;
    const int64_t* offsets;  // n_groups + 1
    const int64_t* order;    // may be null
    int64_t row(int64_t pos) const { return order ? order[pos] : pos; }
};

// The one wording of an out-of-range vote, so every kernel names the offender the same way.
inline std::string bad_vote_message(int64_t row, int64_t col, int64_t value, int64_t k) {
    return "L: entry (row " + std::to_string(row) + ", column " + std::to_string(col) + ") is " +
           std::to_string(value) + "; votes must be -1 (abstain) or a class in 0.." + std::to_string(k - 1);
}

// Called once a row is known to hold an out-of-range vote: throws std::invalid_argument naming the first one.
template <class T>
[[noreturn]] void throw_bad_vote(const LabelView<T>& L, int64_t r, int64_t k) {
    for (int64_t j = 0; j < L.n_cols; ++j) {
        const int64_t c = L(r, j);
        if (c < -1 || c >= k) throw std::invalid_argument(bad_vote_message(r, j, c, k));
    }
    throw std::logic_error("throw_bad_vote: row " + std::to_string(r) + " has no out-of-range vote");
}

}  // namespace labelfuse
