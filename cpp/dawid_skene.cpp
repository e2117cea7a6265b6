#include "dawid_skene.hpp"
#include "interrupt.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "parallel.hpp"

namespace labelfuse {

namespace {

// splitmix64's finaliser: spreads a polynomial row hash over all 64 bits (the top bits pick the bucket).
inline uint64_t finalize_hash(uint64_t h) {
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

template <class T>
bool same_row(const LabelView<T>& L, int64_t a, int64_t b) {
    for (int64_t j = 0; j < L.n_cols; ++j)
        if (L(a, j) != L(b, j)) return false;
    return true;
}

// Fixed work split that depends only on the problem size, never on the thread count: sums over these chunks,
// added in chunk order, are identical for any number of threads.
int64_t n_fixed_chunks(int64_t items, int64_t min_items_per_chunk, int64_t max_chunks) {
    return std::max<int64_t>(1, std::min<int64_t>(max_chunks, items / std::max<int64_t>(min_items_per_chunk, 1)));
}
inline int64_t chunk_begin(int64_t c, int64_t n_chunks, int64_t items) { return c * items / n_chunks; }

// Scratch is allocated before each parallel region, one slice per thread (thread_index()), so that nothing
// inside a region can throw.

}  // namespace

template <class T>
VotePatterns vote_patterns(const LabelView<T>& L, int64_t k, int n_threads) {
    check_thread_count(n_threads);
    const int64_t n = L.n_rows, m = L.n_cols;
    if (k < 1) throw std::invalid_argument("cardinality: must be at least 1");
    if (m * k > INT32_MAX) throw std::invalid_argument("L: too many LFs x classes for 32-bit vote codes");
    if (n * std::max<int64_t>(m, 1) < (int64_t{1} << 15)) n_threads = 1;

    // 1. Hash every row (and validate its votes).
    constexpr int64_t kRowChunk = 8192;
    const int64_t n_row_chunks = (n + kRowChunk - 1) / kRowChunk;
    std::vector<uint64_t> hash(n);
    std::vector<int64_t> bad_row(n_row_chunks, -1), bad_col(n_row_chunks, 0), bad_val(n_row_chunks, 0);
    // Every region below polls Ctrl-C once per unit of work (a block of rows, a bucket, a pattern) and skips the
    // rest once it is pressed; each region's end throws Interrupted.
    InterruptFlag interrupted;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t c = 0; c < n_row_chunks; ++c) {
        if (interrupted.stop()) continue;
        const int64_t end = std::min(n, (c + 1) * kRowChunk);
        for (int64_t r = c * kRowChunk; r < end; ++r) {
            // Four independent multiply chains (a single chain is bound by the multiplier's latency).
            uint64_t h0 = 0x9e3779b97f4a7c15ULL, h1 = 0x632be59bd9b4e019ULL, h2 = 0x85ebca6b27d4eb4fULL,
                     h3 = 0xc2b2ae3d27d4eb4fULL;
            bool bad = false;
            auto code = [&](int64_t j) {
                const int64_t v = L(r, j);
                bad |= (v < -1) | (v >= k);
                return static_cast<uint64_t>(v + 2);
            };
            int64_t j = 0;
            for (; j + 4 <= m; j += 4) {
                h0 = (h0 ^ code(j)) * 0x100000001b3ULL;
                h1 = (h1 ^ code(j + 1)) * 0x100000001b3ULL;
                h2 = (h2 ^ code(j + 2)) * 0x100000001b3ULL;
                h3 = (h3 ^ code(j + 3)) * 0x100000001b3ULL;
            }
            for (; j < m; ++j) h0 = (h0 ^ code(j)) * 0x100000001b3ULL;
            if (bad && bad_row[c] < 0) {
                for (int64_t jj = 0; jj < m; ++jj) {
                    const int64_t v = L(r, jj);
                    if (v < -1 || v >= k) { bad_row[c] = r; bad_col[c] = jj; bad_val[c] = v; break; }
                }
            }
            const uint64_t h[4] = {h0, h1, h2, h3};
            hash[r] = finalize_hash(h[0] ^ finalize_hash(h[1] ^ finalize_hash(h[2] ^ finalize_hash(h[3]))));
        }
    }
    interrupted.throw_if_stopped();
    for (int64_t c = 0; c < n_row_chunks; ++c)
        if (bad_row[c] >= 0)
            throw std::invalid_argument("L: entry (row " + std::to_string(bad_row[c]) + ", column " +
                                        std::to_string(bad_col[c]) + ") is " + std::to_string(bad_val[c]) +
                                        "; votes must be -1 (abstain) or a class in 0.." + std::to_string(k - 1));

