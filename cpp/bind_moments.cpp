// Bindings of the moment methods: triplet and covariance fits from one group's statistics (the counts of
// label_stats, flattened by the Python layer). They run serially: their input is m x m, not the label matrix.
#include "bind_common.hpp"
#include "covariance.hpp"
#include "triplet.hpp"

namespace labelfuse::bind {

namespace {

// Per-LF class counts (m*k, flattened) of the moment methods: their pointer and the number of LFs.
std::pair<const int64_t*, int64_t> class_counts_input(const py::object& class_counts, int64_t cardinality) {
    if (cardinality < 2) throw py::value_error("cardinality: expected at least 2 classes");
    const int64_t* cc = int64_vector(class_counts, "class_counts", -1);
    if (!cc) throw py::type_error("class_counts: required");
    const int64_t mk = py::reinterpret_borrow<py::array>(class_counts).shape(0);
    if (mk % cardinality) throw py::value_error("class_counts: length is not a multiple of the cardinality");
    return {cc, mk / cardinality};
}

// Pairwise counts of one group -> accuracies, class balance, tables.
py::dict triplet_fit_py(const py::object& covote, const py::object& agree, const py::object& class_counts,
                        int64_t n_rows, int64_t cardinality, const py::object& class_balance, int64_t min_overlap,
                        double min_denominator_z, double fallback_accuracy, double max_accuracy, bool median,
                        bool dedupe) {
    const int64_t k = cardinality;
    const auto [cc, m] = class_counts_input(class_counts, cardinality);
    TripletInput in;
    in.n_lfs = m;
    in.cardinality = k;
    in.n_rows = n_rows;
    in.class_counts = cc;
    in.covote = int64_vector(covote, "covote", checked_size({m, m}, "class_counts"));
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
    out["accuracy"] = to_numpy(std::move(r.accuracy), {m});
    out["class_balance"] = to_numpy(std::move(r.class_balance), {k});
    out["cpt"] = to_numpy(std::move(r.cpt), {m, k + 1, k});
    out["source"] = to_numpy(std::move(r.source), {m});
    out["n_triplets"] = to_numpy(std::move(r.n_triplets), {m});
    out["duplicate_of"] = to_numpy(std::move(r.duplicate_of), {m});
    return out;
}

// One group's counts -> class-conditional tables, class balance.
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
    in.overlap = int64_vector(overlap, "overlap", checked_size({mk, mk}, "class_counts"));
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
    out["mu"] = to_numpy(std::move(r.mu), {m, k, k});
    out["class_balance"] = to_numpy(std::move(r.class_balance), {k});
    out["cpt"] = to_numpy(std::move(r.cpt), {m, k + 1, k});
    out["accuracy"] = to_numpy(std::move(r.accuracy), {m});
    out["warm_accuracy"] = to_numpy(std::move(r.warm_accuracy), {m});
    out["duplicate_of"] = to_numpy(std::move(r.duplicate_of), {m});
    out["permutation"] = to_numpy(std::move(r.permutation), {k});
    out["sweeps"] = r.sweeps;
    out["outer"] = r.outer;
    out["clamped"] = r.clamped;
    out["loss"] = r.loss;
    out["converged"] = r.converged;
    return out;
}

}  // namespace

void bind_moments(py::module_& mod) {
    mod.def("triplet_fit", &triplet_fit_py, py::arg("covote"), py::arg("agree"), py::arg("class_counts"),
            py::arg("n_rows"), py::arg("cardinality"), py::arg("class_balance") = py::none(),
            py::arg("min_overlap") = 10, py::arg("min_denominator_z") = 3.0, py::arg("fallback_accuracy") = 0.7,
            py::arg("max_accuracy") = 0.999, py::arg("median") = false, py::arg("dedupe") = true);
    mod.def("covariance_fit", &covariance_fit_py, py::arg("overlap"), py::arg("covote"), py::arg("agree"),
            py::arg("class_counts"), py::arg("n_rows"), py::arg("cardinality"), py::arg("class_balance") = py::none(),
            py::arg("max_sweeps") = 30, py::arg("max_outer") = 6, py::arg("tol") = 1e-4, py::arg("ridge") = 1e-2,
            py::arg("first_moment_weight") = 1.0, py::arg("clamp") = true, py::arg("dedupe") = true);
}

}  // namespace labelfuse::bind
