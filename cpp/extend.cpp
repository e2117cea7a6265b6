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

template <class T>
void check_votes(const LabelView<T>& L, int64_t k, const char* name, int n_threads, std::vector<int64_t>* voters) {
    const int64_t n = L.n_rows, m = L.n_cols;
    ExceptionCatcher catcher;
    std::vector<std::vector<int64_t>> per_thread;
#pragma omp parallel num_threads(n_threads)
    {
        std::vector<int64_t> local(m, 0);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < n; ++r) {
            catcher.run([&] {
                for (int64_t j = 0; j < m; ++j) {
                    const int64_t v = L(r, j);
                    if (v < -1 || v >= k)
                        throw std::invalid_argument(std::string(name) + ": entry " + cell(r, j) + " is " +
                                                    std::to_string(v) + "; votes must be -1 (abstain) or a class in 0.." +
                                                    std::to_string(k - 1));
                    local[j] += v >= 0;
                }
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

// Dot products of kRows query rows with one database row, in float32 with 8 independent lanes per row: the lanes
// vectorise without -ffast-math, and the summation order is fixed, so results do not depend on threads.
constexpr int kRows = 4;
constexpr int kLanes = 8;

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
    const int64_t nq = in.n_query, m = in.n_lfs, k = in.cardinality, K = in.n_neighbors;
    if (L_db.n_rows != in.n_db || L_db.n_cols != m) throw std::invalid_argument("L_db: shape mismatch");
    if (L_query.n_rows != nq || L_query.n_cols != m) throw std::invalid_argument("L_query: shape mismatch");
    if (in.self_query && nq != in.n_db)
        throw std::invalid_argument("self_query: the query rows must be the database rows");
    for (int64_t j = 0; j < m; ++j)
        if (std::isnan(in.thresholds[j])) throw std::invalid_argument("thresholds: entry " + std::to_string(j) + " is NaN");
    if (nq * std::max<int64_t>(m, 1) * std::max<int64_t>(K, 1) < (int64_t{1} << 15)) n_threads = 1;

    std::vector<int64_t> voters;
    check_votes(L_db, k, "L_db", n_threads, &voters);
    if (&L_query.data[0] != &L_db.data[0] || L_query.row_stride != L_db.row_stride)
        check_votes(L_query, k, "L_query", n_threads, nullptr);

    ExtendReport report;
    report.extended.assign(m, 0);
    report.fallback.assign(m, 0);
    const int64_t self_gap = in.self_query ? 1 : 0;

    // Phase 1: decide every (row, LF) pair that the row's top-K list can decide.
    ExceptionCatcher catcher;
    std::vector<std::vector<int64_t>> tallies;  // per thread: extended[m] then fallback[m]
#pragma omp parallel num_threads(n_threads)
    {
        std::vector<int64_t> tally(2 * m, 0);
        std::vector<int64_t> pending;
        std::vector<int64_t> best_class(m);
        std::vector<float> best_sim(m);
        std::vector<char> tie(m);
        pending.reserve(m);
#pragma omp for schedule(dynamic, 256)
        for (int64_t i = 0; i < nq; ++i) {
            catcher.run([&] {
                T* o = out + i * m;
                pending.clear();
                for (int64_t j = 0; j < m; ++j) {
                    o[j] = static_cast<T>(L_query(i, j));
                    if (o[j] == -1 && voters[j] > 0) {
                        pending.push_back(j);
                        best_class[j] = -1;
                        tie[j] = 0;
                    }
                }
                if (pending.empty()) return;
                const int64_t* ids = in.nbr_ids + i * K;
                const float* sims = in.nbr_sims + i * K;
                int64_t seen = 0;  // list entries other than row i itself
                float previous = std::numeric_limits<float>::infinity();
                int64_t p = 0;
                for (; p < K && !pending.empty(); ++p) {
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
                    if (in.self_query && r == i) continue;
                    ++seen;
                    size_t keep = 0;
                    for (size_t q = 0; q < pending.size(); ++q) {
                        const int64_t j = pending[q];
                        if (best_class[j] >= 0) {
                            if (s < best_sim[j]) {  // nothing at the best similarity is left: decided
                                if (!tie[j]) {
                                    o[j] = static_cast<T>(best_class[j]);
                                    ++tally[j];
                                }
                                continue;
                            }
                            const int64_t v = L_db(r, j);
                            if (v >= 0 && v != best_class[j]) tie[j] = 1;
                        } else {
                            if (static_cast<double>(s) <= in.thresholds[j]) continue;  // no voter can pass any more
                            const int64_t v = L_db(r, j);
                            if (v >= 0) {
                                best_class[j] = v;
                                best_sim[j] = s;
                            }
                        }
                        pending[keep++] = j;
                    }
                    pending.resize(keep);
                }
                if (pending.empty()) return;
                // Count the rest of the list (after an early exit) to know whether it holds every database row.
                for (; p < K && ids[p] >= 0; ++p) seen += !(in.self_query && ids[p] == i);
                const bool complete = seen >= in.n_db - self_gap;
                for (const int64_t j : pending) {
                    if (best_class[j] >= 0 && (tie[j] || complete)) {
                        if (!tie[j]) {
                            o[j] = static_cast<T>(best_class[j]);
                            ++tally[j];
                        }
                    } else if (!complete) {
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
        for (int64_t first = 0; first < static_cast<int64_t>(rows[j].size()); first += kRows) tasks.push_back({j, first});
        work += static_cast<int64_t>(rows[j].size() * support[j].size()) * in.dim;
    }
    const int64_t n_tasks = static_cast<int64_t>(tasks.size());
    std::vector<int64_t> task_extended(n_tasks, 0);
    const int t = work < (int64_t{1} << 20) ? 1 : n_threads;
#pragma omp parallel num_threads(t)
    {
        std::vector<float> best(kRows * k);
#pragma omp for schedule(dynamic, 4)
        for (int64_t task = 0; task < n_tasks; ++task) {
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
                task_extended[task] += take;
            }
        }
    }
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
