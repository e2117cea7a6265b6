#include "inference.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "parallel.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace labelfuse {

namespace {

// Rows per unit of work (and per Ctrl-C check).
constexpr int64_t kChunkRows = 1024;

// k = 2, the common case: one log-odds sum per row instead of two class sums, and two LFs per table lookup (a
// 9-entry table per pair of LFs, indexed by both votes), then one exp. Fastest on int8 rows with contiguous
// columns; every other dtype and layout takes the same sums through a row buffer.
struct BinaryTables {
    bool ready = false;
    int64_t m = 0, pairs = 0;
    std::vector<double> pair;  // [g][pairs][9]: D_{2p}(a) + D_{2p+1}(b) at 3 (a + 1) + (b + 1)
    std::vector<double> last;  // [g][3]: D_{m-1}(a) when m is odd
    std::vector<double> base;  // [g]: log-odds (class 1 over class 0) of the all-abstain row

    // delta: [g][j][c + 1][y] differences to the abstain row (zero at c = -1); base: [g][y].
    void build(const PosteriorModel& model, const std::vector<double>& delta, const std::vector<double>& base_y) {
        const int64_t G = model.n_groups, stride_j = 3 * 2;
        m = model.n_lfs;
        pairs = m / 2;
        pair.assign(G * pairs * 9, 0.0);
        last.assign(G * 3, 0.0);
        base.assign(G, 0.0);
        for (int64_t g = 0; g < G; ++g) {
            auto D = [&](int64_t j, int64_t c1) {  // c1 = vote + 1
                const double* d = delta.data() + (g * m + j) * stride_j + c1 * 2;
                return d[1] - d[0];
            };
            base[g] = base_y[g * 2 + 1] - base_y[g * 2];
            for (int64_t p = 0; p < pairs; ++p)
                for (int64_t a = 0; a < 3; ++a)
                    for (int64_t b = 0; b < 3; ++b) pair[(g * pairs + p) * 9 + 3 * a + b] = D(2 * p, a) + D(2 * p + 1, b);
            if (m % 2)
                for (int64_t a = 0; a < 3; ++a) last[g * 3 + a] = D(m - 1, a);
        }
        ready = true;
    }

    // Whether every vote of the row is -1, 0 or 1.
    bool row_ok(const int8_t* row) const {
        int64_t j = 0;
        uint32_t bad = 0;
#if defined(__SSE2__)
        const __m128i one = _mm_set1_epi8(1), two = _mm_set1_epi8(2);
        for (; j + 16 <= m; j += 16) {  // (v + 1) as unsigned must be <= 2
            const __m128i x = _mm_add_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + j)), one);
            bad |= static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_subs_epu8(x, two), _mm_setzero_si128())) ^ 0xffff);
        }
