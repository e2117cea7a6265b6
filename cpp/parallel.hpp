// Thread-count resolution and exception capture for OpenMP regions.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>

#include "interrupt.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace labelfuse {

inline int max_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

// The calling thread's index inside a parallel region (0 outside one, or without OpenMP).
inline int thread_index() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

// The number of threads in the current parallel region (1 outside one, or without OpenMP): what a kernel reports
// as the thread count it ran on, which may be below what num_threads asked for (OMP_THREAD_LIMIT, nesting).
inline int team_size() {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

inline bool openmp_enabled() {
#ifdef _OPENMP
    return true;
#else
    return false;
#endif
}

// scikit-learn's meaning: 0 is an error, positive is a count, -1 is every thread, -2 all but one, ...
// `requested` of INT32_MIN stands for "not given" (the default).
constexpr int64_t kDefaultThreads = INT32_MIN;

inline int resolve_n_threads(int64_t requested) {
    const int hw = max_threads();
    if (requested == kDefaultThreads) return hw;
    if (requested == 0) throw std::invalid_argument("n_threads: must not be 0 (use None for the default, -1 for all)");
    if (requested > 0) return static_cast<int>(requested > 4096 ? 4096 : requested);
    const int64_t n = hw + 1 + requested;
    return n < 1 ? 1 : static_cast<int>(n);
}

// Every kernel takes its thread count as a parameter, already resolved (resolve_n_threads): a count below 1 is a
// caller's bug, refused before it reaches num_threads().
inline void check_thread_count(int n_threads) {
    if (n_threads < 1) throw std::invalid_argument("n_threads: the core needs a resolved count of at least 1");
}

// An exception must not escape an OpenMP region (std::terminate). Each iteration runs through `run`; the first
// exception is kept and rethrown by `rethrow` after the parallel loop has ended. `run` is also where a long loop
// notices Ctrl-C (interrupt.hpp): the Interrupted exception stops every thread like any other failure.
class ExceptionCatcher {
  public:
    template <class F>
    void run(F&& f) noexcept {
        if (failed_.load(std::memory_order_relaxed)) return;  // skip the remaining work once something failed
        try {
            check_interrupt();
            f();
        } catch (...) {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!error_) error_ = std::current_exception();
            failed_.store(true, std::memory_order_relaxed);
        }
    }
    bool failed() const { return failed_.load(std::memory_order_relaxed); }
    void rethrow() const {
        if (error_) std::rethrow_exception(error_);
    }

  private:
    std::exception_ptr error_;
    std::mutex mutex_;
    std::atomic<bool> failed_{false};
};

// Throws inside a parallel loop at iteration `fail_at`: lets the tests check that the capture above works.
void raise_in_parallel(int64_t n_iterations, int64_t fail_at, int n_threads);

}  // namespace labelfuse
