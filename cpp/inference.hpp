// Posteriors of a conditionally independent label model: p(y | votes) from per-LF conditional tables.
#pragma once
#include <cstdint>

#include "label_matrix.hpp"

namespace labelfuse {

struct PosteriorModel {
    int64_t n_lfs = 0, cardinality = 0, n_groups = 1;
    // log P(lambda_j = c | y) laid out [g][j][c + 1][y]: index 0 of the vote axis is the abstention.
    const double* log_cpt = nullptr;
    const double* log_prior = nullptr;  // [g][y]
    const int64_t* groups = nullptr;    // per row, or null for one group
};

// Writes n x k posteriors into out (row-major). Validates votes and group ids (std::invalid_argument).
template <class T>
void posterior(const LabelView<T>& L, const PosteriorModel& model, double* out, int n_threads);

}  // namespace labelfuse
