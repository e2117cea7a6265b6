// pybind11 glue only: argument checks, conversions, GIL release. No numerics here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "dawid_skene.hpp"
#include "extend.hpp"
#include "inference.hpp"
#include "interrupt.hpp"
#include "majority.hpp"
#include "parallel.hpp"
#include "stats.hpp"
#include "triplet.hpp"
#include "covariance.hpp"

namespace py = pybind11;
using namespace labelfuse;

namespace {

// Ctrl-C during a native call (interrupt.hpp). Only the main thread runs Python's signal handlers, so a call from
// any other thread installs no check and never takes the GIL back before it is done.
unsigned long main_thread_id = 0;

bool python_wants_stop() {
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;  // a handler raised (KeyboardInterrupt): it stays set for the caller
}

// Every long call runs inside one of these: the GIL is released and Ctrl-C is still heard.
struct NativeCall {
    InterruptScope interrupts{PyThread_get_thread_ident() == main_thread_id ? &python_wants_stop : nullptr};
    py::gil_scoped_release release;
};

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

// The product of array dimensions, or a ValueError naming `name` when it does not fit in int64 (every size in
// the core is computed in int64: an overflow there would allocate a small buffer and index far past it).
int64_t checked_size(std::initializer_list<int64_t> factors, const char* name) {
    int64_t size = 1;
    for (int64_t f : factors)
        if (f < 0 || __builtin_mul_overflow(size, f, &size) || size > (int64_t{1} << 60))
            throw py::value_error(std::string(name) + ": array sizes overflow (a wrong cardinality or group count?)");
    return size;
}

// A 1-D C-contiguous int64 array (the Python layer converts); nullptr for None.
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

py::array_t<int64_t> to_numpy(std::vector<int64_t>&& v, std::vector<py::ssize_t> shape) {
    auto* owned = new std::vector<int64_t>(std::move(v));
    py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<int64_t>*>(p); });
    return py::array_t<int64_t>(shape, owned->data(), free_when_done);
}

