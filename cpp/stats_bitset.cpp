#include "stats_bitset.hpp"

#include <algorithm>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace labelfuse {

namespace {

constexpr int64_t kWords = kBitsetBlockRows / 64;

#if defined(__SSE2__)
// 16 rows x 16 int8 columns -> 16 columns x 16 rows, in four rounds of interleaving.
inline void transpose16(const __m128i in[16], __m128i out[16]) {
    __m128i b[16], c[16], d[16];
    for (int i = 0; i < 8; ++i) {  // b[h*8+i]: rows 2i..2i+1, columns 8h..8h+7
        b[i] = _mm_unpacklo_epi8(in[2 * i], in[2 * i + 1]);
        b[i + 8] = _mm_unpackhi_epi8(in[2 * i], in[2 * i + 1]);
    }
    for (int h = 0; h < 2; ++h)
        for (int i = 0; i < 4; ++i) {  // c[h*8+q*4+i]: rows 4i..4i+3, columns 8h+4q..8h+4q+3
            c[h * 8 + i] = _mm_unpacklo_epi16(b[h * 8 + 2 * i], b[h * 8 + 2 * i + 1]);
            c[h * 8 + i + 4] = _mm_unpackhi_epi16(b[h * 8 + 2 * i], b[h * 8 + 2 * i + 1]);
        }
    for (int g = 0; g < 4; ++g)
        for (int i = 0; i < 2; ++i) {  // d[g*4+p*2+i]: rows 8i..8i+7, columns 4g+2p..4g+2p+1
            d[g * 4 + i] = _mm_unpacklo_epi32(c[g * 4 + 2 * i], c[g * 4 + 2 * i + 1]);
            d[g * 4 + i + 2] = _mm_unpackhi_epi32(c[g * 4 + 2 * i], c[g * 4 + 2 * i + 1]);
        }
    for (int g = 0; g < 4; ++g)
        for (int p = 0; p < 2; ++p) {
            out[4 * g + 2 * p] = _mm_unpacklo_epi64(d[g * 4 + p * 2], d[g * 4 + p * 2 + 1]);
            out[4 * g + 2 * p + 1] = _mm_unpackhi_epi64(d[g * 4 + p * 2], d[g * 4 + p * 2 + 1]);
        }
}
#endif

int bit_width(int64_t x) {
    int w = 0;
    while (x > 0) { ++w; x >>= 1; }
    return w;
}

// Co-vote and agreement counts for every pair of active LFs. The hot loop of the fast path: compiled twice
// on x86-64 GCC so that CPUs with POPCNT use it while the wheel stays portable (no -march flags).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("popcnt", "default")))
#endif
void count_pairs(const uint64_t* votes, const uint64_t* bits, const int64_t* active, int64_t n_active,
                 int64_t planes, int64_t m, int64_t focus, int64_t* covote, int64_t* agree) {
    for (int64_t a = 0; a < n_active; ++a) {
        const int64_t i = active[a];
        const uint64_t* vi = votes + i * kWords;
        const uint64_t* bi = bits + i * planes * kWords;
        int64_t* cv = covote + i * m;
        int64_t* ag = agree + i * m;
        for (int64_t b = a + 1; b < n_active; ++b) {
            const int64_t j = active[b];
            if (focus >= 0 && i != focus && j != focus) continue;  // incremental: only pairs of the edited LF
            const uint64_t* vj = votes + j * kWords;
            const uint64_t* bj = bits + j * planes * kWords;
            int64_t both_n = 0, same_n = 0;
            for (int64_t w = 0; w < kWords; ++w) {
                const uint64_t both = vi[w] & vj[w];
                uint64_t differ = 0;
                for (int64_t p = 0; p < planes; ++p) differ |= bi[p * kWords + w] ^ bj[p * kWords + w];
                both_n += __builtin_popcountll(both);
                same_n += __builtin_popcountll(both & ~differ);
            }
            cv[j] += both_n;
            ag[j] += same_n;
        }
    }
}

// One-hot overlap counts O[(i,a),(j,b)] for active pairs i < j from per-class vote masks (small k only).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("popcnt", "default")))
#endif
void count_overlap(const uint64_t* masks, const int64_t* active, int64_t n_active, int64_t k, int64_t m,
                   int64_t focus, int64_t* overlap) {
    for (int64_t a = 0; a < n_active; ++a) {
        const int64_t i = active[a];
        for (int64_t b = a + 1; b < n_active; ++b) {
            const int64_t j = active[b];
            if (focus >= 0 && i != focus && j != focus) continue;
            for (int64_t ci = 0; ci < k; ++ci) {
                const uint64_t* mi = masks + (i * k + ci) * kWords;
                int64_t* row = overlap + ((i * k + ci) * m + j) * k;
                for (int64_t cj = 0; cj < k; ++cj) {
                    const uint64_t* mj = masks + (j * k + cj) * kWords;
                    int64_t c = 0;
                    for (int64_t w = 0; w < kWords; ++w) c += __builtin_popcountll(mi[w] & mj[w]);
                    row[cj] += c;
                }
            }
        }
    }
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("popcnt", "default")))
#endif
int64_t popcount_and(const uint64_t* a, const uint64_t* b) {
    int64_t c = 0;
    for (int64_t w = 0; w < kWords; ++w) c += __builtin_popcountll(a[w] & b[w]);
    return c;
}

}  // namespace