    // 2. Stable counting sort of the rows into buckets by the top hash bits, so that each bucket can be
    //    deduplicated on its own with a small, cache-resident table.
    int bits = 0;
    while (bits < 14 && (int64_t{1} << bits) * 1024 < n) ++bits;
    const int64_t n_buckets = int64_t{1} << bits;
    auto bucket_of = [&](int64_t r) -> int64_t { return bits ? static_cast<int64_t>(hash[r] >> (64 - bits)) : 0; };
    std::vector<int64_t> hist(n_row_chunks * n_buckets, 0);
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t c = 0; c < n_row_chunks; ++c) {
        if (interrupted.stop()) continue;
        int64_t* h = hist.data() + c * n_buckets;
        const int64_t end = std::min(n, (c + 1) * kRowChunk);
        for (int64_t r = c * kRowChunk; r < end; ++r) ++h[bucket_of(r)];
    }
    interrupted.throw_if_stopped();
    std::vector<int64_t> bucket_start(n_buckets + 1, 0);
    {
        int64_t pos = 0;
        for (int64_t b = 0; b < n_buckets; ++b) {
            bucket_start[b] = pos;
            for (int64_t c = 0; c < n_row_chunks; ++c) {
                int64_t& slot = hist[c * n_buckets + b];
                const int64_t cnt = slot;
                slot = pos;
                pos += cnt;
            }
        }
        bucket_start[n_buckets] = pos;
    }
    std::vector<int64_t> sorted(n);
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t c = 0; c < n_row_chunks; ++c) {
        if (interrupted.stop()) continue;
        int64_t* next = hist.data() + c * n_buckets;
        const int64_t end = std::min(n, (c + 1) * kRowChunk);
        for (int64_t r = c * kRowChunk; r < end; ++r) sorted[next[bucket_of(r)]++] = r;
    }

    interrupted.throw_if_stopped();

    // 3. Deduplicate each bucket; its patterns take the slots bucket_start[b] .. + n_local[b] - 1 of rep/count.
    std::vector<int64_t> rep(n), row_count(n, 0), n_local(n_buckets, 0);
    int64_t max_cap = 16;
    for (int64_t b = 0; b < n_buckets; ++b)
        while (max_cap < 2 * (bucket_start[b + 1] - bucket_start[b])) max_cap <<= 1;
    std::vector<int64_t> tables(static_cast<size_t>(n_threads) * max_cap);
