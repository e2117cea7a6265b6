// Fast path for the statistics (k <= 127; with the overlap matrix k <= 8): rows are processed 256 at a time as
// per-LF bitsets (votes, and the bits of the voted class), so that co-votes, agreements and gold-label confusion
// counts become AND + popcount over machine words instead of per-row loops. Blocks are held in a superblock of up
// to kBitsetMaxSlots blocks and the pair counts run over the whole superblock at once: one pass per LF pair over
// contiguous words (AVX2 where the CPU has it, chosen at run time) instead of one short loop per block.
#pragma once
#include <cstdint>
#include <vector>

#include "label_matrix.hpp"
#include "stats.hpp"

namespace labelfuse {

constexpr int64_t kBitsetBlockRows = 256;
constexpr int64_t kBitsetMaxCardinality = 127;
constexpr int64_t kBitsetMaxOverlapCardinality = 8;  // beyond, k^2 mask pairs cost more than the row path
constexpr int64_t kBitsetMaxSlots = 32;              // blocks per superblock (8192 rows)
constexpr int64_t kBitsetGoldMaskCardinality = 4;    // gold confusion from k x k mask pairs up to here, else per vote

class BitsetBlock {
  public:
    // With overlap_matrix (k <= kBitsetMaxOverlapCardinality), pairs are counted into the one-hot overlap O
    // instead of co-vote / agreement counts (which finalize derives from O). gold, focus_col, override_col and
    // override_values mean what they mean in StatsOptions (gold labels; incremental updates).
    BitsetBlock(int64_t n_lfs, int64_t cardinality, bool overlap_matrix, const int64_t* gold = nullptr,
                int64_t focus_col = -1, int64_t override_col = -1, const int64_t* override_values = nullptr);

    // Accumulates rows at positions [begin, end) (at most kBitsetBlockRows) into `acc` (one group); their pair
    // counts are added by the next `flush`, which must come before `acc` is read or changes group.
    // Returns false, leaving `acc` untouched, if a vote is out of range (the caller then re-reads the block
    // on the checked path, which names the offender).
    template <class T>
    bool accumulate(const LabelView<T>& L, const RowSet& rows, int64_t begin, int64_t end, Stats& acc);

    // Adds the pair counts (co-votes and agreements, or the overlap matrix) of the blocks held since the last flush.
    void flush(Stats& acc);

  private:
    void build_bitsets(int64_t offset);
    void transpose_int8_rows(const int8_t* data, int64_t row_stride, const RowSet& rows, int64_t begin,
                             int64_t n_rows, uint64_t& bad);
    void count_block(int64_t n_rows, int64_t offset, Stats& acc);

    int64_t m_, k_;
    bool overlap_;
    const int64_t* gold_;
    int64_t focus_, override_col_;
    const int64_t* override_values_;
    int64_t planes_;
    int64_t slots_, stride_;        // blocks per superblock; words per LF (and per plane / mask) in the superblock
    int64_t used_ = 0;              // blocks held since the last flush
    std::vector<int8_t> columns_;   // [m][256] votes of the current block, column-major, padded with -1
    std::vector<uint64_t> votes_;   // [m][stride]
    std::vector<uint64_t> bits_;    // [m][planes][stride] bit p of the voted class
    std::vector<uint64_t> masks_;   // [m][k][stride] votes for class c (overlap mode only)
    std::vector<uint8_t> any_;      // [m] the LF votes in a held block
    std::vector<int64_t> active_;   // LFs with at least one vote in the superblock
    std::vector<int8_t> gold_col_;  // [256] gold labels of the current block, padded with -1
    std::vector<int8_t> padding_;   // an all-abstain row standing in for the rows after the last
};

}  // namespace labelfuse