BitsetBlock::BitsetBlock(int64_t n_lfs, int64_t cardinality, bool overlap_matrix, int64_t focus_col,
                         int64_t override_col, const int64_t* override_values)
    : m_(n_lfs),
      k_(cardinality),
      overlap_(overlap_matrix),
      focus_(focus_col),
      override_col_(override_col),
      override_values_(override_values),
      planes_(bit_width(cardinality - 1)),
      columns_(n_lfs * kBitsetBlockRows),
      votes_(n_lfs * kWords),
      bits_(n_lfs * std::max<int64_t>(planes_, 1) * kWords),
      active_(n_lfs),
      masks_(overlap_matrix ? n_lfs * cardinality * kWords : 0) {}

template <class T>
bool BitsetBlock::accumulate(const LabelView<T>& L, const RowSet& rows, int64_t begin, int64_t end, Stats& acc) {
    const int64_t n_rows = end - begin;
    // Transpose into column-major bytes, checking the range without a branch per vote.
    uint64_t bad = 0;
    const uint64_t span = static_cast<uint64_t>(k_) + 1;
    auto transpose = [&](int64_t col_stride) {
        for (int64_t t = 0; t < n_rows; ++t) {
            const T* row = L.data + rows.row(begin + t) * L.row_stride;
            int8_t* dst = columns_.data() + t;
            for (int64_t j = 0; j < m_; ++j) {
                const int64_t v = static_cast<int64_t>(row[j * col_stride]);
                bad |= static_cast<uint64_t>(v + 1) >= span;
                dst[j * kBitsetBlockRows] = static_cast<int8_t>(v);
            }
        }
    };
    bool transposed = false;
#if defined(__SSE2__)
    if constexpr (sizeof(T) == 1) {
        if (L.col_stride == 1) {
            transpose_int8_rows(reinterpret_cast<const int8_t*>(L.data), L.row_stride, rows, begin, n_rows, bad);
            transposed = true;
        }
    }
#endif
    if (!transposed) {
        if (L.col_stride == 1)
            transpose(1);  // C order: a constant stride lets the compiler unroll the row read
        else
            transpose(L.col_stride);
    }
    if (override_col_ >= 0) {  // incremental updates read the edited LF's previous votes from a side vector
        int8_t* col = columns_.data() + override_col_ * kBitsetBlockRows;
        for (int64_t t = 0; t < n_rows; ++t) {
            const int64_t v = override_values_[begin + t];
            bad |= static_cast<uint64_t>(v + 1) >= span;
            col[t] = static_cast<int8_t>(v);
        }
    }
    if (bad) return false;
    if (n_rows < kBitsetBlockRows)
        for (int64_t j = 0; j < m_; ++j)
            std::fill(columns_.begin() + j * kBitsetBlockRows + n_rows, columns_.begin() + (j + 1) * kBitsetBlockRows,
                      int8_t{-1});
    build_bitsets();
    count(n_rows, acc);
    return true;
}

