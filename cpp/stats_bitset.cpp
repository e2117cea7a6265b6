#include "stats_bitset.hpp"

#include <algorithm>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__GNUC__) && defined(__x86_64__)
#define LABELFUSE_X86_DISPATCH 1
#include <immintrin.h>
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

// The pair kernels below run over the `W` words a superblock holds for each LF (`stride` apart per LF, plane or
// class mask). The scalar versions are compiled twice on x86-64 GCC so that CPUs with POPCNT use it while the
// wheel stays portable (no -march flags); the AVX2 versions are chosen at run time when the CPU has AVX2.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define LABELFUSE_POPCNT_CLONES __attribute__((target_clones("popcnt", "default")))
#else
#define LABELFUSE_POPCNT_CLONES
#endif

// Co-vote and agreement counts for every pair of active LFs (i < j).
LABELFUSE_POPCNT_CLONES
void count_pairs_scalar(const uint64_t* votes, const uint64_t* bits, int64_t stride, int64_t W, const int64_t* active,
                        int64_t n_active, int64_t planes, int64_t m, int64_t focus, int64_t* covote, int64_t* agree) {
    for (int64_t a = 0; a < n_active; ++a) {
        const int64_t i = active[a];
        const uint64_t* vi = votes + i * stride;
        const uint64_t* bi = bits + i * planes * stride;
        int64_t* cv = covote + i * m;
        int64_t* ag = agree + i * m;
        for (int64_t b = a + 1; b < n_active; ++b) {
            const int64_t j = active[b];
            if (focus >= 0 && i != focus && j != focus) continue;  // incremental: only pairs of the edited LF
            const uint64_t* vj = votes + j * stride;
            const uint64_t* bj = bits + j * planes * stride;
            int64_t both_n = 0, same_n = 0;
            for (int64_t w = 0; w < W; ++w) {
                const uint64_t both = vi[w] & vj[w];
                uint64_t differ = 0;
                for (int64_t p = 0; p < planes; ++p) differ |= bi[p * stride + w] ^ bj[p * stride + w];
                both_n += __builtin_popcountll(both);
                same_n += __builtin_popcountll(both & ~differ);
            }
            cv[j] += both_n;
            ag[j] += same_n;
        }
    }
}

LABELFUSE_POPCNT_CLONES
int64_t popcount_and_n(const uint64_t* a, const uint64_t* b, int64_t W) {
    int64_t c = 0;
    for (int64_t w = 0; w < W; ++w) c += __builtin_popcountll(a[w] & b[w]);
    return c;
}

// One-hot overlap counts O[(i,a),(j,b)] for active pairs i < j from per-class vote masks (small k only).
template <class PopAnd>
void count_overlap_with(const uint64_t* masks, int64_t stride, int64_t W, const int64_t* active, int64_t n_active,
                        int64_t k, int64_t m, int64_t focus, int64_t* overlap, PopAnd pop_and) {
    for (int64_t a = 0; a < n_active; ++a) {
        const int64_t i = active[a];
        for (int64_t b = a + 1; b < n_active; ++b) {
            const int64_t j = active[b];
            if (focus >= 0 && i != focus && j != focus) continue;
            for (int64_t ci = 0; ci < k; ++ci) {
                const uint64_t* mi = masks + (i * k + ci) * stride;
                int64_t* row = overlap + ((i * k + ci) * m + j) * k;
                for (int64_t cj = 0; cj < k; ++cj) row[cj] += pop_and(mi, masks + (j * k + cj) * stride, W);
            }
        }
    }
}

#if defined(LABELFUSE_X86_DISPATCH)
#define LABELFUSE_AVX2 __attribute__((target("avx2,popcnt")))

// Bytewise popcount (each byte 0..8) by nibble lookup.
LABELFUSE_AVX2 inline __m256i popcount_bytes(__m256i x) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(x, low)),
                           _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), low)));
}

LABELFUSE_AVX2 inline int64_t sum_lanes(__m256i x) {
    return _mm256_extract_epi64(x, 0) + _mm256_extract_epi64(x, 1) + _mm256_extract_epi64(x, 2) +
           _mm256_extract_epi64(x, 3);
}

