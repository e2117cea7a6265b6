// Dawid-Skene: EM over class-conditional confusion matrices and class priors, run on unique vote patterns.
#pragma once
#include <cstdint>
#include <vector>

#include "label_matrix.hpp"

namespace labelfuse {

// The distinct rows of a label matrix with their multiplicities, votes stored sparsely: pattern p votes
// codes[offsets[p] .. offsets[p+1]-1], each code = j * k + c (LF j voted class c). Patterns appear in the order
// of their first row (never dependent on the thread count).
struct VotePatterns {
    int64_t n_rows = 0, n_lfs = 0, cardinality = 0;
    std::vector<int64_t> offsets;  // n_patterns + 1
    std::vector<int32_t> codes;
    std::vector<double> counts;    // rows per pattern
    int64_t n_patterns() const { return static_cast<int64_t>(counts.size()); }
};

// Throws std::invalid_argument naming the first bad (row, column, value) if a vote is out of range.
template <class T>
VotePatterns vote_patterns(const LabelView<T>& L, int64_t cardinality, int n_threads);

struct DawidSkeneOptions {
    int64_t max_iter = 100;
    double tol = 1e-8;         // stop when the mean log-likelihood per row changes by less
    double smoothing = 0.01;   // Dirichlet pseudo-count added to every confusion (and prior) count
    bool model_abstentions = true;  // P(abstain | y) is a parameter; otherwise abstentions are ignored
    const double* fixed_prior = nullptr;  // (k,) keep the class balance fixed at this
    // Warm start: P(lambda_j = c | y) as (m, k+1, k) (vote index 0 = abstain) and a prior (k,). Without it EM
    // starts from the soft majority vote.
    const double* init_cpt = nullptr;
    const double* init_prior = nullptr;
    bool accelerate = true;  // SQUAREM extrapolation between EM steps (same fixed points, far fewer passes)
};

struct DawidSkeneResult {
    std::vector<double> cpt;    // (m, k+1, k) P(lambda_j = c | y), vote index 0 = abstain; columns sum to 1
    std::vector<double> prior;  // (k,)
    int64_t n_iter = 0;         // E-steps (passes over the patterns) run
    bool converged = false;
    double log_likelihood = 0;  // mean per row, of the last E-step (ignoring mode: covered rows only)
    int64_t n_patterns = 0;
    std::vector<double> coverage;  // (m,) fraction of rows each LF votes on
};

// n_threads (>= 1) bounds the threads of each EM pass; the result is identical for every thread count.
DawidSkeneResult dawid_skene(const VotePatterns& patterns, const DawidSkeneOptions& opt, int n_threads);

}  // namespace labelfuse