#if defined(__SSE2__)
// C-order int8, the common layout: 16x16 tiles through SSE2 registers, range-checked sixteen votes at a time.
void BitsetBlock::transpose_int8_rows(const int8_t* data, int64_t row_stride, const RowSet& rows, int64_t begin,
                                      int64_t n_rows, uint64_t& bad) {
    const __m128i below = _mm_set1_epi8(-1), above = _mm_set1_epi8(static_cast<char>(k_ - 1));
    __m128i bad_v = _mm_setzero_si128();
    const int64_t full = m_ / 16 * 16;
    if (static_cast<int64_t>(padding_.size()) < m_) padding_.assign(m_, -1);
    const int8_t* src[16];
    for (int64_t t0 = 0; t0 < n_rows; t0 += 16) {
        for (int q = 0; q < 16; ++q)
            src[q] = t0 + q < n_rows ? data + rows.row(begin + t0 + q) * row_stride : padding_.data();
        for (int64_t j0 = 0; j0 < full; j0 += 16) {
            __m128i in[16], out[16];
            for (int q = 0; q < 16; ++q) {
                in[q] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[q] + j0));
                bad_v = _mm_or_si128(bad_v, _mm_or_si128(_mm_cmplt_epi8(in[q], below), _mm_cmpgt_epi8(in[q], above)));
            }
            transpose16(in, out);
            for (int c = 0; c < 16; ++c)
                _mm_storeu_si128(reinterpret_cast<__m128i*>(columns_.data() + (j0 + c) * kBitsetBlockRows + t0), out[c]);
        }
        const uint64_t span = static_cast<uint64_t>(k_) + 1;
        for (int64_t j = full; j < m_; ++j)
            for (int q = 0; q < 16; ++q) {
                const int64_t v = src[q][j];
                bad |= static_cast<uint64_t>(v + 1) >= span;
                columns_[j * kBitsetBlockRows + t0 + q] = static_cast<int8_t>(v);
            }
    }
    bad |= static_cast<uint64_t>(_mm_movemask_epi8(bad_v));
}
#endif

void BitsetBlock::build_bitsets() {
    const int64_t P = planes_;
    for (int64_t j = 0; j < m_; ++j) {
        const int8_t* col = columns_.data() + j * kBitsetBlockRows;
        uint64_t* vj = votes_.data() + j * kWords;
        uint64_t* bj = bits_.data() + j * P * kWords;
        for (int64_t w = 0; w < kWords; ++w) {
            uint64_t v = 0, b[7] = {0, 0, 0, 0, 0, 0, 0};
#if defined(__SSE2__)
            const __m128i minus_one = _mm_set1_epi8(-1);
            for (int q = 0; q < 4; ++q) {
                const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(col + w * 64 + q * 16));
                v |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpgt_epi8(x, minus_one))))
                     << (16 * q);
                // bit p of each byte moved to its sign bit (a 16-bit shift never carries into a byte's top bit
                // from the other byte)
                for (int64_t p = 0; p < P; ++p) {
                    const __m128i s = _mm_sll_epi16(x, _mm_cvtsi32_si128(static_cast<int>(7 - p)));
                    b[p] |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(s))) << (16 * q);
                }
            }
#else
            for (int t = 0; t < 64; ++t) {
                const int8_t x = col[w * 64 + t];
                v |= static_cast<uint64_t>(x >= 0) << t;
                for (int64_t p = 0; p < P; ++p) b[p] |= static_cast<uint64_t>((x >> p) & 1) << t;
            }