LABELFUSE_AVX2 inline __m256i load(const uint64_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Bytes count at most 8 per step, so they are widened (sad) every 31 steps of 4 words.
constexpr int64_t kByteSteps = 31;

template <int64_t P>  // class planes, 0: known only at run time
LABELFUSE_AVX2 void count_pairs_avx2(const uint64_t* votes, const uint64_t* bits, int64_t stride, int64_t W,
                                     const int64_t* active, int64_t n_active, int64_t planes, int64_t m, int64_t focus,
                                     int64_t* covote, int64_t* agree) {
    const int64_t np = P ? P : planes;
    const __m256i zero = _mm256_setzero_si256();
    for (int64_t a = 0; a < n_active; ++a) {
        const int64_t i = active[a];
        const uint64_t* vi = votes + i * stride;
        const uint64_t* bi = bits + i * np * stride;
        int64_t* cv = covote + i * m;
        int64_t* ag = agree + i * m;
        for (int64_t b = a + 1; b < n_active; ++b) {
            const int64_t j = active[b];
            if (focus >= 0 && i != focus && j != focus) continue;
            const uint64_t* vj = votes + j * stride;
            const uint64_t* bj = bits + j * np * stride;
            __m256i both64 = zero, same64 = zero;
            for (int64_t w0 = 0; w0 < W; w0 += 4 * kByteSteps) {
                const int64_t w1 = std::min(W, w0 + 4 * kByteSteps);
                __m256i both8 = zero, same8 = zero;
                for (int64_t w = w0; w < w1; w += 4) {
                    const __m256i both = _mm256_and_si256(load(vi + w), load(vj + w));
                    __m256i differ = zero;
                    for (int64_t p = 0; p < np; ++p)
                        differ = _mm256_or_si256(differ, _mm256_xor_si256(load(bi + p * stride + w),
                                                                          load(bj + p * stride + w)));
                    both8 = _mm256_add_epi8(both8, popcount_bytes(both));
                    same8 = _mm256_add_epi8(same8, popcount_bytes(_mm256_andnot_si256(differ, both)));
                }
                both64 = _mm256_add_epi64(both64, _mm256_sad_epu8(both8, zero));
                same64 = _mm256_add_epi64(same64, _mm256_sad_epu8(same8, zero));
            }
            cv[j] += sum_lanes(both64);
            ag[j] += sum_lanes(same64);
        }
    }
}

LABELFUSE_AVX2 int64_t popcount_and_avx2(const uint64_t* x, const uint64_t* y, int64_t W) {
    const __m256i zero = _mm256_setzero_si256();
    __m256i total = zero;
    for (int64_t w0 = 0; w0 < W; w0 += 4 * kByteSteps) {
        const int64_t w1 = std::min(W, w0 + 4 * kByteSteps);
        __m256i c8 = zero;
        for (int64_t w = w0; w < w1; w += 4)
            c8 = _mm256_add_epi8(c8, popcount_bytes(_mm256_and_si256(load(x + w), load(y + w))));
        total = _mm256_add_epi64(total, _mm256_sad_epu8(c8, zero));
    }
    return sum_lanes(total);
}

bool cpu_has_avx2() {
    static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    return has;
}
#endif

// W is a multiple of kWords (4), so the AVX2 versions never read past the held words.
void count_pairs(const uint64_t* votes, const uint64_t* bits, int64_t stride, int64_t W, const int64_t* active,
                 int64_t n_active, int64_t planes, int64_t m, int64_t focus, int64_t* covote, int64_t* agree) {
#if defined(LABELFUSE_X86_DISPATCH)
    if (cpu_has_avx2()) {
        if (planes == 1)
            count_pairs_avx2<1>(votes, bits, stride, W, active, n_active, planes, m, focus, covote, agree);
        else
            count_pairs_avx2<0>(votes, bits, stride, W, active, n_active, planes, m, focus, covote, agree);
        return;
    }
#endif
    count_pairs_scalar(votes, bits, stride, W, active, n_active, planes, m, focus, covote, agree);
}

void count_overlap(const uint64_t* masks, int64_t stride, int64_t W, const int64_t* active, int64_t n_active,
                   int64_t k, int64_t m, int64_t focus, int64_t* overlap) {
#if defined(LABELFUSE_X86_DISPATCH)
    if (cpu_has_avx2()) {
        count_overlap_with(masks, stride, W, active, n_active, k, m, focus, overlap, popcount_and_avx2);
        return;
    }
#endif
    count_overlap_with(masks, stride, W, active, n_active, k, m, focus, overlap, popcount_and_n);
}

LABELFUSE_POPCNT_CLONES
int64_t popcount_and(const uint64_t* a, const uint64_t* b) {
    int64_t c = 0;
    for (int64_t w = 0; w < kWords; ++w) c += __builtin_popcountll(a[w] & b[w]);
    return c;
}

}  // namespace

