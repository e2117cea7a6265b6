// Majority vote and the column comparison behind incremental refits.
#pragma once
#include <cstdint>

#include "label_matrix.hpp"

namespace labelfuse {

// out (n x k, row-major): each row's vote shares; rows without a vote get `fallback` (k). Validates votes
// (std::invalid_argument naming the first bad entry).
template <class T>
void majority_proba(const LabelView<T>& L, int64_t cardinality, const double* fallback, double* out, int n_threads);

// Sum over rows with at least one vote of their vote shares (k), and the number of such rows; summed in fixed
// row blocks in a fixed order, so the result does not depend on the thread count.
template <class T>
int64_t majority_share_sum(const LabelView<T>& L, int64_t cardinality, double* sum, int n_threads);

// changed[j] = 1 where column j of a and b differ somewhere (same shape required).
template <class A, class B>
void changed_columns(const LabelView<A>& a, const LabelView<B>& b, uint8_t* changed, int n_threads);

}  // namespace labelfuse
