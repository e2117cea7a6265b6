// A read-only view over a caller-owned label matrix of any signed integer type and any strides.
#pragma once
#include <cstdint>

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

}  // namespace labelfuse