#endif
        for (; j < m; ++j) bad |= static_cast<uint8_t>(row[j] + 1) > 2;
        return bad == 0;
    }

    // Any dtype and layout: rows that are not contiguous int8 are first copied into an int8 buffer (checked
    // entry by entry), so every layout and dtype sums the same tables in the same order and gets bit-identical
    // posteriors.
    template <class T>
    void rows(const LabelView<T>& L, const int64_t* groups, int64_t G, int64_t begin, int64_t end,
              double* out) const {
        constexpr bool direct_type = std::is_same_v<T, int8_t>;
        const bool direct = direct_type && L.col_stride == 1;
        std::vector<int8_t> buffer(direct ? 0 : static_cast<size_t>(m));
        for (int64_t r = begin; r < end; ++r) {
            const int64_t g = groups ? groups[r] : 0;
            if (g < 0 || g >= G)
                throw std::invalid_argument("groups: entry " + std::to_string(r) + " is " + std::to_string(g) +
                                            "; expected 0.." + std::to_string(G - 1));
            const int8_t* row;
            if (direct) {
                row = reinterpret_cast<const int8_t*>(L.data + r * L.row_stride);
                if (!row_ok(row)) throw_bad_vote(L, r, 2);
            } else {
                for (int64_t j = 0; j < m; ++j) {
                    const int64_t v = static_cast<int64_t>(L(r, j));
                    if (v < -1 || v > 1) throw_bad_vote(L, r, 2);
                    buffer[static_cast<size_t>(j)] = static_cast<int8_t>(v);
                }
                row = buffer.data();
            }
            const double* t = pair.data() + g * pairs * 9;
            // two independent sums so the adds do not wait on each other
            double s0 = base[g], s1 = 0.0;
            int64_t p = 0;
            for (; p + 1 < pairs; p += 2) {
                s0 += t[p * 9 + 3 * row[2 * p] + row[2 * p + 1] + 4];
                s1 += t[(p + 1) * 9 + 3 * row[2 * p + 2] + row[2 * p + 3] + 4];
            }
            if (p < pairs) s0 += t[p * 9 + 3 * row[2 * p] + row[2 * p + 1] + 4];
            if (m % 2) s1 += last[g * 3 + row[m - 1] + 1];
            const double s = s0 + s1;  // log P(y = 1 | votes) - log P(y = 0 | votes)
            // the smaller class gets e = exp(-|s|) <= 1, the larger 1: as the softmax with the maximum subtracted
            const double e = std::exp(-std::fabs(s)), inv = 1.0 / (1.0 + e);
            double* o = out + r * 2;
            o[s >= 0 ? 1 : 0] = inv;
            o[s >= 0 ? 0 : 1] = e * inv;
        }
    }
};

}  // namespace