// Checks a label matrix (2-D, signed integer, whole-element strides) and calls f(LabelView<T>) for its dtype.
template <class F>
auto with_label_view(const py::array& L, F&& f) {
    if (L.ndim() != 2) throw py::value_error("L: expected a 2-D label matrix, got " + std::to_string(L.ndim()) + "-D");
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

// A C-contiguous float64 array of exactly `size` elements.
const double* float64_buffer(const py::object& obj, const char* name, int64_t size) {
    if (!py::isinstance<py::array_t<double>>(obj)) throw py::type_error(std::string(name) + ": expected a float64 array");
    auto arr = py::reinterpret_borrow<py::array>(obj);
    if (!(arr.flags() & py::array::c_style)) throw py::value_error(std::string(name) + ": expected a contiguous array");
    if (arr.size() != size)
        throw py::value_error(std::string(name) + ": expected " + std::to_string(size) + " values, got " +
                              std::to_string(arr.size()));
    return static_cast<const double*>(arr.data());
}

py::dict label_stats(const py::array& L, int64_t cardinality, const py::object& gold, const py::object& order,
                     const py::object& offsets, bool overlap_matrix, int64_t override_col,
                     const py::object& override_values, int64_t focus_col, const py::object& n_threads) {
    if (L.ndim() != 2) throw py::value_error("L: expected a 2-D label matrix, got " + std::to_string(L.ndim()) + "-D");
    const int64_t n = L.shape(0), m = L.shape(1);
    if (cardinality < 1) throw py::value_error("cardinality: must be at least 1");
    if (override_col >= m || focus_col >= m) throw py::value_error("column: out of range");
    // every buffer the core sizes, for G groups: G*m*k class counts, G*m*m pairs, G*(m*k)^2 overlap, G*m*k*k
    // confusion (the per-thread accumulators are the G = 1 case)
    const auto check_sizes = [&](int64_t G, const char* name) {
        checked_size({G, m, cardinality}, name);
        checked_size({G, m, m}, G == 1 ? "L" : name);
        if (overlap_matrix) checked_size({G, m, cardinality, m, cardinality}, name);
        if (!gold.is_none()) checked_size({G, m, cardinality, cardinality}, name);
    };
    check_sizes(1, "cardinality");

    StatsOptions opt;
    opt.cardinality = cardinality;
    opt.overlap_matrix = overlap_matrix;
    opt.gold = int64_vector(gold, "Y", n);
    opt.focus_col = focus_col;

    const int64_t* ord = int64_vector(order, "order", -1);
    const int64_t* off = int64_vector(offsets, "offsets", -1);
    int64_t identity_offsets[2] = {0, n};
    RowSet rows{1, identity_offsets, nullptr};
    if (off) {
        const auto n_off = py::reinterpret_borrow<py::array>(offsets).shape(0);
        if (n_off < 2) throw py::value_error("offsets: expected at least 2 entries");
        if (!ord) throw py::value_error("order: required with offsets");
        const auto n_ord = py::reinterpret_borrow<py::array>(order).shape(0);
        for (py::ssize_t g = 0; g + 1 < n_off; ++g)
            if (off[g] > off[g + 1]) throw py::value_error("offsets: must be non-decreasing");
        if (off[0] < 0 || off[n_off - 1] > n_ord) throw py::value_error("offsets: out of the range of order");
        for (int64_t p = off[0]; p < off[n_off - 1]; ++p)
            if (ord[p] < 0 || ord[p] >= n) throw py::value_error("order: row id out of range");
        check_sizes(n_off - 1, "offsets");
        rows = RowSet{n_off - 1, off, ord};
    } else if (ord) {
        throw py::value_error("offsets: required with order");
    }
    if (override_col >= 0) {
        const int64_t span = rows.offsets[rows.n_groups];
        opt.override_values = int64_vector(override_values, "override_values", span);
        if (!opt.override_values) throw py::value_error("override_values: required with override_col");
        opt.override_col = override_col;
    }

    Stats s = with_label_view(L, [&](auto view) {
        NativeCall call;
        return compute_stats(view, rows, opt);
    });
    const py::ssize_t G = s.n_groups, k = cardinality;
    py::dict out;
    out["rows"] = to_numpy(std::move(s.rows), {G});
    out["covered"] = to_numpy(std::move(s.covered), {G});
    out["overlapping"] = to_numpy(std::move(s.overlapping), {G});
    out["conflicting"] = to_numpy(std::move(s.conflicting), {G});
    out["class_counts"] = to_numpy(std::move(s.class_counts), {G, m, k});
    out["lf_overlaps"] = to_numpy(std::move(s.lf_overlaps), {G, m});
    out["lf_conflicts"] = to_numpy(std::move(s.lf_conflicts), {G, m});
    out["covote"] = to_numpy(std::move(s.covote), {G, m, m});
    out["agree"] = to_numpy(std::move(s.agree), {G, m, m});
    if (s.has_overlap) out["overlap"] = to_numpy(std::move(s.overlap), {G, m, k, m, k});
    if (s.has_gold) {
        out["confusion"] = to_numpy(std::move(s.confusion), {G, m, k, k});
        out["gold_counts"] = to_numpy(std::move(s.gold_counts), {G, k});
    }
    return out;
}

py::tuple group_order_py(const py::object& groups, int64_t n_groups) {
    const int64_t* g = int64_vector(groups, "groups", -1);
    if (!g) throw py::type_error("groups: expected an int64 array");
    if (n_groups < 1) throw py::value_error("n_groups: must be at least 1");
    const int64_t n = py::reinterpret_borrow<py::array>(groups).shape(0);
    std::vector<int64_t> order, offsets;
    {
        NativeCall call;
        group_order(g, n, n_groups, order, offsets);
    }
    return py::make_tuple(to_numpy(std::move(order), {n}), to_numpy(std::move(offsets), {n_groups + 1}));
}

py::array_t<double> posterior_py(const py::array& L, const py::object& log_cpt, const py::object& log_prior,
                                 int64_t cardinality, int64_t n_groups, const py::object& groups,
                                 const py::object& n_threads) {
    if (L.ndim() != 2) throw py::value_error("L: expected a 2-D label matrix, got " + std::to_string(L.ndim()) + "-D");
    if (cardinality < 1) throw py::value_error("cardinality: must be at least 1");
    if (n_groups < 1) throw py::value_error("n_groups: must be at least 1");
    const int64_t n = L.shape(0), m = L.shape(1), k = cardinality;
    PosteriorModel model;
    model.n_lfs = m;
    model.cardinality = k;
    model.n_groups = n_groups;
    checked_size({n, k}, "cardinality");
    model.log_cpt = float64_buffer(log_cpt, "log_cpt", checked_size({n_groups, m, k + 1, k}, "cardinality"));
    model.log_prior = float64_buffer(log_prior, "log_prior", checked_size({n_groups, k}, "cardinality"));
    model.groups = int64_vector(groups, "groups", n);
    if (n_groups > 1 && !model.groups) throw py::value_error("groups: required with several groups");
    const int t = threads_arg(n_threads);
    py::array_t<double> out({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(k)});
    double* o = out.mutable_data();
    with_label_view(L, [&](auto view) {
        NativeCall call;
        posterior(view, model, o, t);
        return 0;
    });
    return out;
}

// Each capability registers its functions in its own section below, so parallel work merges cleanly.
// ---- label models ---------------------------------------------------------------------------------------------
void bind_label_models(py::module_& mod) {
    mod.def("posterior", &posterior_py, py::arg("L"), py::arg("log_cpt"), py::arg("log_prior"),
            py::arg("cardinality"), py::arg("n_groups") = 1, py::arg("groups") = py::none(),
            py::arg("n_threads") = py::none());
}

// ---- dawid-skene ----------------------------------------------------------------------------------------------
// Majority vote and the column diff for refits live here too: they serve the same estimators.
py::array_t<double> doubles_to_numpy(std::vector<double>&& v, std::vector<py::ssize_t> shape) {
    auto* owned = new std::vector<double>(std::move(v));
    py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<double>*>(p); });
    return py::array_t<double>(shape, owned->data(), free_when_done);
}

