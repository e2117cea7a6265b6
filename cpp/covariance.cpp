#include "covariance.hpp"
#include "interrupt.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace labelfuse {

namespace {

// Cholesky factor of a symmetric positive definite k x k matrix, in place (lower triangle). False if not SPD.
bool cholesky(std::vector<double>& H, int64_t k) {
    for (int64_t j = 0; j < k; ++j) {
        double d = H[j * k + j];
        for (int64_t p = 0; p < j; ++p) d -= H[j * k + p] * H[j * k + p];
        if (!(d > 0.0)) return false;
        d = std::sqrt(d);
        H[j * k + j] = d;
        for (int64_t i = j + 1; i < k; ++i) {
            double s = H[i * k + j];
            for (int64_t p = 0; p < j; ++p) s -= H[i * k + p] * H[j * k + p];
            H[i * k + j] = s / d;
        }
    }
    return true;
}

// x <- H^{-1} x with H = L L^T from cholesky().
void cholesky_solve(const std::vector<double>& L, double* x, int64_t k) {
    for (int64_t i = 0; i < k; ++i) {
        double s = x[i];
        for (int64_t p = 0; p < i; ++p) s -= L[i * k + p] * x[p];
        x[i] = s / L[i * k + i];
    }
    for (int64_t i = k - 1; i >= 0; --i) {
        double s = x[i];
        for (int64_t p = i + 1; p < k; ++p) s -= L[p * k + i] * x[p];
        x[i] = s / L[i * k + i];
    }
}

class Solver {
  public:
    Solver(const CovarianceInput& in, const CovarianceOptions& opt, const std::vector<char>& active)
        : m_(in.n_lfs), k_(in.cardinality), mk_(m_ * k_), opt_(opt), active_(active) {
        const double inv_n = 1.0 / static_cast<double>(std::max<int64_t>(in.n_rows, 1));
        // Only the blocks between two different (fitted) LFs enter the objective: the rest is zeroed once here, so
        // the products below need no mask.
        O_.assign(mk_ * mk_, 0.0);
        for (int64_t i = 0; i < m_; ++i)
            for (int64_t j = 0; j < m_; ++j) {
                if (i == j || !active_[i] || !active_[j]) continue;
                for (int64_t a = 0; a < k_; ++a)
                    for (int64_t b = 0; b < k_; ++b) {
                        const int64_t q = (i * k_ + a) * mk_ + j * k_ + b;
                        O_[q] = static_cast<double>(in.overlap[q]) * inv_n;
                    }
            }
        o_.assign(mk_, 0.0);
        for (int64_t q = 0; q < mk_; ++q) o_[q] = static_cast<double>(in.class_counts[q]) * inv_n;
        O_norm2_ = 0.0;
        for (double v : O_) O_norm2_ += v * v;
    }

    // T[a][y] = sum_{j != i} (O_ij mu_j)[a][y]. Serial on purpose: a block is ~k^2 m k multiply-adds (tens of
    // microseconds), too little to pay for waking threads once per block, and the sweep is sequential.
    void block_product(const std::vector<double>& mu, int64_t i, double* T) const {
        const int64_t k = k_, mk = mk_;
        const double* __restrict O = O_.data() + i * k * mk;
        const double* __restrict M = mu.data();
        for (int64_t a = 0; a < k; ++a) {
            double* __restrict t = T + a * k;
            for (int64_t y = 0; y < k; ++y) t[y] = 0.0;
            const double* __restrict row = O + a * mk;
            for (int64_t q = 0; q < mk; ++q) {
                const double v = row[q];
                const double* __restrict mq = M + q * k;
                for (int64_t y = 0; y < k; ++y) t[y] += v * mq[y];
            }
        }
    }

    void gram(const std::vector<double>& mu, int64_t i, double* g) const {  // g = mu_i^T mu_i
        const double* mi = mu.data() + i * k_ * k_;
        for (int64_t y = 0; y < k_; ++y)
            for (int64_t z = 0; z < k_; ++z) {
                double s = 0.0;
                for (int64_t c = 0; c < k_; ++c) s += mi[c * k_ + y] * mi[c * k_ + z];
                g[y * k_ + z] = s;
            }
    }