#pragma omp parallel num_threads(n_threads)
    {
        int64_t* table = tables.data() + static_cast<int64_t>(thread_index()) * max_cap;  // local pattern ids
#pragma omp for schedule(dynamic, 16)
        for (int64_t b = 0; b < n_buckets; ++b) {
            const int64_t s = bucket_start[b], e = bucket_start[b + 1];
            if (s == e || interrupted.stop()) continue;
            int64_t cap = 16;
            while (cap < 2 * (e - s)) cap <<= 1;
            std::fill(table, table + cap, int64_t{-1});
            int64_t found = 0;
            for (int64_t p = s; p < e; ++p) {
                const int64_t r = sorted[p];
                const uint64_t h = hash[r];
                int64_t slot = static_cast<int64_t>(h & static_cast<uint64_t>(cap - 1));
                while (true) {
                    const int64_t id = table[slot];
                    if (id < 0) {
                        table[slot] = found;
                        rep[s + found] = r;
                        row_count[s + found] = 1;
                        ++found;
                        break;
                    }
                    const int64_t other = rep[s + id];
                    if (hash[other] == h && same_row(L, other, r)) {
                        ++row_count[s + id];
                        break;
                    }
                    slot = (slot + 1) & (cap - 1);
                }
            }
            n_local[b] = found;
        }
    }

    // 4. Number the patterns by their first row (so the sparse list is built reading L in row order: reading
    //    representative rows in bucket order, i.e. at random, costs a cache and TLB miss per row).
    interrupted.throw_if_stopped();
    std::vector<int64_t> first(n_buckets + 1, 0);
    for (int64_t b = 0; b < n_buckets; ++b) first[b + 1] = first[b] + n_local[b];
    const int64_t n_pat = first[n_buckets];
    std::vector<int64_t> slot_of_row(n, -1);
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 64)
    for (int64_t b = 0; b < n_buckets; ++b)
        for (int64_t i = 0; i < n_local[b]; ++i) slot_of_row[rep[bucket_start[b] + i]] = bucket_start[b] + i;
    std::vector<int64_t> reps;
    reps.reserve(n_pat);
    VotePatterns out;
    out.n_rows = n;
    out.n_lfs = m;
    out.cardinality = k;
    out.counts.resize(n_pat);
    for (int64_t r = 0; r < n; ++r) {
        check_interrupt();
        if (slot_of_row[r] >= 0) {
            out.counts[reps.size()] = static_cast<double>(row_count[slot_of_row[r]]);
            reps.push_back(r);
        }
    }
    out.offsets.assign(n_pat + 1, 0);
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t p = 0; p < n_pat; ++p) {
        if (interrupted.stop()) continue;
        int64_t votes = 0;
        for (int64_t j = 0; j < m; ++j) votes += (L(reps[p], j) != -1);
        out.offsets[p + 1] = votes;
    }
    interrupted.throw_if_stopped();
    for (int64_t p = 0; p < n_pat; ++p) out.offsets[p + 1] += out.offsets[p];
    out.codes.resize(out.offsets[n_pat]);
    std::vector<int32_t> rows_scratch(static_cast<size_t>(n_threads) * m);
#pragma omp parallel num_threads(n_threads)
    {
        int32_t* row = rows_scratch.data() + static_cast<int64_t>(thread_index()) * m;  // branch-free gather
#pragma omp for schedule(static)
        for (int64_t p = 0; p < n_pat; ++p) {
            if (interrupted.stop()) continue;
            const int64_t r = reps[p];
            int64_t nv = 0;
            for (int64_t j = 0; j < m; ++j) {
                const int64_t v = L(r, j);
                row[nv] = static_cast<int32_t>(j * k + v);
                nv += (v != -1);
            }
            std::copy(row, row + nv, out.codes.begin() + out.offsets[p]);
        }
    }
    interrupted.throw_if_stopped();
    return out;
}

template VotePatterns vote_patterns<int8_t>(const LabelView<int8_t>&, int64_t, int);
template VotePatterns vote_patterns<int16_t>(const LabelView<int16_t>&, int64_t, int);
template VotePatterns vote_patterns<int32_t>(const LabelView<int32_t>&, int64_t, int);
template VotePatterns vote_patterns<int64_t>(const LabelView<int64_t>&, int64_t, int);

namespace {

// One EM run. The E-step and the M-step's sums share a single pass over the patterns: each pass computes
// posteriors under the current parameters and accumulates the expected counts for the next ones.
template <int K>  // K = the cardinality when fixed at compile time (the common binary case), 0 = runtime
class EM {
  public:
    EM(const VotePatterns& P, const DawidSkeneOptions& opt, int n_threads)
        : P_(P), opt_(opt), m_(P.n_lfs), k_(K ? K : P.cardinality), np_(P.n_patterns()) {
        const int64_t stride = m_ * k_ * k_ + k_ + 1;
        // Fewer chunks when the accumulators get large (many LFs x classes); never a function of threads.
        const int64_t max_chunks = std::max<int64_t>(1, std::min<int64_t>(64, (int64_t{1} << 22) / stride));
        n_chunks_ = n_fixed_chunks(np_, 1024, max_chunks);
        acc_.assign(n_chunks_ * stride, 0.0);
        counts_.assign(m_ * k_ * k_, 0.0);
        class_mass_.assign(k_, 0.0);
        theta_.assign(m_ * (k_ + 1) * k_, 0.0);
        log_abstain_.assign(m_ * k_, 0.0);
        log_delta_.assign(m_ * k_ * k_, 0.0);
        prior_.assign(k_, 1.0 / k_);
        // Waking threads costs more than it saves below ~1M multiply-adds per pass (worse on a busy machine).
        n_threads_ = (static_cast<int64_t>(P.codes.size() + np_) * k_ < (int64_t{1} << 20)) ? 1 : n_threads;
        // Rows with no vote: at most one pattern (patterns are distinct).
        for (int64_t p = 0; p < np_; ++p)
            if (P.offsets[p] == P.offsets[p + 1]) empty_pattern_ = p;
        class_of_code_.resize(m_ * k_);
        for (int64_t i = 0; i < m_ * k_; ++i) class_of_code_[i] = static_cast<int32_t>(i % k_);
        std::vector<double> per_code(m_ * k_, 0.0);
        for (int64_t p = 0; p < np_; ++p)
            for (int64_t t = P.offsets[p]; t < P.offsets[p + 1]; ++t) per_code[P.codes[t]] += P.counts[p];
        lf_votes_.assign(m_, 0.0);
        for (int64_t i = 0; i < m_ * k_; ++i) lf_votes_[i / k_] += per_code[i];
        covered_rows_ = static_cast<double>(P.n_rows) - (empty_pattern_ >= 0 ? P.counts[empty_pattern_] : 0.0);
    }

