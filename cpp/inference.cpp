#include "inference.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "parallel.hpp"

namespace labelfuse {

template <class T>
void posterior(const LabelView<T>& L, const PosteriorModel& model, double* out, int n_threads) {
    const int64_t n = L.n_rows, m = L.n_cols, k = model.cardinality, G = model.n_groups;
    if (m != model.n_lfs) throw std::invalid_argument("L: has " + std::to_string(m) + " columns, the model " +
                                                      std::to_string(model.n_lfs) + " LFs");
    // Abstentions are the common case: start every row from prior + all-abstain terms and add, per vote, the
    // difference to that LF's abstain term.
    std::vector<double> base(G * k), delta(G * m * k * k);
    for (int64_t g = 0; g < G; ++g) {
        const double* cpt = model.log_cpt + g * m * (k + 1) * k;
        for (int64_t y = 0; y < k; ++y) {
            double b = model.log_prior[g * k + y];
            for (int64_t j = 0; j < m; ++j) b += cpt[(j * (k + 1)) * k + y];
            base[g * k + y] = b;
        }
        for (int64_t j = 0; j < m; ++j)
            for (int64_t c = 0; c < k; ++c)
                for (int64_t y = 0; y < k; ++y)
                    delta[((g * m + j) * k + c) * k + y] =
                        cpt[(j * (k + 1) + c + 1) * k + y] - cpt[(j * (k + 1)) * k + y];
    }
    if (n * m < (int64_t{1} << 15)) n_threads = 1;
    ExceptionCatcher catcher;
#pragma omp parallel num_threads(n_threads)
    {
        std::vector<double> s(k);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < n; ++r) {
            catcher.run([&] {
                const int64_t g = model.groups ? model.groups[r] : 0;
                if (g < 0 || g >= G)
                    throw std::invalid_argument("groups: entry " + std::to_string(r) + " is " + std::to_string(g) +
                                                "; expected 0.." + std::to_string(G - 1));
                std::copy(base.begin() + g * k, base.begin() + (g + 1) * k, s.begin());
                for (int64_t j = 0; j < m; ++j) {
                    const int64_t c = L(r, j);
                    if (c == -1) continue;
                    if (c < -1 || c >= k)
                        throw std::invalid_argument("L: entry (row " + std::to_string(r) + ", column " +
                                                    std::to_string(j) + ") is " + std::to_string(c) +
                                                    "; votes must be -1 (abstain) or a class in 0.." +
                                                    std::to_string(k - 1));
                    const double* d = delta.data() + ((g * m + j) * k + c) * k;
                    for (int64_t y = 0; y < k; ++y) s[y] += d[y];
                }
                double top = s[0];
                for (int64_t y = 1; y < k; ++y) top = std::max(top, s[y]);
                double z = 0.0;
                for (int64_t y = 0; y < k; ++y) z += (s[y] = std::exp(s[y] - top));
                double* o = out + r * k;
                for (int64_t y = 0; y < k; ++y) o[y] = s[y] / z;
            });
        }
    }
    catcher.rethrow();
}

template void posterior<int8_t>(const LabelView<int8_t>&, const PosteriorModel&, double*, int);
template void posterior<int16_t>(const LabelView<int16_t>&, const PosteriorModel&, double*, int);
template void posterior<int32_t>(const LabelView<int32_t>&, const PosteriorModel&, double*, int);
template void posterior<int64_t>(const LabelView<int64_t>&, const PosteriorModel&, double*, int);

}  // namespace labelfuse