const double* optional_float64(const py::object& obj, const char* name, int64_t size) {
    return obj.is_none() ? nullptr : float64_buffer(obj, name, size);
}

py::dict dawid_skene_py(const py::array& L, int64_t cardinality, int64_t max_iter, double tol, double smoothing,
                        bool model_abstentions, const py::object& fixed_prior, const py::object& init_cpt,
                        const py::object& init_prior, bool accelerate, const py::object& n_threads) {
    if (L.ndim() != 2) throw py::value_error("L: expected a 2-D label matrix, got " + std::to_string(L.ndim()) + "-D");
    if (cardinality < 2) throw py::value_error("cardinality: expected at least 2 classes");
    const int64_t m = L.shape(1), k = cardinality;
    DawidSkeneOptions opt;
    opt.max_iter = max_iter;
    opt.tol = tol;
    opt.smoothing = smoothing;
    opt.model_abstentions = model_abstentions;
    opt.fixed_prior = optional_float64(fixed_prior, "class_balance", k);
    opt.init_cpt = optional_float64(init_cpt, "init_cpt", m * (k + 1) * k);
    opt.init_prior = optional_float64(init_prior, "init_prior", k);
    opt.accelerate = accelerate;
    opt.n_threads = threads_arg(n_threads);
    DawidSkeneResult res = with_label_view(L, [&](auto view) {
        NativeCall call;
        const VotePatterns patterns = vote_patterns(view, k, opt.n_threads);
        return dawid_skene(patterns, opt);
    });
    py::dict out;
    out["cpt"] = doubles_to_numpy(std::move(res.cpt), {m, k + 1, k});
    out["class_balance"] = doubles_to_numpy(std::move(res.prior), {k});
    out["n_iter"] = res.n_iter;
    out["converged"] = res.converged;
    out["log_likelihood"] = res.log_likelihood;
    out["n_patterns"] = res.n_patterns;
    out["coverage"] = doubles_to_numpy(std::move(res.coverage), {m});
    return out;
}