template <class T>
void posterior(const LabelView<T>& L, const PosteriorModel& model, double* out, int n_threads) {
    check_thread_count(n_threads);
    const int64_t n = L.n_rows, m = L.n_cols, k = model.cardinality, G = model.n_groups;
    if (m != model.n_lfs) throw std::invalid_argument("L: has " + std::to_string(m) + " columns, the model " +
                                                      std::to_string(model.n_lfs) + " LFs");
    // Start every row from prior + all-abstain terms and add, per entry, the difference of that LF's table row
    // to its abstain row: the abstain row of `delta` is zero, so every entry adds a row without a branch.
    const int64_t stride_c = k, stride_j = (k + 1) * k;
    std::vector<double> base(G * k), delta(G * m * stride_j, 0.0);
    for (int64_t g = 0; g < G; ++g) {
        const double* cpt = model.log_cpt + g * m * stride_j;
        for (int64_t y = 0; y < k; ++y) {
            double b = model.log_prior[g * k + y];
            for (int64_t j = 0; j < m; ++j) b += cpt[j * stride_j + y];
            base[g * k + y] = b;
        }
        for (int64_t j = 0; j < m; ++j)
            for (int64_t c = 1; c <= k; ++c)
                for (int64_t y = 0; y < k; ++y)
                    delta[(g * m + j) * stride_j + c * stride_c + y] =
                        cpt[j * stride_j + c * stride_c + y] - cpt[j * stride_j + y];
    }
    if (n * m < (int64_t{1} << 15)) n_threads = 1;
    // never more threads than blocks of rows: a huge n_threads must not start thousands of OS threads
    n_threads = static_cast<int>(std::min<int64_t>(n_threads, std::max<int64_t>(1, n / 1024)));
    const uint64_t span = static_cast<uint64_t>(k) + 1;
    const int64_t n_chunks = (n + kChunkRows - 1) / kChunkRows;
    BinaryTables binary;
    if (k == 2) binary.build(model, delta, base);
    auto run = [&](auto K_tag) {
        constexpr int64_t K = decltype(K_tag)::value;  // 0: k known only at run time
        ExceptionCatcher catcher;
#pragma omp parallel num_threads(n_threads)
        {
            std::vector<double> s0(k), s1(k);
#pragma omp for schedule(static)
            for (int64_t chunk = 0; chunk < n_chunks; ++chunk) {
              catcher.run([&] {
                if constexpr (K == 2) {
                    if (binary.ready) {
                        binary.rows(L, model.groups, G, chunk * kChunkRows, std::min(n, (chunk + 1) * kChunkRows),
                                    out);
                        return;
                    }
                }
                for (int64_t r = chunk * kChunkRows, r_end = std::min(n, r + kChunkRows); r < r_end; ++r) {
                    const int64_t kk = K ? K : k;
                    const int64_t g = model.groups ? model.groups[r] : 0;
                    if (g < 0 || g >= G)
                        throw std::invalid_argument("groups: entry " + std::to_string(r) + " is " +
                                                    std::to_string(g) + "; expected 0.." + std::to_string(G - 1));
                    const double* dg = delta.data() + g * m * stride_j;
                    // two independent sums (even and odd LFs) so the adds do not wait on each other
                    double a[K ? K : 1], b[K ? K : 1];
                    double* sa = K ? a : s0.data();
                    double* sb = K ? b : s1.data();
                    for (int64_t y = 0; y < kk; ++y) { sa[y] = base[g * kk + y]; sb[y] = 0.0; }
                    uint64_t bad = 0;
                    const T* row = L.data + r * L.row_stride;
                    int64_t j = 0;
                    for (; j + 1 < m; j += 2) {
                        const uint64_t c0 = static_cast<uint64_t>(static_cast<int64_t>(row[j * L.col_stride]) + 1);
                        const uint64_t c1 =
                            static_cast<uint64_t>(static_cast<int64_t>(row[(j + 1) * L.col_stride]) + 1);
                        bad |= (c0 >= span) | (c1 >= span);
                        const double* d0 = dg + j * stride_j + (c0 < span ? c0 : 0) * kk;
                        const double* d1 = dg + (j + 1) * stride_j + (c1 < span ? c1 : 0) * kk;
                        for (int64_t y = 0; y < kk; ++y) { sa[y] += d0[y]; sb[y] += d1[y]; }
                    }
                    if (j < m) {
                        const uint64_t c0 = static_cast<uint64_t>(static_cast<int64_t>(row[j * L.col_stride]) + 1);
                        bad |= c0 >= span;
                        const double* d0 = dg + j * stride_j + (c0 < span ? c0 : 0) * kk;
                        for (int64_t y = 0; y < kk; ++y) sa[y] += d0[y];
                    }
                    if (bad) throw_bad_vote(L, r, k);
                    double top = sa[0] + sb[0];
                    for (int64_t y = 0; y < kk; ++y) { sa[y] += sb[y]; top = std::max(top, sa[y]); }
                    double z = 0.0;
                    for (int64_t y = 0; y < kk; ++y) z += (sa[y] = std::exp(sa[y] - top));
                    double* o = out + r * kk;
                    const double inv = 1.0 / z;
                    for (int64_t y = 0; y < kk; ++y) o[y] = sa[y] * inv;
                }
              });
            }
        }
        catcher.rethrow();
    };
    switch (k) {  // the common cardinalities get fixed-size loops the compiler unrolls
        case 2: run(std::integral_constant<int64_t, 2>{}); break;
        case 3: run(std::integral_constant<int64_t, 3>{}); break;
        case 4: run(std::integral_constant<int64_t, 4>{}); break;
        case 5: run(std::integral_constant<int64_t, 5>{}); break;
        case 6: run(std::integral_constant<int64_t, 6>{}); break;
        case 8: run(std::integral_constant<int64_t, 8>{}); break;
        case 10: run(std::integral_constant<int64_t, 10>{}); break;
        default: run(std::integral_constant<int64_t, 0>{}); break;
    }
}

template void posterior<int8_t>(const LabelView<int8_t>&, const PosteriorModel&, double*, int);
template void posterior<int16_t>(const LabelView<int16_t>&, const PosteriorModel&, double*, int);
template void posterior<int32_t>(const LabelView<int32_t>&, const PosteriorModel&, double*, int);
template void posterior<int64_t>(const LabelView<int64_t>&, const PosteriorModel&, double*, int);

}  // namespace labelfuse