BitsetBlock::BitsetBlock(int64_t n_lfs, int64_t cardinality, bool overlap_matrix, const int64_t* gold,
                         int64_t focus_col, int64_t override_col, const int64_t* override_values)
    : m_(n_lfs),
      k_(cardinality),
      overlap_(overlap_matrix),
      gold_(gold),
      focus_(focus_col),
      override_col_(override_col),
      override_values_(override_values),
      planes_(bit_width(cardinality - 1)) {
    // As many blocks per superblock as keep its bitsets within about 256 KiB (L2-sized), at least one.
    const int64_t per_block = std::max<int64_t>(n_lfs, 1) * (1 + planes_ + (overlap_matrix ? cardinality : 0)) *
                              kWords * static_cast<int64_t>(sizeof(uint64_t));
    slots_ = std::clamp<int64_t>((int64_t{256} << 10) / per_block, 1, kBitsetMaxSlots);
    stride_ = slots_ * kWords;
    columns_.resize(n_lfs * kBitsetBlockRows);
    votes_.resize(n_lfs * stride_);
    bits_.resize(n_lfs * std::max<int64_t>(planes_, 1) * stride_);
    masks_.resize(overlap_matrix ? n_lfs * cardinality * stride_ : 0);
    any_.assign(n_lfs, 0);
    active_.resize(n_lfs);
    gold_col_.assign(gold ? kBitsetBlockRows : 0, int8_t{-1});
}

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
    if (gold_) {  // validated to 0..k-1 by the caller; k <= 127 here
        for (int64_t t = 0; t < n_rows; ++t) gold_col_[t] = static_cast<int8_t>(gold_[rows.row(begin + t)]);
        std::fill(gold_col_.begin() + n_rows, gold_col_.end(), int8_t{-1});
    }
    const int64_t offset = used_ * kWords;
    build_bitsets(offset);
    count_block(n_rows, offset, acc);
    if (++used_ == slots_) flush(acc);
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

void BitsetBlock::build_bitsets(int64_t offset) {
    const int64_t P = planes_;
    for (int64_t j = 0; j < m_; ++j) {
        const int8_t* col = columns_.data() + j * kBitsetBlockRows;
        uint64_t* vj = votes_.data() + j * stride_ + offset;
        uint64_t* bj = bits_.data() + j * P * stride_ + offset;
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
            for (int64_t p = 0; p < P; ++p) bj[p * stride_ + w] = b[p] & v;
        }
    }
}

