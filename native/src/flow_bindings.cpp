// pybind11 surface of the sage_flow operators (module sage_native.flow): checks shapes, releases
// the GIL around the work, returns numpy arrays. The operators live in flow_join.cpp.
#include "flow_bindings.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <string>

#include "errors.h"
#include "flow_join.h"

namespace py = pybind11;

namespace sage {

namespace {

using Array = py::array_t<float, py::array::c_style | py::array::forcecast>;

struct Window {
    Array array;
    size_t rows = 0, dim = 0;
};

Window as_window(const py::handle& obj, const char* what) {
    py::array arr;
    try {
        arr = py::array::ensure(obj);
    } catch (...) {
    }
    if (!arr) throw InvalidArgument(std::string(what) + " must be a 2-D float32 array (rows, dim)");
    const char kind = arr.dtype().kind();
    if (kind != 'f' && kind != 'i' && kind != 'u') {
        throw InvalidArgument(std::string(what) + " must hold numbers; got dtype " + std::string(py::str(arr.dtype())));
    }
    Window w;
    w.array = Array::ensure(arr);
    if (w.array.ndim() != 2) {
        throw InvalidArgument(std::string(what) + " must be 2-D (rows, dim), got " + std::to_string(w.array.ndim()) +
                              "-D");
    }
    w.rows = static_cast<size_t>(w.array.shape(0));
    w.dim = static_cast<size_t>(w.array.shape(1));
    return w;
}

void same_dim(const Window& a, const Window& b) {
    if (a.dim != b.dim) {
        throw InvalidArgument("dimension mismatch: left vectors have dimension " + std::to_string(a.dim) +
                              ", right vectors have dimension " + std::to_string(b.dim));
    }
}

IndexSpec index_spec(const py::dict& d) {
    IndexSpec spec;
    spec.type = IndexSpec::Type::HNSW;
    for (auto item : d) {
        const auto key = item.first.cast<std::string>();
        if (key == "type") {
            const auto t = item.second.cast<std::string>();
            if (t == "hnsw") spec.type = IndexSpec::Type::HNSW;
            else if (t == "flat") spec.type = IndexSpec::Type::Flat;
            else throw InvalidArgument("index type must be 'hnsw' or 'flat', got '" + t + "'");
        } else if (key == "M") {
            spec.M = item.second.cast<int>();
        } else if (key == "ef_construction") {
            spec.ef_construction = item.second.cast<int>();
        } else if (key == "ef_search") {
            spec.ef_search = item.second.cast<int>();
        } else {
            throw InvalidArgument("unknown index option '" + key + "'; use type, M, ef_construction, ef_search");
        }
    }
    return spec;
}

py::tuple knn(const py::object& left, const py::object& right, int64_t k, const std::string& metric, int threads) {
    const Window a = as_window(left, "left"), b = as_window(right, "right");
    same_dim(a, b);
    if (k <= 0) throw InvalidArgument("k must be >= 1, got " + std::to_string(k));
    const Metric m = parse_metric(metric);
    py::array_t<int64_t> labels({a.rows, static_cast<size_t>(k)});
    py::array_t<float> scores({a.rows, static_cast<size_t>(k)});
    int64_t* L = labels.mutable_data();
    float* S = scores.mutable_data();
    {
        py::gil_scoped_release release;
        flow::knn_join(a.array.data(), a.rows, b.array.data(), b.rows, a.dim, m, static_cast<size_t>(k), threads, L, S);
    }
    return py::make_tuple(labels, scores);
}

py::tuple range(const py::object& left, const py::object& right, float threshold, const std::string& metric,
                int threads) {
    const Window a = as_window(left, "left"), b = as_window(right, "right");
    same_dim(a, b);
    const Metric m = parse_metric(metric);
    flow::Pairs p;
    {
        py::gil_scoped_release release;
        p = flow::range_join(a.array.data(), a.rows, b.array.data(), b.rows, a.dim, m, threshold, threads);
    }
    py::array_t<int64_t> l(p.left.size()), r(p.right.size());
    py::array_t<float> s(p.scores.size());
    std::copy(p.left.begin(), p.left.end(), l.mutable_data());
    std::copy(p.right.begin(), p.right.end(), r.mutable_data());
    std::copy(p.scores.begin(), p.scores.end(), s.mutable_data());
    return py::make_tuple(l, r, s);
}

py::tuple indexed(const py::object& left, const py::object& right, int64_t k, const std::string& metric,
                  const py::dict& index, int threads) {
    const Window a = as_window(left, "left"), b = as_window(right, "right");
    same_dim(a, b);
    if (k <= 0) throw InvalidArgument("k must be >= 1, got " + std::to_string(k));
    const Metric m = parse_metric(metric);
    const IndexSpec spec = index_spec(index);
    py::array_t<int64_t> labels({a.rows, static_cast<size_t>(k)});
    py::array_t<float> scores({a.rows, static_cast<size_t>(k)});
    int64_t* L = labels.mutable_data();
    float* S = scores.mutable_data();
    {
        py::gil_scoped_release release;
        flow::index_join(a.array.data(), a.rows, b.array.data(), b.rows, a.dim, m, static_cast<size_t>(k), spec,
                         threads, L, S);
    }
    return py::make_tuple(labels, scores);
}

py::array_t<float> mean(const py::object& vectors) {
    const Window x = as_window(vectors, "vectors");
    py::array_t<float> out(x.dim);
    float* o = out.mutable_data();
    {
        py::gil_scoped_release release;
        flow::centroid(x.array.data(), x.rows, x.dim, o);
    }
    return out;
}

}  // namespace

void register_flow(py::module_& parent) {
    py::module_ m = parent.def_submodule("flow", "sage_flow vector-stream operators (joins, top-k, aggregates)");
    py::dict default_index;
    default_index["type"] = "hnsw";
    m.def("knn_join", &knn, py::arg("left"), py::arg("right"), py::arg("k") = 10, py::arg("metric") = "cosine",
          py::arg("threads") = 0,
          "Exact top-k of every left row among the right rows: (labels int64 [n, k], scores float32 [n, k]); "
          "label -1 where the right side has fewer than k rows.");
    m.def("range_join", &range, py::arg("left"), py::arg("right"), py::arg("threshold"), py::arg("metric") = "cosine",
          py::arg("threads") = 0,
          "Every pair within threshold (similarity >= t, or squared L2 <= t): (left rows, right rows, scores).");
    m.def("index_join", &indexed, py::arg("left"), py::arg("right"), py::arg("k") = 10, py::arg("metric") = "cosine",
          py::arg("index") = default_index, py::arg("threads") = 0,
          "Approximate top-k through an HNSW (or flat) index built on the right rows.");
    m.def("centroid", &mean, py::arg("vectors"), "Mean of the rows (float32 [dim]); zeros for no rows.");
    m.def("isa", &flow::join_isa, "What the exact joins run on here: 'amx-bf16', 'avx2' or 'scalar'.");
    m.def("set_amx", &flow::set_amx_enabled, py::arg("enabled"),
          "Allow (default) or forbid the AMX path; results are the same either way.");
}

}  // namespace sage
