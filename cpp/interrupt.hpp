// Ctrl-C during a long native call. The core knows nothing of Python: for the duration of one call the binding
// installs, on the calling thread, a function that asks the interpreter whether the call should stop (it takes the
// GIL and runs pending signal handlers). Long loops call `check_interrupt()` often; only the thread that made the
// call really asks, at most every kPollInterval, and it stops the call by throwing `Interrupted`. Inside an OpenMP
// region that thread is thread 0, and ExceptionCatcher turns the exception into "skip the remaining work" for
// every thread, so the call returns within about one poll interval plus one unit of work.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>

namespace labelfuse {

// Thrown when the installed check says stop. The binding leaves the Python exception its check raised in place.
class Interrupted : public std::runtime_error {
  public:
    Interrupted() : std::runtime_error("interrupted") {}
};

using StopCheck = bool (*)();

namespace detail {
struct InterruptState {
    StopCheck check = nullptr;
    uint32_t calls = 0;
    std::chrono::steady_clock::time_point next{};
};
inline thread_local InterruptState interrupt_state;
}  // namespace detail

// 20 ms: a prompt Ctrl-C for a person, and at most 50 GIL acquisitions a second for the interpreter.
constexpr std::chrono::milliseconds kPollInterval{20};

// Installs `check` on the calling thread for the lifetime of the scope (nested scopes restore the outer one).
class InterruptScope {
  public:
    explicit InterruptScope(StopCheck check) : saved_(detail::interrupt_state) {
        detail::interrupt_state = {check, 0, std::chrono::steady_clock::now() + kPollInterval};
    }
    ~InterruptScope() { detail::interrupt_state = saved_; }
    InterruptScope(const InterruptScope&) = delete;
    InterruptScope& operator=(const InterruptScope&) = delete;

  private:
    detail::InterruptState saved_;
};

// Cheap enough for every row of a hot loop: threads without a check return at once, the calling thread reads the
// clock once every 64 calls.
inline void check_interrupt() {
    auto& s = detail::interrupt_state;
    if (!s.check || (++s.calls & 63u) != 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (now < s.next) return;
    s.next = now + kPollInterval;
    if (s.check()) throw Interrupted();
}

// For loops whose steps are long (an EM iteration, a sweep): asks on every call that is due, not every 64th.
inline void check_interrupt_now() {
    auto& s = detail::interrupt_state;
    s.calls |= 63u;  // the increment in check_interrupt() makes this call the 64th
    check_interrupt();
}

// For parallel regions that must not throw: every thread calls `stop()` once per unit of work (a block of rows, a
// bucket); the calling thread asks Python when due and raises the shared flag, and every thread then skips the
// rest of its units. After the region, `throw_if_stopped()` turns the flag into `Interrupted` on the caller.
class InterruptFlag {
  public:
    bool stop() noexcept {
        if (stop_.load(std::memory_order_relaxed)) return true;
        try {
            check_interrupt();
        } catch (...) {  // Interrupted: the Python exception stays set for the binding
            stop_.store(true, std::memory_order_relaxed);
            return true;
        }
        return false;
    }
    void throw_if_stopped() const {
        if (stop_.load(std::memory_order_relaxed)) throw Interrupted();
    }

  private:
    std::atomic<bool> stop_{false};
};

}  // namespace labelfuse