void BitsetBlock::count_block(int64_t n_rows, int64_t offset, Stats& acc) {
    const int64_t P = planes_;
    // Row flags: at least one / two votes, and two different votes (some class bit both set and unset).
    uint64_t seen1[kWords] = {}, seen2[kWords] = {}, one[7][kWords] = {}, zero[7][kWords] = {};
    for (int64_t j = 0; j < m_; ++j) {
        const uint64_t* vj = votes_.data() + j * stride_ + offset;
        const uint64_t* bj = bits_.data() + j * P * stride_ + offset;
        uint64_t any = 0;
        for (int64_t w = 0; w < kWords; ++w) {
            seen2[w] |= seen1[w] & vj[w];
            seen1[w] |= vj[w];
            for (int64_t p = 0; p < P; ++p) {
                one[p][w] |= bj[p * stride_ + w];
                zero[p][w] |= vj[w] & ~bj[p * stride_ + w];
            }
            any |= vj[w];
        }
        any_[j] |= any != 0;
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
    // Gold labels: per-class masks for small k (confusion = popcount of class mask & gold mask), else per vote.
    const bool gold_masks = gold_ && k_ <= kBitsetGoldMaskCardinality;
    uint64_t gold_mask[kBitsetGoldMaskCardinality][kWords] = {};
    if (gold_) {
        for (int64_t t = 0; t < n_rows; ++t) acc.gold_counts[gold_col_[t]] += 1;
        if (gold_masks)
            for (int64_t t = 0; t < n_rows; ++t) gold_mask[gold_col_[t]][t / 64] |= uint64_t{1} << (t % 64);
    }
    for (int64_t j = 0; j < m_; ++j) {
        const uint64_t* vj = votes_.data() + j * stride_ + offset;
        if (!(vj[0] | vj[1] | vj[2] | vj[3])) {  // silent in this block; its masks are still read by flush
            if (overlap_)
                for (int64_t c = 0; c < k_; ++c)
                    std::fill_n(masks_.data() + (j * k_ + c) * stride_ + offset, kWords, uint64_t{0});
            continue;
        }
        acc.lf_overlaps[j] += popcount_and(vj, seen2);
        acc.lf_conflicts[j] += popcount_and(vj, conflict);
        const bool counted = focus_ < 0 || j == focus_;
        // class counts: the votes whose class bits equal c
        int64_t* cc = acc.class_counts.data() + j * k_;
        int64_t* conf = gold_ ? acc.confusion.data() + j * k_ * k_ : nullptr;  // [y][c]
        const uint64_t* bj = bits_.data() + j * P * stride_ + offset;
        if (k_ <= 16) {
            for (int64_t c = 0; c < k_; ++c) {
                uint64_t local[kWords];
                uint64_t* match = overlap_ ? masks_.data() + (j * k_ + c) * stride_ + offset : local;
                for (int64_t w = 0; w < kWords; ++w) {
                    uint64_t mw = vj[w];
                    for (int64_t p = 0; p < P; ++p) mw &= ((c >> p) & 1) ? bj[p * stride_ + w] : ~bj[p * stride_ + w];
                    match[w] = mw;
                }
                if (!counted) continue;
                cc[c] += popcount_and(match, match);
                if (gold_masks)
                    for (int64_t y = 0; y < k_; ++y) conf[y * k_ + c] += popcount_and(match, gold_mask[y]);
            }
        } else if (counted) {
            const int8_t* col = columns_.data() + j * kBitsetBlockRows;
            for (int64_t t = 0; t < n_rows; ++t)
                if (col[t] >= 0) cc[col[t]] += 1;
        }
        if (gold_ && !gold_masks && counted) {
            const int8_t* col = columns_.data() + j * kBitsetBlockRows;
            for (int64_t t = 0; t < n_rows; ++t)
                if (col[t] >= 0) conf[gold_col_[t] * k_ + col[t]] += 1;
        }
    }
}

void BitsetBlock::flush(Stats& acc) {
    if (used_ == 0) return;
    const int64_t W = used_ * kWords;
    int64_t n_active = 0;
    for (int64_t j = 0; j < m_; ++j)
        if (any_[j]) active_[n_active++] = j;
    if (overlap_)  // co-votes and agreements follow from O in finalize
        count_overlap(masks_.data(), stride_, W, active_.data(), n_active, k_, m_, focus_, acc.overlap.data());
    else
        count_pairs(votes_.data(), bits_.data(), stride_, W, active_.data(), n_active, planes_, m_, focus_,
                    acc.covote.data(), acc.agree.data());
    std::fill(any_.begin(), any_.end(), uint8_t{0});
    used_ = 0;
}

template bool BitsetBlock::accumulate<int8_t>(const LabelView<int8_t>&, const RowSet&, int64_t, int64_t, Stats&);
template bool BitsetBlock::accumulate<int16_t>(const LabelView<int16_t>&, const RowSet&, int64_t, int64_t, Stats&);
template bool BitsetBlock::accumulate<int32_t>(const LabelView<int32_t>&, const RowSet&, int64_t, int64_t, Stats&);
template bool BitsetBlock::accumulate<int64_t>(const LabelView<int64_t>&, const RowSet&, int64_t, int64_t, Stats&);

}  // namespace labelfuse
