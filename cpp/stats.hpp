// Label-matrix sufficient statistics, computed in one pass over the rows, per group.
#pragma once
#include <cstdint>
#include <vector>

#include "label_matrix.hpp"

namespace labelfuse {

struct StatsOptions {
    int64_t cardinality = 2;     // k: votes are -1 (abstain) or 0..k-1
    bool overlap_matrix = false; // also count the one-hot overlap O[(i,a),(j,b)] (memory G*(m*k)^2)
    const int64_t* gold = nullptr;  // optional gold label per row id, already validated to 0..k-1
    // Incremental updates: rows at position p of the RowSet read column `override_col` from
    // override_values[p] instead of the matrix.
    int64_t override_col = -1;
    const int64_t* override_values = nullptr;
    // When >= 0 only the terms that can change with this LF's column are counted: its class counts and
    // confusion, pairs and overlap blocks involving it, and every LF's overlap/conflict counts (a row's
    // flags depend on all its votes). Used for delta = stats(rows, new) - stats(rows, old).
    int64_t focus_col = -1;
};

// Flat int64 buffers, each with a leading group axis of length G.
struct Stats {
    int64_t n_groups = 0, n_lfs = 0, cardinality = 0;
    bool has_overlap = false, has_gold = false;
    int n_threads_used = 1;  // threads the pass ran on: at most n_threads, 1 below the serial cutoff
    std::vector<int64_t> rows;          // [G]       rows visited
    std::vector<int64_t> covered;       // [G]       rows with at least one vote
    std::vector<int64_t> overlapping;   // [G]       rows with at least two votes
    std::vector<int64_t> conflicting;   // [G]       rows with two different votes
    std::vector<int64_t> class_counts;  // [G,m,k]   votes of LF j for class c
    std::vector<int64_t> lf_overlaps;   // [G,m]     rows where LF j votes and another LF votes too
    std::vector<int64_t> lf_conflicts;  // [G,m]     rows where LF j votes and another LF votes differently
    std::vector<int64_t> covote;        // [G,m,m]   rows where both vote (diagonal: coverage)
    std::vector<int64_t> agree;         // [G,m,m]   rows where both vote the same class (diagonal: coverage)
    std::vector<int64_t> overlap;       // [G,m,k,m,k] one-hot co-occurrence, if requested
    std::vector<int64_t> confusion;     // [G,m,k,k] gold y (axis 2) x vote c (axis 3), if gold given
    std::vector<int64_t> gold_counts;   // [G,k]     gold class counts, if gold given

    void allocate(int64_t G, int64_t m, int64_t k, bool overlap_matrix, bool gold);
};

// Throws std::invalid_argument naming the first offending (row, column, value) if a vote is out of range.
// n_threads (>= 1) is an upper bound: small inputs run on fewer threads (see Stats::n_threads_used). The counts
// are identical for every thread count.
template <class T>
Stats compute_stats(const LabelView<T>& L, const RowSet& rows, const StatsOptions& opt, int n_threads);

// Below this many visited votes (rows x LFs) compute_stats runs on one thread: waking threads costs more.
constexpr int64_t kStatsSerialVotes = int64_t{1} << 16;
// Each thread of compute_stats holds a full single-group accumulator, so it never runs more threads than blocks
// of this many rows (the memory check of label_stats in Python counts on this bound).
constexpr int64_t kStatsRowsPerThread = 1024;

// Stable counting sort of row ids by group id (validated to 0..G-1): returns order (n) and offsets (G+1).
void group_order(const int64_t* groups, int64_t n, int64_t n_groups, std::vector<int64_t>& order,
                 std::vector<int64_t>& offsets);

}  // namespace labelfuse