    DawidSkeneResult run() {
        DawidSkeneResult res;
        res.n_patterns = np_;
        if (opt_.init_cpt) {
            set_parameters(opt_.init_cpt, opt_.fixed_prior ? opt_.fixed_prior : opt_.init_prior);
        } else {
            pass(/*majority=*/true);
            m_step();
        }
        if (opt_.accelerate) run_squarem(res);
        else run_plain(res);
        res.cpt = cpt();
        res.prior = prior_;
        res.coverage.resize(m_);
        for (int64_t j = 0; j < m_; ++j) res.coverage[j] = P_.n_rows > 0 ? lf_votes_[j] / P_.n_rows : 0.0;
        return res;
    }

  private:
    // One EM step from the current parameters; returns the log-likelihood of the parameters it started from.
    double em_step(DawidSkeneResult& res) {
        check_interrupt_now();
        const double ll = pass(false);
        m_step();
        res.n_iter += 1;
        res.log_likelihood = ll;
        return ll;
    }

    void run_plain(DawidSkeneResult& res) {
        double previous = 0.0;
        while (res.n_iter < opt_.max_iter) {
            const double ll = em_step(res);
            if (res.n_iter > 1 && std::abs(ll - previous) < opt_.tol) {
                res.converged = true;
                return;
            }
            previous = ll;
        }
    }

    // SQUAREM (Varadhan & Roland 2008, scheme S3): two EM steps give r = t1 - t0 and v = t2 - 2 t1 + t0, and
    // the next point is t0 - 2 a r + a^2 v with a = -|r| / |v| (a = -1 is plain EM: t2). A point that lowers
    // the likelihood is dropped for t2. Slow EM (weak LFs, imbalanced classes) needs hundreds of plain steps.
    void run_squarem(DawidSkeneResult& res) {
        double previous = 0.0;
        bool have_previous = false;
        std::vector<double> t0, t1, t2;
        while (res.n_iter < opt_.max_iter) {
            t0 = state();
            const double ll0 = em_step(res);
            if (have_previous && std::abs(ll0 - previous) < opt_.tol) {
                res.converged = true;
                return;
            }
            if (have_previous && ll0 < previous && !t2.empty()) {
                set_state(t2);  // the extrapolated point was worse than plain EM would have been
                have_previous = false;
                continue;
            }
            previous = ll0;
            have_previous = true;
            if (res.n_iter >= opt_.max_iter) return;
            t1 = state();
            const double ll1 = em_step(res);
            if (std::abs(ll1 - ll0) < opt_.tol) {
                res.converged = true;
                return;
            }
            previous = ll1;
            t2 = state();
            double rr = 0.0, vv = 0.0;
            for (size_t i = 0; i < t0.size(); ++i) {
                const double r = t1[i] - t0[i], v = t2[i] - 2.0 * t1[i] + t0[i];
                rr += r * r;
                vv += v * v;
            }
            double step = (vv > 0) ? -std::sqrt(rr / vv) : -1.0;
            if (!std::isfinite(step) || step > -1.0) step = -1.0;
            if (step == -1.0) continue;  // the state is t2 already
            std::vector<double> next(t0.size());
            for (size_t i = 0; i < t0.size(); ++i) {
                const double r = t1[i] - t0[i], v = t2[i] - 2.0 * t1[i] + t0[i];
                next[i] = t0[i] - 2.0 * step * r + step * step * v;
            }
            set_state(next);
        }
    }

