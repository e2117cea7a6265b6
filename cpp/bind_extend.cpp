// Bindings of the extension kernel: votes of labelled rows carried to their embedding neighbours.
#include "bind_common.hpp"
#include "extend.hpp"

namespace labelfuse::bind {

namespace {

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
                          const py::object& n_threads, bool return_similarity) {
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
    py::array_t<float> best_sims;
    if (return_similarity) {
        best_sims = py::array_t<float>(std::vector<py::ssize_t>{in.n_query, in.n_lfs});
        in.best_sims = best_sims.mutable_data();
    }
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
    py::tuple result = py::make_tuple(out, to_numpy(std::move(report.extended), {in.n_lfs}),
                                      to_numpy(std::move(report.fallback), {in.n_lfs}));
    if (return_similarity) return py::make_tuple(result[0], result[1], result[2], best_sims);
    return result;
}

}  // namespace

void bind_extend(py::module_& mod) {
    mod.def("extend_votes", &extend_votes_py, py::arg("L_db"), py::arg("L_query"), py::arg("nbr_ids"),
            py::arg("nbr_sims"), py::arg("X_db"), py::arg("X_query"), py::arg("thresholds"), py::arg("cardinality"),
            py::arg("self_query") = false, py::arg("n_threads") = py::none(), py::arg("return_similarity") = false);
}

}  // namespace labelfuse::bind
