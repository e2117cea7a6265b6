// Bindings of the label-model kernels that read the label matrix: the posterior of every fitted model, Dawid-Skene
// EM, majority vote, and the column diff that refits use to find the LFs that changed.
#include "bind_common.hpp"
#include "dawid_skene.hpp"
#include "inference.hpp"
#include "majority.hpp"

namespace labelfuse::bind {

namespace {

py::array_t<double> posterior_py(const py::array& L, const py::object& log_cpt, const py::object& log_prior,
                                 int64_t cardinality, int64_t n_groups, const py::object& groups,
                                 const py::object& n_threads) {
    check_label_matrix(L);
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

py::dict dawid_skene_py(const py::array& L, int64_t cardinality, int64_t max_iter, double tol, double smoothing,
                        bool model_abstentions, const py::object& fixed_prior, const py::object& init_cpt,
                        const py::object& init_prior, bool accelerate, const py::object& n_threads) {
    check_label_matrix(L);
    if (cardinality < 2) throw py::value_error("cardinality: expected at least 2 classes");
    const int64_t m = L.shape(1), k = cardinality;
    DawidSkeneOptions opt;
    opt.max_iter = max_iter;
    opt.tol = tol;
    opt.smoothing = smoothing;
    opt.model_abstentions = model_abstentions;
    opt.fixed_prior = optional_float64(fixed_prior, "class_balance", k);
    opt.init_cpt = optional_float64(init_cpt, "init_cpt", checked_size({m, k + 1, k}, "cardinality"));
    opt.init_prior = optional_float64(init_prior, "init_prior", k);
    opt.accelerate = accelerate;
    const int t = threads_arg(n_threads);
    DawidSkeneResult res = with_label_view(L, [&](auto view) {
        NativeCall call;
        const VotePatterns patterns = vote_patterns(view, k, t);
        return dawid_skene(patterns, opt, t);
    });
    py::dict out;
    out["cpt"] = to_numpy(std::move(res.cpt), {m, k + 1, k});
    out["class_balance"] = to_numpy(std::move(res.prior), {k});
    out["n_iter"] = res.n_iter;
    out["converged"] = res.converged;
    out["log_likelihood"] = res.log_likelihood;
    out["n_patterns"] = res.n_patterns;
    out["coverage"] = to_numpy(std::move(res.coverage), {m});
    return out;
}

py::array_t<double> majority_proba_py(const py::array& L, int64_t cardinality, const py::object& fallback,
                                      const py::object& n_threads) {
    check_label_matrix(L);
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
    check_label_matrix(L);
    if (cardinality < 1) throw py::value_error("cardinality: must be at least 1");
    const int t = threads_arg(n_threads);
    std::vector<double> sum(cardinality);
    const int64_t covered = with_label_view(L, [&](auto view) {
        NativeCall call;
        return majority_share_sum(view, cardinality, sum.data(), t);
    });
    return py::make_tuple(to_numpy(std::move(sum), {cardinality}), covered);
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

}  // namespace

void bind_models(py::module_& mod) {
    mod.def("posterior", &posterior_py, py::arg("L"), py::arg("log_cpt"), py::arg("log_prior"),
            py::arg("cardinality"), py::arg("n_groups") = 1, py::arg("groups") = py::none(),
            py::arg("n_threads") = py::none());
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

}  // namespace labelfuse::bind