    // Returns the mean log-likelihood per row under the current parameters (0 for the majority-vote pass).
    double pass(bool majority) {
        const int64_t m = m_, k = K ? K : k_, stride = m * k * k + k + 1;  // K: a compile-time trip count
        std::fill(acc_.begin(), acc_.end(), 0.0);
        std::vector<double> base(k);
        for (int64_t y = 0; y < k; ++y) {
            double b = std::log(std::max(prior_[y], 1e-300));
            for (int64_t j = 0; j < m; ++j) b += log_abstain_[j * k + y];
            base[y] = b;
        }
        const bool ignore = !opt_.model_abstentions;
        std::vector<double> scratch(static_cast<size_t>(n_threads_) * k);
        InterruptFlag interrupted;  // a pass over 10^7 patterns takes seconds: polled every 1024 patterns
#pragma omp parallel num_threads(n_threads_)
        {
            double post[K ? K : 1];
            double* s = K ? post : scratch.data() + static_cast<int64_t>(thread_index()) * k;
#pragma omp for schedule(dynamic, 1)
            for (int64_t c = 0; c < n_chunks_; ++c) {
                double* a = acc_.data() + c * stride;
                double* mass = a + m * k * k;
                // log-likelihood: sum of w * (top + log z). For single rows (w = 1, the rule when m is large)
                // the z's are multiplied instead and their log taken once per chunk: a log per pattern costs
                // as much as the rest of the E-step. The running product is renormalised (exactly) by frexp.
                double ll_top = 0.0, ll_log = 0.0, z_product = 1.0;
                int64_t z_exponent = 0;
                const int64_t end = chunk_begin(c + 1, n_chunks_, np_);
                for (int64_t p = chunk_begin(c, n_chunks_, np_); p < end; ++p) {
                    if ((p & 1023) == 0 && interrupted.stop()) break;
                    const int32_t* code = P_.codes.data() + P_.offsets[p];
                    const int64_t nv = P_.offsets[p + 1] - P_.offsets[p];
                    const double w = P_.counts[p];
                    if (nv == 0 && (majority || ignore)) continue;  // handled after the pass / not modelled
                    if (majority) {
                        for (int64_t y = 0; y < k; ++y) s[y] = 0.0;
                        const double share = 1.0 / static_cast<double>(nv);
                        for (int64_t t = 0; t < nv; ++t) s[class_of_code_[code[t]]] += share;
                    } else {
                        for (int64_t y = 0; y < k; ++y) s[y] = base[y];
                        for (int64_t t = 0; t < nv; ++t) {
                            const double* d = log_delta_.data() + static_cast<int64_t>(code[t]) * k;
                            for (int64_t y = 0; y < k; ++y) s[y] += d[y];
                        }
                        double top = s[0];
                        for (int64_t y = 1; y < k; ++y) top = std::max(top, s[y]);
                        double z = 0.0;
                        for (int64_t y = 0; y < k; ++y) z += (s[y] = (s[y] == top) ? 1.0 : std::exp(s[y] - top));
                        ll_top += w * top;
                        if (w == 1.0) {
                            z_product *= z;  // z is in [1, k]
                            if (z_product > 1e200) {
                                int e;
                                z_product = std::frexp(z_product, &e);
                                z_exponent += e;
                            }
                        } else {
                            ll_log += w * std::log(z);
                        }
                        const double inv = 1.0 / z;
                        for (int64_t y = 0; y < k; ++y) s[y] *= inv;
                    }
                    for (int64_t y = 0; y < k; ++y) mass[y] += w * s[y];
                    for (int64_t t = 0; t < nv; ++t) {
                        double* dst = a + static_cast<int64_t>(code[t]) * k;
                        for (int64_t y = 0; y < k; ++y) dst[y] += w * s[y];
                    }
                }
                a[m * k * k + k] = ll_top + ll_log + std::log(z_product) + static_cast<double>(z_exponent) * 0.6931471805599453;  // ln 2
            }
        }
        interrupted.throw_if_stopped();
        // Fixed-order reduction over chunks.
        std::fill(counts_.begin(), counts_.end(), 0.0);
        std::fill(class_mass_.begin(), class_mass_.end(), 0.0);
        double ll = 0.0;
        for (int64_t c = 0; c < n_chunks_; ++c) {
            const double* a = acc_.data() + c * stride;
            for (int64_t i = 0; i < m * k * k; ++i) counts_[i] += a[i];
            for (int64_t y = 0; y < k; ++y) class_mass_[y] += a[m * k * k + y];
            ll += a[m * k * k + k];
        }
        if (majority && empty_pattern_ >= 0 && !ignore) {
            // Rows without votes start at the class balance: given, or the majority-vote label frequencies.
            std::vector<double> start(k);
            const double total = covered_rows_;
            for (int64_t y = 0; y < k; ++y)
                start[y] = opt_.fixed_prior ? opt_.fixed_prior[y] : (total > 0 ? class_mass_[y] / total : 1.0 / k);
            if (!opt_.fixed_prior && total <= 0)
                for (int64_t y = 0; y < k; ++y) start[y] = 1.0 / k;
            for (int64_t y = 0; y < k; ++y) class_mass_[y] += P_.counts[empty_pattern_] * start[y];
        }
        const double rows = ignore ? covered_rows_ : static_cast<double>(P_.n_rows);
        return rows > 0 ? ll / rows : 0.0;
    }

