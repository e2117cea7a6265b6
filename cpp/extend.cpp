#include "extend.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "parallel.hpp"

namespace labelfuse {
namespace {

constexpr int64_t kNeedsExact = -2;  // marks an (i, j) pair for the exact scan of phase 2

std::string cell(int64_t r, int64_t j) { return "(row " + std::to_string(r) + ", column " + std::to_string(j) + ")"; }

// Validates the votes; optionally counts voters per LF and votes per row (for the sparse copy below).
template <class T>
void check_votes(const LabelView<T>& L, int64_t k, const char* name, int n_threads, std::vector<int64_t>* voters,
                 std::vector<int64_t>* row_votes) {
    const int64_t n = L.n_rows, m = L.n_cols;
    ExceptionCatcher catcher;
    std::vector<std::vector<int64_t>> per_thread;
    if (row_votes) row_votes->assign(n, 0);
#pragma omp parallel num_threads(n_threads)
    {
        std::vector<int64_t> local(m, 0);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < n; ++r) {
            catcher.run([&] {
                int64_t count = 0;
                for (int64_t j = 0; j < m; ++j) {
                    const int64_t v = L(r, j);
                    if (v < -1 || v >= k)
                        throw std::invalid_argument(std::string(name) + ": entry " + cell(r, j) + " is " +
                                                    std::to_string(v) +
                                                    "; votes must be -1 (abstain) or a class in 0.." +
                                                    std::to_string(k - 1));
                    local[j] += v >= 0;
                    count += v >= 0;
                }
                if (row_votes) (*row_votes)[r] = count;
            });
        }
#pragma omp critical
        per_thread.push_back(std::move(local));
    }
    catcher.rethrow();
    if (voters) {
        voters->assign(m, 0);
        for (const auto& local : per_thread)  // integer sums: the order does not matter
            for (int64_t j = 0; j < m; ++j) (*voters)[j] += local[j];
    }
}

// The database votes row by row, abstentions left out: scanning a neighbour then costs its votes, not m.
struct SparseVotes {
    std::vector<int64_t> offsets;  // n + 1
    std::vector<int32_t> lf, cls;
};

template <class T>
SparseVotes sparse_votes(const LabelView<T>& L, const std::vector<int64_t>& row_votes, int n_threads) {
    const int64_t n = L.n_rows, m = L.n_cols;
    SparseVotes sv;
    sv.offsets.assign(n + 1, 0);
    for (int64_t r = 0; r < n; ++r) sv.offsets[r + 1] = sv.offsets[r] + row_votes[r];
    sv.lf.resize(sv.offsets[n]);
    sv.cls.resize(sv.offsets[n]);
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t r = 0; r < n; ++r) {
        int64_t at = sv.offsets[r];
        for (int64_t j = 0; j < m; ++j) {
            const int64_t v = L(r, j);
            if (v >= 0) {
                sv.lf[at] = static_cast<int32_t>(j);
                sv.cls[at] = static_cast<int32_t>(v);
                ++at;
            }
        }
    }
    return sv;
}

// Dot products of kRows query rows with one database row, in float32 with 8 independent lanes per row: the lanes
// vectorise without -ffast-math, and the summation order is fixed, so results do not depend on threads.
constexpr int kRows = 4;
constexpr int kLanes = 8;

// An AVX2 clone is picked at load time where the CPU has it; both clones do the same float operations in the same
// order (no FMA contraction), so the results are bit-identical.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("avx2", "default")))
#endif
void dot_block(const float* const* q, int n_q, const float* b, int64_t d, float* out) {
    float acc[kRows][kLanes] = {};
    int64_t t = 0;
    for (; t + kLanes <= d; t += kLanes)
        for (int r = 0; r < kRows; ++r)
            for (int l = 0; l < kLanes; ++l) acc[r][l] += q[r][t + l] * b[t + l];
    for (int r = 0; r < n_q; ++r) {
        float tail = 0.0f;
        for (int64_t u = t; u < d; ++u) tail += q[r][u] * b[u];
        float s = 0.0f;
        for (int l = 0; l < kLanes; ++l) s += acc[r][l];
        out[r] = s + tail;
    }
}

}  // namespace