py::array_t<double> majority_proba_py(const py::array& L, int64_t cardinality, const py::object& fallback,
                                      const py::object& n_threads) {
    if (L.ndim() != 2) throw py::value_error("L: expected a 2-D label matrix, got " + std::to_string(L.ndim()) + "-D");
    if (cardinality < 1) throw py::value_error("cardinality: must be at least 1");
    const int64_t n = L.shape(0), k = cardinality;
    const double* fb = float64_buffer(fallback, "fallback", k);
    const int t = threads_arg(n_threads);
    py::array_t<double> out({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(k)});
    double* o = out.mutable_data();
    with_label_view(L, [&](auto view) {
        NativeCall call;
        majority_proba(view, k, fb, o, t);
        return 0;
    });
    return out;
}

py::tuple majority_share_sum_py(const py::array& L, int64_t cardinality, const py::object& n_threads) {
    if (L.ndim() != 2) throw py::value_error("L: expected a 2-D label matrix, got " + std::to_string(L.ndim()) + "-D");
    if (cardinality < 1) throw py::value_error("cardinality: must be at least 1");
    const int t = threads_arg(n_threads);
    std::vector<double> sum(cardinality);
    const int64_t covered = with_label_view(L, [&](auto view) {
        NativeCall call;
        return majority_share_sum(view, cardinality, sum.data(), t);
    });
    return py::make_tuple(doubles_to_numpy(std::move(sum), {cardinality}), covered);
}

py::array_t<bool> changed_columns_py(const py::array& L, const py::array& previous, const py::object& n_threads) {
    if (L.ndim() != 2 || previous.ndim() != 2) throw py::value_error("L: expected 2-D label matrices");
    if (L.shape(0) != previous.shape(0) || L.shape(1) != previous.shape(1))
        throw py::value_error("L: shape (" + std::to_string(L.shape(0)) + ", " + std::to_string(L.shape(1)) +
                              ") differs from the fitted matrix's (" + std::to_string(previous.shape(0)) + ", " +
                              std::to_string(previous.shape(1)) + ")");
    const int t = threads_arg(n_threads);
    py::array_t<bool> out(static_cast<py::ssize_t>(L.shape(1)));
    auto* o = reinterpret_cast<uint8_t*>(out.mutable_data());
    with_label_view(L, [&](auto a) {
        return with_label_view(previous, [&](auto b) {
            NativeCall call;
            changed_columns(a, b, o, t);
            return 0;
        });
    });
    return out;
}

void bind_dawid_skene(py::module_& mod) {
    mod.def("dawid_skene", &dawid_skene_py, py::arg("L"), py::arg("cardinality"), py::arg("max_iter") = 100,
            py::arg("tol") = 1e-8, py::arg("smoothing") = 0.01, py::arg("model_abstentions") = true,
            py::arg("class_balance") = py::none(), py::arg("init_cpt") = py::none(),
            py::arg("init_prior") = py::none(), py::arg("accelerate") = true, py::arg("n_threads") = py::none());
    mod.def("majority_proba", &majority_proba_py, py::arg("L"), py::arg("cardinality"), py::arg("fallback"),
            py::arg("n_threads") = py::none());
    mod.def("majority_share_sum", &majority_share_sum_py, py::arg("L"), py::arg("cardinality"),
            py::arg("n_threads") = py::none());
    mod.def("changed_columns", &changed_columns_py, py::arg("L"), py::arg("previous"),
            py::arg("n_threads") = py::none());
}

// Per-LF class counts (m*k, flattened) of the moment methods: their pointer and the number of LFs.
std::pair<const int64_t*, int64_t> class_counts_input(const py::object& class_counts, int64_t cardinality) {
    if (cardinality < 2) throw py::value_error("cardinality: expected at least 2 classes");
    const int64_t* cc = int64_vector(class_counts, "class_counts", -1);
    if (!cc) throw py::type_error("class_counts: required");
    const int64_t mk = py::reinterpret_borrow<py::array>(class_counts).shape(0);
    if (mk % cardinality) throw py::value_error("class_counts: length is not a multiple of the cardinality");
    return {cc, mk / cardinality};
}

