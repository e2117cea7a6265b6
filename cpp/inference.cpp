#include "inference.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "parallel.hpp"

namespace labelfuse {


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
    auto run = [&](auto K_tag) {
        constexpr int64_t K = decltype(K_tag)::value;  // 0: k known only at run time
        ExceptionCatcher catcher;
#pragma omp parallel num_threads(n_threads)
        {
            std::vector<double> s0(k), s1(k);
#pragma omp for schedule(static)
            for (int64_t r = 0; r < n; ++r) {
                catcher.run([&] {
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
