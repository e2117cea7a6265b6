// What every binding file shares: argument checks and conversions between numpy and the core, and NativeCall (GIL
// released, Ctrl-C heard). Only the bind_*.cpp files and bindings.cpp include pybind11; the core knows nothing of
// Python.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "interrupt.hpp"
#include "label_matrix.hpp"

namespace labelfuse::bind {

namespace py = pybind11;

// Records the interpreter's main thread: only that thread runs Python's signal handlers, so only a call made from
// it can hear Ctrl-C. Called once, when the module is imported.
void init_native_calls();

// The stop check for a native call made from the calling thread: asks Python on the main thread, nothing (nullptr)
// on any other, which then never takes the GIL back before the call is done.
StopCheck stop_check_for_this_thread();

// Every native call runs inside one of these: the GIL is released and Ctrl-C is still heard (interrupt.hpp).
struct NativeCall {
    InterruptScope interrupts{stop_check_for_this_thread()};
    py::gil_scoped_release release;
};

// n_threads as the Python API takes it (None, or any integer but a bool) -> the resolved count, at least 1.
int threads_arg(const py::object& n_threads);

// The product of array dimensions, or a ValueError naming `name` when it does not fit in int64 (every size in
// the core is computed in int64: an overflow there would allocate a small buffer and index far past it).
int64_t checked_size(std::initializer_list<int64_t> factors, const char* name);

// A 1-D C-contiguous int64 array (the Python layer converts) of `expected_len` entries (any length when < 0);
// nullptr for None.
const int64_t* int64_vector(const py::object& obj, const char* name, int64_t expected_len);

// A C-contiguous float64 array of exactly `size` elements; optional_float64 also takes None (nullptr).
const double* float64_buffer(const py::object& obj, const char* name, int64_t size);
const double* optional_float64(const py::object& obj, const char* name, int64_t size);

// A ValueError unless L is 2-D (the label matrix of every kernel).
void check_label_matrix(const py::array& L);

// The one way a result buffer becomes a numpy array: the vector moves into a capsule that the array owns (no
// copy) and frees when the array dies. `shape` must hold exactly the vector's elements.
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
    static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>, "to_numpy: numeric element types only");
    size_t expected = 1;
    for (py::ssize_t s : shape) expected *= static_cast<size_t>(s);
    if (expected != v.size())
        throw std::logic_error("to_numpy: shape holds " + std::to_string(expected) + " elements, the buffer " +
                               std::to_string(v.size()));
    auto owned = std::make_unique<std::vector<T>>(std::move(v));
    T* data = owned->data();
    py::capsule free_when_done(owned.get(), [](void* p) { delete static_cast<std::vector<T>*>(p); });
    owned.release();  // the capsule owns it from here on
    return py::array_t<T>(std::move(shape), data, free_when_done);
}

// Checks a label matrix (2-D, signed integer, native byte order, aligned, whole-element strides) and calls
// f(LabelView<T>) for its dtype.
template <class F>
auto with_label_view(const py::array& L, F&& f) {
    check_label_matrix(L);
    if (L.dtype().kind() != 'i') throw py::type_error("L: expected a signed integer matrix (int8/16/32/64)");
    const char order = L.dtype().byteorder();
    const uint16_t probe = 1;
    const bool little = *reinterpret_cast<const uint8_t*>(&probe) == 1;
    if ((order == '>' && little) || (order == '<' && !little))
        throw py::value_error("L: non-native byte order; convert with L.astype(L.dtype.newbyteorder('='))");
    if (!(L.flags() & py::detail::npy_api::constants::NPY_ARRAY_ALIGNED_))
        throw py::value_error("L: not aligned to its item size; pass a copy (np.array(L))");
    const auto item = L.itemsize();
    if (L.strides(0) % item != 0 || L.strides(1) % item != 0)
        throw py::value_error("L: strides must be multiples of the item size");
    auto view = [&](auto* typed) {
        using T = std::remove_const_t<std::remove_pointer_t<decltype(typed)>>;
        return LabelView<T>{static_cast<const T*>(L.data()), L.shape(0), L.shape(1), L.strides(0) / item,
                            L.strides(1) / item};
    };
    switch (item) {
        case 1: return f(view(static_cast<const int8_t*>(nullptr)));
        case 2: return f(view(static_cast<const int16_t*>(nullptr)));
        case 4: return f(view(static_cast<const int32_t*>(nullptr)));
        case 8: return f(view(static_cast<const int64_t*>(nullptr)));
        default: throw py::type_error("L: unsupported integer size");
    }
}

// The functions of each kernel family, registered on the module by bindings.cpp.
void bind_stats(py::module_& mod);     // label statistics, group order
void bind_models(py::module_& mod);    // posterior, Dawid-Skene, majority vote, changed columns
void bind_moments(py::module_& mod);   // triplet and covariance fits from the statistics
void bind_extend(py::module_& mod);    // extension of votes along embedding neighbours

}  // namespace labelfuse::bind