// ---- triplet ---------------------------------------------------------------------------------------------------
py::array_t<double> to_numpy_f64(std::vector<double>&& v, std::vector<py::ssize_t> shape) {
    auto* owned = new std::vector<double>(std::move(v));
    py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<double>*>(p); });
    return py::array_t<double>(shape, owned->data(), free_when_done);
}

// Pairwise counts of one group (flattened by the Python layer) -> accuracies, class balance, tables.
py::dict triplet_fit_py(const py::object& covote, const py::object& agree, const py::object& class_counts,
                        int64_t n_rows, int64_t cardinality, const py::object& class_balance, int64_t min_overlap,
                        double min_denominator_z, double fallback_accuracy, double max_accuracy, bool median,
                        bool dedupe) {
    const int64_t k = cardinality;
    const auto [cc, m] = class_counts_input(class_counts, cardinality);
    const int64_t mk = m * k;
    TripletInput in;
    in.n_lfs = m;
    in.cardinality = k;
    in.n_rows = n_rows;
    in.class_counts = cc;
    in.covote = int64_vector(covote, "covote", m * m);
    in.agree = int64_vector(agree, "agree", m * m);
    if (!in.covote || !in.agree) throw py::type_error("covote, agree: required");
    if (!class_balance.is_none()) in.class_balance = float64_buffer(class_balance, "class_balance", k);
    TripletOptions opt;
    opt.min_overlap = min_overlap;
    opt.min_denominator_z = min_denominator_z;
    opt.fallback_accuracy = fallback_accuracy;
    opt.max_accuracy = max_accuracy;
    opt.median = median;
    opt.dedupe = dedupe;
    TripletResult r;
    {
        NativeCall call;
        r = fit_triplet(in, opt);
    }
    py::dict out;
    out["accuracy"] = to_numpy_f64(std::move(r.accuracy), {m});
    out["class_balance"] = to_numpy_f64(std::move(r.class_balance), {k});
    out["cpt"] = to_numpy_f64(std::move(r.cpt), {m, k + 1, k});
    out["source"] = to_numpy(std::move(r.source), {m});
    out["n_triplets"] = to_numpy(std::move(r.n_triplets), {m});
    out["duplicate_of"] = to_numpy(std::move(r.duplicate_of), {m});
    return out;
}

void bind_triplet(py::module_& mod) {
    mod.def("triplet_fit", &triplet_fit_py, py::arg("covote"), py::arg("agree"), py::arg("class_counts"),
            py::arg("n_rows"), py::arg("cardinality"), py::arg("class_balance") = py::none(),
            py::arg("min_overlap") = 10, py::arg("min_denominator_z") = 3.0, py::arg("fallback_accuracy") = 0.7,
            py::arg("max_accuracy") = 0.999, py::arg("median") = false, py::arg("dedupe") = true);
}

