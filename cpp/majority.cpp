#include "majority.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "parallel.hpp"

namespace labelfuse {

namespace {

// Scratch is allocated before each parallel region, one slice per thread (thread_index()), so that nothing
// inside a region can throw.

// Counts row r's votes into cnt[0..k] (slot 0 = abstentions) without branching on the votes, which are
// unpredictable; returns false if a vote is out of range.
template <class T>
inline bool count_votes(const LabelView<T>& L, int64_t r, int64_t k, int64_t* cnt) {
    std::fill(cnt, cnt + k + 1, 0);
    bool ok = true;
    for (int64_t j = 0; j < L.n_cols; ++j) {
        const uint64_t slot = static_cast<uint64_t>(L(r, j) + 1);  // -1 -> 0; anything below -1 wraps around
        ok &= slot <= static_cast<uint64_t>(k);
        cnt[slot <= static_cast<uint64_t>(k) ? slot : 0] += 1;
    }
    return ok;
}


}  // namespace

template <class T>
void majority_proba(const LabelView<T>& L, int64_t k, const double* fallback, double* out, int n_threads) {
    check_thread_count(n_threads);
    const int64_t n = L.n_rows, m = L.n_cols;
    if (n * m < (int64_t{1} << 15)) n_threads = 1;
    ExceptionCatcher catcher;
    std::vector<int64_t> scratch(static_cast<size_t>(n_threads) * (k + 1));
#pragma omp parallel num_threads(n_threads)
    {
        int64_t* cnt = scratch.data() + static_cast<int64_t>(thread_index()) * (k + 1);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < n; ++r) {
            catcher.run([&] {
                if (!count_votes(L, r, k, cnt)) throw_bad_vote(L, r, k);
                double* o = out + r * k;
                const int64_t votes = m - cnt[0];
                if (votes == 0) {
                    std::copy(fallback, fallback + k, o);
                } else {
                    const double inv = 1.0 / static_cast<double>(votes);
                    for (int64_t y = 0; y < k; ++y) o[y] = static_cast<double>(cnt[y + 1]) * inv;
                }
            });
        }
    }
    catcher.rethrow();
}

template <class T>
int64_t majority_share_sum(const LabelView<T>& L, int64_t k, double* sum, int n_threads) {
    check_thread_count(n_threads);
    const int64_t n = L.n_rows, m = L.n_cols;
    constexpr int64_t kBlock = 16384;
    const int64_t n_blocks = (n + kBlock - 1) / kBlock;
    if (n * m < (int64_t{1} << 15)) n_threads = 1;
    std::vector<double> partial(n_blocks * k, 0.0);
    std::vector<int64_t> covered(n_blocks, 0), bad_row(n_blocks, -1);
    std::vector<int64_t> scratch(static_cast<size_t>(n_threads) * (k + 1));
    InterruptFlag interrupted;
#pragma omp parallel num_threads(n_threads)
    {
        int64_t* cnt = scratch.data() + static_cast<int64_t>(thread_index()) * (k + 1);
#pragma omp for schedule(static)
        for (int64_t b = 0; b < n_blocks; ++b) {
            if (interrupted.stop()) continue;
            double* acc = partial.data() + b * k;
            const int64_t end = std::min(n, (b + 1) * kBlock);
            for (int64_t r = b * kBlock; r < end; ++r) {
                if (!count_votes(L, r, k, cnt)) {
                    if (bad_row[b] < 0) bad_row[b] = r;
                    continue;
                }
                const int64_t votes = m - cnt[0];
                if (votes == 0) continue;
                ++covered[b];
                const double inv = 1.0 / static_cast<double>(votes);
                for (int64_t y = 0; y < k; ++y) acc[y] += static_cast<double>(cnt[y + 1]) * inv;
            }
        }
    }
    interrupted.throw_if_stopped();
    for (int64_t b = 0; b < n_blocks; ++b)
        if (bad_row[b] >= 0) throw_bad_vote(L, bad_row[b], k);
    std::fill(sum, sum + k, 0.0);
    int64_t total = 0;
    for (int64_t b = 0; b < n_blocks; ++b) {
        for (int64_t y = 0; y < k; ++y) sum[y] += partial[b * k + y];
        total += covered[b];
    }
    return total;
}

