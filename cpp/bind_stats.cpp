// Bindings of the statistics kernels: label_stats (one pass over the rows, per group) and group_order.
#include "bind_common.hpp"
#include "stats.hpp"

namespace labelfuse::bind {

namespace {

py::dict label_stats(const py::array& L, int64_t cardinality, const py::object& gold, const py::object& order,
                     const py::object& offsets, bool overlap_matrix, int64_t override_col,
                     const py::object& override_values, int64_t focus_col, const py::object& n_threads) {
    check_label_matrix(L);
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
    const int threads = threads_arg(n_threads);

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
        return compute_stats(view, rows, opt, threads);
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
    out["n_threads_used"] = s.n_threads_used;
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

}  // namespace

void bind_stats(py::module_& mod) {
    mod.def("label_stats", &label_stats, py::arg("L"), py::arg("cardinality"), py::arg("gold") = py::none(),
            py::arg("order") = py::none(), py::arg("offsets") = py::none(), py::arg("overlap_matrix") = false,
            py::arg("override_col") = -1, py::arg("override_values") = py::none(), py::arg("focus_col") = -1,
            py::arg("n_threads") = py::none(),
            "Counts of a label matrix per group; 'n_threads_used' is the number of threads the pass ran on.");
    mod.def("group_order", &group_order_py, py::arg("groups"), py::arg("n_groups"));
}

}  // namespace labelfuse::bind