// ---- covariance ------------------------------------------------------------------------------------------------
// One group's counts (flattened by the Python layer) -> class-conditional tables, class balance.
py::dict covariance_fit_py(const py::object& overlap, const py::object& covote, const py::object& agree,
                           const py::object& class_counts, int64_t n_rows, int64_t cardinality,
                           const py::object& class_balance, int64_t max_sweeps, int64_t max_outer, double tol,
                           double ridge, double first_moment_weight, bool clamp, bool dedupe) {
    const int64_t k = cardinality;
    const auto [cc, m] = class_counts_input(class_counts, cardinality);
    const int64_t mk = m * k;
    CovarianceInput in;
    in.n_lfs = m;
    in.cardinality = k;
    in.n_rows = n_rows;
    in.class_counts = cc;
    in.overlap = int64_vector(overlap, "overlap", mk * mk);
    in.covote = int64_vector(covote, "covote", m * m);
    in.agree = int64_vector(agree, "agree", m * m);
    if (!in.overlap || !in.covote || !in.agree) throw py::type_error("overlap, covote, agree: required");
    if (!class_balance.is_none()) in.class_balance = float64_buffer(class_balance, "class_balance", k);
    CovarianceOptions opt;
    opt.max_sweeps = max_sweeps;
    opt.max_outer = max_outer;
    opt.tol = tol;
    opt.ridge = ridge;
    opt.first_moment_weight = first_moment_weight;
    opt.clamp = clamp;
    opt.warm.dedupe = dedupe;
    CovarianceResult r;
    {
        NativeCall call;
        r = fit_covariance(in, opt);
    }
    py::dict out;
    out["mu"] = to_numpy_f64(std::move(r.mu), {m, k, k});
    out["class_balance"] = to_numpy_f64(std::move(r.class_balance), {k});
    out["cpt"] = to_numpy_f64(std::move(r.cpt), {m, k + 1, k});
    out["accuracy"] = to_numpy_f64(std::move(r.accuracy), {m});
    out["warm_accuracy"] = to_numpy_f64(std::move(r.warm_accuracy), {m});
    out["duplicate_of"] = to_numpy(std::move(r.duplicate_of), {m});
    out["permutation"] = to_numpy(std::move(r.permutation), {k});
    out["sweeps"] = r.sweeps;
    out["outer"] = r.outer;
    out["clamped"] = r.clamped;
    out["loss"] = r.loss;
    out["converged"] = r.converged;
    return out;
}

void bind_covariance(py::module_& mod) {
    mod.def("covariance_fit", &covariance_fit_py, py::arg("overlap"), py::arg("covote"), py::arg("agree"),
            py::arg("class_counts"), py::arg("n_rows"), py::arg("cardinality"), py::arg("class_balance") = py::none(),
            py::arg("max_sweeps") = 30, py::arg("max_outer") = 6, py::arg("tol") = 1e-4, py::arg("ridge") = 1e-2,
            py::arg("first_moment_weight") = 1.0, py::arg("clamp") = true, py::arg("dedupe") = true);
}

// ---- extension (embeddings) ------------------------------------------------------------------------------------
// A C-contiguous 2-D array of exactly the given dtype and shape (no silent conversion: the Python layer converts
// once and caches); `rows`/`cols` < 0 accept any size along that axis.
template <class E>
const E* typed_matrix(const py::object& obj, const char* name, const char* dtype, int64_t rows, int64_t cols) {
    if (!py::isinstance<py::array_t<E>>(obj))
        throw py::type_error(std::string(name) + ": expected a " + dtype + " array");
    auto arr = py::reinterpret_borrow<py::array>(obj);
    if (arr.ndim() != 2) throw py::value_error(std::string(name) + ": expected a 2-D array");
    if (!(arr.flags() & py::array::c_style)) throw py::value_error(std::string(name) + ": expected a contiguous array");
    if ((rows >= 0 && arr.shape(0) != rows) || (cols >= 0 && arr.shape(1) != cols))
        throw py::value_error(std::string(name) + ": expected shape (" + std::to_string(rows) + ", " +
                              std::to_string(cols) + "), got (" + std::to_string(arr.shape(0)) + ", " +
                              std::to_string(arr.shape(1)) + ")");
    return static_cast<const E*>(arr.data());
}