    // Expected counts -> parameters theta_ [j][v][y] (v = 0 abstain, 1..k votes) and prior_.
    void m_step() {
        const int64_t m = m_, k = k_;
        const double alpha = opt_.smoothing;
        double total = 0.0;
        for (int64_t y = 0; y < k; ++y) total += class_mass_[y];
        for (int64_t y = 0; y < k; ++y) {
            if (opt_.fixed_prior) prior_[y] = opt_.fixed_prior[y];
            else if (total > 0) prior_[y] = (class_mass_[y] + alpha) / (total + k * alpha);
            // no mass at all (no rows, no smoothing): keep the previous prior rather than divide by zero
        }
        const bool model = opt_.model_abstentions;
        for (int64_t j = 0; j < m; ++j)
            for (int64_t y = 0; y < k; ++y) {
                double voted = 0.0;
                for (int64_t c = 0; c < k; ++c) voted += counts_[(j * k + c) * k + y];
                const double denom = model ? class_mass_[y] + alpha * (k + 1) : voted + alpha * k;
                const double outcomes = static_cast<double>(model ? k + 1 : k);
                auto share = [&](double num) { return denom > 0 ? num / denom : 1.0 / outcomes; };
                theta_[(j * (k + 1)) * k + y] = model ? share(std::max(0.0, class_mass_[y] - voted) + alpha) : 0.0;
                for (int64_t c = 0; c < k; ++c)
                    theta_[(j * (k + 1) + c + 1) * k + y] = share(counts_[(j * k + c) * k + y] + alpha);
            }
        refresh_logs();
    }

    void refresh_logs() {
        const int64_t m = m_, k = k_;
        const bool model = opt_.model_abstentions;
        for (int64_t j = 0; j < m; ++j)
            for (int64_t y = 0; y < k; ++y) {
                const double log_abst = model ? std::log(std::max(theta_[(j * (k + 1)) * k + y], 1e-300)) : 0.0;
                log_abstain_[j * k + y] = log_abst;
                for (int64_t c = 0; c < k; ++c)
                    log_delta_[(j * k + c) * k + y] =
                        std::log(std::max(theta_[(j * (k + 1) + c + 1) * k + y], 1e-300)) - log_abst;
            }
    }

    // Parameters as one flat vector (tables, then prior) for the extrapolation, and back: set_state projects
    // onto valid distributions (negative entries to 0, each column and the prior renormalised).
    std::vector<double> state() const {
        std::vector<double> v(theta_);
        v.insert(v.end(), prior_.begin(), prior_.end());
        return v;
    }

