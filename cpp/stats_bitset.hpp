// Fast path for the statistics without gold labels (k <= 127; with the overlap matrix k <= 8): rows are
// processed 256 at a time as per-LF bitsets (votes, and the bits of the voted class), so that co-votes and
// agreements become AND + popcount over machine words instead of per-row pair loops.
#pragma once
#include <cstdint>
#include <vector>

#include "label_matrix.hpp"
#include "stats.hpp"

namespace labelfuse {

constexpr int64_t kBitsetBlockRows = 256;
constexpr int64_t kBitsetMaxCardinality = 127;
constexpr int64_t kBitsetMaxOverlapCardinality = 8;  // beyond, k^2 mask pairs cost more than the row path

class BitsetBlock {
  public:
    // With overlap_matrix (k <= kBitsetMaxOverlapCardinality), pairs are counted into the one-hot overlap O
    // instead of co-vote / agreement counts (which finalize derives from O). focus_col, override_col and
    // override_values mean what they mean in StatsOptions (incremental updates).
    BitsetBlock(int64_t n_lfs, int64_t cardinality, bool overlap_matrix, int64_t focus_col = -1,
                int64_t override_col = -1, const int64_t* override_values = nullptr);

    // Accumulates rows at positions [begin, end) (at most kBitsetBlockRows) into `acc` (one group).
    // Returns false, leaving `acc` untouched, if a vote is out of range (the caller then re-reads the block
    // on the checked path, which names the offender).
    template <class T>
    bool accumulate(const LabelView<T>& L, const RowSet& rows, int64_t begin, int64_t end, Stats& acc);

  private:
    void build_bitsets();
    void transpose_int8_rows(const int8_t* data, int64_t row_stride, const RowSet& rows, int64_t begin,
                             int64_t n_rows, uint64_t& bad);
    void count(int64_t n_rows, Stats& acc);

    int64_t m_, k_;
    bool overlap_;
    int64_t focus_, override_col_;
    const int64_t* override_values_;
    int64_t planes_;
    std::vector<int8_t> columns_;   // [m][256] votes, column-major, padded with -1
    std::vector<uint64_t> votes_;   // [m][4]
    std::vector<uint64_t> bits_;    // [m][planes][4] bit p of the voted class
    std::vector<int64_t> active_;   // LFs with at least one vote in the block
    std::vector<uint64_t> masks_;   // [m][k][4] votes for class c (overlap mode only)
    std::vector<int8_t> padding_;   // an all-abstain row standing in for the rows after the last
};

}  // namespace labelfuse