template <class A, class B>
void changed_columns(const LabelView<A>& a, const LabelView<B>& b, uint8_t* changed, int n_threads) {
    check_thread_count(n_threads);
    const int64_t n = a.n_rows, m = a.n_cols;
    if (b.n_rows != n || b.n_cols != m) throw std::invalid_argument("L: shape differs from the fitted matrix");
    if (n * m < (int64_t{1} << 15)) n_threads = 1;
    std::fill(changed, changed + m, uint8_t{0});
    std::vector<uint8_t> scratch(static_cast<size_t>(n_threads) * m, 0);
    InterruptFlag interrupted;
#pragma omp parallel num_threads(n_threads)
    {
        uint8_t* local = scratch.data() + static_cast<int64_t>(thread_index()) * m;
        if (a.col_stride == 1 && b.col_stride == 1) {  // rows contiguous: a unit-stride loop the compiler vectorises
#pragma omp for schedule(static)
            for (int64_t r = 0; r < n; ++r) {
                if (interrupted.stop()) continue;
                const A* ar = a.data + r * a.row_stride;
                const B* br = b.data + r * b.row_stride;
                for (int64_t j = 0; j < m; ++j) local[j] |= static_cast<uint8_t>(ar[j] != br[j]);
            }
        } else if (a.row_stride == 1 && b.row_stride == 1) {  // both column-major: one contiguous column at a time
#pragma omp for schedule(static)
            for (int64_t j = 0; j < m; ++j) {
                if (interrupted.stop()) continue;
                const A* ac = a.data + j * a.col_stride;
                const B* bc = b.data + j * b.col_stride;
                uint8_t d = 0;
                for (int64_t r = 0; r < n; ++r) d |= static_cast<uint8_t>(ac[r] != bc[r]);
                local[j] |= d;
            }
        } else {
            // Mixed layouts (a row-major L against a column-major copy): blocks of rows small enough to stay in
            // cache, read column by column within a block, so each column is read sequentially; a column already
            // known to differ is not read again (the result is an OR, so this changes nothing but the time).
            constexpr int64_t kBlock = 512;
            const int64_t n_blocks = (n + kBlock - 1) / kBlock;
#pragma omp for schedule(static)
            for (int64_t blk = 0; blk < n_blocks; ++blk) {
                if (interrupted.stop()) continue;
                const int64_t lo = blk * kBlock, hi = std::min(n, lo + kBlock);
                for (int64_t j = 0; j < m; ++j) {
                    if (local[j]) continue;
                    uint8_t d = 0;
                    for (int64_t r = lo; r < hi; ++r) d |= static_cast<uint8_t>(a(r, j) != b(r, j));
                    local[j] |= d;
                }
            }
        }
#pragma omp critical(labelfuse_changed_columns)
        for (int64_t j = 0; j < m; ++j) changed[j] |= local[j];  // OR: order-independent
    }
    interrupted.throw_if_stopped();
}

#define LABELFUSE_MAJORITY(T) \
    template void majority_proba<T>(const LabelView<T>&, int64_t, const double*, double*, int); \
    template int64_t majority_share_sum<T>(const LabelView<T>&, int64_t, double*, int);
LABELFUSE_MAJORITY(int8_t)
LABELFUSE_MAJORITY(int16_t)
LABELFUSE_MAJORITY(int32_t)
LABELFUSE_MAJORITY(int64_t)

#define LABELFUSE_CHANGED(A, B) \
    template void changed_columns<A, B>(const LabelView<A>&, const LabelView<B>&, uint8_t*, int);
#define LABELFUSE_CHANGED_ALL(A) \
    LABELFUSE_CHANGED(A, int8_t) LABELFUSE_CHANGED(A, int16_t) LABELFUSE_CHANGED(A, int32_t) LABELFUSE_CHANGED(A, int64_t)
LABELFUSE_CHANGED_ALL(int8_t)
LABELFUSE_CHANGED_ALL(int16_t)
LABELFUSE_CHANGED_ALL(int32_t)
LABELFUSE_CHANGED_ALL(int64_t)

}  // namespace labelfuse
