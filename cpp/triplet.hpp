// Triplet (FlyingSquid-style) recovery of LF accuracies from pairwise agreement moments.
//
// Model: y ~ Cat(pi); LF i votes with a probability independent of y and, when it votes, is right with
// probability acc_i and otherwise picks one of the k-1 other classes uniformly. Then for two LFs that both vote
//     M_ij := (k * P(agree | both vote) - 1) / (k - 1) = a_i a_j,    a_i := (k acc_i - 1) / (k - 1),
// whatever pi is (k = 2: M_ij = E[v_i v_j | both vote] with v = +-1). Three LFs give |a_i| = sqrt|M_ij M_ik / M_jk|.
#pragma once
#include <cstdint>
#include <vector>

namespace labelfuse {

struct TripletOptions {
    int64_t min_overlap = 10;        // co-votes a pair needs before its moment is used at all
    double min_denominator_z = 3.0;  // skip a triplet when |M_jk| < z * sd(M_jk) (the denominator is ~0)
    double fallback_accuracy = 0.7;  // LFs that no triplet or pair identifies
    double max_accuracy = 0.999;     // keeps every vote from being treated as certain
    bool median = false;             // aggregate a_i^2 over triplets by the plain median instead of the weighted mean
    bool dedupe = true;              // fit identical columns once; their copies do not count again in the posterior
};

// How an LF's accuracy was obtained (reported to the user).
enum TripletSource : int64_t {
    kFromTriplets = 0,
    kFromPairs = 1,    // no valid triplet: a_i = M_ij / a_j over identified partners j
    kFallback = 2,     // nothing identifies it: fallback_accuracy
    kNeverVotes = 3,   // all abstain: accuracy undefined (NaN), CPT all-abstain
    kDuplicate = 4,    // identical to an earlier column: shares its accuracy, CPT independent of y
};

struct TripletInput {
    int64_t n_lfs = 0, cardinality = 2, n_rows = 0;
    const int64_t* covote = nullptr;        // [m][m] rows where both vote (diagonal: coverage)
    const int64_t* agree = nullptr;         // [m][m] rows where both vote the same class
    const int64_t* class_counts = nullptr;  // [m][k]
    const double* class_balance = nullptr;  // [k] or null: estimated
};

struct TripletResult {
    std::vector<double> accuracy;       // [m] P(vote = y | y, votes); NaN for LFs that never vote
    std::vector<double> class_balance;  // [k]
    std::vector<double> cpt;            // [m][k+1][k] P(lambda = c | y), vote index 0 = abstain
    std::vector<int64_t> source;        // [m] TripletSource
    std::vector<int64_t> n_triplets;    // [m] triplets that entered the estimate
    std::vector<int64_t> duplicate_of;  // [m] representative column, or -1
    bool class_balance_estimated = false;
};

TripletResult fit_triplet(const TripletInput& in, const TripletOptions& opt);

// a_i (accuracy above chance, in [0, 1]) -> accuracy, and the symmetric conditional table of one LF.
double accuracy_from_centered(double a, int64_t k);
void symmetric_cpt(double accuracy, double coverage, int64_t k, double* cpt /* [k+1][k] */);

}  // namespace labelfuse
