// Covariance / matrix-completion recovery (Snorkel / MeTaL-style) of class-conditional LF tables.
//
// With psi_i the one-hot vote of LF i (all zeros when it abstains) and mu_i[c][y] = P(lambda_i = c | y), conditional
// independence gives, for i != j, the off-diagonal blocks of the overlap matrix
//     O_ij = E[psi_i psi_j^T] = mu_i P mu_j^T,    P = diag(class balance),
// and the first moments o_i = E[psi_i] = mu_i pi. The diagonal blocks O_ii = diag(o_i) are not low-rank-explainable
// and are left out. We minimise
//     sum_{i != j} ||O_ij - mu_i P mu_j^T||^2 + w^2 sum_i ||mu_i pi - o_i||^2 + lambda sum_i ||mu_i - mu0_i||^2
// by block-coordinate (Gauss-Seidel) least squares over the k x k blocks mu_i, alternating, when pi is estimated,
// with a step along the scale valley that O leaves free (see class_balance_step). mu0 is the triplet fit (warm start
// and ridge target).
#pragma once
#include <cstdint>
#include <vector>

#include "triplet.hpp"

namespace labelfuse {

struct CovarianceOptions {
    int64_t max_sweeps = 30;          // Gauss-Seidel sweeps per class-balance step
    int64_t max_outer = 6;            // alternations between mu and the class balance (1 when it is given)
    double tol = 1e-4;                // stop when no entry of mu (a probability) moves by more than tol
    double ridge = 1e-2;              // lambda relative to the mean curvature of a block
    double first_moment_weight = 1.0; // w
    bool clamp = true;                // enforce P(vote c | y = c) >= P(vote c | y) for every LF, vote and y
    TripletOptions warm;              // the warm start
};

struct CovarianceInput {
    int64_t n_lfs = 0, cardinality = 2, n_rows = 0;
    const int64_t* overlap = nullptr;       // [m][k][m][k] one-hot co-occurrence counts
    const int64_t* covote = nullptr;        // [m][m]
    const int64_t* agree = nullptr;         // [m][m]
    const int64_t* class_counts = nullptr;  // [m][k]
    const double* class_balance = nullptr;  // [k] or null: estimated
};

struct CovarianceResult {
    std::vector<double> mu;             // [m][k][k] P(lambda_i = c | y), vote c (axis 1), class y (axis 2)
    std::vector<double> class_balance;  // [k]
    std::vector<double> cpt;            // [m][k+1][k], vote index 0 = abstain
    std::vector<double> accuracy;       // [m] P(vote = y | votes) under the fitted class balance; NaN: never votes
    std::vector<double> warm_accuracy;  // [m] the triplet warm start
    std::vector<int64_t> duplicate_of;  // [m]
    std::vector<int64_t> permutation;   // [k] column relabelling applied by the better-than-random check (with a
                                        // given class balance only one that maps the balance onto itself)
    int64_t sweeps = 0, outer = 0, clamped = 0;
    double loss = 0.0;                  // off-diagonal squared residual sum_{i != j} ||O_ij - mu_i P mu_j^T||^2
    bool converged = false;
};

CovarianceResult fit_covariance(const CovarianceInput& in, const CovarianceOptions& opt);

}  // namespace labelfuse
