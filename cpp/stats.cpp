#include "stats.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>

#include "parallel.hpp"
#include "stats_bitset.hpp"

namespace labelfuse {

namespace {

// Every buffer of Stats, so that allocation, clearing and merging cannot forget one.
template <class F>
void for_each_buffer(Stats& a, F&& f) {
    f(a.rows); f(a.covered); f(a.overlapping); f(a.conflicting); f(a.class_counts); f(a.lf_overlaps);
    f(a.lf_conflicts); f(a.covote); f(a.agree); f(a.overlap); f(a.confusion); f(a.gold_counts);
}
template <class F>
void for_each_buffer_pair(Stats& a, const Stats& b, F&& f) {
    f(a.rows, b.rows); f(a.covered, b.covered); f(a.overlapping, b.overlapping); f(a.conflicting, b.conflicting);
    f(a.class_counts, b.class_counts); f(a.lf_overlaps, b.lf_overlaps); f(a.lf_conflicts, b.lf_conflicts);
    f(a.covote, b.covote); f(a.agree, b.agree); f(a.overlap, b.overlap); f(a.confusion, b.confusion);
    f(a.gold_counts, b.gold_counts);
}

// Adds a single-group accumulator into group g of `out`.
void add_group(Stats& out, int64_t g, const Stats& acc) {
    for_each_buffer_pair(out, acc, [g](std::vector<int64_t>& dst, const std::vector<int64_t>& src) {
        const size_t len = src.size();
        int64_t* d = dst.data() + static_cast<size_t>(g) * len;
        for (size_t i = 0; i < len; ++i) d[i] += src[i];
    });
}

struct BadVote {
    int64_t row = -1, col = -1, value = 0;
    void offer(int64_t r, int64_t j, int64_t v) {
        if (row < 0 || r < row || (r == row && j < col)) { row = r; col = j; value = v; }
    }
    void offer(const BadVote& o) { if (o.row >= 0) offer(o.row, o.col, o.value); }
};

// Accumulates one row at a time into a single-group Stats. Pairs (i < j) go to the upper triangle only;
// `finalize` derives the rest.
template <class T>
class RowAccumulator {
  public:
    RowAccumulator(const LabelView<T>& L, const StatsOptions& opt)
        : L_(L), opt_(opt), m_(L.n_cols), k_(opt.cardinality), idx_(L.n_cols), lab_(L.n_cols) {}

    BadVote bad;

