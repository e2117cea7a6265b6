#include "bind_common.hpp"

#include "parallel.hpp"

namespace labelfuse::bind {

namespace {

unsigned long main_thread_id = 0;

bool python_wants_stop() {
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;  // a handler raised (KeyboardInterrupt): it stays set for the caller
}

}  // namespace

void init_native_calls() {
    main_thread_id = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
}

StopCheck stop_check_for_this_thread() {
    return PyThread_get_thread_ident() == main_thread_id ? &python_wants_stop : nullptr;
}

int threads_arg(const py::object& n_threads) {
    if (n_threads.is_none()) return resolve_n_threads(kDefaultThreads);
    // any integer (Python or numpy: anything with __index__), but not a bool
    if (py::isinstance<py::bool_>(n_threads)) throw py::type_error("n_threads: expected an int or None");
    auto index = py::reinterpret_steal<py::object>(PyNumber_Index(n_threads.ptr()));
    if (!index) {
        PyErr_Clear();
        throw py::type_error("n_threads: expected an int or None");
    }
    // beyond int64 (e.g. 2**70) means "all of them" / "all but too many": clamp instead of a pybind cast_error
    int overflow = 0;
    const long long value = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
    if (overflow) return resolve_n_threads(overflow > 0 ? INT32_MAX : -int64_t{INT32_MAX});
    return resolve_n_threads(value);
}

int64_t checked_size(std::initializer_list<int64_t> factors, const char* name) {
    int64_t size = 1;
    for (int64_t f : factors)
        if (f < 0 || __builtin_mul_overflow(size, f, &size) || size > (int64_t{1} << 60))
            throw py::value_error(std::string(name) + ": array sizes overflow (a wrong cardinality or group count?)");
    return size;
}

const int64_t* int64_vector(const py::object& obj, const char* name, int64_t expected_len) {
    if (obj.is_none()) return nullptr;
    if (!py::isinstance<py::array_t<int64_t>>(obj))
        throw py::type_error(std::string(name) + ": expected a numpy int64 array");
    auto arr = py::reinterpret_borrow<py::array>(obj);
    if (arr.ndim() != 1) throw py::value_error(std::string(name) + ": expected a 1-D array");
    if (!(arr.flags() & py::array::c_style)) throw py::value_error(std::string(name) + ": expected a contiguous array");
    if (expected_len >= 0 && arr.shape(0) != expected_len)
        throw py::value_error(std::string(name) + ": expected length " + std::to_string(expected_len) + ", got " +
                              std::to_string(arr.shape(0)));
    return static_cast<const int64_t*>(arr.data());
}

const double* float64_buffer(const py::object& obj, const char* name, int64_t size) {
    if (!py::isinstance<py::array_t<double>>(obj)) throw py::type_error(std::string(name) + ": expected a float64 array");
    auto arr = py::reinterpret_borrow<py::array>(obj);
    if (!(arr.flags() & py::array::c_style)) throw py::value_error(std::string(name) + ": expected a contiguous array");
    if (arr.size() != size)
        throw py::value_error(std::string(name) + ": expected " + std::to_string(size) + " values, got " +
                              std::to_string(arr.size()));
    return static_cast<const double*>(arr.data());
}

const double* optional_float64(const py::object& obj, const char* name, int64_t size) {
    return obj.is_none() ? nullptr : float64_buffer(obj, name, size);
}

void check_label_matrix(const py::array& L) {
    if (L.ndim() != 2) throw py::value_error("L: expected a 2-D label matrix, got " + std::to_string(L.ndim()) + "-D");
}

}  // namespace labelfuse::bind