py::tuple extend_votes_py(const py::array& L_db, const py::array& L_query, const py::object& nbr_ids,
                          const py::object& nbr_sims, const py::object& X_db, const py::object& X_query,
                          const py::object& thresholds, int64_t cardinality, bool self_query,
                          const py::object& n_threads) {
    if (L_db.ndim() != 2 || L_query.ndim() != 2) throw py::value_error("L: expected 2-D label matrices");
    // the same integer layout, compared by value: two equal dtypes may be distinct objects (a byte-swapped int64
    // converted to native order is not numpy's int64 singleton), so identity would refuse equal types
    const py::dtype db_type = L_db.dtype(), query_type = L_query.dtype();
    if (db_type.kind() != query_type.kind() || db_type.itemsize() != query_type.itemsize() ||
        !query_type.attr("isnative").cast<bool>())
        throw py::type_error("L_query: must have the dtype of L_db");
    if (cardinality < 2) throw py::value_error("cardinality: must be at least 2");
    ExtendInput in;
    in.n_db = L_db.shape(0);
    in.n_query = L_query.shape(0);
    in.n_lfs = L_db.shape(1);
    if (L_query.shape(1) != in.n_lfs) throw py::value_error("L_query: must have as many columns as L_db");
    in.cardinality = cardinality;
    in.self_query = self_query;
    auto ids_arr = py::reinterpret_borrow<py::array>(nbr_ids);
    in.nbr_ids = typed_matrix<int64_t>(nbr_ids, "nbr_ids", "int64", in.n_query, -1);
    in.n_neighbors = ids_arr.shape(1);
    in.nbr_sims = typed_matrix<float>(nbr_sims, "nbr_sims", "float32", in.n_query, in.n_neighbors);
    if (!X_db.is_none() || !X_query.is_none()) {
        in.X_db = typed_matrix<float>(X_db, "X_db", "float32", in.n_db, -1);
        in.dim = py::reinterpret_borrow<py::array>(X_db).shape(1);
        in.X_query = typed_matrix<float>(X_query, "X_query", "float32", in.n_query, in.dim);
    }
    in.thresholds = float64_buffer(thresholds, "thresholds", in.n_lfs);
    const int t = threads_arg(n_threads);
    py::array out(L_query.dtype(), std::vector<py::ssize_t>{in.n_query, in.n_lfs});
    ExtendReport report = with_label_view(L_db, [&](auto db) {
        using T = std::remove_const_t<std::remove_pointer_t<decltype(db.data)>>;
        const auto item = L_query.itemsize();  // same dtype as L_db (checked above)
        if (L_query.strides(0) % item != 0 || L_query.strides(1) % item != 0)
            throw py::value_error("L_query: strides must be multiples of the item size");
        LabelView<T> query{static_cast<const T*>(L_query.data()), in.n_query, in.n_lfs, L_query.strides(0) / item,
                           L_query.strides(1) / item};
        T* o = static_cast<T*>(out.mutable_data());
        NativeCall call;
        return extend_votes(db, query, in, o, t);
    });
    return py::make_tuple(out, to_numpy(std::move(report.extended), {in.n_lfs}),
                          to_numpy(std::move(report.fallback), {in.n_lfs}));
}

void bind_extend(py::module_& mod) {
    mod.def("extend_votes", &extend_votes_py, py::arg("L_db"), py::arg("L_query"), py::arg("nbr_ids"),
            py::arg("nbr_sims"), py::arg("X_db"), py::arg("X_query"), py::arg("thresholds"), py::arg("cardinality"),
            py::arg("self_query") = false, py::arg("n_threads") = py::none());
}

}  // namespace

PYBIND11_MODULE(_core, mod) {
    mod.doc() = "labelfuse native core (private: use the labelfuse package)";
    mod.attr("__version__") = LABELFUSE_VERSION;
    mod.attr("openmp_enabled") = openmp_enabled();
    main_thread_id = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
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
    mod.def("label_stats", &label_stats, py::arg("L"), py::arg("cardinality"), py::arg("gold") = py::none(),
            py::arg("order") = py::none(), py::arg("offsets") = py::none(), py::arg("overlap_matrix") = false,
            py::arg("override_col") = -1, py::arg("override_values") = py::none(), py::arg("focus_col") = -1,
            py::arg("n_threads") = py::none());
    mod.def("group_order", &group_order_py, py::arg("groups"), py::arg("n_groups"));
    mod.def(
        "_raise_in_parallel",
        [](int64_t n, int64_t fail_at, const py::object& n_threads) {
            const int t = threads_arg(n_threads);
            NativeCall call;
            raise_in_parallel(n, fail_at, t);
        },
        py::arg("n_iterations"), py::arg("fail_at"), py::arg("n_threads") = py::none());
    bind_label_models(mod);
    bind_dawid_skene(mod);
    bind_triplet(mod);
    bind_covariance(mod);
    bind_extend(mod);
}
