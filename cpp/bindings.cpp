// The module: version, threading queries, the translation of Ctrl-C, and the functions of every kernel family
// (bind_*.cpp). Argument checks, conversions and GIL release live in the binding files; no numerics here.
#include "bind_common.hpp"
#include "parallel.hpp"

namespace py = pybind11;
using namespace labelfuse;
using namespace labelfuse::bind;

PYBIND11_MODULE(_core, mod) {
    mod.doc() = "labelfuse native core (private: use the labelfuse package)";
    mod.attr("__version__") = LABELFUSE_VERSION;
    mod.attr("openmp_enabled") = openmp_enabled();
    init_native_calls();
    // The Python exception raised by the signal handler is already set: pass it on rather than replace it.
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const Interrupted&) {
            if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
        }
    });
    mod.def("max_threads", &max_threads);
    mod.def("resolve_threads", [](const py::object& n) { return threads_arg(n); }, py::arg("n_threads"));
    mod.def(
        "_raise_in_parallel",
        [](int64_t n, int64_t fail_at, const py::object& n_threads) {
            const int t = threads_arg(n_threads);
            NativeCall call;
            raise_in_parallel(n, fail_at, t);
        },
        py::arg("n_iterations"), py::arg("fail_at"), py::arg("n_threads") = py::none());
    bind_stats(mod);
    bind_models(mod);
    bind_moments(mod);
    bind_extend(mod);
}
