// Radius-bounded nearest-neighbour extension of LF votes (Epoxy's rule), over a cached top-K neighbour graph.
#pragma once
#include <cstdint>
#include <vector>

#include "label_matrix.hpp"

namespace labelfuse {

// The rule, for each LF j and each query row i on which j abstains: s_c = the highest cosine similarity between
// x_i and a database row where j votes c. The winning class is taken when its s_c is unique and strictly above
// thresholds[j]; ties and everything at or below the threshold stay abstain. A query row never matches the
// database row of the same index when self_query is set (the training split queried against itself).
//
// The top-K lists decide most (i, j) pairs; where they cannot (the list ends while similarities are still above
// the threshold and no voter of j was seen, or a tie at the best similarity may continue past the list) the pair
// falls back to an exact scan over j's voters, so the result equals the brute-force rule for an exact graph.
struct ExtendInput {
    int64_t n_query = 0, n_db = 0, n_lfs = 0, cardinality = 0;
    int64_t n_neighbors = 0;          // K
    const int64_t* nbr_ids = nullptr;   // n_query x K, row-major; -1 pads a short list
    const float* nbr_sims = nullptr;    // n_query x K, non-increasing along each row
    int64_t dim = 0;
    const float* X_query = nullptr;     // n_query x dim unit rows (for the exact fallback)
    const float* X_db = nullptr;        // n_db x dim
    const double* thresholds = nullptr; // n_lfs
    bool self_query = false;
    // Optional output, n_query x n_lfs: the similarity of the voter whose class was taken, -inf where nothing was
    // taken. The rule at any threshold t >= thresholds[j] is then "take out(i, j) where best_sims(i, j) > t", so
    // one call at the lowest threshold of a tuning grid decides the whole grid.
    float* best_sims = nullptr;
};

struct ExtendReport {
    std::vector<int64_t> extended;  // per LF: abstentions turned into votes
    std::vector<int64_t> fallback;  // per LF: (row, LF) pairs decided by the exact scan
};

// out: n_query x n_lfs row-major, same element type as the label matrices.
template <class T>
ExtendReport extend_votes(const LabelView<T>& L_db, const LabelView<T>& L_query, const ExtendInput& in, T* out,
                          int n_threads);

}  // namespace labelfuse
