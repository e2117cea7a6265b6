#include "parallel.hpp"

namespace labelfuse {

void raise_in_parallel(int64_t n_iterations, int64_t fail_at, int n_threads) {
    check_thread_count(n_threads);
    ExceptionCatcher catcher;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t i = 0; i < n_iterations; ++i) {
        catcher.run([&] {
            if (i == fail_at) throw std::runtime_error("failure injected at iteration " + std::to_string(i));
        });
    }
    catcher.rethrow();
}

}  // namespace labelfuse