    void visit(int64_t pos, int64_t r, Stats& a) {
        int64_t nv = 0, lo = k_, hi = -1;
        for (int64_t j = 0; j < m_; ++j) {
            const int64_t v = (j == opt_.override_col) ? opt_.override_values[pos] : L_(r, j);
            if (v == -1) continue;
            if (v < -1 || v >= k_) { bad.offer(r, j, v); return; }
            idx_[nv] = j;
            lab_[nv] = v;
            ++nv;
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        const int64_t y = opt_.gold ? opt_.gold[r] : -1;
        a.rows[0] += 1;
        if (y >= 0) a.gold_counts[y] += 1;
        if (nv == 0) return;
        a.covered[0] += 1;
        const int64_t f = opt_.focus_col;
        for (int64_t t = 0; t < nv; ++t) {
            const int64_t j = idx_[t];
            if (f >= 0 && j != f) continue;
            a.class_counts[j * k_ + lab_[t]] += 1;
            if (y >= 0) a.confusion[(j * k_ + y) * k_ + lab_[t]] += 1;
        }
        if (nv >= 2) {
            a.overlapping[0] += 1;
            for (int64_t t = 0; t < nv; ++t) a.lf_overlaps[idx_[t]] += 1;
        }
        if (lo != hi) {
            a.conflicting[0] += 1;
            for (int64_t t = 0; t < nv; ++t) a.lf_conflicts[idx_[t]] += 1;
        }
        if (nv < 2) return;
        if (f < 0) {
            for (int64_t s = 0; s < nv; ++s)
                for (int64_t t = s + 1; t < nv; ++t) pair(a, idx_[s], lab_[s], idx_[t], lab_[t]);
        } else {
            int64_t p = 0;
            while (p < nv && idx_[p] != f) ++p;
            if (p == nv) return;  // the focus LF abstains here: no pair of it changes
            for (int64_t t = 0; t < nv; ++t) {
                if (t < p) pair(a, idx_[t], lab_[t], f, lab_[p]);
                else if (t > p) pair(a, f, lab_[p], idx_[t], lab_[t]);
            }
        }
    }

  private:
    // i < j
    void pair(Stats& a, int64_t i, int64_t ci, int64_t j, int64_t cj) {
        if (opt_.overlap_matrix) {
            a.overlap[((i * k_ + ci) * m_ + j) * k_ + cj] += 1;
        } else {
            a.covote[i * m_ + j] += 1;
            a.agree[i * m_ + j] += (ci == cj);
        }
    }

    const LabelView<T>& L_;
    const StatsOptions& opt_;
    const int64_t m_, k_;
    std::vector<int64_t> idx_, lab_;
};

// Fills what the row loop leaves out: the lower triangles, diagonals, and (with the overlap matrix) the
// co-vote and agreement counts it implies.
void finalize(Stats& s) {
    const int64_t m = s.n_lfs, k = s.cardinality, mk = m * k;
    for (int64_t g = 0; g < s.n_groups; ++g) {
        int64_t* cv = s.covote.data() + g * m * m;
        int64_t* ag = s.agree.data() + g * m * m;
        const int64_t* cc = s.class_counts.data() + g * m * k;
        if (s.has_overlap) {
            int64_t* O = s.overlap.data() + g * mk * mk;
            for (int64_t i = 0; i < m; ++i)
                for (int64_t j = i + 1; j < m; ++j) {
                    int64_t both = 0, same = 0;
                    for (int64_t a = 0; a < k; ++a)
                        for (int64_t b = 0; b < k; ++b) {
                            const int64_t c = O[(i * k + a) * mk + j * k + b];
                            both += c;
                            if (a == b) same += c;
                            O[(j * k + b) * mk + i * k + a] = c;
                        }
                    cv[i * m + j] = both;
                    ag[i * m + j] = same;
                }
            for (int64_t i = 0; i < m; ++i)
                for (int64_t a = 0; a < k; ++a) O[(i * k + a) * mk + i * k + a] = cc[i * k + a];
        }
        for (int64_t i = 0; i < m; ++i) {
            int64_t cov = 0;
            for (int64_t a = 0; a < k; ++a) cov += cc[i * k + a];
            cv[i * m + i] = cov;
            ag[i * m + i] = cov;
            for (int64_t j = i + 1; j < m; ++j) {
                cv[j * m + i] = cv[i * m + j];
                ag[j * m + i] = ag[i * m + j];
            }
        }
    }
}

// One-hot overlap counts O[(i,a),(j,b)], i < j, of rows whose votes are known to be in range: each row's votes as
// a list of one-hot indices j*k + c (ascending in j), then one increment per pair of the list.
template <class T>
void overlap_rows(const LabelView<T>& L, const RowSet& rows, int64_t begin, int64_t end, int64_t k, int64_t* list,
                  int64_t* overlap) {
    const int64_t m = L.n_cols, mk = m * k;
    for (int64_t pos = begin; pos < end; ++pos) {
        const T* row = L.data + rows.row(pos) * L.row_stride;
        int64_t nv = 0;
        for (int64_t j = 0; j < m; ++j) {  // branch-free append: the slot is overwritten when the LF abstains
            const int64_t v = static_cast<int64_t>(row[j * L.col_stride]);
            list[nv] = j * k + v;
            nv += v >= 0;
        }
        for (int64_t s = 0; s + 1 < nv; ++s) {
            int64_t* target = overlap + list[s] * mk;
            for (int64_t t = s + 1; t < nv; ++t) target[list[t]] += 1;
        }
    }
}

struct Task {
    int64_t group, begin, end;
};

}  // namespace

void Stats::allocate(int64_t G, int64_t m, int64_t k, bool overlap_matrix, bool gold) {
    n_groups = G; n_lfs = m; cardinality = k; has_overlap = overlap_matrix; has_gold = gold;
    rows.assign(G, 0); covered.assign(G, 0); overlapping.assign(G, 0); conflicting.assign(G, 0);
    class_counts.assign(G * m * k, 0); lf_overlaps.assign(G * m, 0); lf_conflicts.assign(G * m, 0);
    covote.assign(G * m * m, 0); agree.assign(G * m * m, 0);
    overlap.assign(overlap_matrix ? G * m * k * m * k : 0, 0);
    confusion.assign(gold ? G * m * k * k : 0, 0);
    gold_counts.assign(gold ? G * k : 0, 0);
}

template <class T>
Stats compute_stats(const LabelView<T>& L, const RowSet& rows, const StatsOptions& opt, int n_threads) {
    if (opt.cardinality < 1) throw std::invalid_argument("cardinality: must be at least 1");
    check_thread_count(n_threads);
    const int64_t G = rows.n_groups, m = L.n_cols, k = opt.cardinality;
    Stats out;
    out.allocate(G, m, k, opt.overlap_matrix, opt.gold != nullptr);

    // Rows are cut into tasks that never straddle a group, so each thread accumulates one group at a time.
    constexpr int64_t kChunk = 8192;
    std::vector<Task> tasks;
    for (int64_t g = 0; g < G; ++g)
        for (int64_t b = rows.offsets[g]; b < rows.offsets[g + 1]; b += kChunk)
            tasks.push_back({g, b, std::min(b + kChunk, rows.offsets[g + 1])});
    const int64_t total = rows.offsets[G] - rows.offsets[0];
    // One thread below the serial cutoff; otherwise no more threads than tasks (an idle thread still allocates its
    // accumulator) nor than blocks of kStatsRowsPerThread rows.
    const int64_t n_tasks = static_cast<int64_t>(tasks.size());
    if (total * std::max<int64_t>(m, 1) < kStatsSerialVotes) n_threads = 1;
    n_threads = static_cast<int>(std::min<int64_t>(n_threads, std::max<int64_t>(n_tasks, 1)));
    n_threads = static_cast<int>(std::min<int64_t>(n_threads, std::max<int64_t>(1, total / kStatsRowsPerThread)));

    // The bitset path covers the common full pass (gold labels included); the row path handles the overlap matrix
    // for k > 8, k > 127, and names offenders.
    // For the overlap matrix with 8 < k <= 127 (full passes only), the bit planes count everything else and
    // overlap_rows adds O from per-row vote lists: k^2 mask pairs per LF pair would cost more than the co-votes.
    const bool row_overlap = opt.overlap_matrix && k > kBitsetMaxOverlapCardinality && k <= kBitsetMaxCardinality &&
                             opt.focus_col < 0 && opt.override_col < 0;
    const bool bitsets =
        row_overlap || k <= (opt.overlap_matrix ? kBitsetMaxOverlapCardinality : kBitsetMaxCardinality);
    ExceptionCatcher catcher;
    BadVote bad;
#pragma omp parallel num_threads(n_threads)
    {
        if (thread_index() == 0) out.n_threads_used = team_size();
        Stats acc;
        RowAccumulator<T> visitor(L, opt);
        std::unique_ptr<BitsetBlock> block;
        std::vector<int64_t> vote_list;
        int64_t current = -1;
        catcher.run([&] {
            acc.allocate(1, m, k, opt.overlap_matrix, opt.gold != nullptr);
            if (bitsets)
                block = std::make_unique<BitsetBlock>(m, k, opt.overlap_matrix && !row_overlap, opt.gold,
                                                      opt.focus_col, opt.override_col, opt.override_values);
            if (row_overlap) vote_list.resize(m);
        });
        auto flush = [&] {
            if (current < 0) return;
#pragma omp critical(labelfuse_stats_flush)
            add_group(out, current, acc);
            for_each_buffer(acc, [](std::vector<int64_t>& v) { std::fill(v.begin(), v.end(), 0); });
        };
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < n_tasks; ++t) {
            catcher.run([&] {
                const Task& task = tasks[t];
                if (task.group != current) {
                    flush();
                    current = task.group;
                }
                if (!bitsets) {
                    for (int64_t pos = task.begin; pos < task.end; ++pos) visitor.visit(pos, rows.row(pos), acc);
                    return;
                }
                for (int64_t b = task.begin; b < task.end; b += kBitsetBlockRows) {
                    const int64_t e = std::min(b + kBitsetBlockRows, task.end);
                    if (!block->accumulate(L, rows, b, e, acc))
                        for (int64_t pos = b; pos < e; ++pos) visitor.visit(pos, rows.row(pos), acc);
                    else if (row_overlap)  // votes checked by accumulate
                        overlap_rows(L, rows, b, e, k, vote_list.data(), acc.overlap.data());
                }
                block->flush(acc);  // tasks never straddle a group: the held pair counts belong to this one
            });
        }
        catcher.run(flush);
#pragma omp critical(labelfuse_stats_bad)
        bad.offer(visitor.bad);
    }
    catcher.rethrow();
    if (bad.row >= 0)
        throw std::invalid_argument(bad_vote_message(bad.row, bad.col, bad.value, k));
    finalize(out);
    return out;
}

template Stats compute_stats<int8_t>(const LabelView<int8_t>&, const RowSet&, const StatsOptions&, int);
template Stats compute_stats<int16_t>(const LabelView<int16_t>&, const RowSet&, const StatsOptions&, int);
template Stats compute_stats<int32_t>(const LabelView<int32_t>&, const RowSet&, const StatsOptions&, int);
template Stats compute_stats<int64_t>(const LabelView<int64_t>&, const RowSet&, const StatsOptions&, int);

void group_order(const int64_t* groups, int64_t n, int64_t n_groups, std::vector<int64_t>& order,
                 std::vector<int64_t>& offsets) {
    offsets.assign(n_groups + 1, 0);
    for (int64_t r = 0; r < n; ++r) {
        const int64_t g = groups[r];
        if (g < 0 || g >= n_groups)
            throw std::invalid_argument("groups: entry " + std::to_string(r) + " is " + std::to_string(g) +
                                        "; expected a group id in 0.." + std::to_string(n_groups - 1));
        offsets[g + 1] += 1;
    }
    for (int64_t g = 0; g < n_groups; ++g) offsets[g + 1] += offsets[g];
    std::vector<int64_t> next(offsets.begin(), offsets.end() - 1);
    order.resize(n);
    for (int64_t r = 0; r < n; ++r) order[next[groups[r]]++] = r;
}

}  // namespace labelfuse