    std::vector<double> total_gram(const std::vector<double>& mu) const {
        std::vector<double> G(k_ * k_, 0.0), g(k_ * k_);
        for (int64_t i = 0; i < m_; ++i) {
            if (!active_[i]) continue;
            gram(mu, i, g.data());
            for (int64_t q = 0; q < k_ * k_; ++q) G[q] += g[q];
        }
        return G;
    }

    // One Gauss-Seidel sweep over the blocks; returns the largest change of an entry of mu. Block i solves the
    // normal equations of its terms: each pair (i, j) appears twice in the objective (O_ij and O_ji).
    double sweep(std::vector<double>& mu, const std::vector<double>& mu0, const std::vector<double>& pi,
                 double lambda) const {
        const int64_t kk = k_ * k_;
        const double w2 = opt_.first_moment_weight * opt_.first_moment_weight;
        std::vector<double> G = total_gram(mu), g(kk), T(kk), H(kk), x(k_);
        double change = 0.0;
        for (int64_t i = 0; i < m_; ++i) {
            if (!active_[i]) continue;
            double* mi = mu.data() + i * kk;
            const double* m0 = mu0.data() + i * kk;
            gram(mu, i, g.data());
            block_product(mu, i, T.data());
            for (int64_t y = 0; y < k_; ++y)
                for (int64_t z = 0; z < k_; ++z)
                    H[y * k_ + z] =
                        pi[y] * pi[z] * (2.0 * (G[y * k_ + z] - g[y * k_ + z]) + w2) + (y == z ? lambda : 0.0);
            if (!cholesky(H, k_)) continue;  // cannot happen with lambda > 0; keep the block as it is
            for (int64_t a = 0; a < k_; ++a) {
                for (int64_t y = 0; y < k_; ++y)
                    x[y] = 2.0 * T[a * k_ + y] * pi[y] + w2 * o_[i * k_ + a] * pi[y] + lambda * m0[a * k_ + y];
                cholesky_solve(H, x.data(), k_);
                for (int64_t y = 0; y < k_; ++y) {
                    change = std::max(change, std::fabs(x[y] - mi[a * k_ + y]));
                    mi[a * k_ + y] = x[y];
                }
            }
            for (int64_t q = 0; q < kk; ++q) G[q] -= g[q];
            gram(mu, i, g.data());
            for (int64_t q = 0; q < kk; ++q) G[q] += g[q];
        }
        return change;
    }

    // b_y = sum_{i != j} mu_i[:,y]^T O_ij mu_j[:,y]  (one pass over O)
    std::vector<double> cross_term(const std::vector<double>& mu) const {
        const int64_t kk = k_ * k_;
        std::vector<double> b(k_, 0.0), T(kk);
        for (int64_t i = 0; i < m_; ++i) {
            if (!active_[i]) continue;
            block_product(mu, i, T.data());
            const double* mi = mu.data() + i * kk;
            for (int64_t a = 0; a < k_; ++a)
                for (int64_t y = 0; y < k_; ++y) b[y] += mi[a * k_ + y] * T[a * k_ + y];
        }
        return b;
    }

    // sum_{i != j} ||O_ij - mu_i P mu_j^T||^2, from b (cross_term) and the Gram matrices.
    double loss(const std::vector<double>& mu, const std::vector<double>& pi, const std::vector<double>& b) const {
        const int64_t kk = k_ * k_;
        const std::vector<double> G = total_gram(mu);
        std::vector<double> g(kk);
        double fit = 0.0, cross = 0.0;
        for (int64_t y = 0; y < k_; ++y) {
            cross += pi[y] * b[y];
            for (int64_t z = 0; z < k_; ++z) fit += pi[y] * pi[z] * G[y * k_ + z] * G[y * k_ + z];
        }
        for (int64_t i = 0; i < m_; ++i) {
            if (!active_[i]) continue;
            gram(mu, i, g.data());
            for (int64_t y = 0; y < k_; ++y)
                for (int64_t z = 0; z < k_; ++z) fit -= pi[y] * pi[z] * g[y * k_ + z] * g[y * k_ + z];
        }
        return std::max(O_norm2_ - 2.0 * cross + fit, 0.0);
    }