template <class T>
ExtendReport extend_votes(const LabelView<T>& L_db, const LabelView<T>& L_query, const ExtendInput& in, T* out,
                          int n_threads) {
    check_thread_count(n_threads);
    const int64_t nq = in.n_query, m = in.n_lfs, k = in.cardinality, K = in.n_neighbors;
    if (L_db.n_rows != in.n_db || L_db.n_cols != m) throw std::invalid_argument("L_db: shape mismatch");
    if (L_query.n_rows != nq || L_query.n_cols != m) throw std::invalid_argument("L_query: shape mismatch");
    if (in.self_query && nq != in.n_db)
        throw std::invalid_argument("self_query: the query rows must be the database rows");
    for (int64_t j = 0; j < m; ++j)
        if (std::isnan(in.thresholds[j]))
            throw std::invalid_argument("thresholds: entry " + std::to_string(j) + " is NaN");
    if (nq * std::max<int64_t>(m, 1) * std::max<int64_t>(K, 1) < (int64_t{1} << 15)) n_threads = 1;

    std::vector<int64_t> voters, row_votes;
    check_votes(L_db, k, "L", n_threads, &voters, &row_votes);  // "L": the name in the Python API
    if (L_query.data != L_db.data || L_query.row_stride != L_db.row_stride || L_query.col_stride != L_db.col_stride)
        check_votes(L_query, k, "L_query", n_threads, nullptr, nullptr);
    const SparseVotes db = sparse_votes(L_db, row_votes, n_threads);
    // LFs by decreasing threshold: as the similarity falls along a list, LFs close in this order
    std::vector<int64_t> by_threshold(m);
    for (int64_t j = 0; j < m; ++j) by_threshold[j] = j;
    std::stable_sort(by_threshold.begin(), by_threshold.end(),
                     [&](int64_t a, int64_t b) { return in.thresholds[a] > in.thresholds[b]; });

    ExtendReport report;
    report.extended.assign(m, 0);
    report.fallback.assign(m, 0);
    const int64_t self_gap = in.self_query ? 1 : 0;

    // Phase 1: decide every (row, LF) pair that the row's top-K list can decide. Walking down the list, an LF is
    // OPEN until its first voter appears (FOUND: that voter's similarity is the LF's maximum) or the similarity
    // falls to its threshold (CLOSED: nothing further can pass). A FOUND LF is settled once the similarity falls
    // below its maximum; until then a voter of another class at the same similarity makes a tie.
    enum : char { kIdle = 0, kOpen = 1, kFound = 2, kClosed = 3 };
    ExceptionCatcher catcher;
    std::vector<std::vector<int64_t>> tallies;  // per thread: extended[m] then fallback[m]
#pragma omp parallel num_threads(n_threads)
    {
        std::vector<int64_t> tally(2 * m, 0);
        std::vector<char> state(m), tie(m);
        std::vector<int32_t> best_class(m);
        std::vector<float> best_sim(m);
#pragma omp for schedule(dynamic, 256)
        for (int64_t i = 0; i < nq; ++i) {
            catcher.run([&] {
                T* o = out + i * m;
                float* o_sim = in.best_sims ? in.best_sims + i * m : nullptr;
                if (o_sim) std::fill(o_sim, o_sim + m, -std::numeric_limits<float>::infinity());
                int64_t n_open = 0;
                for (int64_t j = 0; j < m; ++j) {
                    o[j] = static_cast<T>(L_query(i, j));
                    const bool pending = o[j] == -1 && voters[j] > 0;
                    state[j] = pending ? kOpen : kIdle;
                    tie[j] = 0;
                    n_open += pending;
                }
                if (n_open == 0) return;
                const int64_t* ids = in.nbr_ids + i * K;
                const float* sims = in.nbr_sims + i * K;
                int64_t seen = 0, closing = 0, p = 0;
                float previous = std::numeric_limits<float>::infinity();
                float lowest_found = std::numeric_limits<float>::infinity();
                bool settled = false;
                for (; p < K; ++p) {
                    const int64_t r = ids[p];
                    if (r < 0) break;  // padding of a short list
                    if (r >= in.n_db)
                        throw std::invalid_argument("nbr_ids: entry " + cell(i, p) + " is " + std::to_string(r) +
                                                    "; expected a database row in 0.." + std::to_string(in.n_db - 1));
                    const float s = sims[p];
                    if (!(s <= previous))
                        throw std::invalid_argument("nbr_sims: row " + std::to_string(i) +
                                                    " is not sorted by decreasing similarity (or has NaN)");
                    previous = s;
                    for (; closing < m && in.thresholds[by_threshold[closing]] >= static_cast<double>(s); ++closing) {
                        const int64_t j = by_threshold[closing];
                        if (state[j] == kOpen) {
                            state[j] = kClosed;
                            --n_open;
                        }
                    }
                    if (n_open == 0 && s < lowest_found) {  // nothing can be found or tied any more
                        settled = true;
                        break;
                    }
                    if (in.self_query && r == i) continue;
                    ++seen;
                    for (int64_t e = db.offsets[r]; e < db.offsets[r + 1]; ++e) {
                        const int32_t j = db.lf[e], c = db.cls[e];
                        if (state[j] == kOpen) {  // its threshold is below s, or it would be closed
                            state[j] = kFound;
                            best_class[j] = c;
                            best_sim[j] = s;
                            lowest_found = s;
                            --n_open;
                        } else if (state[j] == kFound && c != best_class[j] && s == best_sim[j]) {
                            tie[j] = 1;
                        }
                    }
                }
                bool complete = settled;
                const float last = previous;
                if (!settled) {
                    for (; p < K && ids[p] >= 0; ++p) seen += !(in.self_query && ids[p] == i);
                    complete = seen >= in.n_db - self_gap;  // the list holds every other database row
                }
                for (int64_t j = 0; j < m; ++j) {
                    if (state[j] == kFound) {
                        if (tie[j]) continue;  // a tie at the maximum: nothing further can break it
                        if (complete || best_sim[j] > last) {
                            o[j] = static_cast<T>(best_class[j]);
                            if (o_sim) o_sim[j] = best_sim[j];
                            ++tally[j];
                        } else {  // voters of another class at the same similarity may follow the list
                            o[j] = static_cast<T>(kNeedsExact);
                            ++tally[m + j];
                        }
                    } else if (state[j] == kOpen && !complete) {  // above its threshold to the end of the list
                        o[j] = static_cast<T>(kNeedsExact);
                        ++tally[m + j];
                    }
                }
            });
        }
#pragma omp critical
        tallies.push_back(std::move(tally));
    }
    catcher.rethrow();
    for (const auto& t : tallies)
        for (int64_t j = 0; j < m; ++j) {
            report.extended[j] += t[j];
            report.fallback[j] += t[m + j];
        }

    // Phase 2: exact scan over the LF's voters for the pairs the lists could not decide. One parallel region over
    // blocks of (LF, kRows query rows): few regions, because idle OpenMP threads spin and a busy machine pays.
    int64_t total_fallback = 0;
    for (int64_t j = 0; j < m; ++j) total_fallback += report.fallback[j];
    if (total_fallback == 0) return report;
    if (!in.X_query || !in.X_db) throw std::invalid_argument("X: embeddings are needed for the exact fallback");
    std::vector<std::vector<int64_t>> support(m), rows(m);
    for (int64_t i = 0; i < nq; ++i)
        for (int64_t j = 0; j < m; ++j)
            if (out[i * m + j] == static_cast<T>(kNeedsExact)) rows[j].push_back(i);
    struct Task {
        int64_t lf, first;
    };
    std::vector<Task> tasks;
    int64_t work = 0;
    for (int64_t j = 0; j < m; ++j) {
        if (rows[j].empty()) continue;
        support[j].reserve(voters[j]);
        for (int64_t r = 0; r < in.n_db; ++r)
            if (L_db(r, j) >= 0) support[j].push_back(r);
        for (int64_t first = 0; first < static_cast<int64_t>(rows[j].size()); first += kRows)
            tasks.push_back({j, first});
        work += static_cast<int64_t>(rows[j].size() * support[j].size()) * in.dim;
    }
    const int64_t n_tasks = static_cast<int64_t>(tasks.size());
    std::vector<int64_t> task_extended(n_tasks, 0);
    const int t = work < (int64_t{1} << 20) ? 1 : n_threads;
    ExceptionCatcher exact_catcher;  // nothing here throws but an interrupt (a long exact pass must answer Ctrl-C)
#pragma omp parallel num_threads(t)
    {
        std::vector<float> best(kRows * k);
#pragma omp for schedule(dynamic, 4)
        for (int64_t task = 0; task < n_tasks; ++task) exact_catcher.run([&] {
            const int64_t j = tasks[task].lf;
            const int64_t* block_rows = rows[j].data() + tasks[task].first;
            const int n_here = static_cast<int>(
                std::min<int64_t>(kRows, static_cast<int64_t>(rows[j].size()) - tasks[task].first));
            const float* q[kRows];
            for (int r = 0; r < kRows; ++r)  // a short block repeats its last row: computed, then ignored
                q[r] = in.X_query + block_rows[std::min(r, n_here - 1)] * in.dim;
            std::fill(best.begin(), best.end(), -std::numeric_limits<float>::infinity());
            float s[kRows];
            for (const int64_t v : support[j]) {
                dot_block(q, n_here, in.X_db + v * in.dim, in.dim, s);
                const int64_t c = L_db(v, j);
                for (int r = 0; r < n_here; ++r) {
                    if (in.self_query && v == block_rows[r]) continue;
                    if (s[r] > best[r * k + c]) best[r * k + c] = s[r];
                }
            }
            for (int r = 0; r < n_here; ++r) {
                const float* b = best.data() + r * k;
                int64_t winner = 0;
                bool tied = false;
                for (int64_t c = 1; c < k; ++c) {
                    if (b[c] > b[winner]) {
                        winner = c;
                        tied = false;
                    } else if (b[c] == b[winner]) {
                        tied = true;
                    }
                }
                const bool take = !tied && static_cast<double>(b[winner]) > in.thresholds[j];
                out[block_rows[r] * m + j] = static_cast<T>(take ? winner : -1);
                if (take && in.best_sims) in.best_sims[block_rows[r] * m + j] = b[winner];
                task_extended[task] += take;
            }
        });
    }
    exact_catcher.rethrow();
    for (int64_t task = 0; task < n_tasks; ++task) report.extended[tasks[task].lf] += task_extended[task];
    return report;
}

template ExtendReport extend_votes<int8_t>(const LabelView<int8_t>&, const LabelView<int8_t>&, const ExtendInput&,
                                           int8_t*, int);
template ExtendReport extend_votes<int16_t>(const LabelView<int16_t>&, const LabelView<int16_t>&,
                                            const ExtendInput&, int16_t*, int);
template ExtendReport extend_votes<int32_t>(const LabelView<int32_t>&, const LabelView<int32_t>&,
                                            const ExtendInput&, int32_t*, int);
template ExtendReport extend_votes<int64_t>(const LabelView<int64_t>&, const LabelView<int64_t>&,
                                            const ExtendInput&, int64_t*, int);

}  // namespace labelfuse
