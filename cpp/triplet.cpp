#include "triplet.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace labelfuse {

double accuracy_from_centered(double a, int64_t k) {
    return 1.0 / static_cast<double>(k) + a * static_cast<double>(k - 1) / static_cast<double>(k);
}

void symmetric_cpt(double accuracy, double coverage, int64_t k, double* cpt) {
    const double wrong = coverage * (1.0 - accuracy) / static_cast<double>(k - 1);
    for (int64_t y = 0; y < k; ++y) {
        cpt[y] = 1.0 - coverage;
        for (int64_t c = 0; c < k; ++c) cpt[(c + 1) * k + y] = (c == y) ? coverage * accuracy : wrong;
    }
}

namespace {

// Pairwise centred agreement M_ij = (k p - 1) / (k - 1) and its sampling variance, for pairs with enough co-votes.
struct PairMoments {
    int64_t m;
    std::vector<double> M, var;
    std::vector<char> valid;
    double at(int64_t i, int64_t j) const { return M[i * m + j]; }
    double var_at(int64_t i, int64_t j) const { return var[i * m + j]; }
    bool ok(int64_t i, int64_t j) const { return valid[i * m + j] != 0; }
};

PairMoments pair_moments(const TripletInput& in, const std::vector<char>& active, int64_t min_overlap) {
    const int64_t m = in.n_lfs;
    const double k = static_cast<double>(in.cardinality), scale = k / (k - 1.0);
    PairMoments pm{m, std::vector<double>(m * m, 0.0), std::vector<double>(m * m, 0.0), std::vector<char>(m * m, 0)};
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < m; ++j) {
            const int64_t both = in.covote[i * m + j];
            if (i == j || !active[i] || !active[j] || both < std::max<int64_t>(min_overlap, 1)) continue;
            const double p = static_cast<double>(in.agree[i * m + j]) / static_cast<double>(both);
            // smoothed p in the variance, so that perfect agreement does not claim zero variance
            const double ps = (static_cast<double>(in.agree[i * m + j]) + 0.5) / (static_cast<double>(both) + 1.0);
            pm.M[i * m + j] = (k * p - 1.0) / (k - 1.0);
            pm.var[i * m + j] = scale * scale * ps * (1.0 - ps) / static_cast<double>(both);
            pm.valid[i * m + j] = 1;
        }
    return pm;
}

double median_of(std::vector<double> v) {
    const size_t h = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + h, v.end());
    double hi = v[h];
    if (v.size() % 2) return hi;
    return 0.5 * (hi + *std::max_element(v.begin(), v.begin() + h));
}

}  // namespace