    // A move along the valley O cannot see: mu D with P D^-2 fits O exactly as mu with P. The first moments pick
    // the point on it: s = argmin sum_i ||mu_i s - o_i||^2 is (pi / d); then pi' = s^2 / pi (normalised) and
    // mu' = mu diag(sqrt(pi / pi')), which leaves mu P mu^T unchanged. Returns false when degenerate.
    bool class_balance_step(std::vector<double>& mu, std::vector<double>& pi) const {
        const int64_t kk = k_ * k_;
        std::vector<double> A = total_gram(mu), s(k_, 0.0);
        for (int64_t i = 0; i < m_; ++i) {
            if (!active_[i]) continue;
            const double* mi = mu.data() + i * kk;
            for (int64_t a = 0; a < k_; ++a)
                for (int64_t y = 0; y < k_; ++y) s[y] += mi[a * k_ + y] * o_[i * k_ + a];
        }
        double tr = 0.0;
        for (int64_t y = 0; y < k_; ++y) tr += A[y * k_ + y];
        if (!(tr > 0.0)) return false;
        for (int64_t y = 0; y < k_; ++y) A[y * k_ + y] += 1e-9 * tr / k_;
        if (!cholesky(A, k_)) return false;
        cholesky_solve(A, s.data(), k_);
        std::vector<double> next(k_);
        double total = 0.0;
        for (int64_t y = 0; y < k_; ++y) total += (next[y] = std::max(s[y], 0.0) * std::max(s[y], 0.0) / pi[y]);
        if (!(total > 0.0)) return false;
        for (auto& p : next) p = std::max(p / total, 1e-4);
        total = 0.0;
        for (auto p : next) total += p;
        for (int64_t y = 0; y < k_; ++y) {
            next[y] /= total;
            const double d = std::sqrt(pi[y] / next[y]);
            for (int64_t q = 0; q < m_ * k_; ++q) mu[q * k_ + y] *= d;
        }
        pi.swap(next);
        return true;
    }

  private:
    const int64_t m_, k_, mk_;
    const CovarianceOptions& opt_;
    const std::vector<char>& active_;
    std::vector<double> O_, o_;
    double O_norm2_ = 0.0;
};

// Better-than-random: the fitted columns may come out relabelled (the objective is invariant under a permutation of
// the classes). Column y is assigned to the class its LFs vote most (greedy on the summed table).
std::vector<int64_t> orientation(const std::vector<double>& mu, const std::vector<char>& active, int64_t m,
                                 int64_t k) {
    std::vector<double> S(k * k, 0.0);
    for (int64_t i = 0; i < m; ++i)
        if (active[i])
            for (int64_t q = 0; q < k * k; ++q) S[q] += mu[i * k * k + q];
    std::vector<int64_t> perm(k, -1);
    std::vector<char> row_used(k, 0), col_used(k, 0);
    for (int64_t step = 0; step < k; ++step) {
        double best = -std::numeric_limits<double>::infinity();
        int64_t bc = -1, by = -1;
        for (int64_t c = 0; c < k; ++c)
            for (int64_t y = 0; y < k; ++y)
                if (!row_used[c] && !col_used[y] && S[c * k + y] > best) { best = S[c * k + y]; bc = c; by = y; }
        perm[by] = bc;
        row_used[bc] = col_used[by] = 1;
    }
    return perm;
}

}  // namespace