#endif
            vj[w] = v;
            for (int64_t p = 0; p < P; ++p) bj[p * kWords + w] = b[p] & v;
        }
    }
}

void BitsetBlock::count(int64_t n_rows, Stats& acc) {
    const int64_t P = planes_;
    // Row flags: at least one / two votes, and two different votes (some class bit both set and unset).
    uint64_t seen1[kWords] = {}, seen2[kWords] = {}, one[7][kWords] = {}, zero[7][kWords] = {};
    int64_t n_active = 0;
    for (int64_t j = 0; j < m_; ++j) {
        const uint64_t* vj = votes_.data() + j * kWords;
        const uint64_t* bj = bits_.data() + j * P * kWords;
        uint64_t any = 0;
        for (int64_t w = 0; w < kWords; ++w) {
            seen2[w] |= seen1[w] & vj[w];
            seen1[w] |= vj[w];
            for (int64_t p = 0; p < P; ++p) {
                one[p][w] |= bj[p * kWords + w];
                zero[p][w] |= vj[w] & ~bj[p * kWords + w];
            }
            any |= vj[w];
        }
        if (any) active_[n_active++] = j;
    }
    uint64_t conflict[kWords];
    for (int64_t w = 0; w < kWords; ++w) {
        uint64_t c = 0;
        for (int64_t p = 0; p < P; ++p) c |= one[p][w] & zero[p][w];
        conflict[w] = c;
        acc.covered[0] += __builtin_popcountll(seen1[w]);
        acc.overlapping[0] += __builtin_popcountll(seen2[w]);
        acc.conflicting[0] += __builtin_popcountll(c);
    }
    acc.rows[0] += n_rows;
    for (int64_t a = 0; a < n_active; ++a) {
        const int64_t j = active_[a];
        const uint64_t* vj = votes_.data() + j * kWords;
        acc.lf_overlaps[j] += popcount_and(vj, seen2);
        acc.lf_conflicts[j] += popcount_and(vj, conflict);
        // class counts: the votes whose class bits equal c
        int64_t* cc = acc.class_counts.data() + j * k_;
        const uint64_t* bj = bits_.data() + j * P * kWords;
        if (k_ <= 16) {
            for (int64_t c = 0; c < k_; ++c) {
                uint64_t local[kWords];
                uint64_t* match = overlap_ ? masks_.data() + (j * k_ + c) * kWords : local;
                for (int64_t w = 0; w < kWords; ++w) {
                    uint64_t mw = vj[w];
                    for (int64_t p = 0; p < P; ++p) mw &= ((c >> p) & 1) ? bj[p * kWords + w] : ~bj[p * kWords + w];
                    match[w] = mw;
                }
                if (focus_ < 0 || j == focus_) cc[c] += popcount_and(match, match);
            }
        } else if (focus_ < 0 || j == focus_) {
            const int8_t* col = columns_.data() + j * kBitsetBlockRows;
            for (int64_t t = 0; t < n_rows; ++t)
                if (col[t] >= 0) cc[col[t]] += 1;
        }
    }
    if (overlap_)  // co-votes and agreements follow from O in finalize
        count_overlap(masks_.data(), active_.data(), n_active, k_, m_, focus_, acc.overlap.data());
    else
        count_pairs(votes_.data(), bits_.data(), active_.data(), n_active, P, m_, focus_, acc.covote.data(),
                    acc.agree.data());
}

template bool BitsetBlock::accumulate<int8_t>(const LabelView<int8_t>&, const RowSet&, int64_t, int64_t, Stats&);
template bool BitsetBlock::accumulate<int16_t>(const LabelView<int16_t>&, const RowSet&, int64_t, int64_t, Stats&);
template bool BitsetBlock::accumulate<int32_t>(const LabelView<int32_t>&, const RowSet&, int64_t, int64_t, Stats&);
template bool BitsetBlock::accumulate<int64_t>(const LabelView<int64_t>&, const RowSet&, int64_t, int64_t, Stats&);

}  // namespace labelfuse