    void set_state(const std::vector<double>& v) {
        const int64_t m = m_, k = k_;
        const bool model = opt_.model_abstentions;
        std::copy(v.begin(), v.begin() + theta_.size(), theta_.begin());
        for (int64_t j = 0; j < m; ++j)
            for (int64_t y = 0; y < k; ++y) {
                double sum = 0.0;
                for (int64_t c = model ? 0 : 1; c <= k; ++c) {
                    double& t = theta_[(j * (k + 1) + c) * k + y];
                    t = std::max(t, 0.0);
                    sum += t;
                }
                for (int64_t c = model ? 0 : 1; c <= k; ++c) theta_[(j * (k + 1) + c) * k + y] /= sum;
            }
        if (!opt_.fixed_prior) {
            double sum = 0.0;
            for (int64_t y = 0; y < k; ++y) sum += (prior_[y] = std::max(v[theta_.size() + y], 0.0));
            for (int64_t y = 0; y < k; ++y) prior_[y] /= sum;
        }
        refresh_logs();
    }

    // Warm start from a (m, k+1, k) table and a prior.
    void set_parameters(const double* cpt, const double* prior) {
        const int64_t m = m_, k = k_;
        for (int64_t y = 0; y < k; ++y) prior_[y] = prior ? prior[y] : 1.0 / k;
        for (int64_t j = 0; j < m; ++j)
            for (int64_t y = 0; y < k; ++y) {
                const double abst = cpt[(j * (k + 1)) * k + y], voted = 1.0 - abst;
                theta_[(j * (k + 1)) * k + y] = opt_.model_abstentions ? abst : 0.0;
                for (int64_t c = 0; c < k; ++c) {
                    const double pc = cpt[(j * (k + 1) + c + 1) * k + y];
                    theta_[(j * (k + 1) + c + 1) * k + y] =
                        opt_.model_abstentions ? pc : (voted > 0 ? pc / voted : 1.0 / k);
                }
            }
        refresh_logs();
    }

    // P(lambda_j = c | y) with vote index 0 = abstain. Ignoring abstentions, an LF abstains with its observed
    // rate whatever the class, which leaves posteriors unchanged.
    std::vector<double> cpt() const {
        if (opt_.model_abstentions) return theta_;
        const int64_t m = m_, k = k_;
        std::vector<double> out(theta_.size());
        for (int64_t j = 0; j < m; ++j) {
            const double coverage = P_.n_rows > 0 ? lf_votes_[j] / static_cast<double>(P_.n_rows) : 0.0;
            for (int64_t y = 0; y < k; ++y) {
                out[(j * (k + 1)) * k + y] = 1.0 - coverage;
                for (int64_t c = 0; c < k; ++c)
                    out[(j * (k + 1) + c + 1) * k + y] = coverage * theta_[(j * (k + 1) + c + 1) * k + y];
            }
        }
        return out;
    }

    const VotePatterns& P_;
    const DawidSkeneOptions& opt_;
    const int64_t m_, k_, np_;
    int64_t n_chunks_ = 1, empty_pattern_ = -1;
    int n_threads_ = 1;
    double covered_rows_ = 0.0;
    std::vector<double> lf_votes_;  // rows each LF votes on
    std::vector<int32_t> class_of_code_;  // code % k without a division per vote
    std::vector<double> acc_, counts_, class_mass_, theta_, log_abstain_, log_delta_, prior_;
};

}  // namespace

DawidSkeneResult dawid_skene(const VotePatterns& patterns, const DawidSkeneOptions& opt, int n_threads) {
    check_thread_count(n_threads);
    if (patterns.cardinality < 2) throw std::invalid_argument("cardinality: expected at least 2 classes");
    if (opt.max_iter < 0) throw std::invalid_argument("max_iter: must be non-negative");
    if (!(opt.tol >= 0)) throw std::invalid_argument("tol: must be non-negative");
    if (!(opt.smoothing >= 0)) throw std::invalid_argument("smoothing: must be non-negative");
    if (patterns.cardinality == 2) return EM<2>(patterns, opt, n_threads).run();
    return EM<0>(patterns, opt, n_threads).run();
}

}  // namespace labelfuse