CovarianceResult fit_covariance(const CovarianceInput& in, const CovarianceOptions& opt) {
    const int64_t m = in.n_lfs, k = in.cardinality, kk = k * k;
    if (k < 2) throw std::invalid_argument("cardinality: expected at least 2 classes");
    if (m < 1) throw std::invalid_argument("stats: no labeling functions");
    if (opt.max_sweeps < 1 || opt.max_outer < 1) throw std::invalid_argument("max_sweeps, max_outer: at least 1");
    if (!(opt.ridge > 0.0)) throw std::invalid_argument("ridge: must be positive");
    if (!(opt.first_moment_weight >= 0.0)) throw std::invalid_argument("first_moment_weight: must be >= 0");

    TripletInput tin;
    tin.n_lfs = m;
    tin.cardinality = k;
    tin.n_rows = in.n_rows;
    tin.covote = in.covote;
    tin.agree = in.agree;
    tin.class_counts = in.class_counts;
    tin.class_balance = in.class_balance;
    const TripletResult warm = fit_triplet(tin, opt.warm);

    CovarianceResult out;
    out.warm_accuracy = warm.accuracy;
    out.duplicate_of = warm.duplicate_of;
    std::vector<char> active(m);
    std::vector<double> mu0(m * kk, 0.0);
    // Warm start: the triplet (symmetric-noise) table with each vote row rescaled so that it reproduces the LF's
    // observed vote frequencies (mu0_i pi = o_i). The rescaling keeps the symmetric model's likelihood ratios
    // P(vote c | y = c) / P(vote c | y) but lets LFs that vote only some classes (common in practice) have zero rows
    // and class-dependent abstention; on data from the symmetric model it changes nothing beyond sampling noise.
    const double inv_n = 1.0 / static_cast<double>(std::max<int64_t>(in.n_rows, 1));
    for (int64_t i = 0; i < m; ++i) {
        active[i] = warm.source[i] != kNeverVotes && warm.source[i] != kDuplicate;
        if (!active[i]) continue;
        double* m0 = mu0.data() + i * kk;
        for (int64_t c = 0; c < k; ++c) {
            double predicted = 0.0;
            for (int64_t y = 0; y < k; ++y) {
                m0[c * k + y] = warm.cpt[(i * (k + 1) + c + 1) * k + y];
                predicted += m0[c * k + y] * warm.class_balance[y];
            }
            const double observed = static_cast<double>(in.class_counts[i * k + c]) * inv_n;
            const double scale = predicted > 0.0 ? observed / predicted : 0.0;
            for (int64_t y = 0; y < k; ++y) m0[c * k + y] *= scale;
        }
        for (int64_t y = 0; y < k; ++y) {  // P(vote | y) <= 1
            double s = 0.0;
            for (int64_t c = 0; c < k; ++c) s += m0[c * k + y];
            if (s > 1.0)
                for (int64_t c = 0; c < k; ++c) m0[c * k + y] /= s;
        }
    }
    std::vector<double> pi = warm.class_balance, mu = mu0;

    Solver solver(in, opt, active);
    // lambda relative to the curvature of a block, P G P, at the warm start
    const std::vector<double> G0 = solver.total_gram(mu0);
    double curvature = 0.0;
    for (int64_t y = 0; y < k; ++y) curvature += pi[y] * pi[y] * G0[y * k + y];
    const double lambda = opt.ridge * std::max(curvature / k, 1e-12);

    const int64_t outer_rounds = in.class_balance ? 1 : opt.max_outer;
    bool converged = false;
    for (int64_t r = 0; r < outer_rounds; ++r) {
        bool inner_converged = false;
        for (int64_t s = 0; s < opt.max_sweeps; ++s) {
            check_interrupt_now();
            const double change = solver.sweep(mu, mu0, pi, lambda);
            ++out.sweeps;
            if (change < opt.tol) { inner_converged = true; break; }
        }
        ++out.outer;
        if (in.class_balance) { converged = inner_converged; break; }
        const std::vector<double> before = pi;
        if (!solver.class_balance_step(mu, pi)) break;  // degenerate (nothing fitted): keep the current balance
        double moved = 0.0;
        for (int64_t y = 0; y < k; ++y) moved = std::max(moved, std::fabs(before[y] - pi[y]));
        if (inner_converged && moved < opt.tol) { converged = true; break; }
    }
    out.loss = solver.loss(mu, pi, solver.cross_term(mu));
    out.converged = converged;

    out.permutation = orientation(mu, active, m, k);
    if (in.class_balance) {
        // A given class balance pins the classes: the objective is invariant only under relabellings that map the
        // balance onto itself (e.g. any one for a uniform balance). Any other would hand back a balance other than
        // the one given, with the tables fitted to it permuted; keep the classes as they are then.
        bool symmetric = true;
        for (int64_t y = 0; y < k; ++y)
            symmetric = symmetric && std::fabs(in.class_balance[out.permutation[y]] - in.class_balance[y]) <= 1e-12;
        if (!symmetric)
            for (int64_t y = 0; y < k; ++y) out.permutation[y] = y;
    }
    bool identity = true;
    for (int64_t y = 0; y < k; ++y) identity = identity && out.permutation[y] == y;
    if (!identity) {
        std::vector<double> mu2(mu.size()), pi2(k);
        for (int64_t y = 0; y < k; ++y) {
            const int64_t c = out.permutation[y];
            pi2[c] = pi[y];
            for (int64_t i = 0; i < m; ++i)
                for (int64_t v = 0; v < k; ++v) mu2[(i * k + v) * k + c] = mu[(i * k + v) * k + y];
        }
        mu.swap(mu2);
        pi.swap(pi2);
    }

    // A valid table: non-negative, P(vote | y) <= 1; then (clamp) a vote for c is at least as likely under y = c as
    // under any other class, so unanimous votes are never read as evidence against their class.
    for (int64_t i = 0; i < m; ++i) {
        if (!active[i]) continue;
        double* mi = mu.data() + i * kk;
        for (int64_t q = 0; q < kk; ++q) mi[q] = std::max(mi[q], 0.0);
        for (int64_t y = 0; y < k; ++y) {
            double s = 0.0;
            for (int64_t c = 0; c < k; ++c) s += mi[c * k + y];
            if (s > 1.0)
                for (int64_t c = 0; c < k; ++c) mi[c * k + y] /= s;
        }
        if (!opt.clamp) continue;
        for (int64_t c = 0; c < k; ++c)
            for (int64_t y = 0; y < k; ++y)
                if (y != c && mi[c * k + y] > mi[c * k + c]) {
                    mi[c * k + y] = mi[c * k + c];
                    ++out.clamped;
                }
    }

    const double n = static_cast<double>(std::max<int64_t>(in.n_rows, 1));
    out.class_balance = pi;
    out.accuracy.assign(m, std::numeric_limits<double>::quiet_NaN());
    out.cpt.assign(m * (k + 1) * k, 0.0);
    for (int64_t i = 0; i < m; ++i) {
        double* t = out.cpt.data() + i * (k + 1) * k;
        const double* mi = mu.data() + i * kk;
        if (warm.source[i] == kNeverVotes) {
            for (int64_t y = 0; y < k; ++y) t[y] = 1.0;
            continue;
        }
        if (warm.source[i] == kDuplicate) {  // counted once, by the column it copies
            double cov = 0.0;
            for (int64_t c = 0; c < k; ++c) cov += static_cast<double>(in.class_counts[i * k + c]) / n;
            for (int64_t y = 0; y < k; ++y) {
                t[y] = 1.0 - cov;
                for (int64_t c = 0; c < k; ++c)
                    t[(c + 1) * k + y] = static_cast<double>(in.class_counts[i * k + c]) / n;
            }
            continue;
        }
        double right = 0.0, votes = 0.0;
        for (int64_t y = 0; y < k; ++y) {
            double s = 0.0;
            for (int64_t c = 0; c < k; ++c) {
                t[(c + 1) * k + y] = mi[c * k + y];
                s += mi[c * k + y];
            }
            t[y] = std::max(1.0 - s, 0.0);
            right += pi[y] * mi[y * k + y];
            votes += pi[y] * s;
        }
        out.accuracy[i] = votes > 0.0 ? right / votes : std::numeric_limits<double>::quiet_NaN();
    }
    for (int64_t i = 0; i < m; ++i)
        if (warm.source[i] == kDuplicate) out.accuracy[i] = out.accuracy[warm.duplicate_of[i]];
    out.mu = std::move(mu);
    return out;
}

}  // namespace labelfuse