TripletResult fit_triplet(const TripletInput& in, const TripletOptions& opt) {
    const int64_t m = in.n_lfs, k = in.cardinality;
    if (k < 2) throw std::invalid_argument("cardinality: expected at least 2 classes");
    if (m < 1) throw std::invalid_argument("stats: no labeling functions");
    if (!(opt.fallback_accuracy > 0.0 && opt.fallback_accuracy <= 1.0))
        throw std::invalid_argument("fallback_accuracy: expected a value in (0, 1]");
    if (!(opt.max_accuracy > 0.0 && opt.max_accuracy <= 1.0))
        throw std::invalid_argument("max_accuracy: expected a value in (0, 1]");

    TripletResult out;
    out.accuracy.assign(m, std::numeric_limits<double>::quiet_NaN());
    out.source.assign(m, kFallback);
    out.n_triplets.assign(m, 0);
    out.duplicate_of.assign(m, -1);
    std::vector<int64_t> coverage(m);
    for (int64_t i = 0; i < m; ++i) coverage[i] = in.covote[i * m + i];

    // Identical columns: both vote on exactly the same rows and always agree.
    std::vector<char> active(m, 0);
    for (int64_t i = 0; i < m; ++i) {
        if (coverage[i] == 0) {
            out.source[i] = kNeverVotes;
            continue;
        }
        if (opt.dedupe)
            for (int64_t j = 0; j < i; ++j)
                if (out.duplicate_of[j] < 0 && coverage[j] == coverage[i] && in.covote[j * m + i] == coverage[i] &&
                    in.agree[j * m + i] == coverage[i]) {
                    out.duplicate_of[i] = j;
                    out.source[i] = kDuplicate;
                    break;
                }
        active[i] = out.duplicate_of[i] < 0;
    }

    const PairMoments pm = pair_moments(in, active, opt.min_overlap);
    const double kd = static_cast<double>(k), scale = kd / (kd - 1.0);
    constexpr double kTiny = 1e-12;
    // Two passes: the median over triplets first; then, for the weighted mean, delta-method weights computed from
    // the moments the first pass implies (a_i a_j). Weights from the observed moments would favour triplets whose
    // numerators came out high by chance and bias a_i upwards.
    std::vector<double> a_first(m, 0.0), a(m, 0.0);
    std::vector<double> est, weight;
    auto model_var = [&](int64_t i, int64_t j) {
        const double p = std::clamp(((kd - 1.0) * a_first[i] * a_first[j] + 1.0) / kd, 0.5 / kd, 1.0 - 1e-3);
        return scale * scale * p * (1.0 - p) / static_cast<double>(in.covote[i * m + j]);
    };
    for (int pass = 0; pass < (opt.median ? 1 : 2); ++pass) {
        const bool weighted = pass == 1;
        for (int64_t i = 0; i < m; ++i) {
            if (!active[i]) continue;
            est.clear();
            weight.clear();
            for (int64_t j = 0; j < m; ++j) {
                if (j == i || !pm.ok(i, j)) continue;
                for (int64_t l = j + 1; l < m; ++l) {
                    if (l == i || !pm.ok(i, l) || !pm.ok(j, l)) continue;
                    const double den = pm.at(j, l);
                    if (std::fabs(den) <= kTiny || std::fabs(den) < opt.min_denominator_z * std::sqrt(pm.var_at(j, l)))
                        continue;  // the denominator is indistinguishable from 0: the ratio would be noise
                    est.push_back(std::fabs(pm.at(i, j) * pm.at(i, l) / den));
                    if (!weighted) continue;
                    // delta method: the relative variance of a product / ratio is the sum of the relative variances
                    const double mij = a_first[i] * a_first[j], mil = a_first[i] * a_first[l];
                    const double mjl = a_first[j] * a_first[l];
                    const double relvar = model_var(i, j) / std::max(mij * mij, 1e-6) +
                                          model_var(i, l) / std::max(mil * mil, 1e-6) +
                                          model_var(j, l) / std::max(mjl * mjl, 1e-6);
                    weight.push_back(1.0 / relvar);
                }
            }
            if (est.empty()) continue;
            double a2;
            if (!weighted) {
                a2 = median_of(est);
            } else {
                double sw = 0.0, swe = 0.0;
                for (size_t t = 0; t < est.size(); ++t) { sw += weight[t]; swe += weight[t] * est[t]; }
                a2 = swe / sw;
            }
            a[i] = std::sqrt(std::min(a2, 1.0));
            out.source[i] = kFromTriplets;
            out.n_triplets[i] = static_cast<int64_t>(est.size());
        }
        a_first = a;
    }
    // Second tier: an LF without a valid triplet but overlapping LFs whose accuracy is known.
    for (int64_t i = 0; i < m; ++i) {
        if (!active[i] || out.source[i] == kFromTriplets) continue;
        double sw = 0.0, swe = 0.0;
        for (int64_t j = 0; j < m; ++j) {
            if (out.source[j] != kFromTriplets || !pm.ok(i, j) || a[j] <= 0.05) continue;
            const double w = static_cast<double>(in.covote[i * m + j]) * a[j] * a[j];
            sw += w;
            swe += w * std::fabs(pm.at(i, j)) / a[j];
        }
        if (sw > 0.0) {
            a[i] = std::min(swe / sw, 1.0);
            out.source[i] = kFromPairs;
        }
    }
    const double a_fallback = std::clamp((k * opt.fallback_accuracy - 1.0) / (k - 1.0), 0.0, 1.0);
    const double a_max = std::clamp((k * opt.max_accuracy - 1.0) / (k - 1.0), 0.0, 1.0);
    for (int64_t i = 0; i < m; ++i) {
        if (!active[i]) continue;
        if (out.source[i] == kFallback) a[i] = a_fallback;
        a[i] = std::min(a[i], a_max);
        out.accuracy[i] = accuracy_from_centered(a[i], k);
    }
    for (int64_t i = 0; i < m; ++i)
        if (out.duplicate_of[i] >= 0) out.accuracy[i] = out.accuracy[out.duplicate_of[i]];

    // Class balance: given, or from first moments. For an LF that votes, P(vote c) = (1 - acc)/(k-1) + a pi_c, so
    // each identified LF gives pi_c = (f_c - (1 - acc)/(k-1)) / a; average with inverse-variance weights
    // (votes * a^2), which keeps near-random LFs from dominating.
    // LFs that vote one class only are left out: that formula assumes errors spread over the other classes and
    // abstention independent of y, and a one-sided LF breaks both (its vote share is 1 for its class whatever pi
    // is; on spouse such LFs put 59% of the mass on a 8% class). With no two-sided LF the balance is uniform.
    std::vector<char> two_sided(m, 0);
    for (int64_t i = 0; i < m; ++i) {
        int64_t voted = 0;
        for (int64_t c = 0; c < k; ++c) voted += in.class_counts[i * k + c] > 0;
        two_sided[i] = voted >= 2;
    }
    out.class_balance.assign(k, 0.0);
    if (in.class_balance) {
        std::copy(in.class_balance, in.class_balance + k, out.class_balance.begin());
    } else {
        out.class_balance_estimated = true;
        double sw = 0.0;
        for (int64_t i = 0; i < m; ++i) {
            if (!active[i] || !two_sided[i] || (out.source[i] != kFromTriplets && out.source[i] != kFromPairs))
                continue;
            const double cnt = static_cast<double>(coverage[i]), acc = out.accuracy[i];
            const double w = cnt * a[i];  // = (votes * a^2) / a, the 1/a of the estimate folded in
            if (w <= 0.0) continue;
            for (int64_t c = 0; c < k; ++c) {
                const double f = static_cast<double>(in.class_counts[i * k + c]) / cnt;
                out.class_balance[c] += w * (f - (1.0 - acc) / (k - 1.0));
            }
            sw += cnt * a[i] * a[i];
        }
        if (sw <= 0.0) {  // nothing identified: pooled two-sided vote frequencies (smoothed), else uniform
            for (int64_t i = 0; i < m; ++i)
                if (active[i] && two_sided[i])
                    for (int64_t c = 0; c < k; ++c)
                        out.class_balance[c] += static_cast<double>(in.class_counts[i * k + c]);
            for (int64_t c = 0; c < k; ++c) out.class_balance[c] += 1.0;
        }
        // a class may come out slightly negative from sampling noise: floor it, then renormalise
        const double floor = 1e-4;
        for (auto& p : out.class_balance) p = std::max(p, 0.0);
        double s = 0.0;
        for (auto p : out.class_balance) s += p;
        if (!(s > 0.0)) {  // every estimate came out negative (worse-than-random LFs): no information
            std::fill(out.class_balance.begin(), out.class_balance.end(), 1.0);
            s = static_cast<double>(k);
        }
        for (auto& p : out.class_balance) p = std::max(p / s, floor);
        s = 0.0;
        for (auto p : out.class_balance) s += p;
        for (auto& p : out.class_balance) p /= s;
    }

    // Conditional tables. A duplicate's table does not depend on y: its vote is already counted by the column it
    // copies, so the posterior must not count it twice.
    const double n = static_cast<double>(std::max<int64_t>(in.n_rows, 1));
    out.cpt.assign(m * (k + 1) * k, 0.0);
    for (int64_t i = 0; i < m; ++i) {
        double* t = out.cpt.data() + i * (k + 1) * k;
        const double cov = static_cast<double>(coverage[i]) / n;
        if (out.source[i] == kNeverVotes) {
            for (int64_t y = 0; y < k; ++y) t[y] = 1.0;
        } else if (out.source[i] == kDuplicate) {
            for (int64_t y = 0; y < k; ++y) {
                t[y] = 1.0 - cov;
                for (int64_t c = 0; c < k; ++c)
                    t[(c + 1) * k + y] = static_cast<double>(in.class_counts[i * k + c]) / n;
            }
        } else {
            symmetric_cpt(out.accuracy[i], cov, k, t);
        }
    }
    return out;
}

}  // namespace labelfuse
